"""Copy a PagerDuty account into a dataset file the simulator serves: rehearse on your own organisation.

Reads only (a read-only key is enough): users, teams, priorities, schedules with their layers and
restrictions, escalation policies, services with their Events API integrations, overrides from `days` ago
to 90 days ahead, and optionally the incidents of the last `days` days with their log entries, notes and
alerts. It pages through every list and waits as long as PagerDuty's `ratelimit-reset` says on a 429.
With `anonymise`, people's names and emails become "User 01" / user01@example.invalid everywhere they
appear (titles, notes and log summaries included), the same person always the same pseudonym.
The new dataset gets fresh keys of its own; the key used to read is never written.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
import yaml
from pydantic import BaseModel

from .http import format_time
from .models import (
    Alert,
    Dataset,
    EscalationPolicy,
    Incident,
    LogEntry,
    Note,
    Override,
    Priority,
    Schedule,
    Service,
    Team,
    Token,
    User,
)

ACCEPT = "application/vnd.pagerduty+json;version=2"
PAGE = 100
MAX_WAITS = 20  # 429s in a row before giving up
OVERRIDES_AHEAD = timedelta(days=90)
INCIDENT_WINDOW = timedelta(days=180)  # /incidents takes at most six months at a time
LOG_AGENTS = ("user_reference", "service_reference", "integration_reference")


class ImportFailed(Exception):
    """The account could not be read; the message says why, without the key."""


class AccountReader:
    """GETs with PagerDuty's paging and rate limits; `sleep` is injectable so tests need not wait."""

    def __init__(self, client: httpx.Client, sleep: Callable[[float], None],
                 progress: Callable[[str], None] = lambda _: None) -> None:
        self.client, self.sleep, self.progress = client, sleep, progress
        self.requests = 0

    def get(self, path: str, params: dict | None = None) -> dict:
        for _ in range(MAX_WAITS):
            self.requests += 1
            try:
                response = self.client.get(path, params=params)
            except httpx.HTTPError as exc:
                raise ImportFailed(f"cannot reach PagerDuty at {self.client.base_url}: {exc}") from None
            if response.status_code == 429:
                wait = float(response.headers.get("ratelimit-reset") or 10)
                self.progress(f"rate limited by PagerDuty, waiting {wait:g} s")
                self.sleep(wait)
                continue
            if response.status_code in (401, 403):
                raise ImportFailed(f"PagerDuty refused the key for GET {path} ({response.status_code})")
            if response.is_error:
                raise ImportFailed(f"GET {path} answered {response.status_code}: {response.text[:200]}")
            return response.json()
        raise ImportFailed(f"GET {path} stayed rate limited after {MAX_WAITS} waits")

    def pages(self, path: str, root: str, params: dict | None = None) -> Iterator[dict]:
        """Every item of a classic-paginated list."""
        offset = 0
        while True:
            body = self.get(path, {**(params or {}), "limit": PAGE, "offset": offset})
            yield from body[root]
            if not body.get("more") or not body[root]:
                return
            offset += len(body[root])


def _ids(refs: list[dict] | None) -> list[str]:
    return [r["id"] for r in refs or []]


def _subdomain(html_url: str | None) -> str:
    host = urlparse(html_url or "").hostname or ""
    return host.split(".")[0] if host.endswith(".pagerduty.com") else "imported"


def read_account(reader: AccountReader, now: datetime, days: int = 0) -> dict:
    """The account as dataset data (plain JSON), ids kept as PagerDuty has them; with `days`, the incidents
    created in the last `days` days too."""
    raw_users = list(reader.pages("/users", "users"))
    users = [_user(u) for u in raw_users]
    reader.progress(f"{len(users)} users")
    teams = [{"id": t["id"], "name": t["name"], "description": t.get("description") or None}
             for t in reader.pages("/teams", "teams")]
    priorities = [{"id": p["id"], "name": p["name"], "description": p.get("description") or None}
                  for p in reader.pages("/priorities", "priorities")]
    schedules = [_schedule(reader.get(f"/schedules/{s['id']}", {"since": format_time(now), "until": format_time(now)})
                           ["schedule"]) for s in reader.pages("/schedules", "schedules")]
    reader.progress(f"{len(schedules)} schedules")
    policies = [_policy(p) for p in reader.pages("/escalation_policies", "escalation_policies")]
    services = [_service(s) for s in reader.pages("/services", "services", {"include[]": "integrations"})]
    since = now - timedelta(days=days)
    overrides = [_override(o, s["id"]) for s in schedules for o in reader.get(
        f"/schedules/{s['id']}/overrides",
        {"since": format_time(since), "until": format_time(now + OVERRIDES_AHEAD), "overflow": "true"})["overrides"]]
    data: dict[str, Any] = {
        "name": "Imported account", "subdomain": _subdomain(next(iter(raw_users), {}).get("html_url")),
        "users": users, "teams": teams, "priorities": priorities, "schedules": schedules,
        "escalation_policies": policies, "services": services, "overrides": overrides}
    if days > 0:
        data.update(_incidents(reader, since, now))
    return data


def _user(u: dict) -> dict:
    return {"id": u["id"], "name": u["name"], "email": u["email"], "time_zone": u.get("time_zone") or "UTC",
            "role": u.get("role") or "user", "job_title": u.get("job_title") or None, "team_ids": _ids(u.get("teams")),
            "color": u.get("color") or "green"}


def _schedule(s: dict) -> dict:
    layers = [{"id": layer["id"], "name": layer["name"], "start": layer["start"], "end": layer.get("end"),
               "rotation_virtual_start": layer["rotation_virtual_start"],
               "rotation_turn_length_seconds": layer["rotation_turn_length_seconds"],
               "user_ids": [u["user"]["id"] for u in layer["users"]],
               "restrictions": [{k: r[k] for k in ("type", "start_time_of_day", "duration_seconds", "start_day_of_week")
                                 if r.get(k) is not None} for r in layer.get("restrictions") or []]}
              for layer in reversed(s["schedule_layers"])]  # PagerDuty lists them highest first
    return {"id": s["id"], "name": s["name"], "description": s.get("description") or None,
            "time_zone": s["time_zone"], "layers": layers, "team_ids": _ids(s.get("teams"))}


def _policy(p: dict) -> dict:
    return {"id": p["id"], "name": p["name"], "description": p.get("description") or None,
            "num_loops": p.get("num_loops") or 0, "team_ids": _ids(p.get("teams")),
            "rules": [{"id": r["id"], "escalation_delay_in_minutes": r["escalation_delay_in_minutes"],
                       "targets": [{"type": "user_reference" if t["type"].startswith("user") else "schedule_reference",
                                    "id": t["id"]} for t in r["targets"]]} for r in p["escalation_rules"]]}


def _service(s: dict) -> dict:
    grouping = s.get("alert_grouping_parameters") or {}
    config = grouping.get("config") or {}
    urgency = (s.get("incident_urgency_rule") or {}).get("urgency")
    return {
        "id": s["id"], "name": s["name"], "description": s.get("description") or None,
        "escalation_policy_id": s["escalation_policy"]["id"], "team_ids": _ids(s.get("teams")),
        "integrations": [{"id": i["id"], "name": i.get("name") or i.get("summary") or "Events API v2",
                          "routing_key": i["integration_key"]} for i in s.get("integrations") or []
                         if i.get("type") == "events_api_v2_inbound_integration"
                         and re.fullmatch(r"[A-Za-z0-9]{32}", i.get("integration_key") or "")],
        "status": s["status"] if s.get("status") in ("maintenance", "disabled") else "active",
        "default_urgency": urgency if urgency in ("high", "low") else "high",
        "acknowledgement_timeout": s.get("acknowledgement_timeout"),
        "auto_resolve_timeout": s.get("auto_resolve_timeout"), "created_at": s.get("created_at"),
        "alert_grouping": {"type": grouping.get("type"), **config} if grouping.get("type") in ("time", "content_based")
        else {}}


def _override(o: dict, schedule_id: str) -> dict:
    return {"id": o["id"], "schedule_id": schedule_id, "user_id": o["user"]["id"], "start": o["start"],
            "end": o["end"]}


def _incidents(reader: AccountReader, since: datetime, until: datetime) -> dict:
    incidents, entries, notes, alerts = [], [], [], []
    low = since
    while low < until:
        high = min(low + INCIDENT_WINDOW, until + timedelta(seconds=1))
        for item in reader.pages("/incidents", "incidents", {"since": format_time(low), "until": format_time(high)}):
            incidents.append(_incident(reader.get(f"/incidents/{item['id']}")["incident"]))
            newest_first = list(reader.pages(f"/incidents/{item['id']}/log_entries", "log_entries"))
            entries += [_log_entry(e, item["id"]) for e in reversed(newest_first)]
            notes += [_note(n, item["id"]) for n in reader.get(f"/incidents/{item['id']}/notes")["notes"]]
            alerts += [_alert(a) for a in reader.pages(f"/incidents/{item['id']}/alerts", "alerts")]
        low = high
        reader.progress(f"{len(incidents)} incidents")
    return {"incidents": incidents, "log_entries": entries, "notes": notes, "alerts": alerts}


def _incident(i: dict) -> dict:
    changer = i.get("last_status_change_by") or {}
    resolve_reason = i.get("resolve_reason") or {}
    return {
        "id": i["id"], "number": i["incident_number"], "title": i["title"], "service_id": i["service"]["id"],
        "escalation_policy_id": i["escalation_policy"]["id"], "status": i["status"], "urgency": i["urgency"],
        "priority_id": (i.get("priority") or {}).get("id"), "incident_key": i.get("incident_key") or i["id"],
        "created_at": i["created_at"], "updated_at": i.get("updated_at") or i["created_at"],
        "last_status_change_at": i.get("last_status_change_at") or i["created_at"],
        "last_status_change_by": changer.get("id") if changer.get("type", "").startswith("user") else None,
        "resolved_at": i.get("resolved_at"),
        "assignments": [{"user_id": a["assignee"]["id"], "at": a["at"]} for a in i.get("assignments") or []],
        "assigned_via": i.get("assigned_via") if i.get("assigned_via") == "direct_assignment" else "escalation_policy",
        "acknowledger_ids": [a["acknowledger"]["id"] for a in i.get("acknowledgements") or []],
        "team_ids": _ids(i.get("teams")),
        "body_details": (i.get("body") or {}).get("details"),
        "snoozed_until": next((p["at"] for p in i.get("pending_actions") or [] if p.get("type") == "unacknowledge"
                               and i["status"] == "acknowledged"), None),
        "merged_into": (resolve_reason.get("incident") or {}).get("id"),
    }


def _log_entry(e: dict, incident_id: str) -> dict:
    agent = e.get("agent") or {}
    agent_type = agent.get("type") if agent.get("type") in LOG_AGENTS else (
        "user_reference" if agent.get("type") == "user" else "service_reference" if agent else None)
    user = e.get("user") or next(iter(e.get("assignees") or []), None) or {}
    return {"id": e["id"], "type": e["type"], "incident_id": incident_id, "service_id": e["service"]["id"],
            "created_at": e["created_at"], "agent_type": agent_type, "agent_id": agent.get("id"),
            "channel": (e.get("channel") or {}).get("type") or "api", "summary": e.get("summary") or "",
            "note": e.get("note"), "user_id": user.get("id"), "team_ids": _ids(e.get("teams"))}


def _note(n: dict, incident_id: str) -> dict:
    user = n.get("user") or {}
    return {"id": n["id"], "incident_id": incident_id, "content": n["content"], "created_at": n["created_at"],
            "user_id": user["id"] if user.get("type", "").startswith("user") else None}


def _alert(a: dict) -> dict:
    details = (a.get("body") or {}).get("details")
    return {"id": a["id"], "incident_id": a["incident"]["id"], "service_id": a["service"]["id"],
            "alert_key": a.get("alert_key") or a["id"], "summary": a.get("summary") or "",
            "severity": a.get("severity") if a.get("severity") in ("critical", "error", "warning", "info") else "error",
            "status": a["status"], "created_at": a["created_at"],
            "custom_details": details if isinstance(details, dict) and details else None}


def anonymise(data: dict) -> dict:
    """People's names and emails replaced everywhere by pseudonyms, numbered in the order of user ids."""
    users = sorted(data["users"], key=lambda u: u["id"])
    swaps: dict[str, str] = {}
    for n, user in enumerate(users, start=1):
        swaps[user["name"]] = f"User {n:02d}"
        swaps[user["email"]] = f"user{n:02d}@example.invalid"
    if not swaps:
        return data
    pattern = re.compile("|".join(re.escape(k) for k in sorted(swaps, key=len, reverse=True)))

    def clean(value: Any) -> Any:
        if isinstance(value, str):
            return pattern.sub(lambda m: swaps[m.group(0)], value)
        if isinstance(value, list):
            return [clean(v) for v in value]
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        return value

    return clean(data)


def write_dataset(dataset: Dataset, path: Path) -> None:
    """The dataset as YAML, written whole or not at all."""
    text = yaml.safe_dump(dataset.model_dump(mode="json", exclude_defaults=True), sort_keys=False, allow_unicode=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def build_dataset(data: dict) -> Dataset:
    """A dataset from what `read_account` read, with fresh keys: a full and a read-only account key."""
    tokens = [Token(token=secrets.token_urlsafe(15)[:20]),
              Token(token=secrets.token_urlsafe(15)[:20], access="read-only")]
    typed: dict[str, type[BaseModel]] = {"users": User, "teams": Team, "priorities": Priority, "schedules": Schedule,
             "escalation_policies": EscalationPolicy, "services": Service, "overrides": Override,
             "incidents": Incident, "log_entries": LogEntry, "notes": Note, "alerts": Alert}
    records = {key: [model.model_validate(item) for item in data.get(key, [])] for key, model in typed.items()}
    return Dataset(name=data["name"], subdomain=data["subdomain"], tokens=tokens, **records)

