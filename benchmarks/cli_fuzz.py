"""Fuzz of the command line: hypothesis writes what a tired or careless person might type (commands with
wrong, missing or garbled arguments, odd Unicode, control characters, huge numbers, broken JSON for an
edit) and every one is run in-process on the embedded defaults. A run that ends in anything but a normal
exit, or prints a traceback, is counted as a crash: bad input must get a clear message and an exit code.

    python benchmarks/cli_fuzz.py [--runs 500] [--seed 1]

Each invocation builds its own Commander over a throwaway checkpoint, as a separate process would, so
what one run leaves behind (a pending approval) can be decided by a later one.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import tempfile
import time
from collections import Counter
from importlib.metadata import entry_points
from pathlib import Path

import typer
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st
from typer.testing import CliRunner

WORDS = ["ack", "resolve", "escalate", "note", "show", "oncall", "trigger", "override", "merge", "snooze",
         "urgency", "reassign", "responders", "timeline", "similar", "incidents", "services", "alert", "change",
         "all", "mine", "it", "level", "to", "with", "until", "for", "on", "#268", "269", "PQ001ZP", "Q9ZZZ99",
         "API Gateway", "Database", "alice", "bob", "tomorrow", "9am", "PST", "2h", "-1h", "99999999999999999999",
         "18446744073709551616", "high", "low", '"', "'", ":", "—", "\x00", "\x1b[31m", "\u202e", "😴", "\ufeff"]
COMMANDS = ["ask", "show", "pending", "approve", "reject", "resume", "audit", "tools"]


def command_line_app() -> typer.Typer:
    """The Typer app behind the `incident-commander` console script, wherever it lives."""
    [script] = entry_points(group="console_scripts", name="incident-commander")
    return importlib.import_module(script.value.split(":")[0]).app


message = st.one_of(
    st.lists(st.sampled_from(WORDS), min_size=0, max_size=8).map(" ".join),
    st.text(max_size=60),
    st.builds(lambda head, tail: f"{head} {tail}", st.sampled_from(WORDS), st.text(max_size=30)),
)
argument_json = st.one_of(st.text(max_size=40), st.just("[" * 200 + "]" * 200),
                          st.dictionaries(st.text(max_size=8), st.one_of(st.integers(), st.text(max_size=8),
                                                                         st.none()), max_size=4).map(repr))
invocation = st.one_of(
    st.tuples(st.just("ask"), message),
    st.tuples(st.just("ask"), message, st.just("--json")),
    st.tuples(st.just("approve"), st.text(max_size=12), st.text(max_size=12), st.just("--arguments"), argument_json),
    st.tuples(st.just("approve"), st.text(max_size=12), st.text(max_size=12), st.just("--set"), st.text(max_size=20)),
    st.tuples(st.just("reject"), st.text(max_size=12), st.text(max_size=12), st.just("--reason"), st.text(max_size=20)),
    st.tuples(st.sampled_from(COMMANDS), st.text(max_size=20)),
    st.lists(st.text(max_size=15), max_size=4).map(tuple),
).map(lambda args: [a for a in args if "\x00" not in a])  # an operating system passes no NUL in an argument


def run(runs: int, seed: int) -> Counter[str]:
    app = command_line_app()
    runner = CliRunner()
    outcomes: Counter[str] = Counter()
    crashes: list[tuple[list[str], str]] = []
    with tempfile.TemporaryDirectory() as folder:
        env = {"IC_CHECKPOINT_DB": str(Path(folder) / "ic.sqlite"), "IC_REQUESTER": "dana.whitfield@acme.example",
               "OPENAI_API_KEY": None, "PAGERDUTY_API_KEY": None, "COLUMNS": "120"}

        @settings(max_examples=runs, deadline=None, database=None, phases=[Phase.generate],
                  suppress_health_check=list(HealthCheck))
        @given(invocation)
        def one(args: list[str]) -> None:
            result = runner.invoke(app, args, env=env)
            crashed = (result.exception is not None and not isinstance(result.exception, SystemExit)) \
                or "Traceback" in result.output
            outcomes["crash" if crashed else f"exit {result.exit_code}"] += 1
            if crashed:
                crashes.append((args, repr(result.exception) or result.output[-300:]))

        hypothesis_seed(seed)(one)()
    for args, what in crashes[:10]:
        print(f"crash: {args!r}: {what}", file=sys.stderr)
    return outcomes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=500)
    parser.add_argument("--seed", type=int, default=1)
    options = parser.parse_args()
    started = time.perf_counter()
    outcomes = run(options.runs, options.seed)
    total = sum(outcomes.values())
    print(f"{total} invocations in {time.perf_counter() - started:.0f} s: "
          + ", ".join(f"{name} {count}" for name, count in sorted(outcomes.items())))
    print(f"crashes (exceptions or tracebacks): {outcomes['crash']}")
    sys.exit(1 if outcomes["crash"] else 0)


if __name__ == "__main__":
    main()
