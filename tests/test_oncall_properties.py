"""Properties of on-call resolution over generated schedules, overrides and windows, DST zones included."""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.models import Override, Restriction, Schedule
from simulator.oncall import Span, final_spans, on_call_at

UTC = UTC
HOUR = 3600
DAY = 24 * HOUR
ZONES = ["UTC", "America/New_York", "Europe/Berlin", "Australia/Sydney"]
# Each a few days before a DST change in one of the zones, so windows often straddle one.
ANCHORS = [datetime(2026, m, d, tzinfo=UTC) for m, d in [(3, 4), (3, 26), (4, 2), (10, 1), (10, 22), (10, 29)]]
USERS = ["A", "B", "C", "D", "E"]
SETTINGS = settings(max_examples=60, deadline=None)

hours = st.integers(min_value=-30 * 24, max_value=30 * 24).map(lambda h: timedelta(hours=h))


@st.composite
def restrictions(draw) -> dict:
    """Often starting or ending around 01:00-03:59 local, where the DST changes in ZONES happen."""
    weekly = draw(st.booleans())
    longest = (7 if weekly else 2) * DAY
    whole_hours = st.integers(1, 20).map(lambda h: h * HOUR)  # short enough to leave gaps between windows
    seconds = draw(st.integers(15 * 60, longest) | whole_hours | whole_hours)
    hour = draw(st.integers(0, 23) | st.sampled_from([1, 2, 3]))
    start = time(hour, draw(st.sampled_from([0, 15, 30, 45])), draw(st.sampled_from([0, 30])))
    restriction = dict(type="weekly_restriction" if weekly else "daily_restriction",
                       start_time_of_day=start.isoformat(), duration_seconds=seconds)
    if weekly:
        restriction["start_day_of_week"] = draw(st.integers(1, 7))
    return restriction


@st.composite
def layers(draw, anchor: datetime, *, restricted: bool | None = None, forever: bool = False) -> dict:
    start = anchor - timedelta(days=40) if forever else anchor + draw(hours)
    end = None if forever or draw(st.booleans()) else start + timedelta(hours=draw(st.integers(1, 40 * 24)))
    users = draw(st.lists(st.sampled_from(USERS), min_size=1, max_size=4))
    turn = draw(st.one_of(st.integers(HOUR, 3 * DAY), st.sampled_from([DAY, 7 * DAY])))
    if restricted is None:
        restricted = draw(st.booleans())
    rules = draw(st.lists(restrictions(), min_size=1, max_size=2)) if restricted else []
    return dict(id="L", name="L", start=start, end=end, rotation_virtual_start=anchor + draw(hours),
                rotation_turn_length_seconds=turn, user_ids=users, restrictions=rules)


@st.composite
def windows(draw, anchor: datetime) -> tuple[datetime, datetime]:
    since = anchor + timedelta(minutes=draw(st.integers(0, 10 * 24 * 60)))
    return since, since + timedelta(minutes=draw(st.integers(1, 15 * 24 * 60)))


@st.composite
def overrides(draw, anchor: datetime) -> list[Override]:
    made = []
    for n in range(draw(st.integers(0, 4))):
        start = anchor + timedelta(minutes=draw(st.integers(-24 * 60, 20 * 24 * 60)))
        created = draw(st.one_of(st.none(), st.integers(0, 3).map(lambda d: anchor - timedelta(days=d))))
        made.append(Override(id=f"O{n}", schedule_id="S", user_id=draw(st.sampled_from(USERS)), start=start,
                             end=start + timedelta(minutes=draw(st.integers(1, 5 * 24 * 60))), created_at=created))
    return made


@st.composite
def scenarios(draw) -> tuple[Schedule, list[Override], datetime, datetime]:
    anchor = draw(st.sampled_from(ANCHORS))
    schedule = Schedule(id="S", name="S", time_zone=draw(st.sampled_from(ZONES)),
                        layers=draw(st.lists(layers(anchor), min_size=1, max_size=3)))
    return (schedule, draw(overrides(anchor)), *draw(windows(anchor)))


def instants(since: datetime, until: datetime, fractions: list[float]) -> list[datetime]:
    """Instants spread over [since, until), always including since itself."""
    return [since] + [min(since + (until - since) * f, until - timedelta(microseconds=1)) for f in fractions]


fractions = st.lists(st.floats(min_value=0, max_value=1, exclude_max=True), min_size=1, max_size=15)


def owner(spans: list[Span], at: datetime) -> str | None:
    return next((s.user_id for s in spans if s.start <= at < s.end), None)


@SETTINGS
@given(scenarios())
def test_final_spans_are_sorted_disjoint_joined_and_inside_the_window(scenario):
    schedule, overs, since, until = scenario
    spans = final_spans(schedule, overs, since, until)
    for span in spans:
        assert since <= span.start < span.end <= until
    for before, after in itertools.pairwise(spans):
        assert before.end <= after.start
        assert not (before.end == after.start and before.user_id == after.user_id)


@SETTINGS
@given(scenarios(), fractions)
def test_on_call_at_agrees_with_final_spans_everywhere_in_the_window(scenario, spread):
    schedule, overs, since, until = scenario
    spans = final_spans(schedule, overs, since, until)
    edges = [t for s in spans for t in (s.start, s.end - timedelta(microseconds=1), s.end) if t < until]
    for at in instants(since, until, spread) + edges:
        assert on_call_at(schedule, overs, at) == owner(spans, at)


@SETTINGS
@given(scenarios(), fractions)
def test_an_instant_query_returns_the_shift_the_window_query_has_there(scenario, spread):
    schedule, overs, since, until = scenario
    spans = final_spans(schedule, overs, since, until)
    for at in instants(since, until, spread):
        shift = final_spans(schedule, overs, at, at)
        if owner(spans, at) is None:
            assert shift == []
        else:
            [whole] = shift
            part = next(s for s in spans if s.start <= at < s.end)
            assert whole.user_id == part.user_id
            assert whole.start <= part.start and part.end <= whole.end
            # The window's span is the whole shift clipped to the window, so it stops only at the window's edge.
            assert part.start == whole.start or part.start == since
            assert part.end == whole.end or part.end == until


@SETTINGS
@given(scenarios(), fractions)
def test_the_newest_override_covering_an_instant_decides_who_is_on_call(scenario, spread):
    schedule, overs, _since, _until = scenario
    for override in overs:
        for at in instants(override.start, override.end, spread):
            covering = [(o.created_at or datetime.min.replace(tzinfo=UTC), i, o.user_id)
                        for i, o in enumerate(overs) if o.start <= at < o.end]
            assert on_call_at(schedule, overs, at) == max(covering)[2]
            if len(covering) == 1:
                assert on_call_at(schedule, overs, at) == override.user_id


def inside_restrictions(rules: list[Restriction], local: datetime) -> bool:
    """Whether a local wall-clock time lies in one of the windows, checked on the calendar alone."""
    wall = local.replace(tzinfo=None)
    for rule in rules:
        for back in range(9):
            day = wall.date() - timedelta(days=back)
            if rule.type == "weekly_restriction" and day.isoweekday() != rule.start_day_of_week:
                continue
            start = datetime.combine(day, time.fromisoformat(rule.start_time_of_day))
            if start <= wall < start + timedelta(seconds=rule.duration_seconds):
                return True
    return False


def ambiguous(local: datetime) -> bool:
    """A wall time the autumn change shows twice, where wall-clock order and real order disagree."""
    return local.replace(fold=0).utcoffset() != local.replace(fold=1).utcoffset()


# 2026's DST changes, in UTC, for each zone with daylight saving.
CHANGES = {
    "America/New_York": [datetime(2026, 3, 8, 7, tzinfo=UTC), datetime(2026, 11, 1, 6, tzinfo=UTC)],
    "Europe/Berlin": [datetime(2026, 3, 29, 1, tzinfo=UTC), datetime(2026, 10, 25, 1, tzinfo=UTC)],
    "Australia/Sydney": [datetime(2026, 4, 4, 16, tzinfo=UTC), datetime(2026, 10, 3, 16, tzinfo=UTC)],
}


@st.composite
def restricted_schedules(draw) -> tuple[Schedule, datetime, datetime]:
    """A restricted layer with no end, seen over a window around one of its zone's DST changes."""
    zone = draw(st.sampled_from(sorted(CHANGES)))
    change = draw(st.sampled_from(CHANGES[zone]))
    layer = draw(layers(change, restricted=True, forever=True))
    schedule = Schedule(id="S", name="S", time_zone=zone, layers=[layer])
    around = st.integers(1, 72 * 60).map(lambda m: timedelta(minutes=m))
    return schedule, change - draw(around), change + draw(around)


@SETTINGS
@given(restricted_schedules(), fractions)
def test_someone_is_on_call_exactly_when_local_time_is_inside_a_restriction(scenario, spread):
    schedule, since, until = scenario
    zone, rules = ZoneInfo(schedule.time_zone), schedule.layers[0].restrictions
    spans = final_spans(schedule, [], since, until)
    # Span edges probe the window boundaries exactly, where a DST slip would show.
    second = timedelta(seconds=1)
    edges = [t for s in spans for t in (s.start - second, s.start, s.end - second, s.end) if since <= t < until]
    for at in instants(since, until, spread) + edges:
        local = at.astimezone(zone)
        if not ambiguous(local):
            assert (owner(spans, at) is not None) == inside_restrictions(rules, local), local


@SETTINGS
@given(
    st.lists(st.sampled_from(USERS), min_size=2, max_size=5, unique=True),
    st.one_of(st.integers(1, 8).map(lambda days: days * DAY), st.integers(1, 23).map(lambda h: h * HOUR)),
    st.integers(-20, 20),
    st.integers(1, 4),
    st.sampled_from(ZONES),
)
def test_k_full_cycles_give_every_user_exactly_k_turns(users, turn, first_cycle, cycles, zone):
    """Cycles are counted on the schedule's wall clock, so k of them, DST changes or not, give k turns each;
    a turn of whole days lasts exactly that many days of local wall-clock time."""
    virtual_start = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)  # never in a DST gap of ZONES
    layer = dict(id="L", name="L", start=datetime(2020, 1, 1, tzinfo=UTC), rotation_virtual_start=virtual_start,
                 rotation_turn_length_seconds=turn, user_ids=users)
    schedule = Schedule(id="S", name="S", time_zone=zone, layers=[layer])
    local, origin = ZoneInfo(zone), virtual_start.astimezone(ZoneInfo(zone)).replace(tzinfo=None)
    cycle = timedelta(seconds=turn) * len(users)
    since, until = (first_instant(origin + n * cycle, local) for n in (first_cycle, first_cycle + cycles))
    spans = final_spans(schedule, [], since, until)
    assert Counter(s.user_id for s in spans) == {user: cycles for user in users}
    assert spans[0].user_id == users[0]
    if turn % DAY == 0:
        assert all(wall(s.end, local) - wall(s.start, local) == timedelta(seconds=turn) for s in spans)


def wall(instant: datetime, zone: ZoneInfo) -> datetime:
    return instant.astimezone(zone).replace(tzinfo=None)


def first_instant(local_time: datetime, zone: ZoneInfo) -> datetime:
    """The first instant the wall clock of `zone` reads `local_time` (or the end of the gap that skips it)."""
    earlier = local_time.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if wall(earlier, zone) == local_time:
        return earlier
    return min(t for t in (local_time.replace(tzinfo=zone, fold=f).astimezone(UTC) for f in (0, 1))
               if wall(t, zone) > local_time)  # skipped: the gap's end, the one reading that is past it


def in_gap(local_time: datetime, zone: ZoneInfo) -> bool:
    return wall(local_time.replace(tzinfo=zone).astimezone(UTC), zone) != local_time


DST_ZONES = sorted(CHANGES)


@settings(max_examples=40, deadline=None)
@given(
    st.sampled_from(DST_ZONES),
    st.sampled_from([12 * HOUR, DAY, 2 * DAY, 7 * DAY]),
    st.integers(0, 23), st.sampled_from([0, 30]),
    st.lists(st.sampled_from(USERS), min_size=2, max_size=4, unique=True),
)
def test_handoffs_keep_their_local_wall_clock_time_across_both_dst_changes(zone, turn, hour, minute, users):
    """A handoff at 09:00 local stays at 09:00 local all year, as in PagerDuty: each handoff falls when the
    schedule's wall clock reads the virtual start's time + k turns, the first time it does, or when the
    spring-forward gap that skips that reading ends. The rotation still covers the year without a hole."""
    local = ZoneInfo(zone)
    origin = datetime(2026, 1, 5, hour, minute)  # a Monday in winter, local time
    virtual_start = origin.replace(tzinfo=local).astimezone(UTC)
    layer = dict(id="L", name="L", start=datetime(2025, 1, 1, tzinfo=UTC), rotation_virtual_start=virtual_start,
                 rotation_turn_length_seconds=turn, user_ids=users)
    schedule = Schedule(id="S", name="S", time_zone=zone, layers=[layer])
    since, until = datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)
    spans = final_spans(schedule, [], since, until)
    assert spans[0].start == since and spans[-1].end == until
    assert all(before.end == after.start for before, after in itertools.pairwise(spans))
    length = timedelta(seconds=turn)
    k = (wall(spans[1].start, local) - origin) // length
    handoff_times = set()
    for n, span in enumerate(spans[1:]):
        reading = origin + (k + n) * length
        if in_gap(reading, local):
            assert wall(span.start - timedelta(seconds=1), local) < reading < wall(span.start, local)
        else:
            assert span.start == first_instant(reading, local), (span, reading)
            handoff_times.add(wall(span.start, local).time())
        assert span.user_id == users[(k + n) % len(users)]
    # Both changes lie inside the year: a rotation fixed in UTC would have shown a second local time.
    assert handoff_times == {(origin + n * length).time() for n in range(DAY // turn or 1)}
