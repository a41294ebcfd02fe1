"""Running many independent jobs at once: worker processes for CPU-bound ones, threads for the rest.

Pure-Python jobs take turns on the GIL in threads, so only processes make them faster on several
cores. Workers are forked: they inherit the jobs (prepared scenarios, gold states, cached world
snapshots) as they are in memory, so only a job's index goes to a worker and only its result, which
must pickle, comes back. Forking is safe only while this process runs a single thread (a lock held
by another thread at the fork stays locked forever in the child), so processes are used only then,
and where the platform can fork at all; otherwise the jobs run in threads. A pool is forked before
its manager thread starts and is shut down (its threads joined) before the next one is forked.

A worker process that dies takes its pool down with it, and the pool cannot say which job it was
running. The lost jobs run again; the first of them runs alone, in a pool of its own, so a job that
kills that pool too is the culprit, and it gets the `crashed` result instead of hanging the run.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

R = TypeVar("R")

CRASH_REASON = ("its worker process died before returning a result (it died again when the trial ran alone); "
                "anything the process printed is on stderr")

_work: Callable[[int], Any] | None = None
"""The job function of the run in progress; forked workers inherit it and are sent only indexes."""


def can_fork() -> bool:
    """Whether jobs would run in forked processes now: the platform forks and no other thread is running."""
    return "fork" in multiprocessing.get_all_start_methods() and threading.active_count() == 1


def run_all(count: int, work: Callable[[int], R], *, concurrency: int, processes: bool,
            crashed: Callable[[int, str], R], done: Callable[[R], None] | None = None) -> list[R]:
    """`work(0)` … `work(count - 1)`, `concurrency` at a time, in that order; `done` is called here, in
    this thread, with each result as it arrives. `processes` asks for worker processes (see the module
    docstring for when threads run the jobs instead); `crashed(index, reason)` stands in for a job whose
    worker process died."""
    results: dict[int, R] = {}

    def keep(index: int, result: R) -> None:
        results[index] = result
        if done is not None:
            done(result)

    workers = max(1, concurrency)
    if processes and can_fork():
        _in_processes(list(range(count)), work, workers, keep, crashed)
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            _collect(pool, work, range(count), keep)
    return [results[index] for index in range(count)]


def _in_processes(indexes: list[int], work: Callable[[int], R], workers: int,
                  keep: Callable[[int, R], None], crashed: Callable[[int, str], R]) -> None:
    global _work
    _work = work
    try:
        while lost := _round(indexes, workers, keep):
            suspect, *indexes = lost
            if _round([suspect], 1, keep):
                keep(suspect, crashed(suspect, CRASH_REASON))
    finally:
        _work = None


def _round(indexes: list[int], workers: int, keep: Callable[[int, Any], None]) -> list[int]:
    """Run `indexes` in a fresh pool of forked workers; those lost to a dead worker, in order."""
    if not indexes:
        return []
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=min(workers, len(indexes)), mp_context=context) as pool:
        return sorted(_collect(pool, _call, indexes, keep))


def _collect(pool: Executor, fn: Callable[[int], R], indexes: Iterable[int],
             keep: Callable[[int, R], None]) -> list[int]:
    """Submit every index, keep each result as it completes; the indexes lost to a broken process pool."""
    futures: dict[Future[R], int] = {}
    lost: list[int] = []
    pending = list(indexes)
    while pending:
        try:
            futures[pool.submit(fn, pending[0])] = pending[0]
        except BrokenProcessPool:  # a worker died while the rest were still being handed out
            lost += pending
            break
        pending.pop(0)
    for future in as_completed(futures):
        try:
            result = future.result()
        except BrokenProcessPool:
            lost.append(futures[future])
            continue
        keep(futures[future], result)
    return lost


def _call(index: int) -> Any:
    """Runs in a forked worker: the inherited job function on one index."""
    assert _work is not None
    return _work(index)
