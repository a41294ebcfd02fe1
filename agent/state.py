"""What flows through the graph: the conversation state, one `act` task, and the run context.

The state is checkpointed after every step, so it holds only plain data (messages, JSON dicts,
counters). Live objects — model, toolkit, policy, audit log, clock — travel in `RunContext`, which
each run receives from the Commander and which is never persisted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property
from typing import Annotated, Any, NotRequired

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AnyMessage, ToolCall
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool
from langgraph.graph.message import add_messages
from langgraph.managed import RemainingSteps
from typing_extensions import TypedDict

from agent.approvals import ApprovalPolicy
from agent.audit import AuditLog
from agent.redaction import Scrubber
from agent.toolsets import MORE_TOOLS_DEFINITION
from tools.clock import Clock
from tools.langchain_tools import definition
from tools.toolkit import Toolkit


class InputState(TypedDict):
    """What a caller may send: the new message(s) and who is asking."""

    messages: Annotated[list[AnyMessage], add_messages]
    requester: str


class State(InputState, total=False):
    """The whole conversation as checkpointed."""

    approvals: list[dict[str, Any]]
    """`ApprovalRequest` JSON for the calls of the last plan that wait for a person (built in `plan`, read by
    `review`; a plan with nothing to approve leaves it empty)."""
    refused: dict[str, str]
    """tool_call_id → why that call of the plan waiting in `review` will not run (policy denial, unknown tool,
    bad or unreadable arguments)."""
    settled: dict[str, str]
    """tool_call_id → the answer of a write of that plan that is already in place (an open incident for the same
    alert, an incident already resolved): it neither runs nor waits for anyone."""
    model_calls: int
    """Model calls in the current turn; a new human message starts the count again."""
    remaining_steps: RemainingSteps
    """Graph steps left before the recursion limit (managed by LangGraph, never stored)."""


class ActTask(TypedDict):
    """One call for `act`, sent on its own so a resume never re-runs a sibling that already finished."""

    call: ToolCall
    """The call to run, with the arguments a reviewer edited in, if any."""
    decision: dict[str, Any] | None
    """The `Decision` JSON that let it run; None when the policy runs it without asking."""
    requester: NotRequired[str]
    """Who asked: PagerDuty records them as the author of the write (tasks checkpointed before this
    field existed run as the configured `From`)."""
    proposed_at: NotRequired[str]
    """When the planner proposed the call (ISO 8601): nothing it writes can be older, so a replayed write
    looks in PagerDuty from here for what it already did."""


@dataclass(frozen=True, kw_only=True)
class RunContext:
    """Everything a run needs that is not conversation state (LangGraph's `context_schema`)."""

    model: BaseChatModel
    toolkit: Toolkit
    policy: ApprovalPolicy
    audit: AuditLog
    clock: Clock
    system_prompt: str
    max_model_calls: int
    approval_ttl: timedelta
    scrub: Scrubber = field(default_factory=Scrubber)
    """Masks configured secrets and token-shaped strings in what is stored or shown (model errors)."""
    focused_tools: bool = False
    """Offer the model the tools a request likely needs first (`agent.toolsets`) instead of all of them."""
    nudge_to_look_up: bool = False
    """Remind the model, once a turn each, to call a tool when it answered without looking anything up, or
    looked up and stopped short of the change asked for (what small served models do; `agent.reminders`);
    off for planners that only follow a script or a grammar."""
    served_model: bool = False
    """A model served over HTTP: it reads who asks and when inside each request, not in a system message
    after the conversation (which small models repeat as their answer), and is invited to answer once
    results are in (`graph._ask`)."""
    answers_from_code: bool = False
    """The planner's answers are written by code from the tool results (command mode), so they need no
    grounding (`agent.grounding`)."""

    def planner_for(self, names: Sequence[str] | None = None) -> Runnable[Any, AIMessage]:
        """The model with these tools bound (all when None; a subset also offers `more_tools`), in their lean
        definitions; each set is bound once, so a step does not pay for turning schemas into JSON again.

        The model is never forced to call a tool (`tool_choice: required`): llama.cpp's constrained reply
        for Qwen models ran to `max_tokens` without a call, where a reminder in words gets one."""
        key = None if names is None else tuple(names)
        if key not in self._planners:
            tools = self.toolkit.tools if names is None else [self.tools[name] for name in names]
            definitions = [definition(t) for t in tools] + ([] if names is None else [MORE_TOOLS_DEFINITION])
            self._planners[key] = self.model.bind_tools(definitions)
        return self._planners[key]

    @cached_property
    def _planners(self) -> dict[tuple[str, ...] | None, Runnable[Any, AIMessage]]:
        return {}

    @cached_property
    def tools(self) -> dict[str, BaseTool]:
        """The toolkit's tools by name."""
        return {t.name: t for t in self.toolkit.tools}
