"""The PagerDuty account the simulator holds, in memory, with the indexes every endpoint needs to answer fast.

Directory data (users, schedules, policies, services …) comes from the dataset and only
overrides change at run time; incidents, log entries, notes, alerts and change events grow
as the API is used. The whole account can be snapshotted and restored (evals reset between trials)
and written to / read from a JSON file (`serve --state FILE`).
"""

from __future__ import annotations

import itertools
import json
import pickle
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from .models import (
    Alert,
    AuditRecord,
    ChangeEvent,
    Dataset,
    EscalationPolicy,
    Incident,
    LogEntry,
    Note,
    Override,
    Priority,
    ResponderRequest,
    Schedule,
    Service,
    Team,
    Token,
    User,
)

_ID_ALPHABET = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"


class IdMaker:
    """Deterministic PagerDuty-style ids: `P` + 6 characters, with a per-kind prefix letter so they never collide."""

    def __init__(self, counter: int = 0) -> None:
        self.counter = counter

    def skip_past(self, ids: Iterable[str]) -> None:
        """Count on from the highest id of our own form among `ids`, so new ids never repeat imported ones."""
        for id_ in ids:
            if len(id_) == 7 and id_[0] == "P" and all(c in _ID_ALPHABET for c in id_[2:]):
                n = 0
                for c in id_[2:]:
                    n = n * len(_ID_ALPHABET) + _ID_ALPHABET.index(c)
                self.counter = max(self.counter, n)

    def new(self, kind: str = "") -> str:
        self.counter += 1
        n = self.counter
        chars = []
        for _ in range(5):
            n, r = divmod(n, len(_ID_ALPHABET))
            chars.append(_ID_ALPHABET[r])
        prefix = {"incident": "Q", "log_entry": "R", "note": "N", "alert": "A", "override": "O",
                  "change_event": "C", "responder_request": "D", "audit_record": "T"}.get(kind, "X")
        return "P" + prefix + "".join(reversed(chars))


@dataclass
class Account:
    """Everything one PagerDuty account holds: its directory, its incidents and their history."""

    dataset: Dataset
    tokens: dict[str, Token] = field(default_factory=dict)
    users: dict[str, User] = field(default_factory=dict)
    users_by_email: dict[str, User] = field(default_factory=dict)
    teams: dict[str, Team] = field(default_factory=dict)
    priorities: dict[str, Priority] = field(default_factory=dict)
    schedules: dict[str, Schedule] = field(default_factory=dict)
    escalation_policies: dict[str, EscalationPolicy] = field(default_factory=dict)
    services: dict[str, Service] = field(default_factory=dict)
    routing_keys: dict[str, tuple[str, str]] = field(default_factory=dict)  # key -> (service id, integration id)

    overrides: dict[str, Override] = field(default_factory=dict)
    incidents: dict[str, Incident] = field(default_factory=dict)
    incidents_by_number: dict[int, str] = field(default_factory=dict)
    open_incident_keys: dict[tuple[str, str], str] = field(default_factory=dict)  # (service, key) -> incident
    snoozes: dict[str, datetime] = field(default_factory=dict)  # incident id -> when its snooze ends
    log_entries: list[LogEntry] = field(default_factory=list)  # in creation order (= time order)
    log_entries_by_id: dict[str, LogEntry] = field(default_factory=dict)
    log_entries_by_incident: dict[str, list[LogEntry]] = field(default_factory=lambda: defaultdict(list))
    notes_by_incident: dict[str, list[Note]] = field(default_factory=lambda: defaultdict(list))
    alerts: dict[str, Alert] = field(default_factory=dict)
    alerts_by_incident: dict[str, list[Alert]] = field(default_factory=lambda: defaultdict(list))
    open_alerts: dict[tuple[str, str], str] = field(default_factory=dict)  # (routing key, dedup key) -> alert
    change_events: list[ChangeEvent] = field(default_factory=list)
    responder_requests: dict[str, ResponderRequest] = field(default_factory=dict)
    audit_records: list[AuditRecord] = field(default_factory=list)  # oldest first
    next_incident_number: int = 1
    ids: IdMaker = field(default_factory=IdMaker)

    @classmethod
    def from_dataset(cls, dataset: Dataset) -> Account:
        state = cls(dataset=dataset)
        state.tokens = {t.token: t for t in dataset.tokens}
        state.users = {u.id: u for u in dataset.users}
        state.users_by_email = {u.email.lower(): u for u in dataset.users}
        state.teams = {t.id: t for t in dataset.teams}
        state.priorities = {p.id: p for p in dataset.priorities}
        state.schedules = {s.id: s for s in dataset.schedules}
        state.escalation_policies = {p.id: p for p in dataset.escalation_policies}
        state.services = {s.id: s for s in dataset.services}
        state.routing_keys = {i.routing_key: (s.id, i.id) for s in dataset.services for i in s.integrations}
        state.overrides = {o.id: o for o in dataset.overrides}
        state.check_references()
        state._add_records(dataset)
        return state

    def _add_records(self, dataset: Dataset) -> None:
        """The incidents a dataset carries (an imported account's), indexed like ones made at run time.

        A triggered alert is deduplicated under its service's first Events API routing key.
        """
        for incident in dataset.incidents:
            self.add_incident(incident.model_copy(deep=True))
        for entry in sorted(dataset.log_entries, key=lambda e: e.created_at):
            self.add_log_entry(entry.model_copy())
        for note in dataset.notes:
            self.add_note(note.model_copy())
        for alert in dataset.alerts:
            integrations = self.services[alert.service_id].integrations if alert.service_id in self.services else []
            self.add_alert(alert.model_copy(), integrations[0].routing_key if integrations else None)
        self.ids.skip_past(itertools.chain(self.incidents, self.log_entries_by_id, self.alerts, self.overrides,
                                           (n.id for n in dataset.notes)))

    def check_references(self) -> None:
        """A dataset that points at ids it does not define is rejected at load, not at request time."""
        problems = [*self._unknown_in_services_and_policies(), *self._unknown_in_schedules(),
                    *self._unknown_in_users_and_tokens()]
        if problems:
            raise ValueError("dataset is inconsistent: " + "; ".join(problems))

    def _unknown_in_services_and_policies(self) -> Iterator[str]:
        for s in self.services.values():
            if s.escalation_policy_id not in self.escalation_policies:
                yield f"service {s.id} names unknown escalation policy {s.escalation_policy_id}"
        for p in self.escalation_policies.values():
            for t in (t for rule in p.rules for t in rule.targets):
                if t.id not in (self.users if t.type == "user_reference" else self.schedules):
                    yield f"escalation policy {p.id} targets unknown {t.type} {t.id}"

    def _unknown_in_schedules(self) -> Iterator[str]:
        for sch in self.schedules.values():
            for layer in sch.layers:
                yield from (f"schedule {sch.id} layer {layer.id} names unknown user {u}"
                            for u in layer.user_ids if u not in self.users)
        for o in self.overrides.values():
            if o.schedule_id not in self.schedules or o.user_id not in self.users:
                yield f"override {o.id} names an unknown schedule or user"

    def _unknown_in_users_and_tokens(self) -> Iterator[str]:
        for token in self.tokens.values():
            if token.user_id is not None and token.user_id not in self.users:
                yield f"a token names unknown user {token.user_id}"
        for u in self.users.values():
            yield from (f"user {u.id} names unknown team {tid}" for tid in u.team_ids if tid not in self.teams)

    # --- incident-side indexes kept in one place so every writer updates them the same way ---

    def add_incident(self, incident: Incident) -> None:
        self.incidents[incident.id] = incident
        self.incidents_by_number[incident.number] = incident.id
        self.next_incident_number = max(self.next_incident_number, incident.number + 1)
        if incident.status != "resolved":
            self.open_incident_keys[(incident.service_id, incident.incident_key)] = incident.id
        self.set_snooze(incident, incident.snoozed_until)

    def set_snooze(self, incident: Incident, until: datetime | None) -> None:
        incident.snoozed_until = until
        if until is None:
            self.snoozes.pop(incident.id, None)
        else:
            self.snoozes[incident.id] = until

    def mark_resolved(self, incident: Incident) -> None:
        if self.open_incident_keys.get((incident.service_id, incident.incident_key)) == incident.id:
            del self.open_incident_keys[(incident.service_id, incident.incident_key)]

    def mark_open(self, incident: Incident) -> None:
        self.open_incident_keys[(incident.service_id, incident.incident_key)] = incident.id

    def add_log_entry(self, entry: LogEntry) -> None:
        self.log_entries.append(entry)
        self.log_entries_by_id[entry.id] = entry
        self.log_entries_by_incident[entry.incident_id].append(entry)

    def add_note(self, note: Note) -> None:
        self.notes_by_incident[note.incident_id].append(note)

    def add_alert(self, alert: Alert, routing_key: str | None) -> None:
        self.alerts[alert.id] = alert
        self.alerts_by_incident[alert.incident_id].append(alert)
        if routing_key and alert.status == "triggered":
            self.open_alerts[(routing_key, alert.alert_key)] = alert.id

    def find_incident(self, id_or_number: str) -> Incident | None:
        """PagerDuty accepts an incident's id or its number wherever an incident id goes."""
        incident = self.incidents.get(id_or_number)
        if incident is None and id_or_number.isdigit():
            key = self.incidents_by_number.get(int(id_or_number))
            incident = self.incidents.get(key) if key else None
        return incident

    def overrides_for(self, schedule_id: str) -> list[Override]:
        return [o for o in self.overrides.values() if o.schedule_id == schedule_id]

    # --- snapshots ---

    def snapshot(self) -> Account:
        """An independent copy; restoring it undoes everything done since. A pickle round trip copies the
        models about twice as fast as `copy.deepcopy`, and every eval trial and test starts from one."""
        return pickle.loads(pickle.dumps(self, protocol=pickle.HIGHEST_PROTOCOL))

    def to_json(self) -> dict:
        """Everything that changes at run time, as plain JSON (directory data stays in the dataset)."""
        dump = lambda items: [i.model_dump(mode="json") for i in items]  # noqa: E731
        return {
            "dataset": self.dataset.model_dump(mode="json"),
            "overrides": dump(self.overrides.values()),
            "incidents": dump(self.incidents.values()),
            "log_entries": dump(self.log_entries),
            "notes": dump(itertools.chain.from_iterable(self.notes_by_incident.values())),
            "alerts": [dict(a.model_dump(mode="json"), routing_key=rk) for a, rk in self._alerts_with_keys()],
            "change_events": dump(self.change_events),
            "responder_requests": dump(self.responder_requests.values()),
            "audit_records": dump(self.audit_records),
            "id_counter": self.ids.counter,
        }

    def _alerts_with_keys(self):
        open_keys = {alert_id: rk for (rk, _), alert_id in self.open_alerts.items()}
        return [(a, open_keys.get(a.id)) for a in self.alerts.values()]

    @classmethod
    def from_json(cls, data: dict) -> Account:
        dataset = Dataset.model_validate(data["dataset"])
        # The saved records include the dataset's own incidents: add them once, from the saved lists.
        state = cls.from_dataset(dataset.model_copy(update={"history": None, "incidents": [], "log_entries": [],
                                                            "notes": [], "alerts": []}))
        state.dataset = dataset
        state.overrides = {o["id"]: Override.model_validate(o) for o in data["overrides"]}
        for item in data["incidents"]:
            state.add_incident(Incident.model_validate(item))
        for item in data["log_entries"]:
            state.add_log_entry(LogEntry.model_validate(item))
        for item in data["notes"]:
            state.add_note(Note.model_validate(item))
        for item in data["alerts"]:
            routing_key = item.pop("routing_key", None)
            state.add_alert(Alert.model_validate(item), routing_key)
        state.change_events = [ChangeEvent.model_validate(c) for c in data["change_events"]]
        state.responder_requests = {r["id"]: ResponderRequest.model_validate(r) for r in data["responder_requests"]}
        state.audit_records = [AuditRecord.model_validate(r) for r in data.get("audit_records", [])]
        state.ids = IdMaker(data["id_counter"])
        return state

    def save(self, path: Path) -> None:
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(json.dumps(self.to_json()))
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> Account:
        return cls.from_json(json.loads(path.read_text()))
