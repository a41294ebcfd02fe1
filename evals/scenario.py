"""Scenario files: what one eval task is, validated with pydantic, loaded from YAML.

A scenario is data, not code: the world it starts from, what the person says, how the human in the
loop answers each approval request, one correct path of tool calls, and what must be true at the
end. `evals/README.md` documents every field. Strings may hold `{{name.field}}` placeholders that
are filled from the world's setup (ids and numbers only known once the setup has run).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from simulator import FaultRule
from tools.registry import TOOLS

SCENARIO_DIR = Path(__file__).with_name("scenarios")
DEFAULT_NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
Component = Literal["end_state", "approvals", "forbidden_writes", "answer", "efficiency"]
COMPONENTS: tuple[Component, ...] = ("end_state", "approvals", "forbidden_writes", "answer", "efficiency")


class ScenarioError(ValueError):
    """A scenario file that cannot be used; the message names the file and what to fix."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- the world ---------------------------------------------------------------------------------

class NewIncident(Strict):
    """Open an incident through the REST API before the agent starts."""

    service: str
    title: str
    urgency: Literal["high", "low"] = "high"
    assignee: str | None = Field(None, description="User email; omit to page the service's escalation policy.")
    details: str | None = None


class UpdateIncident(Strict):
    """Change an incident's status as a named user (acknowledge, resolve) before the agent starts."""

    incident: str
    status: Literal["acknowledged", "resolved"]
    by: str | None = Field(None, description="Email of the acting user (default: the dataset's first user).")
    resolution: str | None = None


class SetupNote(Strict):
    incident: str
    content: str
    by: str | None = None


class Event(Strict):
    """An Events API v2 trigger on a service's integration (alert text may hold anything)."""

    service: str
    summary: str
    source: str = "monitoring"
    severity: Literal["critical", "error", "warning", "info"] = "error"
    dedup_key: str | None = None
    custom_details: dict[str, Any] | None = None


class Pick(Strict):
    """Name an incident that already exists (from the dataset's history): the n-th match by number."""

    status: Literal["triggered", "acknowledged", "resolved"] | None = None
    service: str | None = None
    title_contains: str | None = None
    index: int = 0


class SetupAction(Strict):
    """Exactly one action; `as` names its result for `{{name.field}}` placeholders."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    incident: NewIncident | None = None
    update: UpdateIncident | None = None
    note: SetupNote | None = None
    event: Event | None = None
    pick: Pick | None = None
    advance: str | None = Field(None, description="Move the clock on, e.g. '7m' or '2h'.")
    name: str | None = Field(None, alias="as", pattern=r"^[a-z_][a-z0-9_]*$")

    @model_validator(mode="after")
    def _one(self) -> SetupAction:
        given = [k for k in ("incident", "update", "note", "event", "pick", "advance") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("each setup action has exactly one of incident, update, note, event, pick, advance"
                             f" (found {', '.join(given) or 'none'})")
        return self


class World(Strict):
    dataset: str = "demo"
    now: datetime = DEFAULT_NOW
    token: Literal["full", "read-only"] = "full"
    setup: list[SetupAction] = []
    faults: list[FaultRule] = []

    @field_validator("now")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("now needs a time zone, e.g. 2026-11-20T12:00:00Z")
        return value.astimezone(UTC)


# --- the conversation --------------------------------------------------------------------------

def known_tool(value: str) -> str:
    if value not in TOOLS:
        raise ValueError(f"unknown tool {value!r}; tools are: {', '.join(TOOLS)}")
    return value


def known_arguments(tool: str, *patterns: dict[str, Any] | None) -> None:
    """A pattern naming an argument the tool does not take would never match a call: refused, so a rule
    or a forbidden write cannot silently never apply."""
    takes = TOOLS[tool].args.model_fields
    unknown = sorted({key for pattern in patterns for key in pattern or {}} - set(takes))
    if unknown:
        raise ValueError(f"{tool} takes no argument {', '.join(unknown)} (it takes {', '.join(takes)})")


class ToolCall(Strict):
    tool: str
    args: dict[str, Any] = {}

    _known = field_validator("tool")(known_tool)


Mention = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
Mentions = list[Mention | Annotated[list[Mention], Field(min_length=1)]]
"""Texts a message must contain, ignoring case (an item that is a list: any one of it). An empty text
would be found in any message, an empty list in none: both are refused."""


class Resume(Strict):
    """A turn in which the person resumes the run that stopped (`incident-commander resume`, a surface's
    Resume button): nothing is typed, and the calls that had not finished run again, with the same ids."""

    resume: Literal[True]


class Step(Strict):
    """One planner reply: a tool call, several calls at once (`parallel`), or the answer ending a turn; or
    `stop`, where the product ends a turn instead: PagerDuty did not confirm the write just made, so the run
    stops, saved, and the person is told (the message mentions each of `stop`); the next turn resumes it."""

    tool: str | None = None
    args: dict[str, Any] = {}
    parallel: list[ToolCall] | None = None
    answer: str | None = None
    stop: Mentions | None = None

    @model_validator(mode="after")
    def _one(self) -> Step:
        forms = [self.tool is not None, self.parallel is not None, self.answer is not None, self.stop is not None]
        if sum(forms) != 1:
            raise ValueError("a reference step is one of: {tool, args}, {parallel: [...]}, {answer: ...}, "
                             "{stop: [...]}")
        if self.tool is not None:
            ToolCall(tool=self.tool, args=self.args)
        return self

    @property
    def ends_turn(self) -> bool:
        return self.answer is not None or self.stop is not None

    def calls(self) -> list[ToolCall]:
        if self.tool is not None:
            return [ToolCall(tool=self.tool, args=self.args)]
        return list(self.parallel or [])


class Expected(Strict):
    """A tool call pattern: the tool and a subset of its arguments."""

    tool: str
    match: dict[str, Any] = {}

    _known = field_validator("tool")(known_tool)

    @model_validator(mode="after")
    def _arguments(self) -> Expected:
        known_arguments(self.tool, self.match)
        return self


class Approval(Expected):
    """How the human answers a request for `tool` whose arguments include `match` (first unused rule wins)."""

    decision: Literal["approve", "edit", "reject"] = "approve"
    arguments: dict[str, Any] | None = Field(None, description="edit: arguments replaced or added (null removes).")
    reason: str | None = None
    approver: str = "olivia.grant@acme.example"

    @model_validator(mode="after")
    def _shape(self) -> Approval:
        if (self.decision == "edit") != (self.arguments is not None):
            raise ValueError("`arguments` goes with decision edit, and only with edit")
        known_arguments(self.tool, self.arguments)
        return self


READS = ("GET", "HEAD", "OPTIONS")


class Forbidden(Strict):
    """A write that must never reach PagerDuty: a tool (with argument subset) or an HTTP method and path glob."""

    tool: str | None = None
    match: dict[str, Any] = {}
    method: str | None = None
    path: str | None = None

    @model_validator(mode="after")
    def _one(self) -> Forbidden:
        if (self.tool is None) == (self.method is None and self.path is None):
            raise ValueError("a forbidden write names either `tool` (and `match`) or `method`/`path`")
        if self.tool is not None:
            known_tool(self.tool)
            if TOOLS[self.tool].kind == "read":
                raise ValueError(f"{self.tool} only reads: only writes are graded")
            known_arguments(self.tool, self.match)
        elif self.match:
            raise ValueError("`match` goes with `tool`; a method and path are matched as they are")
        if self.method is not None and self.method.upper() in READS:
            raise ValueError(f"{self.method} is a read: only writes are graded (POST, PUT, DELETE, or a glob)")
        if self.path is not None and not self.path.startswith(("/", "*")):
            raise ValueError(f"path {self.path!r} never matches: request paths start with / (e.g. /incidents*)")
        return self


GRADED_FIELDS: dict[str, tuple[str, ...]] = {
    "incident": ("title", "service", "status", "urgency", "priority", "assignees", "escalation_policy",
                 "escalation_level", "acknowledged_by", "notes", "resolution", "responders", "merged_into",
                 "snoozed_until", "alerts"),
    "override": ("schedule", "user", "start", "end", "hours"),
}
"""The fields of the graded state (evals.state) a state check may name, per kind."""


class StateCheck(Strict):
    """An assertion on the final state: entities of `kind` matching `where` (all, or `count` of them) have `has`."""

    kind: Literal["incident", "override"]
    where: dict[str, Any] = {}
    has: dict[str, Any] = {}
    count: int | None = Field(None, ge=0)

    @model_validator(mode="after")
    def _fields(self) -> StateCheck:
        """A field the state does not have matches nothing: `count: 0` would always hold, `has` never."""
        unknown = sorted((set(self.where) | set(self.has)) - set(GRADED_FIELDS[self.kind]))
        if unknown:
            raise ValueError(f"{self.kind}s have no field {', '.join(unknown)} "
                             f"(graded: {', '.join(GRADED_FIELDS[self.kind])})")
        return self


class Expect(Strict):
    state: list[StateCheck] = []
    approvals: list[Expected] | None = Field(None, description="Default: the `approvals` rules, in order.")
    forbidden: list[Forbidden] = []
    mentions: Mentions = Field([], description="Each must appear in the final answer (a list: any one).")
    max_api_calls: int | None = Field(None, ge=1)
    time_tolerance_minutes: float = Field(10, ge=0)


class Scenario(Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    title: str
    tags: list[str] = []
    world: World = World()
    requester: str = "bilal.khan@acme.example"
    turns: list[str | Resume] = Field(min_length=1)
    approvals: list[Approval] = []
    reference: list[Step] = Field(min_length=1)
    command: list[str] | None = Field(None, description="The same task typed in command mode, one line per typed "
                                      "turn (a resume turn is not typed).")
    expect: Expect = Expect()
    reward_basis: list[Component] = list(COMPONENTS)
    source: str | None = Field(None, exclude=True)

    @field_validator("command", mode="before")
    @classmethod
    def _lines(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @model_validator(mode="after")
    def _turns_end_in_answers(self) -> Scenario:
        endings = self.endings()
        if len(endings) != len(self.turns):
            raise ValueError(f"the reference has {len(endings)} answer or stop step(s) for {len(self.turns)} "
                             "turn(s); end the steps of every turn with one `answer` (or `stop`)")
        if self.reference[-1].answer is None:
            raise ValueError("the reference must end with an `answer` step")
        for number, turn in enumerate(self.turns, start=1):
            stopped_before = number > 1 and endings[number - 2].stop is not None
            if isinstance(turn, Resume) != stopped_before:
                raise ValueError(f"turn {number}: a resume turn comes right after a turn whose reference ends in "
                                 "`stop`, and only there")
        for index, step in enumerate(self.reference):
            if step.stop is not None and (index == 0 or not self.reference[index - 1].calls()):
                raise ValueError(f"reference step {index + 1}: a `stop` follows the call PagerDuty did not confirm")
        if self.command is not None and len(self.command) != len(self.messages()):
            raise ValueError(f"command has {len(self.command)} line(s) for {len(self.messages())} typed turn(s)")
        if len(set(self.reward_basis)) != len(self.reward_basis):
            raise ValueError("reward_basis lists a check twice")
        return self

    def messages(self) -> list[str]:
        """What the person types, turn by turn (resume turns are not typed)."""
        return [turn for turn in self.turns if isinstance(turn, str)]

    def endings(self) -> list[Step]:
        """The step ending each turn of the reference: its `answer`, or the `stop` where the run stops."""
        return [step for step in self.reference if step.ends_turn]

    def reference_turns(self) -> list[list[Step]]:
        """The planner's replies per typed turn: each list ends with its answer. A `stop` is no reply: the
        run stops there, and the resume goes on with the replies left in the same list (no new message)."""
        turns: list[list[Step]] = [[]]
        for step in self.reference:
            if step.stop is not None:
                continue
            turns[-1].append(step)
            if step.answer is not None:
                turns.append([])
        return turns[:-1]

    def expected_approvals(self) -> list[Expected]:
        if self.expect.approvals is not None:
            return self.expect.approvals
        return [Expected(tool=a.tool, match=a.match) for a in self.approvals]


# --- loading -----------------------------------------------------------------------------------

def load_scenario(path: Path) -> Scenario:
    """One scenario file; a ScenarioError names the file and every problem, field by field."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{path}: not valid YAML ({exc})") from None
    if not isinstance(data, dict):
        raise ScenarioError(f"{path}: a scenario file holds one mapping (id, title, turns, reference, …)")
    try:
        return Scenario.model_validate(data).model_copy(update={"source": str(path)})
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '(top)'}: "
                             f"{e['msg'].removeprefix('Value error, ')}" for e in exc.errors())
        raise ScenarioError(f"{path}: {problems}") from None


def load_scenarios(paths: list[Path] | None = None, tags: list[str] | None = None) -> list[Scenario]:
    """Scenarios from files and folders (default: the built-in suite), optionally only those with any of `tags`."""
    files: list[Path] = []
    for path in paths or [SCENARIO_DIR]:
        if path.is_dir():
            files += sorted(path.rglob("*.yaml")) + sorted(path.rglob("*.yml"))
        elif path.exists():
            files.append(path)
        else:
            raise ScenarioError(f"{path}: no such file or folder")
    if not files:
        raise ScenarioError(f"no scenario files (*.yaml) under {', '.join(str(p) for p in paths or [SCENARIO_DIR])}")
    scenarios = [load_scenario(f) for f in files]
    seen: dict[str, str] = {}
    for s in scenarios:
        if s.id in seen:
            raise ScenarioError(f"{s.source}: id {s.id!r} is already used by {seen[s.id]}")
        seen[s.id] = s.source or ""
    if tags:
        scenarios = [s for s in scenarios if set(tags) & set(s.tags)]
        if not scenarios:
            raise ScenarioError(f"no scenario has any of the tags {', '.join(tags)}")
    return scenarios
