"""Clocks the simulator reads time from: the real one, or a manual one tests and evals move."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo


def known_zone(name: str) -> ZoneInfo | None:
    """The IANA time zone called `name`, or None for anything else a request may carry.

    ZoneInfo raises ValueError, KeyError or OSError (e.g. a name too long for a file name) depending on
    how the name is wrong; callers only need to know it is not a zone.
    """
    try:
        return ZoneInfo(name)
    except (ValueError, KeyError, OSError):
        return None


class Clock(Protocol):
    """Where "now" comes from: wall time as an aware datetime.

    The same shape as the clock the tools and the agent take (`tools.clock.Clock`). The simulator
    imports nothing of the project, so it declares its own; a Protocol is structural, so one clock
    object (say a `ManualClock` a test moves) serves the simulator and the commander alike.
    """

    def now(self) -> datetime: ...


class SystemClock:
    """Wall-clock UTC time; what a served simulator uses unless its dataset fixes "now"."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """A clock that only moves when told to: deterministic tests, evals and rate-limit windows."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("ManualClock needs a timezone-aware start time")
        self._now = start.astimezone(UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += timedelta(seconds=seconds)

    def set(self, when: datetime) -> None:
        with self._lock:
            self._now = when.astimezone(UTC)
