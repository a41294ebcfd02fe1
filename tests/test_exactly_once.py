"""Every approved write happens once: a process killed around the request, then `resume`, does not repeat it."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from commanders import DiesAfterWrite, ProcessKilled, build, said, writes
from demo_org import incident_id

from agent.commander import RESUME_LEASE

GATEWAY_RESETS = incident_id(268)  # triggered at level 1 of the API Gateway policy
GATEWAY_LATENCY = incident_id(269)  # acknowledged, same service


class LosesAnswer(httpx.BaseTransport):
    """Delivers the first `method path` request, then times out instead of returning PagerDuty's answer."""

    def __init__(self, inner: httpx.BaseTransport, method: str, path: str) -> None:
        self.inner, self.method, self.path, self.fired = inner, method, path, False

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if (request.method, request.url.path) == (self.method, self.path) and not self.fired:
            self.fired = True
            raise httpx.ReadTimeout("no answer in time", request=request)
        return response


def crash_and_resume(sim, clock, tmp_path, script, method: str, path: str, *, deliver: bool = True,
                     later: timedelta = RESUME_LEASE):
    """Run the planned write (approving it if asked) in a process that dies around `method path`, then
    resume in a new process `later`. Returns the approval request (None if none was asked) and the two turns."""
    db = str(tmp_path / "ic.sqlite")
    dying = build(sim, clock, [script], db, transport=DiesAfterWrite(sim.transport(), method, path, deliver))
    request = None
    with pytest.raises(ProcessKilled):
        turn = dying.send("t1", "do it")
        [request] = turn.pending
        dying.decide("t1", request.id, "approve", "omar")
    reborn = build(sim, clock, ["Done."], db)
    clock.advance(later.total_seconds())
    return request, reborn, reborn.resume("t1")


def test_an_approved_next_level_escalation_is_pinned_and_runs_once_after_a_crash(sim, clock, tmp_path):
    escalate = {"name": "update_incident", "args": {"incident": GATEWAY_RESETS, "action": "escalate"}}
    request, reborn, turn = crash_and_resume(sim, clock, tmp_path, [escalate], "PUT", f"/incidents/{GATEWAY_RESETS}")

    assert request.arguments["escalation_level"] == 2 and "to level 2, paging " in request.summary
    assert turn.status == "answered"
    assert sim.state.incidents[GATEWAY_RESETS].escalation_level == 2
    assert [(w.method, w.body["incident"].get("escalation_level")) for w in writes(sim)] == [("PUT", 2)]
    assert [(e.action, e.outcome) for e in reborn.audit("t1")][-1] == ("tool_call", "ok")


def test_a_change_event_is_recorded_once_when_the_process_dies_after_sending_it(sim, clock, tmp_path):
    change = {"name": "send_change_event", "args": {"service": "API Gateway", "summary": "Deployed v2.3.1"}}
    _, reborn, turn = crash_and_resume(sim, clock, tmp_path, [change], "POST", "/v2/change/enqueue")

    assert turn.status == "answered"
    assert [e.summary for e in sim.state.change_events] == ["Deployed v2.3.1"]
    assert [(e.action, e.outcome) for e in reborn.audit("t1")][-1] == ("tool_call", "ok")


def test_a_note_resumed_an_hour_after_the_crash_is_not_written_twice(sim, clock, tmp_path):
    note = {"name": "add_note", "args": {"incident": GATEWAY_LATENCY, "content": "Rolled back the deploy."}}
    _, _, turn = crash_and_resume(sim, clock, tmp_path, [note], "POST", f"/incidents/{GATEWAY_LATENCY}/notes",
                                  later=timedelta(hours=1))

    assert turn.status == "answered"
    notes = [n.content for n in sim.state.notes_by_incident[GATEWAY_LATENCY]]
    assert notes.count("Rolled back the deploy.") == 1


def test_a_merge_whose_answer_was_lost_is_reported_done_not_failed(sim, clock):
    merge = {"name": "merge_incidents", "args": {"target": GATEWAY_LATENCY, "sources": [GATEWAY_RESETS]}}
    commander = build(sim, clock, [[merge], "Merged."],
                      transport=LosesAnswer(sim.transport(), "PUT", f"/incidents/{GATEWAY_LATENCY}/merge"))
    [request] = commander.send("t1", "merge them").pending

    turn = commander.decide("t1", request.id, "approve", "omar")

    assert (turn.status, said(turn.text)) == ("answered", "Merged.")
    assert sim.state.incidents[GATEWAY_RESETS].merged_into == GATEWAY_LATENCY
    assert [w.status for w in writes(sim)] == [200, 400]  # PagerDuty said "Incident Already Merged" to the retry
    assert [(e.action, e.outcome) for e in commander.audit("t1")][-1] == ("tool_call", "ok")


def test_a_merge_resumed_after_a_crash_is_done_without_a_second_request(sim, clock, tmp_path):
    merge = {"name": "merge_incidents", "args": {"target": GATEWAY_LATENCY, "sources": [GATEWAY_RESETS]}}
    _, reborn, turn = crash_and_resume(sim, clock, tmp_path, [merge], "PUT", f"/incidents/{GATEWAY_LATENCY}/merge")

    assert turn.status == "answered" and len(writes(sim)) == 1
    assert [(e.action, e.outcome) for e in reborn.audit("t1")][-1] == ("tool_call", "ok")


def test_an_integer_beyond_what_pagerduty_accepts_is_refused_and_the_thread_stays_usable(sim, clock, tmp_path):
    huge = {"name": "update_incident",
            "args": {"incident": GATEWAY_RESETS, "action": "escalate", "escalation_level": 2**64}}
    commander = build(sim, clock, [[huge], "That level does not exist.", "Nobody else."], str(tmp_path / "ic.sqlite"))

    turn = commander.send("t1", f"escalate {GATEWAY_RESETS} level 18446744073709551616")

    assert (turn.status, said(turn.text)) == ("answered", "That level does not exist.")
    assert writes(sim) == []
    assert said(commander.send("t1", "who else?").text) == "Nobody else."


def test_a_snooze_approved_late_ends_when_its_card_said(sim, clock):
    snooze = {"name": "snooze_incident", "args": {"incident": GATEWAY_LATENCY, "duration": "1h"}}
    commander = build(sim, clock, [[snooze], "Snoozed."])
    [request] = commander.send("t1", "snooze it for an hour").pending
    clock.advance(timedelta(minutes=10).total_seconds())

    assert said(commander.decide("t1", request.id, "approve", "omar").text) == "Snoozed."
    [post] = writes(sim)
    assert post.body == {"duration": 50 * 60}
