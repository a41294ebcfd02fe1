"""Argument schemas of the tools the planner sees: flat, typed, and hard to get wrong.

The model never builds PagerDuty's nested reference objects; it passes ids (or names, which the
tools resolve). Field descriptions here are what the model reads, so they are short and concrete.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from tools.timeparse import parse_duration

ARTIFACT_IDS = {"", "null", "none", "undefined", "nil", "n/a", "id", "<id>", "unknown"}


MAX_INTEGER = 2**31 - 1  # PagerDuty's integer fields (levels, limits, seconds) are 32-bit
MAX_DEPTH = 6  # tool arguments are flat: a list of ids, or a reference object, is as deep as they go
MAX_ARGUMENTS_SIZE = 64_000  # characters of text in all arguments together; the longest field is 25,000


def beyond_limits(arguments: Any) -> str | None:
    """Why `arguments` exceed anything PagerDuty accepts (integers, nesting, size), or None.

    Checked before a call is stored or run: such values can never succeed, and some (integers past 64
    bits, deep nesting) cannot even be written to a checkpoint, which would leave the thread unusable.
    """
    size = 0
    pending: list[tuple[Any, int]] = [(arguments, 1)]
    while pending:
        value, depth = pending.pop()
        if depth > MAX_DEPTH:
            return f"arguments are nested more than {MAX_DEPTH} levels deep"
        if isinstance(value, bool) or value is None:
            continue
        if isinstance(value, int) and abs(value) > MAX_INTEGER:
            return f"integers must be between -{MAX_INTEGER} and {MAX_INTEGER}"
        if isinstance(value, str):
            size += len(value)
        elif isinstance(value, dict):
            size += sum(len(str(k)) for k in value)
            pending += [(v, depth + 1) for v in value.values()]
        elif isinstance(value, list | tuple):
            pending += [(v, depth + 1) for v in value]
        if size > MAX_ARGUMENTS_SIZE:
            return f"arguments are longer than {MAX_ARGUMENTS_SIZE:,} characters in all"
    return None


class ToolArgs(BaseModel):
    """Base for every tool's arguments: unknown fields are refused so a typo is reported, not ignored,
    and values beyond what PagerDuty accepts are refused before they go anywhere."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @model_validator(mode="before")
    @classmethod
    def _within_limits(cls, data: Any) -> Any:
        if (problem := beyond_limits(data)) is not None:
            raise ValueError(problem)
        return data


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


_PATH_ID = re.compile(r"#?[A-Za-z0-9]{1,32}")


def path_id(value: str | None) -> str | None:
    """An incident id or number, or an override id: these go into URL paths, so only letters and digits."""
    cleaned = refuse_artifact(value)
    if cleaned is not None and not _PATH_ID.fullmatch(cleaned):
        raise ValueError(f"{value!r} is not an id (like Q1ABC23) or an incident number (like 1234)")
    return cleaned


def path_ids(values: list[str] | None) -> list[str] | None:
    return None if values is None else [path_id(v) for v in values]  # type: ignore[misc]


class _NoNull:
    """Drop the `null` branch from an optional field's JSON schema.

    Leaving a field out already means "default"; offering `null` as well costs about 40 characters
    per field in every request to the model (the toolset must stay under its size budget) and
    invites the literal nulls models like to send. Validation still accepts None.
    """

    def __get_pydantic_json_schema__(self, core_schema: Any, handler: Any) -> dict[str, Any]:
        schema = handler(core_schema)
        branches = [s for s in schema.get("anyOf", ()) if s != {"type": "null"}]
        if "anyOf" in schema and len(branches) == 1:
            return {**branches[0], **{k: v for k, v in schema.items() if k != "anyOf"}}
        return schema


T = TypeVar("T")
Maybe = Annotated[T | None, _NoNull()]  # an optional argument, shown to the model without `null`
REFERENCE_KEYS = ("id", "email", "name", "summary")


def unwrap_reference(value: Any) -> Any:
    """Accept the PagerDuty reference object a model builds anyway (`{"id": "P1", "type": …}`) as its id.

    Models trained on PagerDuty's API wrap ids out of habit; the tool builds references itself, so
    the id (or else the email or name it carries) is all that is needed. Anything else that is not a
    string is refused with the shape to use instead.
    """
    if not isinstance(value, dict):
        return value
    for key in REFERENCE_KEYS:
        if isinstance(value.get(key), str | int) and not isinstance(value.get(key), bool):
            return str(value[key])
    raise ValueError('pass the id (or name) as a plain string such as "P1ABC23"; the tool builds references')


Ref = Annotated[str, BeforeValidator(unwrap_reference)]  # an id, or a name/email the tool resolves to one
TimeText = str  # ISO 8601, or "now", "-24h", "+8h", "tomorrow 09:00"


# --- reads ---------------------------------------------------------------------------------------

class FindServices(ToolArgs):
    query: Maybe[str] = Field(None, description="Part of the service name; omit to list all.")
    team: Maybe[Ref] = Field(None, description="Only services of this team (id or name).")


class GetService(ToolArgs):
    service: Ref = Field(description="Service id or name.")
    _v = field_validator("service")(refuse_artifact)


class WhoIsOnCall(ToolArgs):
    service: Maybe[Ref] = Field(None, description="Service id or name: who gets paged for it.")
    escalation_policy: Maybe[Ref] = Field(None, description="Escalation policy id or name.")
    schedule: Maybe[Ref] = Field(None, description="Schedule id or name.")
    team: Maybe[Ref] = Field(None, description="Team id or name.")
    user: Maybe[Ref] = Field(None, description="User id, email or name: when are they on call.")
    at: Maybe[TimeText] = Field(None, description="When to look (default now), e.g. 'tomorrow 09:00'.")
    time_zone: Maybe[str] = Field(None, description="IANA zone for relative times, e.g. Europe/Berlin.")
    _v = field_validator("service", "escalation_policy", "schedule", "team", "user")(refuse_artifact)


class ListIncidents(ToolArgs):
    statuses: Maybe[list[Literal["triggered", "acknowledged", "resolved"]]] = Field(
        None, description="Default: triggered and acknowledged (open).")
    service: Maybe[Ref] = Field(None, description="Service id or name.")
    team: Maybe[Ref] = None
    assigned_to: Maybe[Ref] = Field(None, description="User id, email or name; for 'my incidents', the asker's email.")
    urgency: Maybe[Literal["high", "low"]] = None
    since: Maybe[TimeText] = Field(None, description="Window start (default 30 days ago; open incidents: any age).")
    until: Maybe[TimeText] = None
    limit: int = Field(25, ge=1, le=200, description="Most incidents to return.")
    _v = field_validator("service", "team", "assigned_to")(refuse_artifact)


class IncidentRef(ToolArgs):
    incident: Ref = Field(description="Incident number (e.g. 1234) or id.")
    _v = field_validator("incident")(path_id)


class GetIncident(IncidentRef):
    full: bool = Field(False, description="Return the whole PagerDuty object instead of the summary.")


class ListLogEntries(ToolArgs):
    incident: Maybe[Ref] = Field(None, description="Only this incident's entries (id or number).")
    since: Maybe[TimeText] = Field(None, description="Default 24 hours ago.")
    until: Maybe[TimeText] = None
    limit: int = Field(50, ge=1, le=500)
    _v = field_validator("incident")(path_id)


class ListSchedules(ToolArgs):
    query: Maybe[str] = None


class GetSchedule(ToolArgs):
    schedule: Ref = Field(description="Schedule id or name.")
    since: Maybe[TimeText] = Field(None, description="Default now.")
    until: Maybe[TimeText] = Field(None, description="Default 7 days after since.")
    _v = field_validator("schedule")(refuse_artifact)


class ListOverrides(GetSchedule):
    pass


class FindUsers(ToolArgs):
    query: Maybe[str] = Field(None, description="Part of a name or email.")
    team: Maybe[Ref] = None


class ListEscalationPolicies(ToolArgs):
    query: Maybe[str] = None
    team: Maybe[Ref] = None


class GetEscalationPolicy(ToolArgs):
    escalation_policy: Ref = Field(description="Escalation policy id or name.")
    _v = field_validator("escalation_policy")(refuse_artifact)


class NoArgs(ToolArgs):
    pass


class SimilarIncidents(IncidentRef):
    limit: int = Field(5, ge=1, le=20)


# --- writes --------------------------------------------------------------------------------------

MAX_SNOOZE_SECONDS = 604_800
UPDATE_ACTION_FIELDS: dict[str, set[str]] = {
    "resolve": {"resolution"}, "escalate": {"escalation_level"}, "reassign": {"assignee", "escalation_policy"},
    "set_urgency": {"urgency"}, "set_priority": {"priority"}, "set_title": {"title"},
}
ACTION_FIELDS_ALL = set().union(*UPDATE_ACTION_FIELDS.values())


class CreateIncident(ToolArgs):
    service: Ref = Field(description="Service id or name the incident is on.")
    title: str = Field(min_length=3, max_length=255, description="Short, specific title.")
    urgency: Literal["high", "low"] = "high"
    assignee: Maybe[Ref] = Field(None, description="Only when the person names who to assign (user id, email "
                                                   "or name); leave out to page the service's on-call.")
    escalation_policy: Maybe[Ref] = Field(None, description="Page this escalation policy instead of the service's.")
    priority: Maybe[str] = Field(None, description="Priority name or id, e.g. P1.")
    details: Maybe[str] = Field(None, max_length=10_000, description="Body text: what is happening, links.")
    _v = field_validator("service", "assignee", "escalation_policy", "priority")(refuse_artifact)

    @model_validator(mode="after")
    def _one_target(self) -> CreateIncident:
        if self.assignee and self.escalation_policy:
            raise ValueError("give assignee or escalation_policy, not both (PagerDuty accepts one)")
        return self


class UpdateIncident(IncidentRef):
    action: Literal["acknowledge", "resolve", "reopen", "escalate", "reassign", "set_urgency",
                    "set_priority", "set_title"]
    resolution: Maybe[str] = Field(None, description="With resolve: what fixed it (becomes a note).")
    escalation_level: Maybe[int] = Field(None, ge=1, description="With escalate: the level (default next).")
    assignee: Maybe[Ref] = Field(None, description="With reassign: user id, email or name.")
    escalation_policy: Maybe[Ref] = Field(None, description="With reassign: page this policy instead.")
    urgency: Maybe[Literal["high", "low"]] = None
    priority: Maybe[str] = None
    title: Maybe[str] = Field(None, max_length=255)
    _v2 = field_validator("assignee", "escalation_policy", "priority")(refuse_artifact)

    @model_validator(mode="after")
    def _fits_action(self) -> UpdateIncident:
        """Each action takes its own fields; a field meant for another action is a mistake, not a no-op."""
        given = {f for f, value in self.model_dump(include=ACTION_FIELDS_ALL).items() if value is not None}
        allowed = UPDATE_ACTION_FIELDS.get(self.action, set())
        if stray := sorted(given - allowed):
            raise ValueError(f"{', '.join(stray)} cannot be used with action {self.action}")
        if self.action in ("set_urgency", "set_priority", "set_title") and not given:
            raise ValueError(f"{self.action} needs {self.action.removeprefix('set_')}")
        if self.action == "reassign" and len(given) != 1:
            raise ValueError("reassign needs exactly one of assignee or escalation_policy")
        return self


class ManageIncidents(ToolArgs):
    incidents: list[Ref] = Field(min_length=1, max_length=250, description="Incident ids or numbers.")
    action: Literal["acknowledge", "resolve"]
    resolution: Maybe[str] = None
    _v = field_validator("incidents")(path_ids)

    @model_validator(mode="after")
    def _resolution_on_resolve(self) -> ManageIncidents:
        if self.resolution and self.action != "resolve":
            raise ValueError("resolution can only be given with action resolve")
        return self


class AddNote(IncidentRef):
    content: str = Field(min_length=1, max_length=25_000)


class AddResponders(IncidentRef):
    responders: list[Ref] = Field(min_length=1, description="User ids/emails/names or escalation policy ids/names.")
    message: str = Field("Please join this incident.", max_length=1000)
    _v2 = field_validator("responders")(refuse_artifacts)


class SnoozeIncident(IncidentRef):
    duration: str = Field(description="How long, e.g. '30m', '2h', or seconds.")

    @field_validator("duration")
    @classmethod
    def _readable(cls, value: str) -> str:
        if not 1 <= parse_duration(value).total_seconds() <= MAX_SNOOZE_SECONDS:
            raise ValueError("a snooze lasts from 1 second to 7 days")
        return value


class MergeIncidents(ToolArgs):
    target: Ref = Field(description="The incident to keep (id or number).")
    sources: list[Ref] = Field(min_length=1, description="Incidents merged into the target and resolved.")
    _v = field_validator("target")(path_id)
    _v2 = field_validator("sources")(path_ids)


class CreateOverride(ToolArgs):
    schedule: Ref = Field(description="Schedule id or name.")
    user: Ref = Field(description="Who covers: user id, email or name.")
    start: TimeText = Field("now", description="When cover starts (default now).")
    end: TimeText = Field(description="When cover ends, e.g. '+8h' or 'tomorrow 09:00'.")
    time_zone: Maybe[str] = Field(None, description="IANA zone for relative times.")
    _v = field_validator("schedule", "user")(refuse_artifact)


class DeleteOverride(ToolArgs):
    schedule: Ref = Field(description="Schedule id or name.")
    override_id: str
    _v = field_validator("schedule")(refuse_artifact)
    _v2 = field_validator("override_id")(path_id)


class SendEvent(ToolArgs):
    routing_key: Maybe[str] = Field(None, description="Integration key; omit and give service to use its key.")
    service: Maybe[Ref] = None
    action: Literal["trigger", "acknowledge", "resolve"] = "trigger"
    summary: Maybe[str] = Field(None, max_length=1024, description="Required to trigger.")
    source: Maybe[str] = Field(None, description="Affected host or component; required to trigger.")
    severity: Literal["critical", "error", "warning", "info"] = "error"
    dedup_key: Maybe[str] = Field(None, max_length=255, description="Required to acknowledge or resolve.")
    _v = field_validator("service", "routing_key")(refuse_artifact)

    @model_validator(mode="after")
    def _complete(self) -> SendEvent:
        _one_destination(self.routing_key, self.service)
        if self.action == "trigger" and not (self.summary and self.source):
            raise ValueError("a trigger needs summary and source")
        if self.action != "trigger" and not self.dedup_key:
            raise ValueError(f"{self.action} needs the dedup_key of the alert")
        return self


class SendChangeEvent(ToolArgs):
    routing_key: Maybe[str] = None
    service: Maybe[Ref] = None
    summary: str = Field(max_length=1024)
    source: Maybe[str] = None
    _v = field_validator("service", "routing_key")(refuse_artifact)

    @model_validator(mode="after")
    def _complete(self) -> SendChangeEvent:
        _one_destination(self.routing_key, self.service)
        return self


def _one_destination(routing_key: str | None, service: str | None) -> None:
    if bool(routing_key) == bool(service):
        raise ValueError("give either routing_key or service (whose integration key is used)")
