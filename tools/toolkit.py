"""The LangChain tools the planner calls, and what the approval step needs to know about them.

Every tool goes through one path (`Toolkit._invoke`): read the arguments the schema already checked,
resolve names to ids, call PagerDuty, shape a compact JSON answer, and turn anything PagerDuty or
the resolver refused into one short "Error: … Next: …" paragraph. The graph therefore never sees an
exception for a 4xx, a rate limit or an unknown name: the model reads what went wrong and what to
try instead. Writes are safe to repeat after a crash: `create_incident` (and `send_event`) derive
their key from the thread and the tool-call id; overrides, notes and responder requests read
before they write.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Annotated, Any, Literal

from langchain_core.runnables import RunnableConfig
from langchain_core.tools import BaseTool, InjectedToolCallId, StructuredTool, ToolException
from pydantic import BaseModel, ValidationError

from tools import schemas as s
from tools.catalog import load_catalog
from tools.client import MAX_WINDOW, PagerDutyClient, PageResult
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
)
from tools.events import EventsClient
from tools.resolve import Directory, ResolutionError, label
from tools.timeparse import Clock, SystemClock, TimeParseError, human, iso, parse_duration, parse_time, relative, span

KEYED_TOOLS = frozenset({"create_incident", "send_event"})  # writes whose idempotency key comes from the call
OPEN = ["triggered", "acknowledged"]
DEFAULT_SINCE = timedelta(days=30)
ACCOUNT_LOG_LOOKBACK = timedelta(hours=24)
NOTE_REPEAT_WINDOW = timedelta(minutes=10)
OVERRIDE_DRIFT = timedelta(minutes=10)  # "now"/"+8h" read again on a resumed run land this close
USER_LOOKAHEAD = timedelta(days=14)  # "when is Dana on call" looks this far ahead
SIMILAR_POOL = 200
SIMILAR_LOOKBACK = timedelta(days=180)
TITLE_OVERLAP = 0.5  # share of title words two incidents must have in common to count as similar
SAME_SERVICE_TITLE_OVERLAP = 0.34  # a lower bar when they are on the same service
SIMILAR_GROUPS = ("same service, similar title", "similar title", "same service")
MAX_DIRECTORIES = 256
_STOP_WORDS = frozenset({"a", "an", "the", "on", "in", "of", "to", "for", "and", "is", "above", "below", "than",
                         "over", "under", "by", "at", "with"})

# What each tool does, as the tail of "could not …" in its error messages.
DOING: dict[str, str] = {
    "find_services": "find services", "get_service": "read the service", "who_is_on_call": "find who is on call",
    "list_incidents": "list incidents", "get_incident": "read the incident",
    "list_incident_notes": "read the incident's notes", "incident_timeline": "build the incident timeline",
    "list_log_entries": "list log entries", "list_incident_alerts": "list the incident's alerts",
    "list_schedules": "list schedules", "get_schedule": "read the schedule", "list_overrides": "list overrides",
    "find_users": "find users", "list_escalation_policies": "list escalation policies",
    "get_escalation_policy": "read the escalation policy", "list_teams": "list teams",
    "list_priorities": "list priorities", "similar_incidents": "find similar incidents",
    "create_incident": "create the incident", "update_incident": "update the incident",
    "manage_incidents": "update the incidents", "add_note": "add the note", "add_responders": "add responders",
    "snooze_incident": "snooze the incident", "merge_incidents": "merge the incidents",
    "create_override": "create the override", "delete_override": "delete the override",
    "send_event": "send the event", "send_change_event": "send the change event",
}


@dataclass(frozen=True)
class ToolInfo:
    name: str
    kind: Literal["read", "write"]
    destructive: bool


class ToolProblem(Exception):
    """Something the tool itself found wrong with a request; reported like a PagerDuty refusal."""

    def __init__(self, message: str, next_step: str) -> None:
        super().__init__(message)
        self.next_step = next_step


@dataclass(frozen=True)
class Call:
    """What one tool call knows besides its arguments."""

    directory: Directory
    now: datetime
    thread_id: str
    tool_call_id: str | None

    def key(self) -> str:
        """An idempotency key that is the same each time this very tool call is replayed."""
        return "ic-" + hashlib.sha256(f"{self.thread_id}:{self.tool_call_id}".encode()).hexdigest()[:32]


# --- the public face ---------------------------------------------------------------------------


class Toolkit:
    """The tools for one PagerDuty account, plus describe/validate/info for the approval step."""

    def __init__(self, client: PagerDutyClient, events: EventsClient | None, *, read_only: bool,
                 clock: Clock) -> None:
        self._client = client
        self._clock = clock
        self._directories: OrderedDict[str, Directory] = OrderedDict()
        self._lock = threading.Lock()
        self._actions = _Actions(client, events)
        self._describer = _Describer(self._actions)
        catalog = load_catalog()
        self._info = {name: ToolInfo(name, catalog.tool(name).kind, catalog.tool(name).destructive)
                      for name in s.TOOL_ARGS}
        self.read_only = read_only or client.settings.read_only
        self.tools: list[BaseTool] = [self._tool(name, catalog.tool(name).description) for name in s.TOOL_ARGS
                                      if not (self.read_only and self._info[name].kind == "write")]

    def info(self, name: str) -> ToolInfo:
        try:
            return self._info[name]
        except KeyError:
            raise KeyError(f"no tool named {name!r}") from None

    def validate(self, name: str, args: dict[str, Any]) -> dict[str, Any]:
        """Edited arguments checked again by the tool's schema; ValueError says what is wrong, readably."""
        return _checked(name, args).model_dump(exclude_unset=True)

    def describe(self, name: str, args: dict[str, Any]) -> str:
        """One sentence for an approval card, with ids resolved to names (falls back to the raw values)."""
        model = _checked(name, args)
        call = self._call(None, None)
        try:
            return self._describer.sentence(name, call, model)
        except (ResolutionError, TimeParseError, PagerDutyError, ToolProblem) as error:
            shown = ", ".join(f"{k}={v!r}" for k, v in model.model_dump(exclude_none=True).items())
            return f"Run {name} with {shown} (could not look up the details: {error})."

    # --- running ---

    def _tool(self, name: str, description: str) -> StructuredTool:
        def run(config: RunnableConfig, **args: Any) -> str:
            return self._invoke(name, args, config, None)

        def run_keyed(config: RunnableConfig, tool_call_id: Annotated[str, InjectedToolCallId], **args: Any) -> str:
            return self._invoke(name, args, config, tool_call_id)

        info = self._info[name]
        return StructuredTool(name=name, description=description, args_schema=s.TOOL_ARGS[name],
                              func=run_keyed if name in KEYED_TOOLS else run,
                              metadata={"kind": info.kind, "destructive": info.destructive},
                              handle_validation_error=lambda error: "Error: " + argument_problems(name, error),
                              handle_tool_error=True)

    def _invoke(self, name: str, args: dict[str, Any], config: RunnableConfig | None, tool_call_id: str | None) -> str:
        """The one path every tool takes: run it, answer compact JSON, or raise its error as text."""
        thread_id = str(((config or {}).get("configurable") or {}).get("thread_id") or "")
        call = self._call(thread_id, tool_call_id)
        model = s.TOOL_ARGS[name].model_construct(**args)  # already validated by the tool's schema
        try:
            result = getattr(self._actions, name)(call, model)
        except (ResolutionError, TimeParseError) as error:
            raise ToolException(f"Error: could not {DOING[name]} — {error}") from None
        except ToolProblem as error:
            raise ToolException(f"Error: could not {DOING[name]} — {error} Next: {error.next_step}") from None
        except PagerDutyError as error:
            raise ToolException(pagerduty_problem(DOING[name], error)) from None
        return json.dumps(result, ensure_ascii=False, separators=(",", ":"))

    def _call(self, thread_id: str | None, tool_call_id: str | None) -> Call:
        return Call(self._directory(thread_id or ""), self._clock.now(), thread_id or "", tool_call_id)

    def _directory(self, thread_id: str) -> Directory:
        """Each conversation keeps its own short-lived directory; the least recently used are dropped."""
        with self._lock:
            directory = self._directories.pop(thread_id, None) or Directory(self._client, self._clock)
            self._directories[thread_id] = directory
            while len(self._directories) > MAX_DIRECTORIES:
                self._directories.popitem(last=False)
            return directory


def build_toolkit(client: PagerDutyClient, events: EventsClient | None = None, *, read_only: bool = False,
                  clock: Clock | None = None) -> Toolkit:
    """The toolkit for `client`'s account; read-only (flag or client setting) leaves every write tool out."""
    return Toolkit(client, events, read_only=read_only, clock=clock or SystemClock())


# --- errors as text ----------------------------------------------------------------------------


def _checked(name: str, args: dict[str, Any]) -> s.ToolArgs:
    if name not in s.TOOL_ARGS:
        raise ValueError(f"no tool named {name!r}")
    try:
        return s.TOOL_ARGS[name].model_validate(args)
    except ValidationError as error:
        raise ValueError(argument_problems(name, error)) from None


def argument_problems(name: str, error: ValidationError) -> str:
    """'invalid arguments for create_incident — title: too short; unknown argument foo. Next: …'."""
    allowed = ", ".join(s.TOOL_ARGS[name].model_fields) or "none"
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
    return (f"invalid arguments for {name} — {'; '.join(problems)}. Nothing was sent to PagerDuty. "
            "Next: fix these and call again.")


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
    if isinstance(error, (ServerError, NetworkError)):
        return ("PagerDuty is not answering properly; try again in a minute. For a change, first check "
                "whether it took effect.")
    if isinstance(error, NotFound):
        return "check the id or number; the list and find tools show the valid ones."
    if isinstance(error, (Forbidden, Unauthorized)):
        return (error.hint() or "this API key may not do this (read-only key or missing permission)") + \
            "; tell the user rather than retrying."
    if isinstance(error, ConfigurationError):
        return "tell the user; this needs a configuration change, not a retry."
    if error.status == 402:
        return "the PagerDuty account does not include this feature; tell the user."
    if isinstance(error, InvalidInput):
        return "fix the arguments PagerDuty named; the same call will fail again."
    return "tell the user what failed."


# --- the tools' bodies -------------------------------------------------------------------------


class _Actions:
    """One method per tool, named like it: resolve what the model named, call PagerDuty, shape the answer."""

    def __init__(self, client: PagerDutyClient, events: EventsClient | None) -> None:
        self.client = client
        self.events = events

    # directory lookups

    def find_services(self, call: Call, a: s.FindServices) -> dict:
        params = {"query": a.query, "team_ids": _ids(call, "team", a.team)}
        return _listed("services", self.client.list_all("/services", "services", params, limit_items=100), _service)

    def get_service(self, call: Call, a: s.GetService) -> dict:
        service_id = call.directory.resolve("service", a.service)["id"]
        return _service(self.client.get(f"/services/{service_id}")["service"], detail=True)

    def find_users(self, call: Call, a: s.FindUsers) -> dict:
        params = {"query": a.query, "team_ids": _ids(call, "team", a.team)}
        return _listed("users", self.client.list_all("/users", "users", params, limit_items=100), _user)

    def list_escalation_policies(self, call: Call, a: s.ListEscalationPolicies) -> dict:
        params = {"query": a.query, "team_ids": _ids(call, "team", a.team)}
        page = self.client.list_all("/escalation_policies", "escalation_policies", params, limit_items=100)
        return _listed("escalation_policies", page, _policy)

    def get_escalation_policy(self, call: Call, a: s.GetEscalationPolicy) -> dict:
        policy_id = call.directory.resolve("escalation_policy", a.escalation_policy)["id"]
        return _policy(self.client.get(f"/escalation_policies/{policy_id}")["escalation_policy"], detail=True)

    def list_teams(self, call: Call, a: s.NoArgs) -> dict:
        return _listed("teams", self.client.list_all("/teams", "teams", limit_items=100), _named)

    def list_priorities(self, call: Call, a: s.NoArgs) -> dict:
        return _listed("priorities", self.client.list_all("/priorities", "priorities", limit_items=100), _named)

    # on call and schedules

    def who_is_on_call(self, call: Call, a: s.WhoIsOnCall) -> dict:
        at = parse_time(a.at, now=call.now, tz=a.time_zone) if a.at else None
        params: dict[str, Any] = {"include[]": ["users"]}
        if at is not None:
            params |= {"since": iso(at), "until": iso(at)}
            when: dict[str, Any] = {"at": iso(at)}
        elif a.user:  # "when is Dana on call": her next shifts, not only the current one
            until = call.now + USER_LOOKAHEAD
            params |= {"since": iso(call.now), "until": iso(until), "earliest": True}
            when = {"window": {"since": iso(call.now), "until": iso(until)}}
        else:
            when = {"at": iso(call.now)}
        policies = [call.directory.resolve("service", a.service)["escalation_policy"]["id"]] if a.service else []
        policies += _ids(call, "escalation_policy", a.escalation_policy)
        if a.team:
            team_id = call.directory.resolve("team", a.team)["id"]
            owned = self.client.list_all("/escalation_policies", "escalation_policies", {"team_ids": [team_id]})
            if not owned.items:
                raise ToolProblem(f"team {a.team!r} owns no escalation policy, so nobody is on call for it.",
                                  "ask about a service, schedule or escalation policy instead.")
            policies += [p["id"] for p in owned.items]
        params |= {"escalation_policy_ids": policies, "schedule_ids": _ids(call, "schedule", a.schedule),
                   "user_ids": _ids(call, "user", a.user)}
        page = self.client.list_all("/oncalls", "oncalls", params, limit_items=200)
        rows = sorted(page.items, key=lambda o: (_name(o.get("escalation_policy")) or "", o.get("escalation_level", 0),
                                                 o.get("start") or ""))
        out = when | _listed("oncalls", PageResult(rows, page.truncated, page.total_read), _oncall)
        if not rows:
            out["notice"] = ("nobody is on call for that then (a schedule in no escalation policy never shows "
                             "here; get_schedule shows its shifts)")
        return out

    def list_schedules(self, call: Call, a: s.ListSchedules) -> dict:
        page = self.client.list_all("/schedules", "schedules", {"query": a.query}, limit_items=100)
        return _listed("schedules", page, _schedule)

    def get_schedule(self, call: Call, a: s.GetSchedule) -> dict:
        schedule_id = call.directory.resolve("schedule", a.schedule)["id"]
        since, until = _window(call, a.since, a.until, default=timedelta(days=7))
        found = self.client.get(f"/schedules/{schedule_id}", {"since": iso(since), "until": iso(until),
                                                                "time_zone": "UTC"})["schedule"]
        return {"schedule": _schedule(found), "window": _span_of(since, until),
                "shifts": _rendered(found, "final_schedule"), "overrides": _rendered(found, "overrides_subschedule")}

    def list_overrides(self, call: Call, a: s.ListOverrides) -> dict:
        schedule = call.directory.resolve("schedule", a.schedule)
        since, until = _window(call, a.since, a.until, default=timedelta(days=7))
        found = self._overrides(schedule["id"], since, until)
        return {"schedule": _brief(schedule), "window": _span_of(since, until),
                "overrides": [_override(o) for o in found]}

    # incidents: reads

    def list_incidents(self, call: Call, a: s.ListIncidents) -> dict:
        statuses = a.statuses or OPEN
        params: dict[str, Any] = {"statuses": statuses, "service_ids": _ids(call, "service", a.service),
                                  "team_ids": _ids(call, "team", a.team), "user_ids": _ids(call, "user", a.assigned_to),
                                  "urgencies": [a.urgency] if a.urgency else None, "sort_by": "created_at:desc"}
        if a.since is None and a.until is None and set(statuses) <= set(OPEN):
            page = self.client.list_all("/incidents", "incidents", params | {"date_range": "all"}, limit_items=a.limit)
            return {"window": "any age (open incidents)"} | _listed("incidents", page, _incident, _NARROW)
        since, until = _window(call, a.since, a.until, default=-DEFAULT_SINCE)
        if until - since > MAX_WINDOW:  # longer than PagerDuty serves at once: cut, fetch, merge
            every = self.client.iterate_windows("/incidents", "incidents", since, until, params)
            newest = sorted(every.items, key=lambda i: i.get("created_at") or "", reverse=True)
            page = PageResult(newest[:a.limit], every.truncated or len(newest) > a.limit, every.total_read)
        else:
            page = self.client.list_all("/incidents", "incidents", params | {"since": iso(since), "until": iso(until)},
                                        limit_items=a.limit)
        return {"window": _span_of(since, until)} | _listed("incidents", page, _incident, _NARROW)

    def get_incident(self, call: Call, a: s.GetIncident) -> dict:
        incident = self.incident(a.incident)
        return incident if a.full else _incident(incident, detail=True)

    def list_incident_notes(self, call: Call, a: s.IncidentRef) -> dict:
        incident_id = self._incident_id(a.incident)
        notes = self.client.get(f"/incidents/{incident_id}/notes")["notes"]
        return {"incident": incident_id, "notes": [_note(n) for n in sorted(notes, key=_created)]}

    def list_incident_alerts(self, call: Call, a: s.IncidentRef) -> dict:
        incident_id = self._incident_id(a.incident)
        page = self.client.list_all(f"/incidents/{incident_id}/alerts", "alerts", limit_items=100)
        return {"incident": incident_id} | _listed("alerts", page, _alert)

    def list_log_entries(self, call: Call, a: s.ListLogEntries) -> dict:
        out: dict[str, Any] = {}
        if a.incident:
            out["incident"] = self._incident_id(a.incident)
        if a.since or a.until or not a.incident:  # an incident's whole history unless a window is asked for
            lookback = DEFAULT_SINCE if a.incident else ACCOUNT_LOG_LOOKBACK
            out["window"] = _span_of(*_window(call, a.since, a.until, default=-lookback))
        path = f"/incidents/{out['incident']}/log_entries" if a.incident else "/log_entries"
        page = self.client.list_all(path, "log_entries", out.get("window"), limit_items=a.limit)
        return out | _listed("log_entries", page, _log_entry)

    def incident_timeline(self, call: Call, a: s.IncidentRef) -> dict:
        incident = self.incident(a.incident)
        logs = self.client.list_all(f"/incidents/{incident['id']}/log_entries", "log_entries", limit_items=1000)
        entries = _oldest_first(logs.items)
        start = _parsed(incident["created_at"])
        end = _parsed(incident.get("resolved_at")) or call.now
        changes = self.client.list_all("/change_events", "change_events",
                                       {"since": iso(start - timedelta(hours=2)), "until": iso(end)}, limit_items=100)
        service_id = incident["service"]["id"]
        out = {"incident": _incident(incident), **timeline(entries, start),
               "changes_nearby": [_change(c) for c in changes.items
                                  if any(x.get("id") == service_id for x in c.get("services") or [])]}
        if logs.truncated:
            out["notice"] = f"truncated: showing {len(entries)} of more log entries"
        return out

    def similar_incidents(self, call: Call, a: s.SimilarIncidents) -> dict:
        incident = self.incident(a.incident)
        since = call.now - SIMILAR_LOOKBACK
        pool = self.client.list_all("/incidents", "incidents", {"statuses": ["resolved"], "sort_by": "created_at:desc",
                                                                 "since": iso(since), "until": iso(call.now)},
                                    limit_items=SIMILAR_POOL)
        ranked = similar(incident, pool.items)[:a.limit]
        found = []
        for match, score, past in ranked:
            logs = self.client.list_all(f"/incidents/{past['id']}/log_entries", "log_entries", {"is_overview": True},
                                        limit_items=200)
            entries = _oldest_first(logs.items)
            found.append({"incident": _incident(past), "match": match, "score": round(score, 2),
                          **resolution(entries, _parsed(past["created_at"])),
                          "notes": [e["note"] for e in _of(entries, "annotate_log_entry") if e.get("note")]})
        return {"incident": _incident(incident), "searched": f"{len(pool.items)} resolved incidents since {iso(since)}",
                "similar": found}

    # incidents: writes

    def create_incident(self, call: Call, a: s.CreateIncident) -> dict:
        service = call.directory.resolve("service", a.service)
        body: dict[str, Any] = {"title": a.title, "service": _reference(service, "service"), "urgency": a.urgency}
        if a.details:
            body["body"] = {"type": "incident_body", "details": a.details}
        if a.assignee:
            body["assignments"] = [{"assignee": _reference(call.directory.resolve("user", a.assignee), "user")}]
        if a.escalation_policy:
            body["escalation_policy"] = _reference(call.directory.resolve("escalation_policy", a.escalation_policy),
                                                   "escalation_policy")
        if a.priority:
            body["priority"] = _reference(call.directory.resolve("priority", a.priority), "priority")
        created = self.client.create_incident(body, incident_key=call.key())
        out = _incident(created.incident, detail=True)
        if created.already_existed:
            out["notice"] = "already created by an earlier attempt of this same request; nothing new was opened"
        return out

    def update_incident(self, call: Call, a: s.UpdateIncident) -> dict:
        next_level = a.action == "escalate" and not a.escalation_level
        incident = self.incident(a.incident) if next_level else None  # its assignees tell the current level
        incident_id = incident["id"] if incident else self._incident_id(a.incident)
        change: dict[str, Any] = {"type": "incident_reference"}
        if a.action in ("acknowledge", "resolve", "reopen"):
            change["status"] = {"acknowledge": "acknowledged", "resolve": "resolved", "reopen": "triggered"}[a.action]
            if a.resolution:
                change["resolution"] = a.resolution
        elif a.action == "escalate":
            change["escalation_level"] = self._current_level(incident) + 1 if incident else a.escalation_level
        elif a.action == "reassign" and a.assignee:
            change["assignments"] = [{"assignee": _reference(call.directory.resolve("user", a.assignee), "user")}]
        elif a.action == "reassign":
            change["escalation_policy"] = _reference(call.directory.resolve("escalation_policy", a.escalation_policy),
                                                     "escalation_policy")
        elif a.action == "set_priority":
            change["priority"] = _reference(call.directory.resolve("priority", a.priority), "priority")
        else:
            change[a.action.removeprefix("set_")] = getattr(a, a.action.removeprefix("set_"))
        return _incident(self.client.put(f"/incidents/{incident_id}", {"incident": change})["incident"], detail=True)

    def manage_incidents(self, call: Call, a: s.ManageIncidents) -> dict:
        status = "acknowledged" if a.action == "acknowledge" else "resolved"
        ids = dict.fromkeys(self._incident_id(ref) for ref in dict.fromkeys(r.lstrip("#") for r in a.incidents))
        items = [{"id": incident_id, "type": "incident_reference", "status": status}
                 | ({"resolution": a.resolution} if a.resolution else {}) for incident_id in ids]
        changed = self.client.put("/incidents", {"incidents": items})["incidents"]
        return {"incidents": [_incident(i) for i in changed]}

    def add_note(self, call: Call, a: s.AddNote) -> dict:
        incident_id = self._incident_id(a.incident)
        me = self._me(call)["id"]
        for note in self.client.get(f"/incidents/{incident_id}/notes")["notes"]:
            recent = call.now - (_parsed(note.get("created_at")) or call.now) <= NOTE_REPEAT_WINDOW
            if recent and (note.get("user") or {}).get("id") == me and _same_text(note.get("content"), a.content):
                return {"incident": incident_id, "note": _note(note),
                        "notice": "this note was already added a moment ago; not added twice"}
        note = self.client.post(f"/incidents/{incident_id}/notes", {"note": {"content": a.content}})["note"]
        return {"incident": incident_id, "note": _note(note)}

    def add_responders(self, call: Call, a: s.AddResponders) -> dict:
        incident = self.incident(a.incident)
        targets = {t["id"]: t for t in (self.responder(call, ref) for ref in a.responders)}
        asked = {r.get("responder_request_target", {}).get("id") for req in incident.get("responder_requests") or []
                 for r in req.get("responder_request_targets") or []}
        asked |= {(r.get("user") or {}).get("id") for r in incident.get("incidents_responders") or []}
        new = [t for t in targets.values() if t["id"] not in asked]
        out = {"incident": _incident(incident), "requested": [label(t) for t in new],
               "already_requested": [label(t) for t in targets.values() if t["id"] in asked]}
        if new:
            self.client.post(f"/incidents/{incident['id']}/responder_requests", {
                "requester_id": self._me(call)["id"], "message": a.message,
                "responder_request_targets": [{"responder_request_target": {"id": t["id"], "type": t["type"]}}
                                              for t in new]})
        return out

    def snooze_incident(self, call: Call, a: s.SnoozeIncident) -> dict:
        incident_id = self._incident_id(a.incident)
        seconds = int(parse_duration(a.duration).total_seconds())
        snoozed = self.client.post(f"/incidents/{incident_id}/snooze", {"duration": seconds})["incident"]
        return _incident(snoozed) | {"snoozed_until": iso(call.now + timedelta(seconds=seconds))}

    def merge_incidents(self, call: Call, a: s.MergeIncidents) -> dict:
        target = self._incident_id(a.target)
        sources = list(dict.fromkeys(self._incident_id(ref) for ref in a.sources))
        if target in sources:
            raise ToolProblem("the target is also listed as a source.", "list the target only as target.")
        merged = self.client.put(f"/incidents/{target}/merge", {
            "source_incidents": [{"id": i, "type": "incident_reference"} for i in sources]})["incident"]
        return {"target": {"id": merged["id"], "summary": merged.get("summary"), "html_url": merged.get("html_url")},
                "merged_and_resolved": sources}

    # schedules: writes

    def create_override(self, call: Call, a: s.CreateOverride) -> dict:
        start, end = override_window(call.now, a.start, a.end, a.time_zone)
        schedule = call.directory.resolve("schedule", a.schedule)
        user = call.directory.resolve("user", a.user)
        slack = OVERRIDE_DRIFT if relative(a.start) or relative(a.end) else timedelta(0)
        for existing in self._overrides(schedule["id"], start - slack, end + slack):
            if (existing["user"]["id"] == user["id"] and abs(_parsed(existing["start"]) - start) <= slack
                    and abs(_parsed(existing["end"]) - end) <= slack):
                return {"schedule": _brief(schedule), "override": _override(existing),
                        "notice": "an identical override already exists; not created twice"}
        answer = self.client.post(f"/schedules/{schedule['id']}/overrides", {"overrides": [
            {"start": iso(start), "end": iso(end), "user": _reference(user, "user"), "time_zone": "UTC"}]})
        result = answer[0] if isinstance(answer, list) and answer else {}
        if result.get("status") not in (200, 201):
            raise ToolProblem(f"PagerDuty refused the override: {'; '.join(result.get('errors') or ['no reason'])}.",
                              "fix the times or the user and try again.")
        override = result["override"]
        return {"schedule": _brief(schedule), "override": _override(override),
                "length": span((end - start).total_seconds())}

    def delete_override(self, call: Call, a: s.DeleteOverride) -> dict:
        schedule = call.directory.resolve("schedule", a.schedule)
        answer = self.client.delete(f"/schedules/{schedule['id']}/overrides/{a.override_id}")
        out = {"schedule": _brief(schedule), "deleted": a.override_id}
        if isinstance(answer, dict) and answer.get("override"):
            out["notice"] = f"it was already under way, so it now ends at {_time(answer['override'].get('end'))}"
        return out

    # events

    def send_event(self, call: Call, a: s.SendEvent) -> dict:
        events, key, service = self._events_target(call, a.routing_key, a.service)
        if a.action == "trigger":
            result = events.trigger(key, summary=a.summary, source=a.source, severity=a.severity,  # type: ignore[arg-type]
                                    dedup_key=a.dedup_key or call.key())
        else:
            result = getattr(events, a.action)(key, a.dedup_key)
        return {"service": service, "action": a.action, "status": result.status, "message": result.message,
                "dedup_key": result.dedup_key}

    def send_change_event(self, call: Call, a: s.SendChangeEvent) -> dict:
        events, key, service = self._events_target(call, a.routing_key, a.service)
        result = events.change(key, summary=a.summary, source=a.source)
        return {"service": service, "status": result.status, "message": result.message}

    # shared steps

    def incident(self, ref: str) -> dict:
        return self.client.get(f"/incidents/{ref.lstrip('#')}")["incident"]

    def _incident_id(self, ref: str) -> str:
        """The id for `ref`; a number is looked up, since only GET /incidents/{id} documents accepting one."""
        ref = ref.lstrip("#")
        return self.incident(ref)["id"] if ref.isdigit() else ref

    def _current_level(self, incident: dict) -> int:
        """The level the incident is at: the highest level its assignees hold on its policy (1 if none)."""
        assignees = [x["assignee"]["id"] for x in incident.get("assignments") or []]
        if not assignees:
            return 1
        policy = incident["escalation_policy"]["id"]
        rows = self.client.list_all("/oncalls", "oncalls", {"escalation_policy_ids": [policy], "user_ids": assignees})
        return max((r.get("escalation_level") or 1 for r in rows.items), default=1)

    def _overrides(self, schedule_id: str, since: datetime, until: datetime) -> list[dict]:
        return self.client.get(f"/schedules/{schedule_id}/overrides",
                               {"since": iso(since), "until": iso(until), "overflow": True})["overrides"]

    def _me(self, call: Call) -> dict:
        """The user PagerDuty records as acting: the configured `From`, or the token's own user."""
        return call.directory.resolve("user", self.client.from_email())

    def responder(self, call: Call, ref: str) -> dict:
        """A user or an escalation policy; a name fitting both is refused rather than guessed."""
        found = []
        for kind in ("user", "escalation_policy"):
            try:
                found.append(call.directory.resolve(kind, ref) | {"type": f"{kind}_reference"})
            except ResolutionError as error:
                if error.candidates:
                    raise
        if len(found) == 1:
            return found[0]
        if found:
            raise ResolutionError(f"{ref!r} names both {label(found[0])} (user) and {label(found[1])} "
                                  "(escalation policy); pass one id.", kind="responder", ref=ref, candidates=found)
        raise ResolutionError(f"No user or escalation policy matches {ref!r}. Call find_users or "
                              "list_escalation_policies to see them and their ids.", kind="responder", ref=ref)

    def _events_target(self, call: Call, routing_key: str | None, service_ref: str | None
                       ) -> tuple[EventsClient, str, str | None]:
        if self.events is None:
            raise ToolProblem("no Events API client is configured.", "tell the user; this needs configuration.")
        if routing_key:
            return self.events, routing_key, None
        service = call.directory.resolve("service", service_ref)  # type: ignore[arg-type]
        found = self.client.get(f"/services/{service['id']}", {"include[]": ["integrations"]})["service"]
        keys = [i["integration_key"] for i in found.get("integrations") or []
                if i.get("integration_key") and "events_api_v2" in (i.get("type") or "")]
        if not keys:
            raise ToolProblem(f"{label(service)} has no Events API v2 integration.",
                              "give routing_key, or create an incident with create_incident instead.")
        return self.events, keys[0], label(service)


# --- approval-card sentences -------------------------------------------------------------------


class _Describer:
    """One sentence per write, with names and current on-call filled in; reads get a plain fallback."""

    def __init__(self, actions: _Actions) -> None:
        self.actions = actions
        self.client = actions.client

    def sentence(self, name: str, call: Call, a: BaseModel) -> str:
        write = getattr(self, name, None)
        if write is not None:
            return write(call, a)
        shown = ", ".join(f"{k}={v!r}" for k, v in a.model_dump(exclude_none=True).items())
        return f"Run {name}" + (f" ({shown})." if shown else " (read only).")

    def create_incident(self, call: Call, a: s.CreateIncident) -> str:
        service = call.directory.resolve("service", a.service)
        head = f"Create a {a.urgency.upper()}-urgency incident {a.title!r} on {label(service)}"
        if a.assignee:
            who = f"assigned to {self._user(call, a.assignee)}"
        else:
            chosen = call.directory.resolve("escalation_policy", a.escalation_policy) if a.escalation_policy else None
            policy = chosen or service["escalation_policy"]
            why = f"first level of {_name(policy)} now" if chosen else f"on call for {_name(service)} now"
            paged = self._paged_now(policy["id"])
            who = (f"assigned to {' and '.join(paged)} ({why})" if paged
                   else f"paging {_name(policy)} (nobody is on call at its first level now)")
        priority = f", priority {_name(call.directory.resolve('priority', a.priority))}" if a.priority else ""
        return f"{head}, {who}{priority}."

    def update_incident(self, call: Call, a: s.UpdateIncident) -> str:
        what = self._which(a.incident)
        sentences = {
            "acknowledge": f"Acknowledge {what}.", "reopen": f"Reopen {what} (it pages again).",
            "resolve": f"Resolve {what}" + (f" with resolution {a.resolution!r}." if a.resolution else "."),
            "escalate": f"Escalate {what} to level {a.escalation_level or 'next'}.",
            "set_urgency": f"Set the urgency of {what} to {a.urgency}.",
            "set_title": f"Rename {what} to {a.title!r}.",
        }
        if a.action == "reassign":
            target = (self._user(call, a.assignee) if a.assignee else
                      "escalation policy " + label(call.directory.resolve("escalation_policy", a.escalation_policy)))
            return f"Reassign {what} to {target}."
        if a.action == "set_priority":
            return f"Set the priority of {what} to {_name(call.directory.resolve('priority', a.priority))}."
        return sentences[a.action]

    def manage_incidents(self, call: Call, a: s.ManageIncidents) -> str:
        shown = [self._which(ref) for ref in a.incidents[:5]]
        more = f" and {len(a.incidents) - 5} more" if len(a.incidents) > 5 else ""
        note = f" with resolution {a.resolution!r}" if a.resolution else ""
        return f"{a.action.capitalize()} {len(a.incidents)} incident(s): {'; '.join(shown)}{more}{note}."

    def add_note(self, call: Call, a: s.AddNote) -> str:
        content = a.content if len(a.content) <= 200 else a.content[:199] + "…"
        return f"Add a note to {self._which(a.incident)}: {content!r}."

    def add_responders(self, call: Call, a: s.AddResponders) -> str:
        who = ", ".join(label(self.actions.responder(call, ref)) for ref in a.responders)
        return f"Page {who} to join {self._which(a.incident)}, with the message {a.message!r}."

    def snooze_incident(self, call: Call, a: s.SnoozeIncident) -> str:
        length = parse_duration(a.duration)
        return (f"Snooze {self._which(a.incident)} for {span(length.total_seconds())} "
                f"(until about {human(call.now + length)}); it pages again after that.")

    def merge_incidents(self, call: Call, a: s.MergeIncidents) -> str:
        sources = "; ".join(self._which(ref) for ref in a.sources)
        return f"Merge {sources} into {self._which(a.target)}; the merged incidents are resolved."

    def create_override(self, call: Call, a: s.CreateOverride) -> str:
        start, end = override_window(call.now, a.start, a.end, a.time_zone)
        schedule = call.directory.resolve("schedule", a.schedule)
        until = iso(end)[11:16] + " UTC" if start.date() == end.date() else human(end)
        return (f"Cover schedule {_name(schedule)!r} ({schedule['id']}) with {self._user(call, a.user)} "
                f"from {human(start)} to {until} ({span((end - start).total_seconds())}).")

    def delete_override(self, call: Call, a: s.DeleteOverride) -> str:
        schedule = call.directory.resolve("schedule", a.schedule)
        return (f"Delete override {a.override_id} from schedule {_name(schedule)!r} ({schedule['id']}); "
                "the normal rotation covers that time again.")

    def send_event(self, call: Call, a: s.SendEvent) -> str:
        where = label(call.directory.resolve("service", a.service)) if a.service else "the given integration key"
        if a.action == "trigger":
            return (f"Send a TRIGGER event {a.summary!r} (severity {a.severity}) from {a.source!r} to {where}; "
                    "it can open an incident and page the on-call.")
        return f"Send a {a.action.upper()} event for dedup key {a.dedup_key!r} to {where}."

    def send_change_event(self, call: Call, a: s.SendChangeEvent) -> str:
        where = label(call.directory.resolve("service", a.service)) if a.service else "the given integration key"
        return f"Record the change {a.summary!r} on {where}'s timeline (pages nobody)."

    def _which(self, ref: str) -> str:
        """'incident #1234 'Payments 5xx' on Payments API'."""
        incident = self.actions.incident(ref)
        return (f"incident #{incident.get('incident_number')} {incident.get('title')!r} "
                f"on {_name(incident.get('service'))}")

    def _user(self, call: Call, ref: str) -> str:
        user = call.directory.resolve("user", ref)
        return f"{_name(user)} ({user.get('email') or user['id']})"

    def _paged_now(self, policy_id: str) -> list[str]:
        """Who the policy's first level pages right now."""
        rows = self.client.list_all("/oncalls", "oncalls", {"escalation_policy_ids": [policy_id]}).items
        return list(dict.fromkeys(_name(r["user"]) for r in rows if r.get("escalation_level") == 1))


# --- arithmetic the model should not do --------------------------------------------------------


def timeline(entries: list[dict], start: datetime) -> dict:
    """An incident's story from its log entries: minutes to first ack and to resolve, per-responder
    acknowledgements, escalations, notes and the resolution, all measured from the trigger."""
    acks: dict[str, dict] = {}
    for entry in _of(entries, "acknowledge_log_entry"):
        acks.setdefault(_name(entry.get("agent")) or "unknown", {"at": _time(entry["created_at"]),
                                                                 "minutes_after_trigger": _minutes(entry, start)})
    first_ack = _of(entries, "acknowledge_log_entry")[:1]
    return {
        "triggered_at": iso(start),
        "minutes_to_first_ack": _minutes(first_ack[0], start) if first_ack else None,
        **resolution(entries, start),
        "acknowledged_by": [{"user": who} | seen for who, seen in acks.items()],
        "escalations": [{"at": _time(e["created_at"]), "minutes_after_trigger": _minutes(e, start),
                         "summary": e.get("summary")} for e in _of(entries, "escalate_log_entry")],
        "notes": [{"at": _time(e["created_at"]), "by": _name(e.get("agent")), "content": e.get("note")}
                  for e in _of(entries, "annotate_log_entry")],
        "entries": [_log_entry(e) | {"minutes_after_trigger": _minutes(e, start)} for e in entries],
    }


def resolution(entries: list[dict], start: datetime) -> dict:
    """How an incident ended: who resolved it, after how many minutes, and with what resolution note."""
    resolved = _of(entries, "resolve_log_entry")[-1:]
    if not resolved:
        return {"minutes_to_resolve": None}
    return {"minutes_to_resolve": _minutes(resolved[0], start), "resolved_by": _name(resolved[0].get("agent")),
            "resolution": resolved[0].get("note")}


def similar(incident: dict, pool: Iterable[dict]) -> list[tuple[str, float, dict]]:
    """Past incidents like `incident` as (match, title overlap, incident): same service with a similar
    title first, then similar titles elsewhere, then the rest of the service; newest first in each group."""
    words = _title_words(incident.get("title"))
    service = (incident.get("service") or {}).get("id")
    found = []
    for past in pool:
        if past.get("id") == incident.get("id"):
            continue
        other = _title_words(past.get("title"))
        score = len(words & other) / len(words | other) if words | other else 0.0
        same = (past.get("service") or {}).get("id") == service
        match = ("same service, similar title" if same and score >= SAME_SERVICE_TITLE_OVERLAP
                 else "similar title" if score >= TITLE_OVERLAP else "same service" if same else None)
        if match:
            found.append((match, score, past))
    found.sort(key=lambda row: row[2].get("created_at") or "", reverse=True)
    return sorted(found, key=lambda row: SIMILAR_GROUPS.index(row[0]))  # stable: newest first within a group


def override_window(now: datetime, start: str, end: str, tz: str | None) -> tuple[datetime, datetime]:
    """Start and end of cover; an end like '+8h' counts from the start."""
    begins = parse_time(start, now=now, tz=tz)
    ends = parse_time(end, now=now, tz=tz, base=begins)
    if ends <= begins:
        raise TimeParseError(f"the end ({iso(ends)}) must be after the start ({iso(begins)})")
    return begins, ends


# --- compact shapes ----------------------------------------------------------------------------

_NARROW = "narrow with statuses, service, since/until, or raise limit"


def _listed(root: str, page: PageResult, shape: Callable[[dict], dict], hint: str = "narrow the search") -> dict:
    out: dict[str, Any] = {root: [shape(item) for item in page.items]}
    if page.truncated:
        out["notice"] = f"truncated: showing {len(page.items)} of more; {hint}"
    return out


def _compact(data: dict) -> dict:
    return {k: v for k, v in data.items() if v not in (None, "", [], {})}


def _name(obj: Any) -> str | None:
    return (obj.get("name") or obj.get("summary")) if isinstance(obj, dict) else None


def _brief(obj: Any) -> dict | None:
    return {"id": obj["id"], "name": _name(obj)} if isinstance(obj, dict) and obj.get("id") else None


def _named(obj: dict) -> dict:
    return _compact({"id": obj["id"], "name": _name(obj), "description": obj.get("description")})


def _person(obj: Any) -> dict | None:
    return _compact(_brief(obj) | {"email": obj.get("email")}) if _brief(obj) else None


def _reference(entry: dict, kind: str) -> dict:
    return {"id": entry["id"], "type": f"{kind}_reference"}


def _parsed(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None


def _time(value: Any) -> str | None:
    """PagerDuty's times (in whatever zone was asked) as explicit UTC."""
    moment = _parsed(value)
    return iso(moment) if moment else None


def _created(item: dict) -> datetime:
    return _parsed(item.get("created_at")) or datetime.min.replace(tzinfo=timezone.utc)


def _of(entries: list[dict], kind: str) -> list[dict]:
    return [e for e in entries if e.get("type") == kind]


def _minutes(entry: dict, start: datetime) -> float:
    return round((_parsed(entry["created_at"]) - start).total_seconds() / 60, 1)


def _oldest_first(entries: list[dict]) -> list[dict]:
    """Log entries (listed newest first) in time order, keeping PagerDuty's order within one second."""
    return sorted(reversed(entries), key=_created)


def _span_of(since: datetime, until: datetime) -> dict:
    return {"since": iso(since), "until": iso(until)}


def _incident(i: dict, detail: bool = False) -> dict:
    out = {"id": i.get("id"), "number": i.get("incident_number"), "title": i.get("title"), "status": i.get("status"),
           "urgency": i.get("urgency"), "priority": _name(i.get("priority")), "service": _brief(i.get("service")),
           "assignees": [_brief(x.get("assignee")) for x in i.get("assignments") or []],
           "created_at": _time(i.get("created_at")), "resolved_at": _time(i.get("resolved_at")),
           "html_url": i.get("html_url")}
    if detail:
        out |= {"escalation_policy": _brief(i.get("escalation_policy")),
                "acknowledged_by": [{"name": _name(x.get("acknowledger")), "at": _time(x.get("at"))}
                                    for x in i.get("acknowledgements") or []],
                "last_change": _compact({"at": _time(i.get("last_status_change_at")),
                                         "by": _name(i.get("last_status_change_by"))}),
                "alerts": i.get("alert_counts"), "incident_key": i.get("incident_key"),
                "details": (i.get("body") or {}).get("details"),
                "responders": [_name(r.get("user")) for r in i.get("incidents_responders") or []]}
    return _compact(out)


def _service(svc: dict, detail: bool = False) -> dict:
    out = {"id": svc["id"], "name": _name(svc), "status": svc.get("status"),
           "escalation_policy": _brief(svc.get("escalation_policy")),
           "teams": [_name(t) for t in svc.get("teams") or []], "html_url": svc.get("html_url")}
    if detail:
        out |= {"description": svc.get("description"), "acknowledgement_timeout": svc.get("acknowledgement_timeout"),
                "auto_resolve_timeout": svc.get("auto_resolve_timeout"),
                "last_incident": _time(svc.get("last_incident_timestamp")),
                "integrations": [_name(x) for x in svc.get("integrations") or []]}
    return _compact(out)


def _user(u: dict) -> dict:
    return _compact({"id": u["id"], "name": _name(u), "email": u.get("email"), "role": u.get("role"),
                     "job_title": u.get("job_title"), "time_zone": u.get("time_zone"),
                     "teams": [_name(t) for t in u.get("teams") or []]})


def _policy(p: dict, detail: bool = False) -> dict:
    out = {"id": p["id"], "name": _name(p), "teams": [_name(t) for t in p.get("teams") or []],
           "services": [_name(x) for x in p.get("services") or []], "html_url": p.get("html_url")}
    levels = [{"level": n, "escalate_after_minutes": rule.get("escalation_delay_in_minutes"),
               "targets": [{"type": (t.get("type") or "").removesuffix("_reference"), "id": t.get("id"),
                            "name": _name(t)} for t in rule.get("targets") or []]}
              for n, rule in enumerate(p.get("escalation_rules") or [], start=1)]
    if detail:
        out |= {"description": p.get("description"), "repeats": p.get("num_loops"), "levels": levels}
    else:
        out["levels"] = len(levels)
    return _compact(out)


def _schedule(sch: dict) -> dict:
    return _compact({"id": sch["id"], "name": _name(sch), "time_zone": sch.get("time_zone"),
                     "description": sch.get("description"), "teams": [_name(t) for t in sch.get("teams") or []],
                     "escalation_policies": [_name(p) for p in sch.get("escalation_policies") or []],
                     "html_url": sch.get("html_url")})


def _oncall(o: dict) -> dict:
    return _compact({"level": o.get("escalation_level"), "user": _person(o.get("user")),
                     "schedule": _brief(o.get("schedule")), "escalation_policy": _brief(o.get("escalation_policy")),
                     "start": _time(o.get("start")), "end": _time(o.get("end"))})


def _shift(entry: dict) -> dict:
    return _compact({"user": _brief(entry.get("user")), "start": _time(entry.get("start")),
                     "end": _time(entry.get("end"))})


def _rendered(schedule: dict, part: str) -> list[dict]:
    return [_shift(e) for e in (schedule.get(part) or {}).get("rendered_schedule_entries") or []]


def _override(o: dict) -> dict:
    return {"id": o.get("id")} | _shift(o)


def _note(n: dict) -> dict:
    return _compact({"id": n.get("id"), "at": _time(n.get("created_at")), "user": _name(n.get("user")),
                     "content": n.get("content")})


def _alert(al: dict) -> dict:
    return _compact({"id": al.get("id"), "status": al.get("status"), "severity": al.get("severity"),
                     "summary": al.get("summary"), "alert_key": al.get("alert_key"),
                     "created_at": _time(al.get("created_at"))})


def _log_entry(e: dict) -> dict:
    return _compact({"at": _time(e.get("created_at")), "type": (e.get("type") or "").removesuffix("_log_entry"),
                     "summary": e.get("summary"), "by": _name(e.get("agent")), "note": e.get("note"),
                     "incident": _name(e.get("incident"))})


def _change(c: dict) -> dict:
    return _compact({"at": _time(c.get("timestamp")), "summary": c.get("summary"), "source": c.get("source")})


# --- small helpers -----------------------------------------------------------------------------


def _ids(call: Call, kind: str, ref: str | None) -> list[str]:
    """The id `ref` names, as a filter list (empty, hence no filter, when nothing was named)."""
    return [call.directory.resolve(kind, ref)["id"]] if ref else []


def _window(call: Call, since: str | None, until: str | None, default: timedelta) -> tuple[datetime, datetime]:
    """A since/until pair in UTC. `default` is the length used for the missing side: negative means the
    window ends at `until` (default now) and looks back; positive means it starts at `since` (default now)."""
    if default < timedelta(0):
        end = parse_time(until, now=call.now) if until else call.now
        begin = parse_time(since, now=call.now, past=True) if since else end + default
    else:
        begin = parse_time(since, now=call.now, past=True) if since else call.now
        end = parse_time(until, now=call.now, base=begin) if until else begin + default
    if end <= begin:
        raise TimeParseError(f"the window ends ({iso(end)}) before it starts ({iso(begin)})")
    return begin, end


def _same_text(a: Any, b: str) -> bool:
    return isinstance(a, str) and " ".join(a.split()) == " ".join(b.split())


def _title_words(title: Any) -> set[str]:
    return {w for w in re.findall(r"[a-z][a-z0-9]+", str(title or "").lower()) if w not in _STOP_WORDS}
