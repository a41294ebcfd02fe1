"""How the robustness tier judges one injected mistake from what the trajectory recorded."""

from __future__ import annotations

from evals.graders import Check, Grade
from evals.reference import prepare
from evals.report import robustness_markdown
from evals.robustness import JUDGED, OUTCOMES, RETRIED_CREATE, inject, judge
from evals.runner import ApprovalRecord, AuditRecord, Trajectory
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


def test_a_repeated_create_found_already_done_is_judged_recovered_not_an_unhelpful_error() -> None:
    p = prepare(load_scenario(SCENARIO_DIR / "page_oncall_payments.yaml"))
    injection = inject(p, RETRIED_CREATE)
    assert injection is not None
    settled = AuditRecord(action="tool_call", tool="create_incident", arguments=injection.arguments,
                          actor="policy:auto", outcome="already done; nobody was asked and nothing was sent", step=2)
    trajectory = Trajectory(scenario=p.scenario.id, tier="robustness", model="m", trial=0, termination="answered",
                            audit=[settled], grade=Grade(reward=1.0, checks={c: Check(passed=True) for c in JUDGED}))
    assert judge(injection, trajectory) == ("recovered", settled.outcome)
    failed = trajectory.model_copy(update={"grade": Grade(reward=0.0, checks={"end_state": Check(
        passed=False, details=["two incidents"])})})
    assert judge(injection, failed) == ("wrong result", "end_state: two incidents")


def test_a_mistaken_override_is_found_although_its_times_were_pinned_before_it_ran() -> None:
    injection = inject(prepare(load_scenario(SCENARIO_DIR / "override_dst_boundary.yaml")),
                       "service name instead of id")
    assert injection is not None and injection.arguments["user"] == "Freya Lindqvist"
    pinned = {k: v for k, v in injection.arguments.items() if k != "time_zone"} | {
        "start": "2026-10-24T20:00:00Z", "end": "2026-10-25T07:00:00Z"}  # as the approval card showed it
    ran = AuditRecord(action="tool_call", tool="create_override", arguments=pinned, actor="olivia.grant@acme.example",
                      outcome="ok", step=1)
    trajectory = Trajectory(scenario="override-dst-boundary", tier="robustness", model="m", trial=0,
                            termination="answered", audit=[ran],
                            grade=Grade(reward=1.0, checks={c: Check(passed=True) for c in JUDGED}))
    assert judge(injection, trajectory) == ("recovered", "ok")
    other = pinned | {"user": "Chen Wei"}  # another call than the mistaken one
    assert judge(injection, trajectory.model_copy(update={"audit": [ran.model_copy(update={"arguments": other})]}))[
        1] == "not run"
