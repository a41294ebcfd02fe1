"""Optional arguments a model filled in that nobody stated, left out before a call runs or is shown.

Small models fill optional arguments from nowhere: the person asking as the assignee of "page whoever is
on call" (who then pages themselves), a priority "P1" nobody named, a status filter with resolved
incidents for "what's on my plate". Each such value steers a call away from the request. So an optional
argument that names something (a service, person, schedule, policy, team or priority) or filters by
status is kept only when its value is stated: it appears in the person's words or in a tool result of
the conversation (a priority, team or status only in the person's words: a lookup lists them all). The
person asking is stated when they speak of themselves ("me", "my", "I'm").
Required arguments are never left out here: their errors say what to fix.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from langchain_core.messages import BaseMessage, HumanMessage, ToolMessage

from tools.registry import TOOLS

# The optional arguments checked, and what each names (statuses name no entry).
CHECKED: dict[str, str | None] = {
    "service": "service", "assignee": "user", "assigned_to": "user", "user": "user",
    "escalation_policy": "escalation_policy", "schedule": "schedule", "priority": "priority", "team": "team",
    "statuses": None,
}
# Choices, not references: stated by the person's words alone, since a lookup lists every priority or team.
CHOSEN = frozenset({"priority", "team", "statuses"})
# Optional in the schema but not in effect: an event goes to a service or a routing key, one of the two.
TARGETS = frozenset({("send_event", "service"), ("send_change_event", "service")})
# The words that state a status filter: "open and acknowledged", "resolved last week", "ack'd".
STATUS_WORDS = {"triggered": "trigger", "acknowledged": "ack", "resolved": "resol"}
_FIRST_PERSON = re.compile(r"\b(?:i|i'm|i've|i'll|me|my|mine|myself)\b", re.I)
_NAME_PART = re.compile(r"[a-z0-9]{3,}")

Aliases = Callable[[str, str], set[str]]
"""(kind, reference) → the ways that entry is known (id, name, email), lower case; empty when not found."""


def unstated(name: str, args: dict[str, Any], messages: Sequence[BaseMessage], aliases: Aliases,
             requester: str) -> dict[str, Any]:
    """The arguments of `args` to leave out, with their values. A value is stated when it, or a way the entry
    it names is known (an id stands for its name, an email for its owner's first name), was said."""
    if name not in TOOLS:
        return {}
    fields = TOOLS[name].args.model_fields
    candidates = {key: value for key, value in args.items() if key in CHECKED and key in fields
                  and not fields[key].is_required() and (name, key) not in TARGETS and value is not None}
    if not candidates:
        return {}
    said, words = _said(messages), _words(messages)
    own = _FIRST_PERSON.search(words) is not None
    left: dict[str, Any] = {}
    for key, value in candidates.items():
        kind, heard = CHECKED[key], words if key in CHOSEN else said
        if kind is None:  # statuses
            if isinstance(value, list) and not any(STATUS_WORDS.get(str(s), str(s)) in heard for s in value):
                left[key] = value
        elif isinstance(value, str) and not _named(value.strip().lower(), heard):
            known = aliases(kind, value)  # looked up only for a value not said as it is
            if not any(_named(alias, heard) for alias in known) and not (own and requester.lower() in known):
                left[key] = value
    return left


def _said(messages: Sequence[BaseMessage]) -> str:
    """The person's words and the tool results of the conversation, lower case: where stated values come from."""
    return "\n".join(m.text for m in messages if isinstance(m, (HumanMessage, ToolMessage))).lower()


def _words(messages: Sequence[BaseMessage]) -> str:
    """The person's words alone, lower case."""
    return "\n".join(m.text for m in messages if isinstance(m, HumanMessage)).lower()


def _named(value: str, said: str) -> bool:
    """Whether the value appears in what was said: whole, or for an email, a part of its name."""
    if not value or value in said:
        return True
    if "@" in value:
        return any(part in said for part in _NAME_PART.findall(value.split("@")[0]))
    return False
