"""The one-sentence descriptions of writes that a person approves or rejects.

A sentence names things the way people do (titles, names, emails) and says what will happen, such as
who a new incident pages right now, so the approver never has to decode ids.
"""

from __future__ import annotations

from tools import schemas as s
from tools import shapes as shape
from tools.actions import Actions, Call, override_window
from tools.resolve import label
from tools.timeparse import iso, local, parse_duration, span
from tools.timeparse import zone as tz


class Sentences:
    """One sentence per write, with names and current on-call filled in, and times in the approver's zone
    (`time_zone`, with UTC beside them); each write's declaration in `tools.registry` names its method. A
    sentence only describes: whether the write can run at all is its precondition's business, asked first."""

    def __init__(self, actions: Actions, time_zone: str | None = None) -> None:
        self.actions = actions
        self.client = actions.client
        self.time_zone = time_zone

    def create_incident(self, call: Call, a: s.CreateIncident) -> str:
        service = call.directory.resolve("service", a.service)
        head = f"Create a {a.urgency.upper()}-urgency incident {a.title!r} on {label(service)}"
        if a.assignee:
            who = f"assigned to {self._user(call, a.assignee)}"
        else:
            chosen = call.directory.resolve("escalation_policy", a.escalation_policy) if a.escalation_policy else None
            policy = chosen or service["escalation_policy"]
            why = (f"first level of {shape.name_of(policy)} now" if chosen
                   else f"on call for {shape.name_of(service)} now")
            paged = self._paged_now(policy["id"])
            who = (f"assigned to {' and '.join(paged)} ({why})" if paged
                   else f"paging {shape.name_of(policy)} (nobody is on call at its first level now)")
        priority = f", priority {shape.name_of(call.directory.resolve('priority', a.priority))}" if a.priority else ""
        return f"{head}, {who}{priority}."

    def update_incident(self, call: Call, a: s.UpdateIncident) -> str:
        what = self._which(a.incident)
        sentences = {
            "acknowledge": f"Acknowledge {what}.", "reopen": f"Reopen {what} (it pages again).",
            "resolve": f"Resolve {what}" + (f" with resolution {a.resolution!r}." if a.resolution else "."),
            "escalate": self._escalation(a) if a.action == "escalate" else "",
            "set_urgency": f"Set the urgency of {what} to {a.urgency}.",
            "set_title": f"Rename {what} to {a.title!r}.",
        }
        if a.action == "reassign" and a.assignee:
            return f"Reassign {what} to {self._user(call, a.assignee)}."
        if a.action == "reassign" and a.escalation_policy:
            policy = call.directory.resolve("escalation_policy", a.escalation_policy)
            return f"Reassign {what} to escalation policy {label(policy)}."
        if a.action == "set_priority" and a.priority:
            return f"Set the priority of {what} to {shape.name_of(call.directory.resolve('priority', a.priority))}."
        return sentences[a.action]

    def _escalation(self, a: s.UpdateIncident) -> str:
        """'Escalate incident #268 … to level 2, paging Bilal Khan.'"""
        incident = self.actions.incident(a.incident)
        level = a.escalation_level or self.actions.current_level(incident) + 1
        rows = self.client.list_all("/oncalls", "oncalls", {
            "escalation_policy_ids": [incident["escalation_policy"]["id"]]}).items
        woken = shape.names(r["user"] for r in rows if r.get("escalation_level") == level)
        who = f", paging {' and '.join(woken)}" if woken else " (nobody is on call at that level now)"
        return f"Escalate {self._describe(incident)} to level {level}{who}."

    def manage_incidents(self, call: Call, a: s.ManageIncidents) -> str:
        shown = [self._which(ref) for ref in a.incidents[:5]]
        more = f" and {len(a.incidents) - 5} more" if len(a.incidents) > 5 else ""
        note = f" with resolution {a.resolution!r}" if a.resolution else ""
        return f"{a.action.capitalize()} {len(a.incidents)} incident(s): {'; '.join(shown)}{more}{note}."

    def add_note(self, call: Call, a: s.AddNote) -> str:
        content = a.content if len(a.content) <= 200 else a.content[:199] + "…"
        return f"Add a note to {self._which(a.incident)}: {content!r}."

    def add_responders(self, call: Call, a: s.AddResponders) -> str:
        who = ", ".join(label(self.actions.responder(call, ref)) for ref in a.responders)
        return f"Page {who} to join {self._which(a.incident)}, with the message {a.message!r}."

    def snooze_incident(self, call: Call, a: s.SnoozeIncident) -> str:
        length = parse_duration(a.duration)
        incident = self.actions.incident(a.incident)
        return (f"Snooze {self._describe(incident)} for {span(length.total_seconds())} "
                f"(until about {local(call.now + length, self.time_zone)}); it pages again after that.")

    def merge_incidents(self, call: Call, a: s.MergeIncidents) -> str:
        sources = "; ".join(self._which(ref) for ref in a.sources)
        return f"Merge {sources} into {self._which(a.target)}; the merged incidents are resolved."

    def create_override(self, call: Call, a: s.CreateOverride) -> str:
        start, end = override_window(call.now, a.start, a.end, a.time_zone)
        schedule = call.directory.resolve("schedule", a.schedule)
        zone = tz(self.time_zone)
        until = local(end, self.time_zone)
        until = until[11:] if start.astimezone(zone).date() == end.astimezone(zone).date() else until
        rows = self.client.list_all("/oncalls", "oncalls", {"schedule_ids": [schedule["id"]], "since": iso(start),
                                                             "until": iso(start)}).items
        replaced = shape.names(r["user"] for r in rows if r.get("user"))
        instead = f", instead of {' and '.join(replaced)}" if replaced else ""
        return (f"Cover schedule {shape.name_of(schedule)!r} ({schedule['id']}) with {self._user(call, a.user)} "
                f"from {local(start, self.time_zone)} to {until} ({span((end - start).total_seconds())}){instead}.")

    def delete_override(self, call: Call, a: s.DeleteOverride) -> str:
        schedule = call.directory.resolve("schedule", a.schedule)
        return (f"Delete override {a.override_id} from schedule {shape.name_of(schedule)!r} ({schedule['id']}); "
                "the normal rotation covers that time again.")

    def send_event(self, call: Call, a: s.SendEvent) -> str:
        where = label(call.directory.resolve("service", a.service)) if a.service else "the given integration key"
        if a.action == "trigger":
            return (f"Send a TRIGGER event {a.summary!r} (severity {a.severity}) from {a.source!r} to {where}; "
                    "it can open an incident and page the on-call.")
        return f"Send a {a.action.upper()} event for dedup key {a.dedup_key!r} to {where}."

    def send_change_event(self, call: Call, a: s.SendChangeEvent) -> str:
        where = label(call.directory.resolve("service", a.service)) if a.service else "the given integration key"
        return f"Record the change {a.summary!r} on {where}'s timeline (pages nobody)."

    def _which(self, ref: str) -> str:
        """'incident #1234 'Payments 5xx' on Payments API'."""
        return self._describe(self.actions.incident(ref))

    @staticmethod
    def _describe(incident: dict) -> str:
        return (f"incident #{incident.get('incident_number')} {incident.get('title')!r} "
                f"on {shape.name_of(incident.get('service'))}")

    def _user(self, call: Call, ref: str) -> str:
        user = call.directory.resolve("user", ref)
        return f"{shape.name_of(user)} ({user.get('email') or user['id']})"

    def _paged_now(self, policy_id: str) -> list[str]:
        """Who the policy's first level pages right now."""
        rows = self.client.list_all("/oncalls", "oncalls", {"escalation_policy_ids": [policy_id]}).items
        return shape.names(r["user"] for r in rows if r.get("escalation_level") == 1)
