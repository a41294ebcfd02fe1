"""Deterministic incident history, made by replaying a timeline through the incident engine.

Every incident's story (trigger via REST or the Events API, maybe a timeout escalation, an
acknowledgement by whoever was paged, notes, a resolve with a resolution note) is planned with
`random.Random(spec.seed)`, then all steps of all stories run in time order on a manual clock
moved through the past. The engine writes the log entries, so history obeys the same rules as
live traffic: numbers rise with creation time, log entries are in time order, and dedup keys,
assignments and on-call all agree. The last `open_incidents` stories stop before their resolve,
leaving a mix of triggered and acknowledged incidents at "now".
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from . import incidents as engine
from .account import Account
from .clock import Clock, ManualClock
from .incidents import Actor
from .models import HistorySpec, Incident, Service

# Title templates by a keyword of the service's name; "{name}" is the service's name.
TITLES: dict[str, tuple[str, ...]] = {
    "gateway": ("{name} p99 latency above 2s", "{name} 5xx rate above 2%", "{name} TLS certificate expires in 7 days",
                "{name} upstream connection resets above 1%", "{name} rate limiter rejecting 10% of requests"),
    "payment": ("{name} 5xx rate above 1%", "Card authorization latency p95 above 3s",
                "Payment provider timeouts above 5%", "Refund queue backlog above 10,000",
                "Settlement batch job failed"),
    "checkout": ("Checkout conversion dropped 30% in 15 minutes", "{name} order submission errors above 2%",
                 "Cart service p99 latency above 1.5s", "{name} pods crash-looping"),
    "database": ("Primary database CPU above 90%", "Replication lag above 30s on db-replica-2",
                 "Connections near max_connections on db-primary", "Disk usage above 85% on db-primary",
                 "Slow queries above 500/min"),
    "cache": ("{name} hit ratio below 80%", "{name} evictions above 5,000/s", "{name} memory above 90%",
              "{name} node cache-3 unreachable"),
    "frontend": ("{name} JavaScript error rate above 3%", "{name} LCP p75 above 4s", "{name} CDN origin errors"),
    "search": ("{name} query latency p95 above 800ms", "{name} index lagging by 15 minutes", "{name} cluster yellow"),
    "auth": ("{name} login failures above 5%", "{name} token issuance p99 above 1s", "{name} SSO provider errors"),
    "queue": ("{name} consumer lag above 100,000 messages", "{name} dead-letter queue growing", "{name} broker down"),
    "notification": ("{name} email bounce rate above 4%", "{name} SMS provider errors", "{name} push backlog"),
    "pipeline": ("{name} nightly ETL run failed", "{name} warehouse load 2 hours late",
                 "{name} Kafka consumer lag above 1M messages"),
    "mobile": ("{name} crash-free sessions below 99%", "{name} 5xx rate above 2%",
               "{name} push token registrations failing"),
}
GENERIC_TITLES = ("{name} error rate above 5%", "{name} health check failing", "{name} latency p99 above SLO",
                  "{name} pods crash-looping", "{name} disk usage above 90%")
NOTES = ("Looking into it.", "Seeing it in the dashboards too; started around the last deploy.",
         "Rolled back the latest release; watching error rates.", "Scaled out to 8 replicas, latency recovering.",
         "Upstream provider confirms degradation on their status page.", "Paging the owning team for context.",
         "Mitigated: traffic shifted to the secondary region.", "Customer support reports failing checkouts.",
         "Root cause looks like an expired credential in the config map.", "Error rate back under threshold.")
RESOLUTIONS = ("Rolled back the bad release.", "Restarted the stuck workers.", "Provider recovered; no action needed.",
               "Raised the connection pool limit and redeployed.", "Failed over to the replica; primary rebuilt.",
               "Renewed the certificate.", "Fixed the misconfigured feature flag.")
SEVERITIES = ("critical", "error", "error", "warning")
OPEN_WINDOW = timedelta(hours=3)  # open incidents start within this long before now
CLOSED_MARGIN = timedelta(hours=8)  # closed stories start this long before now, so they end before it


@dataclass
class _Story:
    """One incident's plan; `incident` is filled in when its trigger step runs."""

    service: Service
    title: str
    routing_key: str | None  # set: triggered and maybe resolved through the Events API
    dedup_key: str
    creator: str
    severity: str
    incident: Incident | None = None
    responder: str | None = None  # who acknowledged, and writes the notes and resolves


def generate_history(account: Account, clock: Clock, spec: HistorySpec) -> None:
    """Add `spec.incidents` incidents over the `spec.days` before `clock.now()`, the same for the same seed."""
    services = [s for s in account.services.values() if s.status != "disabled"]
    if spec.incidents == 0 or not services:
        return
    rng = random.Random(spec.seed)
    now = clock.now()
    users = list(account.users)
    steps: list[tuple[datetime, int, str, _Story, str | None]] = []
    n_open = min(spec.open_incidents, spec.incidents)
    for number, start in enumerate(_start_times(rng, now, spec, n_open)):
        story = _story(rng, services, users, number)
        is_open = number >= spec.incidents - n_open
        if is_open:
            acknowledged = (spec.incidents - number) % 2 == 0  # open ones alternate
        else:  # monitoring sometimes resolves a flapping alert before anyone acknowledges it
            acknowledged = story.routing_key is None or rng.random() > 0.1
        for when, action, text in _plan(rng, story, start, now, spec, is_open, acknowledged):
            # Whole seconds, as PagerDuty shows them; the index keeps same-time steps in order.
            steps.append((when.replace(microsecond=0), len(steps), action, story, text))
    steps.sort(key=lambda step: (step[0], step[1]))
    past = ManualClock(steps[0][0])  # the engine acts at each step's moment, not at `now`
    for at, _, action, story, text in steps:
        past.set(at)
        _run(account, past, action, story, text)


def _start_times(rng: random.Random, now: datetime, spec: HistorySpec, n_open: int) -> list[datetime]:
    """Closed incidents spread over the window, then the open ones in the last hours; sorted."""
    latest_closed = now - CLOSED_MARGIN
    earliest = min(now - timedelta(days=spec.days), latest_closed - timedelta(hours=1))
    span = (latest_closed - earliest).total_seconds()
    closed = sorted(earliest + timedelta(seconds=rng.uniform(0, span)) for _ in range(spec.incidents - n_open))
    recent = sorted(now - OPEN_WINDOW + timedelta(seconds=rng.uniform(0, OPEN_WINDOW.total_seconds() - 1800))
                    for _ in range(n_open))
    return closed + recent


def _story(rng: random.Random, services: list[Service], users: list[str], number: int) -> _Story:
    service = rng.choice(services)
    name = service.name.lower()
    templates = next((t for word, t in TITLES.items() if word in name), GENERIC_TITLES)
    via_events = bool(service.integrations) and rng.random() < 0.45
    slug = re.sub(r"[^a-z0-9]+", "-", name).strip("-")
    return _Story(service=service, title=rng.choice(templates).format(name=service.name),
                  routing_key=rng.choice(service.integrations).routing_key if via_events else None,
                  dedup_key=f"{slug}-{number:05d}", creator=rng.choice(users), severity=rng.choice(SEVERITIES))


def _plan(rng: random.Random, story: _Story, start: datetime, now: datetime, spec: HistorySpec,
          is_open: bool, acknowledged: bool) -> list[tuple[datetime, str, str | None]]:
    """The story's steps as (time, action, text), in order; open stories stop short of resolving."""
    steps: list[tuple[datetime, str, str | None]] = [(start, "trigger", None)]
    at = start
    if not is_open and rng.random() < 0.15:
        at += timedelta(minutes=rng.randint(10, 30))
        steps.append((at, "escalate", None))
    if acknowledged:
        at += timedelta(minutes=rng.randint(2, 15))
        steps.append((at, "acknowledge", None))
        latest = now - timedelta(minutes=1) if is_open else at + timedelta(minutes=rng.randint(20, 360))
        gap = (latest - at) / (spec.extra_notes_per_incident + 1)
        for n in range(1, spec.extra_notes_per_incident + 1):
            steps.append((at + gap * n, "note", rng.choice(NOTES)))
        at = latest
    elif not is_open:
        at += timedelta(minutes=rng.randint(5, 60))
    if not is_open:
        by_events = story.routing_key is not None and (not acknowledged or rng.random() < 0.5)
        steps.append((at, "resolve_event" if by_events else "resolve", rng.choice(RESOLUTIONS)))
    return steps


def _run(account: Account, clock: Clock, action: str, story: _Story, text: str | None) -> None:
    """One step of a story, through the same engine calls live requests make."""
    if action == "trigger":
        if story.routing_key:
            alert = engine.trigger_alert(account, clock, story.routing_key, summary=story.title,
                                         severity=story.severity, source=f"{story.dedup_key.rsplit('-', 1)[0]}-prod",
                                         dedup_key=story.dedup_key)
            story.incident = account.incidents[alert.incident_id]
        else:
            story.incident = engine.create(account, clock, Actor.user(story.creator, "web_trigger"),
                                           service_id=story.service.id, title=story.title)
        return
    incident = story.incident
    assert incident is not None
    if action == "escalate" and incident.status == "triggered":
        policy = account.escalation_policies[incident.escalation_policy_id]
        if len(policy.rules) > 1:
            engine.escalate(account, clock, incident, Actor("service_reference", incident.service_id, "timeout"), 2)
    elif action == "acknowledge":
        assignees = [a.user_id for a in incident.assignments]
        story.responder = assignees[0] if assignees else story.creator
        engine.acknowledge(account, clock, incident, Actor.user(story.responder, "website"))
    elif action == "note":
        engine.add_note(account, clock, incident, Actor.user(story.responder or story.creator, "website"), text or "")
    elif action == "resolve_event":
        engine.resolve_alert(account, clock, story.routing_key, story.dedup_key)  # type: ignore[arg-type]
    elif action == "resolve":
        engine.resolve(account, clock, incident, Actor.user(story.responder or story.creator, "website"),
                       resolution=text)
