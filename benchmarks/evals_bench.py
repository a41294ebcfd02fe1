"""How long the whole scripted eval suite takes on this machine, serially and with concurrency.

Run: `.venv/bin/python benchmarks/evals_bench.py [--concurrency N] [--trials K] [--rounds R]`. Prints the
time to prepare the suite (gold replays), then for concurrency 1 and N (alternating, R rounds, the best
of each kept, so load from other processes skews neither) the wall time of every trial, trials per
second, and the cores kept busy (CPU seconds of this process and its worker processes per wall second);
then the speed-up as a ratio of the serial run. Goal: the suite under 60 s with concurrency.
"""

from __future__ import annotations

import argparse
import logging
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from evals.graders import grade
from evals.reference import prepare
from evals.runner import run_trials, scripted
from evals.scenario import load_scenarios


def timed_run(prepared, trials: int, concurrency: int) -> tuple[float, float, int, int]:
    """Wall seconds, CPU seconds (here and in worker processes), trials run, trials passed."""
    cpu, started = cpu_seconds(), time.perf_counter()
    results = run_trials(prepared, scripted(), trials=trials, concurrency=concurrency, grade=grade)
    return (time.perf_counter() - started, cpu_seconds() - cpu, len(results),
            sum(t.grade.reward == 1.0 for t in results))


def cpu_seconds() -> float:
    usages = (resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN))
    return sum(u.ru_utime + u.ru_stime for u in usages)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--trials", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    logging.getLogger("incident_commander").setLevel(logging.ERROR)

    started = time.perf_counter()
    prepared = [prepare(s) for s in load_scenarios()]
    prepare_seconds = time.perf_counter() - started
    print(f"prepare: {len(prepared)} scenarios (gold replays) in {prepare_seconds:.2f} s")

    best: dict[int, tuple[float, float, int, int]] = {}
    for _ in range(max(1, args.rounds)):
        for concurrency in dict.fromkeys((1, args.concurrency)):
            run = timed_run(prepared, args.trials, concurrency)
            best[concurrency] = min(best.get(concurrency, run), run)
    for concurrency, (wall, cpu, count, passed) in best.items():
        print(f"concurrency {concurrency}: {count} trials in {wall:.2f} s, {count / wall:.2f} trials/s, "
              f"{cpu / wall:.2f} cores busy, {passed}/{count} passed")
    serial, parallel = best[1][0], best[args.concurrency][0]
    total = prepare_seconds + parallel
    print(f"speed-up vs concurrency 1: {serial / parallel:.2f}x (best of {max(1, args.rounds)} rounds); "
          f"whole suite (prepare + run) {total:.2f} s ({'within' if total < 60 else 'over'} the 60 s goal)")


if __name__ == "__main__":
    main()
