"""The approval policy, requests and decisions, and the decision ledger that makes nonces single use."""

from __future__ import annotations

from datetime import timedelta

import pytest

from agent.approvals import ApprovalError, ApprovalPolicy, ApprovalRequest, Decision, PolicyError
from agent.audit import AuditDatabase, AuditLog
from agent.embedded import connect
from agent.leases import RunLeases
from agent.ledger import DecisionLedger
from tools.registry import TOOLS
from tools.settings import PagerDutySettings
from tools.toolkit import build_toolkit


@pytest.fixture
def tools(sim, clock):
    """The real tools on the demo account, as the policy sees them."""
    connection = connect(PagerDutySettings(api_key=None), transport=sim.transport(), clock=clock,
                         progress=None)
    return {t.name: t for t in build_toolkit(connection.client, connection.events, clock=clock).tools}


def request(clock, **fields) -> ApprovalRequest:
    values = {"thread_id": "t1", "tool_call_id": "call_0_0", "tool": "create_incident",
              "arguments": {"service": "API Gateway", "title": "Checkout errors"},
              "summary": "Create an incident.", "risk": "high", "requester": "dana", "now": clock.now(),
              "ttl": timedelta(minutes=15)} | fields
    return ApprovalRequest.new(**values)


def decision(req: ApprovalRequest, clock, verdict="approve", approver="omar", **fields) -> Decision:
    return Decision(approval_id=req.id, verdict=verdict, approver=approver, decided_at=clock.now(), **fields)


def test_the_built_in_policy_asks_for_every_write_but_add_note(tools):
    policy = ApprovalPolicy.load()
    policy.check(list(tools.values()))
    rules = {name: policy.rule(tool) for name, tool in tools.items()}

    assert set(rules) == set(TOOLS)
    assert {n for n, r in rules.items() if r == "auto"} == {n for n, t in tools.items()
                                                            if t.metadata["kind"] == "read"} | {"add_note"}
    assert {n for n, r in rules.items() if r == "approve"} == {n for n, t in tools.items()
                                                               if t.metadata["kind"] == "write"} - {"add_note"}


def test_risk_levels_by_tool_and_action():
    policy = ApprovalPolicy.load()
    assert policy.risk_of("create_incident", {}) == "high"
    assert policy.risk_of("merge_incidents", {}) == "high"
    assert policy.risk_of("manage_incidents", {"action": "acknowledge"}) == "high"
    assert policy.risk_of("update_incident", {"action": "resolve"}) == "high"
    assert policy.risk_of("update_incident", {"action": "acknowledge"}) == "medium"
    assert policy.risk_of("add_note", {}) == "low"
    assert policy.risk_of("send_event", {"action": "trigger"}) == "high"
    assert policy.risk_of("send_event", {"action": "resolve"}) == "medium"


def test_a_workspace_policy_may_rate_a_tool_otherwise_than_its_declaration(tmp_path):
    path = tmp_path / "policy.yaml"
    path.write_text("risk:\n  add_responders: high\n  update_incident.acknowledge: low\n")
    policy = ApprovalPolicy.load(path)
    assert policy.risk_of("add_responders", {}) == "high"
    assert policy.risk_of("update_incident", {"action": "acknowledge"}) == "low"
    assert policy.risk_of("update_incident", {"action": "resolve"}) == "high"  # still the declaration's


def test_a_tool_no_declaration_names_counts_as_a_destructive_write(tmp_path):
    class Stranger:
        name = "wipe_account"

    path = tmp_path / "policy.yaml"
    path.write_text("writes: auto\n")
    with pytest.raises(PolicyError, match="wipe_account changes PagerDuty destructively"):
        ApprovalPolicy.load(path).rule(Stranger())
    assert ApprovalPolicy.load().rule(Stranger()) == "approve"


def test_a_destructive_tool_can_never_be_auto(tmp_path, tools):
    path = tmp_path / "policy.yaml"
    path.write_text("writes: auto\n")
    policy = ApprovalPolicy.load(path)

    assert policy.rule(tools["add_note"]) == "auto"
    with pytest.raises(PolicyError, match="create_incident changes PagerDuty destructively and cannot be 'auto'"):
        policy.check(list(tools.values()))


def test_a_policy_naming_a_tool_that_does_not_exist_fails_at_start(tmp_path, tools):
    path = tmp_path / "policy.yaml"
    path.write_text("tools:\n  merge_incident: deny\n")  # the typo would otherwise leave merges allowed

    with pytest.raises(PolicyError, match="do not exist: merge_incident"):
        ApprovalPolicy.load(path).check(list(tools.values()))


def test_a_malformed_policy_file_names_itself(tmp_path):
    path = tmp_path / "policy.yaml"
    path.write_text("tools:\n  add_note: sometimes\n")

    with pytest.raises(PolicyError, match=f"approval policy {path}"):
        ApprovalPolicy.load(path)


def test_a_key_given_twice_in_a_policy_is_refused_not_silently_overridden(tmp_path):
    path = tmp_path / "policy.yaml"
    path.write_text("tools:\n  merge_incidents: deny\n  add_note: auto\n  merge_incidents: approve\n")

    with pytest.raises(PolicyError, match=r"'merge_incidents' is given twice \(line 4\)$"):
        ApprovalPolicy.load(path)


def test_a_deny_rule_applies_to_reads_and_writes(tmp_path, tools):
    path = tmp_path / "policy.yaml"
    path.write_text("writes: deny\ntools:\n  list_log_entries: deny\n")
    policy = ApprovalPolicy.load(path)

    assert policy.rule(tools["create_incident"]) == "deny"
    assert policy.rule(tools["list_log_entries"]) == "deny"
    assert policy.rule(tools["get_incident"]) == "auto"


def test_requests_are_plain_json_with_a_fresh_nonce_and_an_expiry(clock):
    one, two = request(clock), request(clock)

    assert one.id != two.id and one.nonce != two.nonce
    assert one.expires_at - one.created_at == timedelta(minutes=15)
    assert ApprovalRequest.model_validate_json(one.model_dump_json()) == one


def test_an_expired_request_takes_only_a_rejection(clock):
    req = request(clock)
    clock.advance(15 * 60)

    for verdict in ("approve", "edit"):
        with pytest.raises(ApprovalError, match="expired"):
            req.accept(verdict, now=clock.now(), nonce=None)
    req.accept("reject", now=clock.now(), nonce=req.nonce)


def test_a_wrong_nonce_is_refused(clock):
    req = request(clock)
    with pytest.raises(ApprovalError, match="nonce does not match"):
        req.accept("approve", now=clock.now(), nonce="forged")


def test_only_an_edit_carries_arguments(clock):
    req = request(clock)
    with pytest.raises(ValueError, match="arguments come with an edit"):
        decision(req, clock, "edit")
    with pytest.raises(ValueError, match="arguments come with an edit"):
        decision(req, clock, "approve", arguments={"title": "x"})


def test_a_decision_is_stored_once_even_across_processes(tmp_path, clock):
    path = str(tmp_path / "ic.sqlite")
    here, there = AuditDatabase(path), AuditDatabase(path)  # two processes on one file
    req = request(clock)

    DecisionLedger(here).record(req, decision(req, clock))
    with pytest.raises(ApprovalError, match="already decided by omar"):
        DecisionLedger(there).record(req, decision(req, clock, "reject", "mallory"))

    assert DecisionLedger(there).decisions([req.id])[req.id].verdict == "approve"
    [entry] = AuditLog(there).entries("t1")
    assert (entry.action, entry.actor, entry.outcome) == ("decision", "omar", "approve")


def test_only_one_process_resumes_a_batch(tmp_path, clock):
    path = str(tmp_path / "ic.sqlite")
    here, there = RunLeases(AuditDatabase(path)), RunLeases(AuditDatabase(path))

    assert here.claim_batch("batch-1", "t1", at=clock.now()) is True
    assert there.claim_batch("batch-1", "t1", at=clock.now()) is False
    assert there.claim_batch("batch-2", "t1", at=clock.now()) is True


def test_the_audit_log_is_queryable_by_thread(clock):
    log = AuditLog(AuditDatabase())
    for thread, actor in (("t1", "dana"), ("t2", "mei"), ("t1", "omar")):
        log.record(at=clock.now(), thread_id=thread, actor=actor, action="message", outcome="hi")
        clock.advance(60)

    assert [e.actor for e in log.entries("t1")] == ["dana", "omar"]
    assert [e.actor for e in log.entries()] == ["dana", "mei", "omar"]
    assert [(t.thread_id, t.started_by) for t in log.threads()] == [("t1", "dana"), ("t2", "mei")]
