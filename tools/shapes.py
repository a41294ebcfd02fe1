"""The compact JSON the tools answer with: the fields an incident commander needs, nothing more.

PagerDuty's objects are long; the model reads every character of a tool's answer, so each shape keeps
ids, names, status, people, times (always explicit UTC) and links, and drops empty fields.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from tools.client import PageResult
from tools.timeparse import iso

NARROW = "narrow with statuses, service, since/until, or raise limit"


def listed(root: str, page: PageResult, shape: Callable[[dict], dict], hint: str = "narrow the search") -> dict:
    out: dict[str, Any] = {root: [shape(item) for item in page.items]}
    if page.truncated:
        out["notice"] = f"truncated: showing {len(page.items)} of more; {hint}"
    return out


def compact(data: dict) -> dict:
    return {k: v for k, v in data.items() if v not in (None, "", [], {})}


def name_of(obj: Any) -> str | None:
    return (obj.get("name") or obj.get("summary")) if isinstance(obj, dict) else None


def names(objs: Iterable[Any]) -> list[str]:
    """Each name once, in order; what has no name is left out."""
    return list(dict.fromkeys(name for name in map(name_of, objs) if name))


def brief(obj: Any) -> dict | None:
    return {"id": obj["id"], "name": name_of(obj)} if isinstance(obj, dict) and obj.get("id") else None


def named(obj: dict) -> dict:
    return compact({"id": obj["id"], "name": name_of(obj), "description": obj.get("description")})


def person(obj: Any) -> dict | None:
    short = brief(obj)
    return compact(short | {"email": obj.get("email")}) if short else None


def reference(entry: dict, kind: str) -> dict:
    return {"id": entry["id"], "type": f"{kind}_reference"}


def parsed(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None


def moment(value: str) -> datetime:
    """A time PagerDuty always sends (an incident's `created_at`, an override's `start`)."""
    return datetime.fromisoformat(value)


def utc(value: Any) -> str | None:
    """PagerDuty's times (in whatever zone was asked) as explicit UTC."""
    moment = parsed(value)
    return iso(moment) if moment else None


def created(item: dict) -> datetime:
    return parsed(item.get("created_at")) or datetime.min.replace(tzinfo=UTC)


def span_of(since: datetime, until: datetime) -> dict:
    return {"since": iso(since), "until": iso(until)}


def incident(i: dict, detail: bool = False) -> dict:
    out = {"id": i.get("id"), "number": i.get("incident_number"), "title": i.get("title"), "status": i.get("status"),
           "urgency": i.get("urgency"), "priority": name_of(i.get("priority")), "service": brief(i.get("service")),
           "assignees": [brief(x.get("assignee")) for x in i.get("assignments") or []],
           "created_at": utc(i.get("created_at")), "resolved_at": utc(i.get("resolved_at")),
           "html_url": i.get("html_url")}
    if detail:
        out |= {"escalation_policy": brief(i.get("escalation_policy")),
                "acknowledged_by": [{"name": name_of(x.get("acknowledger")), "at": utc(x.get("at"))}
                                    for x in i.get("acknowledgements") or []],
                "last_change": compact({"at": utc(i.get("last_status_change_at")),
                                         "by": name_of(i.get("last_status_change_by"))}),
                "alerts": i.get("alert_counts"), "incident_key": i.get("incident_key"),
                "details": (i.get("body") or {}).get("details"),
                "responders": [name_of(r.get("user")) for r in i.get("incidents_responders") or []]}
    return compact(out)


def service(svc: dict, detail: bool = False) -> dict:
    out = {"id": svc["id"], "name": name_of(svc), "status": svc.get("status"),
           "escalation_policy": brief(svc.get("escalation_policy")),
           "teams": [name_of(t) for t in svc.get("teams") or []], "html_url": svc.get("html_url")}
    if detail:
        out |= {"description": svc.get("description"), "acknowledgement_timeout": svc.get("acknowledgement_timeout"),
                "auto_resolve_timeout": svc.get("auto_resolve_timeout"),
                "last_incident": utc(svc.get("last_incident_timestamp")),
                "integrations": [name_of(x) for x in svc.get("integrations") or []]}
    return compact(out)


def user(u: dict) -> dict:
    return compact({"id": u["id"], "name": name_of(u), "email": u.get("email"), "role": u.get("role"),
                     "job_title": u.get("job_title"), "time_zone": u.get("time_zone"),
                     "teams": [name_of(t) for t in u.get("teams") or []]})


def policy(p: dict, detail: bool = False) -> dict:
    out = {"id": p["id"], "name": name_of(p), "teams": [name_of(t) for t in p.get("teams") or []],
           "services": [name_of(x) for x in p.get("services") or []], "html_url": p.get("html_url")}
    levels = [{"level": n, "escalate_after_minutes": rule.get("escalation_delay_in_minutes"),
               "targets": [{"type": (t.get("type") or "").removesuffix("_reference"), "id": t.get("id"),
                            "name": name_of(t)} for t in rule.get("targets") or []]}
              for n, rule in enumerate(p.get("escalation_rules") or [], start=1)]
    if detail:
        out |= {"description": p.get("description"), "repeats": p.get("num_loops"), "levels": levels}
    else:
        out["levels"] = len(levels)
    return compact(out)


def schedule(sch: dict) -> dict:
    return compact({"id": sch["id"], "name": name_of(sch), "time_zone": sch.get("time_zone"),
                     "description": sch.get("description"), "teams": [name_of(t) for t in sch.get("teams") or []],
                     "escalation_policies": [name_of(p) for p in sch.get("escalation_policies") or []],
                     "html_url": sch.get("html_url")})


def oncall(o: dict) -> dict:
    return compact({"level": o.get("escalation_level"), "user": person(o.get("user")),
                     "schedule": brief(o.get("schedule")), "escalation_policy": brief(o.get("escalation_policy")),
                     "start": utc(o.get("start")), "end": utc(o.get("end"))})


def shift(entry: dict) -> dict:
    return compact({"user": brief(entry.get("user")), "start": utc(entry.get("start")),
                     "end": utc(entry.get("end"))})


def rendered(found: dict, part: str) -> list[dict]:
    return [shift(e) for e in (found.get(part) or {}).get("rendered_schedule_entries") or []]


def override(o: dict) -> dict:
    return {"id": o.get("id")} | shift(o)


def note(n: dict) -> dict:
    return compact({"id": n.get("id"), "at": utc(n.get("created_at")), "user": name_of(n.get("user")),
                     "content": n.get("content")})


def notified(e: dict) -> dict:
    """Who a `notify_log_entry` says was notified, and when."""
    return compact({"at": utc(e.get("created_at")), "user": name_of(e.get("user")) or e.get("summary")})


def alert(al: dict) -> dict:
    return compact({"id": al.get("id"), "status": al.get("status"), "severity": al.get("severity"),
                     "summary": al.get("summary"), "alert_key": al.get("alert_key"),
                     "created_at": utc(al.get("created_at"))})


def log_entry(e: dict) -> dict:
    return compact({"at": utc(e.get("created_at")), "type": (e.get("type") or "").removesuffix("_log_entry"),
                     "summary": e.get("summary"), "by": name_of(e.get("agent")), "note": e.get("note"),
                     "incident": name_of(e.get("incident"))})


def change(c: dict) -> dict:
    return compact({"at": utc(c.get("timestamp")), "summary": c.get("summary"), "source": c.get("source")})
