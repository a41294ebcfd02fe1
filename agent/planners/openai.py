"""The LLM planner: `ChatOpenAI` for OpenAI or any OpenAI-compatible server (vLLM, Ollama, llama.cpp)."""

from __future__ import annotations

from langchain_openai import ChatOpenAI

from agent.settings import Settings


def chat_model(settings: Settings) -> ChatOpenAI:
    """Temperature 0 for repeatable plans; the API's default allows parallel tool calls, which `act` runs
    as separate tasks."""
    if settings.openai_api_key is None:
        raise ValueError("OPENAI_API_KEY is not set; without it the commander uses command mode")
    return ChatOpenAI(model=settings.model, api_key=settings.openai_api_key, base_url=settings.openai_base_url,
                      temperature=0, max_retries=2, timeout=60)
