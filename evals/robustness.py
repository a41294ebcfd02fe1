"""The robustness tier: the reference paths with one mistake real models make, injected at a time.

It measures the tool layer, not a model. The mistaken call replaces the right one; if the tools
answer with an error, the scripted planner then makes the right call (as a model that reads the
error would), so the task can still end right. Each run is judged by what the mistaken call got:

- recovered: the tools understood it (resolved a name, found a repeated create already done) and the task
  ended right;
- error names the fix: an error that names the argument or value and what to do instead;
- unhelpful error: an error that does neither;
- sent for approval: it was never answered, but put to a person to approve (a call that cannot run as
  shown, such as one on a made-up incident, must be answered at once, not shown to a person);
- wrong result: the call went through but the end state (or another check) is wrong.

Efficiency is not judged here: correcting a mistake legitimately costs extra calls.
"""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from pydantic import ValidationError

from agent.planners.scripted import ScriptedChatModel
from evals.graders import grade
from evals.matching import KIND_OF
from evals.player import PlayerReply, ReferencePlayer, Retry, reply_of
from evals.reference import Prepared
from evals.runner import Job, Planner, Trajectory, run_jobs
from simulator import FaultRule
from tools.registry import TOOLS
from tools.timeparse import iso

JUDGED = ("end_state", "approvals", "forbidden_writes", "answer")  # a corrected mistake may cost extra calls
OUTCOMES = ("recovered", "error names the fix", "unhelpful error", "sent for approval", "wrong result")
REFERENCE_ARGS = ("service", "user", "assignee", "schedule", "escalation_policy")
HALLUCINATED = {"incident": "Q9ZZZ99", "service": "PZZZZ99", "user": "PZZZZ98", "assignee": "PZZZZ98",
                "schedule": "PZZZZ97", "escalation_policy": "PZZZZ96"}
PINNED = {"create_override": ("start", "end", "time_zone"), "update_incident": ("escalation_level",)}
_SUCCEEDED = ("ok", "already done")  # ran; or found done already, so nobody was asked (a repeated create)
_FIX_WORDS = re.compile(r"\bNext:|\bCall \w+|look the real one up|pass one id|is required|should be|must|"
                        r"less than or equal|\buse\b|\bgive\b", re.IGNORECASE)

Mutation = Callable[[Prepared, str, dict[str, Any]], dict[str, Any] | None]


def _service_name(p: Prepared, tool: str, args: dict[str, Any]) -> dict[str, Any] | None:
    for key in REFERENCE_ARGS:
        name = p.names.name_of(KIND_OF[key], args[key]) if isinstance(args.get(key), str) else None
        if name is not None:
            return {**args, key: name}
    return None


def _nested(p: Prepared, tool: str, args: dict[str, Any]) -> dict[str, Any] | None:
    for key in ("incident", *REFERENCE_ARGS):
        if isinstance(args.get(key), str):
            return {**args, key: {"id": args[key]}}
    return None


def _artifact(p: Prepared, tool: str, args: dict[str, Any]) -> dict[str, Any] | None:
    for key in ("incident", *REFERENCE_ARGS):
        if isinstance(args.get(key), str):
            return {**args, key: "null"}
    return None


def _year(p: Prepared, tool: str, args: dict[str, Any]) -> dict[str, Any] | None:
    if tool in ("list_incidents", "list_log_entries"):
        return {**args, "since": iso(p.scenario.world.now - timedelta(days=365))}
    return None


def _limit(p: Prepared, tool: str, args: dict[str, Any]) -> dict[str, Any] | None:
    return {**args, "limit": 500} if "limit" in TOOLS[tool].args.model_fields else None


def _hallucinated(p: Prepared, tool: str, args: dict[str, Any]) -> dict[str, Any] | None:
    for key, fake in HALLUCINATED.items():
        if isinstance(args.get(key), str):
            return {**args, key: fake}
    return None


def _missing(p: Prepared, tool: str, args: dict[str, Any]) -> dict[str, Any] | None:
    required = [k for k, f in TOOLS[tool].args.model_fields.items() if f.is_required() and k in args]
    return {k: v for k, v in args.items() if k != required[0]} if required else None


MUTATIONS: dict[str, Mutation] = {
    "service name instead of id": _service_name,
    "nested reference without type": _nested,
    'artifact id ("null")': _artifact,
    "one-year window": _year,
    "limit=500": _limit,
    "hallucinated id": _hallucinated,
    "missing required argument": _missing,
}
RETRIED_CREATE = "create retried after a 429"
KINDS = (*MUTATIONS, RETRIED_CREATE)


@dataclasses.dataclass(frozen=True)
class Injection:
    kind: str
    prepared: Prepared
    turns: list[list[PlayerReply | Retry]]
    tool: str
    arguments: dict[str, Any]
    """The mistaken call, to find its result in the trajectory."""


def inject(prepared: Prepared, kind: str) -> Injection | None:
    """The scenario with `kind` injected at the first reference call it applies to (None if none, or if the
    scenario's human edits or rejects: those scenarios measure approvals, not the tools)."""
    if any(rule.decision != "approve" for rule in prepared.scenario.approvals):
        return None
    turns = prepared.scenario.reference_turns()
    for t, steps in enumerate(turns):
        for s, step in enumerate(steps):
            for c, call in enumerate(step.calls()):
                if kind == RETRIED_CREATE:
                    if call.tool != "create_incident":
                        continue
                    played: list[list[PlayerReply | Retry]] = [[reply_of(x) for x in xs] for xs in turns]
                    played[t].insert(s + 1, [{"name": call.tool, "args": call.args}])
                    fault = FaultRule(method="POST", path="/incidents", status=429, times=1, reset_seconds=20)
                    faults = [*prepared.scenario.world.faults, fault]
                    world = prepared.scenario.world.model_copy(update={"faults": faults})
                    scenario = prepared.scenario.model_copy(update={"world": world})
                    injected = dataclasses.replace(prepared, scenario=scenario)
                    return Injection(kind, injected, played, call.tool, call.args)
                mutated = MUTATIONS[kind](prepared, call.tool, call.args)
                if mutated is None:
                    continue
                original = reply_of(step)
                assert isinstance(original, list), "a step with a call replies with calls"
                wrong = [dict(x, args=mutated) if i == c else x for i, x in enumerate(original)]
                played = [[reply_of(x) for x in xs] for xs in turns]
                played[t][s:s + 1] = [wrong, Retry(original)]
                return Injection(kind, prepared, played, call.tool, mutated)
    return None


def judge(injection: Injection, trajectory: Trajectory) -> tuple[str, str]:
    """The outcome of one injected run and the text the mistaken call got back."""
    tool = injection.tool
    written = (_unpinned(tool, injection.arguments), _unpinned(tool, _as_the_tool_reads(tool, injection.arguments)))
    entries = [a for a in trajectory.audit if a.tool == tool and a.action in ("tool_call", "refused")
               and _unpinned(tool, a.arguments or {}) in written]
    asked = [a for a in trajectory.approvals if a.tool == tool and _unpinned(tool, a.arguments) in written]
    if not entries and asked:
        return "sent for approval", f"a person was asked: {asked[0].summary}"
    # A repeated create: the repeat is the last one. A call never made: why the trial ended, if it broke.
    said = entries[-1].outcome if entries else f"not run ({trajectory.error})" if trajectory.error else "not run"
    checks = trajectory.grade.checks if trajectory.grade is not None else {}
    failed = [f"{name}: {c.details[0] if c.details else 'failed'}" for name, c in checks.items()
              if name in JUDGED and not c.passed]
    passed = bool(checks) and not failed
    failure = "; ".join(failed)
    if said.startswith(_SUCCEEDED):
        return ("recovered", said) if passed else ("wrong result", failure)
    if not (_FIX_WORDS.search(said) and _names_argument(injection, said)):
        return "unhelpful error", said
    return ("error names the fix", said) if passed else ("wrong result", f"{said} — then {failure}")


def _as_the_tool_reads(tool: str, args: dict[str, Any]) -> dict[str, Any]:
    """A call that ran is audited with its arguments as the tool read them (a wrapped id unwrapped)."""
    try:
        return TOOLS[tool].args.model_validate(args).model_dump(exclude_unset=True)
    except ValidationError:
        return args


def _unpinned(tool: str, args: dict[str, Any]) -> dict[str, Any]:
    """The arguments but those a proposal pins before it is shown and run (an override's times become
    instants, "the next level" a number): the mistaken call is recognised by the rest."""
    return {k: v for k, v in args.items() if k not in PINNED.get(tool, ())}


def _names_argument(injection: Injection, text: str) -> bool:
    lowered = text.casefold()
    named = any(key.casefold() in lowered or (isinstance(v, str) and v and v.casefold() in lowered)
                for key, v in injection.arguments.items())
    return named or any(k in lowered for k in TOOLS[injection.tool].args.model_fields)


def run_robustness(prepared: list[Prepared], *, concurrency: int = 2) -> list[dict[str, Any]]:
    """Per kind of mistake: how many runs, the tally of outcomes and one example of what the tools said."""
    injections = [i for kind in KINDS for i in (inject(p, kind) for p in prepared) if i is not None]
    trajectories = run_jobs([Job(i.prepared, _planner(i)) for i in injections], concurrency=concurrency, grade=grade)
    judged = [judge(i, t) for i, t in zip(injections, trajectories, strict=True)]
    rows = []
    for kind in KINDS:
        mine = [(i, j) for i, j in zip(injections, judged, strict=True) if i.kind == kind]
        rows.append({"kind": kind, "runs": len(mine), "counts": dict(Counter(outcome for _, (outcome, _) in mine)),
                     "examples": [f"{i.prepared.scenario.id}: {outcome}: {said}" for i, (outcome, said) in mine]})
    return rows


def _planner(injection: Injection) -> Planner:
    """The scripted planner playing the reference path with the injection's mistake in it."""
    return Planner(f"scripted+{injection.kind}", "robustness",
                   lambda _: ScriptedChatModel(script=ReferencePlayer(injection.turns)), reuse_rules=True)
