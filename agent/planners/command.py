"""Command mode: a chat model that reads ChatOps commands instead of prose, so no LLM is needed.

It emits the same tool calls an LLM would, so the graph, the approval gate and every surface work
unchanged (as PagerDuty's own Slack commands work without one). It keeps no state of its own: each
turn it re-reads the last human message and the tool results after it, which is also why it gives
the same tool-call ids when a checkpoint is replayed (and `create_incident` stays idempotent).

Who "me" is: a SystemMessage line `Requester: …` (set per conversation by the graph, so one model can
serve many Slack users) wins; the `requester` field is the fallback for single-user surfaces. Earlier
turns give "it" its incident, and a question the model asked carries how the answer continues it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import Field

from agent.planners.answers import ToolResult, in_zone
from agent.planners.conversation import PENDING, Context, Pending, Shown, shown_in
from agent.planners.grammar import Steps, help_text
from agent.planners.turns import NOT_UNDERSTOOD, REFUSED, Said, next_move, read, tool_calls

__all__ = ["NOT_UNDERSTOOD", "REFUSED", "CommandModel"]

_REQUESTER = re.compile(r"^\s*Requester:\s*(.+?)\s*$", re.MULTILINE | re.IGNORECASE)
_NOW = re.compile(r"^\s*Current time:\s*(\d{4}-\d{2}-\d{2} \d{2}:\d{2})", re.MULTILINE | re.IGNORECASE)


class CommandModel(BaseChatModel):
    """A deterministic, offline `BaseChatModel` for the ChatOps grammar in `agent.planners.grammar`."""

    requester: str | None = None
    time_zone: str | None = None  # the requester's IANA zone, for times said without one (else UTC)
    aliases: dict[str, str] = Field(default_factory=dict)  # what people call things → the names PagerDuty uses
    tool_names: frozenset[str] | None = None  # None until bind_tools: every tool allowed
    answers_from_code: ClassVar[bool] = True  # its answers are the tool results in words: nothing to ground

    @property
    def _llm_type(self) -> str:
        return "incident-commander-command"

    def bind_tools(self, tools: Sequence[Any], *, tool_choice: str | None = None,
                   **kwargs: Any) -> CommandModel:
        """A copy that only calls these tools; a command needing another one says so instead."""
        names = frozenset(t.name if isinstance(t, BaseTool) else convert_to_openai_tool(t)["function"]["name"]
                          for t in tools)
        return self.model_copy(update={"tool_names": names})

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=self.respond(messages))])

    def respond(self, messages: Sequence[BaseMessage]) -> AIMessage:
        """The next message: tool calls for the command in flight, or the answer once it is done (its times
        in the requester's zone, UTC beside them)."""
        with in_zone(self.time_zone):
            return self._respond(messages)

    def _respond(self, messages: Sequence[BaseMessage]) -> AIMessage:
        humans = [i for i, m in enumerate(messages) if isinstance(m, HumanMessage)]
        if not humans:
            return AIMessage(help_text())
        turn = humans[-1]
        context = context_of(messages, turn, requester=self.requester, time_zone=self.time_zone,
                             aliases=self.aliases)
        parsed = read(messages[turn].text, context, pending_question(messages, turn))
        following = next_move(parsed, results_since(messages[turn + 1:]))
        if isinstance(following, Said):
            return said(following)
        allowed = self.tool_names
        unavailable = sorted({c.name for c in following if allowed is not None and c.name not in allowed})
        if unavailable:
            assert not isinstance(parsed, Said)
            return said(Said(f"`{parsed.command.words[0]}` changes PagerDuty, which is not allowed here "
                             "(read-only mode). Nothing was changed.", outcome=REFUSED))
        return AIMessage("", tool_calls=tool_calls(following, already=_calls_so_far(messages)))


def said(reply: Said) -> AIMessage:
    """A reply in words; a question keeps, in the message itself, how an answer continues the request, and
    a reply to something not understood or refused says so in its metadata."""
    return AIMessage(reply.text, additional_kwargs=reply.pending.as_kwargs() if reply.pending else {},
                     response_metadata={"outcome": reply.outcome} if reply.outcome else {})


def context_of(messages: Sequence[BaseMessage], turn: int, *, requester: str | None, time_zone: str | None,
               aliases: dict[str, str]) -> Context:
    """The context of the human message at index `turn`: who asks and when (the graph's `Requester:` and
    `Current time:` lines win), and the incidents shown last."""
    found = [m for msg in messages if isinstance(msg, SystemMessage) for m in _REQUESTER.findall(msg.text)]
    clock = [m for msg in messages if isinstance(msg, SystemMessage) for m in _NOW.findall(msg.text)]
    now = (datetime.strptime(clock[-1], "%Y-%m-%d %H:%M").replace(tzinfo=UTC) if clock
           else datetime.now(UTC))
    return Context(requester=found[-1] if found else requester, now=now, time_zone=time_zone,
                   aliases=aliases, shown=last_shown(messages[:turn]))


def last_shown(messages: Sequence[BaseMessage]) -> tuple[Shown, ...]:
    """The incidents of the most recent tool result that showed any: what "it" refers to."""
    for message in reversed(messages):
        if isinstance(message, ToolMessage):
            shown = shown_in(ToolResult(message.name or "", {}, message.text, message.status))
            if shown:
                return shown
    return ()


def pending_question(messages: Sequence[BaseMessage], turn: int) -> Pending | None:
    """The question the agent asked just before the human message at `turn`, if it asked one."""
    before = [m for m in messages[:turn] if not isinstance(m, SystemMessage)]
    if not before or not isinstance(before[-1], AIMessage):
        return None
    saved = before[-1].additional_kwargs.get(PENDING)
    return Pending(tuple(saved.get("options") or ()), saved.get("confirm")) if saved else None


def results_since(messages: Sequence[BaseMessage]) -> Steps:
    """The tool results after the human's command, grouped by the AIMessage that asked for them."""
    replies = {m.tool_call_id: m for m in messages if isinstance(m, ToolMessage)}
    steps = []
    for message in messages:
        if isinstance(message, AIMessage) and message.tool_calls:
            step = [ToolResult(c["name"], c["args"], replies[c["id"]].text, replies[c["id"]].status)
                    for c in message.tool_calls if c["id"] in replies]
            if step:
                steps.append(step)
    return steps


def _calls_so_far(messages: Sequence[BaseMessage]) -> int:
    return sum(len(m.tool_calls) for m in messages if isinstance(m, AIMessage))
