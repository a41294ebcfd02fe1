"""Names to PagerDuty ids, so the model can say "Payments" or "dana@acme.example" where an id is due.

Each conversation keeps a short-lived copy of the account's directory (services, users, escalation
policies, schedules, teams, priorities): one listing per kind answers every later lookup, and a
hallucinated id is caught before a write instead of after. A name that fits several entries is
never guessed: the error lists them with their ids so the planner (or a person) can pick one.
"""

from __future__ import annotations

import difflib
import re
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from tools.clock import Clock

MAX_LISTED = 2000  # directory entries read per kind; bigger accounts fall back to a query search
MAX_CANDIDATES = 8
_ID_SHAPE = re.compile(r"[A-Z0-9]{7,20}")
_LABELLED = re.compile(r".*\(([A-Z0-9]{7,20})\)\s*")  # an entry as `label` names it, read back by its id


class Lister(Protocol):
    """The part of `PagerDutyClient` the directory needs."""

    def list_all(self, path: str, root: str, params: dict[str, Any] | None = None, *,
                 limit_items: int | None = None) -> Any: ...


@dataclass(frozen=True)
class Kind:
    noun: str
    plural: str
    path: str
    root: str
    lookup_tool: str


KINDS: dict[str, Kind] = {
    "service": Kind("service", "services", "/services", "services", "find_services"),
    "user": Kind("user", "users", "/users", "users", "find_users"),
    "escalation_policy": Kind("escalation policy", "escalation policies", "/escalation_policies",
                              "escalation_policies", "list_escalation_policies"),
    "schedule": Kind("schedule", "schedules", "/schedules", "schedules", "list_schedules"),
    "team": Kind("team", "teams", "/teams", "teams", "list_teams"),
    "priority": Kind("priority", "priorities", "/priorities", "priorities", "list_priorities"),
}


class ResolutionError(ValueError):
    """A reference that names nothing, or several things; the message says what to do next."""

    def __init__(self, message: str, *, kind: str, ref: str, candidates: list[dict[str, Any]] | None = None):
        super().__init__(message)
        self.kind = kind
        self.ref = ref
        self.candidates = candidates or []


def label(entry: dict[str, Any]) -> str:
    """How an entry is named to people: 'Payments API (PWUGXPQ)', 'Dana Reyes <dana@…> (P5N0NSY)'."""
    name = entry.get("name") or entry.get("summary") or entry["id"]
    email = f" <{entry['email']}>" if entry.get("email") else ""
    return f"{name}{email} ({entry['id']})"


@dataclass
class _Listing:
    entries: list[dict[str, Any]]
    complete: bool
    loaded_at: datetime


class Directory:
    """One conversation's view of the account directory, re-read after `ttl`."""

    def __init__(self, client: Lister, clock: Clock, ttl: timedelta = timedelta(minutes=2),
                 max_listed: int = MAX_LISTED) -> None:
        self._client = client
        self._clock = clock
        self._ttl = ttl
        self._max_listed = max_listed
        self._listings: dict[str, _Listing] = {}
        self._lock = threading.Lock()

    def resolve(self, kind: str, ref: str) -> dict[str, Any]:
        """The one entry `ref` names (id, exact name or email, then a unique close match; an entry named as
        `label` names it, by its id)."""
        if labelled := _LABELLED.fullmatch(ref):
            ref = labelled[1]
        listing = self._listing(kind)
        found = match(ref, listing.entries)
        if not found and not listing.complete:
            if _ID_SHAPE.fullmatch(ref):
                return {"id": ref}  # beyond what was listed: let PagerDuty judge the id
            found = match(ref, self._search(kind, ref))
        if len(found) == 1:
            return found[0]
        raise _error(KINDS[kind], ref, found, listing.entries)

    def get(self, kind: str, entry_id: str) -> dict[str, Any] | None:
        """The listed entry with this id, if any (for naming things on approval cards)."""
        return next((e for e in self._listing(kind).entries if e["id"] == entry_id), None)

    def _listing(self, kind: str) -> _Listing:
        with self._lock:
            now = self._clock.now()
            cached = self._listings.get(kind)
            if cached is None or now - cached.loaded_at > self._ttl:
                page = self._client.list_all(KINDS[kind].path, KINDS[kind].root, {}, limit_items=self._max_listed)
                cached = _Listing(list(page.items), not page.truncated, now)
                self._listings[kind] = cached
            return cached

    def _search(self, kind: str, ref: str) -> list[dict[str, Any]]:
        return list(self._client.list_all(KINDS[kind].path, KINDS[kind].root, {"query": ref},
                                          limit_items=100).items)


def match(ref: str, entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Entries `ref` names, by the first rule that finds any: id, exact name or email, the same
    ignoring case, every word of `ref` starting a word of the name, then a close spelling."""
    ref = ref.strip()
    folded = ref.casefold()
    words = _words(ref)
    rules = (
        lambda e: ref == e["id"] or ref.upper() == e["id"],
        lambda e: ref in _names(e),
        lambda e: folded in {n.casefold() for n in _names(e)},
        lambda e: bool(words) and any(_starts_words(words, _words(n)) for n in _names(e)),
    )
    for rule in rules:
        found = [e for e in entries if rule(e)]
        if found:
            return found
    return _close(ref, entries, cutoff=0.8)


def _error(kind: Kind, ref: str, found: list[dict[str, Any]], entries: list[dict[str, Any]]) -> ResolutionError:
    if found:
        shown = ", ".join(label(e) for e in found[:MAX_CANDIDATES])
        more = f" and {len(found) - MAX_CANDIDATES} more" if len(found) > MAX_CANDIDATES else ""
        return ResolutionError(f"{ref!r} matches {len(found)} {kind.plural}: {shown}{more}; pass one id.",
                               kind=kind.noun, ref=ref, candidates=found)
    near = _close(ref, entries, cutoff=0.5)[:3]
    hint = f" Closest: {', '.join(label(e) for e in near)}." if near else ""
    return ResolutionError(f"No {kind.noun} matches {ref!r}.{hint} Call {kind.lookup_tool} to see the "
                           f"{kind.plural} and their ids.", kind=kind.noun, ref=ref)


def _names(entry: dict[str, Any]) -> list[str]:
    names = [entry.get("name") or entry.get("summary") or ""]
    if entry.get("email"):
        names += [entry["email"], entry["email"].split("@")[0]]
    return [n for n in names if n]


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.casefold())


def _starts_words(words: list[str], name_words: list[str]) -> bool:
    return all(any(n.startswith(w) for n in name_words) for w in words)


def _close(ref: str, entries: list[dict[str, Any]], cutoff: float) -> list[dict[str, Any]]:
    spelled = {" ".join(_words(n)): e for e in entries for n in _names(e)}
    near = difflib.get_close_matches(" ".join(_words(ref)), spelled, n=MAX_CANDIDATES, cutoff=cutoff)
    return list({id(spelled[n]): spelled[n] for n in near}.values())
