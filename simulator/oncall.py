"""Who is on call, computed the way PagerDuty computes it.

Rotation handoffs and restrictions are wall-clock times in the schedule's time zone, as PagerDuty keeps
them: a 09:00 handoff stays at 09:00 local after a daylight-saving change, so it moves in UTC.
A higher layer wins wherever it has someone, lower layers show through its gaps, and overrides
beat every layer. All spans are half-open [start, end) in UTC, and everything is computed from
turn boundaries and restriction windows, never instant by instant: inside the asked-for window for a
rendered schedule, a little past it for /oncalls, which reports each overlapping shift whole.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from .models import EscalationPolicy, Override, Restriction, Schedule, ScheduleLayer

UTC = UTC
DAY = timedelta(days=1)
TICK = timedelta(microseconds=1)
# An instant query reports the whole shift around the instant, but looks no further than this
# either way, so a layer with one user and no end still gives a finite answer.
INSTANT_HORIZON = timedelta(days=90)
_OLDEST = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Span:
    """One person on call over [start, end)."""

    user_id: str
    start: datetime
    end: datetime


@dataclass(frozen=True)
class OnCallEntry:
    """One row of `/oncalls`; start and end are None for a user named directly by the policy."""

    escalation_policy_id: str
    escalation_level: int
    user_id: str
    schedule_id: str | None
    start: datetime | None
    end: datetime | None


# --- time-zone arithmetic ---


def _wall(instant: datetime, zone: ZoneInfo) -> datetime:
    return instant.astimezone(zone).replace(tzinfo=None)


@lru_cache(maxsize=8192)  # pure, and the same restriction edges come back on every query near "now"
def _first_instant_at(wall: datetime, zone: ZoneInfo) -> datetime:
    """The first instant whose local wall-clock time is `wall` or later.

    An autumn-repeated time maps to its first occurrence; a time skipped by a spring-forward gap
    maps to the end of the gap, so a restriction window never covers wall times outside itself.
    """
    instant = wall.replace(tzinfo=zone).astimezone(UTC)
    if _wall(instant, zone) == wall:
        return instant
    # In a gap: fold=1 reads the wall time with the offset after the change, landing before the
    # gap; fold=0 uses the offset before it, landing after. The change lies between, on a second.
    low = int(wall.replace(tzinfo=zone, fold=1).timestamp())
    high = int(wall.replace(tzinfo=zone, fold=0).timestamp())
    while high - low > 1:
        middle = (low + high) // 2
        if _wall(datetime.fromtimestamp(middle, UTC), zone) >= wall:
            high = middle
        else:
            low = middle
    return datetime.fromtimestamp(high, UTC)


# --- span algebra (every list sorted by start, non-overlapping) ---


def _join(spans: list[Span]) -> list[Span]:
    """Merge touching spans of the same user, so one shift is one span."""
    joined: list[Span] = []
    for span in spans:
        if joined and joined[-1].user_id == span.user_id and joined[-1].end == span.start:
            joined[-1] = Span(span.user_id, joined[-1].start, span.end)
        else:
            joined.append(span)
    return joined


def _union(windows: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    merged: list[tuple[datetime, datetime]] = []
    for start, end in sorted(windows):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _intersect(spans: list[Span], windows: list[tuple[datetime, datetime]]) -> list[Span]:
    cut: list[Span] = []
    i = j = 0
    while i < len(spans) and j < len(windows):
        span, (window_start, window_end) = spans[i], windows[j]
        start, end = max(span.start, window_start), min(span.end, window_end)
        if start < end:
            cut.append(Span(span.user_id, start, end))
        if span.end <= window_end:
            i += 1
        else:
            j += 1
    return cut


def _overlay(base: list[Span], top: list[Span]) -> list[Span]:
    """`top` wins wherever it has someone; `base` shows through its gaps."""
    if not top:
        return base
    shown: list[Span] = []
    j = 0
    for span in base:
        start = span.start
        while j < len(top) and top[j].end <= start:
            j += 1
        k = j
        while k < len(top) and top[k].start < span.end:
            if top[k].start > start:
                shown.append(Span(span.user_id, start, top[k].start))
            start = max(start, top[k].end)
            k += 1
        if start < span.end:
            shown.append(Span(span.user_id, start, span.end))
    return sorted(shown + top, key=lambda s: s.start)


# --- layers ---


def _restriction_windows(
    restrictions: Sequence[Restriction], zone: ZoneInfo, low: datetime, high: datetime
) -> list[tuple[datetime, datetime]]:
    """The union of the restriction windows meeting [low, high), clipped to it, in UTC.

    A window runs from its wall-clock start to wall-clock start + duration in the schedule's zone.
    """
    first_day, last_day = _wall(low, zone).date(), _wall(high, zone).date()
    windows: list[tuple[datetime, datetime]] = []
    for restriction in restrictions:
        start_of_day = time.fromisoformat(restriction.start_time_of_day)
        length = timedelta(seconds=restriction.duration_seconds)
        # The earliest start day whose window could still reach `low`, with a day to spare for DST.
        day = first_day - timedelta(days=length.days + 2)
        step = DAY
        if restriction.type == "weekly_restriction":
            if restriction.start_day_of_week is None:
                raise ValueError("a weekly_restriction needs start_day_of_week")
            day -= timedelta(days=(day.isoweekday() - restriction.start_day_of_week) % 7)
            step = 7 * DAY
        while day <= last_day:
            wall_start = datetime.combine(day, start_of_day)
            start = max(_first_instant_at(wall_start, zone), low)
            end = min(_first_instant_at(wall_start + length, zone), high)
            if start < end:
                windows.append((start, end))
            day += step
    return _union(windows)


def _turns(layer: ScheduleLayer, zone: ZoneInfo, low: datetime, high: datetime) -> list[Span]:
    """The rotation over [low, high): turn k starts when the schedule's wall clock reads the virtual
    start's wall time + k × turn length, so a 09:00 handoff stays at 09:00 local across DST changes.

    A handoff whose wall time a spring-forward skips happens when the gap ends (a turn that would start
    and end inside the gap is dropped); one an autumn change repeats happens the first time.
    """
    users = layer.user_ids
    if len(set(users)) == 1:
        return [Span(users[0], low, high)]
    length = timedelta(seconds=layer.rotation_turn_length_seconds)
    origin = _wall(layer.rotation_virtual_start, zone)
    # One turn early: near a DST change the wall-clock floor can land one turn past the real one.
    turn = (_wall(low, zone) - origin) // length - 1  # floors, so works before the virtual start
    boundary = _first_instant_at(origin + turn * length, zone)
    spans: list[Span] = []
    while boundary < high:
        following = _first_instant_at(origin + (turn + 1) * length, zone)
        start, end = max(boundary, low), min(following, high)
        if start < end:
            spans.append(Span(users[turn % len(users)], start, end))
        boundary, turn = following, turn + 1
    return _join(spans)


def layer_spans(layer: ScheduleLayer, tz: str, since: datetime, until: datetime) -> list[Span]:
    """Who this layer puts on call in [since, until): its rotation, cut to its life and restrictions."""
    low = max(since, layer.start)
    high = until if layer.end is None else min(until, layer.end)
    if low >= high:
        return []
    zone = ZoneInfo(tz)
    spans = _turns(layer, zone, low, high)
    if layer.restrictions:
        spans = _intersect(spans, _restriction_windows(layer.restrictions, zone, low, high))
    return spans


# --- schedules ---


def overrides_spans(overrides: Iterable[Override], since: datetime, until: datetime) -> list[Span]:
    """The overrides sub-schedule over [since, until).

    Where overrides overlap, the most recently created wins; equal (or missing, counted as
    oldest) creation times are settled by list order, later winning.
    """
    ranked = sorted(enumerate(overrides), key=lambda pair: (pair[1].created_at or _OLDEST, pair[0]))
    spans: list[Span] = []
    for _, override in ranked:
        start, end = max(override.start, since), min(override.end, until)
        if start < end:
            spans = _overlay(spans, [Span(override.user_id, start, end)])
    return _join(spans)


def _final_window(schedule: Schedule, overrides: Sequence[Override], since: datetime, until: datetime) -> list[Span]:
    spans: list[Span] = []
    for layer in schedule.layers:  # lowest first, so each later layer paints over the ones below
        spans = _overlay(spans, layer_spans(layer, schedule.time_zone, since, until))
    return _join(_overlay(spans, overrides_spans(overrides, since, until)))


def _first_reach(schedule: Schedule) -> timedelta:
    """How far past a point to look for the whole shift there: a turn of the longest rotation holds most."""
    longest_turn = max((layer.rotation_turn_length_seconds for layer in schedule.layers), default=0)
    return min(max(DAY, timedelta(seconds=longest_turn)), INSTANT_HORIZON)


def _shift_at(schedule: Schedule, overrides: Sequence[Override], at: datetime) -> Span | None:
    """The whole final-schedule span containing `at`, found by widening the window until it fits."""
    reach = _first_reach(schedule)
    while True:
        low, high = at - reach, at + reach
        shift = next((s for s in _final_window(schedule, overrides, low, high) if s.start <= at < s.end), None)
        if shift is None or (low < shift.start and shift.end < high) or reach >= INSTANT_HORIZON:
            return shift
        reach = min(2 * reach, INSTANT_HORIZON)


def final_spans(schedule: Schedule, overrides: Iterable[Override], since: datetime, until: datetime) -> list[Span]:
    """The final schedule: the highest layer with someone on call, then overrides on top.

    Spans are clipped to [since, until), adjacent spans of one user are joined and nobody-on-call
    gaps are simply absent. `since == until` asks about that instant: the answer is the one span
    containing it, unclipped (PagerDuty reports the real shift for "now"), though looking at most
    INSTANT_HORIZON (90 days) either side of the instant.
    """
    if until < since:
        raise ValueError("until is before since")
    overrides = list(overrides)
    if since == until:
        shift = _shift_at(schedule, overrides, since)
        return [] if shift is None else [shift]
    return _final_window(schedule, overrides, since, until)


def whole_shifts(schedule: Schedule, overrides: Iterable[Override], since: datetime, until: datetime) -> list[Span]:
    """The final schedule's shifts overlapping [since, until), each whole rather than cut at the bounds.

    `/oncalls` reports an on-call as one contiguous unit, so a shift running across `since` or
    `until` keeps its real start and end (looking at most INSTANT_HORIZON beyond the bound).
    """
    if until < since:
        raise ValueError("until is before since")
    overrides = list(overrides)
    if since == until:
        return final_spans(schedule, overrides, since, until)
    reach = _first_reach(schedule)
    low, high = since - reach, until + reach
    spans = [s for s in _final_window(schedule, overrides, low, high) if s.end > since and s.start < until]
    # Shifts still cut by the wider window are rare; only they are looked up one by one.
    if spans and spans[0].start == low:
        spans[0] = _shift_at(schedule, overrides, since) or spans[0]
    if spans and spans[-1].end == high:
        spans[-1] = _shift_at(schedule, overrides, until - TICK) or spans[-1]
    return spans


def on_call_at(schedule: Schedule, overrides: Iterable[Override], at: datetime) -> str | None:
    """The user the final schedule has on call at `at`, or None in a gap."""
    spans = _final_window(schedule, list(overrides), at, at + TICK)
    return spans[0].user_id if spans else None


# --- escalation policies ---


def oncalls(
    policies: Iterable[EscalationPolicy],
    schedules: Mapping[str, Schedule],
    overrides_by_schedule: Mapping[str, Sequence[Override]],
    since: datetime,
    until: datetime,
) -> list[OnCallEntry]:
    """`/oncalls` rows for several policies, policy by policy, each by level then target order then time.

    A user target is on call always (start and end None); a schedule target yields its final
    schedule's `whole_shifts`, computed once per schedule however many policies and levels name it.
    """
    shifts: dict[str, list[Span]] = {}
    entries: list[OnCallEntry] = []
    for policy in policies:
        for level, rule in enumerate(policy.rules, start=1):
            for target in rule.targets:
                if target.type == "user_reference":
                    entries.append(OnCallEntry(policy.id, level, target.id, None, None, None))
                    continue
                if target.id not in shifts:
                    shifts[target.id] = whole_shifts(schedules[target.id], overrides_by_schedule.get(target.id, ()),
                                                     since, until)
                entries.extend(OnCallEntry(policy.id, level, span.user_id, target.id, span.start, span.end)
                               for span in shifts[target.id])
    return entries


def earliest(entries: Iterable[OnCallEntry]) -> list[OnCallEntry]:
    """Only the earliest row per policy, level and user, as `earliest=true` asks.

    Apply it after any other filter, so a user's later rows still count when an earlier one is filtered out.
    """
    entries = list(entries)
    best: dict[tuple[str, int, str], OnCallEntry] = {}
    for entry in entries:
        key = (entry.escalation_policy_id, entry.escalation_level, entry.user_id)
        if key not in best or (entry.start or _OLDEST) < (best[key].start or _OLDEST):
            best[key] = entry
    return [e for e in entries if best[(e.escalation_policy_id, e.escalation_level, e.user_id)] is e]


def level_user_ids(
    policy: EscalationPolicy,
    schedules: Mapping[str, Schedule],
    overrides_by_schedule: Mapping[str, Sequence[Override]],
    level: int,
    at: datetime,
) -> list[str]:
    """Who would be notified at escalation `level` (1-based) at `at`, each once, in target order."""
    if not 1 <= level <= len(policy.rules):
        raise ValueError(f"escalation policy {policy.id} has no level {level}")
    users: list[str] = []
    for target in policy.rules[level - 1].targets:
        user: str | None
        if target.type == "user_reference":
            user = target.id
        else:
            user = on_call_at(schedules[target.id], overrides_by_schedule.get(target.id, ()), at)
        if user is not None and user not in users:
            users.append(user)
    return users
