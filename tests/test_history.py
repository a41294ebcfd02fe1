"""Generated history: deterministic, consistent with the engine's rules and realistic (benchmarks/ times it)."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from demo_org import NOW, service_id

from simulator import Account, ManualClock, Simulator
from simulator.history import generate_history
from simulator.models import HistorySpec

API_GATEWAY = service_id("API Gateway")


def build(dataset, spec):
    sim = Simulator(Account.from_dataset(dataset.model_copy(update={"history": None})), ManualClock(NOW))
    generate_history(sim.state, sim.clock, spec)
    return sim


def fingerprint(sim):
    return ([(i.number, i.id, i.title, i.status, i.created_at, i.resolved_at, [a.user_id for a in i.assignments])
             for i in sim.state.incidents.values()],
            [(e.id, e.type, e.incident_id, e.created_at, e.agent_id, e.user_id, e.note) for e in sim.state.log_entries])


@pytest.fixture(scope="module")
def spec():
    return HistorySpec(seed=11, days=30, incidents=120, open_incidents=6, extra_notes_per_incident=2)


@pytest.fixture(scope="module")
def history(demo_dataset, spec):
    return build(demo_dataset, spec)


def test_the_same_seed_gives_the_same_history_and_another_seed_another(demo_dataset, spec, history):
    assert fingerprint(build(demo_dataset, spec)) == fingerprint(history)
    assert fingerprint(build(demo_dataset, spec.model_copy(update={"seed": 12}))) != fingerprint(history)


def test_counts_and_the_open_incidents_at_now(history, spec):
    incidents = list(history.state.incidents.values())
    assert len(incidents) == spec.incidents
    open_ones = [i for i in incidents if i.status != "resolved"]
    assert len(open_ones) == spec.open_incidents
    assert Counter(i.status for i in open_ones) == {"triggered": 3, "acknowledged": 3}
    assert all(i.assignments for i in open_ones)
    assert {i.id for i in open_ones} == set(history.state.open_incident_keys.values())


def test_history_lies_in_the_window_in_time_order(history, spec):
    state = history.state
    assert history.now() == NOW  # the clock was handed back
    created = [i.created_at for i in state.incidents.values()]
    assert created == sorted(created)
    assert [i.number for i in state.incidents.values()] == list(range(1, spec.incidents + 1))
    assert min(created) >= NOW - timedelta(days=spec.days)
    times = [e.created_at for e in state.log_entries]
    assert times == sorted(times) and max(times) < NOW
    assert all(t.microsecond == 0 for t in times)


def test_every_story_follows_the_engines_rules(history, spec):
    state = history.state
    for incident in state.incidents.values():
        log = state.log_entries_by_incident[incident.id]
        types = [e.type for e in log]
        assert types[0] == "trigger_log_entry" and log[0].created_at == incident.created_at
        if incident.status == "resolved":
            assert types.count("resolve_log_entry") == 1
            assert incident.resolved_at == log[types.index("resolve_log_entry")].created_at
            assert incident.assignments == []
        if "acknowledge_log_entry" in types:
            ack = log[types.index("acknowledge_log_entry")]
            paged = {e.user_id for e in log[:types.index("acknowledge_log_entry")] if e.type == "notify_log_entry"}
            assert ack.agent_id in paged  # whoever was paged acknowledges
            assert types.count("annotate_log_entry") == spec.extra_notes_per_incident
        else:
            assert "annotate_log_entry" not in types
        notes = state.notes_by_incident.get(incident.id, [])
        assert [n.content for n in notes] == [e.note for e in log if e.type == "annotate_log_entry"]


def test_history_mixes_channels_escalations_and_realistic_titles(history):
    state = history.state
    triggers = Counter(state.log_entries_by_incident[i][0].agent_type for i in state.incidents)
    assert triggers["user_reference"] > 10 and triggers["integration_reference"] > 10
    resolvers = Counter(state.log_entries_by_incident[i][-1].agent_type for i in state.incidents
                        if state.incidents[i].status == "resolved")
    assert resolvers["user_reference"] and resolvers["integration_reference"]
    assert any(e.type == "escalate_log_entry" and e.channel == "timeout" for e in state.log_entries)
    assert sum(1 for a in state.alerts.values()) == triggers["integration_reference"]
    gateway = [i.title for i in state.incidents.values() if i.service_id == API_GATEWAY]
    assert gateway and all("API Gateway" in t for t in gateway)
    resolutions = [e.note for e in state.log_entries
                   if e.type == "resolve_log_entry" and e.agent_type == "user_reference"]
    assert resolutions and all(resolutions)


@pytest.mark.slow  # builds a 2,000-incident account
def test_the_demo_history_and_a_larger_one_have_the_asked_for_incidents(demo_dataset):
    """How fast they build is measured in benchmarks/simulator_bench.py, beside a baseline, not timed here."""
    demo = build(demo_dataset, demo_dataset.history)
    assert len(demo.state.incidents) == demo_dataset.history.incidents
    large = build(demo_dataset, HistorySpec(incidents=2000, days=180, open_incidents=80, extra_notes_per_incident=4))
    assert len(large.state.incidents) == 2000
    assert sum(1 for i in large.state.incidents.values() if i.status != "resolved") == 80


def test_no_incidents_and_no_days(demo_dataset):
    assert build(demo_dataset, HistorySpec(incidents=0)).state.incidents == {}
    squeezed = build(demo_dataset, HistorySpec(days=0, incidents=10, open_incidents=20))
    assert len(squeezed.state.incidents) == 10
    assert all(i.status != "resolved" for i in squeezed.state.incidents.values())
