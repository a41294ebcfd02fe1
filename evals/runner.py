"""Running trials: a fresh world per trial, the real Commander on it, the scripted human deciding.

A trial drives the Commander only through its public API (stream, stream_decide, collect, audit), as
a surface does, and records a `Trajectory`: the turns, every approval request and decision, every API
request and audit entry (tagged with the step that caused it), the end state and the metrics.
Trajectories are plain JSON, so they can be graded again later without running anything. Trials run
at once in worker processes or threads (see `Planner.in_process` and evals.workers); each has its own
simulator, clock, checkpointer, audit log and model, so they share nothing that changes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.language_models import BaseChatModel
from langchain_core.outputs import LLMResult
from langgraph.checkpoint.memory import InMemorySaver
from pydantic import BaseModel

from agent.approvals import ApprovalError
from agent.commander import Commander, ProgressEvent, Turn
from agent.planners.command import CommandModel
from agent.planners.scripted import ScriptedChatModel
from agent.settings import Settings
from evals.decisions import Human
from evals.player import ReferencePlayer
from evals.reference import THREAD, Prepared
from evals.scenario import Resume, Scenario
from evals.state import Entities, delta
from evals.workers import run_all
from evals.world import build_world

MAX_DECISIONS = 40  # per turn: a planner asking for more approvals than this is stuck in a loop
Termination = Literal["answered", "failed", "too_many_approvals", "error"]


# --- what a trial records ----------------------------------------------------------------------

class TurnRecord(BaseModel):
    user: str
    """What the person typed ("" for a resume)."""
    status: str
    answer: str
    resume: bool = False


class ApprovalRecord(BaseModel):
    tool: str
    arguments: dict[str, Any]
    summary: str
    risk: str
    verdict: Literal["approve", "edit", "reject"]
    decided_arguments: dict[str, Any] | None = None
    reason: str | None = None
    rule: int | None = None
    """Index of the scenario's `approvals` rule that answered; None when unscripted (then rejected)."""
    step: int
    """The step (Commander call) in which the decision was given."""


class RequestRecord(BaseModel):
    method: str
    path: str
    status: int
    api: str
    step: int
    body: Any = None  # writes only

    @property
    def is_write(self) -> bool:
        return self.method != "GET"


class AuditRecord(BaseModel):
    action: str
    tool: str | None = None
    arguments: dict[str, Any] | None = None
    actor: str
    outcome: str
    step: int


class Metrics(BaseModel):
    model_calls: int = 0
    tool_calls: int = 0
    refused_calls: int = 0
    api_reads: int = 0
    api_writes: int = 0
    retries_429: int = 0
    waited_seconds: float = 0.0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = None
    wall_seconds: float = 0.0
    first_approval_seconds: float | None = None
    unscripted_approvals: int = 0


class Trajectory(BaseModel):
    scenario: str
    tier: str
    model: str
    trial: int
    termination: Termination
    error: str | None = None
    turns: list[TurnRecord] = []
    approvals: list[ApprovalRecord] = []
    requests: list[RequestRecord] = []
    audit: list[AuditRecord] = []
    end_state: Entities = {}
    """What the run changed (a delta from the state after setup)."""
    metrics: Metrics = Metrics()
    grade: Any = None
    """The `Grade` once graded (kept loose so this module does not depend on the graders)."""

    def final_answer(self) -> str:
        return self.turns[-1].answer if self.turns else ""


# --- planners ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Prices:
    """USD per million tokens; cost is reported only when these are given."""

    input: float
    output: float

    def cost(self, input_tokens: int, output_tokens: int) -> float:
        return round((input_tokens * self.input + output_tokens * self.output) / 1e6, 6)


@dataclass(frozen=True)
class Planner:
    """What plans in a tier: a model per trial, and which lines of the scenario it is sent."""

    name: str
    tier: str
    make: Callable[[Prepared], BaseChatModel]
    command_mode: bool = False
    reuse_rules: bool = False
    in_process: bool = True
    """The model is Python code running here (scripted, command): its trials are CPU-bound, so they run in
    worker processes, as threads would only take turns on the GIL. A remote model's trials mostly wait on
    HTTP, so threads serve them well and share the one client (and its connections) the planner holds."""

    def turns(self, scenario: Scenario) -> list[str | Resume] | None:
        """The user's turns for this planner (the lines it is sent, and resumes); None when the scenario has no
        form for it."""
        if not self.command_mode:
            return scenario.turns
        if scenario.command is None:
            return None
        lines = iter(scenario.command)  # one line per typed turn (checked when the scenario loads)
        return [turn if isinstance(turn, Resume) else next(lines) for turn in scenario.turns]


def scripted() -> Planner:
    return Planner("scripted", "scripted",
                   lambda p: ScriptedChatModel(script=ReferencePlayer.of(p.scenario.reference_turns())))


def command() -> Planner:
    return Planner("command", "command", lambda p: CommandModel(requester=p.scenario.requester), command_mode=True)


def live(model: BaseChatModel, name: str) -> Planner:
    """Any chat model (an OpenAI-compatible one in practice); one instance serves every trial."""
    return Planner(name, "live", lambda _: model, in_process=False)


# --- running -----------------------------------------------------------------------------------

class _Usage(BaseCallbackHandler):
    """Counts model calls and the tokens their usage metadata reports."""

    def __init__(self) -> None:
        self.calls = 0
        self.input_tokens = 0
        self.output_tokens = 0

    def on_chat_model_start(self, serialized: Any, messages: Any, **kwargs: Any) -> None:
        self.calls += 1

    def on_llm_end(self, response: LLMResult, **kwargs: Any) -> None:
        for generations in response.generations:
            for generation in generations:
                usage = getattr(getattr(generation, "message", None), "usage_metadata", None) or {}
                self.input_tokens += usage.get("input_tokens", 0)
                self.output_tokens += usage.get("output_tokens", 0)


def run_trial(prepared: Prepared, planner: Planner, trial: int = 0, prices: Prices | None = None) -> Trajectory:
    """One trial of one scenario; never raises (an unexpected error ends the trial with termination `error`)."""
    scenario = prepared.scenario
    started = time.perf_counter()
    run = build_world(scenario.world)
    usage = _Usage()
    model = planner.make(prepared)
    model = model.model_copy(update={"callbacks": [*(model.callbacks or []), usage]})  # type: ignore[misc]
    record = Trajectory(scenario=scenario.id, tier=planner.tier, model=planner.name, trial=trial,
                        termination="answered")
    human = Human(scenario.approvals, prepared.names, reuse=planner.reuse_rules)
    commander = Commander.from_settings(
        Settings(checkpoint_db=":memory:", requester=scenario.requester, openai_api_key=None, approval_policy=None),
        model=model, transport=run.sim.transport(), checkpointer=InMemorySaver(), clock=run.clock,
        pagerduty_settings=run.settings)
    seen = {"requests": run.start, "audit": 0, "step": 0}

    def note(turn: Turn) -> Turn:
        """File what the last Commander call caused under its step number."""
        step = seen["step"]
        log = run.sim.request_log[seen["requests"]:]
        seen["requests"] += len(log)
        record.requests += [RequestRecord(method=r.method, path=r.path, status=r.status, api=r.api, step=step,
                                          body=r.body if r.is_write else None) for r in log]
        entries = commander.audit(THREAD)[seen["audit"]:]
        seen["audit"] += len(entries)
        record.audit += [AuditRecord(action=e.action, tool=e.tool, arguments=e.arguments, actor=e.actor,
                                     outcome=e.outcome, step=step) for e in entries]
        record.metrics.waited_seconds += sum(e.seconds or 0 for e in turn.events
                                             if e.kind in ("rate_limit_wait", "retry_wait"))
        seen["step"] += 1
        return turn

    def watch(events: Iterator[ProgressEvent]) -> Iterator[ProgressEvent]:
        """Pass the events on, timing the first approval request when a surface would show it."""
        for event in events:
            if event.kind == "approval_needed" and record.metrics.first_approval_seconds is None:
                record.metrics.first_approval_seconds = round(time.perf_counter() - started, 4)
            yield event

    def play(said: str | Resume) -> Turn:
        """One turn (a message, or a resume of the run that stopped), the scripted human deciding every request."""
        started_by = (commander.stream_resume(THREAD) if isinstance(said, Resume)
                      else commander.stream(THREAD, said, scenario.requester))
        turn = note(commander.collect(THREAD, watch(started_by)))
        decided = 0
        while turn.status == "waiting" and decided < MAX_DECISIONS:
            request = turn.pending[0]
            answer = human.decide(request.tool, request.arguments)
            record.approvals.append(ApprovalRecord(
                tool=request.tool, arguments=request.arguments, summary=request.summary, risk=request.risk,
                verdict=answer.verdict, decided_arguments=answer.arguments, reason=answer.reason,
                rule=answer.rule, step=seen["step"]))
            turn = note(commander.collect(THREAD, watch(commander.stream_decide(
                THREAD, request.id, answer.verdict, answer.approver, arguments=answer.arguments,
                reason=answer.reason, nonce=request.nonce))))
            decided += 1
        record.turns.append(TurnRecord(user=said if isinstance(said, str) else "", resume=isinstance(said, Resume),
                                       status=turn.status, answer=turn.text))
        return turn

    try:
        turns = planner.turns(scenario) or []
        for index, said in enumerate(turns):
            turn = play(said)
            if turn.status == "waiting":
                record.termination = "too_many_approvals"
                break
            resumed_next = isinstance(turns[index + 1] if index + 1 < len(turns) else None, Resume)
            if turn.status == "failed" and not resumed_next:  # a stop the scenario resumes is graded by `answer`
                record.termination = "failed"
                break
    except ApprovalError as exc:
        record.termination, record.error = "error", f"a scripted decision was refused: {exc}"
    except Exception as exc:  # the trial's record says what broke; the other trials go on
        record.termination, record.error = "error", f"{type(exc).__name__}: {exc}"
    finally:
        commander.close()
    record.end_state = delta(prepared.initial, prepared.canonical(run))
    _measure(record, usage, prices, time.perf_counter() - started)
    return record


def _measure(record: Trajectory, usage: _Usage, prices: Prices | None, seconds: float) -> None:
    m = record.metrics
    m.model_calls, m.input_tokens, m.output_tokens = usage.calls, usage.input_tokens, usage.output_tokens
    m.tool_calls = sum(a.action == "tool_call" for a in record.audit)
    m.refused_calls = sum(a.action == "refused" for a in record.audit)
    m.api_writes = sum(r.is_write for r in record.requests)
    m.api_reads = len(record.requests) - m.api_writes
    m.retries_429 = sum(r.status == 429 for r in record.requests)
    m.unscripted_approvals = sum(a.rule is None for a in record.approvals)
    m.wall_seconds = round(seconds, 4)
    m.waited_seconds = round(m.waited_seconds, 3)
    if prices is not None:
        m.cost_usd = prices.cost(usage.input_tokens, usage.output_tokens)


@dataclass(frozen=True)
class Job:
    """One trial to run: which scenario, which planner, which trial number."""

    prepared: Prepared
    planner: Planner
    trial: int = 0


def run_trials(prepared: list[Prepared], planner: Planner, *, trials: int = 1, concurrency: int = 2,
               prices: Prices | None = None, grade: Callable[[Prepared, Trajectory], Any] | None = None,
               on_done: Callable[[Trajectory], None] | None = None) -> list[Trajectory]:
    """Every trial of every scenario the planner has a form for, `concurrency` at a time, in suite order."""
    jobs = [Job(p, planner, k) for p in prepared if planner.turns(p.scenario) for k in range(trials)]
    return run_jobs(jobs, concurrency=concurrency, prices=prices, grade=grade, on_done=on_done)


def run_jobs(jobs: list[Job], *, concurrency: int = 2, prices: Prices | None = None,
             grade: Callable[[Prepared, Trajectory], Any] | None = None,
             on_done: Callable[[Trajectory], None] | None = None) -> list[Trajectory]:
    """Each job run (and graded), `concurrency` at a time, in the order given; `on_done` sees each as it ends.

    Worker processes run them when every planner runs in process, threads otherwise. A trial whose worker
    process dies ends with termination `error` and says so."""

    def one(index: int) -> Trajectory:
        job = jobs[index]
        return _graded(job, run_trial(job.prepared, job.planner, job.trial, prices), grade)

    def crashed(index: int, reason: str) -> Trajectory:
        job = jobs[index]
        return _graded(job, Trajectory(scenario=job.prepared.scenario.id, tier=job.planner.tier,
                                       model=job.planner.name, trial=job.trial, termination="error",
                                       error=reason), grade)

    return run_all(len(jobs), one, concurrency=concurrency, processes=all(job.planner.in_process for job in jobs),
                   crashed=crashed, done=on_done)


def _graded(job: Job, trajectory: Trajectory, grade: Callable[[Prepared, Trajectory], Any] | None) -> Trajectory:
    if grade is not None:
        trajectory.grade = grade(job.prepared, trajectory)
    return trajectory
