"""The mutation suite: proof that the graders fail every wrong outcome.

Each kind of mistake a planner makes (a wrong urgency, service, assignee, priority or incident, an
extra write, a skipped approval, a write proposed again after a reject, a wrong note, a duplicate
incident, an override for the wrong hours, time zone or user, a wrong escalation level, a change
nobody asked for) is written into the path the scripted planner plays, against the unchanged scenario
(its gold state, approval rules and `expect`). Every such mutant must score 0, caught by a check of
what was written or proposed (end state, approvals or forbidden writes; an answer or an API-call count
alone does not count), and the unmutated path (the control) must score 1: a grader that lets a mutant
through cannot tell a good planner from a bad one.

`python -m evals.mutations [--concurrency N]` prints the kill rate per kind of mistake and exits 1 when
a mutant survives or a control fails; tests/test_evals_mutations.py runs the same in CI.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from agent.approvals import ApprovalPolicy
from agent.planners.scripted import ScriptedChatModel
from evals.decisions import Human
from evals.graders import grade, needs_approval
from evals.player import PlayerReply, ReferencePlayer, reply_of
from evals.reference import Prepared, prepare
from evals.runner import Job, Planner, Trajectory, run_jobs
from evals.scenario import load_scenarios
from tools.registry import TOOLS

WRITE_CHECKS = ("end_state", "approvals", "forbidden_writes")
Played = list[list[PlayerReply]]
"""The planner's replies per turn: a list of tool calls, or the answer (a string) that ends the turn."""
Mutation = Callable[[Prepared], "Played | None"]  # None: this mistake does not apply to the scenario


@dataclass(frozen=True)
class Mutant:
    kind: str
    prepared: Prepared
    turns: Played

    def planner(self) -> Planner:
        turns = self.turns
        return Planner(f"mutant: {self.kind}", "mutation",
                       lambda _: ScriptedChatModel(script=ReferencePlayer(turns)))  # type: ignore[arg-type]


# --- where a mistake goes ----------------------------------------------------------------------

@dataclass(frozen=True)
class Spot:
    """One call of the reference path: turn, reply and position in the reply."""

    turn: int
    reply: int
    call: int
    tool: str
    args: dict[str, Any]


def played(p: Prepared) -> Played:
    return [[reply_of(step) for step in steps] for steps in p.scenario.reference_turns()]


def spots(p: Prepared) -> Iterator[Spot]:
    for t, replies in enumerate(played(p)):
        for r, reply in enumerate(replies):
            if isinstance(reply, list):
                for c, call in enumerate(reply):
                    yield Spot(t, r, c, call["name"], dict(call["args"]))


def is_write(tool: str) -> bool:
    return TOOLS[tool].kind != "read"


def replaced(p: Prepared, change: Callable[[Spot], dict[str, Any] | None]) -> Played | None:
    """The path with the first write `change` applies to played with its arguments instead."""
    for spot in spots(p):
        new = change(spot) if is_write(spot.tool) else None
        if new is not None and new != spot.args:
            turns = played(p)
            reply = turns[spot.turn][spot.reply]
            assert isinstance(reply, list)
            turns[spot.turn][spot.reply] = [dict(c, args=new) if i == spot.call else c for i, c in enumerate(reply)]
            return turns
    return None


def inserted(p: Prepared, after: Spot | None, calls: list[dict[str, Any]]) -> Played:
    """The path with one more reply of `calls`: right after `after`, or before the last answer."""
    turns = played(p)
    if after is None:
        turns[-1].insert(len(turns[-1]) - 1, calls)
    else:
        turns[after.turn].insert(after.reply + 1, calls)
    return turns


def other(p: Prepared, kind: str, value: Any) -> str | None:
    """Another entity of `kind` than the one `value` names (the first in the directory)."""
    current = p.names.resolve(kind, value)
    return next((e["id"] for e in p.names.entries.get(kind, []) if e["id"] != current), None)


def untouched_incident(p: Prepared, status: str = "triggered", but: Any = None) -> str | None:
    """The number of an incident with `status` that the scenario leaves alone (and is not `but`)."""
    skip = p.names.resolve("incident", but) if but is not None else None
    for key, entity in p.initial.items():
        number = key.removeprefix("incident #")
        if (entity["kind"] == "incident" and entity["status"] == status and key not in p.gold
                and p.names.incidents.get(number) != skip):
            return number
    return None


def writable(p: Prepared) -> bool:
    return p.scenario.world.token == "full"


# --- the mistakes ------------------------------------------------------------------------------

def wrong_urgency(p: Prepared) -> Played | None:
    return replaced(p, lambda s: {**s.args, "urgency": {"high": "low", "low": "high"}[s.args["urgency"]]}
                    if s.args.get("urgency") else None)


def wrong_service(p: Prepared) -> Played | None:
    return replaced(p, lambda s: {**s.args, "service": other(p, "service", s.args["service"])}
                    if s.args.get("service") else None)


def wrong_assignee(p: Prepared) -> Played | None:
    """Another person as assignee, looked up just before, as a planner that took the wrong person from a lookup
    would: an assignee nobody said or looked up is left out before the call runs (`agent.stated`), and the
    incident would reach the right person after all."""
    spot = next((s for s in spots(p) if is_write(s.tool) and s.args.get("assignee")), None)
    wrong = other(p, "user", spot.args["assignee"]) if spot is not None else None
    if spot is None or wrong is None:
        return None
    turns = replaced(p, lambda s: {**s.args, "assignee": wrong} if s == spot else None)
    assert turns is not None
    name = next(e["name"] for e in p.names.entries["user"] if e["id"] == wrong)
    turns[spot.turn].insert(spot.reply, [{"name": "find_users", "args": {"query": name}}])
    return turns


def wrong_priority(p: Prepared) -> Played | None:
    return replaced(p, lambda s: {**s.args, "priority": other(p, "priority", s.args["priority"])}
                    if s.args.get("priority") else None)


def wrong_incident(p: Prepared) -> Played | None:
    """The same change on another incident in the same state (so the change itself would succeed)."""

    def change(s: Spot) -> dict[str, Any] | None:
        for key in ("incident", "target"):
            if s.args.get(key):
                return {**s.args, key: _sibling(p, s.args[key])}
        for key in ("incidents", "sources"):
            if s.args.get(key):
                return {**s.args, key: [_sibling(p, s.args[key][0]), *s.args[key][1:]]}
        return None

    return replaced(p, change)


def _sibling(p: Prepared, ref: Any) -> str | None:
    incident_id = p.names.resolve("incident", ref)
    number = next((n for n, i in p.names.incidents.items() if i == incident_id and n.isdigit()), None)
    status = p.initial.get(f"incident #{number}", {}).get("status", "triggered")
    return untouched_incident(p, status, but=ref)


def extra_write(p: Prepared) -> Played | None:
    """A note (which needs no approval) on an incident the task has nothing to do with."""
    number = untouched_incident(p) if writable(p) else None
    if number is None:
        return None
    return inserted(p, None, [{"name": "add_note", "args": {"incident": number, "content": "Checked, all fine."}}])


def missing_approval(p: Prepared) -> Played | None:
    """The first change that needs approval is never proposed."""
    policy = ApprovalPolicy.load()
    for spot in spots(p):
        if needs_approval(policy, spot.tool):
            turns = played(p)
            reply = turns[spot.turn][spot.reply]
            assert isinstance(reply, list)
            rest = [c for i, c in enumerate(reply) if i != spot.call]
            turns[spot.turn][spot.reply:spot.reply + 1] = [rest] if rest else []
            return turns
    return None


def write_after_reject(p: Prepared) -> Played | None:
    """The change the person rejected, proposed again straight away (the graph never runs it unapproved;
    a recorded write after a reject is graded in tests/test_evals_graders.py)."""
    policy, human = ApprovalPolicy.load(), Human(p.scenario.approvals, p.names)
    for spot in spots(p):
        if needs_approval(policy, spot.tool) and human.decide(spot.tool, spot.args).verdict == "reject":
            return inserted(p, spot, [{"name": spot.tool, "args": spot.args}])
    return None


def wrong_text(p: Prepared) -> Played | None:
    def change(s: Spot) -> dict[str, Any] | None:
        key = next((k for k in ("content", "resolution") if s.args.get(k)), None)
        return {**s.args, key: "Restarted it, looks fine now."} if key else None

    return replaced(p, change)


def duplicate_incident(p: Prepared) -> Played | None:
    """The incident opened again, its title reworded a little."""
    for spot in spots(p):
        if spot.tool == "create_incident":
            again = {**spot.args, "title": f"{spot.args['title']} (again)"}
            return inserted(p, spot, [{"name": "create_incident", "args": again}])
    return None


def override_hours(p: Prepared) -> Played | None:
    hours = next((e["hours"] for e in p.gold.values() if e and e["kind"] == "override"), None)
    return replaced(p, lambda s: {**s.args, "end": f"+{hours + 1:g}h"}
                    if s.tool == "create_override" and hours else None)


def override_time_zone(p: Prepared) -> Played | None:
    return replaced(p, lambda s: {**s.args, "time_zone": "UTC" if s.args["time_zone"] != "UTC" else "Asia/Tokyo"}
                    if s.tool == "create_override" and s.args.get("time_zone") else None)


def override_user(p: Prepared) -> Played | None:
    return replaced(p, lambda s: {**s.args, "user": other(p, "user", s.args["user"])}
                    if s.tool == "create_override" else None)


def wrong_escalation_level(p: Prepared) -> Played | None:
    """One level further than asked (or than the next level)."""

    def change(s: Spot) -> dict[str, Any] | None:
        if s.tool != "update_incident" or s.args.get("action") != "escalate":
            return None
        incident_id = p.names.resolve("incident", s.args["incident"])
        number = next(n for n, i in p.names.incidents.items() if i == incident_id and n.isdigit())
        level = p.gold.get(f"incident #{number}", {}).get("escalation_level") or 1
        return {**s.args, "escalation_level": level + 1}

    return replaced(p, change)


def unrequested_proposal(p: Prepared) -> Played | None:
    """A change nobody asked for (acknowledging an unrelated incident); the person rejects it."""
    number = untouched_incident(p) if writable(p) else None
    if number is None:
        return None
    return inserted(p, None, [{"name": "update_incident", "args": {"incident": number, "action": "acknowledge"}}])


MUTATIONS: dict[str, Mutation] = {
    "wrong urgency": wrong_urgency,
    "wrong service": wrong_service,
    "wrong assignee": wrong_assignee,
    "wrong priority": wrong_priority,
    "wrong incident": wrong_incident,
    "extra write": extra_write,
    "missing approval": missing_approval,
    "write after a reject": write_after_reject,
    "wrong note or resolution text": wrong_text,
    "duplicate incident": duplicate_incident,
    "override for the wrong hours": override_hours,
    "override in the wrong time zone": override_time_zone,
    "override for the wrong user": override_user,
    "wrong escalation level": wrong_escalation_level,
    "unrequested proposal, rejected": unrequested_proposal,
}


def mutants(prepared: list[Prepared], per_kind: int | None = None) -> list[Mutant]:
    """Every kind of mistake applied to every scenario it applies to (or to `per_kind` of them, spread
    evenly over the suite)."""
    out = []
    for kind, mutate in MUTATIONS.items():
        found = [Mutant(kind, p, turns) for p in prepared if (turns := mutate(p)) is not None]
        if per_kind is not None and len(found) > per_kind:
            found = [found[i * len(found) // per_kind] for i in range(per_kind)]
        out += found
    return out


# --- running -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Outcome:
    mutants: list[tuple[Mutant, Trajectory]]
    controls: list[Trajectory]

    def survivors(self) -> list[tuple[Mutant, Trajectory]]:
        return [(m, t) for m, t in self.mutants if not killed(t)]

    def failed_controls(self) -> list[Trajectory]:
        return [t for t in self.controls if t.grade.reward != 1.0]

    def kill_rate(self) -> float:
        return 1 - len(self.survivors()) / len(self.mutants) if self.mutants else 0.0


def killed(trajectory: Trajectory) -> bool:
    """Scored 0, and a check of what was written or proposed failed."""
    checks = trajectory.grade.checks
    return trajectory.grade.reward == 0.0 and any(not checks[name].passed for name in WRITE_CHECKS)


def run_mutants(prepared: list[Prepared], *, per_kind: int | None = None, concurrency: int = 2) -> Outcome:
    """The mutants (see `mutants`) and the unmutated path of every scenario they were made from, graded."""
    found = mutants(prepared, per_kind)
    used = {m.prepared.scenario.id for m in found}
    prepared = [p for p in prepared if p.scenario.id in used]
    control = Planner("reference", "mutation", lambda p: ScriptedChatModel(script=ReferencePlayer.of(
        p.scenario.reference_turns())))
    jobs = [Job(m.prepared, m.planner()) for m in found] + [Job(p, control) for p in prepared]
    done = run_jobs(jobs, concurrency=concurrency, grade=grade)
    return Outcome(list(zip(found, done[:len(found)], strict=True)), done[len(found):])


def report(outcome: Outcome) -> str:
    lines = [f"{'kind of mistake':34} mutants  killed  scenarios"]
    for kind in MUTATIONS:
        mine = [(m, t) for m, t in outcome.mutants if m.kind == kind]
        dead = sum(killed(t) for _, t in mine)
        lines.append(f"{kind:34} {len(mine):7}  {dead:6}  {len({m.prepared.scenario.id for m, _ in mine}):9}")
    scenarios = len({m.prepared.scenario.id for m, _ in outcome.mutants})
    dead = len(outcome.mutants) - len(outcome.survivors())
    lines.append(f"kill rate: {outcome.kill_rate():.1%} ({dead}/{len(outcome.mutants)} mutants of "
                 f"{len(MUTATIONS)} kinds in {scenarios} scenarios); controls passed: "
                 f"{len(outcome.controls) - len(outcome.failed_controls())}/{len(outcome.controls)}")
    lines += [f"SURVIVED {m.kind} in {m.prepared.scenario.id} ({t.grade.failure or 'reward 1'})"
              for m, t in outcome.survivors()]
    lines += [f"CONTROL FAILED {t.scenario}: {t.grade.failure}" for t in outcome.failed_controls()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals.mutations", description=__doc__.split("\n\n")[0])
    parser.add_argument("--concurrency", type=int, default=2, help="trials run at once (worker processes)")
    parser.add_argument("--per-kind", type=int, default=None, help="scenarios per kind of mistake (default: all "
                        "it applies to)")
    args = parser.parse_args(argv)
    logging.getLogger("incident_commander").setLevel(logging.ERROR)  # the faults' retries are expected
    outcome = run_mutants([prepare(s) for s in load_scenarios()], per_kind=args.per_kind,
                          concurrency=args.concurrency)
    print(report(outcome))
    return 0 if not outcome.survivors() and not outcome.failed_controls() else 1


if __name__ == "__main__":
    sys.exit(main())
