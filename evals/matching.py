"""How a scenario's expected values are compared with what really happened.

One set of rules for approval decisions, expected approvals, forbidden writes, state checks and
answer mentions, so a scenario author learns them once (see evals/README.md, "Matching"):
a scalar matches ignoring case, surrounding spaces and a leading `#`, and any two names of one
entity match (an id, a name, an email, an incident's number — `Aliases` knows them); a list matches
the same items in any order; `{any: [...]}` matches if one alternative does; `{contains: text}`
matches a substring.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from simulator import State

Aliases = Mapping[str, str]
"""Every normalised name of an entity → its id."""


def aliases_of(state: State) -> dict[str, str]:
    """Names, emails and ids of the account's directory, and incident numbers, each → the entity's id."""
    out: dict[str, str] = {}
    for pool in (state.services, state.schedules, state.escalation_policies, state.teams, state.priorities):
        for entity in pool.values():
            out[normal(entity.name)] = entity.id
    for user in state.users.values():
        out[normal(user.name)] = user.id
        out[normal(user.email)] = user.id
        out[normal(user.email.split("@")[0])] = user.id
    for incident in state.incidents.values():
        out[normal(incident.number)] = incident.id
    return out


def normal(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip().lstrip("#").casefold()


def _canon(value: Any, aliases: Aliases | None) -> str:
    text = normal(value)
    return normal(aliases.get(text, text)) if aliases else text


def matches(expected: Any, actual: Any, aliases: Aliases | None = None) -> bool:
    if isinstance(expected, dict) and set(expected) == {"any"}:
        return any(matches(option, actual, aliases) for option in expected["any"])
    if isinstance(expected, dict) and set(expected) == {"contains"}:
        return actual is not None and normal(expected["contains"]) in normal(actual)
    if isinstance(expected, list):
        return isinstance(actual, list) and (sorted(_canon(v, aliases) for v in expected)
                                             == sorted(_canon(v, aliases) for v in actual))
    if expected is None or actual is None:
        return expected is actual
    return _canon(expected, aliases) == _canon(actual, aliases)


def subset(expected: Mapping[str, Any], actual: Mapping[str, Any], aliases: Aliases | None = None) -> bool:
    """Every expected key is present in `actual` with a matching value."""
    return all(key in actual and matches(value, actual[key], aliases) for key, value in expected.items())


def mentioned(expected: str | list[str], text: str) -> bool:
    """A phrase (or any one of a list of phrases) appears in `text`, ignoring case."""
    options = expected if isinstance(expected, list) else [expected]
    return any(normal(option) in text.casefold() for option in options)
