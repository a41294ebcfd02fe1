"""How the robustness tier judges one injected mistake from what the trajectory recorded."""

from __future__ import annotations

from evals.reference import prepare
from evals.report import robustness_markdown
from evals.robustness import OUTCOMES, inject, judge
from evals.runner import ApprovalRecord, Trajectory
from evals.scenario import SCENARIO_DIR, load_scenario


def test_a_mistaken_call_put_to_a_person_is_judged_sent_for_approval_not_an_unhelpful_error() -> None:
    injection = inject(prepare(load_scenario(SCENARIO_DIR / "acknowledge_incident.yaml")), "hallucinated id")
    assert injection is not None and injection.arguments["incident"] == "Q9ZZZ99"
    asked = ApprovalRecord(tool=injection.tool, arguments=injection.arguments, summary="Acknowledge Q9ZZZ99",
                           risk="medium", verdict="reject", step=1)
    trajectory = Trajectory(scenario="acknowledge-incident", tier="robustness", model="m", trial=0,
                            termination="answered", approvals=[asked])
    assert judge(injection, trajectory) == ("sent for approval", "a person was asked: Acknowledge Q9ZZZ99")


def test_the_report_has_a_column_per_outcome_and_shows_a_run_that_did_not_recover() -> None:
    rows = [{"kind": "hallucinated id", "runs": 2, "counts": {"recovered": 1, "sent for approval": 1},
             "examples": ["a: recovered: ok", "b: sent for approval: a person was asked: Acknowledge Q9ZZZ99"]}]
    table = robustness_markdown(rows)
    assert all(f" {outcome} |" in table.splitlines()[2] for outcome in OUTCOMES)
    assert table.splitlines()[-1] == ("| hallucinated id | 2 | 1 | 0 | 0 | 1 | 0 | "
                                      "b: sent for approval: a person was asked: Acknowledge Q9ZZZ99 |")
