"""The incident engine on the demo account: end state and log entries of every action, and its refusals."""

from __future__ import annotations

from datetime import timedelta

import pytest
from demo_org import policy_id, team_id, user_id

from simulator import ApiError
from simulator import incidents as engine
from simulator.incidents import Actor, IncidentUpdate
from simulator.oncall import level_user_ids

PAYMENTS_ESCALATION = policy_id("Payments Escalation")
PAYMENTS_TEAM = team_id("Payments")
PLATFORM_ESCALATION = policy_id("Platform Escalation")

ALICE, GUSTAVO, TOM = user_id("Alice Moreno"), user_id("Gustavo Ramos"), user_id("Tom Hargreaves")


def service_named(sim, name):
    return next(s for s in sim.state.services.values() if s.name == name)


def on_call(sim, policy_id, level):
    state = sim.state
    overrides = {sid: state.overrides_for(sid) for sid in state.schedules}
    return level_user_ids(state.escalation_policies[policy_id], state.schedules, overrides, level, sim.now())


def entries(sim, incident, since=0):
    return [(e.type, e.agent_id, e.user_id) for e in sim.state.log_entries_by_incident[incident.id][since:]]


def new_incident(sim, service="Payments API", actor=ALICE, **kw):
    return engine.create(sim.state, sim.clock, Actor.user(actor), service_id=service_named(sim, service).id,
                         title=kw.pop("title", "Card authorization latency p95 above 3s"), **kw)


def code_of(call):
    with pytest.raises(ApiError) as caught:
        call()
    return caught.value.status, caught.value.code


def test_create_pages_level_one_of_the_services_policy(sim):
    service = service_named(sim, "Payments API")
    before = sim.state.next_incident_number
    incident = new_incident(sim)
    paged = on_call(sim, service.escalation_policy_id, 1)
    assert paged
    assert incident.number == before and sim.state.next_incident_number == before + 1
    assert incident.status == "triggered" and incident.urgency == service.default_urgency
    assert [a.user_id for a in incident.assignments] == paged
    assert incident.assigned_via == "escalation_policy"
    assert incident.team_ids == [PAYMENTS_TEAM]
    assert len(incident.incident_key) == 32
    assert entries(sim, incident) == ([("trigger_log_entry", ALICE, None)]
                                      + [("assign_log_entry", ALICE, u) for u in paged]
                                      + [("notify_log_entry", service.id, u) for u in paged])
    assert {e.created_at for e in sim.state.log_entries_by_incident[incident.id]} == {sim.now()}


def test_creating_an_incident_assigned_to_yourself_starts_it_acknowledged(sim):
    incident = new_incident(sim, assignee_ids=[ALICE, TOM])
    assert incident.status == "acknowledged" and incident.acknowledger_ids == [ALICE]
    assert incident.assigned_via == "direct_assignment"
    assert entries(sim, incident) == [("trigger_log_entry", ALICE, None), ("assign_log_entry", ALICE, ALICE),
                                      ("assign_log_entry", ALICE, TOM), ("acknowledge_log_entry", ALICE, None),
                                      ("notify_log_entry", incident.service_id, TOM)]


def test_an_open_incident_key_is_unique_per_service_until_resolved(sim):
    first = new_incident(sim, incident_key="db-cpu")
    with pytest.raises(ApiError) as caught:
        new_incident(sim, incident_key="db-cpu")
    assert (caught.value.status, caught.value.code, caught.value.errors) == (
        400, 2002, ["Open incident with matching dedup key already exists on this service"])
    assert new_incident(sim, service="Checkout", incident_key="db-cpu").incident_key == "db-cpu"
    engine.resolve(sim.state, sim.clock, first, Actor.user(ALICE))
    assert new_incident(sim, incident_key="db-cpu").id != first.id


def test_create_refuses_bad_references_without_leaving_a_trace(sim):
    count, logged = len(sim.state.incidents), len(sim.state.log_entries)
    service = service_named(sim, "Payments API").id
    assert code_of(lambda: engine.create(sim.state, sim.clock, Actor.user(ALICE), service_id="PNOPE00",
                                         title="x")) == (400, 2001)
    assert code_of(lambda: new_incident(sim, assignee_ids=["PNOPE00"])) == (400, 1007)
    assert code_of(lambda: new_incident(sim, escalation_policy_id="PNOPE00")) == (400, 1014)
    assert code_of(lambda: new_incident(sim, priority_id="PNOPE00")) == (400, 1020)
    assert code_of(lambda: engine.create(sim.state, sim.clock, Actor.user(ALICE), service_id=service, title="x",
                                         assignee_ids=[TOM], escalation_policy_id=PAYMENTS_ESCALATION)) == (400, 2001)
    assert (len(sim.state.incidents), len(sim.state.log_entries)) == (count, logged)


def test_acknowledge_then_resolve_with_a_resolution_note(sim, clock):
    incident = new_incident(sim)
    clock.advance(120)
    engine.acknowledge(sim.state, sim.clock, incident, Actor.user(TOM))
    assert incident.status == "acknowledged" and incident.acknowledger_ids == [TOM]
    assert (incident.last_status_change_at, incident.last_status_change_by) == (sim.now(), TOM)
    logged = len(sim.state.log_entries)
    engine.acknowledge(sim.state, sim.clock, incident, Actor.user(ALICE))  # a repeat is a no-op
    assert len(sim.state.log_entries) == logged and incident.acknowledger_ids == [TOM]
    clock.advance(600)
    engine.resolve(sim.state, sim.clock, incident, Actor.user(TOM), resolution="Rolled back 4.2.1")
    assert incident.status == "resolved" and incident.resolved_at == sim.now()
    assert incident.assignments == [] and incident.acknowledger_ids == []
    last = sim.state.log_entries_by_incident[incident.id][-1]
    assert (last.type, last.agent_id, last.note, last.created_at) == ("resolve_log_entry", TOM, "Rolled back 4.2.1",
                                                                      sim.now())
    assert (incident.service_id, incident.incident_key) not in sim.state.open_incident_keys
    engine.resolve(sim.state, sim.clock, incident, Actor.user(ALICE))
    assert len(sim.state.log_entries_by_incident[incident.id]) == len(entries(sim, incident))
    assert sim.state.log_entries_by_incident[incident.id][-1] is last


def test_triggered_on_an_acknowledged_incident_unacknowledges_it(sim):
    incident = new_incident(sim)
    engine.acknowledge(sim.state, sim.clock, incident, Actor.user(TOM))
    mark = len(entries(sim, incident))
    engine.update(sim.state, sim.clock, incident, Actor.user(TOM), IncidentUpdate(status="triggered"))
    assert incident.status == "triggered" and incident.acknowledger_ids == []
    assignees = [a.user_id for a in incident.assignments]
    assert entries(sim, incident, mark) == ([("unacknowledge_log_entry", TOM, None)]
                                            + [("notify_log_entry", incident.service_id, u) for u in assignees])


def test_reopening_a_resolved_incident(sim, clock):
    incident = new_incident(sim)
    engine.resolve(sim.state, sim.clock, incident, Actor.user(ALICE))
    clock.advance(60)
    mark = len(entries(sim, incident))
    engine.update(sim.state, sim.clock, incident, Actor.user(TOM),
                  IncidentUpdate(status="triggered", assignee_ids=(GUSTAVO,)))
    assert incident.status == "triggered" and incident.resolved_at is None
    assert [a.user_id for a in incident.assignments] == [GUSTAVO]
    assert sim.state.open_incident_keys[(incident.service_id, incident.incident_key)] == incident.id
    assert entries(sim, incident, mark) == [("trigger_log_entry", TOM, None), ("assign_log_entry", TOM, GUSTAVO),
                                            ("notify_log_entry", incident.service_id, GUSTAVO)]
    engine.resolve(sim.state, sim.clock, incident, Actor.user(ALICE))
    # acknowledging a resolved incident reopens it, acknowledged
    engine.acknowledge(sim.state, sim.clock, incident, Actor.user(TOM))
    assert incident.status == "acknowledged" and [a.user_id for a in incident.assignments] == [TOM]
    assert [t for t, _, _ in entries(sim, incident)][-3:] == ["trigger_log_entry", "assign_log_entry",
                                                             "acknowledge_log_entry"]


def test_reopening_is_refused_when_another_open_incident_holds_the_key(sim):
    old = new_incident(sim, incident_key="k1")
    engine.resolve(sim.state, sim.clock, old, Actor.user(ALICE))
    new_incident(sim, incident_key="k1")
    reopen = IncidentUpdate(status="triggered")
    assert code_of(lambda: engine.update(sim.state, sim.clock, old, Actor.user(ALICE), reopen)) == (400, 2002)
    assert old.status == "resolved"


def test_escalating_pages_the_level_and_retriggers(sim):
    incident = new_incident(sim)
    engine.acknowledge(sim.state, sim.clock, incident, Actor.user(ALICE))
    mark = len(entries(sim, incident))
    engine.escalate(sim.state, sim.clock, incident, Actor.user(ALICE), 2)
    assert incident.escalation_level == 2 and incident.status == "triggered" and incident.acknowledger_ids == []
    assert [a.user_id for a in incident.assignments] == [GUSTAVO]
    assert entries(sim, incident, mark) == [("escalate_log_entry", ALICE, None),
                                            ("notify_log_entry", incident.service_id, GUSTAVO)]
    assert sim.state.log_entries_by_incident[incident.id][mark].level == 2
    assert code_of(lambda: engine.escalate(sim.state, sim.clock, incident, Actor.user(ALICE), 4)) == (400, 1006)
    assert code_of(lambda: engine.escalate(sim.state, sim.clock, incident, Actor.user(ALICE), 0)) == (400, 2001)
    engine.resolve(sim.state, sim.clock, incident, Actor.user(ALICE))
    assert code_of(lambda: engine.escalate(sim.state, sim.clock, incident, Actor.user(ALICE), 1)) == (400, 1001)


def test_reassigning_to_users_or_to_another_policy(sim):
    incident = new_incident(sim)
    engine.acknowledge(sim.state, sim.clock, incident, Actor.user(ALICE))
    mark = len(entries(sim, incident))
    engine.reassign(sim.state, sim.clock, incident, Actor.user(ALICE), assignee_ids=[TOM, TOM])
    assert [a.user_id for a in incident.assignments] == [TOM] and incident.status == "triggered"
    assert incident.assigned_via == "direct_assignment"
    assert entries(sim, incident, mark) == [("assign_log_entry", ALICE, TOM),
                                            ("notify_log_entry", incident.service_id, TOM)]
    engine.reassign(sim.state, sim.clock, incident, Actor.user(ALICE), escalation_policy_id=PLATFORM_ESCALATION)
    assert incident.escalation_policy_id == PLATFORM_ESCALATION and incident.escalation_level == 1
    assert [a.user_id for a in incident.assignments] == on_call(sim, PLATFORM_ESCALATION, 1)
    assert code_of(lambda: engine.reassign(sim.state, sim.clock, incident, Actor.user(ALICE),
                                           escalation_policy_id="PNOPE00")) == (400, 1014)


def test_urgency_priority_and_title_changes(sim):
    incident = new_incident(sim)
    mark = len(entries(sim, incident))
    engine.update(sim.state, sim.clock, incident, Actor.user(ALICE),
                  IncidentUpdate(urgency="low", priority_name="P2", title="New"))
    assert (incident.urgency, incident.title) == ("low", "New")
    assert sim.state.priorities[incident.priority_id].name == "P2"
    assert entries(sim, incident, mark) == [("urgency_change_log_entry", ALICE, None)]
    engine.set_urgency(sim.state, sim.clock, incident, Actor.user(ALICE), "low")
    assert len(entries(sim, incident)) == mark + 1
    unknown = IncidentUpdate(priority_name="P9")
    assert code_of(lambda: engine.update(sim.state, sim.clock, incident, Actor.user(ALICE), unknown)) == (400, 1020)


def test_a_refused_update_changes_nothing(sim):
    incident = new_incident(sim)
    before, logged = incident.model_dump(), len(sim.state.log_entries)
    change = IncidentUpdate(title="changed", urgency="low", status="resolved", escalation_level=9)
    assert code_of(lambda: engine.update(sim.state, sim.clock, incident, Actor.user(ALICE), change)) == (400, 1006)
    assert incident.model_dump() == before and len(sim.state.log_entries) == logged


def test_snooze_needs_an_acknowledged_incident_and_a_valid_duration(sim):
    incident = new_incident(sim)
    assert code_of(lambda: engine.snooze(sim.state, sim.clock, incident, Actor.user(ALICE), 60)) == (400, 1012)
    engine.acknowledge(sim.state, sim.clock, incident, Actor.user(ALICE))
    assert code_of(lambda: engine.snooze(sim.state, sim.clock, incident, Actor.user(ALICE), 0)) == (400, 1013)
    assert code_of(lambda: engine.snooze(sim.state, sim.clock, incident, Actor.user(ALICE), 604801)) == (400, 1013)
    engine.snooze(sim.state, sim.clock, incident, Actor.user(ALICE), 604800)
    assert incident.snoozed_until == sim.now() + timedelta(days=7)
    assert entries(sim, incident)[-1] == ("snooze_log_entry", ALICE, None)


def test_a_snooze_ends_with_the_incident_triggered_again_dated_when_it_ended(sim, clock):
    incident = new_incident(sim)
    engine.acknowledge(sim.state, sim.clock, incident, Actor.user(ALICE))
    engine.snooze(sim.state, sim.clock, incident, Actor.user(ALICE), 600)
    ends = sim.now() + timedelta(seconds=600)
    clock.advance(599)
    engine.catch_up(sim.state, sim.clock)
    assert incident.status == "acknowledged"
    clock.advance(3600)
    other = new_incident(sim, service="Checkout")  # any engine call brings snoozes up to date first
    assert incident.status == "triggered" and incident.snoozed_until is None and incident.acknowledger_ids == []
    assert (incident.last_status_change_at, incident.last_status_change_by) == (ends, None)
    woke = sim.state.log_entries_by_incident[incident.id][-len(incident.assignments) - 1]
    assert (woke.type, woke.created_at, woke.channel) == ("unacknowledge_log_entry", ends, "timeout")
    times = [e.created_at for e in sim.state.log_entries]
    assert times == sorted(times) and sim.state.log_entries[-1].incident_id == other.id


def test_merge_resolves_sources_into_the_target_and_moves_alerts(sim):
    key = service_named(sim, "Payments API").integrations[0].routing_key
    alert = engine.trigger_alert(sim.state, sim.clock, key, summary="5xx above 1%", severity="critical",
                                 dedup_key="pay-5xx")
    target = sim.state.incidents[alert.incident_id]
    manual = new_incident(sim, title="Refunds failing")
    engine.merge(sim.state, sim.clock, target, [manual], Actor.user(ALICE))
    assert manual.status == "resolved" and manual.merged_into == target.id
    moved = sim.state.alerts_by_incident[target.id]
    assert [a.alert_key for a in moved] == ["pay-5xx", manual.incident_key]
    assert all(a.incident_id == target.id for a in moved)
    assert entries(sim, manual)[-1] == ("resolve_log_entry", ALICE, None)
    assert code_of(lambda: engine.merge(sim.state, sim.clock, target, [manual], Actor.user(ALICE))) == (400, 1019)
    assert code_of(lambda: engine.merge(sim.state, sim.clock, target, [target], Actor.user(ALICE))) == (400, 2001)
    engine.resolve(sim.state, sim.clock, target, Actor.user(ALICE))
    assert code_of(lambda: engine.merge(sim.state, sim.clock, target, [new_incident(sim)],
                                        Actor.user(ALICE))) == (400, 1001)
    assert all(a.status == "resolved" for a in moved)


def test_notes_are_annotations_capped_at_2000(sim):
    incident = new_incident(sim)
    note = engine.add_note(sim.state, sim.clock, incident, Actor.user(ALICE), "Rolled back")
    assert (note.user_id, note.content, note.created_at) == (ALICE, "Rolled back", sim.now())
    last = sim.state.log_entries_by_incident[incident.id][-1]
    assert (last.type, last.agent_id, last.note, last.channel) == ("annotate_log_entry", ALICE, "Rolled back", "note")
    for n in range(1999):
        engine.add_note(sim.state, sim.clock, incident, Actor.user(ALICE), f"note {n}")
    assert code_of(lambda: engine.add_note(sim.state, sim.clock, incident, Actor.user(ALICE),
                                           "one too many")) == (400, 2001)
    assert len(sim.state.notes_by_incident[incident.id]) == 2000


def test_responder_requests_page_users_and_a_policys_on_call(sim):
    incident = new_incident(sim)
    mark = len(entries(sim, incident))
    request = engine.request_responders(sim.state, sim.clock, incident, ALICE, "Join the bridge",
                                        [("user_reference", TOM), ("escalation_policy_reference", PLATFORM_ESCALATION)])
    expected = list(dict.fromkeys([TOM, *on_call(sim, PLATFORM_ESCALATION, 1)]))
    assert request.user_ids == expected and incident.responder_request_ids == [request.id]
    assert entries(sim, incident, mark) == [("notify_log_entry", incident.service_id, u) for u in expected]
    assert code_of(lambda: engine.request_responders(
        sim.state, sim.clock, incident, "PNOPE00", "x", [("user_reference", TOM)])) == (400, 1008)
    assert code_of(lambda: engine.request_responders(
        sim.state, sim.clock, incident, ALICE, "x", [("escalation_policy_reference", "PNOPE00")])) == (400, 1014)


def test_events_dedup_grouping_acknowledge_and_resolve(sim):
    service = service_named(sim, "API Gateway")
    key = service.integrations[0].routing_key
    first = engine.trigger_alert(sim.state, sim.clock, key, summary="p99 above 2s", severity="error",
                                 dedup_key="gw-p99")
    incident = sim.state.incidents[first.incident_id]
    assert (incident.incident_key, incident.title, incident.service_id) == ("gw-p99", "p99 above 2s", service.id)
    trigger = sim.state.log_entries_by_incident[incident.id][0]
    assert (trigger.type, trigger.agent_type, trigger.agent_id) == ("trigger_log_entry", "integration_reference",
                                                                    service.integrations[0].id)
    assert engine.trigger_alert(sim.state, sim.clock, key, summary="again", severity="error",
                                dedup_key="gw-p99") is first
    assert len(sim.state.alerts_by_incident[incident.id]) == 1
    assert engine.acknowledge_alert(sim.state, sim.clock, key, "gw-p99") and incident.status == "acknowledged"
    assert incident.acknowledger_ids == [service.id] and incident.last_status_change_by is None
    assert engine.resolve_alert(sim.state, sim.clock, key, "gw-p99") and incident.status == "resolved"
    assert first.status == "resolved"
    assert not engine.resolve_alert(sim.state, sim.clock, key, "gw-p99")
    assert not engine.acknowledge_alert(sim.state, sim.clock, key, "nope")
    again = engine.trigger_alert(sim.state, sim.clock, key, summary="p99 above 2s", severity="error",
                                 dedup_key="gw-p99")
    assert again.incident_id != incident.id


def test_an_alert_with_the_key_of_an_open_rest_incident_joins_it(sim):
    service = service_named(sim, "API Gateway")
    incident = new_incident(sim, service="API Gateway", incident_key="shared-key")
    alert = engine.trigger_alert(sim.state, sim.clock, service.integrations[0].routing_key, summary="x",
                                 severity="info", dedup_key="shared-key")
    assert alert.incident_id == incident.id
    engine.resolve_alert(sim.state, sim.clock, service.integrations[0].routing_key, "shared-key")
    assert incident.status == "resolved"
