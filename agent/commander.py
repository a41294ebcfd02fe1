"""`Commander`: the one API every surface uses (Slack, notebook, terminal, evals).

It owns the compiled graph, the checkpointer, the PagerDuty clients, and the audit log, the decision
ledger and the run leases (one SQLite file), and speaks only in its own plain types — `Turn`,
`ProgressEvent`, `ApprovalRequest` — so no surface touches LangGraph.

Approvals in a batch: one plan can ask for several approvals at once (one `interrupt`). Each decision
is stored as it arrives (in the audit database, so another process can add the next one) and
nothing runs until every request of the batch is decided; the last decision resumes the graph with
all the answers, and exactly one process gets to do that. A rejection is accepted after expiry (it
changes nothing), an approval or edit is not. A new message on a thread that is waiting for
decisions, whose decided batch has not run yet, or whose last run stopped on an error, is not run:
the turn says what to do first.

`resume` claims the run too, for a lease (`RESUME_LEASE`): while the process that claimed it may still be
carrying out the approved writes, another resume is refused rather than sending them twice; once the
lease has run out, or the claimer is seen to have exited on this host, a resume takes over. A claim ends
when its run ends in the claiming process.

Every run is durable after each step (`durability="sync"`): any turn may write to PagerDuty, and a
resume must start from the step that really happened last.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.config import get_stream_writer
from langgraph.errors import GraphRecursionError
from langgraph.types import Command

from agent.approvals import ApprovalError, ApprovalRequest, Decision, Verdict
from agent.audit import AuditEntry, ThreadInfo
from agent.events import Problem, ProgressEvent, Turn, problem_of
from agent.graph import build_graph
from agent.leases import RunLeases
from agent.ledger import DecisionLedger
from agent.planners.answers import ToolResult, for_people
from agent.planners.failures import PlanningFailed
from agent.reads import QuickTurns, readable
from agent.redaction import SECRET_ARGUMENTS
from agent.settings import Settings
from agent.state import RunContext
from agent.wiring import Wiring
from prompts import system_prompt
from tools.client import WaitKind
from tools.clock import Clock
from tools.clock import SystemClock as SystemClock  # the real clock, for surfaces that take one
from tools.errors import ConfigurationError, NetworkError, PagerDutyError, Unauthorized, UnconfirmedWrite
from tools.settings import PagerDutySettings
from tools.toolkit import InvalidArguments, step

# How long a claim on a run keeps other resumes out. A claimer still alive may be inside one write that
# takes up to PAGERDUTY_MAX_WAIT (120 s by default) of waits plus PAGERDUTY_MAX_ATTEMPTS (5) requests of
# PAGERDUTY_TIMEOUT (30 s) each, about 4.5 minutes, and then plans and writes on; 15 minutes leaves ample
# margin, yet lets a resume carry out approved changes whose claimer died within a quarter of an hour.
# A constant, not a setting: every process sharing the database must agree on it.
RESUME_LEASE = timedelta(minutes=15)

class Commander:
    """Conversations with the incident-response graph, keyed by thread id."""

    def __init__(self, *, context: RunContext, checkpointer: BaseCheckpointSaver, wiring: Wiring,
                 notices: list[str] | None = None, closers: list[Callable[[], None]] | None = None) -> None:
        self.settings = wiring.settings
        self.notices = list(notices or [])
        """At most one line: which embedded defaults are in use (simulator, command mode), shown at start."""
        self.simulator = wiring.connection.simulator
        """The embedded simulator when there is no PagerDuty key, else None."""
        self._wiring = wiring
        self._context = context
        self._ledger = DecisionLedger(wiring.database)
        self._leases = RunLeases(wiring.database)
        self.scrub = context.scrub
        """The one secret filter: every event message and answer passes it; surfaces `learn` their own secrets."""
        self._graph = build_graph(checkpointer)
        self._quick_turns = QuickTurns(wiring.settings.checkpoint_path)
        self._closers = [*wiring.closers, *(closers or []), self._quick_turns.close]
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings | None = None, *, model: BaseChatModel | None = None,
                      transport: httpx.BaseTransport | None = None, checkpointer: BaseCheckpointSaver | None = None,
                      clock: Clock | None = None, pagerduty_settings: PagerDutySettings | None = None,
                      wiring: Wiring | None = None) -> Commander:
        """Wire everything from settings; each argument replaces one default (tests pass them all), and
        `wiring` the parts a quick read already wired (`agent.reads`).

        No PagerDuty key → the demo organisation (on `transport` if given, else an embedded simulator kept
        in `settings.simulator_state_path`); no OpenAI key and no `model` → command mode. A `clock` with
        `advance` (a manual clock) also drives PagerDuty rate-limit waits.
        """
        wiring = wiring or Wiring.from_settings(settings, transport=transport, clock=clock,
                                                pagerduty_settings=pagerduty_settings)
        settings = wiring.settings
        wiring.relay.fallback = _relay
        command_mode = False
        if model is None:
            model, command_mode = default_model(settings)
        notice = wiring.notice(command_mode=command_mode)
        closers: list[Callable[[], None]] = []
        if checkpointer is None:
            checkpointer, close = open_checkpointer(settings.checkpoint_path)
            closers += [close] if close else []
        wiring.policy.check(wiring.toolkit.tools)
        context = RunContext(model=model, toolkit=wiring.toolkit, policy=wiring.policy, audit=wiring.audit,
                             clock=clock or wiring.clock, system_prompt=system_prompt(),
                             max_model_calls=settings.max_model_calls,
                             approval_ttl=timedelta(minutes=settings.approval_ttl_minutes), scrub=wiring.scrub,
                             # What the planner says of itself: a model served over HTTP reads a smaller toolset
                             # faster; command mode writes its answers from the results.
                             focused_tools=getattr(model, "toolset", "all") == "focused",
                             nudge_to_look_up=getattr(model, "nudge_to_look_up", False),
                             served_model=getattr(model, "served_model", False),
                             answers_from_code=getattr(model, "answers_from_code", False))
        return cls(context=context, checkpointer=checkpointer, wiring=wiring, notices=[notice] if notice else [],
                   closers=closers)

    @property
    def requester(self) -> str:
        """Who is asking when a surface does not say (see `Wiring.requester`)."""
        return self._wiring.requester

    # --- conversations ---

    def send(self, thread_id: str, text: str, requester: str | None = None) -> Turn:
        """Run one request to its end or to the approvals it needs."""
        return self.collect(thread_id, self.stream(thread_id, text, requester))

    def stream(self, thread_id: str, text: str, requester: str | None = None) -> Iterator[ProgressEvent]:
        """`send`, as progress events while it runs."""
        requester = requester or self.requester
        text = readable(text)
        with self._thread(thread_id):
            blocked = self._blocked(thread_id)
            if blocked is not None:
                yield blocked
                return
            begun = self._begun_quickly(thread_id)
            self._context.audit.record(at=self._now(), thread_id=thread_id, actor=requester, action="message",
                                       outcome=text[:1000])
            yield from self._run(thread_id, {"messages": [*begun, HumanMessage(text)], "requester": requester})

    def _begun_quickly(self, thread_id: str) -> list[BaseMessage]:
        """The turn a quick read answered on this thread (`agent.reads`), as the conversation's first messages,
        when the graph has not run on it yet; else nothing."""
        if self._graph.get_state(self._config(thread_id)).values.get("messages"):
            return []
        turn = self._quick_turns.turn(thread_id)
        if turn is None:
            return []
        messages: list[BaseMessage] = [HumanMessage(turn["text"])]
        for calls in turn["rounds"]:
            messages.append(AIMessage("", tool_calls=[{"name": c["name"], "args": c["args"], "id": c["id"],
                                                       "type": "tool_call"} for c in calls]))
            messages += [ToolMessage(c["content"], tool_call_id=c["id"], name=c["name"], status=c["status"])
                         for c in calls]
        outcome = {"outcome": turn["outcome"]} if turn["outcome"] else {}
        return [*messages, AIMessage(turn["reply"], additional_kwargs=turn["pending"], response_metadata=outcome)]

    def pending(self, thread_id: str) -> list[ApprovalRequest]:
        """The approvals on this thread still waiting for a decision."""
        _batch_id, batch = self._batch(thread_id)
        decided = self._ledger.decisions([r.id for r in batch]) if batch else {}
        return [r for r in batch if r.id not in decided]

    def preview(self, request: ApprovalRequest, changes: dict[str, Any] | None) -> ApprovalRequest:
        """`request` with `changes` merged into its arguments, checked and described again: what an edit
        would run, to show before anyone approves it. `ApprovalError` when the result does not validate."""
        arguments = self._revalidate(request, None if changes is None else {**request.arguments, **changes})
        self._would_run(request, arguments)
        toolkit = self._context.toolkit
        return request.model_copy(update={"arguments": arguments, "summary": toolkit.describe(request.tool, arguments),
                                          "names": toolkit.names(arguments)})

    def argument_help(self, tool: str) -> dict[str, tuple[str, list[str] | None]]:
        """Each argument of `tool`: what it is, and its allowed values where they are fixed (for edit forms)."""
        return self._context.toolkit.argument_help(tool)

    def expired(self, request: ApprovalRequest) -> bool:
        """Whether `request` can no longer be approved (it can still be rejected)."""
        return self._now() >= request.expires_at

    def decide(self, thread_id: str, approval_id: str, decision: Verdict, approver: str,
               arguments: dict[str, Any] | None = None, reason: str | None = None, *,
               nonce: str | None = None) -> Turn:
        """Approve, edit (with changed `arguments`, merged into the proposed ones and re-validated) or reject
        (with a `reason` the planner reads).

        Raises `ApprovalError` for an unknown, already decided, expired or mismatched (`nonce`) request and
        for edited arguments that do not validate; nothing is recorded then.
        """
        return self.collect(thread_id, self.stream_decide(thread_id, approval_id, decision, approver,
                                                          arguments=arguments, reason=reason, nonce=nonce))

    def stream_decide(self, thread_id: str, approval_id: str, decision: Verdict, approver: str,
                      arguments: dict[str, Any] | None = None, reason: str | None = None, *,
                      nonce: str | None = None) -> Iterator[ProgressEvent]:
        """`decide`, as progress events while the approved calls run."""
        with self._thread(thread_id):
            batch_id, batch = self._batch(thread_id)
            request = next((r for r in batch if r.id == approval_id), None)
            if request is None or batch_id is None:
                raise self._not_pending(thread_id, approval_id)
            now = self._now()
            request.accept(decision, now=now, nonce=nonce)
            decided = request
            if decision == "edit":
                # Re-summarised, so everyone watching reads what will run now, not what was proposed.
                decided = self.preview(request, arguments)
                arguments = decided.arguments
            answer = Decision(approval_id=approval_id, verdict=decision, approver=approver,
                              arguments=arguments if decision == "edit" else None, reason=reason, decided_at=now)
            self._ledger.record(request, answer)
            yield ProgressEvent(kind="decision_recorded", tool=request.tool, approval=decided,
                                message=f"{approver}: {decision} — {decided.summary}")
            yield from self._resume_batch(thread_id, batch_id, batch, taking_over=False)

    def resume(self, thread_id: str) -> Turn:
        """Finish a run that stopped on an error (or a fully decided batch nobody resumed): the calls that
        had not finished run again with the same ids, so a repeated write is recognised, not doubled."""
        return self.collect(thread_id, self.stream_resume(thread_id))

    def stream_resume(self, thread_id: str) -> Iterator[ProgressEvent]:
        with self._thread(thread_id):
            batch_id, batch = self._batch(thread_id)
            snapshot = self._graph.get_state(self._config(thread_id))
            if batch_id is not None:
                yield from self._resume_batch(thread_id, batch_id, batch, taking_over=True)
            elif snapshot.next:  # the claim is named after the checkpoint the run stopped at
                checkpoint = snapshot.config["configurable"]["checkpoint_id"]
                yield from self._claimed_run(thread_id, checkpoint, None, taking_over=True)
            else:
                yield ProgressEvent(kind="notice", message="Nothing to resume on this thread.")

    def link(self, alias: str, thread_id: str) -> None:
        """Let `alias` lead to the conversation `thread_id`: a surface's second name for it, such as the Slack
        thread a private conversation opened for its approval card, where replies continue it."""
        self._context.audit.link(alias, thread_id)

    def conversation(self, thread_id: str) -> str:
        """The conversation `thread_id` names: the one it was linked to, else itself."""
        return self._context.audit.linked(thread_id) or thread_id

    def audit(self, thread_id: str | None = None) -> list[AuditEntry]:
        """Every message, approval request, decision and tool call (of one thread, or all), oldest first."""
        return self._context.audit.entries(thread_id)

    def threads(self) -> list[ThreadInfo]:
        return self._context.audit.threads()

    def close(self) -> None:
        for close in self._closers:
            close()

    def __enter__(self) -> Commander:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- running the graph ---

    def _run(self, thread_id: str, command: Any) -> Iterator[ProgressEvent]:
        """Stream one graph run (durable after every step) and finish with its outcome."""
        config = self._config(thread_id)
        try:
            for part in self._graph.stream(command, config, context=self._context, stream_mode=["custom"],
                                           version="v2", durability="sync"):
                yield self._scrubbed(_progress(part["data"]))
        except GraphRecursionError:
            yield ProgressEvent(kind="failed", message="Could not finish: the request reached the step limit.",
                                problem="failed")
            return
        except UnconfirmedWrite as exc:  # the run stopped at that write: a resume repeats it, once
            yield ProgressEvent(kind="failed", problem="failed" if exc.may_have_happened else "setup",
                                message=_unconfirmed(exc), resumable=True)
            return
        except Exception as exc:  # a surface shows this; the checkpoint keeps the run resumable
            setup = isinstance(exc, (ConfigurationError, Unauthorized, NetworkError, PlanningFailed))
            yield ProgressEvent(kind="failed", problem="setup" if setup else "failed", resumable=True,
                                message=self.scrub(f"Could not finish: {_reason(exc)}. The conversation is saved "
                                                   "where it stopped: resume it to retry (a repeated PagerDuty "
                                                   "change is recognised, not doubled)."))
            return
        pending = self.pending(thread_id)
        for request in pending:
            yield ProgressEvent(kind="approval_needed", tool=request.tool, approval=request,
                                message=f"Needs approval ({request.risk} risk): {request.summary}")
        if not pending:
            messages = self._graph.get_state(config).values["messages"]
            last = messages[-1]
            yield ProgressEvent(kind="answer", message=self.scrub(last.text if isinstance(last, AIMessage) else ""),
                                problem=_problem(messages))

    def _scrubbed(self, event: ProgressEvent) -> ProgressEvent:
        return event.model_copy(update={"message": self.scrub(event.message), "arguments": self.scrub.value(
            event.arguments), "result": None if event.result is None else self.scrub(event.result)})

    def _resume_batch(self, thread_id: str, batch_id: str, batch: list[ApprovalRequest],
                      taking_over: bool) -> Iterator[ProgressEvent]:
        """Resume once every request of the batch is decided, under a claim (see `_claimed_run`)."""
        decided = self._ledger.decisions([r.id for r in batch])
        waiting = [r for r in batch if r.id not in decided]
        if waiting:
            yield ProgressEvent(kind="notice", message=f"Nothing runs until the other {len(waiting)} "
                                f"request(s) of this batch are decided: {'; '.join(r.summary for r in waiting)}")
        else:
            answers = {r.id: decided[r.id].model_dump(mode="json") for r in batch}
            yield from self._claimed_run(thread_id, batch_id, Command(resume={batch_id: answers}), taking_over)

    def _claimed_run(self, thread_id: str, claim: str, command: Any, taking_over: bool) -> Iterator[ProgressEvent]:
        """Run only under a claim, so approved writes are not sent by two processes.

        A decision claims its batch once and for all (the last decision of a batch resumes it); a resume
        takes over only when no other claim on the thread is younger than `RESUME_LEASE`. The claim is
        released when the run ends here. A claimer that died on this host is seen to be gone at once; one on
        another host, or a stream left unread, keeps the claim until the lease runs out.
        """
        if not taking_over:
            if not self._leases.claim_batch(claim, thread_id, at=self._now()):
                yield ProgressEvent(kind="notice",
                                    message="Recorded; another session is already carrying out this batch.")
                return
        elif (since := self._leases.take_over(claim, thread_id, at=self._now(), lease=RESUME_LEASE)) is not None:
            yield ProgressEvent(kind="failed", message=(
                f"Another session is carrying out these approved changes since "
                f"{since.astimezone(UTC):%H:%M} UTC; try again later."))
            return
        yield from self._run(thread_id, command)
        self._leases.release(claim)

    def _blocked(self, thread_id: str) -> ProgressEvent | None:
        """Why a new message cannot run yet on this thread, or None."""
        if pending := self.pending(thread_id):
            return ProgressEvent(kind="notice", message="This thread is waiting for decisions first: "
                                 + "; ".join(r.summary for r in pending))
        snapshot = self._graph.get_state(self._config(thread_id))
        if snapshot.interrupts:  # every request decided, yet the graph never went on: its claimer died
            return ProgressEvent(kind="failed", resumable=True, message="Every request in this conversation is "
                                 "decided, but the approved changes have not run yet; resume it to carry them out "
                                 "before asking something new.")
        if snapshot.next:
            return ProgressEvent(kind="failed", resumable=True, message="The last request in this conversation "
                                 "stopped before finishing; resume it to complete it before asking something new.")
        return None

    def _batch(self, thread_id: str) -> tuple[str | None, list[ApprovalRequest]]:
        """The pending interrupt's id and its requests (None, [] when nothing waits)."""
        for interrupt in self._graph.get_state(self._config(thread_id)).interrupts:
            return interrupt.id, [ApprovalRequest.model_validate(v) for v in interrupt.value]
        return None, []

    def _not_pending(self, thread_id: str, approval_id: str) -> ApprovalError:
        earlier = self._ledger.decisions([approval_id]).get(approval_id)
        if earlier is not None:
            return ApprovalError(f"approval {approval_id} was already decided ({earlier.verdict} by "
                                 f"{earlier.approver}); its nonce cannot be used again")
        return ApprovalError(f"no approval {approval_id} is waiting on thread {thread_id}")

    def _revalidate(self, request: ApprovalRequest, arguments: dict[str, Any] | None) -> dict[str, Any]:
        if arguments is None:
            raise ApprovalError(f"approval {request.id}: an edit needs the new arguments")
        changed = [name for name in SECRET_ARGUMENTS
                   if arguments.get(name) not in (None, request.arguments.get(name))]
        if changed:  # the real value lives only in the planner's call, and a new one would land in the ledger
            raise ApprovalError(f"approval {request.id}: {', '.join(changed)} cannot be edited (keep it as shown, "
                                "or drop it and give service); reject the request and ask again with the new one")
        try:
            return self._context.toolkit.validate(request.tool, arguments)
        except ValueError as exc:
            problems, fields = (exc.problems, exc.fields) if isinstance(exc, InvalidArguments) else (str(exc), {})
            raise ApprovalError(f"approval {request.id}: the edited arguments are not valid: {problems}",
                                fields) from exc

    def _would_run(self, request: ApprovalRequest, arguments: dict[str, Any]) -> None:
        """An edit is checked against PagerDuty as a proposal is: `ApprovalError` when it cannot run as shown,
        or would change nothing."""
        check = self._context.toolkit.precheck(request.tool, arguments, requester=request.requester)
        if check.outcome == "refused":
            raise ApprovalError(f"approval {request.id}: the edited change cannot run: {for_people(check.text)}")
        if check.outcome == "settled":
            already = json.loads(check.text).get("unchanged") or "it is already so"
            raise ApprovalError(f"approval {request.id}: the edited change would change nothing: {already}")

    def collect(self, thread_id: str, events: Iterator[ProgressEvent]) -> Turn:
        """The `Turn` a stream of this thread ends in, for callers that also watch its events as they come."""
        collected = list(events)
        pending = self.pending(thread_id)
        final = next((e for e in reversed(collected) if e.kind in ("answer", "failed", "notice")), None)
        status = "failed" if final and final.kind == "failed" else "waiting" if pending else "answered"
        text = final.message if final else "Waiting for approval: " + "; ".join(r.summary for r in pending)
        return Turn(thread_id=thread_id, status=status, text=text, pending=pending, events=collected)

    def _config(self, thread_id: str) -> RunnableConfig:
        return {"configurable": {"thread_id": thread_id}, "recursion_limit": self.settings.recursion_limit}

    def _now(self) -> datetime:
        return self._context.clock.now()

    @contextmanager
    def _thread(self, thread_id: str) -> Iterator[None]:
        """One run at a time per thread in this process (two Slack clicks must not race)."""
        with self._locks_guard:
            lock = self._locks.setdefault(thread_id, threading.Lock())
        with lock:
            yield


def default_model(settings: Settings) -> tuple[BaseChatModel, bool]:
    """ChatOpenAI with a key; otherwise command mode, and whether it is."""
    if settings.openai_api_key is not None:
        from agent.planners.openai import chat_model

        return chat_model(settings), False
    from agent.planners.command import CommandModel
    from agent.planners.phrasing import read_aliases

    return CommandModel(requester=settings.requester, time_zone=settings.time_zone,
                        aliases=read_aliases(settings.aliases)), True


def open_checkpointer(path: str) -> tuple[BaseCheckpointSaver, Callable[[], None] | None]:
    """SQLite at `path` (created if needed), or memory for ":memory:"; with what closes it."""
    if path == ":memory:":
        return InMemorySaver(), None
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(path, check_same_thread=False)
    return SqliteSaver(connection), connection.close


def _relay(*, kind: WaitKind, seconds: float, message: str) -> None:
    """Pass the PagerDuty client's waits to the run that caused them (the client is shared by all runs); they
    become `ProgressEvent`s with the rest of the run's stream (`_progress`)."""
    try:
        write = get_stream_writer()
    except RuntimeError:  # outside a graph run there is nobody to tell
        return
    write({"kind": kind, "seconds": seconds, "message": message})


def _progress(data: Any) -> ProgressEvent:
    """An event a node emitted on the custom stream (a dict; LangGraph types the stream's parts loosely)."""
    kind = data["kind"]
    tool = data.get("tool")
    message = data.get("message") or (step(tool or "") if kind in ("tool_started", "tool_finished") else kind)
    return ProgressEvent(kind=kind, message=message, tool=tool, seconds=data.get("seconds"), ok=data.get("ok"),
                         arguments=data.get("arguments"), result=data.get("result"))


def _problem(messages: list[Any]) -> Problem | None:
    """What went wrong in the step that ended the turn (see `problem_of`): the last round is the tool replies
    just before the answer."""
    last = messages[-1]
    outcome = last.response_metadata.get("outcome") if isinstance(last, AIMessage) else None
    final: list[ToolResult] = []
    for message in reversed(messages[:-1]):
        if not isinstance(message, ToolMessage):
            break
        final.append(ToolResult(message.name or "", {}, message.text, message.status))
    return problem_of(outcome, final)


def _unconfirmed(exc: UnconfirmedWrite) -> str:
    """Whether the change may have happened, and that resuming finishes it (each surface says how)."""
    if exc.may_have_happened:
        return (f"Not confirmed: asked to {exc.doing}, PagerDuty {exc.said()}, so the change may have happened "
                "or not. Resume this conversation to finish it: a change that already happened is recognised, "
                "not made twice.")
    return (f"Not done: could not {exc.doing}: {exc.said()}, so nothing was changed. Once PagerDuty can be "
            "reached, resume this conversation to finish it.")


def _reason(exc: Exception) -> str:
    """Why a run stopped, in words: PagerDuty's and the model's errors say it themselves; anything else is
    unexpected, and people are not shown the exception's class."""
    if isinstance(exc, (PagerDutyError, PlanningFailed)):
        return str(exc)
    return f"something unexpected went wrong inside the agent ({exc})" if str(exc) else \
        "something unexpected went wrong inside the agent"
