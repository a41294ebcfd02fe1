"""A chat model that plays a script: deterministic planning for tests and evals, no LLM needed.

LangChain's own fakes cannot do this job: none supports `bind_tools`, and `GenericFakeChatModel` drops
tool calls when streamed. This one binds tools (and remembers them), streams tool-call chunks, records
every conversation it was shown, and raises `ScriptExhausted` instead of cycling when it runs out.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeAlias

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.messages.tool import tool_call_chunk
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import PrivateAttr

# One reply: a message, plain answer text, or tool calls ({"name", "args", optional "id"}).
ScriptedReply: TypeAlias = AIMessage | str | list[dict[str, Any]]
Script: TypeAlias = Sequence[ScriptedReply] | Callable[[list[BaseMessage]], ScriptedReply | None]


class ScriptExhausted(RuntimeError):
    """The model was asked for more replies than its script has."""


class _Tape:
    """What the model and every copy bound from it share: position, recordings, bound tools."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.played = 0
        self.received: list[list[BaseMessage]] = []
        self.bound_tools: list[str] = []


class ScriptedChatModel(BaseChatModel):
    """Plays `script` in order, or asks `script(messages)` for each reply.

    Tool calls without an id get `call_<m>_<n>` (m = AI messages already in the conversation), so ids
    are unique within a thread and the same on every replay: idempotency keys derived from them hold.
    """

    script: Any  # a Script; typed loosely so pydantic keeps the caller's objects as they are
    _tape: _Tape = PrivateAttr(default_factory=_Tape)

    def __init__(self, script: Script, **kwargs: Any) -> None:
        super().__init__(script=script, **kwargs)

    @property
    def _llm_type(self) -> str:
        return "incident-commander-scripted"

    @property
    def received(self) -> list[list[BaseMessage]]:
        """Every message list the model was sent, in order."""
        return self._tape.received

    @property
    def bound_tools(self) -> list[str]:
        """Names of the tools last bound with `bind_tools`."""
        return self._tape.bound_tools

    @property
    def remaining(self) -> int | None:
        """Replies left in a list script (None for a function script)."""
        return None if callable(self.script) else len(self.script) - self._tape.played

    def bind_tools(self, tools: Sequence[Any], *, tool_choice: str | None = None,
                   **kwargs: Any) -> Runnable[Any, AIMessage]:
        specs = [convert_to_openai_tool(t) for t in tools]
        self._tape.bound_tools = [s["function"]["name"] for s in specs]
        if tool_choice is not None:
            kwargs["tool_choice"] = tool_choice
        return self.bind(tools=specs, **kwargs)

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=self._next(messages))])

    def _stream(self, messages: list[BaseMessage], stop: list[str] | None = None,
                run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        """Text word by word, then each tool call as two chunks (name and id, then its JSON arguments)."""
        message = self._next(messages)
        words = message.text.split(" ")
        chunks = [AIMessageChunk(content=(" " if n else "") + word) for n, word in enumerate(words)]
        for index, call in enumerate(message.tool_calls):
            chunks.append(AIMessageChunk(content="", tool_call_chunks=[
                tool_call_chunk(name=call["name"], id=call["id"], args="", index=index)]))
            chunks.append(AIMessageChunk(content="", tool_call_chunks=[
                tool_call_chunk(args=json.dumps(call["args"]), index=index)]))
        chunks[-1].usage_metadata = message.usage_metadata
        for chunk in chunks:  # BaseChatModel reports each one to the callbacks (and so to graph streams)
            yield ChatGenerationChunk(message=chunk)

    def _next(self, messages: list[BaseMessage]) -> AIMessage:
        tape = self._tape
        with tape.lock:
            tape.received.append(list(messages))
            number = tape.played
            if callable(self.script):
                reply = self.script(list(messages))
            elif number < len(self.script):
                reply = self.script[number]
            else:
                reply = None
            if reply is None:
                last = messages[-1].text[:200] if messages else "(no messages)"
                raise ScriptExhausted(f"ScriptedChatModel has no reply #{number + 1} "
                                      f"(it played {number}); the conversation ended with: {last!r}")
            tape.played += 1
        return _as_message(reply, sum(isinstance(m, AIMessage) for m in messages))


def _as_message(reply: ScriptedReply, turn: int) -> AIMessage:
    if isinstance(reply, str):
        return AIMessage(reply)
    message = reply if isinstance(reply, AIMessage) else AIMessage("", tool_calls=[
        {"name": c["name"], "args": c.get("args", {}), "id": c.get("id")} for c in reply])
    calls = [{**c, "id": c.get("id") or f"call_{turn}_{k}"} for k, c in enumerate(message.tool_calls)]
    return message.model_copy(update={"tool_calls": calls})
