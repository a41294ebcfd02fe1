"""Schedules, their overrides, and `/oncalls`.

Nothing on-call is stored: rendered layer entries, the final schedule and every on-call row are
computed by `simulator.oncall` from the layers, the overrides and the escalation rules at
request time, so an override created a moment ago shows up everywhere at once.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Set
from datetime import UTC, datetime, timedelta, tzinfo
from functools import partial

from .. import oncall
from ..account import Account
from ..clock import Clock, known_zone
from ..errors import ApiError, invalid_date_range, invalid_input, not_found
from ..http import Page, Request, Response, Router, format_time, parse_time
from ..models import Override, Schedule
from ..oncall import OnCallEntry, Span
from .audit import record_override
from .directory import (
    includes,
    list_response,
    lookup,
    policy_ref,
    render_policy,
    render_schedule_basic,
    render_user,
    schedule_ref,
    user_ref,
)

ROUTES = Router()

UTC = UTC
DEFAULT_WINDOW = timedelta(weeks=2)  # PagerDuty renders two weeks when one bound (or none) is given
# "On-call shifts are limited to 90 days in the future", and a range to 90 days
ONCALL_FUTURE_LIMIT = timedelta(days=90)
# Our own bound, which PagerDuty does not publish: rendering costs a span per turn, and a window of
# centuries (any client can ask) would hold the server for minutes.
MAX_RENDER_WINDOW = timedelta(days=366)
# With overflow=true, shifts crossing the window's bounds are shown whole. They are found by
# computing this far beyond each bound, which covers every turn length in practice.
OVERFLOW_REACH = timedelta(days=31)
SCHEDULE_PARTS = frozenset({"schedule_layers", "final_schedule", "overrides_subschedule"})


# --- request parsing ---


def _window(clock: Clock, request: Request) -> tuple[datetime, datetime]:
    """`since`/`until` for rendering: one bound defaults to two weeks from the other, none to now + 2 weeks."""
    since, until = request.time_param("since"), request.time_param("until")
    if since is None:
        since = clock.now() if until is None else until - DEFAULT_WINDOW
    if until is None:
        until = since + DEFAULT_WINDOW
    if until < since:
        raise invalid_date_range("until must not be before since.")
    if until - since > MAX_RENDER_WINDOW:
        raise invalid_date_range("A schedule can be rendered for at most a year at a time.")
    return since, until


def _overrides_by_schedule(account: Account) -> dict[str, list[Override]]:
    """Every schedule's overrides in creation order (the order `oncall` uses to settle overlaps)."""
    grouped: dict[str, list[Override]] = defaultdict(list)
    for override in account.overrides.values():
        grouped[override.schedule_id].append(override)
    return grouped


# --- rendering schedules ---


class Rendering:
    """How a request wants schedule entries rendered: the window, the zone, and whether to overflow."""

    def __init__(self, account: Account, since: datetime, until: datetime, zone: tzinfo, overflow: bool) -> None:
        self.account, self.since, self.until, self.zone, self.overflow = account, since, until, zone, overflow

    def spans(self, compute: Callable[[datetime, datetime], list[Span]]) -> list[Span]:
        """Spans in the window: clipped to it, or with overflow whole where they cross a bound."""
        if not self.overflow:
            return compute(self.since, self.until)
        wide = compute(self.since - OVERFLOW_REACH, self.until + OVERFLOW_REACH)
        return [s for s in wide if s.end > self.since and s.start < self.until]

    def subschedule(self, spans: list[Span], name: str | None = None) -> dict:
        length = (self.until - self.since).total_seconds()
        covered = sum((min(s.end, self.until) - max(s.start, self.since)).total_seconds() for s in spans)
        rendered = {"rendered_schedule_entries": [self.entry(s) for s in spans],
                    "rendered_coverage_percentage": round(100 * covered / length, 2) if length else 0}
        return {"name": name, **rendered} if name else rendered

    def entry(self, span: Span) -> dict:
        return {"start": format_time(span.start, self.zone), "end": format_time(span.end, self.zone),
                "user": user_ref(self.account, span.user_id)}


def render_schedule(account: Account, schedule: Schedule, parts: Set[str], rendering: Rendering) -> dict:
    """A schedule with the parts asked for. Layers are listed highest first, as PagerDuty's GET lists
    them (the reverse of the order they are written in, which is lowest first)."""
    rendered = render_schedule_basic(account, schedule)
    overrides = _overrides_by_schedule(account).get(schedule.id, [])
    zone = rendering.zone
    if "schedule_layers" in parts:
        rendered["schedule_layers"] = [
            {"id": layer.id, "name": layer.name, "start": format_time(layer.start, zone),
             **({"end": format_time(layer.end, zone)} if layer.end else {}),
             "rotation_virtual_start": format_time(layer.rotation_virtual_start, zone),
             "rotation_turn_length_seconds": layer.rotation_turn_length_seconds,
             "users": [{"user": user_ref(account, u)} for u in layer.user_ids],
             "restrictions": [r.model_dump(exclude_none=True) for r in layer.restrictions],
             **rendering.subschedule(rendering.spans(
                 partial(oncall.layer_spans, layer, schedule.time_zone)))}
            for layer in reversed(schedule.layers)]
    if "overrides_subschedule" in parts:
        rendered["overrides_subschedule"] = rendering.subschedule(
            rendering.spans(lambda low, high: oncall.overrides_spans(overrides, low, high)), "Overrides")
    if "final_schedule" in parts:
        rendered["final_schedule"] = rendering.subschedule(
            rendering.spans(lambda low, high: oncall.final_spans(schedule, overrides, low, high)), "Final Schedule")
    return rendered


@ROUTES.get("/schedules", scope="schedules.read")
def list_schedules(account: Account, clock: Clock, request: Request) -> Response:
    parts = includes(request) & SCHEDULE_PARTS
    since, until = _window(clock, request)
    zone = request.zone_param("UTC")

    def render(schedule: Schedule) -> dict:
        return render_schedule(account, schedule, parts, Rendering(account, since, until, zone, overflow=False))

    return list_response(request, "schedules", account.schedules.values(), render, team_filter=True)


@ROUTES.get("/schedules/{id}", scope="schedules.read")
def get_schedule(account: Account, clock: Clock, request: Request, id: str) -> Response:
    schedule = lookup(account.schedules, id, "Schedule")
    since, until = _window(clock, request)
    rendering = Rendering(account, since, until, request.zone_param(schedule.time_zone), request.bool_param("overflow"))
    return Response(200, {"schedule": render_schedule(account, schedule, SCHEDULE_PARTS, rendering)})


@ROUTES.get("/schedules/{id}/users", scope="users.read")
def list_schedule_users(account: Account, clock: Clock, request: Request, id: str) -> Response:
    """Everyone the final schedule has on call in the window (two weeks from now by default), first on first."""
    schedule = lookup(account.schedules, id, "Schedule")
    since, until = _window(clock, request)
    overrides = _overrides_by_schedule(account).get(schedule.id, [])
    user_ids = dict.fromkeys(span.user_id for span in oncall.final_spans(schedule, overrides, since, until))
    return Response(200, {"users": [render_user(account, account.users[u]) for u in user_ids]})


# --- overrides ---


def render_override(account: Account, override: Override) -> dict:
    return {"id": override.id, "start": format_time(override.start, UTC), "end": format_time(override.end, UTC),
            "user": user_ref(account, override.user_id)}


@ROUTES.get("/schedules/{id}/overrides", scope="schedules.read")
def list_overrides(account: Account, clock: Clock, request: Request, id: str) -> Response:
    """Overrides meeting [since, until) (both required); `editable` keeps future ones, ids only."""
    lookup(account.schedules, id, "Schedule")
    since, until = request.time_param("since"), request.time_param("until")
    if since is None or until is None:
        raise invalid_input("since and until are required.")
    if until < since:
        raise invalid_date_range("until must not be before since.")
    now = clock.now()
    found = [o for o in _overrides_by_schedule(account).get(id, []) if o.end > since and o.start < until]
    if request.param("editable") is not None:
        return Response(200, {"overrides": [{"id": o.id} for o in found if o.start > now]})
    rendered = []
    for override in found:
        item = render_override(account, override)
        if not request.bool_param("overflow"):
            item["start"] = format_time(max(override.start, since), UTC)
            item["end"] = format_time(min(override.end, until), UTC)
        rendered.append(item)
    return Response(200, {"overrides": rendered})


def _override_time(value: object, name: str, zone: tzinfo | None) -> datetime:
    """A time from an override item; one without an offset is read in the item's `time_zone`."""
    if not isinstance(value, str) or not value:
        raise invalid_input(f"{name} is required and must be an ISO 8601 string.")
    parsed = parse_time(value, name)
    if zone is None:
        return parsed
    try:
        naive = datetime.fromisoformat(value.strip()).tzinfo is None
    except ValueError:  # only forms parse_time repairs, and those all carry an offset
        naive = False
    return parsed.replace(tzinfo=zone).astimezone(UTC) if naive else parsed


def _create_override(account: Account, clock: Clock, request: Request, schedule: Schedule,
                     item: object) -> tuple[dict, list[str]]:
    """Validate and store one requested override: its rendering, and the errors that stopped it (if any)."""
    if not isinstance(item, dict):
        return {}, ["Each override must be an object."]
    user = item.get("user")
    user_id = user.get("id") if isinstance(user, dict) else None
    echo = {"start": item.get("start"), "end": item.get("end"),
            "user": user_ref(account, user_id) if isinstance(user_id, str) else user}
    errors: list[str] = []
    zone: tzinfo | None = None
    if item.get("time_zone") is not None:
        zone = known_zone(str(item["time_zone"]))
        if zone is None:
            errors.append(f"time_zone {item['time_zone']!r} is not a known IANA time zone.")
    times: dict[str, datetime] = {}
    for name in ("start", "end"):
        try:
            times[name] = _override_time(item.get(name), name, zone)
        except ApiError as exc:
            errors.extend(exc.errors or [exc.message])
    if not isinstance(user_id, str) or (isinstance(user, dict) and user.get("type", "user_reference")
                                        not in ("user_reference", "user")):
        errors.append("user must be a user reference with an id.")
    elif user_id not in account.users:
        errors.append(f"User {user_id} not found.")
    if len(times) == 2 and times["end"] <= times["start"]:
        errors.append("Override must end after its start")
    if errors:
        return echo, errors
    override = Override(id=account.ids.new("override"), schedule_id=schedule.id, user_id=user_id,
                        start=times["start"], end=times["end"], created_at=clock.now())
    account.overrides[override.id] = override
    record_override(account, clock, request, "create", schedule, override)
    return render_override(account, override), []


@ROUTES.post("/schedules/{id}/overrides", scope="schedules.write")
def create_overrides(account: Account, clock: Clock, request: Request, id: str) -> Response:
    """201 with a bare array of per-item results: a bad item fails alone, the others are created.

    The deprecated single form `{"override": {...}}` answers `{"override": ...}`, or 400 if it is bad.
    """
    schedule = lookup(account.schedules, id, "Schedule")
    body = request.json_object()
    if "overrides" in body:
        items = body["overrides"]
        if not isinstance(items, list) or not items:
            raise invalid_input("overrides must be a non-empty array.")
        results = []
        for item in items:
            rendered, errors = _create_override(account, clock, request, schedule, item)
            results.append({"status": 400, "errors": errors, "override": rendered} if errors
                           else {"status": 201, "override": rendered})
        return Response(201, results)
    if isinstance(body.get("override"), dict):
        rendered, errors = _create_override(account, clock, request, schedule, body["override"])
        if errors:
            raise invalid_input(*errors)
        return Response(201, {"override": rendered})
    raise invalid_input('The request body must have an "overrides" array.')


@ROUTES.delete("/schedules/{id}/overrides/{override_id}", scope="schedules.write")
def delete_override(account: Account, clock: Clock, request: Request, id: str, override_id: str) -> Response:
    """204 for a future override; one under way is cut short at now (200); a past one cannot go."""
    schedule = lookup(account.schedules, id, "Schedule")
    override = account.overrides.get(override_id)
    if override is None or override.schedule_id != id:
        raise not_found(f"Override {override_id} not found on schedule {id}.")
    now = clock.now()
    if override.end <= now:
        raise invalid_input("Past overrides cannot be deleted.")
    if override.start < now:
        before = override.model_copy()
        override.end = now
        record_override(account, clock, request, "update", schedule, override, before)
        return Response(200, {"override": render_override(account, override)})
    del account.overrides[override_id]
    record_override(account, clock, request, "delete", schedule, override)
    return Response(204)


# --- on-calls ---


def _oncall_window(clock: Clock, request: Request) -> tuple[datetime, datetime]:
    """Both bounds default to now (a lone bound in the future pulls the other along); at most 90 days ahead."""
    now = clock.now()
    since, until = request.time_param("since"), request.time_param("until")
    if since is None:
        since = min(now, until) if until is not None else now
    if until is None:
        until = max(now, since)
    if until < since:
        raise invalid_date_range("until must not be before since.")
    if until - since > ONCALL_FUTURE_LIMIT:
        raise invalid_date_range("The on-call range must not exceed 90 days.")
    if until > now + ONCALL_FUTURE_LIMIT:
        raise invalid_date_range("On-call shifts are limited to 90 days in the future.")
    return since, until


@ROUTES.get("/oncalls", scope="oncalls.read", rate_group="oncalls")
def list_oncalls(account: Account, clock: Clock, request: Request) -> Response:
    page = Page.from_request(request)
    since, until = _oncall_window(clock, request)
    zone = request.zone_param("UTC")
    policy_ids = request.list_param("escalation_policy_ids")
    policies = [account.escalation_policies[p] for p in dict.fromkeys(policy_ids) if p in account.escalation_policies] \
        if policy_ids else list(account.escalation_policies.values())
    user_ids = set(request.list_param("user_ids"))
    schedule_ids = set(request.list_param("schedule_ids"))
    overrides = _overrides_by_schedule(account)
    rows = [entry for entry in oncall.oncalls(policies, account.schedules, overrides, since, until)
            if (not user_ids or entry.user_id in user_ids)
            and (not schedule_ids or (entry.schedule_id or "null") in schedule_ids)]
    if request.bool_param("earliest"):
        rows = oncall.earliest(rows)
    include = includes(request)

    def render(entry: OnCallEntry) -> dict:
        """A permanent on-call (a user the policy names directly) has null schedule, start and end, as
        PagerDuty sends them (the spec does not mark them nullable; the contract test declares it)."""
        policy = account.escalation_policies[entry.escalation_policy_id]
        rendered = {
            "escalation_policy": render_policy(account, policy) if "escalation_policies" in include
            else policy_ref(account, policy.id),
            "escalation_level": entry.escalation_level,
            "user": render_user(account, account.users[entry.user_id]) if "users" in include
            else user_ref(account, entry.user_id),
        }
        schedule = account.schedules.get(entry.schedule_id or "")
        rendered["schedule"] = None if schedule is None else (
            render_schedule_basic(account, schedule) if "schedules" in include else schedule_ref(account, schedule.id))
        rendered["start"], rendered["end"] = format_time(entry.start, zone), format_time(entry.end, zone)
        return rendered

    return Response(200, page.wrap("oncalls", rows, render))
