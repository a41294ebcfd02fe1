"""Whether a write can run as proposed, checked against PagerDuty's state before anyone is asked.

A person asked to approve something that cannot happen (no such incident, already resolved, no level
left to escalate to, an override that ended in the past) learns to click without reading. So every
write tool has one check here, run before its approval card is built:

- it raises (`ToolProblem`, `ResolutionError`, `TimeParseError`, `PagerDutyError`) when the change
  cannot run as shown; the planner reads why, and nobody is asked;
- it returns a result when the change is already in place (an open incident for the same alert, an
  incident already resolved): that is the answer, and nobody is asked or paged again;
- it returns None when the change would run as shown.

Who is asking must be a PagerDuty user too, since PagerDuty records them as the author of the change
(`Actions.author`, asked before the tool's own check).

A write whose arguments mean different things at different times ("next level", "+8h") also has a pin
here, run before its check, that makes them absolute, so a late or repeated run does only what was approved.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tools import schemas as s
from tools import shapes as shape
from tools.actions import Actions, Call, ToolProblem, incident_key, override_window
from tools.resolve import label
from tools.timeparse import human, iso, parse_duration

Settled = dict[str, Any]
"""A write's answer when the change is already in place: what a run would have returned."""

STATUS_AFTER = {"acknowledge": "acknowledged", "resolve": "resolved"}
OVERRIDE_LOOKAHEAD = timedelta(days=366)  # how far ahead an override to delete is looked for


class Preconditions:
    """One check per write tool; each write's declaration in `tools.registry` names its method."""

    def __init__(self, actions: Actions) -> None:
        self.actions = actions
        self.client = actions.client

    # --- incidents ---

    def create_incident(self, call: Call, a: s.CreateIncident) -> Settled | None:
        service = call.directory.resolve("service", a.service)
        for kind, ref in (("user", a.assignee), ("escalation_policy", a.escalation_policy), ("priority", a.priority)):
            if ref:
                call.directory.resolve(kind, ref)
        existing = self.client.find_open_incident(incident_key(service["id"], a.title), service["id"])
        if existing is None:
            return None
        return shape.incident(existing, detail=True) | {
            "unchanged": "this alert is already open on this service, so nothing new was opened and nobody was "
                         "paged again"}

    def update_incident(self, call: Call, a: s.UpdateIncident) -> Settled | None:
        incident = self.actions.incident(a.incident)
        status, number = incident.get("status"), incident.get("incident_number")
        if a.action == "resolve" and status == "resolved":
            return _unchanged(incident, "it is already resolved")
        if a.action == "reopen":
            if status != "resolved":
                return _unchanged(incident, f"it is still open ({status})")
            return None
        if status == "resolved":
            raise ToolProblem(f"incident #{number} is already resolved.",
                              "reopen it first if it needs more work, or pick an open incident.")
        if a.action == "acknowledge" and status == "acknowledged":
            return _unchanged(incident, "it is already acknowledged")
        if a.action == "set_urgency" and incident.get("urgency") == a.urgency:
            return _unchanged(incident, f"its urgency is already {a.urgency}")
        if a.action == "escalate":
            self._escalation_target(incident, a.escalation_level)
        elif a.action == "reassign" and a.assignee:
            call.directory.resolve("user", a.assignee)
        elif a.action == "reassign" and a.escalation_policy:
            call.directory.resolve("escalation_policy", a.escalation_policy)
        elif a.action == "set_priority" and a.priority:
            call.directory.resolve("priority", a.priority)
        return None

    def manage_incidents(self, call: Call, a: s.ManageIncidents) -> Settled | None:
        incidents = [self.actions.incident(ref) for ref in dict.fromkeys(r.lstrip("#") for r in a.incidents)]
        target = STATUS_AFTER[a.action]
        if a.action == "acknowledge":
            resolved = [f"#{i.get('incident_number')}" for i in incidents if i.get("status") == "resolved"]
            if resolved:
                raise ToolProblem(f"{', '.join(resolved)} already resolved, so cannot be acknowledged.",
                                  "leave the resolved incidents out and call again.")
        if all(i.get("status") == target for i in incidents):
            return {"incidents": [shape.incident(i) for i in incidents],
                    "unchanged": f"every one of them is already {target}; nothing was changed"}
        return None

    def add_note(self, call: Call, a: s.AddNote) -> Settled | None:
        self.actions.incident(a.incident)
        return None

    def add_responders(self, call: Call, a: s.AddResponders) -> Settled | None:
        incident = self.actions.incident(a.incident)
        if incident.get("status") == "resolved":
            raise ToolProblem(f"incident #{incident.get('incident_number')} is resolved; nobody can be asked to "
                              "join it.", "reopen it first, or pick an open incident.")
        for ref in a.responders:
            self.actions.responder(call, ref)
        return None

    def snooze_incident(self, call: Call, a: s.SnoozeIncident) -> Settled | None:
        parse_duration(a.duration)
        incident = self.actions.incident(a.incident)
        if incident.get("status") != "acknowledged":  # PagerDuty snoozes acknowledged incidents only
            raise ToolProblem(f"incident #{incident.get('incident_number')} is {incident.get('status')}; only an "
                              "acknowledged incident can be snoozed.", "acknowledge it first, then snooze it.")
        return None

    def merge_incidents(self, call: Call, a: s.MergeIncidents) -> Settled | None:
        target = self.actions.incident(a.target)
        sources = [self.actions.incident(ref) for ref in a.sources]
        if any(source["id"] == target["id"] for source in sources):
            raise ToolProblem(f"incident #{target.get('incident_number')} is both the target and a source.",
                              "name the incident to keep as target and only the others as sources.")
        if target.get("status") == "resolved":
            raise ToolProblem(f"incident #{target.get('incident_number')} is resolved; nothing can be merged "
                              "into it.", "merge into an open incident, or reopen this one first.")
        return None

    # --- schedules ---

    def create_override(self, call: Call, a: s.CreateOverride) -> Settled | None:
        _start, end = override_window(call.now, a.start, a.end, a.time_zone)
        if end <= call.now:
            raise ToolProblem(f"the cover would end at {human(end)}, which has already passed.",
                              "give an end time in the future.")
        call.directory.resolve("schedule", a.schedule)
        call.directory.resolve("user", a.user)
        return None

    def delete_override(self, call: Call, a: s.DeleteOverride) -> Settled | None:
        schedule = call.directory.resolve("schedule", a.schedule)
        now = call.now
        overrides = self.actions.overrides(schedule["id"], now, now + OVERRIDE_LOOKAHEAD)
        if not any(o.get("id") == a.override_id for o in overrides):
            raise ToolProblem(f"schedule {label(schedule)} has no current or coming override {a.override_id}.",
                              "call list_overrides to see the schedule's overrides and their ids.")
        return None

    # --- events ---

    def send_event(self, call: Call, a: s.SendEvent) -> Settled | None:
        self.actions.events_target(call, a.routing_key, a.service)
        return None

    def send_change_event(self, call: Call, a: s.SendChangeEvent) -> Settled | None:
        self.actions.events_target(call, a.routing_key, a.service)
        return None

    # --- pins: the arguments made absolute, as the approval card will show them ---

    def pin_escalation(self, call: Call, a: s.UpdateIncident) -> dict[str, Any]:
        """"Escalate to the next level" becomes the level that is next now: run again after a crash, it finds
        the incident already there rather than escalating once more."""
        if a.action != "escalate" or a.escalation_level:
            return a.model_dump(exclude_unset=True)
        level = self.actions.current_level(self.actions.incident(a.incident)) + 1
        return a.model_dump(exclude_unset=True) | {"escalation_level": level}

    def pin_override(self, call: Call, a: s.CreateOverride) -> dict[str, Any]:
        """An override's times ('09:00', 'tomorrow', '+8h', 'now') become the UTC instants they mean now, so a
        late approval cannot move the cover."""
        start, end = override_window(call.now, a.start, a.end, a.time_zone)
        return a.model_dump(exclude_unset=True, exclude={"time_zone"}) | {"start": iso(start), "end": iso(end)}

    # --- shared ---

    def _escalation_target(self, incident: dict, level: int | None) -> int:
        """The level an escalation would reach; a `ToolProblem` when the policy has no such level."""
        target = level or self.actions.current_level(incident) + 1
        policy = self.client.get(f"/escalation_policies/{incident['escalation_policy']['id']}")["escalation_policy"]
        levels = len(policy.get("escalation_rules") or [])
        if target > levels:
            raise ToolProblem(f"incident #{incident.get('incident_number')}'s escalation policy "
                              f"{shape.name_of(policy)} has {levels} level(s), so there is no level {target} to "
                              "escalate to.", "add responders or reassign it instead.")
        return target


def _unchanged(incident: dict, why: str) -> Settled:
    return shape.incident(incident, detail=True) | {"unchanged": f"{why}; nothing was changed"}
