"""Arithmetic on incident history that the model should not do: timelines, durations, similar incidents."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from tools import shapes as shape
from tools.timeparse import iso

TITLE_OVERLAP = 0.5  # share of title words two incidents must have in common to count as similar
SAME_SERVICE_TITLE_OVERLAP = 0.34  # a lower bar when they are on the same service
SIMILAR_GROUPS = ("same service, similar title", "similar title", "same service")
_STOP_WORDS = frozenset({"a", "an", "the", "on", "in", "of", "to", "for", "and", "is", "above", "below", "than",
                         "over", "under", "by", "at", "with"})


def timeline(entries: list[dict], start: datetime) -> dict:
    """An incident's story from its log entries: minutes to first ack and to resolve, per-responder
    acknowledgements, escalations, notes and the resolution, all measured from the trigger."""
    acks: dict[str, dict] = {}
    for entry in of_type(entries, "acknowledge_log_entry"):
        acks.setdefault(shape.name_of(entry.get("agent")) or "unknown",
                        {"at": shape.utc(entry["created_at"]), "minutes_after_trigger": minutes_after(entry, start)})
    first_ack = of_type(entries, "acknowledge_log_entry")[:1]
    return {
        "triggered_at": iso(start),
        "minutes_to_first_ack": minutes_after(first_ack[0], start) if first_ack else None,
        **resolution(entries, start),
        "acknowledged_by": [{"user": who} | seen for who, seen in acks.items()],
        "escalations": [{"at": shape.utc(e["created_at"]), "minutes_after_trigger": minutes_after(e, start),
                         "summary": e.get("summary")} for e in of_type(entries, "escalate_log_entry")],
        "notes": [{"at": shape.utc(e["created_at"]), "by": shape.name_of(e.get("agent")), "content": e.get("note")}
                  for e in of_type(entries, "annotate_log_entry")],
        "entries": [shape.log_entry(e) | {"minutes_after_trigger": minutes_after(e, start)} for e in entries],
    }


def resolution(entries: list[dict], start: datetime) -> dict:
    """How an incident ended: who resolved it, after how many minutes, and with what resolution note."""
    resolved = of_type(entries, "resolve_log_entry")[-1:]
    if not resolved:
        return {"minutes_to_resolve": None}
    return {"minutes_to_resolve": minutes_after(resolved[0], start),
            "resolved_by": shape.name_of(resolved[0].get("agent")), "resolution": resolved[0].get("note")}


def similar(incident: dict, pool: Iterable[dict]) -> list[tuple[str, float, dict]]:
    """Past incidents like `incident` as (match, title overlap, incident): same service with a similar
    title first, then similar titles elsewhere, then the rest of the service; newest first in each group."""
    words = _title_words(incident.get("title"))
    service = (incident.get("service") or {}).get("id")
    found = []
    for past in pool:
        if past.get("id") == incident.get("id"):
            continue
        other = _title_words(past.get("title"))
        score = len(words & other) / len(words | other) if words | other else 0.0
        same = (past.get("service") or {}).get("id") == service
        match = ("same service, similar title" if same and score >= SAME_SERVICE_TITLE_OVERLAP
                 else "similar title" if score >= TITLE_OVERLAP else "same service" if same else None)
        if match:
            found.append((match, score, past))
    found.sort(key=lambda row: row[2].get("created_at") or "", reverse=True)
    return sorted(found, key=lambda row: SIMILAR_GROUPS.index(row[0]))  # stable: newest first within a group


def of_type(entries: list[dict], kind: str) -> list[dict]:
    return [e for e in entries if e.get("type") == kind]


def minutes_after(entry: dict, start: datetime) -> float:
    return round((shape.moment(entry["created_at"]) - start).total_seconds() / 60, 1)


def oldest_first(entries: list[dict]) -> list[dict]:
    """Log entries (listed newest first) in time order, keeping PagerDuty's order within one second."""
    return sorted(reversed(entries), key=shape.created)


def _title_words(title: Any) -> set[str]:
    return {w for w in re.findall(r"[a-z][a-z0-9]+", str(title or "").lower()) if w not in _STOP_WORDS}
