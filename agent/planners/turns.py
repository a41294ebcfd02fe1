"""One command-mode turn as plain data: the message read as a command, then, from the results so far, the
next tool calls or the reply in words.

Nothing here knows LangChain: the command model (`agent.planners.command`) wraps these moves in chat
messages for the graph, and quick answers (`agent.reads`) run them directly, so both say the same.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from agent.planners.answers import ToolResult, answer
from agent.planners.conversation import Context, Pending, clarify
from agent.planners.grammar import Call, Parsed, Steps, TextReply, parse, plan

# A reply's outcome when the command was not understood, or cannot run here.
NOT_UNDERSTOOD = "not_understood"
REFUSED = "refused"


@dataclass(frozen=True)
class Said:
    """A reply in words; a question carries how an answer continues the request, and `outcome` says when the
    command was not understood or refused (surfaces exit non-zero on it)."""

    text: str
    pending: Pending | None = None
    outcome: str | None = None


def read(text: str, context: Context, pending: Pending | None = None) -> Parsed | Said:
    """The message as a command, or the reply that says why it is not one (or asks what is meant)."""
    parsed = parse(text, context, pending)
    return _said(parsed) if isinstance(parsed, TextReply) else parsed


def next_move(parsed: Parsed | Said, steps: Steps) -> list[Call] | Said:
    """The calls to make next, or the reply once the command is done (or cannot go on)."""
    if isinstance(parsed, Said):
        return parsed
    if steps and any(r.rejected for r in steps[-1]):
        return Said(answer(steps[-1], parsed.command.done, parsed.context.now))
    following = plan(parsed, steps)
    if following is None:
        return finished(parsed, steps[-1])
    if isinstance(following, TextReply):
        return _said(following)
    if isinstance(following, str):
        return Said(following)
    return following


def finished(parsed: Parsed, results: Sequence[ToolResult]) -> Said:
    """The answer to a finished command: a name that fitted several things (or nothing) becomes a question,
    and the times it used are said back in the zone they were said in."""
    if len(results) == 1 and results[0].error and (question := clarify(results[0].content, parsed.text)):
        return Said(*question)
    times = "".join(f"({t}.)\n" for t in parsed.times)
    return Said(times + answer(results, parsed.command.done, parsed.context.now))


def tool_calls(calls: list[Call], already: int) -> list[dict[str, Any]]:
    """Tool calls with ids that are unique in the conversation and the same on every replay."""
    out = []
    for n, c in enumerate(calls, start=already + 1):
        digest = hashlib.sha1(f"{n}:{c.name}:{json.dumps(c.args, sort_keys=True)}".encode()).hexdigest()[:8]
        out.append({"name": c.name, "args": c.args, "id": f"cmd-{n}-{digest}", "type": "tool_call"})
    return out


def _said(reply: TextReply) -> Said:
    return Said(reply.text, reply.pending, None if reply.understood else NOT_UNDERSTOOD)
