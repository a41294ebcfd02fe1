"""Trials in worker processes: the same results as one at a time, in suite order, and a dying worker
becomes that trial's failure instead of a hang or a lost run."""

from __future__ import annotations

import json
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import pytest
from typer.testing import CliRunner

from evals import workers
from evals.cli import app
from evals.graders import grade
from evals.reference import prepare
from evals.runner import Planner, run_trials, scripted
from evals.scenario import SCENARIO_DIR, load_scenario
from evals.workers import can_fork, run_all

SCENARIOS = [SCENARIO_DIR / name for name in
             ("page_oncall_api_gateway.yaml", "edited_override.yaml", "rejected_create.yaml",
              "rate_limit_storm_create.yaml", "server_error_during_ack.yaml")]
UNREPEATABLE = ("wall_seconds", "first_approval_seconds", "waited_seconds")  # timings; retry backoff has jitter

forks = pytest.mark.skipif(not can_fork(), reason="worker processes need fork and a single-threaded test process")


def failing_scenario(tmp_path: Path) -> Path:
    """The seed scenario with a mention its answer never makes, so some checks fail."""
    text = SCENARIOS[0].read_text().replace("mentions: [Bilal Khan]", "mentions: [Bilal Khan, a unicorn]")
    path = tmp_path / "failing.yaml"
    path.write_text(text.replace("id: page-oncall-api-gateway", "id: failing"))
    return path


def per_trial(concurrency: int, paths: list[Path]) -> list[tuple[str, dict]]:
    result = CliRunner().invoke(app, [*map(str, paths), "--trials", "2", "--concurrency", str(concurrency), "--json"])
    assert result.exit_code == 1, result.output  # the failing scenario fails, the others pass
    return [(r["id"], {**t, "metrics": {k: v for k, v in t["metrics"].items() if k not in UNREPEATABLE}})
            for r in json.loads(result.stdout)["results"] for t in r["trials"]]


@pytest.mark.slow
@forks
def test_two_worker_processes_give_exactly_the_results_of_one(tmp_path: Path) -> None:
    paths = [*SCENARIOS, failing_scenario(tmp_path)]
    one, two = per_trial(1, paths), per_trial(2, paths)
    assert two == one
    assert [sid for sid, _ in two] == [sid for sid in (load_scenario(p).id for p in paths) for _ in range(2)]
    assert {sid: t["reward"] for sid, t in two} == {sid: 0.0 if sid == "failing" else 1.0 for sid, _ in two}
    assert not next(t for sid, t in two if sid == "failing")["checks"]["answer"]
    assert sum(t["metrics"]["retries_429"] for _, t in two) > 0


@pytest.mark.slow
@forks
def test_scripted_trials_run_in_worker_processes_and_live_ones_in_threads() -> None:
    """A planner's model is made where its trial runs: a child's note of it never reaches this process."""
    prepared = [prepare(load_scenario(p)) for p in SCENARIOS[:3]]
    made_here: list[str] = []

    def noting(in_process: bool) -> Planner:
        def make(p):
            made_here.append(p.scenario.id)
            return scripted().make(p)
        return Planner("noting", "scripted", make, in_process=in_process)

    threaded = run_trials(prepared, noting(False), concurrency=2, grade=grade)
    assert sorted(made_here) == sorted(p.scenario.id for p in prepared)
    made_here.clear()
    forked = run_trials(prepared, noting(True), concurrency=2, grade=grade)
    assert made_here == []
    assert [t.grade.reward for t in forked] == [t.grade.reward for t in threaded] == [1.0] * 3


@pytest.mark.slow
@forks
def test_a_trial_whose_worker_dies_fails_with_a_reason_and_the_others_still_run() -> None:
    prepared = [prepare(load_scenario(p)) for p in SCENARIOS]
    doomed = prepared[2].scenario.id

    def make(p):
        if p.scenario.id == doomed:
            os._exit(3)  # the worker process dies mid-trial, as on a segfault or the OOM killer
        return scripted().make(p)

    finished: list[str] = []
    results = run_trials(prepared, Planner("dying", "scripted", make), concurrency=2, grade=grade,
                         on_done=lambda t: finished.append(t.scenario))
    assert [t.scenario for t in results] == [p.scenario.id for p in prepared]
    assert sorted(finished) == sorted(p.scenario.id for p in prepared)
    crashed = results[2]
    assert (crashed.termination, crashed.grade.reward) == ("error", 0.0)
    assert "worker process died" in crashed.error and "ended error" in crashed.grade.checks["answer"].details[0]
    assert [t.grade.reward for t in results if t is not crashed] == [1.0] * 4


@forks
def test_every_job_that_kills_its_worker_is_found_and_the_rest_keep_their_results() -> None:
    def work(index: int) -> int:
        if index in (1, 4):
            os._exit(1)
        return index * index

    results = run_all(6, work, concurrency=2, processes=True, crashed=lambda index, reason: -index)
    assert results == [0, -1, 4, 9, -4, 25]
    assert threading.active_count() == 1  # every pool's threads are gone, so the next run may fork again


def test_without_a_safe_fork_jobs_run_in_threads_of_this_process() -> None:
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        assert not can_fork()
        pids = run_all(3, lambda index: os.getpid(), concurrency=2, processes=True, crashed=lambda i, r: 0)
    finally:
        stop.set()
        other.join()
    assert pids == [os.getpid()] * 3


def test_jobs_not_handed_out_before_the_pool_broke_are_reported_lost() -> None:
    class BreaksAfterOne(ThreadPoolExecutor):
        def submit(self, fn, /, *args, **kwargs):  # type: ignore[override]
            if getattr(self, "handed_out", 0):
                raise BrokenProcessPool("a worker died")
            self.handed_out = 1
            return super().submit(fn, *args, **kwargs)

    kept: dict[int, int] = {}
    with BreaksAfterOne(max_workers=1) as pool:
        lost = workers._collect(pool, lambda i: i * 10, [0, 1, 2], kept.__setitem__)
    assert (kept, lost) == ({0: 0}, [1, 2])
