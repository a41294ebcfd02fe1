"""Every tool the planner can call, each declared once: what it is, what it calls, how it runs and is approved.

A declaration holds every part of a tool: its name, kind (read or write), whether it is destructive, the
risk an approval card shows, the PagerDuty operations it calls, its argument model, the function that
runs it, what it was doing (for "could not …" errors), and which toolsets offer it first; a write also
holds the sentence a person approves, its precondition ("would PagerDuty refuse this as things stand,
or is it done already?"), what pins its arguments where they are relative ("+8h", "the next level"),
and how it stays exactly-once when run again; a read may give command mode's
words for it. The parts are plain functions
and methods, referenced here rather than looked up by name, so "find usages" reaches each one.

The descriptions the model reads stay in `overlay.yaml` beside the operations' words. Importing this
module checks the declarations against the catalogue: a description missing or without a tool, an
operation that does not exist, a read tool that calls a write operation, all fail here, at start-up.

Nothing here needs LangChain: `tools.toolkit` adapts these declarations to LangChain tools.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Generic, Literal, TypeVar

from tools import schemas as s
from tools.actions import Actions, Call
from tools.catalog import Catalog, OverlayError, load_catalog
from tools.preconditions import Preconditions, Settled
from tools.sentences import Sentences

Kind = Literal["read", "write"]
Risk = Literal["low", "medium", "high"]
Strategy = Literal["PagerDuty key", "absolute arguments", "read before write", "end state", "marker"]
A = TypeVar("A", bound=s.ToolArgs)


@dataclass(frozen=True)
class Idempotency:
    """How a write stays exactly-once when it runs again (a resume replays an approved call, a request whose
    answer was lost may be retried); the run function's docstring says more."""

    strategy: Strategy
    how: str

    @property
    def keyed(self) -> bool:
        """Whether the key comes from the call: the tool is given the tool-call id to derive it."""
        return self.strategy == "PagerDuty key"

    def __str__(self) -> str:
        return f"{self.strategy}: {self.how}"


@dataclass(frozen=True)
class Tool(Generic[A]):
    """One tool, whole. Build it with `read` or `write`, which ask for exactly the parts each kind needs."""

    name: str
    args: type[A]
    run: Callable[[Actions, Call, A], dict[str, Any]]
    doing: str
    """What it does, as the tail of "could not …" in its errors: 'find who is on call'."""
    operations: tuple[str, ...]
    """The PagerDuty operations it calls (operationIds of catalog.json)."""
    toolsets: tuple[str, ...]
    """The groups of `agent/toolsets.yaml` that offer it first ("core": every request)."""
    kind: Kind = "read"
    destructive: bool = False
    """A write that pages, resolves, merges or reroutes: the approval policy can never run it unasked."""
    risk: Risk = "low"
    risk_by_action: Mapping[str, Risk] = field(default_factory=dict)
    """The risk of a call whose `action` argument is one of these, instead of `risk`."""
    sentence: Callable[[Sentences, Call, A], str] | None = None
    check: Callable[[Preconditions, Call, A], Settled | None] | None = None
    pin: Callable[[Preconditions, Call, A], dict[str, Any]] | None = None
    """Makes arguments that mean different things at different times absolute before anyone approves them."""
    idempotency: Idempotency | None = None
    verbs: tuple[str, ...] = ()
    """Command mode's words for it: `VERB INCIDENT` runs it (a read that takes one incident; the command
    grammar's own rows cover everything else)."""
    description: str = ""
    """What the planner model reads about it: from overlay.yaml, filled in when the registry is checked."""

    @property
    def keyed(self) -> bool:
        """Whether its idempotency key comes from the call: it is given the tool-call id."""
        return self.idempotency is not None and self.idempotency.keyed

    def risk_of(self, arguments: Mapping[str, Any]) -> Risk:
        return self.risk_by_action.get(str(arguments.get("action")), self.risk)


def read(name: str, args: type[A], run: Callable[[Actions, Call, A], dict[str, Any]], *, doing: str,
         operations: tuple[str, ...], toolsets: tuple[str, ...], verbs: tuple[str, ...] = ()) -> Tool[A]:
    """A tool that only reads PagerDuty: it runs without asking unless the policy says otherwise."""
    return Tool(name, args, run, doing, operations, toolsets, verbs=verbs)


def write(name: str, args: type[A], run: Callable[[Actions, Call, A], dict[str, Any]], *, doing: str,
          operations: tuple[str, ...], toolsets: tuple[str, ...], destructive: bool, risk: Risk,
          sentence: Callable[[Sentences, Call, A], str], check: Callable[[Preconditions, Call, A], Settled | None],
          idempotency: Idempotency, risk_by_action: Mapping[str, Risk] | None = None,
          pin: Callable[[Preconditions, Call, A], dict[str, Any]] | None = None) -> Tool[A]:
    """A tool that changes PagerDuty: it needs the sentence a person approves, its precondition and its
    idempotency strategy."""
    return Tool(name, args, run, doing, operations, toolsets, kind="write", destructive=destructive, risk=risk,
                risk_by_action=risk_by_action or {}, sentence=sentence, check=check, pin=pin, idempotency=idempotency)


DECLARED: tuple[Tool[Any], ...] = (
    # --- the directory ---
    read("find_services", s.FindServices, Actions.find_services, doing="find services",
         operations=("listServices", "listTeams"), toolsets=("core",)),
    read("get_service", s.GetService, Actions.get_service, doing="read the service",
         operations=("getService", "listServices"), toolsets=("directory",)),
    read("who_is_on_call", s.WhoIsOnCall, Actions.who_is_on_call, doing="find who is on call",
         operations=("listOnCalls", "getService", "listServices", "listEscalationPolicies", "listSchedules",
                     "listTeams", "listUsers"), toolsets=("core",)),
    # --- incidents: reads ---
    read("list_incidents", s.ListIncidents, Actions.list_incidents, doing="list incidents",
         operations=("listIncidents", "listServices", "listTeams", "listUsers"), toolsets=("core",)),
    read("get_incident", s.GetIncident, Actions.get_incident, doing="read the incident",
         operations=("getIncident",), toolsets=("core",)),
    read("list_incident_notes", s.IncidentRef, Actions.list_incident_notes, doing="read the incident's notes",
         operations=("listIncidentNotes", "getIncident"), toolsets=("notes", "history")),
    read("incident_timeline", s.IncidentRef, Actions.incident_timeline, doing="build the incident timeline",
         operations=("getIncident", "listIncidentLogEntries", "listChangeEvents"), toolsets=("history",)),
    read("list_log_entries", s.ListLogEntries, Actions.list_log_entries, doing="list log entries",
         operations=("listLogEntries", "listIncidentLogEntries", "getIncident"), toolsets=("history",)),
    read("list_incident_alerts", s.IncidentRef, Actions.list_incident_alerts,
         doing="list the incident's alerts", operations=("listIncidentAlerts", "getIncident"),
         toolsets=("history",)),
    # --- schedules ---
    read("list_schedules", s.ListSchedules, Actions.list_schedules, doing="list schedules",
         operations=("listSchedules",), toolsets=("schedules",)),
    read("get_schedule", s.GetSchedule, Actions.get_schedule, doing="read the schedule",
         operations=("getSchedule", "listSchedules"), toolsets=("schedules",)),
    read("list_overrides", s.ListOverrides, Actions.list_overrides, doing="list overrides",
         operations=("listScheduleOverrides", "listSchedules"), toolsets=("schedules",)),
    # --- people, policies, teams ---
    read("find_users", s.FindUsers, Actions.find_users, doing="find users",
         operations=("listUsers", "getUser", "listTeams"), toolsets=("core",)),
    read("list_escalation_policies", s.ListEscalationPolicies, Actions.list_escalation_policies,
         doing="list escalation policies", operations=("listEscalationPolicies", "listTeams"),
         toolsets=("directory",)),
    read("get_escalation_policy", s.GetEscalationPolicy, Actions.get_escalation_policy,
         doing="read the escalation policy", operations=("getEscalationPolicy", "listEscalationPolicies"),
         toolsets=("directory",)),
    read("list_teams", s.NoArgs, Actions.list_teams, doing="list teams", operations=("listTeams",),
         toolsets=("directory",)),
    read("list_priorities", s.NoArgs, Actions.list_priorities, doing="list priorities",
         operations=("listPriorities",), toolsets=("paging", "directory")),
    read("related_incidents", s.IncidentRef, Actions.related_incidents, doing="find related incidents",
         operations=("getRelatedIncidents", "getIncident"), toolsets=("history",), verbs=("related",)),
    read("similar_incidents", s.SimilarIncidents, Actions.similar_incidents, doing="find similar incidents",
         operations=("getIncident", "listIncidents"), toolsets=("history",)),
    # --- incidents: writes ---
    write("create_incident", s.CreateIncident, Actions.create_incident, doing="create the incident",
          operations=("createIncident", "listServices", "listUsers", "listEscalationPolicies", "listPriorities",
                      "listIncidents"), toolsets=("paging",), destructive=True, risk="high",
          sentence=Sentences.create_incident, check=Preconditions.create_incident,
          idempotency=Idempotency("PagerDuty key", "incident_key from the service and the normalised title")),
    write("update_incident", s.UpdateIncident, Actions.update_incident, doing="update the incident",
          operations=("updateIncident", "getIncident", "listUsers", "listEscalationPolicies", "listPriorities"),
          toolsets=("changes",), destructive=True, risk="medium",
          risk_by_action={"resolve": "high", "escalate": "high", "reassign": "high"},
          sentence=Sentences.update_incident, check=Preconditions.update_incident, pin=Preconditions.pin_escalation,
          idempotency=Idempotency("absolute arguments",
                                  "a target state; escalation pinned to a target level, skipped if there")),
    write("manage_incidents", s.ManageIncidents, Actions.manage_incidents, doing="update the incidents",
          operations=("updateIncidents", "getIncident"), toolsets=("changes",), destructive=True, risk="high",
          sentence=Sentences.manage_incidents, check=Preconditions.manage_incidents,
          idempotency=Idempotency("absolute arguments", "the named incidents and the status to set")),
    write("add_note", s.AddNote, Actions.add_note, doing="add the note",
          operations=("createIncidentNote", "listIncidentNotes", "getIncident"), toolsets=("notes",),
          destructive=False, risk="low", sentence=Sentences.add_note, check=Preconditions.add_note,
          idempotency=Idempotency("read before write", "same text by the same user since the call was proposed")),
    write("add_responders", s.AddResponders, Actions.add_responders, doing="add responders",
          operations=("createIncidentResponderRequest", "getCurrentUser", "getIncident", "listUsers",
                      "listEscalationPolicies"), toolsets=("notes",), destructive=True, risk="medium",
          sentence=Sentences.add_responders, check=Preconditions.add_responders,
          idempotency=Idempotency("read before write", "responders already asked are skipped")),
    write("snooze_incident", s.SnoozeIncident, Actions.snooze_incident, doing="snooze the incident",
          operations=("createIncidentSnooze", "getIncident"), toolsets=("snooze",), destructive=True,
          risk="medium", sentence=Sentences.snooze_incident, check=Preconditions.snooze_incident,
          idempotency=Idempotency("read before write",
                                  "pinned end (proposal + duration): a snooze reaching it is this one")),
    write("merge_incidents", s.MergeIncidents, Actions.merge_incidents, doing="merge the incidents",
          operations=("mergeIncidents", "getIncident"), toolsets=("merge",), destructive=True, risk="high",
          sentence=Sentences.merge_incidents, check=Preconditions.merge_incidents,
          idempotency=Idempotency("read before write",
                                  "sources already merged into the target are done (also after 1019)")),
    # --- schedules: writes ---
    write("create_override", s.CreateOverride, Actions.create_override, doing="create the override",
          operations=("createScheduleOverride", "listScheduleOverrides", "listSchedules", "listUsers"),
          toolsets=("schedules",), destructive=True, risk="medium", sentence=Sentences.create_override,
          check=Preconditions.create_override, pin=Preconditions.pin_override,
          idempotency=Idempotency("read before write", "the same user, start and end (pinned when proposed)")),
    write("delete_override", s.DeleteOverride, Actions.delete_override, doing="delete the override",
          operations=("deleteScheduleOverride", "listScheduleOverrides", "listSchedules"),
          toolsets=("schedules",), destructive=True, risk="medium", sentence=Sentences.delete_override,
          check=Preconditions.delete_override,
          idempotency=Idempotency("end state", "an override already gone is deleted")),
    # --- events ---
    write("send_event", s.SendEvent, Actions.send_event, doing="send the event",
          operations=("createV2Event", "getService", "listServices"), toolsets=("events",), destructive=True,
          risk="medium", risk_by_action={"trigger": "high"}, sentence=Sentences.send_event,
          check=Preconditions.send_event,
          idempotency=Idempotency("PagerDuty key", "dedup_key, given or derived from the thread and tool-call id")),
    write("send_change_event", s.SendChangeEvent, Actions.send_change_event, doing="send the change event",
          operations=("createChangeEvent", "getService", "listServices"), toolsets=("events",), destructive=True,
          risk="low", sentence=Sentences.send_change_event, check=Preconditions.send_change_event,
          idempotency=Idempotency("marker", "read before each send: this call's key in custom_details")),
)


class RegistryError(ValueError):
    """The declarations do not fit the catalogue or the overlay; the message names the tool."""


def _checked(declared: tuple[Tool[Any], ...], catalog: Catalog) -> dict[str, Tool[Any]]:
    """The declarations by name, once each is known to fit the catalogue and has its description."""
    tools: dict[str, Tool[Any]] = {}
    for tool in declared:
        if tool.name in tools:
            raise RegistryError(f"tool {tool.name} is declared twice")
        try:
            writes = [op for op in tool.operations if catalog.operation(op).kind == "write"]
        except KeyError as exc:
            raise RegistryError(f"tool {tool.name}: {exc.args[0]}") from None
        if tool.kind == "read" and writes:
            raise RegistryError(f"tool {tool.name}: a read tool may not call {', '.join(writes)} (writes)")
        if tool.verbs and [n for n, f in tool.args.model_fields.items() if f.is_required()] != ["incident"]:
            raise RegistryError(f"tool {tool.name}: command verbs run `VERB INCIDENT`, so it must take one incident")
        tools[tool.name] = tool
    described = catalog.tool_descriptions()
    if unknown := sorted(described.keys() - tools.keys()):
        raise OverlayError(f"overlay.yaml: tools.{', tools.'.join(unknown)}: no such tool is declared")
    if missing := sorted(tools.keys() - described.keys()):
        raise OverlayError(f"overlay.yaml: tools.{', tools.'.join(missing)}: missing; every tool needs a description")
    return {name: replace(tool, description=described[name]) for name, tool in tools.items()}


TOOLS: Mapping[str, Tool[Any]] = _checked(DECLARED, load_catalog())
"""Every tool by name, in the order the planner is offered them."""


def tool(name: str) -> Tool[Any]:
    """The tool called `name`; KeyError names it when there is none."""
    try:
        return TOOLS[name]
    except KeyError:
        raise KeyError(f"no tool named {name!r}") from None
