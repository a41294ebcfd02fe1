"""`Commander`, the API the surfaces use: restarts, other processes, crashes, nonces, streaming, defaults."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from commanders import (
    DiesAfterWrite,
    ProcessKilled,
    ack_both,
    build,
    incident_in,
    open_incident,
    said,
    update_call,
    writes,
)
from langchain_core.messages import ToolMessage

from agent.approvals import ApprovalError
from agent.commander import RESUME_LEASE, Commander
from agent.planners.scripted import ScriptedChatModel
from agent.settings import Settings
from tools.settings import PagerDutySettings

CREATE = {"name": "create_incident", "args": {"service": "API Gateway", "title": "Checkout errors"}}
FIND = {"name": "find_services", "args": {"query": "API"}}


def incidents_titled(sim, title: str) -> list:
    return [i for i in sim.state.incidents.values() if i.title == title]


def test_a_pending_approval_survives_a_restart_and_is_decided_from_another_process(sim, clock, tmp_path):
    db = str(tmp_path / "ic.sqlite")
    first = build(sim, clock, [[CREATE]], db)
    [request] = first.send("t1", "open an incident for checkout errors").pending
    first.close()

    second = build(sim, clock, ["Opened it."], db)  # another process: new objects, same file
    assert second.pending("t1") == [request]
    turn = second.decide("t1", request.id, "approve", "omar", nonce=request.nonce)

    assert (turn.status, said(turn.text)) == ("answered", "Opened it.")
    assert len(incidents_titled(sim, "Checkout errors")) == 1
    assert second.pending("t1") == []


def test_killed_after_the_write_left_a_new_process_resumes_to_exactly_one_incident(sim, clock, tmp_path):
    db = str(tmp_path / "ic.sqlite")
    dying = build(sim, clock, [[CREATE]], db, transport=DiesAfterWrite(sim.transport(), "POST", "/incidents"))
    request = dying.send("t1", "open an incident for checkout errors").pending[0]
    with pytest.raises(ProcessKilled):
        dying.decide("t1", request.id, "approve", "omar")
    assert len(incidents_titled(sim, "Checkout errors")) == 1  # PagerDuty has it; the process never heard

    model = ScriptedChatModel(script=["Opened it."])
    reborn = build(sim, clock, model, db)
    blocked = reborn.send("t1", "and page the DBAs")
    assert blocked.status == "failed" and "resume" in blocked.text
    clock.advance(RESUME_LEASE.total_seconds())  # the dead process's claim on the run has to lapse first
    turn = reborn.resume("t1")

    assert (turn.status, said(turn.text)) == ("answered", "Opened it.")
    assert len(incidents_titled(sim, "Checkout errors")) == 1
    assert [(w.method, w.path, w.status) for w in writes(sim)] == [("POST", "/incidents", 201),
                                                                   ("POST", "/incidents", 400)]
    [result] = [m for m in model.received[-1] if isinstance(m, ToolMessage)]
    assert "already exists, so nothing new was opened" in result.text
    trail = [(e.action, e.outcome) for e in reborn.audit("t1")][-3:]
    assert trail == [("api_write", "sending to PagerDuty"), ("api_write", "sending to PagerDuty"),
                     ("tool_call", "ok")]  # the killed attempt left its trace


def test_killed_between_the_approval_and_the_write_a_new_process_writes_exactly_once(sim, clock, tmp_path):
    db = str(tmp_path / "ic.sqlite")
    dying = build(sim, clock, [[CREATE]], db,
                  transport=DiesAfterWrite(sim.transport(), "POST", "/incidents", deliver=False))
    request = dying.send("t1", "open an incident for checkout errors").pending[0]
    with pytest.raises(ProcessKilled):
        dying.decide("t1", request.id, "approve", "omar")
    assert incidents_titled(sim, "Checkout errors") == [] and writes(sim) == []

    reborn = build(sim, clock, ["Opened it."], db)
    assert reborn.pending("t1") == []  # the approval was used; only the write is left to do
    clock.advance(RESUME_LEASE.total_seconds())  # the dead process's claim on the run has to lapse first
    turn = reborn.resume("t1")

    assert (turn.status, said(turn.text)) == ("answered", "Opened it.")
    assert len(incidents_titled(sim, "Checkout errors")) == 1
    assert [(w.method, w.path, w.status) for w in writes(sim)] == [("POST", "/incidents", 201)]
    with pytest.raises(ApprovalError, match="already decided"):
        reborn.decide("t1", request.id, "approve", "omar")


def test_an_approval_decided_by_another_live_instance_is_gone_from_the_first(sim, clock, tmp_path):
    """Two workers share one SQLite file and both stay up: a Slack click lands on either."""
    db = str(tmp_path / "ic.sqlite")
    asking = build(sim, clock, [[CREATE]], db)
    [request] = asking.send("t1", "open an incident for checkout errors").pending
    deciding = build(sim, clock, ["Opened it."], db)

    assert said(deciding.decide("t1", request.id, "approve", "omar", nonce=request.nonce).text) == "Opened it."

    assert asking.pending("t1") == []
    with pytest.raises(ApprovalError, match=r"already decided \(approve by omar\)"):
        asking.decide("t1", request.id, "approve", "mallory", nonce=request.nonce)
    assert len(incidents_titled(sim, "Checkout errors")) == 1
    assert [e.action for e in asking.audit("t1")][-3:] == ["decision", "api_write", "tool_call"]


def test_expired_approvals_are_refused_but_can_still_be_rejected(sim, clock, store):
    commander = build(sim, clock, [[CREATE], "Not opened."], store, approval_ttl_minutes=15)
    request = commander.send("t1", "open it").pending[0]
    clock.advance(timedelta(minutes=15).total_seconds())

    with pytest.raises(ApprovalError, match=r"expired at .*reject it and ask again"):
        commander.decide("t1", request.id, "approve", "omar")
    assert commander.pending("t1") == [request]

    assert said(commander.decide("t1", request.id, "reject", "omar", reason="too late").text) == "Not opened."
    assert writes(sim) == []


def test_nonces_are_single_use_and_must_match(sim, clock, store):
    first, second = open_incident(sim, 0), open_incident(sim, 1)
    commander = build(sim, clock, [ack_both(first, second), "Both acknowledged."], store)
    one, two = commander.send("t1", "ack both").pending

    with pytest.raises(ApprovalError, match="nonce does not match"):
        commander.decide("t1", one.id, "approve", "omar", nonce=two.nonce)
    commander.decide("t1", one.id, "approve", "omar", nonce=one.nonce)
    with pytest.raises(ApprovalError, match=r"already decided.*nonce cannot be used again"):
        commander.decide("t1", one.id, "reject", "mallory", nonce=one.nonce)  # still in the held batch
    commander.decide("t1", two.id, "approve", "omar", nonce=two.nonce)
    with pytest.raises(ApprovalError, match=r"already decided \(approve by omar\)"):
        commander.decide("t1", two.id, "approve", "omar", nonce=two.nonce)  # batch resumed and gone
    assert len(writes(sim)) == 2


def test_two_processes_deciding_a_batch_at_once_resume_it_once(sim, clock, tmp_path):
    """Two people click the last two buttons of a batch in two workers at the same moment."""
    db = str(tmp_path / "ic.sqlite")
    first, second = open_incident(sim, 0), open_incident(sim, 1)
    worker_a = build(sim, clock, [ack_both(first, second), "Both acknowledged."], db)
    one, two = worker_a.send("t1", "ack both").pending
    worker_b = build(sim, clock, ["Both acknowledged."], db)
    start = threading.Barrier(2)

    def click(worker, request, who):
        start.wait()
        return worker.decide("t1", request.id, "approve", who)

    with ThreadPoolExecutor(2) as pool:
        turns = list(pool.map(click, (worker_a, worker_b), (one, two), ("omar", "priya")))

    assert sorted(w.path for w in writes(sim)) == sorted([f"/incidents/{first.id}", f"/incidents/{second.id}"])
    assert [said(t.text) for t in turns].count("Both acknowledged.") == 1  # the other turn says it was recorded


def test_an_invalid_edit_is_refused_and_nothing_is_recorded(sim, clock, store):
    commander = build(sim, clock, [[CREATE], "Opened."], store)
    request = commander.send("t1", "open it").pending[0]

    with pytest.raises(ApprovalError, match=r"edited arguments are not valid.*title"):
        commander.decide("t1", request.id, "edit", "omar", arguments={"service": "API Gateway", "title": ""})
    assert [e.action for e in commander.audit("t1")] == ["message", "approval_requested"]
    assert commander.decide("t1", request.id, "approve", "omar").status == "answered"


def test_an_edit_is_checked_against_pagerduty_as_a_proposal_is(sim, clock, store):
    incident = open_incident(sim)
    resolved = incident_in(sim, "resolved")
    commander = build(sim, clock, [[update_call(incident, "acknowledge")], "Done."], store)
    request = commander.send("t1", "ack it").pending[0]

    with pytest.raises(ApprovalError, match=r"cannot run: Could not update the incident: .*9999"):
        commander.decide("t1", request.id, "edit", "omar", arguments={"incident": "9999"})
    with pytest.raises(ApprovalError, match="would change nothing"):
        commander.decide("t1", request.id, "edit", "omar", arguments={"incident": resolved.id, "action": "resolve"})
    assert [e.action for e in commander.audit("t1")] == ["message", "approval_requested"] and not writes(sim)
    assert commander.decide("t1", request.id, "approve", "omar").status == "answered"


def test_a_new_message_waits_for_pending_decisions(sim, clock, store):
    commander = build(sim, clock, [[CREATE]], store)
    request = commander.send("t1", "open it").pending[0]

    turn = commander.send("t1", "actually, who is on call?")

    assert turn.status == "waiting" and turn.pending == [request]
    assert turn.text.startswith("This thread is waiting for decisions first")
    assert commander.send("t2", "other thread").status == "failed"  # script ran out: said, not raised


def test_streams_progress_as_plain_events(sim, clock, store):
    commander = build(sim, clock, [[FIND, CREATE], "Opened."], store)

    asked = list(commander.stream("t1", "open it"))
    assert [e.kind for e in asked] == ["approval_needed"]
    assert asked[0].approval.tool == "create_incident" and "high risk" in asked[0].message

    ran = list(commander.stream_decide("t1", asked[0].approval.id, "approve", "omar"))
    kinds = [e.kind for e in ran]
    assert kinds[0] == "decision_recorded" and kinds[-1] == "answer" and said(ran[-1].message) == "Opened."
    assert sorted((e.kind, e.tool) for e in ran if e.tool and e.kind.startswith("tool")) == [
        ("tool_finished", "create_incident"), ("tool_finished", "find_services"),
        ("tool_started", "create_incident"), ("tool_started", "find_services")]
    assert all(e.ok for e in ran if e.kind == "tool_finished")


def test_a_pagerduty_rate_limit_wait_is_reported_and_waited_on_the_clock(sim, clock, store):
    sim.add_fault(method="GET", path="/services", status=429, reset_seconds=7, times=1)
    commander = build(sim, clock, [[FIND], "Found it."], store)
    start = clock.now()

    events = list(commander.stream("t1", "find the API service"))

    [wait] = [e for e in events if e.kind == "rate_limit_wait"]
    assert wait.seconds == 7 and "7" in wait.message
    assert said(events[-1].message) == "Found it."
    assert (clock.now() - start).total_seconds() >= 7


def test_audit_log_and_threads(sim, clock, store):
    commander = build(sim, clock, [[CREATE], "Opened.", "Hi."], store)
    request = commander.send("t1", "open it", requester="ravi").pending[0]
    commander.decide("t1", request.id, "approve", "omar")
    commander.send("t2", "hello", requester="mei")

    log = commander.audit("t1")
    assert [(e.action, e.actor) for e in log] == [("message", "ravi"), ("approval_requested", "ravi"),
                                                  ("decision", "omar"), ("api_write", "omar"), ("tool_call", "omar")]
    assert log[-1].arguments == CREATE["args"] and log[-1].outcome == "ok"
    assert {t.thread_id: t.started_by for t in commander.threads()} == {"t1": "ravi", "t2": "mei"}
    assert len(commander.audit()) == len(log) + 1


def test_embedded_defaults_run_offline_in_command_mode_and_say_so(clock):
    settings = Settings(checkpoint_db=":memory:", openai_api_key=None, requester="dana.whitfield@acme.example")
    with Commander.from_settings(settings, clock=clock, pagerduty_settings=PagerDutySettings(api_key=None)) as ic:
        [notice] = ic.notices
        assert notice == "Demo: Acme Cloud on the built-in PagerDuty simulator, nothing real is paged; command mode, " \
                         "type `help`."
        oncall = ic.send("t1", "oncall API Gateway")
        incident = open_incident(ic.simulator)
        asked = ic.send("t1", f"ack {incident.number}")
        done = ic.decide("t1", asked.pending[0].id, "approve", "omar")

    assert oncall.status == "answered"
    assert any(user.name in oncall.text for user in ic.simulator.state.dataset.users)
    assert asked.status == "waiting" and asked.pending[0].summary.startswith(f"Acknowledge incident #{incident.number}")
    assert done.text.startswith("Acknowledged:")
    assert ic.simulator.state.incidents[incident.id].status == "acknowledged"
