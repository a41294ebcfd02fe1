"""What becomes of each call a planner proposes: it runs, it waits for a person, or it is refused.

The approval step's rules in one place, applied to one model reply, in this order:

1. a call is refused when it cannot be told apart from its siblings (no id, or a shared one: a decision
   could land on the wrong call), its arguments are beyond anything PagerDuty accepts or unreadable, it
   names no tool, its arguments fail the tool's schema, or the policy denies its tool;
2. a call the policy runs without asking runs;
3. a call that needs approval is first made absolute (`Toolkit.pinned`: relative times and "the next
   level" fixed as the card will show them), then checked against PagerDuty as it stands, by the tool's
   precondition (`Toolkit.precheck`). One that cannot run is refused with the tool's own error and nobody
   is asked; one already in place is answered with what is there and nothing is sent; only one that would
   run as shown becomes an `ApprovalRequest`, with the sentence a person reads (`Toolkit.describe`).

Requests are built here, once per model reply, not in `review`, which runs again on every resume: the
nonce and expiry a person sees are the ones checked when they decide. Every refusal, settled call and
request is recorded in the audit log.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from langchain_core.messages import AIMessage, InvalidToolCall, ToolCall

from agent.approvals import ApprovalRequest, denial_text
from agent.audit import AUTO
from agent.redaction import redacted, scrubbed
from agent.state import RunContext
from agent.toolsets import MORE_TOOLS


@dataclass
class Screened:
    """A plan's calls that do not simply run, by tool-call id."""

    refused: dict[str, str] = field(default_factory=dict)
    """Why the call will not run (what the planner reads)."""
    settled: dict[str, str] = field(default_factory=dict)
    """The answer of a write already in place: it neither runs nor waits for anyone."""
    approvals: list[dict[str, Any]] = field(default_factory=list)
    """`ApprovalRequest` JSON for the calls that wait for a person."""


def screen(ctx: RunContext, reply: AIMessage, *, thread_id: str, requester: str,
           oversized: dict[str, str], left_out: dict[str, list[str]]) -> Screened:
    """Sort the calls of `reply`; `oversized` holds the refusals of calls whose arguments were too big to keep,
    `left_out` the optional arguments taken out of calls because the request did not state them."""
    screened = Screened()
    for bad in reply.invalid_tool_calls:
        screened.refused[bad["id"] or ""] = unreadable(bad)
        ctx.audit.record(at=ctx.clock.now(), thread_id=thread_id, actor=AUTO, action="refused",
                         tool=bad["name"], outcome=screened.refused[bad["id"] or ""])
    ids = Counter(call["id"] for call in [*reply.tool_calls, *reply.invalid_tool_calls])
    for call in reply.tool_calls:
        if call["name"] != MORE_TOOLS:  # answered by the graph: the next step offers every tool
            refusal = oversized.get(call["id"] or "") or _unidentified(call, ids)
            unstated = left_out.get(call["id"] or "", [])
            _screen_call(ctx, screened, call, refusal, unstated, thread_id=thread_id, requester=requester)
    return screened


def _screen_call(ctx: RunContext, screened: Screened, proposed: ToolCall, refusal: str | None,
                 unstated: list[str], *, thread_id: str, requester: str) -> None:
    call, ignored = _tidied(ctx, proposed)
    refusal = refusal or _refusal(ctx, call["name"], call["args"])
    if refusal is None and ctx.policy.rule(ctx.tools[call["name"]]) == "approve":
        call = {**call, "args": ctx.toolkit.pinned(call["name"], call["args"])}  # times as the card shows them
        check = ctx.toolkit.precheck(call["name"], call["args"], requester=requester)
        if check.outcome == "runs":
            _ask(ctx, screened, call, ignored, unstated, thread_id=thread_id, requester=requester)
            return
        if check.outcome == "settled":
            screened.settled[call["id"] or ""] = check.text
            ctx.audit.record(at=ctx.clock.now(), thread_id=thread_id, actor=AUTO, action="tool_call",
                             tool=call["name"], arguments=redacted(call["args"]),
                             outcome="already done; nobody was asked and nothing was sent")
            return
        refusal = check.text
    if refusal is not None:
        screened.refused[call["id"] or ""] = refusal
        ctx.audit.record(at=ctx.clock.now(), thread_id=thread_id, actor=AUTO, action="refused",
                         tool=call["name"], arguments=redacted(call["args"]), outcome=scrubbed(refusal, call["args"]))


def _ask(ctx: RunContext, screened: Screened, call: ToolCall, ignored: list[str], unstated: list[str], *,
         thread_id: str, requester: str) -> None:
    """The request a person answers for `call`: its arguments as the tool reads them, secrets masked."""
    arguments = ctx.toolkit.validate(call["name"], call["args"])
    summary = ctx.toolkit.describe(call["name"], call["args"])
    request = ApprovalRequest.new(
        thread_id=thread_id, tool_call_id=call["id"] or "", tool=call["name"], arguments=redacted(arguments),
        summary=scrubbed(summary + _left_out(ignored) + _unstated(unstated), arguments),
        names=ctx.toolkit.names(arguments),
        risk=ctx.policy.risk_of(call["name"], call["args"]), requester=requester, now=ctx.clock.now(),
        ttl=ctx.approval_ttl)
    screened.approvals.append(request.model_dump(mode="json"))
    ctx.audit.record(at=request.created_at, thread_id=thread_id, actor=requester, action="approval_requested",
                     tool=request.tool, arguments=request.arguments, outcome=f"{request.id}: {request.summary}")


def not_taken(ctx: RunContext, call: ToolCall) -> dict[str, Any]:
    """The arguments of a call that its tool does not take."""
    return {key: call["args"][key] for key in _tidied(ctx, call)[1]}


def _tidied(ctx: RunContext, call: ToolCall) -> tuple[ToolCall, list[str]]:
    """The call without arguments its tool does not take (named, to say so) or that only say "default"."""
    if call["name"] not in ctx.tools:
        return call, []
    args, ignored = ctx.toolkit.tidy(call["name"], call["args"])
    return {**call, "args": args}, ignored


def _left_out(ignored: list[str]) -> str:
    """What an approval card says about arguments the model added that the change does not take."""
    if not ignored:
        return ""
    names = ", ".join(repr(name) for name in ignored)
    return f" (Left out {names}: not part of this change.)"


def _unstated(names: list[str]) -> str:
    """What an approval card says about optional arguments the model filled in that the request never stated."""
    if not names:
        return ""
    shown = ", ".join(name.replace("_", " ") for name in names)
    return f" (Left out {shown}: the request did not say.)"


def _unidentified(call: ToolCall, ids: Counter) -> str | None:
    """Why a call cannot be told apart from the others of its reply (no id, or one it shares), or None."""
    if call["id"] and ids[call["id"]] == 1:
        return None
    why = ("has no call id" if not call["id"]
           else f"shares its call id {call['id']!r} with another call of the same reply")
    return (f"Error: {call['name']} was not called because it {why}, and each call needs its own id to be "
            "approved and run. Nothing was sent to PagerDuty. Next: call it again, one id per call.")


def _refusal(ctx: RunContext, name: str, args: dict[str, Any]) -> str | None:
    """Why a call must not run, or None: unknown tool, arguments that fail validation, or a policy denial."""
    if name not in ctx.tools:
        return f"Error: there is no tool named {name!r}. Available tools: {', '.join(sorted(ctx.tools))}."
    try:
        ctx.toolkit.validate(name, args)
    except ValueError as exc:
        return f"Error: {name} was not called because its arguments are invalid: {exc}"
    if ctx.policy.rule(ctx.tools[name]) == "deny":
        return denial_text(ctx.policy, name)
    return None


def unreadable(call: InvalidToolCall) -> str:
    """What the planner reads about a call whose arguments did not parse (models do send broken JSON)."""
    return (f"Error: {call['name'] or 'the tool'} was not called because its arguments are not valid JSON "
            f"(received {(call['args'] or '')[:200]!r}). Nothing was sent to PagerDuty. "
            "Next: call it again with a JSON object of arguments.")
