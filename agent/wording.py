"""What the surfaces show people, in the agent's words: tool results, names, times and lengths.

Surfaces take these from here rather than from the planners or the tools, so how a thing is said to a
person stays one decision of the agent's, and the surfaces stay on its public API.
"""

from agent.planners.answers import ToolResult, name_of, oncall_line, when
from tools.timeparse import human, span

__all__ = ["ToolResult", "human", "name_of", "oncall_line", "span", "when"]
