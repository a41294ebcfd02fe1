"""REST API v2 for incidents and what hangs off them: notes, log entries, alerts, responder requests,
merges, snoozes, plus the account-wide log-entry and change-event lists.

Handlers turn PagerDuty's JSON into engine calls (`simulator.incidents`) and engine records back into
the spec's shapes. Every malformed body, bad enum or unknown id is a 4xx with PagerDuty's error body.
Where PagerDuty sends null (an open incident's `resolved_at`, an incident without `priority`) so does the
simulator, though the spec does not mark those fields nullable (the contract test declares it); optional
fields PagerDuty leaves out (`note`, `body` …) are left out.
"""

from __future__ import annotations

import json
import operator
from bisect import bisect_left
from calendar import monthrange
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, tzinfo
from functools import lru_cache, partial
from typing import Any

from .. import incidents as engine
from ..account import Account
from ..clock import Clock
from ..errors import ApiError, invalid_date_range, invalid_input, not_found
from ..http import Page, Request, Response, Router, format_time
from ..incidents import Actor, IncidentUpdate
from ..models import Alert, ChangeEvent, Incident, LogEntry, Note, ResponderRequest
from ..render import API_BASE, ref
from .directory import ServiceActivity, render_policy, render_priority, render_service, render_team, render_user

ROUTES = Router()

MAX_BULK = 250
STATUSES = ("triggered", "acknowledged", "resolved")
URGENCIES = ("high", "low")
INCIDENT_INCLUDES = ("acknowledgers", "agents", "assignees", "conference_bridge", "custom_fields",
                     "escalation_policies", "first_trigger_log_entries", "priorities", "services", "teams", "users")
LOG_INCLUDES = ("incidents", "services", "channels", "teams")
ALERT_INCLUDES = ("services", "first_trigger_log_entries", "incidents")
INCIDENT_SORTS: dict[str, Callable[[Incident], Any]] = {"incident_number": operator.attrgetter("number"),
                  "created_at": operator.attrgetter("created_at"),
                  "resolved_at": lambda i: (i.resolved_at is not None, i.resolved_at or i.created_at),
                  "urgency": lambda i: i.urgency == "high"}
OVERVIEW_EXCLUDES = frozenset({"notify_log_entry"})  # is_overview=true: the changes, not every page sent
_by_created_at = operator.attrgetter("created_at")


# --- query and body parsing ---


def _enum_list(request: Request, name: str, allowed: Sequence[str]) -> set[str]:
    values = set(request.list_param(name))
    bad = values.difference(allowed)
    if bad:
        raise invalid_input(f"{name}[] must be among {', '.join(allowed)}; got {', '.join(sorted(bad))}.")
    return values


def _months_before(when: datetime, months: int) -> datetime:
    year, month = divmod(when.year * 12 + when.month - 1 - months, 12)
    return when.replace(year=year, month=month + 1, day=min(when.day, monthrange(year, month + 1)[1]))


def _window(request: Request, now: datetime, default_months: int | None, max_months: int | None
            ) -> tuple[datetime | None, datetime | None]:
    """since/until as PagerDuty reads them; `until` before `since` is an error, so is a window over the maximum.

    Without `until` the window is open-ended (it ends "now", and something made at this very instant counts).
    """
    since, until = request.time_param("since"), request.time_param("until")
    end = until or now
    if default_months is not None and since is None:
        since = _months_before(end, default_months)
    if since is not None:
        if end < since:
            raise invalid_date_range("until must not be before since.")
        if max_months is not None and since < _months_before(end, max_months):
            raise invalid_input(f"The date range must not exceed {max_months} months.")
    return since, until


def _in_window(items: list, since: datetime | None, until: datetime | None) -> list:
    """The time-ordered `items` with since ≤ created_at < until, found by bisection."""
    low = 0 if since is None else bisect_left(items, since, key=_by_created_at)
    high = len(items) if until is None else bisect_left(items, until, key=_by_created_at)
    return items[low:high]


def _str(data: dict, name: str, *, required: bool = False, where: str = "incident") -> str | None:
    value = data.get(name)
    if value is None:
        if required:
            raise invalid_input(f"{where}.{name} is required.")
        return None
    if not isinstance(value, str) or (required and not value.strip()):
        raise invalid_input(f"{where}.{name} must be a non-empty string.")
    return value


def _enum(data: dict, name: str, allowed: Sequence[str], where: str = "incident") -> str | None:
    value = data.get(name)
    if value is not None and value not in allowed:
        raise invalid_input(f"{where}.{name} must be one of {', '.join(allowed)}.")
    return value


def _ref_id(value: Any, name: str, kind: str) -> str:
    """The id of a reference object `{"id": …, "type": "<kind>_reference"}` (type optional, checked if given)."""
    if not isinstance(value, dict) or not isinstance(value.get("id"), str) or not value["id"]:
        raise invalid_input(f"{name} must be an object with an id.")
    if value.get("type") not in (None, kind, f"{kind}_reference"):
        raise invalid_input(f"{name}.type must be {kind}_reference.")
    return value["id"]


def _optional_ref(data: dict, name: str, kind: str, where: str = "incident") -> str | None:
    value = data.get(name)
    return None if value is None else _ref_id(value, f"{where}.{name}", kind)


def _assignee_ids(data: dict, where: str = "incident") -> list[str] | None:
    value = data.get("assignments")
    if value is None:
        return None
    if not isinstance(value, list) or not value:
        raise invalid_input(f"{where}.assignments must be a non-empty list.")
    ids = []
    for item in value:
        if not isinstance(item, dict):
            raise invalid_input(f"{where}.assignments[] must be objects with an assignee.")
        ids.append(_ref_id(item.get("assignee"), f"{where}.assignments[].assignee", "user"))
    return ids


def _incident_type(data: dict, allowed: Sequence[str], where: str = "incident") -> None:
    if data.get("type") not in allowed:
        raise invalid_input(f"{where}.type must be {' or '.join(allowed)}.")


def _update(data: dict, where: str = "incident") -> IncidentUpdate:
    """One `PUT` item, type-checked; the engine checks it against the account."""
    _incident_type(data, ("incident", "incident_reference"), where)
    status = data.get("status")
    if status is not None and status not in STATUSES:
        raise ApiError(400, 1003, "Invalid Status Provided", [f"{where}.status must be one of {', '.join(STATUSES)}."])
    level = data.get("escalation_level")
    if level is not None and (not isinstance(level, int) or isinstance(level, bool)):
        raise invalid_input(f"{where}.escalation_level must be an integer.")
    priority, priority_id, priority_name = data.get("priority"), None, None
    if isinstance(priority, str):
        priority_name = priority
    elif priority is not None:
        priority_id = _ref_id(priority, f"{where}.priority", "priority")
    assignees = _assignee_ids(data, where)
    return IncidentUpdate(
        status=status, resolution=_str(data, "resolution", where=where), title=_title(data, where, required=False),
        urgency=_enum(data, "urgency", URGENCIES, where), priority_id=priority_id,  # type: ignore[arg-type]
        priority_name=priority_name, escalation_level=level,
        assignee_ids=tuple(assignees) if assignees else None,
        escalation_policy_id=_optional_ref(data, "escalation_policy", "escalation_policy", where))


def _title(data: dict, where: str, required: bool) -> str | None:
    title = _str(data, "title", required=required, where=where)
    if title is not None and not title.strip():
        raise invalid_input(f"{where}.title must not be blank.")
    return title


def _details(body: Any) -> str | None:
    """`body.details`: PagerDuty's docs send text, its spec an object; an object is kept as JSON text."""
    if body is None:
        return None
    if not isinstance(body, dict):
        raise invalid_input("incident.body must be an object with details.")
    details = body.get("details")
    if details is None or isinstance(details, str):
        return details
    if isinstance(details, dict):
        return json.dumps(details)
    raise invalid_input("incident.body.details must be a string or an object.")


def _includes(request: Request, allowed: Sequence[str]) -> frozenset[str]:
    return frozenset(_enum_list(request, "include", allowed))


def _actor(request: Request) -> Actor:
    assert request.actor_id is not None, "write routes that act as a user declare requires_from"
    return Actor.user(request.actor_id)


def _incident(account: Account, id_or_number: str) -> Incident:
    incident = account.find_incident(id_or_number)
    if incident is None:
        raise not_found(f"Incident {id_or_number} not found.")
    return incident


# --- rendering ---


_iso = lru_cache(maxsize=1 << 16)(format_time)  # incidents are rendered again and again; strftime is slow


@lru_cache(maxsize=8192)
def _cached_ref(subdomain: str, kind: str, id_: str, summary: str | None) -> dict:
    """References to directory objects never change, so a render reuses them (callers never mutate them)."""
    return ref(subdomain, kind, id_, summary)


class Renderer:
    """Records → PagerDuty JSON for one request; `include` expands references into the directory's full objects."""

    def __init__(self, account: Account, include: frozenset[str] = frozenset(), zone: tzinfo | None = None) -> None:
        self.account = account
        self.zone = zone
        self.time: Callable[[datetime | None], str | None] = (
            _iso if zone is None or zone is UTC else partial(format_time, zone=zone))
        self.sub = account.dataset.subdomain
        self.include = include
        self._activity: ServiceActivity | None = None

    @property
    def nested(self) -> Renderer:
        """Expansions go one level deep, as PagerDuty's do: an included object's own references stay references."""
        return Renderer(self.account, zone=self.zone) if self.include else self

    # references, or the full objects when included

    def user(self, user_id: str, expand: bool = False) -> dict:
        user = self.account.users[user_id]
        if expand:
            return render_user(self.account, user)
        return _cached_ref(self.sub, "user_reference", user_id, user.name)

    def service(self, service_id: str, expand: bool = False) -> dict:
        service = self.account.services[service_id]
        if expand:
            if self._activity is None:  # one pass over the incidents, however many services are shown
                self._activity = ServiceActivity.of(self.account)
            return render_service(self.account, service, self._activity)
        return _cached_ref(self.sub, "service_reference", service_id, service.name)

    def policy(self, policy_id: str, expand: bool = False) -> dict:
        policy = self.account.escalation_policies[policy_id]
        if expand:
            return render_policy(self.account, policy)
        return _cached_ref(self.sub, "escalation_policy_reference", policy_id, policy.name)

    def team(self, team_id: str, expand: bool = False) -> dict:
        team = self.account.teams[team_id]
        if expand:
            return render_team(self.account, team)
        return _cached_ref(self.sub, "team_reference", team_id, team.name)

    def agent(self, agent_type: str | None, agent_id: str | None, service_id: str, expand: bool = False) -> dict:
        """A log entry's or status change's agent: a user, the service, or one of its integrations."""
        if agent_type == "user_reference" and agent_id:
            return self.user(agent_id, expand)
        if agent_type == "integration_reference" and agent_id:
            integration = next(i for i in self.account.services[service_id].integrations if i.id == agent_id)
            return {"id": agent_id, "type": "integration_reference", "summary": integration.name,
                    "self": f"{API_BASE}/services/{service_id}/integrations/{agent_id}",
                    "html_url": f"https://{self.sub}.pagerduty.com/services/{service_id}/integrations/{agent_id}"}
        return self.service(agent_id if agent_type == "service_reference" and agent_id else service_id, expand)

    def incident_ref(self, incident: Incident) -> dict:
        return {"id": incident.id, "type": "incident_reference", "summary": f"[#{incident.number}] {incident.title}",
                "self": f"{API_BASE}/incidents/{incident.id}",
                "html_url": f"https://{self.sub}.pagerduty.com/incidents/{incident.id}"}

    def log_entry_ref(self, entry: LogEntry) -> dict:
        return {"id": entry.id, "type": f"{entry.type}_reference", "summary": entry.summary,
                "self": f"{API_BASE}/log_entries/{entry.id}?incident_id={entry.incident_id}",
                "html_url": f"https://{self.sub}.pagerduty.com/incidents/{entry.incident_id}/log_entries/{entry.id}"}

    # full objects

    def incident(self, incident: Incident, with_body: bool = False) -> dict:
        account, include = self.account, self.include
        expand_users = "users" in include
        alerts = account.alerts_by_incident.get(incident.id, ())
        triggered = sum(1 for a in alerts if a.status == "triggered")
        trigger = account.log_entries_by_incident[incident.id][0]
        status_agent = ("user_reference", incident.last_status_change_by) if incident.last_status_change_by \
            else ("service_reference", incident.service_id)
        out = {
            "id": incident.id, "type": "incident", "summary": f"[#{incident.number}] {incident.title}",
            "self": f"{API_BASE}/incidents/{incident.id}",
            "html_url": f"https://{self.sub}.pagerduty.com/incidents/{incident.id}",
            "incident_number": incident.number, "title": incident.title, "description": incident.title,
            "created_at": self.time(incident.created_at), "updated_at": self.time(incident.updated_at),
            "status": incident.status, "incident_key": incident.incident_key,
            "service": self.service(incident.service_id, "services" in include),
            "assignments": [{"at": self.time(a.at),
                             "assignee": self.user(a.user_id, expand_users or "assignees" in include)}
                            for a in incident.assignments],
            "assigned_via": incident.assigned_via,
            "last_status_change_at": self.time(incident.last_status_change_at),
            "last_status_change_by": self.agent(*status_agent, incident.service_id, "agents" in include),
            "first_trigger_log_entry": (self.nested.log_entry(trigger) if "first_trigger_log_entries" in include
                                        else self.log_entry_ref(trigger)),
            "alert_counts": {"all": len(alerts), "triggered": triggered, "resolved": len(alerts) - triggered},
            "is_mergeable": True, "incident_type": {"name": "incident_default"},
            "escalation_policy": self.policy(incident.escalation_policy_id, "escalation_policies" in include),
            "teams": [self.team(t, "teams" in include) for t in incident.team_ids],
            "pending_actions": ([{"type": "unacknowledge", "at": self.time(incident.snoozed_until)}]
                                if incident.snoozed_until and incident.status == "acknowledged" else []),
            "acknowledgements": [{"at": self.time(incident.last_status_change_at),
                                  "acknowledger": self._acknowledger(a, expand_users or "acknowledgers" in include)}
                                 for a in incident.acknowledger_ids],
            "urgency": incident.urgency,
            "incidents_responders": [], "responder_requests": [],
        }
        out["resolved_at"] = self.time(incident.resolved_at)
        out["priority"] = (None if incident.priority_id is None
                           else render_priority(self.account, account.priorities[incident.priority_id]))
        if incident.merged_into is not None:
            out["resolve_reason"] = {"type": "merge_resolve_reason",
                                     "incident": self.incident_ref(account.incidents[incident.merged_into])}
        if incident.responder_request_ids:
            requests = [account.responder_requests[r] for r in incident.responder_request_ids]
            out["responder_requests"] = [self.responder_request(r) for r in requests]
            out["incidents_responders"] = [responder for r in requests for responder in self._responders(r)]
        if with_body and incident.body_details is not None:
            out["body"] = {"type": "incident_body", "details": incident.body_details}
        return out

    def _acknowledger(self, acknowledger_id: str, expand: bool) -> dict:
        if acknowledger_id in self.account.users:
            return self.user(acknowledger_id, expand)
        return self.service(acknowledger_id, expand)

    def log_entry(self, entry: LogEntry) -> dict:
        include, account = self.include, self.account
        incident = account.incidents[entry.incident_id]
        out: dict[str, Any] = {
            "id": entry.id, "type": entry.type, "summary": entry.summary,
            "self": f"{API_BASE}/log_entries/{entry.id}",
            "html_url": f"https://{self.sub}.pagerduty.com/incidents/{entry.incident_id}/log_entries/{entry.id}",
            "created_at": self.time(entry.created_at),
            "agent": self.agent(entry.agent_type, entry.agent_id, entry.service_id),
            "channel": {"type": entry.channel},
            "service": self.service(entry.service_id, "services" in include),
            "incident": self.nested.incident(incident) if "incidents" in include else self.incident_ref(incident),
            "teams": [self.team(t, "teams" in include) for t in entry.team_ids],
            "contexts": [],
        }
        if entry.note is not None:
            out["note"] = entry.note
        if entry.type == "trigger_log_entry":
            out["event_details"] = {"description": incident.title}
        elif entry.type == "notify_log_entry" and entry.user_id:
            out["user"] = self.user(entry.user_id)
        elif entry.type == "assign_log_entry" and entry.user_id:
            out["assignees"] = [self.user(entry.user_id)]
        elif entry.type == "acknowledge_log_entry":
            timeout = account.services[entry.service_id].acknowledgement_timeout
            if timeout is not None:
                out["acknowledgement_timeout"] = timeout
        return out

    def note(self, note: Note) -> dict:
        incident = self.account.incidents[note.incident_id]
        return {"id": note.id,
                "user": self.user(note.user_id) if note.user_id else self.service(incident.service_id),
                "channel": {"summary": "The PagerDuty website or APIs"}, "content": note.content,
                "created_at": self.time(note.created_at), "updated_at": self.time(note.created_at)}

    def alert(self, alert: Alert) -> dict:
        include, incident = self.include, self.account.incidents[alert.incident_id]
        trigger = self.account.log_entries_by_incident[incident.id][0]
        return {
            "id": alert.id, "type": "alert", "summary": alert.summary,
            "self": f"{API_BASE}/incidents/{alert.incident_id}/alerts/{alert.id}",
            "html_url": f"https://{self.sub}.pagerduty.com/alerts/{alert.id}",
            "created_at": self.time(alert.created_at), "status": alert.status, "alert_key": alert.alert_key,
            "service": self.service(alert.service_id, "services" in include),
            "first_trigger_log_entry": (self.nested.log_entry(trigger) if "first_trigger_log_entries" in include
                                        else self.log_entry_ref(trigger)),
            "incident": self.nested.incident(incident) if "incidents" in include else self.incident_ref(incident),
            "suppressed": False, "severity": alert.severity,
            "body": {"type": "alert_body", "contexts": [], "details": alert.custom_details or {}},
        }

    def responder_request(self, request: ResponderRequest) -> dict:
        incident = self.account.incidents[request.incident_id]
        responders = self._responders(request)
        targets = []
        for target in request.targets:
            if target.type == "user_reference":
                summary = self.account.users[target.id].name
                mine = [r for r in responders if r["user"]["id"] == target.id]
            else:
                summary = self.account.escalation_policies[target.id].name
                mine = [r for r in responders if summary in r["escalation_policy_requests"]]
            targets.append({"responder_request_target": {
                "type": target.type.removesuffix("_reference"), "id": target.id, "summary": summary,
                "incidents_responders": mine}})
        return {"id": request.id, "incident": self.incident_ref(incident), "requester": self.user(request.requester_id),
                "requested_at": self.time(request.requested_at), "message": request.message,
                "responder_request_targets": targets}

    def _responders(self, request: ResponderRequest) -> list[dict]:
        """One responder per user paged; `escalation_policy_requests` names the policies that reached them."""
        incident_ref = self.incident_ref(self.account.incidents[request.incident_id])
        direct = {t.id for t in request.targets if t.type == "user_reference"}
        policies = [self.account.escalation_policies[t.id].name for t in request.targets
                    if t.type == "escalation_policy_reference"]
        requester, at = self.user(request.requester_id), self.time(request.requested_at)
        return [{"state": "pending", "user": self.user(user_id), "incident": incident_ref, "updated_at": at,
                 "message": request.message, "requester": requester, "requested_at": at,
                 "escalation_policy_requests": [] if user_id in direct else policies}
                for user_id in request.user_ids]

    def change_event(self, event: ChangeEvent) -> dict:
        out = {"id": event.id, "type": "change_event", "summary": event.summary,
               "self": f"{API_BASE}/change_events/{event.id}", "html_url": None,
               "timestamp": self.time(event.timestamp),
               "services": [self.service(s) for s in event.service_ids if s in self.account.services],
               "links": [], "images": [], "custom_details": event.custom_details or {}}
        if event.source is not None:
            out["source"] = event.source
        if event.routing_key is not None and event.routing_key in self.account.routing_keys:
            out["routing_key"] = event.routing_key
            out["integration"] = {"id": self.account.routing_keys[event.routing_key][1],
                                  "type": "inbound_integration_reference"}
        return out


class _NewestFirst:
    """A reversed view of a time-ordered list that Page.wrap can slice without copying the whole list."""

    def __init__(self, items: Sequence) -> None:
        self.items = items

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: slice) -> Sequence:
        start, stop, _ = index.indices(len(self.items))
        n = len(self.items)
        return self.items[n - stop:n - start][::-1]


def _paged(request: Request, root: str, items: Sequence, render: Callable[[Any], dict]) -> Response:
    return Response(200, Page.from_request(request).wrap(root, items, render))  # type: ignore[arg-type]


# --- incidents ---


@ROUTES.get("/incidents", scope="incidents.read")
def list_incidents(account: Account, clock: Clock, request: Request) -> Response:
    """Classic-paginated incidents, oldest first by default, inside PagerDuty's since/until window."""
    page = Page.from_request(request)
    statuses = _enum_list(request, "statuses", STATUSES)
    urgencies = _enum_list(request, "urgencies", URGENCIES)
    renderer = Renderer(account, _includes(request, INCIDENT_INCLUDES), request.zone_param())
    sorts = _sort_keys(request)
    date_range = request.param("date_range")
    if date_range not in (None, "", "all"):
        raise invalid_input("date_range must be all.")
    since, until = (None, None) if date_range == "all" else _window(request, clock.now(), 1, 6)
    engine.catch_up(account, clock)
    if statuses and "resolved" not in statuses:  # only open ones: the open-incident index is far smaller
        items = sorted(map(account.incidents.__getitem__, account.open_incident_keys.values()),
                       key=operator.attrgetter("number"))
    else:
        items = list(account.incidents.values())
    items = _in_window(items, since, until)
    for predicate in _incident_filters(account, request, statuses, urgencies):
        items = list(filter(predicate, items))
    for field, descending in reversed(sorts):
        items.sort(key=INCIDENT_SORTS[field], reverse=descending)
    return Response(200, page.wrap("incidents", items, renderer.incident))


def _incident_filters(account: Account, request: Request, statuses: set[str], urgencies: set[str]
                      ) -> list[Callable[[Incident], bool]]:
    filters: list[Callable[[Incident], bool]] = []
    if statuses:
        filters.append(lambda i: i.status in statuses)
    if urgencies:
        filters.append(lambda i: i.urgency in urgencies)
    service_ids = set(request.list_param("service_ids"))
    if service_ids:
        filters.append(lambda i: i.service_id in service_ids)
    team_ids = set(request.list_param("team_ids"))
    if team_ids:
        filters.append(lambda i: not team_ids.isdisjoint(i.team_ids))
    user_ids = set(request.list_param("user_ids"))
    if user_ids:
        filters.append(lambda i: any(a.user_id in user_ids for a in i.assignments))
    key = request.param("incident_key")
    if key:
        alerts = account.alerts_by_incident
        filters.append(lambda i: i.incident_key == key or any(a.alert_key == key for a in alerts.get(i.id, ())))
    return filters


def _sort_keys(request: Request) -> list[tuple[str, bool]]:
    """`sort_by=field[:asc|:desc]`, at most two, comma-separated or repeated."""
    keys = [part.strip() for value in request.list_param("sort_by") for part in value.split(",") if part.strip()]
    if len(keys) > 2:
        raise invalid_input("sort_by takes at most two fields.")
    parsed = []
    for key in keys:
        field, _, direction = key.partition(":")
        if field not in INCIDENT_SORTS or direction not in ("", "asc", "desc"):
            raise invalid_input(f"sort_by {key!r} is not one of {', '.join(INCIDENT_SORTS)} with :asc or :desc.")
        parsed.append((field, direction == "desc"))
    return parsed


@ROUTES.get("/incidents/{id}", scope="incidents.read")
def get_incident(account: Account, clock: Clock, request: Request, id: str) -> Response:
    renderer = Renderer(account, _includes(request, INCIDENT_INCLUDES))
    engine.catch_up(account, clock)
    return Response(200, {"incident": renderer.incident(_incident(account, id), with_body=True)})


@ROUTES.post("/incidents", scope="incidents.write", requires_from=True, rate_group="incident_create")
def create_incident(account: Account, clock: Clock, request: Request) -> Response:
    data = request.json_object("incident")
    _incident_type(data, ("incident",))
    service = data.get("service")
    if service is None:
        raise invalid_input("incident.service is required.")
    incident = engine.create(
        account, clock, Actor.user(_actor(request).agent_id, "web_trigger"),
        service_id=_ref_id(service, "incident.service", "service"),
        title=_title(data, "incident", required=True),  # type: ignore[arg-type]
        urgency=_enum(data, "urgency", URGENCIES),
        priority_id=_optional_ref(data, "priority", "priority"),
        incident_key=_str(data, "incident_key"),
        details=_details(data.get("body")),
        assignee_ids=_assignee_ids(data),
        escalation_policy_id=_optional_ref(data, "escalation_policy", "escalation_policy"))
    return Response(201, {"incident": Renderer(account).incident(incident, with_body=True)})


@ROUTES.put("/incidents/{id}", scope="incidents.write", requires_from=True)
def update_incident(account: Account, clock: Clock, request: Request, id: str) -> Response:
    change = _update(request.json_object("incident"))
    incident = _incident(account, id)
    engine.update(account, clock, incident, _actor(request), change)
    return Response(200, {"incident": Renderer(account).incident(incident, with_body=True)})


@ROUTES.put("/incidents", scope="incidents.write", requires_from=True, rate_group="incident_bulk_update")
def update_incidents(account: Account, clock: Clock, request: Request) -> Response:
    """Up to 250 incidents in one request; all are checked before any is changed."""
    items = request.json_object().get("incidents")
    if not isinstance(items, list) or not items:
        raise invalid_input('The request body must have a non-empty "incidents" list.')
    if len(items) > MAX_BULK:
        raise ApiError(413, 2001, "Request Entity Too Large", [f"At most {MAX_BULK} incidents can be updated at once."])
    actor = _actor(request)
    engine.catch_up(account, clock)
    work: list[tuple[Incident, IncidentUpdate]] = []
    for n, item in enumerate(items):
        where = f"incidents[{n}]"
        if not isinstance(item, dict):
            raise invalid_input(f"{where} must be an object.")
        incident_id = _str(item, "id", required=True, where=where)
        incident = account.find_incident(incident_id)  # type: ignore[arg-type]
        if incident is None:
            raise invalid_input(f"{where}: incident {incident_id} not found.")
        if any(incident is seen for seen, _ in work):
            raise invalid_input(f"{where}: incident {incident_id} is listed more than once.")
        change = _update(item, where)
        engine.check_update(account, incident, change)
        work.append((incident, change))
    for incident, change in work:
        engine.update(account, clock, incident, actor, change)
    renderer = Renderer(account)
    return Response(200, {"incidents": [renderer.incident(i) for i, _ in work], "limit": len(work), "offset": 0,
                          "more": False, "total": len(work) if request.bool_param("total") else None})


@ROUTES.put("/incidents/{id}/merge", scope="incidents.write", requires_from=True)
def merge_incidents(account: Account, clock: Clock, request: Request, id: str) -> Response:
    sources = request.json_object().get("source_incidents")
    if not isinstance(sources, list) or not sources:
        raise invalid_input("source_incidents must be a non-empty list of incident references.")
    target = _incident(account, id)
    found = [_incident(account, _ref_id(s, "source_incidents[]", "incident")) for s in sources]
    engine.merge(account, clock, target, found, _actor(request))
    return Response(200, {"incident": Renderer(account).incident_ref(target)})  # the spec answers a reference


@ROUTES.post("/incidents/{id}/snooze", scope="incidents.write", requires_from=True)
def snooze_incident(account: Account, clock: Clock, request: Request, id: str) -> Response:
    duration = request.json_object().get("duration")
    if not isinstance(duration, int) or isinstance(duration, bool):
        raise invalid_input("duration must be an integer number of seconds.")
    incident = _incident(account, id)
    engine.snooze(account, clock, incident, _actor(request), duration)
    return Response(201, {"incident": Renderer(account).incident(incident)})


# --- notes ---


@ROUTES.get("/incidents/{id}/notes", scope="incidents.read")
def list_notes(account: Account, clock: Clock, request: Request, id: str) -> Response:
    incident = _incident(account, id)
    renderer = Renderer(account)
    return Response(200, {"notes": [renderer.note(n) for n in account.notes_by_incident.get(incident.id, ())]})


@ROUTES.post("/incidents/{id}/notes", scope="incidents.write", requires_from=True)
def create_note(account: Account, clock: Clock, request: Request, id: str) -> Response:
    content = _str(request.json_object("note"), "content", required=True, where="note")
    note = engine.add_note(account, clock, _incident(account, id), _actor(request), content)  # type: ignore[arg-type]
    return Response(200, {"note": Renderer(account).note(note)})


# --- log entries ---


def _log_entries(account: Account, clock: Clock, request: Request, entries: list[LogEntry]) -> Response:
    """Newest first, as PagerDuty lists them; `is_overview` leaves out the notifications."""
    page = Page.from_request(request)
    renderer = Renderer(account, _includes(request, LOG_INCLUDES), request.zone_param())
    since, until = _window(request, clock.now(), None, None)
    overview = request.bool_param("is_overview")
    team_ids = set(request.list_param("team_ids"))
    items: Sequence[LogEntry] = _in_window(entries, since, until) if since or until else entries
    if overview or team_ids:
        items = [e for e in items if not (overview and e.type in OVERVIEW_EXCLUDES)
                 and (not team_ids or not team_ids.isdisjoint(e.team_ids))]
    return Response(200, page.wrap("log_entries", _NewestFirst(items), renderer.log_entry))  # type: ignore[arg-type]


@ROUTES.get("/incidents/{id}/log_entries", scope="incidents.read")
def list_incident_log_entries(account: Account, clock: Clock, request: Request, id: str) -> Response:
    engine.catch_up(account, clock)
    incident = _incident(account, id)
    return _log_entries(account, clock, request, account.log_entries_by_incident.get(incident.id, []))


@ROUTES.get("/log_entries", scope="incidents.read")
def list_log_entries(account: Account, clock: Clock, request: Request) -> Response:
    engine.catch_up(account, clock)
    return _log_entries(account, clock, request, account.log_entries)


@ROUTES.get("/log_entries/{id}", scope="incidents.read")
def get_log_entry(account: Account, clock: Clock, request: Request, id: str) -> Response:
    renderer = Renderer(account, _includes(request, LOG_INCLUDES), request.zone_param())
    engine.catch_up(account, clock)
    entry = account.log_entries_by_id.get(id)
    if entry is None:
        raise not_found(f"Log entry {id} not found.")
    return Response(200, {"log_entry": renderer.log_entry(entry)})


# --- alerts and responders ---


@ROUTES.get("/incidents/{id}/alerts", scope="incidents.read")
def list_alerts(account: Account, clock: Clock, request: Request, id: str) -> Response:
    statuses = _enum_list(request, "statuses", ("triggered", "resolved"))
    renderer = Renderer(account, _includes(request, ALERT_INCLUDES))
    sort = request.param("sort_by") or "created_at"
    if sort not in ("created_at", "resolved_at", "created_at:asc", "created_at:desc", "resolved_at:asc",
                    "resolved_at:desc"):
        raise invalid_input("sort_by must be created_at or resolved_at, with :asc or :desc.")
    incident = _incident(account, id)
    key = request.param("alert_key")
    alerts = [a for a in account.alerts_by_incident.get(incident.id, ())
              if (not statuses or a.status in statuses) and (not key or a.alert_key == key)]
    alerts.sort(key=_by_created_at, reverse=sort.endswith(":desc"))  # alerts keep no resolve time of their own
    return _paged(request, "alerts", alerts, renderer.alert)


@ROUTES.get("/incidents/{id}/alerts/{alert_id}", scope="incidents.read")
def get_alert(account: Account, clock: Clock, request: Request, id: str, alert_id: str) -> Response:
    incident = _incident(account, id)
    alert = account.alerts.get(alert_id)
    if alert is None or alert.incident_id != incident.id:
        raise not_found(f"Alert {alert_id} not found on incident {incident.id}.")
    return Response(200, {"alert": Renderer(account, _includes(request, ALERT_INCLUDES)).alert(alert)})


@ROUTES.post("/incidents/{id}/responder_requests", scope="incidents.write")
def create_responder_request(account: Account, clock: Clock, request: Request, id: str) -> Response:
    data = request.json_object()
    requester_id = data.get("requester_id")
    if not isinstance(requester_id, str) or not requester_id:
        raise ApiError(400, 2011, "You must specify a requester_id", ["requester_id is required."])
    message = _str(data, "message", required=True, where="responder_request")
    raw_targets = data.get("responder_request_targets")
    if not isinstance(raw_targets, list) or not raw_targets:
        raise invalid_input("responder_request_targets must be a non-empty list.")
    targets = [_responder_target(item) for item in raw_targets]
    incident = _incident(account, id)
    made = engine.request_responders(account, clock, incident, requester_id, message, targets)  # type: ignore[arg-type]
    return Response(200, {"responder_request": Renderer(account).responder_request(made)})


def _responder_target(item: Any) -> tuple[str, str]:
    target = item.get("responder_request_target") if isinstance(item, dict) else None
    if not isinstance(target, dict) or target.get("type") not in ("user_reference", "escalation_policy_reference"):
        raise invalid_input("Each responder_request_target needs a type of user_reference or "
                            "escalation_policy_reference and an id.")
    kind = target["type"]
    return kind, _ref_id(target, "responder_request_target", kind.removesuffix("_reference"))


# --- change events ---


@ROUTES.get("/change_events", scope="change_events.read")
def list_change_events(account: Account, clock: Clock, request: Request) -> Response:
    """Newest first; team and integration filters go through the events' services and routing keys."""
    page = Page.from_request(request)
    since, until = _window(request, clock.now(), None, None)
    team_ids = set(request.list_param("team_ids"))
    integration_ids = set(request.list_param("integration_ids"))
    events: Iterable[ChangeEvent] = account.change_events
    if since or until:
        events = [e for e in events
                  if (since is None or e.timestamp >= since) and (until is None or e.timestamp < until)]
    if team_ids:
        events = [e for e in events if any(not team_ids.isdisjoint(account.services[s].team_ids)
                                           for s in e.service_ids if s in account.services)]
    if integration_ids:
        events = [e for e in events if e.routing_key in account.routing_keys
                  and account.routing_keys[e.routing_key][1] in integration_ids]
    ordered = sorted(events, key=operator.attrgetter("timestamp"), reverse=True)
    return Response(200, page.wrap("change_events", ordered, Renderer(account).change_event))
