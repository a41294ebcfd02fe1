"""How long `incident-commander` takes to start: it is run at 3 a.m., where every second of waiting counts.

    python benchmarks/cli_startup_bench.py [--runs 7] [--top 8]

Each command runs as its own process, exactly as typed, on the embedded defaults (no PagerDuty or
OpenAI key; `ask` gets a fresh checkpoint DB, so it also builds the demo organisation as a first run
does). Contenders run in alternating rounds, so a burst of load from other processes hits them alike,
and each keeps its median. The baseline is `python -c pass`: what any Python process costs here.
Then `-X importtime` shows, per command, which packages the start-up spends its time importing.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

PROGRAM = Path(sys.executable).with_name("incident-commander")
COMMANDS = {
    "--help": ["--help"],
    "tools list --json": ["tools", "list", "--json"],
    'ask "oncall API Gateway"': ["ask", "oncall API Gateway"],
}
IMPORT_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)")


def embedded_env(checkpoint_dir: str) -> dict[str, str]:
    """The environment of a first try: no keys, state in a directory of its own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PAGERDUTY_", "OPENAI_", "IC_"))}
    return env | {"IC_CHECKPOINT_DB": str(Path(checkpoint_dir) / "checkpoints.sqlite"), "COLUMNS": "120"}


def run_once(argv: list[str]) -> float:
    """Wall seconds of one process; a failing command stops the benchmark (its timing would mean nothing)."""
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        done = subprocess.run(argv, env=embedded_env(tmp), cwd=tmp, capture_output=True, text=True)
        elapsed = time.perf_counter() - start
    if done.returncode not in (0, 3):  # 3: waiting for approval, a normal outcome of `ask`
        sys.exit(f"{' '.join(argv)} exited {done.returncode}:\n{done.stderr[-2000:]}")
    return elapsed


def medians(contenders: dict[str, list[str]], runs: int) -> dict[str, float]:
    samples: dict[str, list[float]] = {name: [] for name in contenders}
    for argv in contenders.values():  # one unmeasured round: disk cache and .pyc files
        run_once(argv)
    for _ in range(runs):
        for name, argv in contenders.items():
            samples[name].append(run_once(argv))
    return {name: statistics.median(times) for name, times in samples.items()}


def import_costs(args: list[str]) -> tuple[Counter[str], int]:
    """Microseconds of import time per top-level package while the command runs, and their total."""
    code = "from command_line.main import main; main()"
    with tempfile.TemporaryDirectory() as tmp:
        done = subprocess.run([sys.executable, "-X", "importtime", "-c", code, *args], env=embedded_env(tmp),
                              cwd=tmp, capture_output=True, text=True)
    per_package: Counter[str] = Counter()
    for match in IMPORT_LINE.finditer(done.stderr):
        per_package[match[4].split(".")[0]] += int(match[1])
    return per_package, sum(per_package.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7, help="Measured runs per command (the median is shown).")
    parser.add_argument("--top", type=int, default=8, help="Packages listed per command by import time.")
    args = parser.parse_args()
    if not PROGRAM.exists():
        sys.exit(f"{PROGRAM} not found: install the project in this environment (pip install -e .)")

    contenders = {"python -c pass": [sys.executable, "-c", "pass"]}
    contenders |= {f"incident-commander {name}": [str(PROGRAM), *argv] for name, argv in COMMANDS.items()}
    times = medians(contenders, args.runs)
    baseline = times["python -c pass"]
    print(f"wall time, median of {args.runs} runs (baseline: python -c pass)")
    for name, seconds in times.items():
        print(f"  {name:<45} {seconds * 1000:8.0f} ms  {seconds / baseline:6.1f}x")

    for name, argv in COMMANDS.items():
        per_package, total = import_costs(argv)
        print(f"\nimports of `incident-commander {name}`: {total / 1000:.0f} ms under -X importtime "
              "(self time per top-level package)")
        for package, micros in per_package.most_common(args.top):
            print(f"  {package:<30} {micros / 1000:7.1f} ms")


if __name__ == "__main__":
    main()
