"""What the surfaces show people, in the agent's words: tool results, names, times and lengths.

Surfaces take these from here rather than from the planners or the tools, so how a thing is said to a
person stays one decision of the agent's, and the surfaces stay on its public API. Times are said in the
person's zone (`in_zone`, from `IC_TIME_ZONE`) with UTC beside them.
"""

from __future__ import annotations

import json
from typing import Any

from agent.approvals import ApprovalRequest
from agent.planners.answers import ToolResult, in_zone, name_of, oncall_line, when
from tools.timeparse import span

__all__ = ["ToolResult", "arguments_for_people", "in_zone", "name_of", "oncall_line", "span", "when"]


def arguments_for_people(request: ApprovalRequest) -> list[tuple[str, str]]:
    """Each argument of a request as people read it: its name in words, and its value with what it names
    (name and id in brackets) — 'service', 'API Gateway (P567AF0)'; 'action', 'set urgency'."""
    def shown(value: Any) -> str:
        if isinstance(value, list):
            return ", ".join(map(shown, value))
        if not isinstance(value, str):
            return json.dumps(value, ensure_ascii=False)
        return request.names.get(value) or when(value)  # an ISO moment in the person's zone, UTC beside it

    return [(field.replace("_", " "), shown(value).replace("_", " ") if field == "action" else shown(value))
            for field, value in request.arguments.items()]
