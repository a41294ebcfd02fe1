"""Command mode: a chat model that reads ChatOps commands instead of prose, so no LLM is needed.

It emits the same tool calls an LLM would, so the graph, the approval gate and every surface work
unchanged (as PagerDuty's own Slack commands work without one). It keeps no state of its own: each
turn it re-reads the last human message and the tool results after it, which is also why it gives
the same tool-call ids when a checkpoint is replayed (and `create_incident` stays idempotent).

Who "me" is: a SystemMessage line `Requester: …` (set per conversation by the graph, so one model can
serve many Slack users) wins; the `requester` field is the fallback for single-user surfaces.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool

from agent.planners.answers import ToolResult, answer
from agent.planners.grammar import Call, Reply, Steps, help_text, parse, plan

_REQUESTER = re.compile(r"^\s*Requester:\s*(.+?)\s*$", re.MULTILINE | re.IGNORECASE)


class CommandModel(BaseChatModel):
    """A deterministic, offline `BaseChatModel` for the ChatOps grammar in `agent.planners.grammar`."""

    requester: str | None = None
    tool_names: frozenset[str] | None = None  # None until bind_tools: every tool allowed

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
        """The next message: tool calls for the command in flight, or the answer once it is done."""
        humans = [i for i, m in enumerate(messages) if isinstance(m, HumanMessage)]
        if not humans:
            return AIMessage(help_text())
        turn = humans[-1]
        try:
            parsed = parse(messages[turn].text, requester_of(messages) or self.requester)
            steps = results_since(messages[turn + 1:])
            if steps and any(r.rejected for r in steps[-1]):
                return AIMessage(answer(steps[-1], parsed.command.done))
            following = plan(parsed, steps)
        except Reply as reply:
            return AIMessage(str(reply))
        if following is None:
            return AIMessage(answer(steps[-1], parsed.command.done))
        if isinstance(following, str):
            return AIMessage(following)
        allowed = self.tool_names
        unavailable = sorted({c.name for c in following if allowed is not None and c.name not in allowed})
        if unavailable:
            return AIMessage(f"`{parsed.command.words[0]}` needs {', '.join(unavailable)}, which is not "
                             "available here (read-only mode?). Nothing was changed.")
        return AIMessage("", tool_calls=tool_calls(following, already=_calls_so_far(messages)))


def requester_of(messages: Sequence[BaseMessage]) -> str | None:
    """The person asking, from the last `Requester: …` line of a SystemMessage."""
    found = [m for msg in messages if isinstance(msg, SystemMessage) for m in _REQUESTER.findall(msg.text)]
    return found[-1] if found else None


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
