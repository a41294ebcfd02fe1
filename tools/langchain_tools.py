"""The toolkit's tools as LangChain tools: the one module of `tools` that loads LangChain.

Loading LangChain costs a process about a second, which a read answered outside the graph does not pay.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from langchain_core.runnables import RunnableConfig
from langchain_core.tools import BaseTool, InjectedToolCallId, StructuredTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import ValidationError

from tools.definitions import lean
from tools.registry import TOOLS

Invoke = Callable[[str, dict[str, Any], dict[str, Any], "str | None"], str]
"""(tool name, validated arguments, the run's `configurable`, tool-call id) → the result text."""


def structured_tool(name: str, description: str, metadata: dict[str, Any], invoke: Invoke, *, keyed: bool,
                    refusal: Callable[[ValidationError], str]) -> StructuredTool:
    """One tool: its schema checks the arguments (`refusal` says what is wrong, as an "Error: …" result),
    `invoke` runs it, and a `keyed` tool also receives its call id (its idempotency key comes from it)."""
    def run(config: RunnableConfig, **args: Any) -> str:
        return invoke(name, args, config.get("configurable") or {}, None)

    def run_keyed(config: RunnableConfig, tool_call_id: Annotated[str, InjectedToolCallId], **args: Any) -> str:
        return invoke(name, args, config.get("configurable") or {}, tool_call_id)

    return StructuredTool(name=name, description=description, args_schema=TOOLS[name].args,
                          func=run_keyed if keyed else run, metadata=metadata,
                          handle_validation_error=lambda error: "Error: " + refusal(error), handle_tool_error=True)


def definition(tool: BaseTool | dict[str, Any]) -> dict[str, Any]:
    """The OpenAI function definition of `tool`, lean (see `tools.definitions`)."""
    spec = convert_to_openai_tool(tool)
    function = spec["function"]
    return {"type": "function", "function": {**function, "parameters": lean(function.get("parameters", {}))}}
