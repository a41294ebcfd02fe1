"""Times and durations as people and models write them, read against a fixed "now" in a given zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from tools.timeparse import (
    TimeParseError,
    human,
    iso,
    local,
    parse_duration,
    parse_time,
    relative,
    span,
    split_zone,
    zone,
)

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)  # a Friday; 13:00 in Berlin


@pytest.mark.parametrize(("text", "tz", "expected"), [
    ("now", None, "2026-11-20T12:00:00Z"),
    ("NOW", "Europe/Berlin", "2026-11-20T12:00:00Z"),
    ("-24h", None, "2026-11-19T12:00:00Z"),
    ("+8h", None, "2026-11-20T20:00:00Z"),
    ("30m", None, "2026-11-20T12:30:00Z"),
    ("+1h30m", None, "2026-11-20T13:30:00Z"),
    ("24h ago", None, "2026-11-19T12:00:00Z"),
    ("in 2 hours", None, "2026-11-20T14:00:00Z"),
    ("-1w", None, "2026-11-13T12:00:00Z"),
    ("tomorrow 09:00", "Europe/Berlin", "2026-11-21T08:00:00Z"),
    ("tomorrow at 9am", "Europe/Berlin", "2026-11-21T08:00:00Z"),
    ("today 17:30", "Europe/Berlin", "2026-11-20T16:30:00Z"),
    ("today 17:30", None, "2026-11-20T17:30:00Z"),
    ("yesterday 23:00", "UTC", "2026-11-19T23:00:00Z"),
    ("tomorrow", "America/New_York", "2026-11-21T05:00:00Z"),
    ("monday 09:00", "Europe/Berlin", "2026-11-23T08:00:00Z"),
    ("Mon 9:00", "Europe/Berlin", "2026-11-23T08:00:00Z"),
    ("friday 14:00", "Europe/Berlin", "2026-11-20T13:00:00Z"),  # today, still ahead
    ("friday 11:00", "Europe/Berlin", "2026-11-27T10:00:00Z"),  # today's has passed: next week
    ("09:00", "Europe/Berlin", "2026-11-21T08:00:00Z"),  # the next 09:00
    ("15:00", "Europe/Berlin", "2026-11-20T14:00:00Z"),
    ("2026-11-21T09:00:00Z", "Europe/Berlin", "2026-11-21T09:00:00Z"),  # an offset wins over the zone
    ("2026-11-21T09:00:00+01:00", None, "2026-11-21T08:00:00Z"),
    ("2026-11-21 09:00", "Europe/Berlin", "2026-11-21T08:00:00Z"),  # zone-less: read in the zone
    ("2026-11-21", "Asia/Kolkata", "2026-11-20T18:30:00Z"),
])
def test_times_become_explicit_utc(text, tz, expected):
    assert iso(parse_time(text, now=NOW, tz=tz)) == expected


@pytest.mark.parametrize(("text", "tz", "expected", "echo"), [
    ("9am tomorrow", None, "2026-11-21T09:00:00Z", "2026-11-21 09:00 UTC"),
    ("tonight", "Europe/Berlin", "2026-11-20T19:00:00Z", "2026-11-20 20:00 CET (19:00 UTC)"),
    ("22:00 tonight", "Europe/Berlin", "2026-11-20T21:00:00Z", "2026-11-20 22:00 CET (21:00 UTC)"),
    ("next week", None, "2026-11-27T12:00:00Z", "2026-11-27 12:00 UTC"),
    ("friday at 5pm", None, "2026-11-20T17:00:00Z", "2026-11-20 17:00 UTC"),
    ("3am PST", "Europe/Berlin", "2026-11-21T11:00:00Z", "2026-11-21 03:00 PST (11:00 UTC)"),
    ("tomorrow 3am pst", None, "2026-11-21T11:00:00Z", "2026-11-21 03:00 PST (11:00 UTC)"),
    ("09:00 Europe/Berlin", None, "2026-11-21T08:00:00Z", "2026-11-21 09:00 CET (08:00 UTC)"),
    ("in an hour", None, "2026-11-20T13:00:00Z", "2026-11-20 13:00 UTC"),
])
def test_times_as_people_say_them_with_the_zone_they_were_said_in(text, tz, expected, echo):
    moment = parse_time(text, now=NOW, tz=tz)
    assert iso(moment) == expected
    assert local(moment, split_zone(text)[1] or tz) == echo


def test_daylight_saving_is_respected():
    before_switch = datetime(2026, 10, 31, 12, 0, tzinfo=UTC)  # New York leaves DST on Nov 1
    assert iso(parse_time("tomorrow 09:00", now=before_switch, tz="America/New_York")) == "2026-11-01T14:00:00Z"
    assert iso(parse_time("today 09:00", now=before_switch, tz="America/New_York")) == "2026-10-31T13:00:00Z"


def test_offsets_count_from_a_base_and_bare_durations_can_point_back():
    start = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
    assert iso(parse_time("+8h", now=NOW, base=start)) == "2026-11-21T17:00:00Z"
    assert iso(parse_time("now", now=NOW, base=start)) == "2026-11-20T12:00:00Z"  # "now" is always now
    assert iso(parse_time("24h", now=NOW, past=True)) == "2026-11-19T12:00:00Z"
    assert iso(parse_time("+24h", now=NOW, past=True)) == "2026-11-21T12:00:00Z"  # an explicit sign wins


@pytest.mark.parametrize("text", ["banana", "3600", "25:00", "tomorrow 9:7", "someday", "13pm", "+", "whenever"])
def test_unreadable_times_say_which_forms_work(text):
    with pytest.raises(TimeParseError, match="use one of: ISO 8601"):
        parse_time(text, now=NOW)


@pytest.mark.parametrize("text", ["", "   "])
def test_an_empty_time_is_refused_by_the_name_of_its_argument(text):
    with pytest.raises(TimeParseError, match=r"^since is empty; give a time, one of: ISO 8601"):
        parse_time(text, now=NOW, past=True, name="since")


def test_a_window_start_means_the_most_recent_clock_time_or_weekday():
    assert iso(parse_time("09:00", now=NOW, past=True)) == "2026-11-20T09:00:00Z"  # earlier today
    assert iso(parse_time("13:00", now=NOW, past=True)) == "2026-11-19T13:00:00Z"  # still ahead today: yesterday's
    assert iso(parse_time("monday", now=NOW, past=True)) == "2026-11-16T00:00:00Z"
    assert iso(parse_time("friday 13:00", now=NOW, past=True)) == "2026-11-13T13:00:00Z"
    assert iso(parse_time("friday", now=NOW, past=True)) == "2026-11-20T00:00:00Z"


def test_a_clock_time_or_weekday_after_a_base_is_its_first_occurrence_after_it():
    start = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)  # tomorrow 09:00
    assert iso(parse_time("17:00", now=NOW, base=start)) == "2026-11-21T17:00:00Z"
    assert iso(parse_time("06:00", now=NOW, base=start)) == "2026-11-22T06:00:00Z"
    assert iso(parse_time("friday 17:00", now=NOW, base=start)) == "2026-11-27T17:00:00Z"
    assert iso(parse_time("tomorrow 06:00", now=NOW, base=start)) == "2026-11-21T06:00:00Z"  # day words: from now


def test_unknown_zone_is_refused():
    with pytest.raises(TimeParseError, match="unknown time zone 'Mars/Base'"):
        parse_time("tomorrow 09:00", now=NOW, tz="Mars/Base")
    assert str(zone(None)) == "UTC"


@pytest.mark.parametrize(("text", "seconds"), [
    ("30m", 1800), ("2h", 7200), ("1d", 86400), ("3600", 3600), (3600, 3600), ("1h30m", 5400),
    ("2 hours", 7200), ("90s", 90), ("1w", 604800), ("1.5h", 5400), (" 45 min ", 2700),
])
def test_durations(text, seconds):
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize(("text", "message"), [
    ("0", "longer than zero"), ("0m", "longer than zero"), ("soon", "cannot read duration"),
    ("5 fortnights", "unknown unit 'fortnights'"), ("-5m", "cannot read duration"), ("", "cannot read duration"),
])
def test_bad_durations(text, message):
    with pytest.raises(TimeParseError, match=message):
        parse_duration(text)


@pytest.mark.parametrize(("text", "moves"), [
    ("now", True), ("+8h", True), ("-24h", True), ("30m", True), ("2h ago", True), ("in 5m", True),
    ("tomorrow 09:00", False), ("2026-11-21T09:00:00Z", False), ("09:00", False),
])
def test_relative_times_are_those_that_move_when_read_again(text, moves):
    assert relative(text) is moves


def test_human_forms():
    assert human(datetime(2026, 11, 20, 13, 0, tzinfo=timezone(timedelta(hours=1)))) == "2026-11-20 12:00 UTC"
    assert span(8 * 3600) == "8 h"
    assert span(90 * 60) == "1 h 30 min"
    assert span(26 * 3600) == "1 d 2 h"
    assert span(0) == "0 min"
