"""Tool results in plain sentences, for people reading Slack at 3 a.m.

Tool results are compact JSON or "Error: …" paragraphs. They are read by shape, not by tool name —
an incident is anything with a title and a status, an on-call entry anything with a level and a
user, a shift anything with a user and an end — so the summaries keep working as tools gain fields,
and the Slack and notebook surfaces can reuse them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from agent.approvals import RETRY_GUIDANCE
from tools.registry import TOOLS
from tools.timeparse import local, span
from tools.toolkit import is_setup_problem

_PLUMBING = {"id", "type", "self", "html_url", "url", "summary", "incident_key", "dedup_key"}  # for machines
_IN_LINE = {"title", "status", "urgency", "service", "assignees", "assignments", "number", "incident_number",
            "user", "level", "escalation_level", "start", "end", "name", "email"}  # already in an entity's line
_CALL_TOOL = re.compile(r"\s*Call [a-z_]+(?: or [a-z_]+)? to see [^.]*\.")  # planner guidance in a lookup error
_FOR_PLANNER = re.compile(r"\b(?:call|tools?|the user|retrying|[a-z]+_[a-z_]+)\b")  # guidance only a planner acts on
# A call the graph refused before it ran, in the planner's words: "update_incident was not called because its
# arguments are invalid: invalid arguments for update_incident — incident is required".
_NOT_CALLED = re.compile(r"^([a-z_]+) was not called because (?:its arguments are invalid: )?"
                         r"(?:invalid arguments for [a-z_]+ — )?")
_NO_SUCH_TOOL = re.compile(r"^there is no tool named .*")
_ISO = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")


@dataclass(frozen=True)
class ToolResult:
    """One tool call's outcome as the planner sees it: which tool, with what, and what came back."""

    name: str
    args: dict[str, Any]
    content: str
    status: str = "success"
    data: Any = field(init=False, default=None, compare=False)
    preface: str = field(init=False, default="", compare=False)  # e.g. "Edited by … before running"

    def __post_init__(self) -> None:
        head, _, rest = self.content.partition("\n")
        for preface, body in (("", self.content), (head, rest)):
            try:
                object.__setattr__(self, "data", json.loads(body))
            except ValueError:
                continue
            object.__setattr__(self, "preface", preface.strip())
            return

    @property
    def rejected(self) -> bool:
        """A person said no; the graph reports that as text naming the rejection."""
        return self.data is None and "rejected" in self.content.lower()

    @property
    def error(self) -> bool:
        return self.status == "error" or self.content.lstrip().lower().startswith("error")


def answer(results: Iterable[ToolResult], done: str = "", now: datetime | None = None) -> str:
    """The reply to a finished command. A change is announced with `done` and its one-line result; with
    `now`, moments such as 'created at' also say how long ago they were."""
    parts = []
    for result in results:
        text = say(result, brief=bool(done), now=now)
        if done and not (result.error or result.rejected):
            nothing_new = isinstance(result.data, dict) and result.data.get("unchanged")
            text = f"{'Nothing new' if nothing_new else done}:" + ("\n" if "\n" in text else " ") + text
        parts.append(text)
    return "\n\n".join(parts)


def say(result: ToolResult, brief: bool = False, now: datetime | None = None) -> str:
    """One result as text: a rejection or an error as it is, data summarised."""
    if result.rejected:
        return f"Not done: {result.content.strip().removesuffix(RETRY_GUIDANCE.strip()).strip()}"
    if result.error or result.data is None:
        return for_people(result.content)
    return "\n".join(filter(None, [result.preface, describe(result.data, brief, now)]))


def for_people(error: str) -> str:
    """A tool's error as people read it: 'Could not …: why.' and what to do, without what only a planner acts
    on (which tool to call, what to tell the user); for settings that must change, the setting to look at."""
    text = " ".join(error.split()).removeprefix("Error:").strip()
    text = _NOT_CALLED.sub(lambda m: f"Could not {TOOLS[m[1]].doing if m[1] in TOOLS else 'take that step'}: ", text)
    text = _NO_SUCH_TOOL.sub("Could not take that step: there is no such step here.", text)
    head, _, guidance = text.partition(" Next: ")
    head = re.sub(r"^could not (.+?) — ", lambda m: f"Could not {m[1]}: ", head)
    head = _CALL_TOOL.sub("", head).strip()
    if is_setup_problem(guidance):
        guidance = guidance.split(";")[0].strip().rstrip(".") + "."
    if guidance and not _FOR_PLANNER.search(guidance):
        head = f"{head.rstrip('.')}. {guidance[:1].upper()}{guidance[1:]}"
    return head[:1].upper() + head[1:]


def describe(data: Any, brief: bool = False, now: datetime | None = None) -> str:
    """Any tool JSON as text: an entity as its line (and, unless brief, its other fields); a wrapper
    as its fields, then its lists one line per item, then its notice."""
    if isinstance(data, list):
        return _listing(data) or "Nothing found."
    if not isinstance(data, dict):
        return str(data)
    if _is_entity(data):
        shown = [line(data)] if brief else [line(data), *_fields(data, skip=_IN_LINE | {"unchanged"}, now=now)]
        return "\n".join(shown + ([str(data["unchanged"])] if data.get("unchanged") else []))
    lists = {k: v for k, v in data.items() if isinstance(v, list) and v and all(isinstance(i, dict) for i in v)}
    empty = [k for k, v in data.items() if v == []]
    parts = _fields(data, skip=set(lists) | {"notice", "unchanged"}, now=now)
    if len(lists) == 1:
        parts.append(_listing(next(iter(lists.values()))))
    else:
        parts += [f"{_label(k)}:\n{_listing(v, indent='  ')}" for k, v in lists.items()]
    if data.get("notice") or data.get("unchanged"):
        parts.append(str(data.get("unchanged") or data["notice"]))
    elif len(empty) == 1 and sum(isinstance(v, list) for v in data.values()) == 1:  # its only list is empty
        parts.append(f"No {_label(empty[0])}.")
    return "\n".join(parts)


def incident_refs(result: ToolResult) -> list[str]:
    """The ids of the incidents in a list result, for commands that act on what they listed."""
    if result.error or result.data is None:
        return []
    data = result.data
    items = data if isinstance(data, list) else next((v for v in data.values() if isinstance(v, list)), [])
    return [str(i.get("id") or _number(i)) for i in items if isinstance(i, dict) and _is_incident(i)]


_SHOWN_ZONE: ContextVar[str | None] = ContextVar("shown_zone", default=None)


@contextmanager
def in_zone(tz: str | None) -> Iterator[None]:
    """Show times in the reader's IANA zone (with UTC beside them) within this block; None: UTC only."""
    token = _SHOWN_ZONE.set(tz)
    try:
        yield
    finally:
        _SHOWN_ZONE.reset(token)


def when(value: Any) -> str:
    """ISO 8601 as '2026-11-21 09:00 UTC', or in the reader's zone '2026-11-21 10:00 CET (09:00 UTC)' (see
    `in_zone`); anything else unchanged."""
    moment = _moment(value)
    return str(value) if moment is None else local(moment, _SHOWN_ZONE.get())


def name_of(value: Any) -> str:
    """A person, service or policy by the name people use: name, summary, email, then id."""
    if isinstance(value, dict):
        return next((str(value[k]) for k in ("name", "summary", "email", "title", "id") if value.get(k)), "")
    if isinstance(value, list):
        return ", ".join(filter(None, map(name_of, value)))
    return "" if value is None else str(value)


# --- one line per entity -------------------------------------------------------------------------

def line(item: dict[str, Any]) -> str:
    """The one-line form of an entity, chosen by the fields it has."""
    if _is_incident(item):
        return incident_line(item)
    if _is_oncall(item):
        return oncall_line(item)
    if _is_shift(item):
        return f"{name_of(item['user'])} from {when(item.get('start'))} until {when(item['end'])}"
    nested = next((v for v in item.values() if isinstance(v, dict) and _is_incident(v)), None)
    if nested is not None:  # e.g. a similar incident: {"incident": {...}, "match": ..., "score": ...}
        extra = _scalars(item)
        return incident_line(nested) + (f" ({extra})" if extra else "")
    stamp = item.get("at") or item.get("created_at")
    text = item.get("content") or item.get("summary") or item.get("note") or item.get("description")
    if stamp and text:
        who = name_of(item.get("by") or item.get("user") or item.get("agent"))
        return f"{when(stamp)}  {text}" + (f" — {who}" if who and who not in str(text) else "")
    if "user" in item and item.get("at"):  # someone acting at a moment: 'Olivia Grant at … (21 min after trigger)'
        after = item.get("minutes_after_trigger")
        return f"{name_of(item['user'])} at {when(item['at'])}" + (
            f" ({span(after * 60)} after the trigger)" if isinstance(after, (int, float)) else "")
    name, extra = name_of({k: v for k, v in item.items() if k != "id"}), _scalars(item, skip={"name", "email"})
    email = f" ({item['email']})" if item.get("email") else ""
    return " — ".join(filter(None, [name + email, extra])) or json.dumps(item, ensure_ascii=False)


def incident_line(item: dict[str, Any]) -> str:
    """'#1234 [triggered, high] API p99 latency — API Gateway — assigned to Dana Reyes — <link>'."""
    number = _number(item)
    flags = ", ".join(str(item[k]) for k in ("status", "urgency") if item.get(k))
    parts = [f"{f'#{number}' if number else item.get('id', '')} [{flags}] {item.get('title', '')}".strip()]
    if item.get("service"):
        parts.append(name_of(item["service"]))
    assignees = name_of(item.get("assignees") or [a.get("assignee") for a in item.get("assignments") or []])
    if assignees:
        parts.append(f"assigned to {assignees}")
    if item.get("html_url"):
        parts.append(str(item["html_url"]))
    return " — ".join(parts)


def oncall_line(item: dict[str, Any]) -> str:
    """'Level 1: Dana Reyes (dana@…) via Core Backend from 2026-11-20 09:00 UTC until 2026-11-21 09:00 UTC'."""
    user = item.get("user")
    email = user.get("email") if isinstance(user, dict) else None
    via = name_of(item.get("schedule")) or name_of(item.get("escalation_policy"))
    until = f"until {when(item['end'])}" if item.get("end") else "until further notice"
    since = f"from {when(item['start'])} " if item.get("start") and item.get("end") else ""  # a later shift too
    return (f"Level {item.get('level', item.get('escalation_level'))}: {name_of(user)}"
            + (f" ({email})" if email else "") + (f" via {via}" if via else "") + f" {since}{until}")


# --- helpers -------------------------------------------------------------------------------------

def _listing(items: list[Any], indent: str = "") -> str:
    dicts = [i for i in items if isinstance(i, dict)]
    if dicts and len(dicts) == len(items) and all(map(_is_oncall, dicts)):
        return _oncall_listing(dicts, indent)
    return "\n".join(f"{indent}• {line(i) if isinstance(i, dict) else i}" for i in items)


def _oncall_listing(items: list[dict[str, Any]], indent: str) -> str:
    """On-call entries, under their escalation policy's name when there are several policies."""
    policies: dict[str, list[str]] = {}
    for item in items:
        policies.setdefault(name_of(item.get("escalation_policy")), []).append(oncall_line(item))
    if len(policies) == 1:
        return "\n".join(f"{indent}• {text}" for text in next(iter(policies.values())))
    return "\n".join(f"{indent}{policy or 'No escalation policy'}:\n" + "\n".join(f"{indent}  • {t}" for t in lines)
                     for policy, lines in policies.items())


def _fields(item: dict[str, Any], skip: set[str], now: datetime | None = None) -> list[str]:
    """'key: value' lines for the fields worth reading, in the tool's order; a moment ('created_at') with how
    long ago it was, given `now`."""
    return [f"As of {_value(v, k)}:" if k == "at" else  # the moment a listing is for ('who is on call at …')
            f"{_label(k)}: {_value(v, k)}{_ago(v, now) if k.endswith('_at') else ''}" for k, v in item.items()
            if k not in skip | _PLUMBING and v not in (None, "", [], {}) and _value(v, k)
            and not (k == "window" and isinstance(v, str))]  # 'any age (open incidents)': the planner's note


def _scalars(item: dict[str, Any], skip: Iterable[str] = ()) -> str:
    return ", ".join(f"{_label(k)}: {_value(v, k)}" for k, v in item.items()
                     if isinstance(v, (str, int, float)) and not isinstance(v, bool) and v != ""
                     and k not in _PLUMBING and k not in set(skip))


def _value(value: Any, key: str = "") -> str:
    if isinstance(value, dict) and set(value) <= {"at", "by"} and value.get("at"):  # 'last change'
        return when(value["at"]) + (f" by {name_of(value['by'])}" if value.get("by") else "")
    if isinstance(value, dict) and set(value) == {"at", "user"}:  # who was notified, when
        return f"{value['user']} at {when(value['at'])}"
    if isinstance(value, dict) and "all" in value and all(isinstance(v, int) for v in value.values()):  # counts
        rest = ", ".join(f"{v} {k}" for k, v in value.items() if k != "all")
        return f"{value['all']}" + (f" ({rest})" if rest else "")
    if isinstance(value, dict):
        return line(value)
    if isinstance(value, list):
        return ", ".join(filter(None, map(_value, value)))
    if key.startswith("minutes_") and isinstance(value, (int, float)) and not isinstance(value, bool):
        return span(value * 60)
    return when(value)


def _ago(value: Any, now: datetime | None) -> str:
    """' (12 min ago)' for an ISO moment before `now`; '' otherwise."""
    moment = _moment(value)
    if now is None or moment is None or moment > now:
        return ""
    seconds = (now - moment).total_seconds()
    return f" ({span(seconds) if seconds < 86_400 else f'{seconds // 86_400:.0f} d'} ago)"


def _moment(value: Any) -> datetime | None:
    if not isinstance(value, str) or not _ISO.match(value):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _label(key: str) -> str:
    """'minutes_to_resolve' → 'time to resolve', 'minutes_after_trigger' → 'after trigger'."""
    words = key.replace("_", " ")
    return ("time " + words.removeprefix("minutes ") if words.startswith("minutes to ")
            else words.removeprefix("minutes "))


def _number(item: dict[str, Any]) -> Any:
    return item.get("number", item.get("incident_number"))


def _is_incident(item: dict[str, Any]) -> bool:
    return "title" in item and "status" in item and ("id" in item or _number(item) is not None)


def _is_oncall(item: dict[str, Any]) -> bool:
    return "user" in item and ("level" in item or "escalation_level" in item)


def _is_shift(item: dict[str, Any]) -> bool:
    return "user" in item and "end" in item


def _is_entity(item: dict[str, Any]) -> bool:
    return _is_incident(item) or _is_oncall(item) or _is_shift(item) or "name" in item
