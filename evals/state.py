"""The PagerDuty-visible state, reduced to what grading compares, and the differences between two.

Every field a write can change is kept (evals/README.md lists them); ids that legitimately differ
between runs are left out: entities are keyed by what a person would recognise (an incident that
existed before the run by its number, a new one by its service and the order it was opened in, an
override by schedule and user, a change event by service), and people and services appear by name.
Times are compared exactly, except a snooze's end, which counts from whenever the snooze ran and so
is compared within a tolerance.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from evals.matching import Names, subset
from evals.scenario import StateCheck
from simulator import Account

Entities = dict[str, dict[str, Any]]
_GENERATED_KEY = re.compile(r"(?:ic-)?[0-9a-f]{32}")  # made up by the tool (ic-…) or by PagerDuty
_COUNTS = "incidents opened on "
_TOLERANT = {"snoozed_until"}  # times that count from when the call ran, not from what was asked


class FieldDiff(BaseModel):
    entity: str
    field: str
    expected: Any
    actual: Any

    def line(self) -> str:
        return f"{self.entity} · {self.field}: expected {self.expected!r}, got {self.actual!r}"


def canonical(state: Account, known_incidents: set[str] | None = None, known_overrides: set[str] | None = None
              ) -> Entities:
    """Every incident, override and change event as comparable plain data, with every field a write can
    change. What the run created (not in `known_*`) is keyed by service (or schedule and user) and order,
    not by its id or title: a second incident on a service is a duplicate whatever its title says."""
    users = {u.id: u.name for u in state.users.values()}
    fresh = [i for i in sorted(state.incidents.values(), key=lambda i: i.number)
             if known_incidents is not None and i.id not in known_incidents]
    keys = {i.id: f"incident #{i.number}" for i in state.incidents.values()}
    keys |= _numbered({i.id: f"new incident on {state.services[i.service_id].name}" for i in fresh})
    out: Entities = {}
    for incident in state.incidents.values():
        requests = [state.responder_requests[r] for r in incident.responder_request_ids
                    if r in state.responder_requests]
        resolves = [e for e in state.log_entries_by_incident.get(incident.id, []) if e.type == "resolve_log_entry"]
        out[keys[incident.id]] = {
            "kind": "incident", "title": incident.title, "service": state.services[incident.service_id].name,
            "status": incident.status, "urgency": incident.urgency,
            "priority": state.priorities[incident.priority_id].name if incident.priority_id else None,
            "assignees": sorted(users.get(a.user_id, a.user_id) for a in incident.assignments),
            "escalation_policy": state.escalation_policies[incident.escalation_policy_id].name,
            "escalation_level": incident.escalation_level,
            "acknowledged_by": sorted(users.get(u, u) for u in incident.acknowledger_ids),
            "notes": [f"{users.get(n.user_id or '', 'PagerDuty')}: {n.content}"
                      for n in state.notes_by_incident.get(incident.id, [])],
            "resolution": resolves[-1].note if resolves and incident.status == "resolved" else None,
            "responders": sorted({_target(state, t) for r in requests for t in r.targets}),
            "merged_into": keys.get(incident.merged_into) if incident.merged_into else None,
            "snoozed_until": _time(incident.snoozed_until),
            "alerts": sorted(_alert(state, a) for a in state.alerts_by_incident.get(incident.id, [])),
        }
    for service, count in Counter(state.services[i.service_id].name for i in fresh).items():
        out[f"{_COUNTS}{service}"] = {"kind": "opened", "service": service, "count": count}
    overrides = {}
    for override in sorted(state.overrides.values(), key=lambda o: (o.start, o.id)):
        schedule = state.schedules[override.schedule_id].name
        user = users.get(override.user_id, override.user_id)
        known = known_overrides is not None and override.id in known_overrides
        overrides[override.id] = {"kind": "override", "schedule": schedule, "user": user,
                                  "start": _time(override.start), "end": _time(override.end),
                                  "hours": round((override.end - override.start).total_seconds() / 3600, 2)}
        keys[override.id] = f"override {override.id}" if known else f"override {schedule} / {user}"
    out |= {key: overrides[i] for i, key in _numbered({i: keys[i] for i in overrides}).items()}
    events = {}
    for number, event in enumerate(state.change_events):  # ids depend on call order: keyed by service
        services = sorted(state.services[s].name for s in event.service_ids if s in state.services)
        events[number] = (f"change event on {', '.join(services)}",
                          {"kind": "change_event", "services": services, "summary": event.summary,
                           "source": event.source})
    out |= {key: events[n][1] for n, key in _numbered({n: e[0] for n, e in events.items()}).items()}
    return out


def _label(entity: dict[str, Any] | None) -> str | None:
    """What a missing or unexpected entity is, in a diff line."""
    if entity is None:
        return None
    if entity["kind"] == "override":
        return f"{entity['user']} on {entity['schedule']} from {entity['start']} to {entity['end']}"
    return entity.get("title") or entity.get("summary") or entity["kind"]


def _numbered(keys: dict[Any, str]) -> dict[Any, str]:
    """Keys made unique in order: a second 'new incident on Search' becomes 'new incident on Search (2)'."""
    seen: Counter[str] = Counter()
    out = {}
    for item, key in keys.items():
        seen[key] += 1
        out[item] = key if seen[key] == 1 else f"{key} ({seen[key]})"
    return out


def _alert(state: Account, alert: Any) -> str:
    """An Events API alert as graded: its service (where the routing key led), dedup key, text and severity.
    A key nobody chose (the tool's `ic-…`, or PagerDuty's when none was sent) differs on every run, so
    only that it was made up counts."""
    key = "(generated)" if _GENERATED_KEY.fullmatch(alert.alert_key) else alert.alert_key
    return f"{state.services[alert.service_id].name} · {key} · {alert.summary} [{alert.severity}, {alert.status}]"


def delta(before: Entities, after: Entities) -> Entities:
    """What changed: new or changed entities with their whole new value; removed ones as None."""
    changed: Entities = {k: v for k, v in after.items() if before.get(k) != v}
    changed.update({k: None for k in before if k not in after})  # type: ignore[misc]
    return changed


def compare(initial: Entities, gold: Entities, actual: Entities, tolerance_minutes: float) -> list[FieldDiff]:
    """Field-level differences between the gold and the actual changes (both deltas from `initial`)."""
    diffs = []
    for key in sorted(set(gold) | set(actual), key=lambda k: (k.startswith(_COUNTS), k)):  # entities first
        expected = gold[key] if key in gold else initial.get(key)
        got = actual[key] if key in actual else initial.get(key)
        if key.startswith(_COUNTS):  # no incident opened on that service: a count of 0
            none = {**(expected or got or {}), "count": 0}
            expected, got = expected or none, got or none
        if expected is None or got is None:
            if (expected is None) != (got is None):
                diffs.append(FieldDiff(entity=key, field="(exists)", expected=_label(expected), actual=_label(got)))
            continue
        for name in sorted(set(expected) | set(got)):
            tolerance = tolerance_minutes if name in _TOLERANT else 0
            if not _same(expected.get(name), got.get(name), tolerance):
                diffs.append(FieldDiff(entity=key, field=name, expected=expected.get(name), actual=got.get(name)))
    return diffs


def check(entities: Entities, item: StateCheck, names: Names | None = None) -> str | None:
    """None when the assertion holds, else what is wrong. `entities`: those the run created or changed (a
    delta), so old look-alikes in the history never answer for new ones."""
    chosen = [(k, e) for k, e in entities.items() if e and e["kind"] == item.kind and subset(item.where, e, names)]
    if item.count is not None and len(chosen) != item.count:
        return f"expected {item.count} {item.kind}(s) matching {item.where}, found {len(chosen)}"
    if not chosen and item.count is None:
        return f"no {item.kind} matches {item.where}"
    for key, entity in chosen:
        if not subset(item.has, entity, names):
            wrong = {f: entity.get(f) for f in item.has if not subset({f: item.has[f]}, entity, names)}
            return f"{key}: expected {item.has}, but {wrong}"
    return None


def _target(state: Account, target: Any) -> str:
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
