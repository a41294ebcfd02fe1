"""What a turn shows while it runs and how it ends, as plain data every surface reads (`ProgressEvent`,
`Turn`): the same whether the graph ran the turn or a quick read answered it (`agent.reads`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel

from agent.approvals import ApprovalRequest, is_rejection
from agent.planners.answers import ToolResult
from agent.planners.turns import NOT_UNDERSTOOD, REFUSED
from tools.toolkit import is_setup_problem

Problem = Literal["failed", "not_understood", "setup"]
"""What went wrong in a turn: its last step failed or was refused; the request was not understood; or
PagerDuty (or the model) cannot be used as configured — bad key, unreachable host, no From user."""

EventKind = Literal["tool_started", "tool_finished", "rate_limit_wait", "retry_wait", "approval_needed",
                    "decision_recorded", "notice", "answer", "failed"]


class ProgressEvent(BaseModel):
    """Something to show while a turn runs; `answer` and `failed` end a turn."""

    kind: EventKind
    message: str
    tool: str | None = None
    seconds: float | None = None
    ok: bool | None = None
    approval: ApprovalRequest | None = None
    arguments: dict[str, Any] | None = None
    """`tool_started`: the call's arguments, for surfaces that show what runs."""
    problem: Problem | None = None
    """`answer` and `failed`: what went wrong, if anything (surfaces turn it into exit codes or a mark)."""
    resumable: bool = False
    """`failed`: the run stopped where a resume carries it on; each surface says how to resume there."""
    result: str | None = None
    """`tool_finished`: the tool's output (compact JSON or an "Error: …" paragraph), for surfaces that draw
    tables or charts from the data rather than from the answer's sentences."""


class Turn(BaseModel):
    """The outcome of `send`, `decide` or `resume`.

    `answered`: `text` is the reply. `waiting`: `pending` lists the approvals still undecided.
    `failed`: the run stopped before finishing; `text` says what happened and `resume` retries it.
    """

    thread_id: str
    status: Literal["answered", "waiting", "failed"]
    text: str
    pending: list[ApprovalRequest] = []
    events: list[ProgressEvent] = []


def problem_of(outcome: str | None, last_round: Sequence[ToolResult]) -> Problem | None:
    """What went wrong in the step that ended a turn: the reply says the request was not understood or refused
    (`outcome`), or the tool calls it answers (`last_round`) failed — for PagerDuty's settings, or not. A
    person's rejection is a decision, not a failure."""
    if outcome in (NOT_UNDERSTOOD, REFUSED):
        return "not_understood" if outcome == NOT_UNDERSTOOD else "failed"
    failed = [r.content for r in last_round if r.error and not is_rejection(r.content)]
    if any(map(is_setup_problem, failed)):
        return "setup"
    return "failed" if failed else None
