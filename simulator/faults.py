"""Scripted faults: make chosen requests fail the way PagerDuty (or the network) sometimes does."""

from __future__ import annotations

import fnmatch
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class SimulatedNetworkError(Exception):
    """A fault rule asked for a dropped connection or a timeout; transports map it to their own error."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind  # "drop" or "timeout"


class FaultRule(BaseModel):
    """Which requests to break and how.

    `path` is a glob (`/incidents*`); `calls` picks matching calls by 1-based position
    (None = every matching call); `times` caps how often the rule fires.
    """

    model_config = ConfigDict(extra="forbid")

    method: str = "*"
    path: str = "*"
    calls: list[int] | None = None
    times: int | None = Field(default=None, ge=1)
    action: Literal["status", "delay", "drop", "timeout", "malformed"] = "status"
    status: int = Field(default=500, ge=400, le=599)
    rate_limit_headers: bool = True  # for 429: send ratelimit-* headers (PagerDuty sometimes does not)
    reset_seconds: int = Field(default=20, ge=0)
    delay_seconds: float = Field(default=0.0, ge=0)
    seen: int = 0  # matching calls so far
    fired: int = 0

    def matches(self, method: str, path: str) -> bool:
        return fnmatch.fnmatchcase(method, self.method.upper()) and fnmatch.fnmatchcase(path, self.path)

    def take(self, method: str, path: str) -> bool:
        """Count this call and say whether the rule fires on it."""
        if not self.matches(method, path):
            return False
        self.seen += 1
        if self.times is not None and self.fired >= self.times:
            return False
        if self.calls is not None and self.seen not in self.calls:
            return False
        self.fired += 1
        return True


class Faults:
    def __init__(self) -> None:
        self.rules: list[FaultRule] = []

    def add(self, rule: FaultRule | None = None, **fields) -> FaultRule:
        rule = rule or FaultRule(**fields)
        self.rules.append(rule)
        return rule

    def clear(self) -> None:
        self.rules.clear()

    def pick(self, method: str, path: str) -> FaultRule | None:
        fired = None
        for rule in self.rules:
            if rule.take(method, path) and fired is None:
                fired = rule
        return fired
