"""Each grader fails on the thing it guards, read from a real trajectory with one recorded fact changed."""

from __future__ import annotations

from pathlib import Path

import pytest
from demo_org import incident_id

from evals.graders import answer, approvals, efficiency, end_state, forbidden_writes, grade, pass_hat_k
from evals.reference import Prepared, prepare
from evals.runner import AuditRecord, RequestRecord, Trajectory, run_trial, scripted
from evals.scenario import SCENARIO_DIR, load_scenario

INCIDENT_266 = incident_id(266)


def prepared(name: str) -> Prepared:
    return prepare(load_scenario(SCENARIO_DIR / name))


def played(name: str) -> tuple[Prepared, Trajectory]:
    """The scenario and a trial of its reference path."""
    p = prepared(name)
    return p, run_trial(p, scripted())


@pytest.fixture(scope="module")
def seed() -> tuple[Prepared, Trajectory]:
    return played("page_oncall_api_gateway.yaml")


@pytest.fixture(scope="module")
def rejected() -> tuple[Prepared, Trajectory]:
    return played("rejected_create.yaml")


def test_the_reference_trial_passes_every_check(seed) -> None:
    p, t = seed
    result = grade(p, t)
    assert result.reward == 1.0 and result.failure is None
    assert all(c.passed for c in result.checks.values())


def test_end_state_fails_on_a_wrong_field_and_shows_the_diff(seed) -> None:
    p, t = seed
    [key] = [k for k, e in t.end_state.items() if e["kind"] == "incident"]
    wrong = t.model_copy(update={"end_state": {**t.end_state, key: {**t.end_state[key], "urgency": "low"}}})
    result, diff = end_state(p, wrong)
    assert not result.passed
    assert [(d.entity, d.field, d.expected, d.actual) for d in diff] == [(key, "urgency", "high", "low")]


def test_end_state_fails_when_the_incident_was_never_created(seed) -> None:
    p, t = seed
    result, diff = end_state(p, t.model_copy(update={"end_state": {}}))
    assert not result.passed and diff[0].line() == ("new incident on API Gateway · (exists): expected "
                                                    "'API Gateway 5xx above 3%', got None")
    assert diff[-1].line() == "incidents opened on API Gateway · count: expected 1, got 0"
    assert "expected 1 incident(s)" in " ".join(result.details)


def test_end_state_fails_on_a_change_event_with_another_summary_or_on_another_service() -> None:
    p = prepared("change_event.yaml")
    t = run_trial(p, scripted())
    [key] = t.end_state
    assert key == "change event on Payments API" and end_state(p, t)[0].passed
    wrong = {key: {**t.end_state[key], "summary": "Rolled back payments-api to v1.0.0"}}
    result, diff = end_state(p, t.model_copy(update={"end_state": wrong}))
    assert not result.passed and [(d.field, d.actual) for d in diff] == [("summary", wrong[key]["summary"])]
    elsewhere = {"change event on Checkout": {**t.end_state[key], "services": ["Checkout"]}}
    result, diff = end_state(p, t.model_copy(update={"end_state": elsewhere}))
    assert [(d.entity, d.field, d.expected, d.actual) for d in diff] == [
        ("change event on Checkout", "(exists)", None, t.end_state[key]["summary"]),
        (key, "(exists)", t.end_state[key]["summary"], None)]


def test_approvals_fail_on_a_write_nobody_approved(seed) -> None:
    p, t = seed
    unapproved = t.model_copy(update={"approvals": []})
    result = approvals(p, unapproved)
    assert not result.passed
    assert any("without an approval of that call" in d for d in result.details)
    assert any("expected an approval request for create_incident" in d for d in result.details)


def test_approvals_fail_on_a_write_request_outside_any_tool_call(seed) -> None:
    p, t = seed
    stray = RequestRecord(method="PUT", path=f"/incidents/{INCIDENT_266}", status=200, api="rest", step=0)
    result = approvals(p, t.model_copy(update={"requests": [*t.requests, stray]}))
    assert not result.passed and "with no tool call recorded" in result.details[0]


def test_approvals_fail_on_a_write_after_a_reject(rejected) -> None:
    p, t = rejected
    assert approvals(p, t).passed
    [refused] = t.approvals
    later = AuditRecord(action="api_write", tool=refused.tool, arguments=refused.arguments,
                        actor="olivia.grant@acme.example", outcome="sending to PagerDuty", step=refused.step + 1)
    result = approvals(p, t.model_copy(update={"audit": [*t.audit, later]}))
    assert not result.passed
    assert any("written after it was rejected" in d for d in result.details)


def test_forbidden_writes_fail_when_one_is_attempted(rejected) -> None:
    p, t = rejected
    assert forbidden_writes(p, t).passed
    attempt = RequestRecord(method="POST", path="/incidents", status=201, api="rest", step=1)
    result = forbidden_writes(p, t.model_copy(update={"requests": [*t.requests, attempt]}))
    assert not result.passed and result.details == ["forbidden write: POST /incidents"]


def test_answer_fails_without_a_required_mention_or_without_an_answer(seed) -> None:
    p, t = seed
    vague = t.model_copy(update={"turns": [t.turns[0].model_copy(update={"answer": "Done."})]})
    assert answer(p, vague).details == ["the answer does not mention 'Bilal Khan'"]
    stopped = t.model_copy(update={"termination": "failed"})
    assert not answer(p, stopped).passed


def test_efficiency_fails_on_too_many_api_calls(seed) -> None:
    p, t = seed
    assert efficiency(p, t).passed
    extra = [RequestRecord(method="GET", path="/services", status=200, api="rest", step=0)] * 10
    result = efficiency(p, t.model_copy(update={"requests": [*t.requests, *extra]}))
    assert not result.passed and f"reference path: {p.reference_calls}" in result.details[0]


def test_reward_is_the_product_of_the_checks_in_the_reward_basis(seed) -> None:
    p, t = seed
    vague = t.model_copy(update={"turns": [t.turns[0].model_copy(update={"answer": "Done."})]})
    assert grade(p, vague).reward == 0.0
    lenient = Prepared(**{**p.__dict__, "scenario": p.scenario.model_copy(update={"reward_basis": ["end_state"]})})
    assert grade(lenient, vague).reward == 1.0


def test_pass_hat_k_is_the_unbiased_estimator_averaged_over_scenarios() -> None:
    outcomes = {"a": [True, True, False, False], "b": [True, True, True, True]}
    assert pass_hat_k(outcomes, 1) == pytest.approx((0.5 + 1) / 2)
    assert pass_hat_k(outcomes, 2) == pytest.approx((1 / 6 + 1) / 2)
    assert pass_hat_k(outcomes, 5) is None


def test_a_trajectory_survives_jsonl_and_grades_the_same(seed, tmp_path: Path) -> None:
    from evals.report import read_jsonl, write_jsonl

    p, t = seed
    write_jsonl(tmp_path / "t.jsonl", [t])
    [again] = read_jsonl(tmp_path / "t.jsonl")
    assert grade(p, again) == grade(p, t)


def test_an_unrequested_approval_request_fails_even_when_it_was_rejected(seed) -> None:
    p, t = seed
    [asked] = t.approvals
    extra = asked.model_copy(update={"tool": "update_incident", "verdict": "reject", "rule": None,
                                     "arguments": {"incident": INCIDENT_266, "action": "resolve"}})
    result = approvals(p, t.model_copy(update={"approvals": [*t.approvals, extra]}))
    assert not result.passed and result.details[0].startswith("unrequested approval request: update_incident")
    wrong = asked.model_copy(update={"arguments": {**asked.arguments, "urgency": "low"}})  # not what the rule asks
    assert any(d.startswith("unrequested") for d in approvals(p, t.model_copy(update={"approvals": [wrong]})).details)


def test_no_approval_may_be_asked_when_none_is_expected(seed) -> None:
    p = prepared("add_note.yaml")
    t = run_trial(p, scripted())
    assert approvals(p, t).passed
    asked = seed[1].approvals[0]
    result = approvals(p, t.model_copy(update={"approvals": [asked]}))
    assert not result.passed and any("no approval request was expected" in d for d in result.details)


def test_changing_an_entity_the_scenario_leaves_alone_is_a_forbidden_write(seed) -> None:
    p, t = seed
    untouched = next(k for k, e in p.initial.items() if e["kind"] == "incident" and k not in p.gold)
    changed = {**t.end_state, untouched: {**p.initial[untouched], "notes": ["Bilal Khan: all fine"]}}
    result = forbidden_writes(p, t.model_copy(update={"end_state": changed}))
    assert result.details == [f"forbidden write: {untouched} changed, which the scenario leaves alone"]


def test_a_write_accepted_without_a_visible_change_to_an_untouched_incident_is_forbidden(seed) -> None:
    p, t = seed
    untouched = next(k for k, e in p.initial.items() if e["kind"] == "incident" and k not in p.gold)
    incident_id = p.names.incidents[untouched.removeprefix("incident #")]
    again = RequestRecord(method="PUT", path=f"/incidents/{incident_id}", status=200, api="rest", step=1)
    bulk = RequestRecord(method="PUT", path="/incidents", status=200, api="rest", step=1,
                         body={"incidents": [{"id": incident_id, "status": "acknowledged"}]})
    refused = again.model_copy(update={"status": 404})
    result = forbidden_writes(p, t.model_copy(update={"requests": [*t.requests, again, bulk, refused]}))
    assert result.details == [f"forbidden write: PUT {path} wrote to {untouched}, which the scenario leaves alone"
                              for path in (again.path, "/incidents")]


@pytest.fixture(scope="module")
def resumed() -> tuple[Prepared, Trajectory]:
    return played("server_error_during_create.yaml")


def test_a_write_not_confirmed_stops_the_turn_and_the_resume_completes_it_once(resumed) -> None:
    p, t = resumed
    assert grade(p, t).reward == 1.0
    stopped, finished = t.turns
    assert (stopped.status, stopped.resume, finished.resume) == ("failed", False, True)
    assert "Not confirmed" in stopped.answer and "Priya Sharma" in finished.answer
    creates = [r for r in t.requests if (r.method, r.path) == ("POST", "/incidents")]
    assert [r.status for r in creates] == [500] * 6 + [201] and len(t.approvals) == 1  # asked once
    assert [e["count"] for e in t.end_state.values() if e["kind"] == "opened"] == [1]


def test_answer_fails_a_turn_that_should_have_stopped_or_does_not_say_so(resumed) -> None:
    p, t = resumed
    stopped, finished = t.turns
    went_on = t.model_copy(update={"turns": [stopped.model_copy(update={"status": "answered"}), finished]})
    assert answer(p, went_on).details[0].startswith("turn 1 should have stopped at a write PagerDuty did not confirm")
    silent = t.model_copy(update={"turns": [stopped.model_copy(update={"answer": "Something went wrong."}), finished]})
    assert answer(p, silent).details == [f"turn 1 does not mention {m!r}" for m in p.scenario.endings()[0].stop or []]


def test_answer_fails_a_trajectory_that_played_no_turn_or_ended_without_words(seed) -> None:
    p, t = seed
    empty = Trajectory(scenario=t.scenario, tier=t.tier, model=t.model, trial=0, termination="answered")
    assert "0 turn(s) were played, not 1" in answer(p, empty).details
    quiet = p.scenario.expect.model_copy(update={"mentions": []})
    lenient = Prepared(**{**p.__dict__, "scenario": p.scenario.model_copy(update={"expect": quiet})})
    blank = t.model_copy(update={"turns": [t.turns[0].model_copy(update={"answer": " "})]})
    assert answer(lenient, blank).details == ["the conversation ended without an answer"]
    assert answer(lenient, t).passed
