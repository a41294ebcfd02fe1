"""The account's directory: services, escalation policies, users, teams and priorities.

These records never change at run time, so every answer is rendered straight from the account's
indexes. The renderers here are shared with the schedule and on-call routes, which embed the
same objects when asked to `include[]` them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence, Set
from datetime import datetime
from typing import Any, Protocol, TypeVar

from ..account import Account
from ..clock import Clock
from ..errors import invalid_input, not_found
from ..http import Page, Request, Response, Router, format_time
from ..models import AlertGrouping, EscalationPolicy, Integration, Priority, Schedule, Service, Team, User
from ..render import API_BASE, entity, ref

ROUTES = Router()


class Named(Protocol):
    name: str


T = TypeVar("T", bound=Named)
R = TypeVar("R")

_SORTS = {"name": False, "name:asc": False, "name:desc": True}


# --- the one list helper every directory collection goes through ---


def list_response(request: Request, root: str, records: Iterable[T], render: Callable[[T], dict], *,
                  texts: Callable[[T], Sequence[str]] = lambda r: (r.name,),
                  team_filter: bool = False, sortable: bool = False) -> Response:
    """A PagerDuty collection: `query` (case-insensitive substring of `texts`), `team_ids[]`, `sort_by`, a page.

    Collections come back in name order, as PagerDuty lists them; `sort_by=name:desc` reverses it
    where the operation offers `sort_by`.
    """
    page = Page.from_request(request)
    descending = False
    if sortable:
        sort_by = request.param("sort_by") or "name"
        if sort_by not in _SORTS:
            raise invalid_input(f"sort_by must be one of {', '.join(_SORTS)}.")
        descending = _SORTS[sort_by]
    query = (request.param("query") or "").strip().lower()
    team_ids = set(request.list_param("team_ids")) if team_filter else set()
    chosen = [r for r in records
              if (not query or any(query in text.lower() for text in texts(r)))
              and (not team_ids or team_ids.intersection(getattr(r, "team_ids", ())))]
    chosen.sort(key=lambda r: r.name.lower(), reverse=descending)
    return Response(200, page.wrap(root, chosen, render))


def includes(request: Request) -> Set[str]:
    return set(request.list_param("include"))


def lookup(records: dict[str, R], id_: str, what: str) -> R:
    """The record with this id, or PagerDuty's 404."""
    record = records.get(id_)
    if record is None:
        raise not_found(f"{what} {id_} not found.")
    return record


# --- renderers ---


def _sub(account: Account) -> str:
    return account.dataset.subdomain


def team_refs(account: Account, team_ids: Iterable[str], full: bool = False) -> list[dict]:
    teams = account.teams
    return [render_team(account, teams[t]) if full else ref(_sub(account), "team_reference", t, teams[t].name)
            for t in team_ids if t in teams]


def user_ref(account: Account, user_id: str) -> dict:
    user = account.users.get(user_id)
    return ref(_sub(account), "user_reference", user_id, user.name if user else None)


def policy_ref(account: Account, policy_id: str) -> dict:
    policy = account.escalation_policies.get(policy_id)
    return ref(_sub(account), "escalation_policy_reference", policy_id, policy.name if policy else None)


def schedule_ref(account: Account, schedule_id: str) -> dict:
    schedule = account.schedules.get(schedule_id)
    return ref(_sub(account), "schedule_reference", schedule_id, schedule.name if schedule else None)


def render_team(account: Account, team: Team) -> dict:
    return entity(_sub(account), "team_reference", team.id, team.name, name=team.name,
                  description=team.description or "", default_role="manager")


def render_user(account: Account, user: User, include: Set[str] = frozenset()) -> dict:
    avatar = hashlib.md5(user.email.lower().encode()).hexdigest()
    return entity(_sub(account), "user_reference", user.id, user.name, name=user.name, email=user.email,
                  time_zone=user.time_zone, color=user.color, role=user.role,
                  avatar_url=f"https://secure.gravatar.com/avatar/{avatar}.png?d=mm&r=PG",
                  description=None, invitation_sent=False, job_title=user.job_title or "",
                  teams=team_refs(account, user.team_ids, full="teams" in include),
                  contact_methods=[], notification_rules=[])


def render_priority(account: Account, priority: Priority) -> dict:
    rendered = entity(_sub(account), "priority_reference", priority.id, priority.name, name=priority.name,
                      description=priority.description or "")
    rendered["html_url"] = f"https://{_sub(account)}.pagerduty.com/account/incident_priorities"
    return rendered


def render_schedule_basic(account: Account, schedule: Schedule) -> dict:
    """A schedule without its rendered layers: what lists and `include[]=schedules` show."""
    user_ids = list(dict.fromkeys(u for layer in schedule.layers for u in layer.user_ids))
    policies = sorted((p for p in account.escalation_policies.values()
                       if any(t.type == "schedule_reference" and t.id == schedule.id
                              for r in p.rules for t in r.targets)),
                      key=lambda p: p.name.lower())  # in name order, like every list, whatever the file's order
    return entity(_sub(account), "schedule_reference", schedule.id, schedule.name, name=schedule.name,
                  time_zone=schedule.time_zone, description=schedule.description or "",
                  escalation_policies=[policy_ref(account, p.id) for p in policies],
                  users=[user_ref(account, u) for u in user_ids], teams=team_refs(account, schedule.team_ids))


def _target(account: Account, kind: str, id_: str, full: bool) -> dict:
    if kind == "user_reference":
        return render_user(account, account.users[id_]) if full else user_ref(account, id_)
    return render_schedule_basic(account, account.schedules[id_]) if full else schedule_ref(account, id_)


def render_policy(account: Account, policy: EscalationPolicy, include: Set[str] = frozenset()) -> dict:
    services = sorted((s for s in account.services.values() if s.escalation_policy_id == policy.id),
                      key=lambda s: s.name.lower())
    activity = ServiceActivity.of(account) if "services" in include else None
    rules = []
    for rule in policy.rules:
        rendered = {"id": rule.id, "escalation_delay_in_minutes": rule.escalation_delay_in_minutes,
                    "targets": [_target(account, t.type, t.id, "targets" in include) for t in rule.targets]}
        if "escalation_rule_assignment_strategies" in include:
            rendered["escalation_rule_assignment_strategy"] = "assign_to_everyone"
        rules.append(rendered)
    return entity(_sub(account), "escalation_policy_reference", policy.id, policy.name, name=policy.name,
                  description=policy.description or "", num_loops=policy.num_loops,
                  on_call_handoff_notifications="if_has_services", escalation_rules=rules,
                  services=[render_service(account, s, activity) if activity
                            else ref(_sub(account), "service_reference", s.id, s.name) for s in services],
                  teams=team_refs(account, policy.team_ids, full="teams" in include))


class ServiceActivity:
    """Each service's status and last incident time, derived from its incidents in one pass."""

    def __init__(self, status: dict[str, str], last: dict[str, datetime]) -> None:
        self.status = status
        self.last = last

    @classmethod
    def of(cls, account: Account) -> ServiceActivity:
        status: dict[str, str] = {}
        last: dict[str, datetime] = {}
        for incident in account.incidents.values():
            sid = incident.service_id
            if sid not in last or incident.created_at > last[sid]:
                last[sid] = incident.created_at
            if incident.status == "triggered":
                status[sid] = "critical"
            elif incident.status == "acknowledged" and status.get(sid) != "critical":
                status[sid] = "warning"
        return cls(status, last)

    def status_of(self, service: Service) -> str:
        """`maintenance`/`disabled` are set by people; otherwise open incidents decide, as in PagerDuty."""
        if service.status in ("maintenance", "disabled"):
            return service.status
        return self.status.get(service.id, "active")


def render_integration(account: Account, service: Service, integration: Integration, full: bool) -> dict:
    url = f"{API_BASE}/services/{service.id}/integrations/{integration.id}"
    html = f"https://{_sub(account)}.pagerduty.com/services/{service.id}/integrations/{integration.id}"
    rendered: dict[str, Any] = {"id": integration.id, "type": "events_api_v2_inbound_integration_reference",
                "summary": integration.name, "self": url, "html_url": html}
    if full:
        rendered.update(type="events_api_v2_inbound_integration", name=integration.name,
                        service=ref(_sub(account), "service_reference", service.id, service.name),
                        integration_key=integration.routing_key,
                        created_at=format_time(service.created_at))
    return rendered


def render_service(account: Account, service: Service, activity: ServiceActivity,
                   include: Set[str] = frozenset()) -> dict:
    policy = account.escalation_policies[service.escalation_policy_id]
    last = activity.last.get(service.id)
    rendered = entity(
        _sub(account), "service_reference", service.id, service.name, name=service.name,
        description=service.description or "", auto_resolve_timeout=service.auto_resolve_timeout,
        acknowledgement_timeout=service.acknowledgement_timeout,
        created_at=format_time(service.created_at),
        status=activity.status_of(service), last_incident_timestamp=format_time(last),
        escalation_policy=(render_policy(account, policy) if "escalation_policies" in include
                           else policy_ref(account, policy.id)),
        teams=team_refs(account, service.team_ids, full="teams" in include),
        integrations=[render_integration(account, service, i, "integrations" in include) for i in service.integrations],
        incident_urgency_rule={"type": "constant", "urgency": service.default_urgency},
        scheduled_actions=[], addons=[], alert_creation="create_alerts_and_incidents",
        alert_grouping_parameters=_grouping(service.alert_grouping))
    return {k: v for k, v in rendered.items() if v is not None}


def _grouping(grouping: AlertGrouping) -> dict:
    """`alert_grouping_parameters` as PagerDuty shows them: a type (null when off) and that type's config."""
    if grouping.type is None:
        return {"type": None}
    config = ({"timeout": grouping.timeout} if grouping.type == "time" else
              {"aggregate": grouping.aggregate, "fields": grouping.fields, "time_window": grouping.time_window})
    return {"type": grouping.type, "config": config}


# --- services ---


@ROUTES.get("/services", scope="services.read")
def list_services(account: Account, clock: Clock, request: Request) -> Response:
    activity, include = ServiceActivity.of(account), includes(request)
    services: Iterable[Service] = account.services.values()
    name = request.param("name")
    if name:
        services = [s for s in services if s.name.lower() == name.lower()]
    return list_response(request, "services", services, lambda s: render_service(account, s, activity, include),
                         team_filter=True, sortable=True)


@ROUTES.get("/services/{id}", scope="services.read")
def get_service(account: Account, clock: Clock, request: Request, id: str) -> Response:
    service = lookup(account.services, id, "Service")
    return Response(200, {"service": render_service(account, service, ServiceActivity.of(account), includes(request))})


# --- escalation policies ---


def _policy_user_ids(account: Account, policy: EscalationPolicy) -> set[str]:
    """Users a policy can page: direct targets and everyone on its schedules' layers."""
    users: set[str] = set()
    for rule in policy.rules:
        for target in rule.targets:
            if target.type == "user_reference":
                users.add(target.id)
            else:
                users.update(u for layer in account.schedules[target.id].layers for u in layer.user_ids)
    return users


@ROUTES.get("/escalation_policies", scope="escalation_policies.read")
def list_policies(account: Account, clock: Clock, request: Request) -> Response:
    include = includes(request)
    policies: Iterable[EscalationPolicy] = account.escalation_policies.values()
    user_ids = set(request.list_param("user_ids"))
    if user_ids:
        policies = [p for p in policies if user_ids & _policy_user_ids(account, p)]
    return list_response(request, "escalation_policies", policies, lambda p: render_policy(account, p, include),
                         team_filter=True, sortable=True)


@ROUTES.get("/escalation_policies/{id}", scope="escalation_policies.read")
def get_policy(account: Account, clock: Clock, request: Request, id: str) -> Response:
    policy = lookup(account.escalation_policies, id, "Escalation policy")
    return Response(200, {"escalation_policy": render_policy(account, policy, includes(request))})


# --- users ---

# PagerDuty's own words for `/users/me` with an account-level key; python-pagerduty detects the
# key type by finding "account-level access token" in the (string-valued) `error`.
_ME_NEEDS_USER_TOKEN = ("Because this request was made using an account-level access token, we were unable to "
                        "determine the user's identity. Please use a user-level token.")


@ROUTES.get("/users", scope="users.read")
def list_users(account: Account, clock: Clock, request: Request) -> Response:
    include = includes(request)
    return list_response(request, "users", account.users.values(), lambda u: render_user(account, u, include),
                         texts=lambda u: (u.name, u.email), team_filter=True)


@ROUTES.get("/users/me", scope="users.read")
def get_current_user(account: Account, clock: Clock, request: Request) -> Response:
    token = request.token
    if token is None or token.kind != "user" or token.user_id is None:
        return Response(400, {"error": _ME_NEEDS_USER_TOKEN})
    return Response(200, {"user": render_user(account, account.users[token.user_id], includes(request))})


@ROUTES.get("/users/{id}", scope="users.read")
def get_user(account: Account, clock: Clock, request: Request, id: str) -> Response:
    user = lookup(account.users, id, "User")
    return Response(200, {"user": render_user(account, user, includes(request))})


# --- teams and priorities ---


@ROUTES.get("/teams", scope="teams.read")
def list_teams(account: Account, clock: Clock, request: Request) -> Response:
    return list_response(request, "teams", account.teams.values(), lambda t: render_team(account, t))


@ROUTES.get("/teams/{id}", scope="teams.read")
def get_team(account: Account, clock: Clock, request: Request, id: str) -> Response:
    return Response(200, {"team": render_team(account, lookup(account.teams, id, "Team"))})


@ROUTES.get("/teams/{id}/members", scope="teams.read")
def list_team_members(account: Account, clock: Clock, request: Request, id: str) -> Response:
    """The team's users in name order; account admins and owners manage the team, everyone else responds."""
    team = lookup(account.teams, id, "Team")
    full = "users" in includes(request)
    members = sorted((u for u in account.users.values() if team.id in u.team_ids), key=lambda u: u.name.lower())

    def render(user: User) -> dict:
        return {"user": render_user(account, user) if full else user_ref(account, user.id),
                "role": "manager" if user.role in ("admin", "owner") else "responder"}

    return Response(200, Page.from_request(request).wrap("members", members, render))


@ROUTES.get("/priorities", scope="priorities.read")
def list_priorities(account: Account, clock: Clock, request: Request) -> Response:
    """In the account's order (P1 first), which is what priority pickers rely on; no filters."""
    page = Page.from_request(request)
    return Response(200, page.wrap("priorities", list(account.priorities.values()),
                                   lambda p: render_priority(account, p)))
