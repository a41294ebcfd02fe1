"""The LangChain tools the planner calls, and what the approval step needs to know about them.

Every tool goes through one path (`Toolkit._invoke`): the schema has checked the arguments, the
tool's body (`tools.actions`) resolves names, calls PagerDuty and shapes the answer, and anything
PagerDuty or the resolver refused becomes one short "Error: … Next: …" paragraph. The graph
therefore never sees an exception for a 4xx, a rate limit or an unknown name: the model reads what
went wrong and what to try instead.

LangChain itself is loaded only when the tools are first asked for as LangChain tools
(`tools.langchain_tools`): a read answered outside the graph (`Toolkit.read`) never loads it.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property, partial
from typing import TYPE_CHECKING, Any, Literal, get_args, get_origin

from pydantic import ValidationError

from tools import schemas as s
from tools.actions import SETUP_PROBLEM, Actions, Call, ToolProblem
from tools.client import PagerDutyClient
from tools.clock import Clock, SystemClock
from tools.errors import (
    ConfigurationError,
    Forbidden,
    InvalidInput,
    NetworkError,
    NotFound,
    PagerDutyError,
    RateLimited,
    ServerError,
    Unauthorized,
    UnconfirmedWrite,
)
from tools.events import EventsClient
from tools.preconditions import Preconditions
from tools.registry import TOOLS, Tool
from tools.registry import tool as declaration
from tools.resolve import Directory, ResolutionError, label
from tools.sentences import Sentences
from tools.timeparse import TimeParseError

if TYPE_CHECKING:
    from langchain_core.tools import BaseTool

REQUESTER = "requester"  # the run config key naming who is asking, hence who PagerDuty records as writing
# What small models put in optional arguments they mean to leave out. Artifact ids such as "null" or "" are
# not among them: those are refused with the error that says to look the real id up (`schemas.refuse_artifact`).
FILLERS = frozenset({"default"})
MAX_DIRECTORIES = 256
# The arguments that name something people know by a name, and what they may name (responders: either).
NAMED: dict[str, tuple[str, ...]] = {
    "service": ("service",), "assignee": ("user",), "user": ("user",), "escalation_policy": ("escalation_policy",),
    "schedule": ("schedule",), "priority": ("priority",), "team": ("team",),
    "responders": ("user", "escalation_policy"),
    "incident": ("incident",), "incidents": ("incident",), "target": ("incident",), "sources": ("incident",),
}
MAX_NAMED = 10  # names looked up per argument: a bulk change's card names its first incidents

def step(name: str) -> str:
    """What a call of the tool is doing, in words for people watching: 'Finding who is on call'."""
    doing = TOOLS[name].doing if name in TOOLS else "run a step"
    verb, _, rest = doing.partition(" ")
    return f"{verb[:1].upper()}{verb[1:].removesuffix('e')}ing {rest}".strip()


@dataclass(frozen=True)
class Precheck:
    """What a write's precondition found, before anyone is asked to approve it."""

    outcome: Literal["runs", "settled", "refused"]
    """runs: it would run as shown; settled: the change is already in place; refused: it cannot run as things
    stand (a name that fits nothing, no such incident, nothing left to escalate to, a past time)."""
    text: str = ""
    """settled: the tool's answer (JSON, as the tool's own); refused: the very error the tool would answer."""


# --- the public face ---------------------------------------------------------------------------


class Toolkit:
    """The tools for one PagerDuty account, plus describe/validate/info for the approval step."""

    def __init__(self, client: PagerDutyClient, events: EventsClient | None, *, read_only: bool,
                 clock: Clock, time_zone: str | None = None) -> None:
        self._client = client
        self._clock = clock
        self._directories: OrderedDict[str, Directory] = OrderedDict()
        self._lock = threading.Lock()
        self._actions = Actions(client, events)
        self._sentences = Sentences(self._actions, time_zone)
        self._preconditions = Preconditions(self._actions)
        self.read_only = read_only or client.settings.read_only
        self.offered = [name for name, tool in TOOLS.items() if not (self.read_only and tool.kind == "write")]
        """The names of the tools this account may use (every write left out when read-only)."""

    @cached_property
    def tools(self) -> list[BaseTool]:
        """The offered tools as LangChain tools, for the planner."""
        from tools.langchain_tools import structured_tool  # LangChain loads here, not for `read`

        return [structured_tool(name, TOOLS[name].description,
                                {"kind": TOOLS[name].kind, "destructive": TOOLS[name].destructive},
                                self._invoke, keyed=TOOLS[name].keyed,
                                refusal=partial(argument_problems, name))
                for name in self.offered]

    @staticmethod
    def info(name: str) -> Tool[Any]:
        """The tool's declaration (also for a write this read-only toolkit leaves out)."""
        return declaration(name)

    def validate(self, name: str, args: dict[str, Any]) -> dict[str, Any]:
        """Edited arguments checked again by the tool's schema; ValueError says what is wrong, readably."""
        return _checked(name, args).model_dump(exclude_unset=True)

    def argument_help(self, name: str) -> dict[str, tuple[str, list[str] | None]]:
        """Each argument of the tool: what it is, and its allowed values when they are fixed (for edit forms)."""
        return {field: (info.description or "", _choices(info.annotation))
                for field, info in declaration(name).args.model_fields.items()}

    def default_author(self) -> str:
        """The email writes are made as when the person asking is not known: the configured `From`, or the
        token's own user. `ConfigurationError` for an account key with no `From` configured."""
        return self._client.from_email()

    @staticmethod
    def beyond_limits(args: Any) -> str | None:
        """Why these arguments exceed anything PagerDuty accepts (and perhaps what a checkpoint can store)."""
        return s.beyond_limits(args)

    def tidy(self, name: str, args: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
        """A model's arguments without the keys the tool does not take, or a resolution given with an action
        other than resolve (returned, so the caller can say which were ignored), and without optional arguments
        filled with null or the word "default", which mean the same as leaving them out. A required argument is
        kept as given: its error says what to fix.
        """
        fields = declaration(name).args.model_fields
        unknown = sorted(key for key in args if key not in fields)
        kept = {key: value for key, value in args.items()
                if key in fields and (fields[key].is_required() or not _filler(value))}
        if "resolution" in kept and args.get("action") not in (None, "resolve"):
            # Resolve's words given with another action ("ack 266, I'm on it"): nothing of this change.
            del kept["resolution"]
            unknown.append("resolution")
        return kept, unknown

    def pinned(self, name: str, args: dict[str, Any]) -> dict[str, Any]:
        """The arguments made absolute by the tool's pin, as the approval card will show them, so that running
        them late or twice cannot do more than was approved. Tools without a pin, and what cannot be read now
        (the tool will say why when it runs), pass as given."""
        tool = declaration(name)
        if tool.pin is None:
            return args
        try:
            return tool.pin(self._preconditions, self._call(None, None), _checked(name, args))
        except (InvalidArguments, *TOOL_ERRORS):
            return args

    def precheck(self, name: str, args: dict[str, Any], *, requester: str | None) -> Precheck:
        """Whether a write would run as shown, asked before anyone is asked to approve it: who is asking must
        be a PagerDuty user (PagerDuty records them as the author), then the tool's own precondition."""
        tool = declaration(name)
        model = _checked(name, args)
        call = self._call(None, None, requester)
        try:
            self._actions.author(call)
            settled = tool.check(self._preconditions, call, model) if tool.check else None
        except TOOL_ERRORS as error:
            return Precheck("refused", tool_error_text(name, error))
        if settled is None:
            return Precheck("runs")
        return Precheck("settled", json.dumps(settled, ensure_ascii=False, separators=(",", ":")))

    def names(self, args: dict[str, Any]) -> dict[str, str]:
        """How people know each id or name in a write's arguments, its id in brackets: 'P567AF0' → 'API Gateway
        (P567AF0)', '268' → '#268 API p99 latency (PQ001ZD)'. Looked up as the sentence writer just looked them
        up (the conversation's directory, the incident); what cannot be looked up is left out."""
        found: dict[str, str] = {}
        for field, value in args.items():
            for ref in (value if isinstance(value, list) else [value])[:MAX_NAMED]:
                if field in NAMED and isinstance(ref, str) and (shown := self._name_of(NAMED[field], ref)):
                    found[ref] = shown
        return found

    def aliases(self, kind: str, ref: str) -> set[str]:
        """The ways the entry `ref` names is known (id, name, email), lower case; none when it cannot be
        looked up."""
        try:
            entry = self._directory("").resolve(kind, ref)
        except TOOL_ERRORS:
            return set()
        return {str(entry[key]).lower() for key in ("id", "name", "email") if entry.get(key)}

    def _name_of(self, kinds: tuple[str, ...], ref: str) -> str | None:
        for kind in kinds:
            try:
                if kind == "incident":
                    incident = self._actions.incident(ref)
                    return f"#{incident.get('incident_number')} {incident.get('title')} ({incident['id']})"
                entry = self._directory("").resolve(kind, ref)
                if entry.get("name") or entry.get("summary"):  # an id beyond the listing is not a name
                    return label(entry)
            except TOOL_ERRORS:
                continue
        return None

    def describe(self, name: str, args: dict[str, Any]) -> str:
        """One sentence for an approval card, with ids resolved to names. A lookup that fails here (PagerDuty
        busy, a name gone since the precondition passed) leaves the values as given rather than no card."""
        tool = declaration(name)
        model = _checked(name, args)
        shown = ", ".join(f"{k.replace('_', ' ')} {v!r}" for k, v in model.model_dump(exclude_none=True).items())
        plain = f"{tool.doing[:1].upper()}{tool.doing[1:]}" + (f": {shown}." if shown else ".")
        if tool.sentence is None:  # a read: asked about only where a policy wants it
            return plain
        try:
            return tool.sentence(self._sentences, self._call(None, None), model)
        except TOOL_ERRORS:
            return plain

    # --- running ---

    def _invoke(self, name: str, args: dict[str, Any], configurable: dict[str, Any], tool_call_id: str | None) -> str:
        """The one path every tool takes: run it, answer compact JSON, or raise its error as text."""
        call = self._call(str(configurable.get("thread_id") or ""), tool_call_id, configurable.get(REQUESTER),
                          configurable.get("proposed_at"))
        tool = declaration(name)
        model = tool.args.model_construct(**args)  # already validated by the tool's schema
        with _as_tool_error(name, writes=tool.kind == "write"):
            result = tool.run(self._actions, call, model)
        return json.dumps(result, ensure_ascii=False, separators=(",", ":"))

    def read(self, name: str, args: dict[str, Any], *, thread_id: str, requester: str | None) -> tuple[str, bool]:
        """A read tool's answer outside the graph, as the planner would read it, and whether it succeeded: its
        compact JSON, or the "Error: …" text its LangChain tool would answer (no exception for either)."""
        tool = declaration(name)
        if tool.kind != "read":
            raise ValueError(f"{name} changes PagerDuty: it runs through the graph, after approval")
        try:
            model = _checked(name, args)
            result = tool.run(self._actions, self._call(thread_id, None, requester), model)
        except InvalidArguments as error:
            return f"Error: {error}", False
        except TOOL_ERRORS as error:
            return tool_error_text(name, error), False
        return json.dumps(result, ensure_ascii=False, separators=(",", ":")), True

    def _call(self, thread_id: str | None, tool_call_id: str | None, requester: str | None = None,
              proposed_at: str | None = None) -> Call:
        """What the tool knows of its call; `proposed_at` (ISO) is when the planner proposed it, if known."""
        return Call(self._directory(thread_id or ""), self._clock.now(), thread_id or "", tool_call_id, requester,
                    datetime.fromisoformat(proposed_at) if proposed_at else None)

    def _directory(self, thread_id: str) -> Directory:
        """Each conversation keeps its own short-lived directory; the least recently used are dropped."""
        with self._lock:
            directory = self._directories.pop(thread_id, None) or Directory(self._client, self._clock)
            self._directories[thread_id] = directory
            while len(self._directories) > MAX_DIRECTORIES:
                self._directories.popitem(last=False)
            return directory


def build_toolkit(client: PagerDutyClient, events: EventsClient | None = None, *, read_only: bool = False,
                  clock: Clock | None = None, time_zone: str | None = None) -> Toolkit:
    """The toolkit for `client`'s account; read-only (flag or client setting) leaves every write tool out;
    approval sentences say times in `time_zone` (an IANA name) with UTC beside them."""
    return Toolkit(client, events, read_only=read_only, clock=clock or SystemClock(), time_zone=time_zone)


# --- errors as text ----------------------------------------------------------------------------


class InvalidArguments(ValueError):
    """Arguments a tool's schema refuses: `str()` is the planner's text, `problems` what a person reads, and
    `fields` each wrong argument's problem."""

    def __init__(self, name: str, error: ValidationError) -> None:
        super().__init__(argument_problems(name, error))
        self.problems = _problem_list(name, error)
        self.fields = {str(e["loc"][0]): e["msg"].removeprefix("Value error, ") for e in error.errors() if e["loc"]}


def _choices(annotation: Any) -> list[str] | None:
    """The values of a `Literal` argument (optional or not); None for free values."""
    if get_origin(annotation) is Literal:
        return [str(v) for v in get_args(annotation)]
    inner = [_choices(a) for a in get_args(annotation) if a is not type(None)]
    return inner[0] if len(inner) == 1 else None


def _filler(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip().lower() in FILLERS)


def _checked(name: str, args: dict[str, Any]) -> s.ToolArgs:
    if name not in TOOLS:
        raise ValueError(f"no tool named {name!r}")
    try:
        return TOOLS[name].args.model_validate(args)
    except ValidationError as error:
        raise InvalidArguments(name, error) from None


TOOL_ERRORS = (ResolutionError, TimeParseError, ToolProblem, PagerDutyError)
"""What a tool (or its precondition) may find wrong, or PagerDuty refuse: answered as text, not raised on."""


@contextmanager
def _as_tool_error(name: str, *, writes: bool = False) -> Iterator[None]:
    """What a tool (or its precondition) found wrong, or PagerDuty refused, as the one paragraph of text the
    planner reads (`ToolException`); a write PagerDuty did not confirm stops the run instead (`UnconfirmedWrite`)."""
    try:
        yield
    except TOOL_ERRORS as error:
        if writes and isinstance(error, (ServerError, NetworkError)):
            raise UnconfirmedWrite(TOOLS[name].doing, error) from error
        from langchain_core.tools import ToolException  # already loaded wherever a tool runs in the graph

        raise ToolException(tool_error_text(name, error)) from None


def tool_error_text(name: str, error: Exception) -> str:
    """The paragraph the planner reads for one of `TOOL_ERRORS`."""
    if isinstance(error, (ResolutionError, TimeParseError)):
        return _could_not(name, error)
    if isinstance(error, ToolProblem):
        return _refused(name, error)
    assert isinstance(error, PagerDutyError)
    return pagerduty_problem(TOOLS[name].doing, error)


def _refused(name: str, problem: ToolProblem) -> str:
    return f"Error: could not {TOOLS[name].doing} — {problem} Next: {problem.next_step}"


def _could_not(name: str, error: Exception) -> str:
    """'Error: could not create the override — No user matches 'Zed Quinn'. Closest: …'."""
    return f"Error: could not {TOOLS[name].doing} — {error}"


def is_setup_problem(text: str) -> bool:
    """Whether a tool's error text says PagerDuty cannot be used as configured (bad key, unreachable host,
    no From user), rather than that this one request failed."""
    return SETUP_PROBLEM in text


def argument_problems(name: str, error: ValidationError) -> str:
    """'invalid arguments for create_incident — title: too short; unknown argument foo. Next: …'."""
    return (f"invalid arguments for {name} — {_problem_list(name, error)}. Nothing was sent to PagerDuty. "
            "Next: fix these and call again.")


def _problem_list(name: str, error: ValidationError) -> str:
    """'title: too short; unknown argument 'foo' (allowed: …)'."""
    allowed = ", ".join(declaration(name).args.model_fields) or "none"
    problems = []
    for item in error.errors():
        where = ".".join(str(part) for part in item["loc"])
        if item["type"] == "extra_forbidden":
            problems.append(f"unknown argument {where!r} (allowed: {allowed})")
        elif item["type"] == "missing":
            problems.append(f"{where} is required")
        else:
            message = item["msg"].removeprefix("Value error, ")
            problems.append(f"{where}: {message}" if where else message)
    return "; ".join(problems)


def pagerduty_problem(doing: str, error: PagerDutyError) -> str:
    """'Error: could not … — PagerDuty 400 (2001 Invalid Input Provided): detail. Next: …'."""
    if error.status is None:
        what = error.message.rstrip(".")
    else:
        code = f"{error.code} " if error.code is not None else ""
        what = f"PagerDuty {error.status} ({code}{error.message.rstrip('.')})"
    if error.errors:
        what += ": " + "; ".join(error.errors)
    if error.request_id and (error.status or 0) >= 500:
        what += f" [request id {error.request_id}]"
    return f"Error: could not {doing} — {what.rstrip('.')}. Next: {_next_step(error)}"


def _next_step(error: PagerDutyError) -> str:
    if isinstance(error, RateLimited):
        wait = f"{error.reset_in:g} s" if error.reset_in is not None else "a minute"
        return f"PagerDuty is rate limiting this key; wait {wait}, then try again."
    if isinstance(error, NetworkError):
        return (f"check PAGERDUTY_API_HOST and the network; {SETUP_PROBLEM} if it persists. For a change, "
                "first check whether it took effect.")
    if isinstance(error, ServerError):
        return ("PagerDuty is not answering properly; try again in a minute. For a change, first check "
                "whether it took effect.")
    if isinstance(error, NotFound):
        return "check the id or number; the list and find tools show the valid ones."
    if isinstance(error, Unauthorized):
        return (error.hint() or "check PAGERDUTY_API_KEY") + f"; {SETUP_PROBLEM}: tell the user."
    if isinstance(error, Forbidden):
        return (error.hint() or "this API key may not do this (read-only key or missing permission)") + \
            "; tell the user rather than retrying."
    if isinstance(error, ConfigurationError):
        return f"set what the message names; {SETUP_PROBLEM}: tell the user."
    if error.status == 402:
        return "the PagerDuty account does not include this feature; tell the user."
    if isinstance(error, InvalidInput):
        return "fix the arguments PagerDuty named; the same call will fail again."
    return "tell the user what failed."
