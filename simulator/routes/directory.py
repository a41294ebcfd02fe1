"""The account's directory: services, escalation policies, users, teams and priorities.

These records never change at run time, so every answer is rendered straight from the state's
indexes. The renderers here are shared with the schedule and on-call routes, which embed the
same objects when asked to `include[]` them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence, Set
from datetime import datetime
from typing import Any, Protocol, TypeVar

from ..core import ROUTER, Simulator
from ..errors import invalid_input, not_found
from ..http import Page, Request, Response, format_time
from ..models import AlertGrouping, EscalationPolicy, Integration, Priority, Schedule, Service, Team, User
from ..render import API_BASE, entity, ref


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


def _sub(sim: Simulator) -> str:
    return sim.state.dataset.subdomain


def team_refs(sim: Simulator, team_ids: Iterable[str], full: bool = False) -> list[dict]:
    teams = sim.state.teams
    return [render_team(sim, teams[t]) if full else ref(_sub(sim), "team_reference", t, teams[t].name)
            for t in team_ids if t in teams]


def user_ref(sim: Simulator, user_id: str) -> dict:
    user = sim.state.users.get(user_id)
    return ref(_sub(sim), "user_reference", user_id, user.name if user else None)


def policy_ref(sim: Simulator, policy_id: str) -> dict:
    policy = sim.state.escalation_policies.get(policy_id)
    return ref(_sub(sim), "escalation_policy_reference", policy_id, policy.name if policy else None)


def schedule_ref(sim: Simulator, schedule_id: str) -> dict:
    schedule = sim.state.schedules.get(schedule_id)
    return ref(_sub(sim), "schedule_reference", schedule_id, schedule.name if schedule else None)


def render_team(sim: Simulator, team: Team) -> dict:
    return entity(_sub(sim), "team_reference", team.id, team.name, name=team.name,
                  description=team.description or "", default_role="manager")


def render_user(sim: Simulator, user: User, include: Set[str] = frozenset()) -> dict:
    avatar = hashlib.md5(user.email.lower().encode()).hexdigest()
    return entity(_sub(sim), "user_reference", user.id, user.name, name=user.name, email=user.email,
                  time_zone=user.time_zone, color=user.color, role=user.role,
                  avatar_url=f"https://secure.gravatar.com/avatar/{avatar}.png?d=mm&r=PG",
                  description=None, invitation_sent=False, job_title=user.job_title or "",
                  teams=team_refs(sim, user.team_ids, full="teams" in include),
                  contact_methods=[], notification_rules=[])


def render_priority(sim: Simulator, priority: Priority) -> dict:
    rendered = entity(_sub(sim), "priority_reference", priority.id, priority.name, name=priority.name,
                      description=priority.description or "")
    rendered["html_url"] = f"https://{_sub(sim)}.pagerduty.com/account/incident_priorities"
    return rendered


def render_schedule_basic(sim: Simulator, schedule: Schedule) -> dict:
    """A schedule without its rendered layers: what lists and `include[]=schedules` show."""
    user_ids = list(dict.fromkeys(u for layer in schedule.layers for u in layer.user_ids))
    policies = sorted((p for p in sim.state.escalation_policies.values()
                       if any(t.type == "schedule_reference" and t.id == schedule.id
                              for r in p.rules for t in r.targets)),
                      key=lambda p: p.name.lower())  # in name order, like every list, whatever the file's order
    return entity(_sub(sim), "schedule_reference", schedule.id, schedule.name, name=schedule.name,
                  time_zone=schedule.time_zone, description=schedule.description or "",
                  escalation_policies=[policy_ref(sim, p.id) for p in policies],
                  users=[user_ref(sim, u) for u in user_ids], teams=team_refs(sim, schedule.team_ids))


def _target(sim: Simulator, kind: str, id_: str, full: bool) -> dict:
    if kind == "user_reference":
        return render_user(sim, sim.state.users[id_]) if full else user_ref(sim, id_)
    return render_schedule_basic(sim, sim.state.schedules[id_]) if full else schedule_ref(sim, id_)


def render_policy(sim: Simulator, policy: EscalationPolicy, include: Set[str] = frozenset()) -> dict:
    services = sorted((s for s in sim.state.services.values() if s.escalation_policy_id == policy.id),
                      key=lambda s: s.name.lower())
    activity = ServiceActivity.of(sim) if "services" in include else None
    rules = []
    for rule in policy.rules:
        rendered = {"id": rule.id, "escalation_delay_in_minutes": rule.escalation_delay_in_minutes,
                    "targets": [_target(sim, t.type, t.id, "targets" in include) for t in rule.targets]}
        if "escalation_rule_assignment_strategies" in include:
            rendered["escalation_rule_assignment_strategy"] = "assign_to_everyone"
        rules.append(rendered)
    return entity(_sub(sim), "escalation_policy_reference", policy.id, policy.name, name=policy.name,
                  description=policy.description or "", num_loops=policy.num_loops,
                  on_call_handoff_notifications="if_has_services", escalation_rules=rules,
                  services=[render_service(sim, s, activity) if activity
                            else ref(_sub(sim), "service_reference", s.id, s.name) for s in services],
                  teams=team_refs(sim, policy.team_ids, full="teams" in include))


class ServiceActivity:
    """Each service's status and last incident time, derived from its incidents in one pass."""

    def __init__(self, status: dict[str, str], last: dict[str, datetime]) -> None:
        self.status = status
        self.last = last

    @classmethod
    def of(cls, sim: Simulator) -> ServiceActivity:
        status: dict[str, str] = {}
        last: dict[str, datetime] = {}
        for incident in sim.state.incidents.values():
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


def render_integration(sim: Simulator, service: Service, integration: Integration, full: bool) -> dict:
    url = f"{API_BASE}/services/{service.id}/integrations/{integration.id}"
    html = f"https://{_sub(sim)}.pagerduty.com/services/{service.id}/integrations/{integration.id}"
    rendered: dict[str, Any] = {"id": integration.id, "type": "events_api_v2_inbound_integration_reference",
                "summary": integration.name, "self": url, "html_url": html}
    if full:
        rendered.update(type="events_api_v2_inbound_integration", name=integration.name,
                        service=ref(_sub(sim), "service_reference", service.id, service.name),
                        integration_key=integration.routing_key,
                        created_at=format_time(service.created_at))
    return rendered


def render_service(sim: Simulator, service: Service, activity: ServiceActivity,
                   include: Set[str] = frozenset()) -> dict:
    policy = sim.state.escalation_policies[service.escalation_policy_id]
    last = activity.last.get(service.id)
    rendered = entity(
        _sub(sim), "service_reference", service.id, service.name, name=service.name,
        description=service.description or "", auto_resolve_timeout=service.auto_resolve_timeout,
        acknowledgement_timeout=service.acknowledgement_timeout,
        created_at=format_time(service.created_at),
        status=activity.status_of(service), last_incident_timestamp=format_time(last),
        escalation_policy=(render_policy(sim, policy) if "escalation_policies" in include
                           else policy_ref(sim, policy.id)),
        teams=team_refs(sim, service.team_ids, full="teams" in include),
        integrations=[render_integration(sim, service, i, "integrations" in include) for i in service.integrations],
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


@ROUTER.get("/services", scope="services.read")
def list_services(sim: Simulator, request: Request) -> Response:
    activity, include = ServiceActivity.of(sim), includes(request)
    services: Iterable[Service] = sim.state.services.values()
    name = request.param("name")
    if name:
        services = [s for s in services if s.name.lower() == name.lower()]
    return list_response(request, "services", services, lambda s: render_service(sim, s, activity, include),
                         team_filter=True, sortable=True)


@ROUTER.get("/services/{id}", scope="services.read")
def get_service(sim: Simulator, request: Request, id: str) -> Response:
    service = lookup(sim.state.services, id, "Service")
    return Response(200, {"service": render_service(sim, service, ServiceActivity.of(sim), includes(request))})


# --- escalation policies ---


def _policy_user_ids(sim: Simulator, policy: EscalationPolicy) -> set[str]:
    """Users a policy can page: direct targets and everyone on its schedules' layers."""
    users: set[str] = set()
    for rule in policy.rules:
        for target in rule.targets:
            if target.type == "user_reference":
                users.add(target.id)
            else:
                users.update(u for layer in sim.state.schedules[target.id].layers for u in layer.user_ids)
    return users


@ROUTER.get("/escalation_policies", scope="escalation_policies.read")
def list_policies(sim: Simulator, request: Request) -> Response:
    include = includes(request)
    policies: Iterable[EscalationPolicy] = sim.state.escalation_policies.values()
    user_ids = set(request.list_param("user_ids"))
    if user_ids:
        policies = [p for p in policies if user_ids & _policy_user_ids(sim, p)]
    return list_response(request, "escalation_policies", policies, lambda p: render_policy(sim, p, include),
                         team_filter=True, sortable=True)


@ROUTER.get("/escalation_policies/{id}", scope="escalation_policies.read")
def get_policy(sim: Simulator, request: Request, id: str) -> Response:
    policy = lookup(sim.state.escalation_policies, id, "Escalation policy")
    return Response(200, {"escalation_policy": render_policy(sim, policy, includes(request))})


# --- users ---

# PagerDuty's own words for `/users/me` with an account-level key; python-pagerduty detects the
# key type by finding "account-level access token" in the (string-valued) `error`.
_ME_NEEDS_USER_TOKEN = ("Because this request was made using an account-level access token, we were unable to "
                        "determine the user's identity. Please use a user-level token.")


@ROUTER.get("/users", scope="users.read")
def list_users(sim: Simulator, request: Request) -> Response:
    include = includes(request)
    return list_response(request, "users", sim.state.users.values(), lambda u: render_user(sim, u, include),
                         texts=lambda u: (u.name, u.email), team_filter=True)


@ROUTER.get("/users/me", scope="users.read")
def get_current_user(sim: Simulator, request: Request) -> Response:
    token = request.token
    if token is None or token.kind != "user" or token.user_id is None:
        return Response(400, {"error": _ME_NEEDS_USER_TOKEN})
    return Response(200, {"user": render_user(sim, sim.state.users[token.user_id], includes(request))})


@ROUTER.get("/users/{id}", scope="users.read")
def get_user(sim: Simulator, request: Request, id: str) -> Response:
    user = lookup(sim.state.users, id, "User")
    return Response(200, {"user": render_user(sim, user, includes(request))})


# --- teams and priorities ---


@ROUTER.get("/teams", scope="teams.read")
def list_teams(sim: Simulator, request: Request) -> Response:
    return list_response(request, "teams", sim.state.teams.values(), lambda t: render_team(sim, t))


@ROUTER.get("/teams/{id}", scope="teams.read")
def get_team(sim: Simulator, request: Request, id: str) -> Response:
    return Response(200, {"team": render_team(sim, lookup(sim.state.teams, id, "Team"))})


@ROUTER.get("/teams/{id}/members", scope="teams.read")
def list_team_members(sim: Simulator, request: Request, id: str) -> Response:
    """The team's users in name order; account admins and owners manage the team, everyone else responds."""
    team = lookup(sim.state.teams, id, "Team")
    full = "users" in includes(request)
    members = sorted((u for u in sim.state.users.values() if team.id in u.team_ids), key=lambda u: u.name.lower())

    def render(user: User) -> dict:
        return {"user": render_user(sim, user) if full else user_ref(sim, user.id),
                "role": "manager" if user.role in ("admin", "owner") else "responder"}

    return Response(200, Page.from_request(request).wrap("members", members, render))


@ROUTER.get("/priorities", scope="priorities.read")
def list_priorities(sim: Simulator, request: Request) -> Response:
    """In the account's order (P1 first), which is what priority pickers rely on; no filters."""
    page = Page.from_request(request)
    return Response(200, page.wrap("priorities", list(sim.state.priorities.values()),
                                   lambda p: render_priority(sim, p)))
