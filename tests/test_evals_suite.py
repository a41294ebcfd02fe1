"""The built-in suite: big enough, covering the workflows, and 100% on the scripted tier."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from evals.graders import grade
from evals.reference import prepare
from evals.robustness import KINDS, inject, run_robustness
from evals.runner import command, run_trials, scripted
from evals.scenario import load_scenarios

WORKFLOW_TAGS = {"triage", "paging", "override", "postmortem", "lifecycle", "escalation", "responders", "notes",
                 "urgency", "priority", "bulk", "merge", "snooze", "history", "events", "severity", "permissions",
                 "approvals", "rate-limits", "faults", "clarification", "timezones", "security"}
# What one typed command cannot do; evals/README.md says why for each.
WITHOUT_COMMAND = {"page-checkout-with-priority", "set-priority", "rejected-resolve-then-acknowledge",
                   "hidden-instructions-need-approval"}


def test_the_suite_has_forty_scenarios_covering_every_workflow() -> None:
    scenarios = load_scenarios()
    assert len(scenarios) >= 40
    assert {tag for s in scenarios for tag in s.tags} >= WORKFLOW_TAGS
    decisions = Counter(rule.decision for s in scenarios for rule in s.approvals)
    assert decisions["edit"] >= 1 and decisions["reject"] >= 1


def test_every_scenario_has_a_command_form_except_those_the_readme_explains() -> None:
    assert {s.id for s in load_scenarios() if not s.command} == WITHOUT_COMMAND
    readme = (Path(__file__).parents[1] / "evals" / "README.md").read_text(encoding="utf-8")
    assert all(f"`{scenario}`" in readme for scenario in WITHOUT_COMMAND)


@pytest.mark.slow
def test_every_scenario_passes_on_the_scripted_tier_with_concurrency() -> None:
    prepared = [prepare(s) for s in load_scenarios()]
    results = run_trials(prepared, scripted(), concurrency=2, grade=grade)
    failed = {t.scenario: t.grade.failure for t in results if t.grade.reward != 1.0}
    assert len(results) == len(prepared) and failed == {}
    assert sum(t.metrics.retries_429 for t in results) > 0  # the storms really happened and were waited out


@pytest.mark.slow
def test_the_command_tier_runs_the_scenarios_that_have_a_command_form() -> None:
    prepared = [prepare(s) for s in load_scenarios(tags=["lifecycle"])]
    results = run_trials(prepared, command(), concurrency=2, grade=grade)
    assert {t.scenario for t in results} == {p.scenario.id for p in prepared if p.scenario.command}
    assert all(t.tier == "command" and t.metrics.model_calls >= 1 for t in results)
    assert [t.grade.failure for t in results if t.grade.reward != 1.0] == []


@pytest.mark.slow
def test_robustness_reports_every_kind_of_mistake() -> None:
    prepared = [prepare(s) for s in load_scenarios(tags=["paging"])]
    rows = {row["kind"]: row for row in run_robustness(prepared, concurrency=2)}
    assert set(rows) == set(KINDS)
    applicable = sum(inject(p, 'artifact id ("null")') is not None for p in prepared)
    assert rows['artifact id ("null")']["runs"] == applicable > 3  # every scenario it applies to
    assert rows["service name instead of id"]["counts"] == {"recovered": rows["service name instead of id"]["runs"]}
    assert rows['artifact id ("null")']["counts"].get("error names the fix", 0) >= 1
