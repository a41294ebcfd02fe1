"""The graded state keeps every field a write can change, and keys new things so duplicates show."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from evals.reference import prepare
from evals.scenario import GRADED_FIELDS, SCENARIO_DIR, StateCheck, World, load_scenario
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


def test_state_checks_may_name_exactly_the_fields_the_graded_state_has() -> None:
    covered = prepare(load_scenario(SCENARIO_DIR / "override_ill_engineer.yaml")).gold  # a new override
    state = after_setup([{"incident": {"service": "Search", "title": "Index lag"}}]) | covered
    for kind, fields in GRADED_FIELDS.items():
        found = {tuple(sorted(set(e) - {"kind"})) for e in state.values() if e["kind"] == kind}
        assert found == {tuple(sorted(fields))}, kind
    readme = (SCENARIO_DIR.parent / "README.md").read_text(encoding="utf-8")
    assert [f for fields in GRADED_FIELDS.values() for f in fields if f"`{f}`" not in readme] == []


@pytest.mark.parametrize(("check", "message"), [
    ({"kind": "incident", "where": {"title": "Index lag"}, "count": 0, "has": {}}, None),
    ({"kind": "incident", "where": {"name": "Index lag"}, "count": 0}, "incidents have no field name"),
    ({"kind": "override", "has": {"assignee": "Priya"}}, "overrides have no field assignee"),
    ({"kind": "incident", "count": -1}, "greater than or equal to 0"),
])
def test_a_state_check_on_a_field_that_does_not_exist_is_refused(check: dict, message: str | None) -> None:
    if message is None:
        StateCheck.model_validate(check)
        return
    with pytest.raises(ValidationError, match=message):
        StateCheck.model_validate(check)
