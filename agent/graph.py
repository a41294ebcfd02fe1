"""The graph: plan → review → act → plan, until the planner answers without tool calls.

- `plan` calls the model, and `agent.screening` sorts its tool calls: refused (the planner reads why),
  already in place (the planner reads what is there), waiting for a person (an approval request, built
  once per model reply and kept in the state, so the nonce and expiry a person sees are the ones checked
  when they decide), or run at once. A plan with nothing to approve skips `review`: one checkpoint less
  per step.
- Who asked travels with each `act` task and reaches the tool in its run config: PagerDuty records
  that person as the author of the write (its `From`); the approver is recorded as approver.
- `review` does nothing but ask: one `interrupt()` with every request of the plan, then it maps the
  answers. Rejected, denied and malformed calls become error ToolMessages the planner reads.
- Decisions are matched to calls by tool-call id, so a call whose id is missing or shared with another
  call of the same reply is refused (some servers and planners send such replies): a rejection could
  otherwise land on one call and let its twin run.
- Secret arguments (an integration key) reach approval requests, the audit log and progress events
  masked (`agent.redaction`); the tool runs with the real value, which lives in the planner's tool call.
- An approved call runs with the arguments its request shows: the request's times and escalation level
  are pinned when it is built, so a late approval cannot move the cover and a resumed one cannot
  escalate a second level.
- `act` runs one call per task (`Send`), so a resume re-runs only the calls that had not finished.

A model that fails (endpoint down, garbled reply) stops the run in `plan` with `PlanningFailed`,
whose message says what to check; the checkpoint stays resumable.

Limits end a turn with a plain "Could not finish: …" answer, never an exception: a cap on model calls
per turn, and the recursion limit (checked through `remaining_steps` before it can be hit).
"""

from __future__ import annotations

from typing import Any, Literal

from langchain_core.messages import AIMessage, HumanMessage, InvalidToolCall, SystemMessage, ToolCall, ToolMessage
from langchain_core.runnables import RunnableConfig, patch_config
from langchain_core.tools import BaseTool
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.config import get_stream_writer
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.runtime import Runtime
from langgraph.types import Command, Send, interrupt

from agent.approvals import ApprovalRequest, Decision, edit_notice, rejection_text
from agent.audit import AUTO
from agent.grounding import changes_of, grounded, receipt, rejected_of, this_turn
from agent.planners.failures import PlanningFailed, explain
from agent.redaction import redacted, restored, scrubbed
from agent.reminders import reminder
from agent.repair import repaired
from agent.screening import not_taken, screen
from agent.served import ASKED, served
from agent.state import ActTask, InputState, RunContext, State
from agent.stated import unstated
from agent.toolsets import MORE_TOOLS, MORE_TOOLS_REPLY, asked_for_more, offered, requests_of
from tools.toolkit import REQUESTER

MAX_CALLS_PER_REPLY = 10  # a bulk change is one call with a list; more calls than this in one reply is a loop
STEPS_PER_ROUND = 3  # review, act, plan: what one more round of tool calls costs


def plan(state: State, runtime: Runtime[RunContext],
         config: RunnableConfig) -> Command[str]:  # goes to review, act, plan or END
    """Ask the model for the next step, then sort its tool calls (`agent.screening`).

    A plan that needs nobody's approval goes straight to `act` (or back here when every call was
    refused): `review` only runs when there is something to ask.
    """
    ctx = runtime.context
    messages = state["messages"]
    calls = 1 if isinstance(messages[-1], HumanMessage) else state.get("model_calls", 0) + 1
    if limit := _limit_reached(ctx, state, calls):
        return _finish(ctx, messages, limit)
    thread_id = config["configurable"]["thread_id"]
    stamped = _stamped(ctx, messages, state["requester"])
    messages = [*messages[:-1], *stamped] if stamped else messages
    reply = _capped(ctx, thread_id, _repaired(ctx, thread_id, _ask(ctx, messages, state["requester"], config)))
    reply, oversized = _bounded(reply, ctx)
    reply, left_out = _stated_only(ctx, thread_id, reply, messages, state["requester"])
    update: dict[str, Any] = {"messages": [*stamped, reply], "model_calls": calls}
    if state.get("approvals") or state.get("refused") or state.get("settled"):
        update |= {"approvals": [], "refused": {}, "settled": {}}
    if not isinstance(reply, AIMessage) or not (reply.tool_calls or reply.invalid_tool_calls):
        return _answered(ctx, messages, reply, update, stamped)
    screened = screen(ctx, reply, thread_id=thread_id, requester=state["requester"], oversized=oversized,
                      left_out=left_out)
    if screened.approvals:
        return Command(goto="review", update=update | {"approvals": screened.approvals, "refused": screened.refused,
                                                       "settled": screened.settled})
    replies, sends = _route(reply, {}, screened.refused, {}, screened.settled, state["requester"],
                            ctx.clock.now().isoformat())
    return Command(goto=sends or "plan", update=update | {"messages": [*stamped, reply, *replies]})


def _answered(ctx: RunContext, messages: list[Any], reply: Any, update: dict[str, Any],
              stamped: list[HumanMessage]) -> Command:
    """A reply without tool calls ends the turn, unless it draws a reminder (`agent.reminders`)."""
    nudge = reminder(messages, reply, _offer(ctx, messages)) if ctx.nudge_to_look_up else None
    if nudge is not None:
        return Command(goto="plan", update=update | {"messages": [*stamped, reply, nudge]})
    return Command(goto=END, update=update | {"messages": [*stamped, _answer(ctx, messages, reply)]})


def _stamped(ctx: RunContext, messages: list[Any], requester: str) -> list[HumanMessage]:
    """The turn's request with who asked and when recorded on it, once, when its turn starts ([] otherwise)."""
    request = messages[-1]
    if not ctx.served_model or not isinstance(request, HumanMessage) or ASKED in request.additional_kwargs:
        return []
    asked = {"by": requester, "at": f"{ctx.clock.now():%Y-%m-%d %H:%M}"}
    return [request.model_copy(update={"additional_kwargs": {**request.additional_kwargs, ASKED: asked}})]


def _ask(ctx: RunContext, messages: list[Any], requester: str, config: RunnableConfig) -> AIMessage:
    """One model call, prefix-stable: the fixed system prompt and tool definitions come first and the
    conversation after them, unchanged from the last call, so a server's prompt cache (llama.cpp, vLLM,
    OpenAI) keeps it all. A served model reads the conversation as `agent.served` lays it out, who asks and
    when as recorded when its turn started (`_stamped`); each tool result ends with an invitation to answer
    (without it the 1.5B Qwen replied with nothing, or with a call made up from no need).
    Other planners read who asks and when in a last system message."""
    if ctx.served_model:
        sent = [SystemMessage(ctx.system_prompt), *served(messages, ctx.clock.now())]
    else:
        context = SystemMessage(f"Requester: {requester}\nCurrent time: {ctx.clock.now():%Y-%m-%d %H:%M} UTC")
        sent = [SystemMessage(ctx.system_prompt), *messages, context]
    try:
        reply = ctx.planner_for(_offer(ctx, messages)).invoke(sent, config)
    except Exception as exc:  # an outside service: the run stops here, resumable, with a reason people can act on
        raise PlanningFailed(ctx.scrub(explain(exc))) from None  # the cause may quote the key back
    return reply


def _offer(ctx: RunContext, messages: list[Any]) -> list[str] | None:
    """The tools this step offers the model (None: all of them)."""
    if not ctx.focused_tools:
        return None
    return offered(requests_of(messages), list(ctx.tools), everything=asked_for_more(this_turn(messages)))


def _repaired(ctx: RunContext, thread_id: str, reply: Any) -> Any:
    """The reply with a tool call written as text read as that call, recorded in the audit as repaired."""
    if not isinstance(reply, AIMessage):
        return reply
    reply, form = repaired(reply, {*ctx.tools, MORE_TOOLS})
    for call in reply.tool_calls if form else []:
        ctx.audit.record(at=ctx.clock.now(), thread_id=thread_id, actor=AUTO, action="repaired", tool=call["name"],
                         arguments=redacted(call["args"]), outcome=f"the model wrote this call as {form}")
    return reply


def _stated_only(ctx: RunContext, thread_id: str, reply: Any, messages: list[Any],
                 requester: str) -> tuple[Any, dict[str, list[str]]]:
    """The reply without optional arguments nobody stated (`agent.stated`), each left out in the audit; by
    call id, the names left out, for the approval card. A grammar's calls hold only what the person typed."""
    if ctx.answers_from_code or not isinstance(reply, AIMessage) or not reply.tool_calls:
        return reply, {}
    calls, left_out = [], {}
    for call in reply.tool_calls:
        if dropped := unstated(call["name"], call["args"], messages, ctx.toolkit.aliases, requester):
            ctx.audit.record(at=ctx.clock.now(), thread_id=thread_id, actor=AUTO, action="repaired",
                             tool=call["name"], arguments=redacted(dropped),
                             outcome=f"left out {', '.join(dropped)}: the request did not state them")
            left_out[call["id"] or ""] = list(dropped)
            call = {**call, "args": {k: v for k, v in call["args"].items() if k not in dropped}}
        calls.append(call)
    return (reply.model_copy(update={"tool_calls": calls}) if left_out else reply), left_out


def _answer(ctx: RunContext, messages: list[Any], reply: Any) -> Any:
    """The turn's answer as people read it: a model's words checked against what ran, with a receipt last.
    A planner whose answers code writes from the results (command mode) needs neither."""
    if ctx.answers_from_code or not isinstance(reply, AIMessage):
        return reply
    text = grounded(reply.text, [*messages, reply], lambda name: _is_write(ctx, name))
    return reply.model_copy(update={"content": text})


def review(state: State, runtime: Runtime[RunContext]) -> Command[Literal["act", "plan"]]:
    """Ask once for every pending approval, then route each call. Pure: it re-runs on every resume."""
    requests = [ApprovalRequest.model_validate(a) for a in state["approvals"]]
    answers: dict[str, Any] = interrupt([r.model_dump(mode="json") for r in requests])
    decisions = {r.tool_call_id: Decision.model_validate(answers[r.id]) for r in requests}
    last = state["messages"][-1]
    assert isinstance(last, AIMessage), "review runs only after a plan with tool calls"
    calls = {call["id"]: call for call in last.tool_calls}
    # Arguments the tool does not take ride along to `act`, which leaves them out again and says so.
    approved = {r.tool_call_id: r.arguments | not_taken(runtime.context, calls[r.tool_call_id]) for r in requests}
    proposed_at = min(r.created_at for r in requests).isoformat()
    replies, sends = _route(last, decisions, state.get("refused", {}), approved, state.get("settled", {}),
                            state["requester"], proposed_at)
    return Command(goto=sends or "plan", update={"messages": replies})


def _route(plan: AIMessage, decisions: dict[str, Decision], refused: dict[str, str],
           approved: dict[str, dict[str, Any]], settled: dict[str, str],
           requester: str, proposed_at: str) -> tuple[list[ToolMessage], list[Send]]:
    """Each call of a plan becomes a reply (refused, rejected, or already done) or an `act` task (with the
    decision that let it run, who asked: PagerDuty records them as the author, and when it was proposed).
    An approved call runs with the arguments its request showed (times pinned when it was proposed), an
    edited one with the edit; secrets come back from the call."""
    replies = [_error(bad, refused[bad["id"] or ""]) for bad in plan.invalid_tool_calls]
    sends: list[Send] = []
    for call in plan.tool_calls:
        decision = decisions.get(call["id"] or "")
        if call["name"] == MORE_TOOLS:
            replies.append(ToolMessage(MORE_TOOLS_REPLY, tool_call_id=call["id"] or "", name=MORE_TOOLS))
        elif (call["id"] or "") in refused:
            replies.append(_error(call, refused[call["id"] or ""]))
        elif (call["id"] or "") in settled:
            replies.append(ToolMessage(settled[call["id"] or ""], tool_call_id=call["id"] or "", name=call["name"]))
        elif decision is not None and decision.verdict == "reject":
            replies.append(_error(call, rejection_text(decision)))
        else:
            edited = decision.arguments if decision is not None else None
            runs = edited if edited is not None else approved.get(call["id"] or "")
            args = call["args"] if runs is None else restored(runs, call["args"])
            sends.append(Send("act", ActTask(call={**call, "args": args}, requester=requester,
                                             proposed_at=proposed_at,
                                             decision=decision.model_dump(mode="json") if decision else None)))
    return replies, sends


def act(task: ActTask, runtime: Runtime[RunContext], config: RunnableConfig) -> dict[str, Any]:
    """Run one call and record it.

    PagerDuty's refusals come back from the tools as "Error: …" text. Anything a write raises beyond
    that (a crash mid-request) stops the run here, and a resume retries it with the same tool-call id,
    which keeps `create_incident` idempotent; a read that raises is reported to the planner instead.
    """
    ctx = runtime.context
    # The arguments as the tool reads them: what the approver saw, and what the audit records.
    args, ignored = ctx.toolkit.tidy(task["call"]["name"], task["call"]["args"])
    call: ToolCall = {**task["call"], "args": ctx.toolkit.validate(task["call"]["name"], args)}
    tool = ctx.tools[call["name"]]
    decision = Decision.model_validate(task["decision"]) if task["decision"] else None
    actor = decision.approver if decision else AUTO
    thread_id = config["configurable"]["thread_id"]
    emit = get_stream_writer()
    shown = redacted(call["args"])
    emit({"kind": "tool_started", "tool": call["name"], "call_id": call["id"], "arguments": shown})

    def audit(action: Literal["api_write", "tool_call"], outcome: str) -> None:
        ctx.audit.record(at=ctx.clock.now(), thread_id=thread_id, actor=actor, action=action,
                         tool=call["name"], arguments=shown, outcome=scrubbed(outcome, call["args"]))

    if _kind(tool) != "read":  # so that a crash mid-write still leaves a trace of the attempt
        audit("api_write", "sending to PagerDuty")
    try:
        result = tool.invoke({**call, "type": "tool_call"}, patch_config(config, configurable={  # proposed_at:
            REQUESTER: task.get("requester"), "proposed_at": task.get("proposed_at")}))  # where a replay looks
    except Exception as exc:
        if _kind(tool) != "read":
            audit("tool_call", f"failed, not confirmed by PagerDuty: {exc}")
            raise
        result = ToolMessage(f"Error: {exc}", tool_call_id=call["id"], name=call["name"], status="error")
    ok = result.status != "error" and not result.text.lstrip().startswith("Error")
    first_line = (result.text.strip().removeprefix("Error:").strip().splitlines() or [""])[0]
    audit("tool_call", "ok" if ok else f"error: {first_line[:300]}")
    emit({"kind": "tool_finished", "tool": call["name"], "call_id": call["id"], "ok": ok,
          "result": scrubbed(result.text, call["args"])})
    if decision is not None and decision.verdict == "edit":
        result = result.model_copy(update={"content": edit_notice(decision) + result.text})
    if ignored:
        result = result.model_copy(update={"content": _ignored_notice(tool, ignored) + result.text})
    return {"messages": [result]}


def _ignored_notice(tool: BaseTool, ignored: list[str]) -> str:
    """The first line of a result whose call carried arguments the tool does not take, or that its action
    does not use (a resolution with an acknowledge); the rest ran."""
    unknown = [key for key in ignored if key not in tool.args]
    unused = [key for key in ignored if key in tool.args]
    notes = []
    if unknown:
        takes = ", ".join(tool.args) or "no arguments"
        notes.append(f"Note: ignored {', '.join(map(repr, unknown))}, which {tool.name} does not take ({takes}).")
    if unused:
        notes.append(f"Note: ignored {', '.join(map(repr, unused))}, which this action does not use.")
    return "".join(f"{note}\n" for note in notes)


Graph = CompiledStateGraph[State, RunContext, InputState, State]


def build_graph(checkpointer: BaseCheckpointSaver | None = None) -> Graph:
    """The compiled graph; the model, tools and policy come with each run as `RunContext`."""
    builder = StateGraph(State, context_schema=RunContext, input_schema=InputState)
    # LangGraph's node protocols have no (state, runtime, config) shape, though it calls nodes so at run time.
    builder.add_node("plan", plan, destinations=("review", "act", "plan", END))  # type: ignore[call-overload]
    builder.add_node("review", review, destinations=("act", "plan"))
    builder.add_node("act", act, input_schema=ActTask)  # type: ignore[call-overload]
    builder.add_edge(START, "plan")
    builder.add_edge("act", "plan")
    return builder.compile(checkpointer=checkpointer, name="incident-commander")


def _limit_reached(ctx: RunContext, state: State, calls: int) -> str | None:
    """Why this request may not plan again (the model-call budget or the graph's step limit), or None."""
    if calls > ctx.max_model_calls:
        return f"it needed more than {ctx.max_model_calls} planning steps"
    if state["remaining_steps"] <= STEPS_PER_ROUND:
        return "it reached the step limit for one request"
    return None


def _finish(ctx: RunContext, messages: list[Any], why: str) -> Command:
    """End the turn with a plain answer that says what already changed."""
    turn = this_turn(messages)
    changes = changes_of(turn, lambda name: _is_write(ctx, name))
    text = f"Could not finish: {why}, so I stopped.\n\n{receipt(changes, rejected_of(turn))}"
    return Command(goto=END, update={"messages": [AIMessage(text)], "approvals": [], "refused": {}, "settled": {}})


def _capped(ctx: RunContext, thread_id: str, reply: Any) -> Any:
    """The reply with at most `MAX_CALLS_PER_REPLY` calls, the rest left out and audited: the 0.5B Qwen once
    wrote 137 lookups in one reply, whose results overflowed the server's context."""
    if not isinstance(reply, AIMessage) or len(reply.tool_calls) <= MAX_CALLS_PER_REPLY:
        return reply
    extra = reply.tool_calls[MAX_CALLS_PER_REPLY:]
    ctx.audit.record(at=ctx.clock.now(), thread_id=thread_id, actor=AUTO, action="refused", tool=extra[0]["name"],
                     outcome=f"left out {len(extra)} more calls of one reply: at most {MAX_CALLS_PER_REPLY} run "
                             "per step")
    return reply.model_copy(update={"tool_calls": reply.tool_calls[:MAX_CALLS_PER_REPLY]})


def _bounded(reply: Any, ctx: RunContext) -> tuple[Any, dict[str, str]]:
    """The reply as it can be checkpointed: a call whose arguments exceed what PagerDuty accepts keeps its
    place without them (an integer past 64 bits or deep nesting cannot be stored, and the thread would be
    stuck), and the refusal the planner reads says why."""
    if not isinstance(reply, AIMessage):
        return reply, {}
    refusals: dict[str, str] = {}
    calls = []
    for call in reply.tool_calls:
        if (problem := ctx.toolkit.beyond_limits(call["args"])) is not None:
            refusals[call["id"] or ""] = (f"Error: {call['name']} was not called because {problem}; PagerDuty accepts "
                                          "nothing like it. Nothing was sent to PagerDuty. Next: call it again "
                                          "with values in range.")
            call = {**call, "args": {}}
        calls.append(call)
    return (reply.model_copy(update={"tool_calls": calls}) if refusals else reply), refusals


def _is_write(ctx: RunContext, name: str) -> bool:
    return name in ctx.tools and _kind(ctx.tools[name]) != "read"


def _kind(tool: BaseTool) -> str:
    return (tool.metadata or {}).get("kind", "write")


def _error(call: ToolCall | InvalidToolCall, text: str) -> ToolMessage:
    return ToolMessage(text, tool_call_id=call["id"] or "", name=call["name"], status="error")

