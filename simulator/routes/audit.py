"""The audit trail (`/audit/records`): PagerDuty's one cursor-paginated list in this simulator.

Directory data only changes through overrides here, so override writes are what it records, under
their schedule as root resource. Records come newest first; the cursor names the last record a page
returned, so records written between two pages neither repeat nor shift the next page.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime, timedelta

from ..account import Account
from ..clock import Clock
from ..errors import invalid_date_range, invalid_input, not_found
from ..http import Request, Response, Router, format_time
from ..models import AuditRecord, Override, Schedule
from ..render import api_url, ref

ROUTES = Router()

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
DEFAULT_WINDOW = timedelta(hours=24)  # without since/until, the last day
MAX_WINDOW = timedelta(days=31)
ACTIONS = ("create", "update", "delete")
ROOT_TYPES = ("users", "teams", "schedules", "escalation_policies", "services", "ip_allow_lists")
ACTOR_TYPES = ("user_reference", "api_key_reference", "app_reference")
METHOD_TYPES = ("browser", "oauth", "api_token", "identity_provider", "other")


def record_override(account: Account, clock: Clock, request: Request, action: str, schedule: Schedule,
                    override: Override, before: Override | None = None) -> None:
    """Write the audit record of an override created, cut short (update) or deleted through the API."""
    def fields(item: Override, key: str) -> list[dict]:
        return [{"name": "start", key: format_time(item.start)}, {"name": "end", key: format_time(item.end)},
                {"name": "user", key: item.user_id}]

    changed = fields(override, "value") if action != "delete" else fields(override, "before_value")
    if before is not None:
        earlier = fields(before, "value")
        changed = [dict(now, before_value=old["value"]) for now, old in zip(changed, earlier, strict=True)]
    token = request.token
    account.audit_records.append(AuditRecord(
        id=account.ids.new("audit_record"), execution_time=clock.now(), action=action,  # type: ignore[arg-type]
        root_type="schedules", root_id=schedule.id, resource_type="override", resource_id=override.id,
        actor_id=request.actor_id, token_suffix=token.token[-4:] if token else "", fields=changed))


def _cursor(record: AuditRecord) -> str:
    return base64.urlsafe_b64encode(f"{record.execution_time.isoformat()}|{record.id}".encode()).decode()


def _after_cursor(value: str) -> tuple[datetime, str]:
    """The (time, id) sort key a cursor names; anything not made by `_cursor` is PagerDuty's 400."""
    try:
        when, _, record_id = base64.urlsafe_b64decode(value.encode()).decode().partition("|")
        return datetime.fromisoformat(when), record_id
    except (ValueError, UnicodeDecodeError, binascii.Error):
        raise invalid_input("cursor is not a cursor this API returned.") from None


def _window(clock: Clock, request: Request) -> tuple[datetime, datetime]:
    since, until = request.time_param("since"), request.time_param("until")
    until = until or (clock.now() if since is None else since + DEFAULT_WINDOW)
    since = since or until - DEFAULT_WINDOW
    if until < since:
        raise invalid_date_range("until must not be before since.")
    if until - since > MAX_WINDOW:
        raise invalid_date_range("The date range must not exceed 31 days.")
    return since, until


def _choice(request: Request, name: str, allowed: tuple[str, ...]) -> str | None:
    value = request.param(name)
    if value is not None and value not in allowed:
        raise invalid_input(f"{name} must be one of {', '.join(allowed)}.")
    return value


@ROUTES.get("/audit/records", scope="audit_records.read")
def list_audit_records(account: Account, clock: Clock, request: Request) -> Response:
    return _records(account, clock, request, None)


@ROUTES.get("/schedules/{id}/audit/records", scope="audit_records.read")
def list_schedule_audit_records(account: Account, clock: Clock, request: Request, id: str) -> Response:
    if id not in account.schedules:
        raise not_found(f"Schedule {id} not found.")
    return _records(account, clock, request, id)


def _records(account: Account, clock: Clock, request: Request, root_id: str | None) -> Response:
    """One page of the records (of one root resource, or all), newest first, after the cursor."""
    limit = request.int_param("limit", DEFAULT_LIMIT)
    if not 1 <= limit <= MAX_LIMIT:
        raise invalid_input(f"limit must be between 1 and {MAX_LIMIT}.")
    since, until = _window(clock, request)
    roots = set(request.list_param("root_resource_types"))
    actions = set(request.list_param("actions"))
    if roots - set(ROOT_TYPES) or actions - set(ACTIONS):
        raise invalid_input("root_resource_types[] and actions[] take PagerDuty's values only.")
    actor_type, actor_id = _choice(request, "actor_type", ACTOR_TYPES), request.param("actor_id")
    method_type = _choice(request, "method_type", METHOD_TYPES)
    suffix = request.param("method_truncated_token")
    cursor = request.param("cursor")
    after = _after_cursor(cursor) if cursor else None
    found = [r for r in reversed(account.audit_records)
             if since <= r.execution_time <= until and root_id in (None, r.root_id)
             and (not roots or r.root_type in roots)
             and (not actions or r.action in actions)
             and (actor_type in (None, "user_reference") or r.actor_id is None)
             and (actor_id is None or r.actor_id == actor_id)
             and method_type in (None, "api_token") and (suffix is None or r.token_suffix == suffix)
             and (after is None or (r.execution_time, r.id) < after)]
    page = found[:limit]
    return Response(200, {"records": [_render(account, r) for r in page], "limit": limit,
                          "next_cursor": _cursor(page[-1]) if len(found) > limit else None})


def _render(account: Account, record: AuditRecord) -> dict:
    sub = account.dataset.subdomain
    schedule = account.schedules.get(record.root_id)
    actors = [ref(sub, "user_reference", record.actor_id, account.users[record.actor_id].name)] \
        if record.actor_id in account.users else []
    resource = {"id": record.resource_id, "type": f"{record.resource_type}_reference",
                "summary": f"{record.resource_type.capitalize()} {record.resource_id}",
                "self": f"{api_url('schedule_reference', record.root_id)}/overrides/{record.resource_id}",
                "html_url": None}
    return {"id": record.id, "self": None, "execution_time": format_time(record.execution_time),
            "execution_context": {"request_id": None, "remote_address": None}, "actors": actors,
            "method": {"type": "api_token", "truncated_token": record.token_suffix, "description": None},
            "root_resource": ref(sub, "schedule_reference", record.root_id, schedule.name if schedule else None),
            "action": record.action, "details": {"resource": resource, "fields": record.fields, "references": None}}
