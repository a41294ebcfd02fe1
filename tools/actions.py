"""The tools' bodies: one method per tool, from checked arguments to a compact answer.

Each resolves the names the model used, calls PagerDuty through the client, and shapes the answer.
Writes are safe to repeat (a resume after a crash replays the call): each write's docstring states how,
and its declaration in `tools.registry` names the strategy."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tools import analysis
from tools import schemas as s
from tools import shapes as shape
from tools.client import MAX_WINDOW, PagerDutyClient, PageResult
from tools.errors import InvalidInput, NetworkError, NotFound, PagerDutyError, ServerError
from tools.events import EventsClient
from tools.resolve import Directory, ResolutionError, label
from tools.timeparse import TimeParseError, human, iso, parse_duration, parse_time, relative, span

OPEN = ["triggered", "acknowledged"]
DEFAULT_SINCE = timedelta(days=30)
ACCOUNT_LOG_LOOKBACK = timedelta(hours=24)
CLOCK_SKEW = timedelta(minutes=2)  # how far PagerDuty's timestamps may run behind ours
CHANGE_MARKER = "incident_commander_call"  # custom-details key that ties a change event to its tool call
ALREADY_MERGED = 1019  # PagerDuty's error code for "Incident Already Merged"
CHANGE_ATTEMPTS = 3  # change events carry no dedup key: each send is preceded by a read, so retries are ours
OVERRIDE_DRIFT = timedelta(minutes=10)  # "now"/"+8h" read again on a resumed run land this close
USER_LOOKAHEAD = timedelta(days=14)  # "when is Dana on call" looks this far ahead
SIMILAR_POOL = 200
SIMILAR_LOOKBACK = timedelta(days=180)
RELATED_BY = {"machine_learning_inferred": "alike, around the same time",  # PagerDuty's relationship types
              "service_dependency": "on a service it depends on"}


SETUP_PROBLEM = "this needs a change of settings or connection, not a retry"
"""In a tool's error text: PagerDuty cannot be used as configured (key, host, From user)."""


class ToolProblem(Exception):
    """Something the tool itself found wrong with a request; reported like a PagerDuty refusal."""

    def __init__(self, message: str, next_step: str) -> None:
        super().__init__(message)
        self.next_step = next_step


@dataclass(frozen=True)
class Call:
    """What one tool call knows besides its arguments."""

    directory: Directory
    now: datetime
    thread_id: str
    tool_call_id: str | None
    requester: str | None = None
    """Who is asking (an email or a name): PagerDuty records them as the author of a write."""
    proposed_at: datetime | None = None
    """When the planner proposed this call (None: now): whatever it wrote to PagerDuty is no older than this."""

    def since(self) -> datetime:
        """Where a replayed write looks for what this call already did (less PagerDuty's clock skew)."""
        return (self.proposed_at or self.now) - CLOCK_SKEW

    def key(self) -> str:
        """An idempotency key that is the same each time this very tool call is replayed."""
        return "ic-" + hashlib.sha256(f"{self.thread_id}:{self.tool_call_id}".encode()).hexdigest()[:32]


def incident_key(service_id: str, title: str) -> str:
    """The incident_key for "this alert on this service".

    A crash-and-resume replays the same tool call, but a planner that retries after an unclear failure,
    or a second person reporting the same alert, makes a new one. Keying by content rather than by call
    lets PagerDuty's open-key dedup turn all of them into the one open incident: no duplicate pages.
    """
    normal = " ".join(title.casefold().split())
    return "ic-" + hashlib.sha256(f"{service_id}\n{normal}".encode()).hexdigest()[:32]


class Actions:
    """One method per tool (its declaration in `tools.registry` names it): resolve what the model named, call
    PagerDuty, shape the answer."""

    def __init__(self, client: PagerDutyClient, events: EventsClient | None) -> None:
        self.client = client
        self.events = events

    # directory lookups

    def _search(self, call: Call, a: s.FindServices | s.FindUsers | s.ListEscalationPolicies, collection: str,
                shaper: Callable[[dict], dict]) -> dict:
        """A directory collection filtered by a name fragment and a team, as the find/list tools share."""
        params = {"query": a.query, "team_ids": _ids(call, "team", a.team)}
        page = self.client.list_all(f"/{collection}", collection, params, limit_items=100)
        return shape.listed(collection, page, shaper)

    def find_services(self, call: Call, a: s.FindServices) -> dict:
        return self._search(call, a, "services", shape.service)

    def get_service(self, call: Call, a: s.GetService) -> dict:
        service_id = call.directory.resolve("service", a.service)["id"]
        return shape.service(self.client.get(f"/services/{service_id}")["service"], detail=True)

    def find_users(self, call: Call, a: s.FindUsers) -> dict:
        return self._search(call, a, "users", shape.user)

    def list_escalation_policies(self, call: Call, a: s.ListEscalationPolicies) -> dict:
        return self._search(call, a, "escalation_policies", shape.policy)

    def get_escalation_policy(self, call: Call, a: s.GetEscalationPolicy) -> dict:
        policy_id = call.directory.resolve("escalation_policy", a.escalation_policy)["id"]
        return shape.policy(self.client.get(f"/escalation_policies/{policy_id}")["escalation_policy"], detail=True)

    def list_teams(self, call: Call, a: s.NoArgs) -> dict:
        return shape.listed("teams", self.client.list_all("/teams", "teams", limit_items=100), shape.named)

    def list_priorities(self, call: Call, a: s.NoArgs) -> dict:
        page = self.client.list_all("/priorities", "priorities", limit_items=100)
        return shape.listed("priorities", page, shape.named)

    # on call and schedules

    def who_is_on_call(self, call: Call, a: s.WhoIsOnCall) -> dict:
        at = parse_time(a.at, now=call.now, tz=a.time_zone, name="at") if a.at else None
        params: dict[str, Any] = {"include[]": ["users"]}
        if at is not None:
            params |= {"since": iso(at), "until": iso(at)}
            when: dict[str, Any] = {"at": iso(at)}
        elif a.user:  # "when is Dana on call": her next shifts, not only the current one
            until = call.now + USER_LOOKAHEAD
            params |= {"since": iso(call.now), "until": iso(until), "earliest": True}
            when = {"window": {"since": iso(call.now), "until": iso(until)}}
        else:
            when = {"at": iso(call.now)}
        policies = [call.directory.resolve("service", a.service)["escalation_policy"]["id"]] if a.service else []
        policies += _ids(call, "escalation_policy", a.escalation_policy)
        if a.team:
            team_id = call.directory.resolve("team", a.team)["id"]
            owned = self.client.list_all("/escalation_policies", "escalation_policies", {"team_ids": [team_id]})
            if not owned.items:
                raise ToolProblem(f"team {a.team!r} owns no escalation policy, so nobody is on call for it.",
                                  "ask about a service, schedule or escalation policy instead.")
            policies += [p["id"] for p in owned.items]
        params |= {"escalation_policy_ids": policies, "schedule_ids": _ids(call, "schedule", a.schedule),
                   "user_ids": _ids(call, "user", a.user)}
        page = self.client.list_all("/oncalls", "oncalls", params, limit_items=200)
        rows = sorted(page.items, key=lambda o: (shape.name_of(o.get("escalation_policy")) or "",
                                                 o.get("escalation_level", 0), o.get("start") or ""))
        out = when | shape.listed("oncalls", PageResult(rows, page.truncated, page.total_read), shape.oncall)
        if not rows:
            out["notice"] = ("nobody is on call for that then (a schedule in no escalation policy never shows "
                             "here; get_schedule shows its shifts)")
        return out

    def list_schedules(self, call: Call, a: s.ListSchedules) -> dict:
        page = self.client.list_all("/schedules", "schedules", {"query": a.query}, limit_items=100)
        return shape.listed("schedules", page, shape.schedule)

    def get_schedule(self, call: Call, a: s.GetSchedule) -> dict:
        schedule_id = call.directory.resolve("schedule", a.schedule)["id"]
        since, until = _window(call, a.since, a.until, default=timedelta(days=7))
        found = self.client.get(f"/schedules/{schedule_id}", {"since": iso(since), "until": iso(until),
                                                                "time_zone": "UTC"})["schedule"]
        return {"schedule": shape.schedule(found), "window": shape.span_of(since, until),
                "shifts": shape.rendered(found, "final_schedule"),
                "overrides": shape.rendered(found, "overrides_subschedule")}

    def list_overrides(self, call: Call, a: s.ListOverrides) -> dict:
        schedule = call.directory.resolve("schedule", a.schedule)
        since, until = _window(call, a.since, a.until, default=timedelta(days=7))
        found = self.overrides(schedule["id"], since, until)
        return {"schedule": shape.brief(schedule), "window": shape.span_of(since, until),
                "overrides": [shape.override(o) for o in found]}

    # incidents: reads

    def list_incidents(self, call: Call, a: s.ListIncidents) -> dict:
        statuses = a.statuses or OPEN
        params: dict[str, Any] = {"statuses": statuses, "service_ids": _ids(call, "service", a.service),
                                  "team_ids": _ids(call, "team", a.team), "user_ids": _ids(call, "user", a.assigned_to),
                                  "urgencies": [a.urgency] if a.urgency else None, "sort_by": "created_at:desc"}
        if a.since is None and a.until is None and set(statuses) <= set(OPEN):
            page = self.client.list_all("/incidents", "incidents", params | {"date_range": "all"}, limit_items=a.limit)
            return {"window": "any age (open incidents)"} | shape.listed("incidents", page, shape.incident,
                                                                         shape.NARROW)
        since, until = _window(call, a.since, a.until, default=-DEFAULT_SINCE)
        if until - since > MAX_WINDOW:  # longer than PagerDuty serves at once: cut, fetch, merge
            every = self.client.iterate_windows("/incidents", "incidents", since, until, params)
            newest = sorted(every.items, key=lambda i: i.get("created_at") or "", reverse=True)
            page = PageResult(newest[:a.limit], every.truncated or len(newest) > a.limit, every.total_read)
        else:
            page = self.client.list_all("/incidents", "incidents", params | {"since": iso(since), "until": iso(until)},
                                        limit_items=a.limit)
        return {"window": shape.span_of(since, until)} | shape.listed("incidents", page, shape.incident, shape.NARROW)

    def get_incident(self, call: Call, a: s.GetIncident) -> dict:
        """The incident in detail, with its notes and who PagerDuty notified (a responder's first questions)."""
        incident = self.incident(a.incident)
        if a.full:
            return incident
        notes = self.client.get(f"/incidents/{incident['id']}/notes")["notes"]
        logs = self.client.list_all(f"/incidents/{incident['id']}/log_entries", "log_entries", limit_items=100)
        notified = [shape.notified(e) for e in analysis.oldest_first(logs.items) if e.get("type") == "notify_log_entry"]
        return shape.incident(incident, detail=True) | shape.compact(
            {"notes": [shape.note(n) for n in sorted(notes, key=shape.created)], "notified": notified})

    def list_incident_notes(self, call: Call, a: s.IncidentRef) -> dict:
        incident_id = self._incident_id(a.incident)
        notes = self.client.get(f"/incidents/{incident_id}/notes")["notes"]
        return {"incident": incident_id, "notes": [shape.note(n) for n in sorted(notes, key=shape.created)]}

    def list_incident_alerts(self, call: Call, a: s.IncidentRef) -> dict:
        incident_id = self._incident_id(a.incident)
        page = self.client.list_all(f"/incidents/{incident_id}/alerts", "alerts", limit_items=100)
        return {"incident": incident_id} | shape.listed("alerts", page, shape.alert)

    def list_log_entries(self, call: Call, a: s.ListLogEntries) -> dict:
        out: dict[str, Any] = {}
        if a.incident:
            out["incident"] = self._incident_id(a.incident)
        if a.since or a.until or not a.incident:  # an incident's whole history unless a window is asked for
            lookback = DEFAULT_SINCE if a.incident else ACCOUNT_LOG_LOOKBACK
            out["window"] = shape.span_of(*_window(call, a.since, a.until, default=-lookback))
        path = f"/incidents/{out['incident']}/log_entries" if a.incident else "/log_entries"
        page = self.client.list_all(path, "log_entries", out.get("window"), limit_items=a.limit)
        return out | shape.listed("log_entries", page, shape.log_entry)

    def incident_timeline(self, call: Call, a: s.IncidentRef) -> dict:
        incident = self.incident(a.incident)
        logs = self.client.list_all(f"/incidents/{incident['id']}/log_entries", "log_entries", limit_items=1000)
        entries = analysis.oldest_first(logs.items)
        start = shape.moment(incident["created_at"])
        end = shape.parsed(incident.get("resolved_at")) or call.now
        changes = self.client.list_all("/change_events", "change_events",
                                       {"since": iso(start - timedelta(hours=2)), "until": iso(end)}, limit_items=100)
        service_id = incident["service"]["id"]
        out = {"incident": shape.incident(incident), **analysis.timeline(entries, start),
               "changes_nearby": [shape.change(c) for c in changes.items
                                  if any(x.get("id") == service_id for x in c.get("services") or [])]}
        if logs.truncated:
            out["notice"] = f"truncated: showing {len(entries)} of more log entries"
        return out

    def related_incidents(self, call: Call, a: s.IncidentRef) -> dict:
        """The incidents PagerDuty links to this one on other services, each with why: part of a wider outage?"""
        incident_id = self._incident_id(a.incident)
        related = []
        for found in self.client.get(f"/incidents/{incident_id}/related_incidents",
                                     {"additional_details[]": ["incident"]})["related_incidents"]:
            kinds = {x.get("type") or "related" for x in found.get("relationships") or []}
            related.append(shape.incident(found["incident"]) | {"related_by": sorted(RELATED_BY.get(k, k)
                                                                                     for k in kinds)})
        return {"incident": incident_id, "related": related}

    def similar_incidents(self, call: Call, a: s.SimilarIncidents) -> dict:
        incident = self.incident(a.incident)
        since = call.now - SIMILAR_LOOKBACK
        pool = self.client.list_all("/incidents", "incidents", {"statuses": ["resolved"], "sort_by": "created_at:desc",
                                                                 "since": iso(since), "until": iso(call.now)},
                                    limit_items=SIMILAR_POOL)
        ranked = analysis.similar(incident, pool.items)[:a.limit]
        found = []
        for match, score, past in ranked:
            logs = self.client.list_all(f"/incidents/{past['id']}/log_entries", "log_entries", {"is_overview": True},
                                        limit_items=200)
            entries = analysis.oldest_first(logs.items)
            found.append({"incident": shape.incident(past), "match": match, "score": round(score, 2),
                          **analysis.resolution(entries, shape.moment(past["created_at"])),
                          "notes": [e["note"] for e in analysis.of_type(entries, "annotate_log_entry")
                                    if e.get("note")]})
        return {"incident": shape.incident(incident),
                "searched": f"{len(pool.items)} resolved incidents since {human(since)}", "similar": found}

    # incidents: writes

    def create_incident(self, call: Call, a: s.CreateIncident) -> dict:
        """Idempotent by PagerDuty's key: the incident_key of this service and title lands a repeat on the
        open incident it opened."""
        service = call.directory.resolve("service", a.service)
        body: dict[str, Any] = {"title": a.title, "service": shape.reference(service, "service"), "urgency": a.urgency}
        if a.details:
            body["body"] = {"type": "incident_body", "details": a.details}
        if a.assignee:
            body["assignments"] = [{"assignee": shape.reference(call.directory.resolve("user", a.assignee), "user")}]
        if a.escalation_policy:
            policy = call.directory.resolve("escalation_policy", a.escalation_policy)
            body["escalation_policy"] = shape.reference(policy, "escalation_policy")
        if a.priority:
            body["priority"] = shape.reference(call.directory.resolve("priority", a.priority), "priority")
        created = self.client.create_incident(body, incident_key=incident_key(service["id"], a.title),
                                              author=self._from(call))
        out = shape.incident(created.incident, detail=True)
        if created.already_existed:
            out["unchanged"] = ("an open incident with this title on this service already exists, so nothing new "
                             "was opened and nobody was paged again; add a note or responders to it instead")
        return out

    def update_incident(self, call: Call, a: s.UpdateIncident) -> dict:
        """Idempotent by absolute arguments: a status, title, urgency, priority or assignee is a target state
        that a repeat sets again; an escalation carries its target level (pinned when proposed), and an incident
        already paged at that level is left alone."""
        incident = self.incident(a.incident) if a.action == "escalate" else None  # its assignees tell its level
        incident_id = incident["id"] if incident else self._incident_id(a.incident)
        change: dict[str, Any] = {"type": "incident_reference"}
        if a.action in ("acknowledge", "resolve", "reopen"):
            change["status"] = {"acknowledge": "acknowledged", "resolve": "resolved", "reopen": "triggered"}[a.action]
            if a.resolution:
                change["resolution"] = a.resolution
        elif a.action == "escalate" and incident is not None:
            level = a.escalation_level or self.current_level(incident) + 1
            if a.escalation_level and self._paged_at(incident, level):  # a replay after the PUT landed
                return shape.incident(incident, detail=True) | {
                    "unchanged": f"it is already escalated to level {level}; not escalated again"}
            change["escalation_level"] = level
        elif a.action == "reassign" and a.assignee:
            change["assignments"] = [{"assignee": shape.reference(call.directory.resolve("user", a.assignee), "user")}]
        elif a.action == "reassign" and a.escalation_policy:
            policy = call.directory.resolve("escalation_policy", a.escalation_policy)
            change["escalation_policy"] = shape.reference(policy, "escalation_policy")
        elif a.action == "set_priority" and a.priority:
            change["priority"] = shape.reference(call.directory.resolve("priority", a.priority), "priority")
        else:  # set_urgency or set_title: the one field the validator let through
            change |= a.model_dump(include={"urgency", "title"}, exclude_none=True)
        updated = self.client.put(f"/incidents/{incident_id}", {"incident": change}, author=self._from(call))
        return shape.incident(updated["incident"], detail=True)

    def manage_incidents(self, call: Call, a: s.ManageIncidents) -> dict:
        """Idempotent by absolute arguments: the named incidents and the status to set them to."""
        status = "acknowledged" if a.action == "acknowledge" else "resolved"
        ids = dict.fromkeys(self._incident_id(ref) for ref in dict.fromkeys(r.lstrip("#") for r in a.incidents))
        items = [{"id": incident_id, "type": "incident_reference", "status": status}
                 | ({"resolution": a.resolution} if a.resolution else {}) for incident_id in ids]
        changed = self.client.put("/incidents", {"incidents": items}, author=self._from(call))["incidents"]
        return {"incidents": [shape.incident(i) for i in changed]}

    def add_note(self, call: Call, a: s.AddNote) -> dict:
        """Idempotent by a read before the write: a note with this text by the acting user, written since the
        call was proposed, is this call's note (a replay after a crash, however late), so it is not added again."""
        incident = self.incident(a.incident)  # its number and title, for whoever reads the answer
        incident_id, shown = incident["id"], shape.incident(incident)
        me = self.author(call)["id"]
        for note in self.client.get(f"/incidents/{incident_id}/notes")["notes"]:
            written = shape.parsed(note.get("created_at"))
            if (written is not None and written >= call.since() and (note.get("user") or {}).get("id") == me
                    and _same_text(note.get("content"), a.content)):
                return {"incident": shown, "note": shape.note(note),
                        "unchanged": "this note was already added; not added twice"}
        note = self.client.post(f"/incidents/{incident_id}/notes", {"note": {"content": a.content}},
                                author=self._from(call))["note"]
        return {"incident": shown, "note": shape.note(note)}

    def add_responders(self, call: Call, a: s.AddResponders) -> dict:
        """Idempotent by a read before the write: responders the incident already asked are not asked again."""
        incident = self.incident(a.incident)
        targets = {t["id"]: t for t in (self.responder(call, ref) for ref in a.responders)}
        asked = {r.get("responder_request_target", {}).get("id") for req in incident.get("responder_requests") or []
                 for r in req.get("responder_request_targets") or []}
        asked |= {(r.get("user") or {}).get("id") for r in incident.get("incidents_responders") or []}
        new = [t for t in targets.values() if t["id"] not in asked]
        out = {"incident": shape.incident(incident), "requested": [label(t) for t in new],
               "already_requested": [label(t) for t in targets.values() if t["id"] in asked]}
        if new:
            self.client.post(f"/incidents/{incident['id']}/responder_requests", {
                "requester_id": self.author(call)["id"], "message": a.message,
                "responder_request_targets": [{"responder_request_target": {"id": t["id"], "type": t["type"]}}
                                              for t in new]}, author=self._from(call))
        return out

    def snooze_incident(self, call: Call, a: s.SnoozeIncident) -> dict:
        """Pinned and idempotent: the snooze ends when the approval card said (the proposal time plus the
        duration), however late it is approved or replayed; a snooze already reaching that end is this one."""
        incident = self.incident(a.incident)
        ends = (call.proposed_at or call.now) + parse_duration(a.duration)
        wakes = next((shape.parsed(p.get("at")) for p in incident.get("pending_actions") or []
                      if p.get("type") == "unacknowledge"), None)
        if wakes is not None and wakes >= ends - CLOCK_SKEW:
            return shape.incident(incident) | {"snoozed_until": iso(wakes),
                                               "unchanged": "it is already snoozed until then; not snoozed again"}
        seconds = int((ends - call.now).total_seconds())
        if seconds < 1:
            raise ToolProblem(f"the approved snooze was to end at {iso(ends)}, which has passed.",
                              "ask the user whether to snooze it again, and for how long.")
        snoozed = self.client.post(f"/incidents/{incident['id']}/snooze", {"duration": seconds},
                                   author=self._from(call))["incident"]
        return shape.incident(snoozed) | {"snoozed_until": iso(call.now + timedelta(seconds=seconds))}

    def merge_incidents(self, call: Call, a: s.MergeIncidents) -> dict:
        """Idempotent by a read before the write: sources already merged into the target are left out, and
        PagerDuty's "Incident Already Merged" after a retried request counts as done once the sources are read
        to be merged into this very target."""
        target = self._incident_id(a.target)
        sources = {i["id"]: i for i in (self.incident(ref) for ref in a.sources)}  # numbers and titles to report
        if target in sources:
            raise ToolProblem("the target is also listed as a source.", "list the target only as target.")
        done = [i for i, source in sources.items() if _merge_target(source) == target]
        todo = [i for i in sources if i not in done]
        if todo:
            try:
                self.client.put(f"/incidents/{target}/merge", {
                    "source_incidents": [{"id": i, "type": "incident_reference"} for i in todo]},
                    author=self._from(call))
            except InvalidInput as error:
                if error.code != ALREADY_MERGED or any(_merge_target(self.incident(i)) != target for i in todo):
                    raise
        merged = self.incident(target)
        out = {"target": {"id": merged["id"], "summary": merged.get("summary"), "html_url": merged.get("html_url")},
               "merged_and_resolved": [f"#{i.get('incident_number')} {i.get('title')} ({i['id']})"
                                       for i in sources.values()]}
        if done:
            out["unchanged"] = f"{', '.join(done)} had already been merged into {target}; not merged again"
        return out

    # schedules: writes

    def create_override(self, call: Call, a: s.CreateOverride) -> dict:
        """Idempotent by a read before the write: an override for this user at these times (pinned when
        proposed) already on the schedule is this one."""
        start, end = override_window(call.now, a.start, a.end, a.time_zone)
        schedule = call.directory.resolve("schedule", a.schedule)
        user = call.directory.resolve("user", a.user)
        slack = OVERRIDE_DRIFT if relative(a.start) or relative(a.end) else timedelta(0)
        for existing in self.overrides(schedule["id"], start - slack, end + slack):
            if (existing["user"]["id"] == user["id"] and abs(shape.moment(existing["start"]) - start) <= slack
                    and abs(shape.moment(existing["end"]) - end) <= slack):
                return {"schedule": shape.brief(schedule), "override": shape.override(existing),
                        "unchanged": "an identical override already exists; not created twice"}
        answer = self.client.post(f"/schedules/{schedule['id']}/overrides", {"overrides": [
            {"start": iso(start), "end": iso(end), "user": shape.reference(user, "user"), "time_zone": "UTC"}]},
            author=self._from(call))
        result = answer[0] if isinstance(answer, list) and answer else {}
        if result.get("status") not in (200, 201):
            raise ToolProblem(f"PagerDuty refused the override: {'; '.join(result.get('errors') or ['no reason'])}.",
                              "fix the times or the user and try again.")
        override = result["override"]
        return {"schedule": shape.brief(schedule), "override": shape.override(override),
                "length": span((end - start).total_seconds())}

    def delete_override(self, call: Call, a: s.DeleteOverride) -> dict:
        """Idempotent by its end state: an override that is no longer there was deleted (by this call's first
        attempt, or by someone else), which is what was asked."""
        schedule = call.directory.resolve("schedule", a.schedule)
        out = {"schedule": shape.brief(schedule), "deleted": a.override_id}
        try:
            answer = self.client.delete(f"/schedules/{schedule['id']}/overrides/{a.override_id}",
                                        author=self._from(call))
        except NotFound:
            return out | {"unchanged": "the override is no longer on the schedule; nothing left to delete"}
        if isinstance(answer, dict) and answer.get("override"):
            out["notice"] = f"it was already under way, so it now ends at {shape.utc(answer['override'].get('end'))}"
        return out

    # events

    def send_event(self, call: Call, a: s.SendEvent) -> dict:
        """Idempotent by PagerDuty's key: a trigger's dedup_key is the given one or this call's own, and
        acknowledge/resolve name the alert's key."""
        events, key, service = self.events_target(call, a.routing_key, a.service)
        if a.action == "trigger":
            assert a.summary and a.source, "SendEvent's validator requires both to trigger"
            result = events.trigger(key, summary=a.summary, source=a.source,
                                    severity=a.severity,  # type: ignore[arg-type]
                                    dedup_key=a.dedup_key or call.key())
        elif a.action == "acknowledge":
            result = events.acknowledge(key, a.dedup_key)  # type: ignore[arg-type]  # the validator requires it
        else:
            result = events.resolve(key, a.dedup_key)  # type: ignore[arg-type]
        return {"service": service, "action": a.action, "status": result.status, "message": result.message,
                "dedup_key": result.dedup_key}

    def send_change_event(self, call: Call, a: s.SendChangeEvent) -> dict:
        """Idempotent by a marker and a read before each send: change events have no dedup key, so the event
        carries this call's key in its custom details, and a change event with that key recorded since the
        call was proposed means it already landed (a replay after a crash, or a send whose answer was lost)."""
        events, key, service = self.events_target(call, a.routing_key, a.service)
        marker = {CHANGE_MARKER: call.key()}
        failure: PagerDutyError | None = None
        for _ in range(CHANGE_ATTEMPTS):
            if self._change_recorded(call, marker):
                return {"service": service, "status": "success",
                        "unchanged": "this change event was already recorded; not sent twice"}
            try:
                result = events.change(key, summary=a.summary, source=a.source, custom_details=marker)
            except (ServerError, NetworkError) as error:  # it may have landed: the next read tells
                failure = error
                continue
            return {"service": service, "status": result.status, "message": result.message}
        assert failure is not None
        raise failure

    def _change_recorded(self, call: Call, marker: dict[str, str]) -> bool:
        since = call.since()
        found = self.client.list_all("/change_events", "change_events",
                                     {"since": iso(since), "until": iso(max(call.now, since) + CLOCK_SKEW)})
        return any((event.get("custom_details") or {}).get(CHANGE_MARKER) == marker[CHANGE_MARKER]
                   for event in found.items)

    # shared steps

    def incident(self, ref: str) -> dict:
        return self.client.get(f"/incidents/{ref.lstrip('#')}")["incident"]

    def _incident_id(self, ref: str) -> str:
        """The id for `ref`; a number is looked up, since only GET /incidents/{id} documents accepting one."""
        ref = ref.lstrip("#")
        return self.incident(ref)["id"] if ref.isdigit() else ref

    def current_level(self, incident: dict) -> int:
        """The level the incident is at: the one level its assignees hold on its policy (1 if none).

        Assignees holding several levels leave it open which one the incident reached, and a guess
        could skip a level or escalate to one that does not exist, so the caller is asked instead.
        """
        assignees = _assignees(incident)
        if not assignees:
            return 1
        levels = sorted(level for level, users in self._on_call_levels(incident).items() if users & assignees)
        if len(levels) > 1:
            held = ", ".join(map(str, levels[:-1])) + f" and {levels[-1]}"
            policy = incident["escalation_policy"]
            raise ToolProblem(f"its assignees are on call at levels {held} of escalation policy "
                              f"{label(policy)}, so the level it is at now is unclear.",
                              "ask the user which level to escalate to, then pass it as escalation_level.")
        return levels[0] if levels else 1

    def _paged_at(self, incident: dict, level: int) -> bool:
        """Whether the incident is assigned to exactly the people on call at `level` of its policy, as an
        escalation to that level leaves it: the read that keeps a replayed escalation from paging twice."""
        assignees = _assignees(incident)
        return bool(assignees) and self._on_call_levels(incident).get(level) == assignees

    def _on_call_levels(self, incident: dict) -> dict[int, set[str]]:
        """Who is on call now at each level of the incident's escalation policy."""
        policy = incident["escalation_policy"]["id"]
        rows = self.client.list_all("/oncalls", "oncalls", {"escalation_policy_ids": [policy]})
        levels: dict[int, set[str]] = {}
        for row in rows.items:
            levels.setdefault(row.get("escalation_level") or 1, set()).add(row["user"]["id"])
        return levels

    def overrides(self, schedule_id: str, since: datetime, until: datetime) -> list[dict]:
        return self.client.get(f"/schedules/{schedule_id}/overrides",
                               {"since": iso(since), "until": iso(until), "overflow": True})["overrides"]

    def author(self, call: Call) -> dict:
        """The PagerDuty user a write is made as: who is asking, else the configured `From` (or the
        token's own user). Someone asking without a PagerDuty user of their own is refused, so a
        change is never recorded under somebody else's name."""
        if not call.requester:
            return call.directory.resolve("user", self.client.from_email())
        try:
            return call.directory.resolve("user", call.requester)
        except ResolutionError:
            raise ToolProblem(f"{call.requester} has no PagerDuty user, so PagerDuty could not record who made "
                              "this change.", f"ask as someone PagerDuty knows, by their PagerDuty email; "
                              f"{SETUP_PROBLEM}: tell the user.") from None

    def _from(self, call: Call) -> str:
        """The `From` email of a write."""
        return self.author(call)["email"]

    def responder(self, call: Call, ref: str) -> dict:
        """A user or an escalation policy; a name fitting both is refused rather than guessed."""
        found = []
        for kind in ("user", "escalation_policy"):
            try:
                found.append(call.directory.resolve(kind, ref) | {"type": f"{kind}_reference"})
            except ResolutionError as error:
                if error.candidates:
                    raise
        if len(found) == 1:
            return found[0]
        if found:
            raise ResolutionError(f"{ref!r} names both {label(found[0])} (user) and {label(found[1])} "
                                  "(escalation policy); pass one id.", kind="responder", ref=ref, candidates=found)
        raise ResolutionError(f"No user or escalation policy matches {ref!r}. Call find_users or "
                              "list_escalation_policies to see them and their ids.", kind="responder", ref=ref)

    def events_target(self, call: Call, routing_key: str | None, service_ref: str | None
                       ) -> tuple[EventsClient, str, str | None]:
        if self.events is None:
            raise ToolProblem("no Events API client is configured.", "tell the user; this needs configuration.")
        if routing_key:
            return self.events, routing_key, None
        service = call.directory.resolve("service", service_ref)  # type: ignore[arg-type]
        found = self.client.get(f"/services/{service['id']}", {"include[]": ["integrations"]})["service"]
        keys = [i["integration_key"] for i in found.get("integrations") or []
                if i.get("integration_key") and "events_api_v2" in (i.get("type") or "")]
        if not keys:
            raise ToolProblem(f"{label(service)} has no Events API v2 integration.",
                              "give routing_key, or create an incident with create_incident instead.")
        return self.events, keys[0], label(service)


def override_window(now: datetime, start: str, end: str, tz: str | None) -> tuple[datetime, datetime]:
    """Start and end of cover; an end like '+8h' counts from the start."""
    begins = parse_time(start, now=now, tz=tz, name="start")
    ends = parse_time(end, now=now, tz=tz, base=begins, name="end")
    if ends <= begins:
        raise TimeParseError(f"the end ({iso(ends)}) must be after the start ({iso(begins)})")
    return begins, ends


def _ids(call: Call, kind: str, ref: str | None) -> list[str]:
    """The id `ref` names, as a filter list (empty, hence no filter, when nothing was named)."""
    return [call.directory.resolve(kind, ref)["id"]] if ref else []


def _window(call: Call, since: str | None, until: str | None, default: timedelta) -> tuple[datetime, datetime]:
    """A since/until pair in UTC. `default` is the length used for the missing side: negative means the
    window ends at `until` (default now) and looks back; positive means it starts at `since` (default now)."""
    if default < timedelta(0):
        end = parse_time(until, now=call.now, name="until") if until else call.now
        begin = parse_time(since, now=call.now, past=True, name="since") if since else end + default
    else:
        begin = parse_time(since, now=call.now, past=True, name="since") if since else call.now
        end = parse_time(until, now=call.now, base=begin, name="until") if until else begin + default
    if end <= begin:
        raise TimeParseError(f"the window ends ({iso(end)}) before it starts ({iso(begin)})")
    return begin, end


def _merge_target(incident: dict) -> str | None:
    """The incident this one was merged into, if any (PagerDuty's merge resolve reason)."""
    reason = incident.get("resolve_reason") or {}
    return (reason.get("incident") or {}).get("id") if reason.get("type") == "merge_resolve_reason" else None


def _assignees(incident: dict) -> set[str]:
    return {x["assignee"]["id"] for x in incident.get("assignments") or []}


def _same_text(a: Any, b: str) -> bool:
    return isinstance(a, str) and " ".join(a.split()) == " ".join(b.split())
