"""Events API v2: alert events (`/v2/enqueue`) and change events (`/v2/change/enqueue`).

No authentication: the routing key names the integration, and so the service. Errors use the
Events API's own body, `{"status", "message", "errors"}`, not the REST API's, and each routing key
has its own rate limit (the simulator hands its `limiter` to these routes alone). An acknowledge or
resolve for a key with no open alert is accepted and dropped.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .. import incidents as engine
from ..account import Account
from ..clock import Clock
from ..errors import ApiError
from ..http import Request, Response, Router, parse_time
from ..ratelimit import RateLimiter

ROUTES = Router()

SEVERITIES = ("critical", "error", "warning", "info")
ACTIONS = ("trigger", "acknowledge", "resolve")
MAX_SUMMARY = 1024
MAX_DEDUP_KEY = 255


def _invalid(*errors: str) -> Response:
    return Response(400, {"status": "invalid event", "message": "Event object is invalid", "errors": list(errors)})


def _event(account: Account, clock: Clock, request: Request, limiter: RateLimiter) -> tuple[dict, str] | Response:
    """The event object and its routing key, once both are usable; else the answer to send."""
    try:
        data = request.json()
    except ApiError:
        data = None
    if not isinstance(data, dict):
        return Response(400, {"status": "Unrecognized object", "message": "Event object format is unrecognized",
                              "errors": ["JSON parse error"]})
    key = _routing_key(account, clock, data, limiter)
    return key if isinstance(key, Response) else (data, key)


def _routing_key(account: Account, clock: Clock, data: dict, limiter: RateLimiter) -> str | Response:
    """The event's routing key, once it is known and under its rate limit; else the answer to send."""
    key = data.get("routing_key")
    if not isinstance(key, str) or not key:
        return _invalid("'routing_key' is missing or blank")
    if len(key) != 32:
        return _invalid("Length of 'routing_key' is incorrect (should be 32 characters)")
    if key not in account.routing_keys:
        return _invalid("'routing_key' does not match any Events API v2 integration")
    limit = account.dataset.rate_limits.events_per_minute_per_routing_key
    allowed, _ = limiter.check([(("routing_key", key), limit)], clock.now())
    if not allowed:
        return Response(429, {"status": "throttle event",
                              "message": "Requests for this service are arriving too quickly. Please retry later."})
    return key


def _text(data: dict, name: str, where: str, errors: list[str], *, required: bool, max_length: int) -> str | None:
    value = data.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            errors.append(f"'{where}{name}' is missing or blank")
        return None
    if not isinstance(value, str):
        errors.append(f"'{where}{name}' must be a string")
        return None
    if len(value) > max_length:
        errors.append(f"'{where}{name}' must be at most {max_length} characters")
    return value


def _details(payload: dict, errors: list[str]) -> dict | None:
    details: Any = payload.get("custom_details")
    if details is None or isinstance(details, dict):
        return details
    if isinstance(details, (str, int, float, bool, list)):
        return {"details": details}  # PagerDuty keeps a non-object under a "details" key
    errors.append("'payload.custom_details' must be an object")
    return None


def _timestamp(payload: dict, errors: list[str]) -> datetime | None:
    value = payload.get("timestamp")
    if value is None:
        return None
    if isinstance(value, str):
        try:
            return parse_time(value, "payload.timestamp")
        except ApiError:
            pass
    errors.append("'payload.timestamp' must be an ISO 8601 date-time")
    return None


@ROUTES.post("/v2/enqueue", api="events")
def enqueue(account: Account, clock: Clock, request: Request, *, limiter: RateLimiter) -> Response:
    """Trigger, acknowledge or resolve an alert; 202 with the dedup key (generated for a trigger without one)."""
    event = _event(account, clock, request, limiter)
    if isinstance(event, Response):
        return event
    data, key = event
    errors: list[str] = []
    action = data.get("event_action")
    if action not in ACTIONS:
        errors.append("'event_action' is missing or invalid (must be trigger, acknowledge or resolve)")
    dedup_key = _text(data, "dedup_key", "", errors, required=action in ("acknowledge", "resolve"),
                      max_length=MAX_DEDUP_KEY)
    if action != "trigger":
        if errors or dedup_key is None:  # required here: a missing key is already among the errors
            return _invalid(*errors)
        (engine.acknowledge_alert if action == "acknowledge" else engine.resolve_alert)(account, clock, key, dedup_key)
        return _accepted(dedup_key)
    payload = data.get("payload")
    if not isinstance(payload, dict):
        return _invalid(*errors, "'payload' is missing or not an object")
    summary = _text(payload, "summary", "payload.", errors, required=True, max_length=MAX_SUMMARY)
    source = _text(payload, "source", "payload.", errors, required=True, max_length=MAX_SUMMARY)
    severity = payload.get("severity")
    if severity not in SEVERITIES:
        errors.append("'payload.severity' is missing or invalid (must be critical, error, warning or info)")
    details = _details(payload, errors)
    _timestamp(payload, errors)
    fields = {"alert_class" if name == "class" else name: value for name in ("component", "group", "class")
              if (value := _text(payload, name, "payload.", errors, required=False, max_length=MAX_SUMMARY))}
    if errors:
        return _invalid(*errors)
    alert = engine.trigger_alert(account, clock, key, summary=summary, severity=severity,  # type: ignore[arg-type]
                                 source=source, dedup_key=dedup_key, custom_details=details, fields=fields)
    return _accepted(alert.alert_key)


def _accepted(dedup_key: str) -> Response:
    return Response(202, {"status": "success", "message": "Event processed", "dedup_key": dedup_key})


@ROUTES.post("/v2/change/enqueue", api="events")
def enqueue_change(account: Account, clock: Clock, request: Request, *, limiter: RateLimiter) -> Response:
    """Record a change event (a deploy, a config change) on the routing key's service; it pages nobody."""
    event = _event(account, clock, request, limiter)
    if isinstance(event, Response):
        return event
    data, key = event
    payload = data.get("payload")
    if not isinstance(payload, dict):
        return _invalid("'payload' is missing or not an object")
    errors: list[str] = []
    summary = _text(payload, "summary", "payload.", errors, required=True, max_length=MAX_SUMMARY)
    source = _text(payload, "source", "payload.", errors, required=False, max_length=MAX_SUMMARY)
    details = _details(payload, errors)
    timestamp = _timestamp(payload, errors)
    if errors:
        return _invalid(*errors)
    engine.record_change(account, clock, key, summary=summary,  # type: ignore[arg-type]
                         source=source, timestamp=timestamp, custom_details=details)
    return Response(202, {"status": "success", "message": "Change event processed"})
