"""The reference path as a planner: the script the scripted chat model plays in the scripted tier.

Each turn of the conversation plays its own list of replies in order (tool calls, then the answer);
a turn is a message the person sent, so a resume (which sends none) goes on with the list it resumed.
A `Retry` reply stands for a model that reads a tool error and corrects itself: it is played only
when a call of the previous reply failed, which is how the robustness tier injects one mistake and
still expects the task to end right.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, TypeAlias

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage

from evals.scenario import Step

PlayerReply: TypeAlias = str | list[dict[str, Any]]


@dataclass(frozen=True)
class Retry:
    """Play `reply` only if the last tool results hold an error."""

    reply: PlayerReply


def reply_of(step: Step) -> PlayerReply:
    if step.answer is not None:
        return step.answer
    return [{"name": c.tool, "args": c.args} for c in step.calls()]


class ReferencePlayer:
    """Callable script for `ScriptedChatModel`: the next reply of the turn in progress, or None when done."""

    def __init__(self, turns: list[list[PlayerReply | Retry]]) -> None:
        self.turns = turns
        self.cursors: dict[int, int] = {}
        self._lock = threading.Lock()

    @classmethod
    def of(cls, turns: list[list[Step]]) -> ReferencePlayer:
        return cls([[reply_of(step) for step in steps] for steps in turns])

    def __call__(self, messages: list[BaseMessage]) -> PlayerReply | None:
        turn = sum(isinstance(m, HumanMessage) for m in messages) - 1
        if not 0 <= turn < len(self.turns):
            return None
        steps = self.turns[turn]
        with self._lock:
            position = self.cursors.get(turn, 0)
            while position < len(steps):
                step = steps[position]
                position += 1
                if not isinstance(step, Retry):
                    self.cursors[turn] = position
                    return step
                if last_call_failed(messages):
                    self.cursors[turn] = position
                    return step.reply
            self.cursors[turn] = position
            return None


def last_call_failed(messages: list[BaseMessage]) -> bool:
    """Whether a tool result after the last tool-calling reply is an error."""
    for index in range(len(messages) - 1, -1, -1):
        message = messages[index]
        if isinstance(message, AIMessage) and message.tool_calls:
            results = [m for m in messages[index + 1:] if isinstance(m, ToolMessage)]
            return any(m.status == "error" or m.text.lstrip().startswith("Error") for m in results)
    return False
