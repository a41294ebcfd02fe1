"""What command mode knows from the conversation so far: who asks, when, in which zone, which incident was
last shown (for "it" and "that one"), and the question it asked last (so an answer continues the request).

The model keeps no state of its own: all of this is read again from the messages on every turn, so a
checkpoint replay gives the same result (`agent.planners.command` reads it; nothing here knows LangChain).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from agent.planners.answers import ToolResult, incident_line

PENDING = "command_mode_pending"  # the AIMessage field that carries a question's ways to continue


@dataclass(frozen=True)
class Shown:
    """An incident the conversation showed: the reference the tools take and the line people read."""

    ref: str
    line: str


@dataclass(frozen=True)
class Context:
    """Everything outside the message itself that a command may need."""

    requester: str | None = None
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    time_zone: str | None = None
    aliases: Mapping[str, str] = field(default_factory=dict)
    shown: tuple[Shown, ...] = ()  # the incidents of the last result that showed any


@dataclass(frozen=True)
class Pending:
    """The agent's own open question: command texts with `{answer}` to try with the reply, in order,
    and the command a plain "yes" runs."""

    options: tuple[str, ...] = ()
    confirm: str | None = None

    def as_kwargs(self) -> dict[str, Any]:
        return {PENDING: {"options": list(self.options), "confirm": self.confirm}}


def shown_in(result: ToolResult) -> tuple[Shown, ...]:
    """The incidents a tool result shows, for "it" and "that one" on the next turn."""
    data = result.data
    if result.error or not isinstance(data, (dict, list)):
        return ()
    if isinstance(data, dict):
        single = data if _incident(data) else data.get("incident") if _incident(data.get("incident")) else None
        if single is not None:
            return (_shown(single),)
    items = data if isinstance(data, list) else next((v for v in data.values() if isinstance(v, list)), [])
    return tuple(_shown(i) for i in items if _incident(i))


def _incident(item: Any) -> bool:
    return isinstance(item, dict) and "title" in item and "status" in item and bool(
        item.get("id") or item.get("number") or item.get("incident_number"))


def _shown(item: dict[str, Any]) -> Shown:
    return Shown(str(item.get("id") or item.get("number") or item.get("incident_number")),
                 incident_line({k: v for k, v in item.items() if k != "html_url"}))


_AMBIGUOUS = re.compile(r"(?P<q>['\"])(?P<ref>.+?)(?P=q) matches \d+ (?P<plural>[\w ]+?): (?P<found>.+?); "
                        r"pass one id\.")
_UNKNOWN = re.compile(r"No (?P<noun>[\w ]+?) matches (?P<q>['\"])(?P<ref>.+?)(?P=q)\.(?: Closest: (?P<found>.+?)\.)?"
                      r" Call ")
_BOTH = re.compile(r"(?P<q>['\"])(?P<ref>.+?)(?P=q) names both (?P<found>.+?) \(user\) and (?P<other>.+?) "
                   r"\(escalation policy\); pass one id\.")
_LABEL_ID = re.compile(r" \([A-Z0-9]{5,20}\)")


def clarify(error: str, said: str, noun: str | None = None) -> tuple[str, Pending] | None:
    """A name the tools found several (or no) matches for, as a question for people, naming the candidates
    (or the closest) without ids; the reply continues `said` with the name replaced. `noun` says what
    was looked for when it was more than the error names."""
    ambiguous, unknown, both = _AMBIGUOUS.search(error), _UNKNOWN.search(error), _BOTH.search(error)
    found = ambiguous or unknown or both
    if found is None:
        return None
    ref = found["ref"]
    candidates = _LABEL_ID.sub("", found["found"] or "")
    if both:
        other = _LABEL_ID.sub("", found["other"])
        question = f"“{ref}” is both a person ({candidates}) and an escalation policy ({other}). Which one?"
    elif ambiguous:
        question = f"“{ref}” fits several {found['plural']}: {candidates}. Which one?"
    elif candidates:
        question = (f"No {noun or found['noun']} is called “{ref}”. The closest: {candidates}. "
                    "Which one did you mean?")
    else:
        question = f"No {noun or found['noun']} is called “{ref}”. Which one did you mean?"
    where = re.search(re.escape(ref), said, re.IGNORECASE)
    options = (said[:where.start()] + '"{answer}"' + said[where.end():],) if where else ()
    return question + " Reply with its name.", Pending(options)
