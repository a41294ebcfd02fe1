"""The PagerDuty-visible state, reduced to what grading compares, and the differences between two.

Ids and times that legitimately differ between runs are left out: entities are keyed by what a person
would recognise (an incident that existed before the run by its number, a new one by service and
title, an override by schedule and user), people and services appear by name, and the times that
matter (snooze ends, override windows) are compared within a tolerance.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from simulator import State

from evals.matching import subset
from evals.scenario import StateCheck

Entities = dict[str, dict[str, Any]]


class FieldDiff(BaseModel):
    entity: str
    field: str
    expected: Any
    actual: Any

    def line(self) -> str:
        return f"{self.entity} · {self.field}: expected {self.expected!r}, got {self.actual!r}"


def canonical(state: State, known_incidents: set[str] | None = None, known_overrides: set[str] | None = None
              ) -> Entities:
    """Every incident and override as comparable plain data. Incidents and overrides not in `known_*`
    (created during the run) are keyed by content, since their ids and numbers depend on call order."""
    users = {u.id: u.name for u in state.users.values()}
    keys = {i.id: _incident_key(state, i, known_incidents) for i in state.incidents.values()}
    out: Entities = {}
    for incident in state.incidents.values():
        key = keys[incident.id]
        while key in out:  # two new incidents with one title: keep both
            key += "+"
        requests = [state.responder_requests[r] for r in incident.responder_request_ids
                    if r in state.responder_requests]
        out[key] = {
            "kind": "incident", "title": incident.title, "service": state.services[incident.service_id].name,
            "status": incident.status, "urgency": incident.urgency,
            "priority": state.priorities[incident.priority_id].name if incident.priority_id else None,
            "assignees": sorted(users.get(a.user_id, a.user_id) for a in incident.assignments),
            "escalation_policy": state.escalation_policies[incident.escalation_policy_id].name,
            "escalation_level": incident.escalation_level,
            "acknowledged_by": sorted(users.get(u, u) for u in incident.acknowledger_ids),
            "notes": [n.content for n in state.notes_by_incident.get(incident.id, [])],
            "responders": sorted({_target(state, t) for r in requests for t in r.targets}),
            "merged_into": keys.get(incident.merged_into) if incident.merged_into else None,
            "snoozed_until": _time(incident.snoozed_until),
            "alerts": sorted(f"{a.summary} [{a.severity}, {a.status}]"
                             for a in state.alerts_by_incident.get(incident.id, [])),
        }
    for override in state.overrides.values():
        schedule = state.schedules[override.schedule_id].name
        user = users.get(override.user_id, override.user_id)
        key = (f"override {override.id}" if known_overrides is not None and override.id in known_overrides
               else f"override {schedule} / {user}")
        while key in out:
            key += "+"
        out[key] = {"kind": "override", "schedule": schedule, "user": user, "start": _time(override.start),
                    "end": _time(override.end), "hours": round((override.end - override.start).total_seconds() / 3600, 2)}
    for event in state.change_events:  # ids depend on call order, so content is the key
        services = sorted(state.services[s].name for s in event.service_ids if s in state.services)
        key = f"change event {', '.join(services)}: {event.summary}"
        while key in out:
            key += "+"
        out[key] = {"kind": "change_event", "services": services, "summary": event.summary, "source": event.source}
    return out


def delta(before: Entities, after: Entities) -> Entities:
    """What changed: new or changed entities with their whole new value; removed ones as None."""
    changed: Entities = {k: v for k, v in after.items() if before.get(k) != v}
    changed.update({k: None for k in before if k not in after})  # type: ignore[misc]
    return changed


def compare(initial: Entities, gold: Entities, actual: Entities, tolerance_minutes: float) -> list[FieldDiff]:
    """Field-level differences between the gold and the actual changes (both deltas from `initial`)."""
    diffs = []
    for key in sorted(set(gold) | set(actual)):
        expected = gold[key] if key in gold else initial.get(key)
        got = actual[key] if key in actual else initial.get(key)
        if expected is None or got is None:
            if (expected is None) != (got is None):
                diffs.append(FieldDiff(entity=key, field="(exists)", expected=expected is not None,
                                       actual=got is not None))
            continue
        for name in sorted(set(expected) | set(got)):
            if not _same(expected.get(name), got.get(name), tolerance_minutes):
                diffs.append(FieldDiff(entity=key, field=name, expected=expected.get(name), actual=got.get(name)))
    return diffs


def check(entities: Entities, item: StateCheck) -> str | None:
    """None when the assertion holds, else what is wrong. `entities`: those the run created or changed (a
    delta), so old look-alikes in the history never answer for new ones."""
    chosen = [(k, e) for k, e in entities.items() if e and e["kind"] == item.kind and subset(item.where, e)]
    if item.count is not None and len(chosen) != item.count:
        return f"expected {item.count} {item.kind}(s) matching {item.where}, found {len(chosen)}"
    if not chosen and item.count is None:
        return f"no {item.kind} matches {item.where}"
    for key, entity in chosen:
        if not subset(item.has, entity):
            wrong = {f: entity.get(f) for f in item.has if not subset({f: item.has[f]}, entity)}
            return f"{key}: expected {item.has}, but {wrong}"
    return None


def _incident_key(state: State, incident: Any, known: set[str] | None) -> str:
    if known is None or incident.id in known:
        return f"incident #{incident.number}"
    return f"new incident on {state.services[incident.service_id].name}: {incident.title}"


def _target(state: State, target: Any) -> str:
    pool = state.users if target.type == "user_reference" else state.escalation_policies
    entity = pool.get(target.id)
    return entity.name if entity is not None else target.id


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _same(expected: Any, actual: Any, tolerance_minutes: float) -> bool:
    if isinstance(expected, str) and isinstance(actual, str):
        try:
            a, b = datetime.fromisoformat(expected), datetime.fromisoformat(actual)
        except ValueError:
            return expected == actual
        if a.tzinfo is not None and b.tzinfo is not None:
            return abs((a - b).total_seconds()) <= tolerance_minutes * 60
    return expected == actual
