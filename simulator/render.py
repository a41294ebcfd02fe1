"""PagerDuty's JSON shapes for references: `{id, type, summary, self, html_url}`."""

from __future__ import annotations

API_BASE = "https://api.pagerduty.com"

# reference type -> (API collection path, web path on the account's subdomain)
_PATHS = {
    "user_reference": ("users", "users"),
    "team_reference": ("teams", "teams"),
    "service_reference": ("services", "service-directory"),
    "escalation_policy_reference": ("escalation_policies", "escalation_policies"),
    "schedule_reference": ("schedules", "schedules"),
    "priority_reference": ("priorities", None),
    "incident_reference": ("incidents", "incidents"),
    "log_entry_reference": ("log_entries", None),
    "alert_reference": ("alerts", None),
    "integration_reference": ("integrations", None),
    "override_reference": ("overrides", None),
}


def api_url(kind: str, id_: str) -> str:
    return f"{API_BASE}/{_PATHS[kind][0]}/{id_}"


def html_url(subdomain: str, kind: str, id_: str) -> str | None:
    web = _PATHS[kind][1]
    return f"https://{subdomain}.pagerduty.com/{web}/{id_}" if web else None


def ref(subdomain: str, kind: str, id_: str, summary: str | None) -> dict:
    """A reference object as PagerDuty embeds it in other objects."""
    return {"id": id_, "type": kind, "summary": summary, "self": api_url(kind, id_),
            "html_url": html_url(subdomain, kind, id_)}


def entity(subdomain: str, kind: str, id_: str, summary: str | None, **fields) -> dict:
    """A full object: its reference fields with `type` minus `_reference`, plus its own fields."""
    base = ref(subdomain, kind, id_, summary)
    base["type"] = kind.removesuffix("_reference")
    base.update(fields)
    return base
