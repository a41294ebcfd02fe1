"""Times and durations as people and models write them, turned into explicit UTC.

Models and on-call engineers say "tomorrow 09:00" or "-24h", not RFC 3339; PagerDuty wants ISO 8601
and reads zone-less times in the account's zone. Everything here resolves against an injected "now"
and an IANA zone and returns an aware UTC datetime, so what is sent and what is echoed back agree.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

FORMS = ("ISO 8601 (2026-11-20T09:00:00Z)", "'now'", "'-24h'", "'+8h'", "'30m'", "'24h ago'",
         "'in 2h'", "'today 17:30'", "'tomorrow 09:00'", "'9am tomorrow'", "'tonight'", "'monday 09:00'",
         "'09:00'", "'3am PST'", "'09:00 Europe/Berlin'")
_UNITS = {"s": 1, "sec": 1, "secs": 1, "second": 1, "seconds": 1,
          "m": 60, "min": 60, "mins": 60, "minute": 60, "minutes": 60,
          "h": 3600, "hr": 3600, "hrs": 3600, "hour": 3600, "hours": 3600,
          "d": 86400, "day": 86400, "days": 86400, "w": 604800, "week": 604800, "weeks": 604800}
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([a-z]+)")
_DURATION = re.compile(r"(?:\d+(?:\.\d+)?\s*[a-z]+\s*)+")
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_DAY_WORDS = {"today": 0, "tomorrow": 1, "yesterday": -1}
_CLOCK_TIME = re.compile(r"(\d{1,2})(?::(\d{2}))?\s*(am|pm)?")
# Zone abbreviations people write after a time, read as the region's zone (so "PST" in July is PDT, which the
# echo then says): a fixed offset would be exact for the letters but wrong for the person.
ZONE_NAMES = {"utc": "UTC", "gmt": "UTC", "z": "UTC",
              "pst": "America/Los_Angeles", "pdt": "America/Los_Angeles", "pt": "America/Los_Angeles",
              "mst": "America/Denver", "mdt": "America/Denver", "mt": "America/Denver",
              "cst": "America/Chicago", "cdt": "America/Chicago", "ct": "America/Chicago",
              "est": "America/New_York", "edt": "America/New_York", "et": "America/New_York",
              "bst": "Europe/London", "cet": "Europe/Berlin", "cest": "Europe/Berlin",
              "jst": "Asia/Tokyo", "sgt": "Asia/Singapore", "aest": "Australia/Sydney", "aedt": "Australia/Sydney"}
_IANA = re.compile(r"[A-Za-z]+(?:/[A-Za-z0-9_+-]+)+")
_SPOKEN_PREFIX = re.compile(r"^(?:at|on)\s+")


class TimeParseError(ValueError):
    """A time or duration that cannot be read; the message lists the forms that can."""


def zone(name: str | None) -> ZoneInfo:
    """The IANA zone `name` (UTC when None)."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        raise TimeParseError(f"unknown time zone {name!r}; use an IANA name such as Europe/Berlin") from None


def parse_duration(text: str | int) -> timedelta:
    """'30m', '2h', '1d', '1h30m', '2 hours' or a number of seconds ('3600') → a positive timedelta."""
    raw = str(text).strip().lower()
    if re.fullmatch(r"\d+(?:\.\d+)?", raw):
        seconds = float(raw)
    elif _DURATION.fullmatch(raw):
        seconds = 0.0
        for amount, unit in _PART.findall(raw):
            if unit not in _UNITS:
                raise TimeParseError(f"unknown unit {unit!r} in duration {text!r}; use s, m, h, d or w")
            seconds += float(amount) * _UNITS[unit]
    else:
        raise TimeParseError(f"cannot read duration {text!r}; use e.g. '30m', '2h', '1d' or seconds ('3600')")
    if seconds <= 0:
        raise TimeParseError(f"duration {text!r} must be longer than zero")
    return timedelta(seconds=seconds)


def parse_time(text: str, *, now: datetime, tz: str | None = None, base: datetime | None = None,
               past: bool = False, name: str = "time") -> datetime:
    """`text` as an aware UTC datetime; `name` is the argument it came from, for the error message.

    Zone-less ISO times, day words and clock times are read in `tz` (default UTC). Offsets ('+8h',
    '-24h', '24h ago', 'in 2h') count from `base` (default `now`), and so does a bare clock time or
    weekday (its first occurrence after `base`), so an end can be "+8h" or "17:00" after its start.
    When `past` is set (a window's start) a bare duration points back in time, and a bare clock time or
    weekday means the most recent one; otherwise they point forward.
    """
    text, named = split_zone(text)
    raw = " ".join(text.strip().lower().split())
    if not raw:
        raise TimeParseError(f"{name} is empty; give a time, one of: {', '.join(FORMS)}")
    where = zone(named or tz)  # a zone written with the time wins over the requester's
    origin = base or now
    if raw == "now":
        return _utc(now)
    if shift := _offset(raw, past):
        return _utc(origin + shift)
    try:
        return _utc(_iso(text.strip(), where))
    except ValueError:
        pass
    if moment := _calendar(raw, now.astimezone(where), origin.astimezone(where), past):
        return _utc(moment)
    if moment := _spoken(raw, origin.astimezone(where), past):
        return _utc(moment)
    raise TimeParseError(f"cannot read {name} {text!r}; use one of: {', '.join(FORMS)}")


def split_zone(text: str) -> tuple[str, str | None]:
    """'3am PST' → ('3am', 'America/Los_Angeles'); '09:00 Europe/Berlin' → ('09:00', 'Europe/Berlin');
    a text without a zone of its own comes back unchanged with None."""
    head, _, last = text.strip().rpartition(" ")
    if head and last.lower() in ZONE_NAMES:
        return head, ZONE_NAMES[last.lower()]
    if head and _IANA.fullmatch(last):
        return head, zone(last).key
    return text, None


def local(moment: datetime, tz: str | None) -> str:
    """A time in the zone it was said in, with UTC beside it: '2026-11-21 03:00 PST (11:00 UTC)'."""
    where = zone(tz)
    if where.key == "UTC":
        return human(moment)
    there, utc = moment.astimezone(where), human(moment)
    return f"{there:%Y-%m-%d %H:%M} {there.tzname()} ({utc[11:] if there.date() == _utc(moment).date() else utc})"


def relative(text: str) -> bool:
    """Whether `text` counts from the moment it is read ('now', '+8h', '24h ago'): read later, it moves."""
    raw = " ".join(text.strip().lower().split())
    return raw == "now" or _offset(raw, past=False) is not None


def iso(moment: datetime) -> str:
    """The UTC ISO 8601 form sent to PagerDuty and echoed back: '2026-11-20T12:00:00Z'."""
    return _utc(moment).strftime("%Y-%m-%dT%H:%M:%SZ")


def human(moment: datetime) -> str:
    """The form people read on approval cards: '2026-11-20 12:00 UTC'."""
    return _utc(moment).strftime("%Y-%m-%d %H:%M UTC")


def span(seconds: float) -> str:
    """A length people read: '8 h', '45 min', '1 d 2 h'."""
    minutes = round(seconds / 60)
    days, minutes = divmod(minutes, 1440)
    hours, minutes = divmod(minutes, 60)
    parts = [f"{days} d" if days else "", f"{hours} h" if hours else "", f"{minutes} min" if minutes else ""]
    return " ".join(p for p in parts if p) or "0 min"


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def _offset(raw: str, past: bool) -> timedelta | None:
    sign = -1 if past else 1
    if raw.endswith(" ago"):
        raw, sign = raw[:-4].strip(), -1
    elif raw.startswith("in "):
        raw, sign = raw[3:].strip(), 1
    elif raw and raw[0] in "+-":
        raw, sign = raw[1:].strip(), (-1 if raw[0] == "-" else 1)
    if not raw[:1].isdigit() or raw.isdigit():
        return None  # a bare number is a year or an hour, not an offset
    try:
        return sign * parse_duration(raw)
    except TimeParseError:
        return None


def _iso(text: str, where: ZoneInfo) -> datetime:
    moment = datetime.fromisoformat(text.replace("z", "Z").replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=where)


def _calendar(raw: str, local_now: datetime, local_origin: datetime, past: bool) -> datetime | None:
    """'today 17:30', 'tomorrow', 'monday 09:00', '09:00' in the zone of `local_now`.

    Day words count from `local_now`; a weekday or bare clock time is the first one after
    `local_origin`, or with `past` the most recent one up to `local_now`.
    """
    word, _, rest = raw.partition(" ")
    if word in _DAY_WORDS:
        day, clock = local_now.date() + timedelta(days=_DAY_WORDS[word]), rest
    elif (weekday := _weekday(word)) is not None:
        day, clock = None, rest
    else:
        weekday, day, clock = None, None, raw
    at = _clock(clock) if clock else time(0)
    if at is None:
        return None
    if day is None:
        day = _last(weekday, at, local_now) if past else _next(weekday, at, local_origin)
    return datetime.combine(day, at, tzinfo=local_now.tzinfo)


def _spoken(raw: str, local_origin: datetime, past: bool) -> datetime | None:
    """'9am tomorrow', 'tonight', '22:00 tonight', 'next week', 'friday at 5pm': the ways people say a
    time, read by dateparser against `local_origin` (so the result is deterministic). Digits alone are a
    year or an amount, never a time."""
    if not re.search(r"[a-z]", raw) or re.search(r"\d:\d(?!\d)", raw):
        return None
    import dateparser  # imported on first use: it takes a moment, and most times never need it

    settings = {"RELATIVE_BASE": local_origin.replace(tzinfo=None), "TIMEZONE": str(local_origin.tzinfo),
                "RETURN_AS_TIMEZONE_AWARE": True, "PREFER_DATES_FROM": "past" if past else "future"}
    return dateparser.parse(_SPOKEN_PREFIX.sub("", raw), languages=["en"], settings=settings)


def _weekday(word: str) -> int | None:
    for index, name in enumerate(_WEEKDAYS):
        if word in (name, name[:3]):
            return index
    return None


def _next(weekday: int | None, at: time, after: datetime) -> date:
    """The day of the first `at` (on `weekday`, or any day when None) strictly after `after`."""
    ahead = 0 if weekday is None else (weekday - after.weekday()) % 7
    if ahead == 0 and at <= after.time():
        ahead = 1 if weekday is None else 7
    return after.date() + timedelta(days=ahead)


def _last(weekday: int | None, at: time, before: datetime) -> date:
    """The day of the most recent `at` (on `weekday`, or any day when None) up to `before`."""
    back = 0 if weekday is None else (before.weekday() - weekday) % 7
    if back == 0 and at > before.time():
        back = 1 if weekday is None else 7
    return before.date() - timedelta(days=back)


def _clock(text: str) -> time | None:
    match = _CLOCK_TIME.fullmatch(text.strip().removeprefix("at ").strip())
    if not match:
        return None
    hour, minute = int(match[1]), int(match[2] or 0)
    if match[3]:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if match[3] == "pm" else 0)
    if hour > 23 or minute > 59:
        return None
    return time(hour, minute)
