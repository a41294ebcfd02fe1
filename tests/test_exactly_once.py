"""Every approved write happens once: a process killed around the request, then `resume`, does not repeat it."""

from __future__ import annotations

import pytest

from agent.commander import RESUME_LEASE
from commanders import DiesAfterWrite, ProcessKilled, build, writes

GATEWAY_RESETS = "PQ001ZP"  # #268, triggered at level 1 of the API Gateway policy


def crash_and_resume(sim, clock, tmp_path, script, method: str, path: str, *, deliver: bool = True,
                     answer: str = "Done."):
    """Approve the planned write in a process that dies around `method path`, then resume in a new one."""
    db = str(tmp_path / "ic.sqlite")
    dying = build(sim, clock, [script], db, transport=DiesAfterWrite(sim.transport(), method, path, deliver))
    [request] = dying.send("t1", "do it").pending
    with pytest.raises(ProcessKilled):
        dying.decide("t1", request.id, "approve", "omar")
    reborn = build(sim, clock, [answer], db)
    clock.advance(RESUME_LEASE.total_seconds())
    return request, reborn, reborn.resume("t1")


def test_an_approved_next_level_escalation_is_pinned_and_runs_once_after_a_crash(sim, clock, tmp_path):
    escalate = {"name": "update_incident", "args": {"incident": GATEWAY_RESETS, "action": "escalate"}}
    request, reborn, turn = crash_and_resume(sim, clock, tmp_path, [escalate], "PUT", f"/incidents/{GATEWAY_RESETS}")

    assert request.arguments["escalation_level"] == 2 and "to level 2, paging " in request.summary
    assert turn.status == "answered"
    assert sim.state.incidents[GATEWAY_RESETS].escalation_level == 2
    assert [(w.method, w.body["incident"].get("escalation_level")) for w in writes(sim)] == [("PUT", 2)]
    assert [(e.action, e.outcome) for e in reborn.audit("t1")][-1] == ("tool_call", "ok")
