"""Sliding-window rate limits and PagerDuty's `ratelimit-*` headers."""

from __future__ import annotations

import math
from collections import deque
from datetime import datetime

WINDOW_SECONDS = 60.0


class SlidingWindow:
    """At most `limit` hits in any trailing 60 s; reports what PagerDuty's headers report."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.hits: deque[float] = deque()

    def _trim(self, now: float) -> None:
        while self.hits and self.hits[0] <= now - WINDOW_SECONDS:
            self.hits.popleft()

    def remaining(self, now: float) -> int:
        self._trim(now)
        return max(self.limit - len(self.hits), 0)

    def reset_in(self, now: float) -> int:
        """Whole seconds until the oldest hit leaves the window (at least 1 while anything is counted)."""
        self._trim(now)
        if not self.hits:
            return int(WINDOW_SECONDS)
        return max(1, math.ceil(self.hits[0] + WINDOW_SECONDS - now))

    def hit(self, now: float) -> None:
        self.hits.append(now)


class RateLimiter:
    """One window per key (token, or token + operation group, or routing key)."""

    def __init__(self) -> None:
        self.windows: dict[tuple[str, ...], SlidingWindow] = {}

    def check(self, keys: list[tuple[tuple[str, ...], int]], when: datetime) -> tuple[bool, dict[str, str]]:
        """Count one request against every window named; refused if any is full.

        The headers describe the window closest to being exhausted, as PagerDuty's docs say.
        """
        now = when.timestamp()
        windows = []
        for key, limit in keys:
            window = self.windows.setdefault(key, SlidingWindow(limit))
            window.limit = limit  # a dataset's limits may be changed between runs
            windows.append(window)
        tightest = min(windows, key=lambda w: (w.remaining(now), -w.reset_in(now)))
        allowed = all(w.remaining(now) > 0 for w in windows)
        if allowed:
            for w in windows:
                w.hit(now)
        headers = {"ratelimit-limit": str(tightest.limit), "ratelimit-remaining": str(tightest.remaining(now)),
                   "ratelimit-reset": str(tightest.reset_in(now))}
        return allowed, headers
