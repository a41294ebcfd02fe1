"""Wall time: the one clock protocol of the tools, the agent and the surfaces, and the real clock.

Whatever needs "now" (a relative time resolved, an approval's expiry, an audit record, a card's time)
takes a `Clock`, so tests and evals pass a manual one and move it. The simulator declares a protocol of
the same shape (it imports nothing of ours); a Protocol is structural, so one clock serves both.
Waits between retries are measured on another kind of time: `tools.client.Monotonic`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    """Where "now" comes from: an aware datetime."""

    def now(self) -> datetime: ...


class SystemClock:
    """The real wall-clock time, in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)
