"""A write PagerDuty did not confirm (5xx, timeout, dropped connection) stops the run where it is: the person
is told whether it may have happened and how to resume, and `resume` carries that very write out once."""

from __future__ import annotations

import httpx
import pytest
from commanders import build, open_incident, said, update_call, writes


@pytest.mark.parametrize("fault", [{"status": 503}, {"action": "timeout"}, {"action": "drop"}],
                         ids=["5xx", "timeout", "dropped"])
def test_an_unconfirmed_write_says_it_may_have_happened_and_resume_finishes_it_once(sim, clock, fault):
    incident = open_incident(sim)
    commander = build(sim, clock, [[update_call(incident, "acknowledge")], "Acknowledged."])
    [request] = commander.send("t1", "ack it").pending
    rule = sim.add_fault(method="PUT", path=f"/incidents/{incident.id}", **fault)

    failed = commander.decide("t1", request.id, "approve", "omar")

    assert failed.status == "failed"
    assert "may have" in failed.text and "Resume this conversation" in failed.text
    assert failed.events[-1].resumable  # each surface says how to resume there
    assert "incident-commander" not in failed.text
    for word in ("PUT", "/incidents", "Error", "ServerError", "NetworkError", incident.id):
        assert word not in failed.text
    assert incident.status == "triggered"

    sim.faults.clear()
    assert rule.fired >= 1
    done = commander.resume("t1")

    assert done.status == "answered" and said(done.text) == "Acknowledged."
    assert incident.status == "acknowledged"
    assert [e.outcome for e in commander.audit("t1") if e.action == "tool_call"][-1] == "ok"
    assert commander.resume("t1").text == "Nothing to resume on this thread."


class Unreachable(httpx.BaseTransport):
    """PagerDuty cannot be connected to for writes while `down` is set; reads go through."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner, self.down = inner, False

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self.down and request.method != "GET":
            raise httpx.ConnectError("connection refused", request=request)
        return self.inner.handle_request(request)


def test_a_write_that_never_reached_pagerduty_says_nothing_changed_and_resume_finishes_it(sim, clock):
    incident = open_incident(sim)
    network = Unreachable(sim.transport())
    commander = build(sim, clock, [[update_call(incident, "resolve")], "Resolved."], transport=network)
    [request] = commander.send("t1", "resolve it").pending
    network.down = True

    failed = commander.decide("t1", request.id, "approve", "omar")

    assert failed.status == "failed" and failed.events[-1].problem == "setup"
    assert "nothing was changed" in failed.text and "resume this conversation" in failed.text
    assert failed.events[-1].resumable
    assert "may have" not in failed.text and not writes(sim)
    network.down = False
    assert commander.resume("t1").status == "answered"
    assert incident.status == "resolved" and len(writes(sim)) == 1
