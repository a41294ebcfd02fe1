"""Once-a-turn reminders for a served model that stops too early, and the conversation it reads after them.

Small models often answer without looking anything up (inventing the facts), or look something up and
then answer instead of making the change asked for (the 1.5B Qwen found the schedule in "I'm ill, Alice
will cover me" and said Alice would cover). The graph then asks once more, naming the tools the request's
words called for (`agent.toolsets`): for a question only lookups (named every tool its words touched, the
1.5B answered "how was it fixed?" by resolving the incident). Each reminder is given at most once a turn,
and never for an answer that asks the person something.

The draft that drew a reminder is not read again (shown it, a small model wrote it again), nor is the
reminder once answered (the 1.5B later gave it back as its answer).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, SystemMessage, ToolMessage

from agent.grounding import this_turn
from agent.guidance import LOOK_IT_UP, MAKE_THE_CHANGE
from agent.toolsets import CORE, requests_of
from tools.registry import TOOLS

USUAL_TOOLS = ("who_is_on_call", "list_incidents", "create_incident")  # named when the words called for no group


def reminder(messages: Sequence[BaseMessage], reply: AIMessage, offer: Sequence[str] | None) -> SystemMessage | None:
    """The reminder an answer of this turn draws, or None when the answer ends the turn. `offer`: the tools
    the request was offered (None: every tool)."""
    if reply.text.rstrip().endswith("?"):
        return None
    turn = this_turn(messages)
    given = [m.text for m in turn if is_reminder(m)]
    called = [name for name in offer or [] if name in TOOLS and CORE not in TOOLS[name].toolsets]
    question = "?" in (requests_of(messages) or [""])[-1]
    results = [m for m in turn if isinstance(m, ToolMessage)]
    if not results:
        if any(text.startswith(LOOK_IT_UP) for text in given):
            return None
        named = [name for name in called if TOOLS[name].kind == "read"] if question else called
        return SystemMessage(f"{LOOK_IT_UP} (likely {', '.join(named or called or USUAL_TOOLS)}).")
    changes = [name for name in called if TOOLS[name].kind == "write"]
    proposed = {call["name"] for m in turn if isinstance(m, AIMessage) for call in m.tool_calls}
    if (any(text.startswith(MAKE_THE_CHANGE) for text in given) or question or not changes or proposed & set(changes)
            or any(m.status == "error" for m in results)):
        return None
    return SystemMessage(f"{MAKE_THE_CHANGE} (likely {', '.join(changes)}).")


def without_answered_reminders(messages: Sequence[Any]) -> list[Any]:
    """The conversation as a served model reads it: without the drafts that drew a reminder, and without
    reminders but the last message."""
    reminded = {i - 1 for i, m in enumerate(messages) if is_reminder(m)}
    last = len(messages) - 1
    return [m for i, m in enumerate(messages) if not (
        (i in reminded and isinstance(m, AIMessage) and not m.tool_calls) or (is_reminder(m) and i != last))]


def is_reminder(message: Any) -> bool:
    return isinstance(message, SystemMessage) and message.text.startswith((LOOK_IT_UP, MAKE_THE_CHANGE))
