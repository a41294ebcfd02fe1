"""The graded state keeps every field a write can change, and keys new things so duplicates show."""

from __future__ import annotations

from evals.scenario import World
from evals.state import Entities, canonical
from evals.world import build_world


def after_setup(setup: list[dict]) -> Entities:
    """The graded state once `setup` ran; what it created counts as new."""
    history = set(build_world(World()).sim.state.incidents)
    return canonical(build_world(World.model_validate({"setup": setup})).sim.state, history, set())


def test_new_incidents_are_counted_per_service_whatever_their_titles() -> None:
    state = after_setup([
        {"incident": {"service": "Search", "title": "Index lag above 5 minutes"}},
        {"incident": {"service": "Search", "title": "Index lag above 5 min"}},
    ])
    assert state["incidents opened on Search"] == {"kind": "opened", "service": "Search", "count": 2}
    assert state["new incident on Search"]["title"] == "Index lag above 5 minutes"
    assert state["new incident on Search (2)"]["title"] == "Index lag above 5 min"


def test_notes_keep_their_author_resolutions_their_text_and_alerts_their_dedup_key() -> None:
    state = after_setup([
        {"incident": {"service": "Database", "title": "Failover stalled"}, "as": "outage"},
        {"note": {"incident": "{{outage.id}}", "content": "Promoted replica", "by": "chen.wei@acme.example"}},
        {"update": {"incident": "{{outage.id}}", "status": "resolved", "by": "chen.wei@acme.example",
                    "resolution": "Replica promoted, writes back"}},
        {"event": {"service": "Search", "summary": "Heap above 95%", "severity": "critical", "dedup_key": "k1"}},
        {"event": {"service": "Search", "summary": "GC pauses", "severity": "warning"}},
    ])
    outage = state["new incident on Database"]
    assert outage["notes"] == ["Chen Wei: Promoted replica"]
    assert (outage["status"], outage["resolution"]) == ("resolved", "Replica promoted, writes back")
    alerts = [a for k, e in state.items() if k.startswith("new incident on Search") for a in e["alerts"]]
    assert sorted(alerts) == ["Search · (generated) · GC pauses [warning, triggered]",
                              "Search · k1 · Heap above 95% [critical, triggered]"]
