"""Time moves incidents where a dataset asks for it: escalation by timeout and acknowledgement timeouts,
played lazily when the clock has moved, each dated when it ran out."""

from __future__ import annotations

from datetime import timedelta

import pytest
from demo_org import NOW, make_client, policy_id, service_id, token_for

from simulator import ManualClock, Simulator
from simulator.incidents import on_call

PLATFORM_ESCALATION = policy_id("Platform Escalation")

GATEWAY = service_id("API Gateway")  # Platform Escalation: 15, 15 then 30 minutes, one loop
DATABASE = policy_id("Database Escalation")  # 10, 20, 30 minutes, no loops


@pytest.fixture
def timed(demo_dataset):
    """The demo account without history, with incident timeouts on, and a clock the test moves."""
    dataset = demo_dataset.model_copy(update={"history": None, "incident_timeouts": True})
    clock = ManualClock(NOW)
    sim = Simulator.from_dataset(dataset, clock=clock)
    with make_client(sim, token_for(dataset), dataset.users[0].email) as api:
        yield sim, clock, api


def open_incident(api, service_id=GATEWAY, **extra) -> str:
    response = api.post("/incidents", json={"incident": {
        "type": "incident", "title": "Gateway 5xx", "service": {"id": service_id, "type": "service_reference"},
        **extra}})
    assert response.status_code == 201, response.text
    return response.json()["incident"]["id"]


def timeline(api, incident_id) -> list[tuple[str, str, str]]:
    entries = api.get(f"/incidents/{incident_id}/log_entries", params={"limit": 100}).json()["log_entries"]
    return [(e["created_at"], e["type"], e["summary"]) for e in reversed(entries)]


def stamp(minutes: float) -> str:
    return (NOW + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_an_unacknowledged_incident_escalates_after_its_levels_delay(timed):
    sim, clock, api = timed
    incident_id = open_incident(api)
    clock.advance(14 * 60)
    assert api.get(f"/incidents/{incident_id}").json()["incident"]["assignments"]
    assert sim.state.incidents[incident_id].escalation_level == 1
    clock.advance(60)
    shown = api.get(f"/incidents/{incident_id}").json()["incident"]
    level_two = on_call(sim.state, sim.clock, sim.state.escalation_policies[PLATFORM_ESCALATION], 2)
    assert sim.state.incidents[incident_id].escalation_level == 2
    assert [a["assignee"]["id"] for a in shown["assignments"]] == level_two
    assert shown["status"] == "triggered"
    events = timeline(api, incident_id)
    assert [e for e in events if e[1] == "escalate_log_entry"] == [
        (stamp(15), "escalate_log_entry", "Escalated to level 2 due to timeout.")]
    assert [e[0] for e in events if e[1] == "notify_log_entry"][-len(level_two):] == [stamp(15)] * len(level_two)


def test_a_long_silence_plays_every_step_in_order_through_the_loops_and_then_stops(timed):
    sim, clock, api = timed
    incident_id = open_incident(api)
    clock.advance(24 * 3600)
    escalations = [(at, summary) for at, kind, summary in timeline(api, incident_id) if kind == "escalate_log_entry"]
    # 15 + 15 + 30 minutes per pass; one loop back to level 1, then the last level stays.
    assert escalations == [(stamp(15), "Escalated to level 2 due to timeout."),
                           (stamp(30), "Escalated to level 3 due to timeout."),
                           (stamp(60), "Escalated to level 1 due to timeout."),
                           (stamp(75), "Escalated to level 2 due to timeout."),
                           (stamp(90), "Escalated to level 3 due to timeout.")]
    incident = sim.state.incidents[incident_id]
    assert incident.escalation_level == 3 and incident.status == "triggered"
    times = [at for at, _, _ in timeline(api, incident_id)]
    assert times == sorted(times)


def test_an_acknowledgement_times_out_and_the_escalation_timer_starts_again(timed):
    sim, clock, api = timed
    incident_id = open_incident(api)
    clock.advance(5 * 60)
    api.put(f"/incidents/{incident_id}", json={"incident": {"type": "incident_reference", "status": "acknowledged"}})
    timeout = sim.state.services[GATEWAY].acknowledgement_timeout
    assert timeout == 1800
    clock.advance(timeout + 10 * 60)
    shown = api.get(f"/incidents/{incident_id}").json()["incident"]
    assert shown["status"] == "triggered" and shown["acknowledgements"] == []
    assert shown["last_status_change_at"] == stamp(35)
    events = timeline(api, incident_id)
    assert (stamp(35), "unacknowledge_log_entry", "Unacknowledged due to timeout.") in events
    assert any(kind == "notify_log_entry" and at == stamp(35) for at, kind, _ in events)
    assert not any(kind == "escalate_log_entry" for _, kind, _ in events)  # 10 of its 15 minutes have passed
    clock.advance(5 * 60)
    assert sim.state.incidents[incident_id].escalation_level == 1  # not read yet: nothing has moved
    escalations = [e for e in timeline(api, incident_id) if e[1] == "escalate_log_entry"]
    assert escalations == [(stamp(50), "escalate_log_entry", "Escalated to level 2 due to timeout.")]


def test_a_snooze_holds_the_acknowledgement_timeout_and_directly_assigned_incidents_do_not_escalate(
        timed, demo_dataset):
    sim, clock, api = timed
    snoozed = open_incident(api)
    api.put(f"/incidents/{snoozed}", json={"incident": {"type": "incident_reference", "status": "acknowledged"}})
    api.post(f"/incidents/{snoozed}/snooze", json={"duration": 3 * 3600})
    direct = open_incident(api, assignments=[{"assignee": {"id": demo_dataset.users[3].id, "type": "user_reference"}}])
    clock.advance(2 * 3600)
    assert api.get(f"/incidents/{snoozed}").json()["incident"]["status"] == "acknowledged"
    assert sim.state.incidents[direct].escalation_level == 1
    assert not any(kind == "escalate_log_entry" for _, kind, _ in timeline(api, direct))
    clock.advance(3600)
    assert api.get(f"/incidents/{snoozed}").json()["incident"]["status"] == "triggered"


def test_a_service_without_acknowledgement_timeout_keeps_its_acknowledgements(timed):
    sim, clock, api = timed
    service = next(s for s in sim.state.services.values() if s.acknowledgement_timeout is None)
    incident_id = open_incident(api, service.id)
    api.put(f"/incidents/{incident_id}", json={"incident": {"type": "incident_reference", "status": "acknowledged"}})
    clock.advance(7 * 24 * 3600)
    assert api.get(f"/incidents/{incident_id}").json()["incident"]["status"] == "acknowledged"


def test_without_the_dataset_option_time_moves_nothing(sim, api, clock):
    """The default: an account written before timeouts keeps its open incidents as they are."""
    before = {i.id: (i.status, i.escalation_level) for i in sim.state.incidents.values() if i.status != "resolved"}
    clock.advance(3 * 24 * 3600)
    listed = api.get("/incidents", params={"statuses[]": ["triggered", "acknowledged"], "limit": 100}).json()
    assert {i["id"]: (i["status"], sim.state.incidents[i["id"]].escalation_level)
            for i in listed["incidents"]} == before
