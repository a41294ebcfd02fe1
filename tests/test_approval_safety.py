"""Approvals stay safe at the edges: calls that cannot be told apart, two processes resuming one run, a
batch decided by a process that died, and integration keys in arguments.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from commanders import build, incident_in, open_incident, said, update_call, writes
from demo_org import service_id
from langchain_core.messages import ToolMessage

from agent.approvals import ApprovalError, Decision
from agent.audit import AuditDatabase
from agent.commander import RESUME_LEASE
from agent.leases import RunLeases, this_process
from agent.ledger import DecisionLedger
from agent.planners.scripted import ScriptedChatModel
from tools.errors import PagerDutyError
from tools.events import EventsClient
from tools.settings import PagerDutySettings

SERVICE = service_id("API Gateway")


def tool_results(model: ScriptedChatModel) -> list[ToolMessage]:
    return [m for m in model.received[-1] if isinstance(m, ToolMessage)]


def routing_key(sim) -> str:
    return sim.state.services[SERVICE].integrations[0].routing_key


# --- calls must be told apart to be approved ---


def test_calls_sharing_an_id_are_refused_so_a_rejection_cannot_let_a_twin_run(sim, clock, store):
    first, second, third = open_incident(sim, 0), open_incident(sim, 1), open_incident(sim, 2)
    model = ScriptedChatModel(script=[[update_call(first, "resolve") | {"id": "X"},
                                       update_call(second, "acknowledge") | {"id": "X"},
                                       update_call(third, "acknowledge") | {"id": "Y"}], "Done."])
    commander = build(sim, clock, model, store)

    [request] = commander.send("t1", "resolve one, ack two").pending

    assert request.tool_call_id == "Y" and request.arguments["incident"] == third.id
    refused = [e for e in commander.audit("t1") if e.action == "refused"]
    assert [e.arguments["incident"] for e in refused] == [first.id, second.id]
    assert said(commander.decide("t1", request.id, "approve", "omar").text) == "Done."
    assert [w.path for w in writes(sim)] == [f"/incidents/{third.id}"]
    assert sim.state.incidents[first.id].status == first.status
    replies = {m.text for m in tool_results(model) if m.tool_call_id == "X"}
    assert len(replies) == 1 and "shares its call id 'X'" in replies.pop()


# --- one process at a time carries out approved changes ---


class ResumesMidWrite(httpx.BaseTransport):
    """While the first write of `path` is on its way to PagerDuty, another process asks to resume the thread."""

    def __init__(self, inner: httpx.BaseTransport, path: str) -> None:
        self.inner, self.path = inner, path
        self.other = None
        self.turns: list = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and request.url.path == self.path and not self.turns:
            self.turns.append(self.other.resume("t1"))
        return self.inner.handle_request(request)


def test_a_resume_while_another_process_carries_out_the_approval_is_refused(sim, clock, tmp_path):
    db = str(tmp_path / "ic.sqlite")
    incident = incident_in(sim, "acknowledged")  # only those can be snoozed
    transport = ResumesMidWrite(sim.transport(), f"/incidents/{incident.id}/snooze")
    snooze = {"name": "snooze_incident", "args": {"incident": incident.id, "duration": "1h"}}
    deciding = build(sim, clock, [[snooze], "Snoozed."], db, transport=transport)
    [request] = deciding.send("t1", "snooze it").pending
    transport.other = build(sim, clock, ["Snoozed."], db)  # e.g. the CLI, on the same database

    done = deciding.decide("t1", request.id, "approve", "omar")

    [refused] = transport.turns
    assert refused.status == "failed"
    assert refused.text == ("Another session is carrying out these approved changes since 12:00 UTC; "
                            "try again later.")
    assert (done.status, said(done.text)) == ("answered", "Snoozed.")
    assert [w.path for w in writes(sim)] == [transport.path]
    assert transport.other.resume("t1").text == "Nothing to resume on this thread."


class DiesBeforeWrite(httpx.BaseTransport):
    """Stands in for the process dying just before its first write leaves."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method != "GET":
            raise KeyboardInterrupt  # not an Exception: nothing on the way catches it, as with a kill
        return self.inner.handle_request(request)


def test_a_dead_claimers_run_is_taken_over_once_its_lease_has_run_out(sim, clock, tmp_path):
    db = str(tmp_path / "ic.sqlite")
    incident = open_incident(sim)
    dying = build(sim, clock, [[update_call(incident, "acknowledge")]], db, transport=DiesBeforeWrite(sim.transport()))
    [request] = dying.send("t1", "ack it").pending
    with pytest.raises(KeyboardInterrupt):
        dying.decide("t1", request.id, "approve", "omar")
    reborn = build(sim, clock, ["Acknowledged."], db)

    early = reborn.resume("t1")
    clock.advance(RESUME_LEASE.total_seconds() - 1)
    still_early = reborn.resume("t1")
    clock.advance(1)
    late = reborn.resume("t1")

    assert early.status == still_early.status == "failed" and "since 12:00 UTC; try again later" in early.text
    assert (late.status, said(late.text)) == ("answered", "Acknowledged.")
    assert [w.path for w in writes(sim)] == [f"/incidents/{incident.id}"]


def test_a_run_that_failed_in_the_claiming_process_can_be_resumed_at_once(sim, clock, store):
    incident = open_incident(sim)
    replies = iter([[update_call(incident, "acknowledge")], RuntimeError("model endpoint down"), "Acknowledged."])

    def planner(_messages):
        reply = next(replies)
        if isinstance(reply, Exception):
            raise reply
        return reply

    commander = build(sim, clock, planner, store)
    [request] = commander.send("t1", "ack it").pending
    assert commander.decide("t1", request.id, "approve", "omar").status == "failed"

    turn = commander.resume("t1")

    assert (turn.status, said(turn.text)) == ("answered", "Acknowledged.")
    assert len(writes(sim)) == 1


def test_a_batch_decided_by_a_process_that_died_blocks_new_messages_until_resumed(sim, clock, tmp_path):
    db = str(tmp_path / "ic.sqlite")
    incident = open_incident(sim)
    asking = build(sim, clock, [[update_call(incident, "resolve")]], db)
    [request] = asking.send("t1", "resolve it").pending
    # the deciding process stores its decision, then dies before it resumes the graph
    approved = Decision(approval_id=request.id, verdict="approve", approver="omar", decided_at=clock.now())
    DecisionLedger(AuditDatabase(db)).record(request, approved)
    model = ScriptedChatModel(script=["Resolved."])
    reborn = build(sim, clock, model, db)

    blocked = reborn.send("t1", "what else is open?")

    assert blocked.status == "failed" and "approved changes have not run yet; resume it" in blocked.text
    assert model.received == [] and writes(sim) == []
    assert said(reborn.resume("t1").text) == "Resolved."
    assert [w.path for w in writes(sim)] == [f"/incidents/{incident.id}"]
    assert sim.state.incidents[incident.id].status == "resolved"


# --- integration keys are shown by their last characters only ---


def test_a_routing_key_is_masked_wherever_arguments_are_shown_yet_the_event_uses_it(sim, clock, store):
    key = routing_key(sim)
    shown = "…" + key[-4:]
    trigger = {"name": "send_event", "args": {"routing_key": key, "summary": "5xx above 2%", "source": "lb-1"}}
    broken = {"name": "send_change_event", "args": {"routing_key": key}}  # no summary: refused
    commander = build(sim, clock, [[trigger, broken], "Sent."], store)

    [request] = commander.send("t1", "page the gateway").pending
    events = list(commander.stream_decide("t1", request.id, "approve", "omar"))

    assert request.arguments["routing_key"] == shown and key not in request.summary
    [started] = [e for e in events if e.kind == "tool_started"]
    assert started.arguments["routing_key"] == shown
    assert {e.arguments["routing_key"] for e in commander.audit("t1") if e.arguments} == {shown}
    everything = json.dumps([request.model_dump(mode="json"), *[e.model_dump(mode="json") for e in events],
                             *[e.model_dump(mode="json") for e in commander.audit("t1")]], ensure_ascii=False)
    assert key not in everything
    [sent] = writes(sim)
    assert (sent.path, sent.body["routing_key"]) == ("/v2/enqueue", key)
    assert said(events[-1].message) == "Sent."


def test_an_edit_keeps_the_masked_key_as_the_real_one_and_refuses_a_new_key(sim, clock, store):
    key = routing_key(sim)
    change = {"name": "send_change_event", "args": {"routing_key": key, "summary": "Deployed gateway v2.41"}}
    commander = build(sim, clock, [[change], "Recorded."], store)
    [request] = commander.send("t1", "record the deploy").pending

    with pytest.raises(ApprovalError, match="routing_key cannot be edited"):
        commander.decide("t1", request.id, "edit", "omar", arguments={**request.arguments, "routing_key": "k" * 32})
    edited = {**request.arguments, "summary": "Deployed gateway v2.42"}
    turn = commander.decide("t1", request.id, "edit", "omar", arguments=edited)

    assert said(turn.text) == "Recorded."
    [sent] = writes(sim)
    assert (sent.path, sent.body["routing_key"], sent.body["payload"]["summary"]) == (
        "/v2/change/enqueue", key, "Deployed gateway v2.42")
    assert key not in json.dumps([e.model_dump(mode="json") for e in commander.audit("t1")], ensure_ascii=False)


class EchoesRoutingKey(httpx.BaseTransport):
    """An Events API that quotes the routing key back in its 400 answer."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        key = json.loads(request.content)["routing_key"]
        return httpx.Response(400, json={"status": "invalid event", "message": f"Unknown routing key {key}",
                                         "errors": [f"routing_key {key} matches no integration"]})


def test_the_events_client_scrubs_the_routing_key_from_its_errors():
    key = "R" * 28 + "c0de"
    events = EventsClient(PagerDutySettings(events_host="https://events.pagerduty.com"), transport=EchoesRoutingKey())

    with pytest.raises(PagerDutyError) as raised:
        events.change(key, summary="Deployed gateway v2.41")

    text = str(raised.value) + " ".join(raised.value.errors)
    assert key not in text and "[redacted]" in raised.value.message and "[redacted]" in raised.value.errors[0]


CLAIMED = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def _claimed_by(tmp_path, owner: str) -> RunLeases:
    leases = RunLeases(AuditDatabase(str(tmp_path / f"claims-{abs(hash(owner))}.sqlite")))
    assert leases.claim_batch("batch-1", "t1", at=CLAIMED, owner=owner)
    return leases


def test_a_claim_left_by_a_process_that_exited_on_this_host_is_taken_over_at_once(tmp_path):
    exited = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                            capture_output=True, text=True, check=True).stdout.strip()
    leases = _claimed_by(tmp_path, f"{socket.gethostname()}:{exited}")
    assert leases.take_over("resume-1", "t1", at=CLAIMED + timedelta(seconds=5), lease=RESUME_LEASE) is None


@pytest.mark.parametrize("owner", ["this process", "ops-box-2.example:4242"])
def test_a_claim_held_by_a_live_or_remote_process_is_waited_out(tmp_path, owner):
    leases = _claimed_by(tmp_path, this_process() if owner == "this process" else owner)
    assert leases.take_over("resume-1", "t1", at=CLAIMED + timedelta(seconds=5), lease=RESUME_LEASE) == CLAIMED
    assert leases.take_over("resume-1", "t1", at=CLAIMED + RESUME_LEASE, lease=RESUME_LEASE) is None


# --- what was approved is what runs ---


def test_an_approved_override_covers_the_times_its_card_showed_however_late_the_approval(sim, clock, store):
    clock.set(datetime(2026, 11, 21, 8, 55, tzinfo=UTC))
    cover = {"name": "create_override", "args": {"schedule": "Payments Primary", "user": "dana", "start": "09:00",
                                                  "end": "+8h", "time_zone": "Europe/London"}}
    commander = build(sim, clock, [[cover], "Covered."], store)
    [request] = commander.send("t1", "dana covers payments from 9 for 8h").pending

    assert "from 2026-11-21 09:00 UTC to 17:00 UTC" in request.summary
    assert request.arguments == {"schedule": "Payments Primary", "user": "dana",
                                 "start": "2026-11-21T09:00:00Z", "end": "2026-11-21T17:00:00Z"}
    clock.advance(600)  # "09:00" read now would mean tomorrow, "+8h" would end at 18:00
    assert said(commander.decide("t1", request.id, "approve", "omar").text) == "Covered."

    [sent] = writes(sim)
    [override] = sent.body["overrides"]
    assert (override["start"], override["end"]) == ("2026-11-21T09:00:00Z", "2026-11-21T17:00:00Z")
    [ran] = [e for e in commander.audit("t1") if e.action == "tool_call"]
    assert (ran.arguments["start"], ran.arguments["end"], ran.outcome) == (
        "2026-11-21T09:00:00Z", "2026-11-21T17:00:00Z", "ok")
