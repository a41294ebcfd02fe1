"""Exactly-once under crashes: for each write tool, approve a change in a process that is killed at a random
point, resume in a new process, and count what PagerDuty ended up with.

    python benchmarks/chaos.py [--runs 20] [--seed 7] [--tools add_note,merge_incidents]

Each run starts from a fresh demo organisation (the in-process simulator), asks for one write, and
approves it in a process that "dies" (an exception no code of ours catches) at a point drawn at random
from every request the approval makes, either just before that request leaves or just after it landed
and before its answer arrives, or after the write, when the planner is called next. A new process on the
same SQLite file then resumes the thread. Per tool, the table counts:

- duplicates: the change happened more than once (two incidents, two notes, two escalations, ...);
- losses: the approved change did not happen at all;
- false failures: the change happened but the resumed run reported the write as failed.

Exit status 1 if any count is not zero.
"""

from __future__ import annotations

import argparse
import logging
import random
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from langchain_core.messages import BaseMessage, ToolMessage

from agent.approvals import ApprovalPolicy
from agent.commander import RESUME_LEASE, Commander
from agent.planners.scripted import ScriptedChatModel
from agent.settings import Settings
from simulator import ManualClock, Simulator
from simulator.datasets import load_dataset
from tools.settings import PagerDutySettings

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
RESETS, RATE_LIMITER, LATENCY, MOBILE = "PQ001ZP", "PQ001ZD", "PQ001ZT", "PQ00203"  # open demo incidents
FREYA = "PKM3T7F"
PHASES = ("before", "during", "after")
RUN_WITHOUT_ASKING = {tool for tool, rule in ApprovalPolicy.load().tools.items() if rule == "auto"}


class ProcessKilled(BaseException):
    """The approving process dies here: not an Exception, so nothing between here and the run catches it."""


@dataclass
class Kill:
    """Where the approving process dies: at request `at` of the approval (before it leaves, or after it
    landed), or, when `at` is None, at the planner's next call after the write."""

    at: int | None
    delivered: bool


class KillSwitch(httpx.BaseTransport):
    """Counts requests once armed and dies at the chosen one."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.kill: Kill | None = None
        self.armed = False
        self.seen = 0
        self.writes_at: list[int] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if not self.armed:
            return self.inner.handle_request(request)
        index = self.seen
        self.seen += 1
        if request.method != "GET":
            self.writes_at.append(index)
        target = self.kill is not None and self.kill.at == index
        if target and not self.kill.delivered:  # type: ignore[union-attr]
            raise ProcessKilled
        response = self.inner.handle_request(request)
        if target:
            raise ProcessKilled
        return response


@dataclass(frozen=True)
class Case:
    """One write tool: the call to approve, and how many times its change shows in PagerDuty's state."""

    tool: str
    args: dict[str, Any]
    effect: Callable[[Simulator, int], int]  # (simulator, request-log length before the run) -> times it happened
    setup: Callable[[Simulator], dict[str, Any]] = field(default=lambda sim: {})


def _log_entries(incident: str, kind: str) -> Callable[[Simulator, int], int]:
    def count(sim: Simulator, _: int) -> int:
        return sum(1 for e in sim.state.log_entries_by_incident[incident] if e.type == kind and e.created_at >= NOW)
    return count


def _successful(method: str, path: str | None) -> Callable[[Simulator, int], int]:
    """Requests PagerDuty carried out (2xx), to `path` or to any path."""
    def count(sim: Simulator, start: int) -> int:
        return sum(1 for r in sim.request_log[start:]
                   if r.method == method and path in (None, r.path) and r.status < 300)
    return count


def _acknowledged_both(sim: Simulator, start: int) -> int:
    counts = [_log_entries(i, "acknowledge_log_entry")(sim, start) for i in (RATE_LIMITER, MOBILE)]
    return 0 if min(counts) == 0 else max(counts)


def _override_for_deletion(sim: Simulator) -> dict[str, Any]:
    """An override to delete, made through the API before the run (its id goes into the call)."""
    client = httpx.Client(transport=sim.transport(), base_url="https://api.pagerduty.com", headers={
        "Authorization": f"Token token={sim.state.dataset.tokens[0].token}",
        "Accept": "application/vnd.pagerduty+json;version=2", "From": sim.state.dataset.users[0].email})
    schedule = next(s for s in sim.state.schedules.values() if s.name == "Payments Primary")
    answer = client.post(f"/schedules/{schedule.id}/overrides", json={"overrides": [{
        "start": "2026-11-21T08:00:00Z", "end": "2026-11-21T16:00:00Z",
        "user": {"id": FREYA, "type": "user_reference"}}]}).json()
    return {"override_id": answer[0]["override"]["id"]}


CASES = [
    Case("create_incident", {"service": "API Gateway", "title": "Chaos probe"},
         lambda sim, _: sum(1 for i in sim.state.incidents.values() if i.title == "Chaos probe")),
    Case("update_incident", {"incident": RESETS, "action": "escalate"}, _log_entries(RESETS, "escalate_log_entry")),
    Case("manage_incidents", {"incidents": [RATE_LIMITER, MOBILE], "action": "acknowledge"}, _acknowledged_both),
    Case("add_note", {"incident": LATENCY, "content": "Chaos probe note."},
         lambda sim, _: sum(1 for n in sim.state.notes_by_incident[LATENCY] if n.content == "Chaos probe note.")),
    Case("add_responders", {"incident": LATENCY, "responders": ["freya"]},
         lambda sim, _: sum(1 for r in sim.state.responder_requests.values()
                            if r.incident_id == LATENCY and any(t.id == FREYA for t in r.targets))),
    Case("snooze_incident", {"incident": LATENCY, "duration": "1h"}, _log_entries(LATENCY, "snooze_log_entry")),
    Case("merge_incidents", {"target": LATENCY, "sources": [RESETS]},
         _successful("PUT", f"/incidents/{LATENCY}/merge")),
    Case("create_override", {"schedule": "Payments Primary", "user": "freya", "start": "2026-11-22T08:00:00Z",
                             "end": "2026-11-22T16:00:00Z"},
         lambda sim, _: sum(1 for o in sim.state.overrides.values()
                            if o.user_id == FREYA and o.start == datetime(2026, 11, 22, 8, tzinfo=UTC))),
    Case("delete_override", {"schedule": "Payments Primary"}, _successful("DELETE", None),
         setup=_override_for_deletion),
    Case("send_event", {"service": "API Gateway", "summary": "Chaos probe alert", "source": "chaos-host"},
         lambda sim, _: sum(1 for a in sim.state.alerts.values() if a.summary == "Chaos probe alert")),
    Case("send_change_event", {"service": "API Gateway", "summary": "Chaos probe deploy"},
         lambda sim, _: sum(1 for e in sim.state.change_events if e.summary == "Chaos probe deploy")),
]


@dataclass
class Tally:
    runs: int = 0
    duplicates: int = 0
    losses: int = 0
    false_failures: int = 0
    phases: dict[str, int] = field(default_factory=lambda: {"before": 0, "during": 0, "after": 0})


def _commander(sim: Simulator, clock: ManualClock, db: str, model: ScriptedChatModel,
               transport: httpx.BaseTransport) -> Commander:
    return Commander.from_settings(Settings(checkpoint_db=db, requester="dana", openai_api_key=None), model=model,
                                   transport=transport, clock=clock, pagerduty_settings=PagerDutySettings(api_key=None))


def _approve(sim: Simulator, clock: ManualClock, db: str, case: Case, args: dict[str, Any], kill: Kill | None
             ) -> KillSwitch:
    """Ask for the write and approve it in a process that dies as `kill` says (never, with None)."""
    switch = KillSwitch(sim.transport())
    switch.kill = kill

    def planner(messages: list[BaseMessage]) -> Any:
        if not any(isinstance(m, ToolMessage) for m in messages):
            return [{"name": case.tool, "args": args}]
        if kill is not None and kill.at is None:
            raise ProcessKilled
        return "Done."

    commander = _commander(sim, clock, db, ScriptedChatModel(script=planner), switch)
    try:
        if case.tool in RUN_WITHOUT_ASKING:  # the process that asks is the one that writes
            switch.armed = True
            commander.send("t1", "do it")
        else:
            [request] = commander.send("t1", "do it").pending
            switch.armed = True
            commander.decide("t1", request.id, "approve", "omar")
    except ProcessKilled:
        pass
    return switch


def run_once(base: Any, case: Case, phase: str, kill_draw: random.Random, workdir: Path, number: int) -> str:
    """One crash-and-resume of `case`, killed in `phase`: ok, duplicate, loss or false_failure."""
    clock = ManualClock(NOW)
    sim = Simulator(base.snapshot(), clock)
    args = case.args | case.setup(sim)
    start = len(sim.request_log)
    db = str(workdir / f"{case.tool}-{number}.sqlite")
    total, write = _clean_requests(base, case, workdir)
    if phase == "before":  # a read before the write (either way), or the write itself before it leaves
        at = kill_draw.randrange(write + 1)
        kill = Kill(at, at < write and kill_draw.random() < 0.5)
    elif phase == "during":  # the write landed; its answer never arrives
        kill = Kill(write, True)
    else:  # a read after the write, or the planner's next call
        at = kill_draw.randrange(write + 1, total + 1)
        kill = Kill(None if at == total else at, kill_draw.random() < 0.5)
    _approve(sim, clock, db, case, args, kill)
    clock.advance(RESUME_LEASE.total_seconds())  # the dead process's claim has to lapse
    reborn = _commander(sim, clock, db, ScriptedChatModel(script=["Done."] * 3), sim.transport())
    turn = reborn.resume("t1")
    outcomes = [e.outcome for e in reborn.audit("t1") if e.action == "tool_call"]
    reborn.close()
    times = case.effect(sim, start)
    if times > 1:
        return "duplicate"
    if times == 0:
        return "loss"
    if turn.status == "failed" or not outcomes or outcomes[-1] != "ok":
        return "false_failure"
    return "ok"


_CLEAN: dict[str, tuple[int, int]] = {}


def _clean_requests(base: Any, case: Case, workdir: Path) -> tuple[int, int]:
    """How many requests an approval of `case` makes when nothing dies, and the index of its first write
    (counted once per tool)."""
    if case.tool not in _CLEAN:
        clock = ManualClock(NOW)
        sim = Simulator(base.snapshot(), clock)
        args = case.args | case.setup(sim)
        switch = _approve(sim, clock, str(workdir / f"{case.tool}-clean.sqlite"), case, args, None)
        _CLEAN[case.tool] = (switch.seen, switch.writes_at[0])
    return _CLEAN[case.tool]


def chaos(runs: int, seed: int, tools: list[str] | None = None, every_phase: bool = False) -> dict[str, Tally]:
    """Run every case `runs` times, each killed in a random phase (or the phases in turn); tallies per tool."""
    base = Simulator.from_dataset(load_dataset("demo"), clock=ManualClock(NOW)).snapshot()
    draw = random.Random(seed)
    tallies: dict[str, Tally] = {}
    with tempfile.TemporaryDirectory(prefix="ic-chaos-") as tmp:
        for case in CASES:
            if tools and case.tool not in tools:
                continue
            tally = tallies.setdefault(case.tool, Tally())
            for number in range(runs):
                phase = PHASES[number % len(PHASES)] if every_phase else draw.choice(PHASES)
                outcome = run_once(base, case, phase, draw, Path(tmp), number)
                tally.runs += 1
                tally.phases[phase] += 1
                if outcome == "duplicate":
                    tally.duplicates += 1
                elif outcome == "loss":
                    tally.losses += 1
                elif outcome == "false_failure":
                    tally.false_failures += 1
    return tallies


def table(tallies: dict[str, Tally]) -> str:
    head = ("tool", "runs", "before", "during", "after", "dup", "lost", "false")
    lines = [f"{head[0]:<18}" + "".join(f"{h:>7}" for h in head[1:])]
    for tool, t in tallies.items():
        row = (t.runs, t.phases["before"], t.phases["during"], t.phases["after"], t.duplicates, t.losses,
               t.false_failures)
        lines.append(f"{tool:<18}" + "".join(f"{n:>7}" for n in row))
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20, help="crash-and-resume runs per write tool")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--tools", help="comma-separated write tools (default: all)")
    options = parser.parse_args()
    logging.getLogger("incident_commander.pagerduty").setLevel(logging.ERROR)  # the table is the output
    tallies = chaos(options.runs, options.seed, options.tools.split(",") if options.tools else None)
    print(table(tallies))
    bad = sum(t.duplicates + t.losses + t.false_failures for t in tallies.values())
    print(f"\n{bad} duplicates, losses or false failures in {sum(t.runs for t in tallies.values())} runs")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
