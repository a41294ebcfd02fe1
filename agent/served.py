"""The conversation as a served model reads it: the same every time a message is sent again, so the
server's prompt cache holds (a day's first call after midnight UTC re-reads what said "today"), and
short, since on a small local model a follow-up call's seconds are mostly the new tokens it reads.

- A request carries who asked and when (small models echo a trailing context message back).
- A tool result ends with the invitation to answer (a line per item for a list), or with the reminder
  that followed it (as a system message after a result, the 1.5B Qwen gave it back as its answer). Its
  JSON is read as lines: a reference to a service, policy, schedule or team by its name and a person as
  'Name <email>' (tools take names in place of ids; a name that fits several is never guessed, the error
  lists them with their ids), moments to the minute, today's as 'today 10:24 UTC', empty fields left
  out. The ids of the things themselves (incidents, overrides, notes) stay. Qwen's tokenizer reads every
  digit of an id or a timestamp as a token: a result costs about a third fewer tokens than its JSON.
- A reply whose calls were read from its text (`agent.repair`) is sent back as those calls, not as it
  was written: the cache would hold the tokens it wrote, but shown its own text before a result, the
  1.5B Qwen wrote the same call again until the cap on model calls.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from langchain_core.messages import HumanMessage, ToolMessage

from agent.guidance import ANSWER_LIST, ANSWER_NOW, ASKED_BY
from agent.reminders import is_reminder, without_answered_reminders

ASKED = "asked"  # a HumanMessage's additional_kwargs entry: who asked and the minute they did, fixed at turn start
_MOMENT = re.compile(r"(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2})(?::\d{2}(?:\.\d+)?)?(?:Z|\+00:00)")
_REFERENCE_KEYS = {"id", "name", "summary", "email"}


def served(messages: list[Any], now: datetime) -> list[Any]:
    """`messages` as the model reads them, without answered reminders."""
    shown = without_answered_reminders(messages)
    today = f"{now:%Y-%m-%d}"
    if len(shown) > 1 and is_reminder(shown[-1]) and isinstance(shown[-2], ToolMessage):
        return [*(_as_served(m, today) for m in shown[:-2]), _result(shown[-2], f"({shown[-1].text})", today)]
    return [_as_served(m, today) for m in shown]


def in_lines(content: str, today: str) -> str:
    """A tool result's JSON (after any notice lines) as lines; any other text as it is."""
    return _in_lines(content, _parsed(content), today)


def _in_lines(content: str, parsed: tuple[str, Any] | None, today: str) -> str:
    if parsed is None:
        return content
    notice, data = parsed
    return "\n".join(filter(None, [notice, _lines(data, today)]))


def _parsed(content: str) -> tuple[str, Any] | None:
    """The notice lines before a result's JSON, and its data; None for text that is not JSON."""
    head, _, rest = content.partition("\n")
    for notice, body in (("", content), (head, rest)):
        try:
            return notice, json.loads(body)
        except ValueError:
            continue
    return None


def _as_served(message: Any, today: str) -> Any:
    if isinstance(message, ToolMessage):
        return _result(message, None, today)
    asked = message.additional_kwargs.get(ASKED) if isinstance(message, HumanMessage) else None
    if not asked:
        return message
    return HumanMessage(f"{message.text}\n\n{ASKED_BY}{asked['by']} at {asked['at']} UTC.)", id=message.id)


def _result(message: ToolMessage, ending: str | None, today: str) -> ToolMessage:
    """The result in lines, then `ending`, or the invitation to answer: a line per item for a list (told
    to answer in one short sentence, the 1.5B Qwen answered "what is open?" with a count)."""
    if not isinstance(message.content, str):
        return message
    parsed = _parsed(message.content)
    if ending is None:
        ending = ANSWER_LIST if parsed and _is_listing(parsed[1]) else ANSWER_NOW
    return message.model_copy(update={"content": f"{_in_lines(message.content, parsed, today)}\n\n{ending}"})


def _lines(data: Any, today: str) -> str:
    if isinstance(data, dict) and not _is_reference(data):
        out = []
        for key, value in data.items():
            if value in (None, "", {}):
                continue
            if _is_record_list(value):
                out += [f"{key}:", *(f"- {_inline(item, today)}" for item in value)]
            else:
                out.append(f"{key}: {_inline(value, today)}")
        return "\n".join(out)
    if _is_record_list(data):
        return "\n".join(f"- {_inline(item, today)}" for item in data)
    return _inline(data, today)


def _inline(value: Any, today: str) -> str:
    if _is_reference(value):
        name = value.get("name") or value.get("summary")
        return f"{name} <{value['email']}>" if value.get("email") else str(name)
    if isinstance(value, dict):
        return "; ".join(f"{k} {_inline(v, today)}" for k, v in value.items() if v not in (None, "", [], {}))
    if isinstance(value, list):
        return ", ".join(_inline(v, today) for v in value) if value else "none"
    if isinstance(value, str):
        return _MOMENT.sub(lambda m: _moment(m, today), value)
    return json.dumps(value)


def _moment(found: re.Match[str], today: str) -> str:
    day, clock = found.groups()
    return f"{'today' if day == today else day} {clock} UTC"


def _is_reference(value: Any) -> bool:
    return (isinstance(value, dict) and "id" in value and set(value) <= _REFERENCE_KEYS
            and bool(value.get("name") or value.get("summary")))


def _is_listing(data: Any) -> bool:
    """Whether a result is a list of things (incidents, on-call levels), not one thing with a list in it."""
    return _is_record_list(data) or (isinstance(data, dict) and "id" not in data
                                     and any(map(_is_record_list, data.values())))


def _is_record_list(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) and not _is_reference(v)
                                                            for v in value)
