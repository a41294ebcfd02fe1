"""Argument schemas of the tools the planner sees: flat, typed, and hard to get wrong.

The model never builds PagerDuty's nested reference objects; it passes ids (or names, which the
tools resolve). Field descriptions here are what the model reads, so they are short and concrete.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

ARTIFACT_IDS = {"", "null", "none", "undefined", "nil", "n/a", "id", "<id>", "unknown"}


class ToolArgs(BaseModel):
    """Base for every tool's arguments: unknown fields are refused so a typo is reported, not ignored."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def refuse_artifact(value: str | None) -> str | None:
    """Reject the placeholder ids models produce (`""`, `null`, `undefined`, quotes) before any request."""
    if value is None:
        return None
    cleaned = value.strip().strip("'\"`").replace("\u200b", "").strip()
    if cleaned.lower() in ARTIFACT_IDS:
        raise ValueError(f"{value!r} is a placeholder, not an id or name; look the real one up first")
    return cleaned


def refuse_artifacts(values: list[str] | None) -> list[str] | None:
    return None if values is None else [refuse_artifact(v) for v in values]  # type: ignore[misc]


Ref = str  # an id, or a name/email the tool resolves to one
TimeText = str  # ISO 8601, or "now", "-24h", "+8h", "tomorrow 09:00"


# --- reads ---------------------------------------------------------------------------------------

class FindServices(ToolArgs):
    query: str | None = Field(None, description="Part of the service name; omit to list all.")
    team: Ref | None = Field(None, description="Only services of this team (id or name).")


class GetService(ToolArgs):
    service: Ref = Field(description="Service id or name.")
    _v = field_validator("service")(refuse_artifact)


class WhoIsOnCall(ToolArgs):
    service: Ref | None = Field(None, description="Service id or name: who gets paged for it.")
    escalation_policy: Ref | None = Field(None, description="Escalation policy id or name.")
    schedule: Ref | None = Field(None, description="Schedule id or name.")
    team: Ref | None = Field(None, description="Team id or name.")
    user: Ref | None = Field(None, description="User id, email or name: when are they on call.")
    at: TimeText | None = Field(None, description="When to look (default now), e.g. 'tomorrow 09:00'.")
    time_zone: str | None = Field(None, description="IANA zone for relative times, e.g. Europe/Berlin.")
    _v = field_validator("service", "escalation_policy", "schedule", "team", "user")(refuse_artifact)


class ListIncidents(ToolArgs):
    statuses: list[Literal["triggered", "acknowledged", "resolved"]] | None = Field(
        None, description="Default: triggered and acknowledged (open).")
    service: Ref | None = Field(None, description="Service id or name.")
    team: Ref | None = None
    assigned_to: Ref | None = Field(None, description="User id, email or name.")
    urgency: Literal["high", "low"] | None = None
    since: TimeText | None = Field(None, description="Start of the window (default 30 days ago).")
    until: TimeText | None = None
    limit: int = Field(25, ge=1, le=200, description="Most incidents to return.")
    _v = field_validator("service", "team", "assigned_to")(refuse_artifact)


class IncidentRef(ToolArgs):
    incident: Ref = Field(description="Incident id (e.g. Q1ABC23) or number (e.g. 1234).")
    _v = field_validator("incident")(refuse_artifact)


class GetIncident(IncidentRef):
    full: bool = Field(False, description="Return the whole PagerDuty object instead of the summary.")


class ListLogEntries(ToolArgs):
    incident: Ref | None = Field(None, description="Only this incident's entries (id or number).")
    since: TimeText | None = Field(None, description="Default 24 hours ago.")
    until: TimeText | None = None
    limit: int = Field(50, ge=1, le=500)
    _v = field_validator("incident")(refuse_artifact)


class ListSchedules(ToolArgs):
    query: str | None = None


class GetSchedule(ToolArgs):
    schedule: Ref = Field(description="Schedule id or name.")
    since: TimeText | None = Field(None, description="Default now.")
    until: TimeText | None = Field(None, description="Default 7 days after since.")
    _v = field_validator("schedule")(refuse_artifact)


class ListOverrides(GetSchedule):
    pass


class FindUsers(ToolArgs):
    query: str | None = Field(None, description="Part of a name or email.")
    team: Ref | None = None


class ListEscalationPolicies(ToolArgs):
    query: str | None = None
    team: Ref | None = None


class GetEscalationPolicy(ToolArgs):
    escalation_policy: Ref = Field(description="Escalation policy id or name.")
    _v = field_validator("escalation_policy")(refuse_artifact)


class NoArgs(ToolArgs):
    pass


class SimilarIncidents(IncidentRef):
    limit: int = Field(5, ge=1, le=20)


# --- writes --------------------------------------------------------------------------------------

class CreateIncident(ToolArgs):
    service: Ref = Field(description="Service id or name the incident is on.")
    title: str = Field(min_length=3, max_length=255, description="Short, specific title.")
    urgency: Literal["high", "low"] = "high"
    assignee: Ref | None = Field(None, description="User id, email or name to assign; omit to page the "
                                                   "service's escalation policy.")
    escalation_policy: Ref | None = Field(None, description="Page this escalation policy instead of the service's.")
    priority: str | None = Field(None, description="Priority name or id, e.g. P1.")
    details: str | None = Field(None, max_length=10_000, description="Body text: what is happening, links.")
    _v = field_validator("service", "assignee", "escalation_policy", "priority")(refuse_artifact)


class UpdateIncident(IncidentRef):
    action: Literal["acknowledge", "resolve", "reopen", "escalate", "reassign", "set_urgency",
                    "set_priority", "set_title"]
    resolution: str | None = Field(None, description="With resolve: what fixed it (becomes a note).")
    escalation_level: int | None = Field(None, ge=1, description="With escalate: the level (default next).")
    assignee: Ref | None = Field(None, description="With reassign: user id, email or name.")
    escalation_policy: Ref | None = Field(None, description="With reassign: page this policy instead.")
    urgency: Literal["high", "low"] | None = None
    priority: str | None = None
    title: str | None = Field(None, max_length=255)
    _v2 = field_validator("assignee", "escalation_policy", "priority")(refuse_artifact)


class ManageIncidents(ToolArgs):
    incidents: list[Ref] = Field(min_length=1, max_length=250, description="Incident ids or numbers.")
    action: Literal["acknowledge", "resolve"]
    resolution: str | None = None
    _v = field_validator("incidents")(refuse_artifacts)


class AddNote(IncidentRef):
    content: str = Field(min_length=1, max_length=25_000)


class AddResponders(IncidentRef):
    responders: list[Ref] = Field(min_length=1, description="User ids/emails/names or escalation policy ids/names.")
    message: str = Field("Please join this incident.", max_length=1000)
    _v2 = field_validator("responders")(refuse_artifacts)


class SnoozeIncident(IncidentRef):
    duration: str = Field(description="How long, e.g. '30m', '2h', or seconds.")


class MergeIncidents(ToolArgs):
    target: Ref = Field(description="The incident to keep (id or number).")
    sources: list[Ref] = Field(min_length=1, description="Incidents merged into the target and resolved.")
    _v = field_validator("target")(refuse_artifact)
    _v2 = field_validator("sources")(refuse_artifacts)


class CreateOverride(ToolArgs):
    schedule: Ref = Field(description="Schedule id or name.")
    user: Ref = Field(description="Who covers: user id, email or name.")
    start: TimeText = Field("now", description="When cover starts (default now).")
    end: TimeText = Field(description="When cover ends, e.g. '+8h' or 'tomorrow 09:00'.")
    time_zone: str | None = Field(None, description="IANA zone for relative times.")
    _v = field_validator("schedule", "user")(refuse_artifact)


class DeleteOverride(ToolArgs):
    schedule: Ref = Field(description="Schedule id or name.")
    override_id: str
    _v = field_validator("schedule", "override_id")(refuse_artifact)


class SendEvent(ToolArgs):
    routing_key: str | None = Field(None, description="Integration key; omit and give service to use its key.")
    service: Ref | None = None
    action: Literal["trigger", "acknowledge", "resolve"] = "trigger"
    summary: str | None = Field(None, max_length=1024, description="Required to trigger.")
    source: str | None = Field(None, description="Affected host or component; required to trigger.")
    severity: Literal["critical", "error", "warning", "info"] = "error"
    dedup_key: str | None = Field(None, max_length=255, description="Required to acknowledge or resolve.")
    _v = field_validator("service", "routing_key")(refuse_artifact)


class SendChangeEvent(ToolArgs):
    routing_key: str | None = None
    service: Ref | None = None
    summary: str = Field(max_length=1024)
    source: str | None = None
    _v = field_validator("service", "routing_key")(refuse_artifact)


TOOL_ARGS: dict[str, type[ToolArgs]] = {
    "find_services": FindServices,
    "get_service": GetService,
    "who_is_on_call": WhoIsOnCall,
    "list_incidents": ListIncidents,
    "get_incident": GetIncident,
    "list_incident_notes": IncidentRef,
    "incident_timeline": IncidentRef,
    "list_log_entries": ListLogEntries,
    "list_incident_alerts": IncidentRef,
    "list_schedules": ListSchedules,
    "get_schedule": GetSchedule,
    "list_overrides": ListOverrides,
    "find_users": FindUsers,
    "list_escalation_policies": ListEscalationPolicies,
    "get_escalation_policy": GetEscalationPolicy,
    "list_teams": NoArgs,
    "list_priorities": NoArgs,
    "similar_incidents": SimilarIncidents,
    "create_incident": CreateIncident,
    "update_incident": UpdateIncident,
    "manage_incidents": ManageIncidents,
    "add_note": AddNote,
    "add_responders": AddResponders,
    "snooze_incident": SnoozeIncident,
    "merge_incidents": MergeIncidents,
    "create_override": CreateOverride,
    "delete_override": DeleteOverride,
    "send_event": SendEvent,
    "send_change_event": SendChangeEvent,
}
