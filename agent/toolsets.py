"""Which tools a request offers the planner model: the few it likely needs first, every one on request.

Every tool's definition together is about 4,000 tokens, read on every model call; a model on a CPU reads
them for a minute before its first word, and a small model chooses worse among many. So each request
offers the `core` lookups plus the groups its words call for (each tool's declaration names its groups,
`toolsets.yaml` the words that call for each group), and a `more_tools` call offers every tool for the
rest of the turn. The choice depends only on the conversation's
requests, so the offered set, and with it a server's prompt cache, stays the same across a turn's
steps and grows at most once per turn.

A call to a real tool that was not offered is still run (the graph checks calls against every tool):
the narrowing saves tokens, it is not a permission.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import cache
from importlib.resources import files
from typing import Any

import yaml
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage

from tools.registry import TOOLS

MORE_TOOLS = "more_tools"
MORE_TOOLS_DEFINITION: dict[str, Any] = {"type": "function", "function": {
    "name": MORE_TOOLS,
    "description": "Offers every other tool (schedules, overrides, notes, history, events, teams) when none here fits.",
    "parameters": {"type": "object", "properties": {}}}}
MORE_TOOLS_REPLY = "Every tool is offered now; call the one the request needs."
_WORD = re.compile(r"[a-z0-9][a-z0-9-]*")


CORE = "core"  # the toolset every request is offered


class ToolsetError(ValueError):
    """toolsets.yaml and the tools' declarations disagree about a group; the message names it."""


@cache
def cues() -> dict[str, list[str]]:
    """Each group → the words that call for it; checked against the toolsets the tools declare."""
    table: dict[str, list[str]] = yaml.safe_load(files("agent").joinpath("toolsets.yaml").read_text(encoding="utf-8"))
    declared = {group for tool in TOOLS.values() for group in tool.toolsets}
    if unknown := sorted(declared - table.keys() - {CORE}):
        raise ToolsetError(f"tools declare toolsets that toolsets.yaml lacks: {', '.join(unknown)}")
    if unused := sorted(table.keys() - declared):
        raise ToolsetError(f"toolsets.yaml: no tool is in {', '.join(unused)}")
    return table


def offered(requests: Sequence[str], available: Sequence[str], *, everything: bool) -> list[str] | None:
    """The names to offer, or None for all of them (then no `more_tools` either). The core lookups come
    first, in the same order for every request, so the definitions any two requests share are the start
    of the prompt that a server's cache keeps between conversations; the groups' tools follow. A later
    request's new tools come after the earlier ones, so its first call re-reads only from them on."""
    if everything:
        return None
    chosen: list[str] = []
    for upto in range(1, len(requests) + 1):
        chosen += [name for name in _chosen(requests[:upto], available) if name not in chosen]
    return None if len(chosen) == len(available) else chosen


def _chosen(requests: Iterable[str], available: Sequence[str]) -> list[str]:
    text = " ".join(requests).lower()
    words = _WORD.findall(text)
    called = {group for group, said in cues().items() if any(_said(cue, words, text) for cue in said)}
    groups = {name: set(TOOLS[name].toolsets) if name in TOOLS else set() for name in available}
    core = [name for name in available if CORE in groups[name]]
    return core + [name for name in available if groups[name] & called and name not in core]


def _said(cue: str, words: list[str], text: str) -> bool:
    """A cue of one word matches the start of a word; a cue of several matches as a phrase."""
    return cue in text if " " in cue else any(word.startswith(cue) for word in words)


def asked_for_more(turn: Sequence[BaseMessage]) -> bool:
    """Whether the model called `more_tools` in this turn's messages."""
    return any(c["name"] == MORE_TOOLS for m in turn if isinstance(m, AIMessage) for c in m.tool_calls)


def requests_of(messages: Sequence[BaseMessage]) -> list[str]:
    """What the person asked on this thread, every turn (the offer only grows along a conversation)."""
    return [m.text for m in messages if isinstance(m, HumanMessage)]
