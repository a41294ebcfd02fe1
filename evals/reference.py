"""A scenario made ready to run: placeholders filled, and the gold end state from its reference path.

The gold state comes from replaying the reference path straight through the toolkit on a fresh copy
of the world (same setup, same faults), with the scripted human's decisions applied: a rejected call
does not run, an edited one runs with the edited arguments. No graph and no planner take part, so
the gold state says what should happen, independently of the agent being measured. Approval cards
are described as the agent does, so the replay's API-call count is what a perfect planner costs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from agent.approvals import ApprovalPolicy
from agent.embedded import connect
from evals.decisions import Human
from evals.matching import Names
from evals.scenario import Scenario, ScenarioError, Step
from evals.state import Entities, canonical, delta
from evals.world import WorldRun, build_world, render
from tools.errors import UnconfirmedWrite
from tools.registry import TOOLS
from tools.toolkit import REQUESTER, Toolkit, argument_problems, build_toolkit

THREAD = "eval"


@dataclass(frozen=True)
class Prepared:
    scenario: Scenario
    """With every `{{name.field}}` filled in."""
    initial: Entities
    """The state after setup, before the agent."""
    gold: Entities
    """What the reference path changes (a delta from `initial`)."""
    known_incidents: frozenset[str]
    known_overrides: frozenset[str]
    reference_calls: int
    """API requests the gold replay made (reads, writes, approval-card lookups, retried faults)."""
    names: Names
    """The world's entities by kind, for matching arguments and names (see evals.matching)."""

    def canonical(self, run: WorldRun) -> Entities:
        return canonical(run.sim.state, set(self.known_incidents), set(self.known_overrides))


def prepare(scenario: Scenario, policy: ApprovalPolicy | None = None) -> Prepared:
    """Fill placeholders, check the reference path, replay it for the gold state. ScenarioError on problems."""
    try:
        return _prepare(scenario, policy or ApprovalPolicy.load())
    except ScenarioError as exc:
        raise ScenarioError(f"{scenario.source or scenario.id}: {exc}") from None


def _prepare(scenario: Scenario, policy: ApprovalPolicy) -> Prepared:
    run = build_world(scenario.world)
    data = render(scenario.model_dump(mode="json", exclude={"world", "source"}), run.bindings)
    filled = Scenario.model_validate(data | {"world": scenario.world}).model_copy(update={"source": scenario.source})
    for number, step in enumerate(filled.reference, start=1):
        for call in step.calls():
            try:
                TOOLS[call.tool].args.model_validate(call.args)
            except ValidationError as exc:
                raise ScenarioError(f"reference step {number}: {argument_problems(call.tool, exc)}") from None
    state = run.sim.state
    known_incidents, known_overrides = frozenset(state.incidents), frozenset(state.overrides)
    initial = canonical(state, set(known_incidents), set(known_overrides))
    names = Names.of(state)
    replay(filled, run, policy, names)
    final = canonical(run.sim.state, set(known_incidents), set(known_overrides))
    return Prepared(scenario=filled, initial=initial, gold=delta(initial, final), known_incidents=known_incidents,
                    known_overrides=known_overrides, reference_calls=len(run.sim.request_log) - run.start,
                    names=names)


def replay(scenario: Scenario, run: WorldRun, policy: ApprovalPolicy, names: Names) -> list[str]:
    """Run every reference call on `run` as the approval step would allow; the tool results, in order.

    A write PagerDuty does not confirm stops the run, as in the graph: the reference must say so with a
    `stop` right after it, where the resume runs that very call again (approved already, same call id)."""
    connection = connect(run.settings, transport=run.sim.transport(), clock=run.clock, progress=None)
    try:
        toolkit = build_toolkit(connection.client, connection.events, read_only=run.settings.read_only,
                                clock=run.clock)
        gold = _Replay(scenario, toolkit, policy, Human(scenario.approvals, names))
        for number, step in enumerate(scenario.reference, start=1):
            gold.step(number, step)
        return gold.results
    finally:
        connection.client.close()
        connection.events.close()


class _Replay:
    """The reference path played through the toolkit, one step at a time."""

    def __init__(self, scenario: Scenario, toolkit: Toolkit, policy: ApprovalPolicy, human: Human) -> None:
        self.scenario = scenario
        self.toolkit = toolkit
        self.tools = {t.name: t for t in toolkit.tools}
        self.policy = policy
        self.human = human
        self.results: list[str] = []
        self.calls = 0
        self.unconfirmed: list[tuple[str, dict[str, Any], str]] = []
        """Writes PagerDuty did not confirm in the last step: tool, the arguments that ran, call id."""

    def step(self, number: int, step: Step) -> None:
        if step.stop is not None:
            if not self.unconfirmed:
                raise ScenarioError(f"reference step {number} stops the run, but PagerDuty confirmed every call "
                                    "before it; a `stop` follows a write PagerDuty does not confirm")
            stopped, self.unconfirmed = self.unconfirmed, []
            for tool, arguments, call_id in stopped:  # the resume: the same calls again, approved already
                self._invoke(tool, arguments, call_id)
            if self.unconfirmed:
                raise ScenarioError(f"reference step {number}: PagerDuty did not confirm the resumed call either")
            return
        if self.unconfirmed:
            tool = self.unconfirmed[0][0]
            raise ScenarioError(f"reference step {number - 1}: PagerDuty did not confirm {tool}, so the run stops "
                                "there; end that turn with a `stop` step and resume it in the next turn")
        for call in step.calls():
            self.calls += 1
            self._call(call.tool, call.args, f"gold_{self.calls}")

    def _call(self, tool: str, arguments: dict[str, Any], call_id: str) -> None:
        if tool not in self.tools:
            self.results.append(f"Error: no tool named {tool} here")
            return
        rule = self.policy.rule(self.tools[tool])
        if rule == "deny":
            return
        if rule == "approve":  # as the graph does: checked, described, then put to a person
            check = self.toolkit.precheck(tool, arguments, requester=self.scenario.requester)
            if check.outcome != "runs":  # refused: the tool's error; settled: its answer
                self.results.append(check.text)
                return
            self.toolkit.describe(tool, arguments)
            answer = self.human.decide(tool, arguments)
            if answer.rule is None:
                raise ScenarioError(f"reference call {tool} {arguments} needs approval, but no rule under "
                                    "`approvals` matches it; add one (approve, edit or reject)")
            if answer.verdict == "reject":
                return
            arguments = answer.arguments if answer.arguments is not None else arguments
        self._invoke(tool, arguments, call_id)

    def _invoke(self, tool: str, arguments: dict[str, Any], call_id: str) -> None:
        try:
            message = self.tools[tool].invoke({"name": tool, "args": arguments, "id": call_id, "type": "tool_call"},
                                              {"configurable": {"thread_id": THREAD,
                                                                REQUESTER: self.scenario.requester}})
        except UnconfirmedWrite:
            self.unconfirmed.append((tool, arguments, call_id))
            return
        self.results.append(message.text)
