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

import hashlib
import json
from collections.abc import Sequence
from typing import Any, ClassVar

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import Field

from agent.planners.answers import ToolResult, answer, in_zone
from agent.planners.conversation import Pending, clarify, context_of, pending_question
from agent.planners.grammar import Call, NotUnderstood, Parsed, Reply, Steps, help_text, parse, plan

# A reply's `response_metadata["outcome"]` when the command was not understood, or cannot run here.
NOT_UNDERSTOOD = "not_understood"
REFUSED = "refused"


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
        try:
            parsed = parse(messages[turn].text, context, pending_question(messages, turn))
            steps = results_since(messages[turn + 1:])
            if steps and any(r.rejected for r in steps[-1]):
                return AIMessage(answer(steps[-1], parsed.command.done, context.now))
            following = plan(parsed, steps)
        except Reply as reply:
            return said(str(reply), reply.pending, understood=not isinstance(reply, NotUnderstood))
        if following is None:
            return finished(parsed, steps[-1])
        if isinstance(following, str):
            return AIMessage(following)
        allowed = self.tool_names
        unavailable = sorted({c.name for c in following if allowed is not None and c.name not in allowed})
        if unavailable:
            return AIMessage(f"`{parsed.command.words[0]}` changes PagerDuty, which is not allowed here "
                             "(read-only mode). Nothing was changed.", response_metadata={"outcome": REFUSED})
        return AIMessage("", tool_calls=tool_calls(following, already=_calls_so_far(messages)))


def said(text: str, pending: Pending | None = None, *, understood: bool = True) -> AIMessage:
    """A reply in words; a question keeps, in the message itself, how an answer continues the request, and
    a reply to something not understood says so in its metadata (surfaces exit non-zero on it)."""
    return AIMessage(text, additional_kwargs=pending.as_kwargs() if pending else {},
                     response_metadata={} if understood else {"outcome": NOT_UNDERSTOOD})


def finished(parsed: Parsed, results: Sequence[ToolResult]) -> AIMessage:
    """The answer to a finished command: a name that fitted several things (or nothing) becomes a question,
    and the times it used are said back in the zone they were said in."""
    if len(results) == 1 and results[0].error and (question := clarify(results[0].content, parsed.text)):
        return said(*question)
    times = "".join(f"({t}.)\n" for t in parsed.times)
    return AIMessage(times + answer(results, parsed.command.done, parsed.context.now))


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


def tool_calls(calls: list[Call], already: int) -> list[dict[str, Any]]:
    """Tool calls with ids that are unique in the conversation and the same on every replay."""
    out = []
    for n, c in enumerate(calls, start=already + 1):
        digest = hashlib.sha1(f"{n}:{c.name}:{json.dumps(c.args, sort_keys=True)}".encode()).hexdigest()[:8]
        out.append({"name": c.name, "args": c.args, "id": f"cmd-{n}-{digest}", "type": "tool_call"})
    return out


def _calls_so_far(messages: Sequence[BaseMessage]) -> int:
    return sum(len(m.tool_calls) for m in messages if isinstance(m, AIMessage))
