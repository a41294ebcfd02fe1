"""How long the whole scripted eval suite takes on this machine, serially and with concurrency.

Run: `.venv/bin/python benchmarks/evals_bench.py [--concurrency N] [--trials K]`. Prints the time to
prepare the suite (gold replays), the wall time of every trial at concurrency 1 and at N, trials
per second, and the speed-up as a ratio of the serial run. Goal: the suite under 60 s with concurrency.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from evals.graders import grade  # noqa: E402
from evals.reference import prepare  # noqa: E402
from evals.runner import run_trials, scripted  # noqa: E402
from evals.scenario import load_scenarios  # noqa: E402


def timed_run(prepared, trials: int, concurrency: int) -> tuple[float, int, int]:
    started = time.perf_counter()
    results = run_trials(prepared, scripted(), trials=trials, concurrency=concurrency, grade=grade)
    return time.perf_counter() - started, len(results), sum(t.grade.reward == 1.0 for t in results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--trials", type=int, default=1)
    args = parser.parse_args()
    logging.getLogger("incident_commander").setLevel(logging.ERROR)

    started = time.perf_counter()
    prepared = [prepare(s) for s in load_scenarios()]
    prepare_seconds = time.perf_counter() - started
    print(f"prepare: {len(prepared)} scenarios (gold replays) in {prepare_seconds:.2f} s")

    serial, count, passed = timed_run(prepared, args.trials, 1)
    print(f"concurrency 1: {count} trials in {serial:.2f} s, {count / serial:.2f} trials/s, {passed}/{count} passed")
    parallel, count, passed = timed_run(prepared, args.trials, args.concurrency)
    print(f"concurrency {args.concurrency}: {count} trials in {parallel:.2f} s, {count / parallel:.2f} trials/s, "
          f"{passed}/{count} passed")
    total = prepare_seconds + parallel
    print(f"speed-up vs concurrency 1: {serial / parallel:.2f}x; whole suite (prepare + run) {total:.2f} s "
          f"({'within' if total < 60 else 'over'} the 60 s goal)")


if __name__ == "__main__":
    main()
