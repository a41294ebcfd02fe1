"""The LLM planner: `ChatOpenAI` for OpenAI or any OpenAI-compatible server (vLLM, Ollama, llama.cpp)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Literal

from langchain_core.messages import AIMessage
from langchain_core.runnables import Runnable
from langchain_openai import ChatOpenAI

from agent.settings import Settings


class PlannerChatOpenAI(ChatOpenAI):
    """`ChatOpenAI` that asks for parallel tool calls whenever tools are bound.

    Said explicitly rather than left to the server's default, because compatible servers differ in
    that default; `act` runs each call of a plan as its own task. Only with tools: OpenAI refuses the
    flag on a request that has none.
    """

    toolset: Literal["focused", "all"] = "focused"
    """What each request offers the model: the tools it likely needs first (`agent.toolsets`), or all."""
    nudge_to_look_up: ClassVar[bool] = True
    """A real model may answer without looking anything up; the graph reminds it once per turn."""
    served_model: ClassVar[bool] = True
    """Who asks and when go inside each request, and results come with an invitation to answer (`agent.graph`)."""

    def bind_tools(self, tools: Sequence[Any], *, parallel_tool_calls: bool | None = True,
                   **kwargs: Any) -> Runnable[Any, AIMessage]:
        return super().bind_tools(tools, parallel_tool_calls=parallel_tool_calls, **kwargs)


def chat_model(settings: Settings) -> ChatOpenAI:
    """Temperature 0 for repeatable plans; timeout, retries and reply length from the settings, because a
    small model on a CPU needs far longer than a hosted one, and a looping reply must end."""
    if settings.openai_api_key is None:
        raise ValueError("OPENAI_API_KEY is not set; without it the commander uses command mode")
    return PlannerChatOpenAI(model=settings.model, api_key=settings.openai_api_key,
                             base_url=settings.openai_base_url, temperature=0, max_retries=settings.model_retries,
                             timeout=settings.model_timeout, max_tokens=settings.model_max_tokens,
                             toolset=settings.toolset)
