"""The mutation suite: every kind of planner mistake, played against unchanged scenarios, scores 0."""

from __future__ import annotations

import pytest

from evals.mutations import MUTATIONS, run_mutants
from evals.reference import prepare
from evals.scenario import load_scenarios

PER_KIND = 3  # `python -m evals.mutations` runs every mutant; CI runs this many per kind, spread over the suite


@pytest.mark.slow
def test_every_mutant_scores_zero_and_every_control_one() -> None:
    outcome = run_mutants([prepare(s) for s in load_scenarios()], per_kind=PER_KIND, concurrency=2)
    assert {m.kind for m, _ in outcome.mutants} == set(MUTATIONS) and len(MUTATIONS) >= 10
    assert len({m.prepared.scenario.id for m, _ in outcome.mutants}) >= 12
    assert [(m.kind, m.prepared.scenario.id) for m, _ in outcome.survivors()] == []
    assert [(t.scenario, t.grade.failure) for t in outcome.failed_controls()] == []
    assert outcome.kill_rate() == 1.0
