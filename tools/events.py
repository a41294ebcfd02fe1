"""`EventsClient`: PagerDuty's Events API v2 (alert events and change events).

Alert events are deduplicated by `dedup_key`, so sending one twice is harmless: 429, 5xx and network
failures are retried with the same caps as the REST client (change events, which have no key, only 429s).
A trigger without a key gets one generated here, which keeps even its retries from opening a second
alert. A 400 is never retried.
Malformed routing keys and actions are refused before anything is sent. The routing key lets whoever
holds it open incidents, so it is scrubbed from every error this client raises.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import httpx

from .client import USER_AGENT, Monotonic, Progress, RetryingHttp, Sleep, format_time, resolve_settings
from .errors import InvalidInput
from .settings import PagerDutySettings

ROUTING_KEY_LENGTH = 32
MAX_DEDUP_KEY = 255
MAX_SUMMARY = 1024
Severity = Literal["critical", "error", "warning", "info"]
SEVERITIES: tuple[str, ...] = ("critical", "error", "warning", "info")
ENQUEUE = "/v2/enqueue"
CHANGE_ENQUEUE = "/v2/change/enqueue"


@dataclass(frozen=True)
class EventResult:
    """PagerDuty's 202 answer; `dedup_key` names the alert (None for change events)."""

    status: str
    message: str
    dedup_key: str | None


class EventsClient:
    """Sends events to an Events API v2 integration, identified by its 32-character routing key."""

    def __init__(self, settings: PagerDutySettings | None = None, *, host: str | None = None,
                 transport: httpx.BaseTransport | None = None, sleep: Sleep = time.sleep,
                 monotonic: Monotonic = time.monotonic, progress: Progress | None = None,
                 rng: random.Random | None = None) -> None:
        self.settings = resolve_settings(settings, events_host=host)
        self._http = RetryingHttp(
            base_url=self.settings.events_host, headers={"Accept": "application/json", "User-Agent": USER_AGENT},
            timeout=self.settings.timeout, max_attempts=self.settings.max_attempts,
            max_wait=self.settings.max_wait, transport=transport, sleep=sleep, monotonic=monotonic, progress=progress,
            rng=rng or random.Random(), pacer=None)

    def __repr__(self) -> str:
        return f"EventsClient(host={self.settings.events_host!r})"

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> EventsClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def trigger(self, routing_key: str, *, summary: str, source: str, severity: Severity,
                dedup_key: str | None = None, component: str | None = None, group: str | None = None,
                event_class: str | None = None, custom_details: Mapping[str, Any] | None = None,
                timestamp: datetime | None = None, links: list[dict] | None = None,
                images: list[dict] | None = None) -> EventResult:
        """Open an alert, or add to the open alert with this `dedup_key` on this integration."""
        if severity not in SEVERITIES:
            raise self._refused(f"severity must be one of {', '.join(SEVERITIES)}, got {severity!r}")
        if not summary.strip() or len(summary) > MAX_SUMMARY:
            raise self._refused(f"summary must be 1 to {MAX_SUMMARY} characters")
        payload = {"summary": summary, "source": source, "severity": severity, "component": component,
                   "group": group, "class": event_class, "custom_details": custom_details,
                   "timestamp": None if timestamp is None else format_time(timestamp)}
        event = {"event_action": "trigger", "dedup_key": dedup_key or uuid.uuid4().hex,
                 "payload": {k: v for k, v in payload.items() if v is not None}, "links": links, "images": images}
        return self._send(ENQUEUE, routing_key, event)

    def acknowledge(self, routing_key: str, dedup_key: str) -> EventResult:
        return self._send(ENQUEUE, routing_key, {"event_action": "acknowledge", "dedup_key": dedup_key})

    def resolve(self, routing_key: str, dedup_key: str) -> EventResult:
        return self._send(ENQUEUE, routing_key, {"event_action": "resolve", "dedup_key": dedup_key})

    def change(self, routing_key: str, *, summary: str, source: str | None = None,
               timestamp: datetime | None = None, custom_details: Mapping[str, Any] | None = None,
               links: list[dict] | None = None) -> EventResult:
        """Record a change (a deploy, a config push) on the integration's service; it pages nobody."""
        if not summary.strip() or len(summary) > MAX_SUMMARY:
            raise self._refused(f"summary must be 1 to {MAX_SUMMARY} characters", CHANGE_ENQUEUE)
        payload = {"summary": summary, "source": source, "custom_details": custom_details,
                   "timestamp": None if timestamp is None else format_time(timestamp)}
        event = {"payload": {k: v for k, v in payload.items() if v is not None}, "links": links}
        return self._send(CHANGE_ENQUEUE, routing_key, event, retry_failures=False)

    def _send(self, path: str, routing_key: str, event: dict[str, Any], retry_failures: bool = True) -> EventResult:
        """Alert events retry on 5xx and network errors (their dedup key makes a repeat harmless); change
        events have no key, so their caller decides whether a lost answer means sending again."""
        if not isinstance(routing_key, str) or len(routing_key.strip()) != ROUTING_KEY_LENGTH:
            length = len(routing_key) if isinstance(routing_key, str) else 0
            raise self._refused(f"the routing key must be the {ROUTING_KEY_LENGTH}-character Integration Key of an "
                                f"Events API v2 integration (this one has {length} characters)", path)
        dedup_key = event.get("dedup_key")
        if "dedup_key" in event and (not dedup_key or len(dedup_key) > MAX_DEDUP_KEY):
            raise self._refused(f"dedup_key must be 1 to {MAX_DEDUP_KEY} characters", path)
        key = routing_key.strip()
        body = {"routing_key": key, **{k: v for k, v in event.items() if v is not None}}
        answer = self._http.request("POST", path, json=body, retry_failures=retry_failures, secrets=(key,)) or {}
        return EventResult(status=str(answer.get("status", "")), message=str(answer.get("message", "")),
                           dedup_key=answer.get("dedup_key"))

    @staticmethod
    def _refused(reason: str, path: str = ENQUEUE) -> InvalidInput:
        return InvalidInput(f"Event not sent: {reason}", method="POST", path=path)
