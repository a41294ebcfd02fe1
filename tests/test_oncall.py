"""On-call resolution on hand-worked examples: rotations, restrictions across DST, layers, overrides, policies."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from simulator.models import EscalationPolicy, Override, Schedule
from simulator.oncall import (
    OnCallEntry,
    Span,
    earliest,
    final_spans,
    layer_spans,
    level_user_ids,
    on_call_at,
    oncalls,
    overrides_spans,
    whole_shifts,
)

HOUR = 3600
DAY = 24 * HOUR
WEEK = 7 * DAY


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


NEW_YEAR = utc(2026, 1, 1)


def layer(lid: str, users: list[str], *, start: datetime = NEW_YEAR, virtual_start: datetime | None = None,
          turn: int = WEEK, end: datetime | None = None, restrictions: list[dict] | None = None) -> dict:
    return dict(id=lid, name=lid, start=start, end=end, rotation_virtual_start=virtual_start or start,
                rotation_turn_length_seconds=turn, user_ids=users, restrictions=restrictions or [])


def schedule(*layers: dict, tz: str = "UTC", sid: str = "PSCHED1") -> Schedule:
    return Schedule(id=sid, name=sid, time_zone=tz, layers=list(layers))


def daily(start: str, seconds: int) -> dict:
    return dict(type="daily_restriction", start_time_of_day=start, duration_seconds=seconds)


def weekly(day: int, start: str, seconds: int) -> dict:
    return dict(type="weekly_restriction", start_day_of_week=day, start_time_of_day=start, duration_seconds=seconds)


def override(oid: str, user: str, start: datetime, end: datetime, created: datetime | None = None,
             sid: str = "PSCHED1") -> Override:
    return Override(id=oid, schedule_id=sid, user_id=user, start=start, end=end, created_at=created)


# --- rotation ---

WEEKLY = schedule(layer("L1", ["A", "B", "C"], start=utc(2026, 10, 1), virtual_start=utc(2026, 11, 2, 9)))


def test_weekly_rotation_hands_off_at_the_turn_boundary():
    assert on_call_at(WEEKLY, [], utc(2026, 11, 9, 8, 59, 59)) == "A"
    assert on_call_at(WEEKLY, [], utc(2026, 11, 9, 9)) == "B"
    assert on_call_at(WEEKLY, [], utc(2026, 11, 16, 9)) == "C"
    assert on_call_at(WEEKLY, [], utc(2026, 11, 23, 9)) == "A"


def test_rotation_counts_turns_backwards_before_the_virtual_start():
    # turn -1 is C's: the rotation runs backwards from the virtual start until the layer's start.
    assert on_call_at(WEEKLY, [], utc(2026, 10, 30)) == "C"
    assert on_call_at(WEEKLY, [], utc(2026, 10, 20)) == "B"
    assert on_call_at(WEEKLY, [], utc(2026, 9, 30)) is None  # before the layer starts


def test_final_spans_over_a_window_are_clipped_and_cut_at_handoffs():
    assert final_spans(WEEKLY, [], utc(2026, 11, 5), utc(2026, 11, 20)) == [
        Span("A", utc(2026, 11, 5), utc(2026, 11, 9, 9)),
        Span("B", utc(2026, 11, 9, 9), utc(2026, 11, 16, 9)),
        Span("C", utc(2026, 11, 16, 9), utc(2026, 11, 20)),
    ]


def test_an_instant_query_returns_the_whole_shift():
    at = utc(2026, 11, 12, 3)
    assert final_spans(WEEKLY, [], at, at) == [Span("B", utc(2026, 11, 9, 9), utc(2026, 11, 16, 9))]


def test_a_window_before_since_is_refused():
    with pytest.raises(ValueError):
        final_spans(WEEKLY, [], utc(2026, 11, 2), utc(2026, 11, 1))


def test_a_layer_that_ends_stops_putting_people_on_call():
    ended = layer("L1", ["A", "B"], start=utc(2026, 11, 1), end=utc(2026, 11, 3), turn=DAY)
    assert layer_spans(schedule(ended).layers[0], "UTC", utc(2026, 10, 1), utc(2026, 12, 1)) == [
        Span("A", utc(2026, 11, 1), utc(2026, 11, 2)),
        Span("B", utc(2026, 11, 2), utc(2026, 11, 3)),
    ]


# --- restrictions ---


def test_daily_restriction_stays_at_local_nine_to_five_across_the_spring_dst_change():
    # 2026-03-08 02:00 America/New_York springs forward: 09:00 local is 14:00 UTC before, 13:00 UTC after.
    office = schedule(layer("L1", ["A"], restrictions=[daily("09:00:00", 8 * HOUR)]), tz="America/New_York")
    assert final_spans(office, [], utc(2026, 3, 7), utc(2026, 3, 10)) == [
        Span("A", utc(2026, 3, 7, 14), utc(2026, 3, 7, 22)),
        Span("A", utc(2026, 3, 8, 13), utc(2026, 3, 8, 21)),
        Span("A", utc(2026, 3, 9, 13), utc(2026, 3, 9, 21)),
    ]
    assert on_call_at(office, [], utc(2026, 3, 7, 13, 30)) is None
    assert on_call_at(office, [], utc(2026, 3, 9, 13, 30)) == "A"


def test_a_restriction_across_the_gap_ends_where_its_wall_clock_end_does():
    # 22:00 for 4h30 ends at 02:30 local, which does not exist on 2026-03-08: the window ends when the gap does.
    night = schedule(layer("L1", ["A"], restrictions=[daily("22:00:00", 4 * HOUR + 30 * 60)]), tz="America/New_York")
    assert final_spans(night, [], utc(2026, 3, 8, 0), utc(2026, 3, 8, 12)) == [
        Span("A", utc(2026, 3, 8, 3), utc(2026, 3, 8, 7)),
    ]


def test_weekly_restriction_crosses_midnight_and_the_end_of_the_week():
    # Sunday 22:00 for 4 hours: into Monday 02:00. 2026-11-15 is a Sunday.
    weekend = schedule(layer("L1", ["A", "B"], turn=DAY, start=utc(2026, 11, 2),
                             restrictions=[weekly(7, "22:00:00", 4 * HOUR)]))
    assert final_spans(weekend, [], utc(2026, 11, 9), utc(2026, 11, 24)) == [
        Span("B", utc(2026, 11, 9), utc(2026, 11, 9, 2)),  # the tail of the window opened on Sunday the 8th
        Span("B", utc(2026, 11, 15, 22), utc(2026, 11, 16)),  # day 13 since Nov 2 is B's
        Span("A", utc(2026, 11, 16), utc(2026, 11, 16, 2)),  # the daily handoff at midnight still happens
        Span("A", utc(2026, 11, 22, 22), utc(2026, 11, 23)),
        Span("B", utc(2026, 11, 23), utc(2026, 11, 23, 2)),
    ]


def test_several_restrictions_put_the_layer_on_call_in_their_union():
    split = schedule(layer("L1", ["A"], restrictions=[daily("08:00:00", 2 * HOUR), daily("09:00:00", 2 * HOUR)]))
    assert final_spans(split, [], utc(2026, 11, 2), utc(2026, 11, 3)) == [
        Span("A", utc(2026, 11, 2, 8), utc(2026, 11, 2, 11)),
    ]


# --- layers and overrides ---

LAYERED = schedule(
    layer("L1", ["A"]),
    layer("L2", ["B", "C"], turn=DAY, start=utc(2026, 11, 2), restrictions=[daily("09:00:00", 8 * HOUR)]),
)


def test_a_higher_layer_with_a_gap_falls_through_to_the_lower_one():
    assert final_spans(LAYERED, [], utc(2026, 11, 2), utc(2026, 11, 4)) == [
        Span("A", utc(2026, 11, 2), utc(2026, 11, 2, 9)),
        Span("B", utc(2026, 11, 2, 9), utc(2026, 11, 2, 17)),
        Span("A", utc(2026, 11, 2, 17), utc(2026, 11, 3, 9)),
        Span("C", utc(2026, 11, 3, 9), utc(2026, 11, 3, 17)),
        Span("A", utc(2026, 11, 3, 17), utc(2026, 11, 4)),
    ]


def test_an_override_beats_every_layer():
    cover = override("O1", "D", utc(2026, 11, 2, 16), utc(2026, 11, 2, 18))
    assert final_spans(LAYERED, [cover], utc(2026, 11, 2, 8), utc(2026, 11, 2, 20)) == [
        Span("A", utc(2026, 11, 2, 8), utc(2026, 11, 2, 9)),
        Span("B", utc(2026, 11, 2, 9), utc(2026, 11, 2, 16)),
        Span("D", utc(2026, 11, 2, 16), utc(2026, 11, 2, 18)),
        Span("A", utc(2026, 11, 2, 18), utc(2026, 11, 2, 20)),
    ]
    assert on_call_at(LAYERED, [cover], utc(2026, 11, 2, 17, 59)) == "D"


def test_an_override_fills_a_gap_where_no_layer_has_anyone():
    gappy = schedule(layer("L1", ["A"], restrictions=[daily("09:00:00", 8 * HOUR)]))
    cover = override("O1", "D", utc(2026, 11, 2, 3), utc(2026, 11, 2, 4))
    assert on_call_at(gappy, [], utc(2026, 11, 2, 3)) is None
    assert on_call_at(gappy, [cover], utc(2026, 11, 2, 3)) == "D"


def test_among_overlapping_overrides_the_latest_created_wins():
    older = override("O1", "C", utc(2026, 11, 2, 10), utc(2026, 11, 2, 14), created=utc(2026, 10, 1))
    newer = override("O2", "D", utc(2026, 11, 2, 12), utc(2026, 11, 2, 16), created=utc(2026, 10, 2))
    expected = [
        Span("C", utc(2026, 11, 2, 10), utc(2026, 11, 2, 12)),
        Span("D", utc(2026, 11, 2, 12), utc(2026, 11, 2, 16)),
    ]
    # The order they are listed in does not matter when creation times differ.
    assert overrides_spans([newer, older], utc(2026, 11, 2), utc(2026, 11, 3)) == expected
    assert overrides_spans([older, newer], utc(2026, 11, 2), utc(2026, 11, 3)) == expected


def test_overrides_created_at_the_same_time_are_settled_by_list_order():
    first = override("O1", "C", utc(2026, 11, 2, 10), utc(2026, 11, 2, 14))
    second = override("O2", "D", utc(2026, 11, 2, 11), utc(2026, 11, 2, 12))
    assert overrides_spans([first, second], utc(2026, 11, 2), utc(2026, 11, 3)) == [
        Span("C", utc(2026, 11, 2, 10), utc(2026, 11, 2, 11)),
        Span("D", utc(2026, 11, 2, 11), utc(2026, 11, 2, 12)),
        Span("C", utc(2026, 11, 2, 12), utc(2026, 11, 2, 14)),
    ]
    assert overrides_spans([second, first], utc(2026, 11, 2), utc(2026, 11, 3)) == [
        Span("C", utc(2026, 11, 2, 10), utc(2026, 11, 2, 14)),
    ]


def test_an_override_for_the_user_already_on_call_joins_their_shift():
    same = override("O1", "A", utc(2026, 11, 2, 8), utc(2026, 11, 2, 10))
    assert final_spans(LAYERED, [same], utc(2026, 11, 2), utc(2026, 11, 2, 12)) == [
        Span("A", utc(2026, 11, 2), utc(2026, 11, 2, 10)),
        Span("B", utc(2026, 11, 2, 10), utc(2026, 11, 2, 12)),
    ]


# --- escalation policies ---

POLICY = EscalationPolicy(id="PEP1", name="Ops", rules=[
    dict(id="R1", targets=[dict(type="schedule_reference", id="PSCHED1")]),
    dict(id="R2", targets=[dict(type="user_reference", id="M"), dict(type="schedule_reference", id="PSCHED1")]),
])
SCHEDULES = {"PSCHED1": WEEKLY}


def test_one_policys_oncalls_over_a_window_lists_each_level_with_whole_shifts_and_direct_users():
    entries = oncalls([POLICY], SCHEDULES, {}, utc(2026, 11, 5), utc(2026, 11, 12))
    assert entries == [
        OnCallEntry("PEP1", 1, "A", "PSCHED1", utc(2026, 11, 2, 9), utc(2026, 11, 9, 9)),
        OnCallEntry("PEP1", 1, "B", "PSCHED1", utc(2026, 11, 9, 9), utc(2026, 11, 16, 9)),
        OnCallEntry("PEP1", 2, "M", None, None, None),
        OnCallEntry("PEP1", 2, "A", "PSCHED1", utc(2026, 11, 2, 9), utc(2026, 11, 9, 9)),
        OnCallEntry("PEP1", 2, "B", "PSCHED1", utc(2026, 11, 9, 9), utc(2026, 11, 16, 9)),
    ]


def test_whole_shifts_keep_their_real_bounds_where_the_final_schedule_clips_them():
    since, until = utc(2026, 11, 5), utc(2026, 11, 12)
    assert final_spans(WEEKLY, [], since, until) == [
        Span("A", since, utc(2026, 11, 9, 9)), Span("B", utc(2026, 11, 9, 9), until)]
    assert whole_shifts(WEEKLY, [], since, until) == [
        Span("A", utc(2026, 11, 2, 9), utc(2026, 11, 9, 9)), Span("B", utc(2026, 11, 9, 9), utc(2026, 11, 16, 9))]
    one_shift = whole_shifts(WEEKLY, [], utc(2026, 11, 10), utc(2026, 11, 10, 0, 1))
    assert one_shift == [Span("B", utc(2026, 11, 9, 9), utc(2026, 11, 16, 9))]
    assert one_shift == whole_shifts(WEEKLY, [], utc(2026, 11, 10), utc(2026, 11, 10))  # same as the instant


def test_whole_shifts_follow_overrides_and_gaps_at_the_bounds():
    cover = override("O1", "D", utc(2026, 11, 9, 20), utc(2026, 11, 10, 4))
    assert whole_shifts(WEEKLY, [cover], utc(2026, 11, 10), utc(2026, 11, 10, 6)) == [
        Span("D", utc(2026, 11, 9, 20), utc(2026, 11, 10, 4)), Span("B", utc(2026, 11, 10, 4), utc(2026, 11, 16, 9))]
    office = schedule(layer("L1", ["A", "B"], turn=DAY, virtual_start=utc(2026, 11, 2),
                            restrictions=[daily("09:00:00", 8 * HOUR)]))
    # A shift ending exactly at `until` and one starting at `since` after a gap keep those bounds.
    assert whole_shifts(office, [], utc(2026, 11, 2, 12), utc(2026, 11, 3, 17)) == [
        Span("A", utc(2026, 11, 2, 9), utc(2026, 11, 2, 17)), Span("B", utc(2026, 11, 3, 9), utc(2026, 11, 3, 17))]
    assert whole_shifts(office, [], utc(2026, 11, 3, 9), utc(2026, 11, 3, 12)) == [
        Span("B", utc(2026, 11, 3, 9), utc(2026, 11, 3, 17))]
    assert whole_shifts(office, [], utc(2026, 11, 2, 18), utc(2026, 11, 3, 8)) == []
    leave_cover = override("O2", "D", utc(2026, 10, 20), utc(2026, 11, 20))  # far longer than a daily turn
    assert whole_shifts(office, [leave_cover], utc(2026, 11, 5), utc(2026, 11, 5, 1)) == [
        Span("D", utc(2026, 10, 20), utc(2026, 11, 20))]


def test_one_policys_oncalls_at_an_instant_reports_whole_shifts_and_honours_overrides():
    cover = override("O1", "D", utc(2026, 11, 10), utc(2026, 11, 11))
    at = utc(2026, 11, 10, 12)
    entries = oncalls([POLICY], SCHEDULES, {"PSCHED1": [cover]}, at, at)
    assert entries == [
        OnCallEntry("PEP1", 1, "D", "PSCHED1", utc(2026, 11, 10), utc(2026, 11, 11)),
        OnCallEntry("PEP1", 2, "M", None, None, None),
        OnCallEntry("PEP1", 2, "D", "PSCHED1", utc(2026, 11, 10), utc(2026, 11, 11)),
    ]


def test_earliest_keeps_one_entry_per_policy_level_and_user():
    entries = earliest(oncalls([POLICY], SCHEDULES, {}, utc(2026, 11, 5), utc(2026, 12, 5)))
    assert [(e.escalation_level, e.user_id, e.start) for e in entries] == [
        (1, "A", utc(2026, 11, 2, 9)),
        (1, "B", utc(2026, 11, 9, 9)),
        (1, "C", utc(2026, 11, 16, 9)),
        (2, "M", None),
        (2, "A", utc(2026, 11, 2, 9)),
        (2, "B", utc(2026, 11, 9, 9)),
        (2, "C", utc(2026, 11, 16, 9)),
    ]
    everything = oncalls([POLICY], SCHEDULES, {}, utc(2026, 11, 5), utc(2026, 12, 5))
    assert len(everything) > len(entries)


def test_earliest_after_a_filter_keeps_the_earliest_remaining_row():
    everything = oncalls([POLICY], SCHEDULES, {}, utc(2026, 11, 5), utc(2026, 12, 5))
    later_only = [e for e in everything if e.start is None or e.start >= utc(2026, 11, 20)]
    assert [(e.escalation_level, e.user_id, e.start) for e in earliest(later_only)] == [
        (1, "A", utc(2026, 11, 23, 9)),
        (1, "B", utc(2026, 11, 30, 9)),
        (2, "M", None),
        (2, "A", utc(2026, 11, 23, 9)),
        (2, "B", utc(2026, 11, 30, 9)),
    ]


def test_policies_sharing_a_schedule_each_list_it_in_their_own_rows():
    """`oncalls` for several policies answers exactly as each policy asked alone, in policy order."""
    backup = EscalationPolicy(id="PEP2", name="Backup", rules=[
        dict(id="R3", targets=[dict(type="schedule_reference", id="PSCHED1")])])
    cover = override("O1", "D", utc(2026, 11, 10), utc(2026, 11, 11))
    since, until = utc(2026, 11, 5), utc(2026, 11, 20)
    for reduce in (list, earliest):
        alone = [e for policy in (POLICY, backup)
                 for e in reduce(oncalls([policy], SCHEDULES, {"PSCHED1": [cover]}, since, until))]
        together = reduce(oncalls([POLICY, backup], SCHEDULES, {"PSCHED1": [cover]}, since, until))
        assert together == alone
        assert {e.escalation_policy_id for e in together} == {"PEP1", "PEP2"}


def test_level_user_ids_names_who_would_be_paged_once_each():
    at = utc(2026, 11, 10)
    assert level_user_ids(POLICY, SCHEDULES, {}, 1, at) == ["B"]
    assert level_user_ids(POLICY, SCHEDULES, {}, 2, at) == ["M", "B"]
    paged_twice = override("O1", "M", at - timedelta(hours=1), at + timedelta(hours=1))
    assert level_user_ids(POLICY, SCHEDULES, {"PSCHED1": [paged_twice]}, 2, at) == ["M"]
    with pytest.raises(ValueError):
        level_user_ids(POLICY, SCHEDULES, {}, 3, at)


def test_a_schedule_target_in_a_gap_pages_nobody():
    gappy = schedule(layer("L1", ["A"], restrictions=[daily("09:00:00", 8 * HOUR)]))
    at = utc(2026, 11, 2, 3)
    assert level_user_ids(POLICY, {"PSCHED1": gappy}, {}, 1, at) == []
    assert oncalls([POLICY], {"PSCHED1": gappy}, {}, at, at) == [OnCallEntry("PEP1", 2, "M", None, None, None)]
