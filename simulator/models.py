"""The simulator's data: what a dataset file holds and what the running state is made of.

Records keep references as plain ids; the HTTP layer renders them into PagerDuty's
wrapped, reference-carrying JSON. Every time is a timezone-aware UTC datetime.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Urgency = Literal["high", "low"]
IncidentStatus = Literal["triggered", "acknowledged", "resolved"]


class Record(BaseModel):
    """Base for every stored record: unknown keys are errors, so a typo in a dataset fails loudly."""

    model_config = ConfigDict(extra="forbid")


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("times must carry a time zone offset (e.g. 2026-11-20T09:00:00Z)")
    return value.astimezone(UTC)


class Token(Record):
    """An API credential. `kind` decides whether writes need a `From` header."""

    token: str = Field(min_length=8)
    kind: Literal["account", "user"] = "account"
    access: Literal["full", "read-only"] = "full"
    user_id: str | None = None  # the user a user token (or OAuth token) acts as
    scopes: list[str] | None = None  # OAuth scopes such as "incidents.write"; None = unrestricted
    bearer: bool = False  # accepted as `Authorization: Bearer …` (OAuth) instead of `Token token=…`


class User(Record):
    id: str
    name: str
    email: str
    time_zone: str = "UTC"
    role: str = "user"
    job_title: str | None = None
    team_ids: list[str] = []
    color: str = "green"


class Team(Record):
    id: str
    name: str
    description: str | None = None


class Priority(Record):
    id: str
    name: str
    description: str | None = None


class Restriction(Record):
    """PagerDuty's layer restriction: on-call only inside these windows."""

    type: Literal["daily_restriction", "weekly_restriction"]
    start_time_of_day: str = Field(pattern=r"^\d{2}:\d{2}:\d{2}$")
    duration_seconds: int = Field(gt=0, le=7 * 24 * 3600)
    start_day_of_week: int | None = Field(default=None, ge=1, le=7)  # ISO: 1 = Monday


class ScheduleLayer(Record):
    id: str
    name: str
    start: datetime
    end: datetime | None = None
    rotation_virtual_start: datetime
    rotation_turn_length_seconds: int = Field(gt=0)
    user_ids: list[str] = Field(min_length=1)
    restrictions: list[Restriction] = []

    _utc_times = field_validator("start", "end", "rotation_virtual_start")(_utc)


class Schedule(Record):
    """Layers are listed lowest first: a later layer wins where it has someone on call."""

    id: str
    name: str
    description: str | None = None
    time_zone: str = "UTC"
    layers: list[ScheduleLayer] = Field(min_length=1)
    team_ids: list[str] = []


class Override(Record):
    id: str
    schedule_id: str
    user_id: str
    start: datetime
    end: datetime
    created_at: datetime | None = None

    _utc_times = field_validator("start", "end", "created_at")(_utc)


class EscalationTarget(Record):
    type: Literal["user_reference", "schedule_reference"]
    id: str


class EscalationRule(Record):
    id: str
    escalation_delay_in_minutes: int = Field(default=30, ge=1)
    targets: list[EscalationTarget] = Field(min_length=1)


class EscalationPolicy(Record):
    id: str
    name: str
    description: str | None = None
    num_loops: int = Field(default=0, ge=0, le=9)
    rules: list[EscalationRule] = Field(min_length=1)
    team_ids: list[str] = []


class Integration(Record):
    """An Events API v2 integration: its routing key sends alerts to the service."""

    id: str
    name: str = "Events API v2"
    routing_key: str = Field(pattern=r"^[A-Za-z0-9]{32}$")


GROUPABLE_FIELDS = ("summary", "source", "severity", "component", "group", "class")


class AlertGrouping(Record):
    """How the Events API groups a service's new alerts into an open incident (PagerDuty's
    `alert_grouping_parameters`; `intelligent` grouping is not simulated).

    `time`: every alert joins the service's newest open incident created by grouping while it is younger
    than `timeout` minutes (0: until that incident is resolved). `content_based`: an alert joins the open
    incident whose alerts share `all` (or `any`) of `fields` with it, while the last alert grouped there is
    at most `time_window` seconds old.
    """

    type: Literal["time", "content_based"] | None = None
    timeout: int = Field(default=0, ge=0, le=1440)
    aggregate: Literal["all", "any"] = "all"
    fields: list[str] = []
    time_window: int = Field(default=300, ge=300, le=86400)


class Service(Record):
    id: str
    name: str
    description: str | None = None
    escalation_policy_id: str
    team_ids: list[str] = []
    integrations: list[Integration] = []
    status: Literal["active", "warning", "critical", "maintenance", "disabled"] = "active"
    default_urgency: Urgency = "high"
    acknowledgement_timeout: int | None = 1800
    auto_resolve_timeout: int | None = 14400
    created_at: datetime | None = None
    alert_grouping: AlertGrouping = AlertGrouping()

    _utc_times = field_validator("created_at")(_utc)


class Assignment(Record):
    user_id: str
    at: datetime


class Note(Record):
    id: str
    incident_id: str
    user_id: str | None
    content: str
    created_at: datetime
    channel: str = "api"


class Alert(Record):
    id: str
    incident_id: str
    service_id: str
    alert_key: str
    summary: str
    severity: Literal["critical", "error", "warning", "info"] = "error"
    status: Literal["triggered", "resolved"] = "triggered"
    created_at: datetime
    source: str | None = None
    custom_details: dict | None = None
    component: str | None = None
    group: str | None = None
    alert_class: str | None = None  # the event's `class`

    def field(self, name: str) -> object:
        """An event field by the name content-based grouping uses: `summary`, `source`, `custom_details.disk` …"""
        if name.startswith("custom_details."):
            return (self.custom_details or {}).get(name.removeprefix("custom_details."))
        if name not in GROUPABLE_FIELDS:
            return None
        return self.alert_class if name == "class" else getattr(self, name)


class ResponderRequestTarget(Record):
    type: Literal["user_reference", "escalation_policy_reference"]
    id: str
    state: Literal["pending", "joined", "declined"] = "pending"


class ResponderRequest(Record):
    id: str
    incident_id: str
    requester_id: str
    message: str
    requested_at: datetime
    targets: list[ResponderRequestTarget]
    user_ids: list[str] = []  # everyone paged: user targets and the policies' on-call at the time


class Incident(Record):
    id: str
    number: int
    title: str
    service_id: str
    escalation_policy_id: str
    status: IncidentStatus = "triggered"
    urgency: Urgency = "high"
    priority_id: str | None = None
    incident_key: str
    created_at: datetime
    updated_at: datetime
    last_status_change_at: datetime
    last_status_change_by: str | None = None  # user id, None when a service/integration changed it
    resolved_at: datetime | None = None
    escalation_level: int = 1
    assignments: list[Assignment] = []
    assigned_via: Literal["escalation_policy", "direct_assignment"] = "escalation_policy"
    acknowledger_ids: list[str] = []
    team_ids: list[str] = []
    body_details: str | None = None
    snoozed_until: datetime | None = None
    merged_into: str | None = None  # id of the incident this one was merged into (then resolved)
    responder_request_ids: list[str] = []
    level_started_at: datetime | None = None  # when its current escalation level last began paging
    loops_done: int = 0  # times the policy has wrapped back to level 1 after its last level timed out


class LogEntry(Record):
    """One line of an incident's history. `type` is PagerDuty's, e.g. `trigger_log_entry`."""

    id: str
    type: str
    incident_id: str
    service_id: str
    created_at: datetime
    agent_type: Literal["user_reference", "service_reference", "integration_reference"] | None = None
    agent_id: str | None = None
    channel: str = "api"
    summary: str
    note: str | None = None
    user_id: str | None = None  # notified / assigned / acknowledging user, by type
    level: int | None = None  # escalation level for escalate / assign entries
    team_ids: list[str] = []


class AuditRecord(Record):
    """One configuration change as the audit trail shows it (the simulator records override writes)."""

    id: str
    execution_time: datetime
    action: Literal["create", "update", "delete"]
    root_type: Literal["schedules"]
    root_id: str
    resource_type: str
    resource_id: str
    actor_id: str | None  # the acting user; None for an account token without `From`
    token_suffix: str  # the last four characters of the key used, as PagerDuty shows it
    fields: list[dict] = []  # {"name", "value"} / {"name", "before_value"} of the change


class ChangeEvent(Record):
    id: str
    summary: str
    timestamp: datetime
    service_ids: list[str]
    routing_key: str | None = None
    source: str | None = None
    custom_details: dict | None = None


class RateLimits(Record):
    """Per-token sliding-window limits, as PagerDuty applies them to REST calls.

    The spec gives three operations a limit of their own on top of the per-token one: creating
    incidents, updating incidents in bulk and listing on-calls. PagerDuty does not publish those
    numbers, so the defaults here are ours; a dataset may set its own.
    """

    requests_per_minute: int = Field(default=960, gt=0)
    incident_creates_per_minute: int = Field(default=120, gt=0)
    incident_bulk_updates_per_minute: int = Field(default=120, gt=0)
    oncalls_per_minute: int = Field(default=480, gt=0)
    events_per_minute_per_routing_key: int = Field(default=120, gt=0)

    def for_operation(self, group: str) -> int:
        """The limit of one operation group, as routes name it."""
        return {"incident_create": self.incident_creates_per_minute,
                "incident_bulk_update": self.incident_bulk_updates_per_minute,
                "oncalls": self.oncalls_per_minute}[group]


class HistorySpec(Record):
    """Parameters of the deterministic incident history generated when a dataset loads."""

    seed: int = 7
    days: int = Field(default=90, ge=0)
    incidents: int = Field(default=270, ge=0)
    open_incidents: int = Field(default=6, ge=0)  # left triggered/acknowledged at "now"
    extra_notes_per_incident: int = Field(default=1, ge=0)


class Dataset(Record):
    """A whole PagerDuty account as a file: directory data, credentials and how to make history."""

    name: str
    subdomain: str = "acme"
    now: datetime | None = None  # a fixed "now"; None means the server's real clock
    rate_limits: RateLimits = RateLimits()
    tokens: list[Token] = Field(min_length=1)
    users: list[User] = Field(min_length=1)
    teams: list[Team] = []
    priorities: list[Priority] = []
    schedules: list[Schedule] = []
    escalation_policies: list[EscalationPolicy] = []
    services: list[Service] = []
    overrides: list[Override] = []
    history: HistorySpec | None = None
    # Time moves incidents: unacknowledged ones escalate after their level's delay and acknowledgements
    # time out after the service's acknowledgement_timeout. Off by default, so an account written
    # before it keeps its state however far its clock is moved.
    incident_timeouts: bool = False
    # Incidents as they are, with their log entries, notes and alerts: what `sim import` copies from a real
    # account (generated history, if any, is added after them).
    incidents: list[Incident] = []
    log_entries: list[LogEntry] = []
    notes: list[Note] = []
    alerts: list[Alert] = []

    _utc_times = field_validator("now")(_utc)
