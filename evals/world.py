"""A scenario's world: a fresh in-process simulator at the scenario's "now", set up through the API.

Every trial (and the gold replay) gets its own copy of the account, restored from a snapshot that is
built once per dataset and time, so trials never see each other's changes. Setup actions go through
PagerDuty's public REST and Events APIs, like any integration would; what they create is named for
`{{name.field}}` placeholders. Fault rules are added only after the setup, so they hit the agent alone.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import Any

from agent.embedded import demo_credentials
from evals.scenario import Pick, ScenarioError, SetupAction, World
from simulator import Account, ManualClock, Simulator
from simulator.datasets import load_dataset
from tools.client import PagerDutyClient
from tools.events import EventsClient
from tools.settings import PagerDutySettings
from tools.timeparse import parse_duration

_SNAPSHOTS: dict[tuple[str, str], Account] = {}
_SNAPSHOTS_LOCK = threading.Lock()
_PLACEHOLDER = re.compile(r"\{\{\s*([a-z_][a-z0-9_]*)\.([a-z_]+)\s*\}\}")


@dataclass
class WorldRun:
    """One live copy of a scenario's world, ready for the agent (or the gold replay)."""

    sim: Simulator
    clock: ManualClock
    bindings: dict[str, dict[str, Any]]
    settings: PagerDutySettings
    start: int = 0
    """Position in the simulator's request log where the agent's own requests begin."""


def build_world(world: World) -> WorldRun:
    """A fresh simulator for `world`, its setup done and its faults armed."""
    clock = ManualClock(world.now)
    sim = Simulator(_snapshot(world).snapshot(), clock)
    bindings: dict[str, dict[str, Any]] = {}
    for number, action in enumerate(world.setup, start=1):
        try:
            result = _Setup(sim, clock).run(action, bindings)
        except ScenarioError:
            raise
        except Exception as exc:  # a setup the simulator refuses is a broken scenario, said plainly
            raise ScenarioError(f"setup action {number} failed: {exc}") from None
        if action.name:
            bindings[action.name] = result
    for rule in world.faults:
        sim.faults.add(rule.model_copy(deep=True))
    return WorldRun(sim=sim, clock=clock, bindings=bindings, settings=agent_settings(world, sim),
                    start=len(sim.request_log))


def agent_settings(world: World, sim: Simulator) -> PagerDutySettings:
    """No key (the demo organisation's full token), or the dataset's read-only account key."""
    if world.token == "full":
        return PagerDutySettings(api_key=None)
    token = next((t for t in sim.state.dataset.tokens if t.kind == "account" and t.access == "read-only"), None)
    if token is None:
        raise ScenarioError(f"dataset {world.dataset!r} has no read-only account token")
    return PagerDutySettings(api_key=token.token, from_email=sim.state.dataset.users[0].email)


def render(value: Any, bindings: dict[str, dict[str, Any]]) -> Any:
    """`value` with every `{{name.field}}` filled in (strings, lists and mappings, recursively)."""
    if isinstance(value, str):
        def fill(m: re.Match[str]) -> str:
            name, key = m.groups()
            if name not in bindings:
                raise ScenarioError(f"placeholder {m.group(0)}: no setup action is named {name!r} "
                                    f"(named: {', '.join(bindings) or 'none'})")
            if key not in bindings[name]:
                raise ScenarioError(f"placeholder {m.group(0)}: {name!r} has no field {key!r} "
                                    f"(fields: {', '.join(bindings[name])})")
            return str(bindings[name][key])
        return _PLACEHOLDER.sub(fill, value)
    if isinstance(value, list):
        return [render(v, bindings) for v in value]
    if isinstance(value, dict):
        return {k: render(v, bindings) for k, v in value.items()}
    return value


def _snapshot(world: World) -> Account:
    key = (world.dataset, world.now.isoformat())
    with _SNAPSHOTS_LOCK:
        if key not in _SNAPSHOTS:
            try:
                dataset = load_dataset(world.dataset)
            except Exception as exc:
                raise ScenarioError(f"dataset {world.dataset!r} cannot be loaded: {exc}") from None
            _SNAPSHOTS[key] = Simulator.from_dataset(dataset, clock=ManualClock(world.now)).snapshot()
        return _SNAPSHOTS[key]


class _Setup:
    """Runs setup actions as the dataset's users, through the simulator's HTTP APIs."""

    def __init__(self, sim: Simulator, clock: ManualClock) -> None:
        self.sim = sim
        self.clock = clock

    def run(self, action: SetupAction, bindings: dict[str, dict[str, Any]]) -> dict[str, Any]:
        action = SetupAction.model_validate(render(action.model_dump(by_alias=True, exclude_none=True), bindings))
        if action.advance is not None:
            self.clock.advance(parse_duration(action.advance).total_seconds())
            return {"now": self.clock.now().isoformat()}
        if action.pick is not None:
            return self._incident(self._pick(action.pick))
        if action.event is not None:
            return self._event(action.event)
        with self._client(action) as client:
            if (new := action.incident) is not None:
                body: dict[str, Any] = {"type": "incident", "title": new.title, "urgency": new.urgency,
                                        "service": {"id": self._service(new.service), "type": "service_reference"}}
                if new.assignee:
                    body["assignments"] = [{"assignee": {"id": self._user(new.assignee), "type": "user_reference"}}]
                if new.details:
                    body["body"] = {"type": "incident_body", "details": new.details}
                created = client.post("/incidents", {"incident": body})["incident"]
                return self._incident(self.sim.state.incidents[created["id"]].model_dump())
            if (update := action.update) is not None:
                change: dict[str, Any] = {"type": "incident_reference", "status": update.status}
                if update.resolution:
                    change["resolution"] = update.resolution
                changed = client.put(f"/incidents/{update.incident}", {"incident": change})["incident"]
                return self._incident(self.sim.state.incidents[changed["id"]].model_dump())
            note = action.note
            assert note is not None
            client.post(f"/incidents/{note.incident}/notes", {"note": {"content": note.content}})
            return {"incident": note.incident}

    def _client(self, action: SetupAction) -> PagerDutyClient:
        by = next((a.by for a in (action.update, action.note) if a is not None and a.by), None)
        credentials = demo_credentials() | ({"from_email": by} if by else {})
        return PagerDutyClient(PagerDutySettings(api_key=None), transport=self.sim.transport(), **credentials,
                               sleep=self.clock.advance, monotonic=lambda: self.clock.now().timestamp())

    def _event(self, event: Any) -> dict[str, Any]:
        service = self.sim.state.services[self._service(event.service)]
        if not service.integrations:
            raise ScenarioError(f"service {service.name!r} has no Events API integration")
        routing_key = service.integrations[0].routing_key
        with EventsClient(PagerDutySettings(api_key=None), transport=self.sim.transport(),
                          sleep=self.clock.advance, monotonic=lambda: self.clock.now().timestamp()) as events:
            sent = events.trigger(routing_key, summary=event.summary, source=event.source, severity=event.severity,
                                  dedup_key=event.dedup_key, custom_details=event.custom_details)
        assert sent.dedup_key is not None, "PagerDuty names the alert a trigger opened"
        alert = self.sim.state.alerts[self.sim.state.open_alerts[(routing_key, sent.dedup_key)]]
        return self._incident(self.sim.state.incidents[alert.incident_id].model_dump()) | {
            "dedup_key": sent.dedup_key, "routing_key": routing_key}

    def _pick(self, pick: Pick) -> dict[str, Any]:
        state = self.sim.state
        service = self._service(pick.service) if pick.service else None
        found = sorted((i for i in state.incidents.values()
                        if (pick.status is None or i.status == pick.status)
                        and (service is None or i.service_id == service)
                        and (pick.title_contains is None or pick.title_contains.lower() in i.title.lower())),
                       key=lambda i: i.number)
        if len(found) <= pick.index:
            raise ScenarioError(f"pick {pick.model_dump(exclude_none=True)}: only {len(found)} incident(s) match")
        return found[pick.index].model_dump()

    def _incident(self, incident: dict[str, Any]) -> dict[str, Any]:
        service = self.sim.state.services[incident["service_id"]]
        return {"id": incident["id"], "number": incident["number"], "title": incident["title"],
                "status": incident["status"], "service": service.name, "service_id": service.id}

    def _service(self, ref: str) -> str:
        return _lookup(self.sim.state.services, ref, "service")

    def _user(self, ref: str) -> str:
        users = self.sim.state.users_by_email
        if ref.lower() in users:
            return users[ref.lower()].id
        return _lookup(self.sim.state.users, ref, "user")


def _lookup(entities: dict[str, Any], ref: str, kind: str) -> str:
    """An id, or the id of the entity with exactly this name."""
    if ref in entities:
        return ref
    found = [key for key, e in entities.items() if e.name.lower() == ref.lower()]
    if len(found) != 1:
        raise ScenarioError(f"setup names {kind} {ref!r}, which the dataset does not have exactly once")
    return found[0]
