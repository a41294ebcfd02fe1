"""The incident engine: every change PagerDuty allows on an incident, and the log entries it writes.

Plain functions over an `Account` and a `Clock` (no HTTP, no simulator): the REST routes, the Events API
and the history generator all change incidents through here, so the rules and the log are the same
whoever acts. Time is always `clock.now()`. A function checks everything it needs before it changes anything, so
a refused request leaves no trace.

Choices where PagerDuty's docs are silent (the rest of the simulator relies on them):
- Repeating a transition is an idempotent no-op with no log entry: acknowledging an acknowledged
  incident, resolving a resolved one, triggering a triggered one, or setting the same urgency.
- Setting `triggered` on an acknowledged incident unacknowledges it (`unacknowledge_log_entry`).
- A reopen (PagerDuty's 2025 rule: `triggered`/`acknowledged` on a resolved incident) is recorded
  as a `trigger_log_entry` ("Reopened by …") followed by `assign_log_entry`s, then notifications
  (to triggered) or an `acknowledge_log_entry` by the reopening user (to acknowledged).
- Escalating or reassigning an acknowledged incident puts it back to `triggered`, as PagerDuty does.
- Priority and title changes write no log entry (PagerDuty's log-entry types have none for them).
- Timers run out lazily: `catch_up` (run before every read and write) ends snoozes and, where the dataset
  asks for it, acknowledgement and escalation timeouts, each dated when it ran out, so the log stays in time order.
- One `assign_log_entry` and one `notify_log_entry` is written per assigned / paged user.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from .account import Account
from .clock import Clock, ManualClock
from .errors import ApiError, arguments_error, invalid_input
from .models import (
    Alert,
    Assignment,
    ChangeEvent,
    EscalationPolicy,
    Incident,
    LogEntry,
    Note,
    ResponderRequest,
    ResponderRequestTarget,
)
from .oncall import level_user_ids

AgentType = Literal["user_reference", "service_reference", "integration_reference"]
MAX_NOTES = 2000
MAX_SNOOZE_SECONDS = 7 * 24 * 3600
DEDUP_CONFLICT = "Open incident with matching dedup key already exists on this service"
# Log entries and notes are the bulk of the state (a 10,000-incident history makes ~350,000) and
# are built here from checked values, so they skip validation and share one empty fields-set:
# that halves their memory (summaries, which repeat, are interned). Nothing changes them after creation.
_TRUSTED: set[str] = frozenset()  # type: ignore[assignment]  # pydantic only reads it: frozen on purpose


@dataclass(frozen=True)
class Actor:
    """Who acts, as a log entry shows it: the agent reference and the channel it came through."""

    agent_type: AgentType
    agent_id: str
    channel: str = "api"

    @classmethod
    def user(cls, user_id: str, channel: str = "api") -> Actor:
        return cls("user_reference", user_id, channel)

    @property
    def user_id(self) -> str | None:
        return self.agent_id if self.agent_type == "user_reference" else None


@dataclass(frozen=True)
class IncidentUpdate:
    """The parsed body of `PUT /incidents/{id}` (one item of the bulk form); None means unchanged."""

    status: Literal["triggered", "acknowledged", "resolved"] | None = None
    resolution: str | None = None
    title: str | None = None
    urgency: Literal["high", "low"] | None = None
    priority_id: str | None = None
    priority_name: str | None = None
    escalation_level: int | None = None
    assignee_ids: tuple[str, ...] | None = None
    escalation_policy_id: str | None = None


# --- errors PagerDuty answers for incident rules ---


def already_resolved(incident: Incident) -> ApiError:
    return ApiError(400, 1001, "Incident Already Resolved", [f"Incident {incident.id} is resolved."])


def _not_acknowledged() -> ApiError:
    return ApiError(400, 1012, "Incident is not Acknowledged", ["Only acknowledged incidents can be snoozed."])


def _unknown_user(user_id: str) -> ApiError:
    return ApiError(400, 1007, "Assigned To User Not Found", [f"No user has the id {user_id!r}."])


def _unknown_policy(policy_id: str) -> ApiError:
    return ApiError(400, 1014, "Escalation Policy Not Found", [f"No escalation policy has the id {policy_id!r}."])


def _invalid_priority(detail: str) -> ApiError:
    return ApiError(400, 1020, "Invalid Priority", [detail])


# --- shared steps ---


def _log(account: Account, clock: Clock, incident: Incident, type_: str, actor: Actor, summary: str, *,
         note: str | None = None, user_id: str | None = None, level: int | None = None) -> LogEntry:
    entry = LogEntry.model_construct(
        _TRUSTED, id=account.ids.new("log_entry"), type=type_, incident_id=incident.id,
        service_id=incident.service_id, created_at=clock.now(), agent_type=actor.agent_type, agent_id=actor.agent_id,
        channel=actor.channel, summary=sys.intern(summary), note=note, user_id=user_id, level=level,
        team_ids=incident.team_ids)
    account.add_log_entry(entry)
    return entry


def _by(account: Account, actor: Actor) -> str:
    """How a summary names the actor: "by Ada Lovelace", "through the API" or "due to timeout"."""
    if actor.user_id is not None:
        return f"by {account.users[actor.user_id].name}"
    return "due to timeout" if actor.channel == "timeout" else "through the API"


def _touch(clock: Clock, incident: Incident) -> None:
    incident.updated_at = clock.now()


def _set_status(account: Account, clock: Clock, incident: Incident, status: str, actor: Actor) -> None:
    """Any status change ends a snooze; going back to triggered restarts the escalation timer."""
    incident.status = status  # type: ignore[assignment]
    account.set_snooze(incident, None)
    incident.last_status_change_at = incident.updated_at = clock.now()
    incident.last_status_change_by = actor.user_id
    if status == "triggered":
        incident.level_started_at = clock.now()


def _notify(account: Account, clock: Clock, incident: Incident, user_ids: list[str], why: str = "") -> None:
    """One `notify_log_entry` per paged user; the service is the agent, as PagerDuty pages on its behalf."""
    pager = Actor("service_reference", incident.service_id, "auto")
    for user_id in user_ids:
        _log(account, clock, incident, "notify_log_entry", pager, f"Notified {account.users[user_id].name}{why}.",
             user_id=user_id)


def _assign(account: Account, clock: Clock, incident: Incident, user_ids: list[str], actor: Actor, via: str,
            logged: bool = True) -> None:
    """New assignees; each gets an `assign_log_entry` unless an escalate entry already says why."""
    now = clock.now()
    incident.assignments = [Assignment(user_id=u, at=now) for u in user_ids]
    incident.assigned_via = via  # type: ignore[assignment]
    incident.level_started_at = now
    if logged:
        for user_id in user_ids:
            _log(account, clock, incident, "assign_log_entry", actor,
                 f"Assigned to {account.users[user_id].name} {_by(account, actor)}.", user_id=user_id)


def _policy(account: Account, policy_id: str) -> EscalationPolicy:
    policy = account.escalation_policies.get(policy_id)
    if policy is None:
        raise _unknown_policy(policy_id)
    return policy


def on_call(account: Account, clock: Clock, policy: EscalationPolicy, level: int) -> list[str]:
    """Who the policy pages at `level` right now."""
    overrides = {t.id: account.overrides_for(t.id)
                 for t in policy.rules[level - 1].targets if t.type == "schedule_reference"}
    return level_user_ids(policy, account.schedules, overrides, level, clock.now())


def _check_users(account: Account, user_ids: list[str] | tuple[str, ...]) -> list[str]:
    unique = list(dict.fromkeys(user_ids))
    for user_id in unique:
        if user_id not in account.users:
            raise _unknown_user(user_id)
    return unique


def _check_level(policy: EscalationPolicy, level: int) -> None:
    if level < 1:
        raise invalid_input("escalation_level must be 1 or more.")
    if level > len(policy.rules):
        raise ApiError(400, 1006, "Cannot Escalate",
                       [f"Escalation policy {policy.id} has {len(policy.rules)} level(s); "
                        f"cannot escalate to level {level}."])


def _teams(account: Account, service_id: str, policy: EscalationPolicy) -> list[str]:
    return list(dict.fromkeys(policy.team_ids + account.services[service_id].team_ids))


def _key_for(account: Account, seed: str) -> str:
    """A deterministic 32-hex key, as PagerDuty generates when none is given."""
    return hashlib.md5(f"{account.dataset.subdomain}/{seed}".encode()).hexdigest()


# --- time moves incidents, lazily ---


def catch_up(account: Account, clock: Clock) -> None:
    """Play every timer that has run out by now, oldest first, each dated when it ran out.

    A snooze ends (back to `triggered`, assignees paged again). Where the dataset turns on
    `incident_timeouts`, an acknowledgement also times out after the service's `acknowledgement_timeout`,
    and a triggered incident its policy assigned escalates to the next level after that level's
    `escalation_delay_in_minutes` (from the last level back to the first while the policy has loops left).
    Run before every read and write, so the log stays in time order whenever the clock is moved.
    """
    timeouts = account.dataset.incident_timeouts
    if not account.snoozes and not timeouts:
        return
    now = clock.now()
    while True:
        due = min((timer for timer in _timers(account, timeouts) if timer[0] <= now), default=None)
        if due is None:
            return
        when, _, incident_id, kind = due
        _expire(account, ManualClock(when), account.incidents[incident_id], kind)


def _timers(account: Account, timeouts: bool) -> Iterator[tuple[datetime, int, str, str]]:
    """(when, incident number, id, kind) of each running timer: a snooze, an acknowledgement, an escalation."""
    for incident_id, until in account.snoozes.items():
        yield until, account.incidents[incident_id].number, incident_id, "snooze"
    if not timeouts:
        return
    for incident_id in account.open_incident_keys.values():
        incident = account.incidents[incident_id]
        if incident.snoozed_until is not None:
            continue
        if incident.status == "acknowledged":
            timeout = account.services[incident.service_id].acknowledgement_timeout
            if timeout:
                yield (incident.last_status_change_at + timedelta(seconds=timeout), incident.number, incident_id,
                       "acknowledgement")
        elif incident.assigned_via == "escalation_policy" and incident.level_started_at is not None:
            policy = account.escalation_policies[incident.escalation_policy_id]
            last_level = incident.escalation_level >= len(policy.rules)
            if not last_level or incident.loops_done < policy.num_loops:
                delay = policy.rules[incident.escalation_level - 1].escalation_delay_in_minutes
                yield incident.level_started_at + timedelta(minutes=delay), incident.number, incident_id, "escalation"


def _expire(account: Account, clock: Clock, incident: Incident, kind: str) -> None:
    timeout = Actor("service_reference", incident.service_id, "timeout")
    if kind == "escalation":
        policy = account.escalation_policies[incident.escalation_policy_id]
        level = incident.escalation_level + 1
        if level > len(policy.rules):
            level, incident.loops_done = 1, incident.loops_done + 1
        _escalate(account, clock, incident, timeout, policy, level)
        return
    _set_status(account, clock, incident, "triggered", timeout)
    incident.acknowledger_ids = []
    why = "snooze timeout" if kind == "snooze" else "timeout"
    _log(account, clock, incident, "unacknowledge_log_entry", timeout, f"Unacknowledged due to {why}.")
    _notify(account, clock, incident, [a.user_id for a in incident.assignments])


# --- creating incidents ---


def create(account: Account, clock: Clock, actor: Actor, *, service_id: str, title: str, urgency: str | None = None,
           priority_id: str | None = None, incident_key: str | None = None, details: str | None = None,
           assignee_ids: list[str] | None = None, escalation_policy_id: str | None = None) -> Incident:
    """A new incident, assigned to the given users or to level 1 of the policy (the service's by default).

    A user who creates an incident explicitly assigned to themselves gets it acknowledged, as PagerDuty
    does; being on call for the policy that pages them does not count.
    """
    catch_up(account, clock)
    service = account.services.get(service_id)
    if service is None:
        raise invalid_input(f"Service {service_id!r} not found.")
    if assignee_ids and escalation_policy_id:
        raise invalid_input("Assignments cannot be specified if an escalation policy is given.")
    if priority_id is not None:
        priority_id_for(account, priority_id, None)
    policy = _policy(account, escalation_policy_id or service.escalation_policy_id)
    users = _check_users(account, assignee_ids) if assignee_ids else on_call(account, clock, policy, 1)
    if incident_key is not None and (service_id, incident_key) in account.open_incident_keys:
        raise arguments_error(DEDUP_CONFLICT)

    now = clock.now()
    incident_id = account.ids.new("incident")
    incident = Incident(
        id=incident_id, number=account.next_incident_number, title=title, service_id=service_id,
        escalation_policy_id=policy.id, urgency=urgency or service.default_urgency, priority_id=priority_id,
        incident_key=incident_key or _key_for(account, incident_id), created_at=now, updated_at=now,
        last_status_change_at=now, last_status_change_by=actor.user_id, body_details=details,
        team_ids=_teams(account, service_id, policy))
    account.add_incident(incident)
    _log(account, clock, incident, "trigger_log_entry", actor, f"Triggered {_by(account, actor)}.")
    _assign(account, clock, incident, users, actor, "direct_assignment" if assignee_ids else "escalation_policy")
    if assignee_ids and actor.user_id in users:
        _acknowledge(account, clock, incident, actor)
        users = [u for u in users if u != actor.user_id]
    _notify(account, clock, incident, users)
    return incident


# --- status changes ---


def _acknowledge(account: Account, clock: Clock, incident: Incident, actor: Actor) -> None:
    _set_status(account, clock, incident, "acknowledged", actor)
    incident.acknowledger_ids = [actor.agent_id if actor.user_id else incident.service_id]
    _log(account, clock, incident, "acknowledge_log_entry", actor, f"Acknowledged {_by(account, actor)}.")


def acknowledge(account: Account, clock: Clock, incident: Incident, actor: Actor) -> None:
    """triggered → acknowledged; acknowledged stays as it is; a resolved incident is reopened acknowledged."""
    _switch_open_status(account, clock, incident, actor, "triggered", "acknowledged", _acknowledge)


def unacknowledge(account: Account, clock: Clock, incident: Incident, actor: Actor) -> None:
    """acknowledged → triggered (the assignees are paged again); a resolved incident is reopened triggered."""
    _switch_open_status(account, clock, incident, actor, "acknowledged", "triggered", _unacknowledge)


def _switch_open_status(account: Account, clock: Clock, incident: Incident, actor: Actor, source: str, target: str,
                        step: Callable[[Account, Clock, Incident, Actor], None]) -> None:
    """`step` takes `source` to `target`; an incident already at `target` is left alone, a resolved one reopened."""
    catch_up(account, clock)
    if incident.status == "resolved":
        reopen(account, clock, incident, actor, target)
    elif incident.status == source:
        step(account, clock, incident, actor)


def _unacknowledge(account: Account, clock: Clock, incident: Incident, actor: Actor) -> None:
    _set_status(account, clock, incident, "triggered", actor)
    incident.acknowledger_ids = []
    _log(account, clock, incident, "unacknowledge_log_entry", actor, f"Unacknowledged {_by(account, actor)}.")
    _notify(account, clock, incident, [a.user_id for a in incident.assignments])


def resolve(account: Account, clock: Clock, incident: Incident, actor: Actor, resolution: str | None = None,
            summary: str | None = None) -> None:
    """Resolved: assignments and acknowledgements cleared, alerts resolved, the dedup key freed."""
    catch_up(account, clock)
    if incident.status == "resolved":
        return
    _set_status(account, clock, incident, "resolved", actor)
    incident.resolved_at = clock.now()
    incident.assignments = []
    incident.acknowledger_ids = []
    for alert in account.alerts_by_incident.get(incident.id, ()):
        _resolve_alert(account, alert)
    account.mark_resolved(incident)
    _log(account, clock, incident, "resolve_log_entry", actor, summary or f"Resolved {_by(account, actor)}.",
         note=resolution)


def reopen(account: Account, clock: Clock, incident: Incident, actor: Actor, status: str,
           assignee_ids: list[str] | None = None, escalation_policy_id: str | None = None) -> None:
    """A resolved incident opened again: to `triggered` (paging its assignees) or to `acknowledged` by the actor."""
    catch_up(account, clock)
    _check_reopen(account, incident)
    policy = _policy(account, escalation_policy_id or incident.escalation_policy_id)
    if status == "acknowledged" and actor.user_id is not None:
        users, via = [actor.user_id], "direct_assignment"
    elif assignee_ids:
        users, via = _check_users(account, assignee_ids), "direct_assignment"
    else:
        users, via = on_call(account, clock, policy, 1), "escalation_policy"
    incident.escalation_policy_id = policy.id
    incident.escalation_level = 1
    incident.loops_done = 0
    incident.resolved_at = None
    _set_status(account, clock, incident, "triggered", actor)
    account.mark_open(incident)
    _log(account, clock, incident, "trigger_log_entry", actor, f"Reopened {_by(account, actor)}.")
    _assign(account, clock, incident, users, actor, via)
    if status == "acknowledged":
        _acknowledge(account, clock, incident, actor)
    else:
        _notify(account, clock, incident, users)


def _check_reopen(account: Account, incident: Incident) -> None:
    if incident.merged_into is not None:
        raise ApiError(400, 1019, "Incident Already Merged",
                       [f"Incident {incident.id} was merged into {incident.merged_into} and cannot be reopened."])
    holder = account.open_incident_keys.get((incident.service_id, incident.incident_key))
    if holder is not None and holder != incident.id:
        raise arguments_error(DEDUP_CONFLICT)


# --- routing changes ---


def escalate(account: Account, clock: Clock, incident: Incident, actor: Actor, level: int) -> None:
    """Page the policy's `level` (1-based): its on-call users become the assignees and the incident is triggered."""
    catch_up(account, clock)
    if incident.status == "resolved":
        raise already_resolved(incident)
    policy = _policy(account, incident.escalation_policy_id)
    _check_level(policy, level)
    _escalate(account, clock, incident, actor, policy, level)


def _escalate(account: Account, clock: Clock, incident: Incident, actor: Actor, policy: EscalationPolicy,
              level: int) -> None:
    incident.escalation_level = level
    _log(account, clock, incident, "escalate_log_entry", actor, f"Escalated to level {level} {_by(account, actor)}.",
         level=level)
    _reassign(account, clock, incident, actor, on_call(account, clock, policy, level), "escalation_policy",
              logged=False)


def _reassign(account: Account, clock: Clock, incident: Incident, actor: Actor, users: list[str], via: str,
              logged: bool = True) -> None:
    """New assignees for an open incident: an acknowledged one goes back to triggered, and they are paged."""
    if incident.status == "acknowledged":
        _set_status(account, clock, incident, "triggered", actor)
        incident.acknowledger_ids = []
    _touch(clock, incident)
    _assign(account, clock, incident, users, actor, via, logged)
    _notify(account, clock, incident, users)


def reassign(account: Account, clock: Clock, incident: Incident, actor: Actor, *, assignee_ids: list[str] | None = None,
             escalation_policy_id: str | None = None) -> None:
    """Assign to these users, or hand the incident to another escalation policy (its level 1)."""
    catch_up(account, clock)
    if incident.status == "resolved":
        raise already_resolved(incident)
    if assignee_ids and escalation_policy_id:
        raise invalid_input("Assignments cannot be specified if an escalation policy is given.")
    if escalation_policy_id:
        policy = _policy(account, escalation_policy_id)
        incident.escalation_policy_id = policy.id
        incident.escalation_level = 1
        incident.loops_done = 0
        _reassign(account, clock, incident, actor, on_call(account, clock, policy, 1), "escalation_policy")
    elif assignee_ids:
        _reassign(account, clock, incident, actor, _check_users(account, assignee_ids), "direct_assignment")
    else:
        raise invalid_input("Give assignments or an escalation policy.")


# --- other fields ---


def set_urgency(account: Account, clock: Clock, incident: Incident, actor: Actor, urgency: str) -> None:
    catch_up(account, clock)
    if urgency == incident.urgency:
        return
    old, incident.urgency = incident.urgency, urgency  # type: ignore[assignment]
    _touch(clock, incident)
    _log(account, clock, incident, "urgency_change_log_entry", actor,
         f"Urgency changed from {old} to {urgency} {_by(account, actor)}.")


def priority_id_for(account: Account, priority_id: str | None, priority_name: str | None) -> str:
    """A priority by id, or by name (the first, i.e. highest, of that name), as PagerDuty accepts either."""
    priorities = account.priorities
    if priority_id is not None:
        if priority_id not in priorities:
            raise _invalid_priority(f"No priority has the id {priority_id!r}.")
        return priority_id
    match = next((p.id for p in priorities.values() if p.name == priority_name), None)
    if match is None:
        raise _invalid_priority(f"No priority is named {priority_name!r}.")
    return match


def set_priority(account: Account, clock: Clock, incident: Incident, priority_id: str) -> None:
    priority_id_for(account, priority_id, None)
    if priority_id != incident.priority_id:
        incident.priority_id = priority_id
        _touch(clock, incident)


def set_title(clock: Clock, incident: Incident, title: str) -> None:
    if title != incident.title:
        incident.title = title
        _touch(clock, incident)


# --- a PUT body, checked as a whole and then applied ---


def check_update(account: Account, incident: Incident, change: IncidentUpdate) -> None:
    """Raise the error PagerDuty would answer for this change, before anything is changed."""
    if change.assignee_ids and change.escalation_policy_id:
        raise invalid_input("Assignments cannot be specified if an escalation policy is given.")
    if change.assignee_ids and change.escalation_level is not None:
        raise invalid_input("Assignments cannot be combined with an escalation level.")
    if change.priority_id is not None or change.priority_name is not None:
        priority_id_for(account, change.priority_id, change.priority_name)
    if change.assignee_ids:
        _check_users(account, change.assignee_ids)
    policy = _policy(account, change.escalation_policy_id or incident.escalation_policy_id)
    if change.escalation_level is not None:
        _check_level(policy, change.escalation_level)
    reopening = incident.status == "resolved" and change.status in ("triggered", "acknowledged")
    if reopening:
        _check_reopen(account, incident)
    elif incident.status == "resolved" and (change.escalation_level is not None or change.assignee_ids
                                            or change.escalation_policy_id):
        raise already_resolved(incident)


def update(account: Account, clock: Clock, incident: Incident, actor: Actor, change: IncidentUpdate) -> None:
    """Apply one `PUT /incidents/{id}` body: fields first, then routing, then the status change."""
    catch_up(account, clock)
    check_update(account, incident, change)
    if change.title is not None:
        set_title(clock, incident, change.title)
    if change.priority_id is not None or change.priority_name is not None:
        set_priority(account, clock, incident, priority_id_for(account, change.priority_id, change.priority_name))
    if change.urgency is not None:
        set_urgency(account, clock, incident, actor, change.urgency)
    assignees = list(change.assignee_ids) if change.assignee_ids else None
    if incident.status == "resolved" and change.status in ("triggered", "acknowledged"):
        reopen(account, clock, incident, actor, change.status, assignees, change.escalation_policy_id)
        if change.escalation_level not in (None, 1):
            escalate(account, clock, incident, actor, change.escalation_level)  # type: ignore[arg-type]
        return
    if change.escalation_policy_id:
        reassign(account, clock, incident, actor, escalation_policy_id=change.escalation_policy_id)
    elif assignees:
        reassign(account, clock, incident, actor, assignee_ids=assignees)
    if change.escalation_level is not None:
        escalate(account, clock, incident, actor, change.escalation_level)
    if change.status == "acknowledged":
        acknowledge(account, clock, incident, actor)
    elif change.status == "resolved":
        resolve(account, clock, incident, actor, change.resolution)
    elif change.status == "triggered":
        unacknowledge(account, clock, incident, actor)


# --- snooze, merge, notes, responders ---


def snooze(account: Account, clock: Clock, incident: Incident, actor: Actor, duration: int) -> None:
    """Only an acknowledged incident can be snoozed; it returns to `triggered` after `duration` seconds."""
    catch_up(account, clock)
    if not 1 <= duration <= MAX_SNOOZE_SECONDS:
        raise ApiError(400, 1013, "Snooze Duration is Invalid",
                       [f"duration must be between 1 and {MAX_SNOOZE_SECONDS} seconds."])
    if incident.status != "acknowledged":
        raise _not_acknowledged()
    account.set_snooze(incident, clock.now() + timedelta(seconds=duration))
    _touch(clock, incident)
    _log(account, clock, incident, "snooze_log_entry", actor, f"Snoozed for {duration} seconds {_by(account, actor)}.")


def merge(account: Account, clock: Clock, target: Incident, sources: list[Incident], actor: Actor) -> None:
    """Sources are resolved into the open target; their alerts move to it (a manual incident becomes one alert)."""
    catch_up(account, clock)
    if target.status == "resolved":
        raise ApiError(400, 1001, "Incident Already Resolved",
                       [f"Incident {target.id} is resolved; incidents can only be merged into an open incident."])
    if not sources:
        raise invalid_input("source_incidents must name at least one incident.")
    seen: set[str] = set()
    for source in sources:
        if source.id == target.id:
            raise invalid_input("An incident cannot be merged into itself.")
        if source.merged_into is not None:
            raise ApiError(400, 1019, "Incident Already Merged",
                           [f"Incident {source.id} was already merged into {source.merged_into}."])
        if source.id in seen:
            raise invalid_input(f"Incident {source.id} is listed twice.")
        seen.add(source.id)
    for source in sources:
        moved = account.alerts_by_incident.pop(source.id, [])
        if not moved:
            moved = [Alert(id=account.ids.new("alert"), incident_id=target.id, service_id=source.service_id,
                           alert_key=source.incident_key, summary=source.title, created_at=source.created_at,
                           status="resolved" if source.status == "resolved" else "triggered")]
            account.alerts[moved[0].id] = moved[0]
        for alert in moved:
            alert.incident_id = target.id
        account.alerts_by_incident[target.id].extend(moved)
        source.merged_into = target.id
        _touch(clock, source)
        resolve(account, clock, source, actor,
                summary=f"Resolved {_by(account, actor)} (merged into #{target.number}).")
    _touch(clock, target)


def add_note(account: Account, clock: Clock, incident: Incident, actor: Actor, content: str) -> Note:
    """A note, and the `annotate_log_entry` PagerDuty writes for it; at most 2000 per incident."""
    catch_up(account, clock)
    notes = account.notes_by_incident.get(incident.id, ())
    if len(notes) >= MAX_NOTES:
        raise invalid_input(f"An incident can have at most {MAX_NOTES} notes.")
    note = Note.model_construct(_TRUSTED, id=account.ids.new("note"), incident_id=incident.id,
                                user_id=actor.user_id, content=content, created_at=clock.now(), channel=actor.channel)
    account.add_note(note)
    _touch(clock, incident)
    _log(account, clock, incident, "annotate_log_entry", Actor(actor.agent_type, actor.agent_id, "note"),
         f"Note added {_by(account, actor)}.", note=content)
    return note


def request_responders(account: Account, clock: Clock, incident: Incident, requester_id: str, message: str,
                       targets: list[tuple[str, str]]) -> ResponderRequest:
    """Ask users (or an escalation policy's level-1 on-call) to join; each one paged gets a notify entry."""
    catch_up(account, clock)
    if requester_id not in account.users:
        raise ApiError(400, 1008, "Requester User Not Found", [f"No user has the id {requester_id!r}."])
    if incident.status == "resolved":
        raise already_resolved(incident)
    if not targets:
        raise invalid_input("responder_request_targets must name at least one target.")
    paged: list[str] = []
    for kind, target_id in targets:
        if kind == "user_reference":
            paged += _check_users(account, [target_id])
        else:
            paged += on_call(account, clock, _policy(account, target_id), 1)
    request = ResponderRequest(
        id=account.ids.new("responder_request"), incident_id=incident.id, requester_id=requester_id,
        message=message, requested_at=clock.now(), user_ids=list(dict.fromkeys(paged)),
        targets=[ResponderRequestTarget(type=kind, id=target_id)  # type: ignore[arg-type]
                 for kind, target_id in targets])
    account.responder_requests[request.id] = request
    incident.responder_request_ids.append(request.id)
    _touch(clock, incident)
    _notify(account, clock, incident, request.user_ids, f" (responder request from {account.users[requester_id].name})")
    return request


# --- the Events API ---


def _integration_actor(account: Account, routing_key: str) -> tuple[str, Actor]:
    service_id, integration_id = account.routing_keys[routing_key]
    return service_id, Actor("integration_reference", integration_id, "api")


def trigger_alert(account: Account, clock: Clock, routing_key: str, *, summary: str, severity: str,
                  source: str | None = None, dedup_key: str | None = None, custom_details: dict | None = None,
                  fields: dict[str, str] | None = None) -> Alert:
    """A trigger event: deduplicated into the open alert with this key, or a new alert that joins the
    service's open incident with this key, or the incident the service's alert grouping picks, or else a
    new incident with the integration as agent. `fields`: the payload's component, group and alert_class."""
    catch_up(account, clock)
    if dedup_key is not None:
        open_alert = account.open_alerts.get((routing_key, dedup_key))
        if open_alert is not None:
            return account.alerts[open_alert]
    service_id, actor = _integration_actor(account, routing_key)
    alert_id = account.ids.new("alert")
    key = dedup_key or _key_for(account, alert_id)
    alert = Alert(id=alert_id, incident_id="", service_id=service_id, alert_key=key,  # type: ignore[arg-type]
                  summary=summary, severity=severity, created_at=clock.now(), source=source,
                  custom_details=custom_details, **(fields or {}))
    incident_id = account.open_incident_keys.get((service_id, key)) or _grouped_into(account, clock, alert)
    if incident_id is None:
        incident_id = create(account, clock, actor, service_id=service_id, title=summary, incident_key=key).id
    else:
        _touch(clock, account.incidents[incident_id])
    alert.incident_id = incident_id
    account.add_alert(alert, routing_key)
    return alert


def _grouped_into(account: Account, clock: Clock, alert: Alert) -> str | None:
    """The open incident the service's alert grouping puts a new alert in, if any (newest incident first)."""
    grouping = account.services[alert.service_id].alert_grouping
    if grouping.type is None:
        return None
    now = clock.now()
    candidates = sorted((account.incidents[i] for (service_id, _), i in account.open_incident_keys.items()
                         if service_id == alert.service_id), key=lambda i: i.number, reverse=True)
    for incident in candidates:
        alerts = account.alerts_by_incident.get(incident.id)
        if not alerts:  # made by hand, not by events: grouping leaves it alone
            continue
        if grouping.type == "time":
            if grouping.timeout == 0 or now - incident.created_at <= timedelta(minutes=grouping.timeout):
                return incident.id
            continue
        latest = max(a.created_at for a in alerts)
        if now - latest <= timedelta(seconds=grouping.time_window) and any(
                _same_content(alert, other, grouping.fields, grouping.aggregate) for other in alerts):
            return incident.id
    return None


def _same_content(alert: Alert, other: Alert, fields: list[str], aggregate: str) -> bool:
    """Content-based grouping: `all` (or `any`) of the fields have one value on both, a value missing on both not
    counting."""
    matches = [alert.field(f) is not None and alert.field(f) == other.field(f) for f in fields]
    return bool(matches) and (all(matches) if aggregate == "all" else any(matches))


def acknowledge_alert(account: Account, clock: Clock, routing_key: str, dedup_key: str) -> bool:
    """An acknowledge event: acknowledges the open alert's incident; False (dropped) when no alert is open."""
    catch_up(account, clock)
    alert_id = account.open_alerts.get((routing_key, dedup_key))
    if alert_id is None:
        return False
    incident = account.incidents[account.alerts[alert_id].incident_id]
    if incident.status == "triggered":
        _acknowledge(account, clock, incident, _integration_actor(account, routing_key)[1])
    return True


def resolve_alert(account: Account, clock: Clock, routing_key: str, dedup_key: str) -> bool:
    """A resolve event: resolves the alert, and its incident once no alert of it is left open."""
    catch_up(account, clock)
    alert_id = account.open_alerts.get((routing_key, dedup_key))
    if alert_id is None:
        return False
    alert = account.alerts[alert_id]
    _resolve_alert(account, alert)
    incident = account.incidents[alert.incident_id]
    if all(a.status == "resolved" for a in account.alerts_by_incident[incident.id]):
        resolve(account, clock, incident, _integration_actor(account, routing_key)[1])
    else:
        _touch(clock, incident)  # its alert counts changed
    return True


def _resolve_alert(account: Account, alert: Alert) -> None:
    if alert.status == "resolved":
        return
    alert.status = "resolved"
    for integration in account.services[alert.service_id].integrations:
        key = (integration.routing_key, alert.alert_key)
        if account.open_alerts.get(key) == alert.id:
            del account.open_alerts[key]


def record_change(account: Account, clock: Clock, routing_key: str, *, summary: str, source: str | None = None,
                  timestamp: datetime | None = None, custom_details: dict | None = None) -> ChangeEvent:
    """A change event on the routing key's service: shown beside incidents, never paging anyone."""
    service_id, _ = account.routing_keys[routing_key]
    event = ChangeEvent(id=account.ids.new("change_event"), summary=summary, timestamp=timestamp or clock.now(),
                        service_ids=[service_id], routing_key=routing_key, source=source,
                        custom_details=custom_details)
    account.change_events.append(event)
    return event
