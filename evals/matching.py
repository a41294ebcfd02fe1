"""How a scenario's expected values are compared with what really happened.

One set of rules for approval decisions, expected approvals, forbidden writes, state checks and
answer mentions, so a scenario author learns them once (see evals/README.md, "Matching"): a value
matches ignoring case, surrounding spaces and a leading `#`; a value under a key that names an
entity (`service`, `assignee`, `schedule`, `incident`, …) matches any other way of naming the same
entity of that kind, read the way the tools resolve names (an id, a name, an email, a unique part of
a name, an incident's number); a name that fits several entities of its kind matches nothing; a list
matches the same items in any order; `{any: [...]}` matches if one alternative does; `{contains:
text}` matches a substring.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from simulator import Account
from tools.resolve import match

KIND_OF: dict[str, str] = {
    # tool arguments
    "service": "service", "assignee": "user", "assigned_to": "user", "user": "user", "schedule": "schedule",
    "escalation_policy": "escalation_policy", "team": "team", "priority": "priority", "responders": "responder",
    "incident": "incident", "incidents": "incident", "target": "incident", "sources": "incident",
    # fields of the graded state (evals.state)
    "services": "service", "assignees": "user", "acknowledged_by": "user",
}
"""The kind of entity a key's value names; keys not listed hold plain values."""
_AMBIGUOUS = object()


@dataclass(frozen=True)
class Names:
    """The world's directory per kind (as the tools list it) and its incidents, to tell whether two
    values name one entity. Plain data, so it travels to worker processes."""

    entries: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    incidents: dict[str, str] = field(default_factory=dict)
    """Incident number (as text) and id (case-folded) → id."""

    @classmethod
    def of(cls, state: Account) -> Names:
        def listed(pool: Mapping[str, Any]) -> list[dict[str, Any]]:
            return [{"id": e.id, "name": e.name} for e in pool.values()]

        entries = {
            "service": listed(state.services), "schedule": listed(state.schedules), "team": listed(state.teams),
            "escalation_policy": listed(state.escalation_policies), "priority": listed(state.priorities),
            "user": [{"id": u.id, "name": u.name, "email": u.email} for u in state.users.values()],
        }
        incidents = {key: i.id for i in state.incidents.values() for key in (str(i.number), i.id.casefold())}
        return cls(entries, incidents)

    def resolve(self, kind: str, value: Any) -> Any:
        """The id `value` names among entities of `kind`; `_AMBIGUOUS` when it fits several; None when
        it names none (then it is compared as text)."""
        ref = normal(value)
        if kind == "incident":
            return self.incidents.get(ref)
        kinds = ("user", "escalation_policy") if kind == "responder" else (kind,)
        found = [e["id"] for k in kinds for e in match(str(value).strip().lstrip("#"), self.entries.get(k, []))]
        if len(found) > 1:
            return _AMBIGUOUS
        return found[0] if found else None

    def name_of(self, kind: str, entity_id: str) -> str | None:
        """A person's word for an entity: its name (None for an id it does not know)."""
        return next((e["name"] for e in self.entries.get(kind, []) if e["id"] == entity_id), None)


def normal(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip().lstrip("#").casefold()


def _canon(value: Any, kind: str | None, names: Names | None) -> Any:
    """What `value` stands for: an entity's id when it names exactly one, else its normalised text."""
    if kind is None or names is None:
        return normal(value)
    found = names.resolve(kind, value)
    return found if found is not None else normal(value)


def matches(expected: Any, actual: Any, names: Names | None = None, kind: str | None = None) -> bool:
    """Whether `actual` is what `expected` describes; `kind` says what entity the values name, if any."""
    if isinstance(expected, dict) and set(expected) == {"any"}:
        return any(matches(option, actual, names, kind) for option in expected["any"])
    if isinstance(expected, dict) and set(expected) == {"contains"}:
        return actual is not None and normal(expected["contains"]) in normal(actual)
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(expected) != len(actual):
            return False
        wanted = [_canon(v, kind, names) for v in expected]
        got = [_canon(v, kind, names) for v in actual]
        return _AMBIGUOUS not in wanted + got and sorted(map(str, wanted)) == sorted(map(str, got))
    if expected is None or actual is None:
        return expected is actual
    wanted, got = _canon(expected, kind, names), _canon(actual, kind, names)
    return wanted is not _AMBIGUOUS and got is not _AMBIGUOUS and wanted == got


def subset(expected: Mapping[str, Any], actual: Mapping[str, Any], names: Names | None = None) -> bool:
    """Every expected key is present in `actual` with a matching value (entities matched by kind)."""
    return all(key in actual and matches(value, actual[key], names, KIND_OF.get(key))
               for key, value in expected.items())


def same_call(a: Mapping[str, Any], b: Mapping[str, Any], names: Names | None = None) -> bool:
    """Two argument sets that ask for the same thing (the same keys, each naming the same value)."""
    return set(a) == set(b) and subset(a, b, names)


def mentioned(expected: str | list[str], text: str) -> bool:
    """A phrase (or any one of a list of phrases) appears in `text`, ignoring case."""
    options = expected if isinstance(expected, list) else [expected]
    return any(normal(option) in text.casefold() for option in options)
