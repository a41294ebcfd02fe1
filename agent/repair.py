"""Tool calls a model wrote as text, read back into calls.

Small models served without a tool-call parser (and some with one) put the call in the reply's text:
the 0.5B Qwen as a bare JSON object, the 1.5B as a fenced ```json block, others inside
`<tool_call>…</tool_call>` tags, the format their chat template taught them (the 1.5B at times in the
`<tools>…</tools>` tags its template wraps the tool list in, or the `<tool_response>` tags of results).
Taken as an answer, that text would reach a person as raw JSON and the step would be lost. So a reply
with no tool calls whose whole text is one or more such calls, each naming a tool that was offered and
giving an object of arguments, becomes a reply with those calls; so does a reply that is only an
offered tool's name (the 0.5B wrote "update_incident"), as a call with no arguments whose error says
what it needs. Nothing else is read as a call: text that also says something to the person, a name that
is not an offered tool, or arguments that are not an object stay the answer they are.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Collection
from typing import Any

from langchain_core.messages import AIMessage

_TAGGED = re.compile(r"\s*(?:<(tool_call|tools|tool_response)>(.*?)</\1>\s*)+", re.S)
_TAG = re.compile(r"<(tool_call|tools|tool_response)>(.*?)</\1>", re.S)
_FENCED = re.compile(r"\s*(?:```[a-zA-Z_]*[ \t]*\n?(.*?)```\s*)+", re.S)
_FENCE = re.compile(r"```[a-zA-Z_]*[ \t]*\n?(.*?)```", re.S)
_DECODER = json.JSONDecoder()


def repaired(reply: AIMessage, offered: Collection[str]) -> tuple[AIMessage, str | None]:
    """The reply with its text read as tool calls, and the form it was written in ("bare JSON", "fenced
    JSON", "<tool_call> tags", "a bare tool name"); the reply itself and None when its text is not only
    calls of `offered`."""
    if reply.tool_calls or reply.invalid_tool_calls or not isinstance(reply.content, str):
        return reply, None
    text = reply.content.strip()
    if text in offered:  # the 0.5B Qwen at times wrote just the name: a call with no arguments, whose error says
        return _with_calls(reply, [(text, {})]), "a bare tool name"  # what it needs (a read runs as it is)
    if _TAGGED.fullmatch(text):
        form, payloads = "<tool_call> tags", [payload for _, payload in _TAG.findall(text)]
    elif _FENCED.fullmatch(text):
        form, payloads = "fenced JSON", _FENCE.findall(text)
    else:
        form, payloads = "bare JSON", [text]
    calls: list[tuple[str, dict[str, Any]]] = []
    for payload in payloads:
        found = _calls(payload, offered)
        if not found:
            return reply, None
        calls += found
    return _with_calls(reply, calls), form


def _with_calls(reply: AIMessage, calls: list[tuple[str, dict[str, Any]]]) -> AIMessage:
    return AIMessage(content="", tool_calls=[{"name": name, "args": args, "id": f"call_{uuid.uuid4().hex[:24]}",
                                              "type": "tool_call"} for name, args in calls],
                     id=reply.id, response_metadata=reply.response_metadata, usage_metadata=reply.usage_metadata)


def _calls(payload: str, offered: Collection[str]) -> list[tuple[str, dict[str, Any]]]:
    """Every call in `payload` (JSON values one after another, objects or lists of them), or [] when any
    part of it is not a call of an offered tool."""
    values, at, payload = [], 0, payload.strip()
    while at < len(payload):
        try:
            value, at = _DECODER.raw_decode(payload, at)
        except ValueError:
            return []
        values += value if isinstance(value, list) else [value]
        while at < len(payload) and payload[at] in " \t\r\n,":
            at += 1
    calls = [_call(value, offered) for value in values]
    return [c for c in calls if c is not None] if values and None not in calls else []


def _call(value: Any, offered: Collection[str]) -> tuple[str, dict[str, Any]] | None:
    """`{"name": …, "arguments": {…}}` and its usual variants (`function` or `tool` for the name,
    `parameters` or `args` for the arguments, an OpenAI `function` wrapper, arguments as a JSON string)
    as (name, arguments)."""
    if not isinstance(value, dict):
        return None
    if isinstance(value.get("function"), dict):
        value = value["function"]
    name = next((value[k] for k in ("name", "function", "tool") if isinstance(value.get(k), str)), None)
    args: Any = next((value[k] for k in ("arguments", "parameters", "args") if k in value), {})
    if isinstance(args, str):
        try:
            args = json.loads(args) if args.strip() else {}
        except ValueError:
            return None
    if not isinstance(name, str) or name not in offered or not isinstance(args, dict):
        return None
    if set(value) - {"name", "function", "tool", "arguments", "parameters", "args", "type", "id"}:
        return None  # more than a call: not ours to guess at
    return name, args
