"""The planner's tools as a person reads them: each one's kind, the rule that decides whether someone
approves it, and what it does. Built without reaching PagerDuty, so listing works offline."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import httpx

from agent.approvals import ApprovalPolicy, Rule
from agent.embedded import connect
from agent.settings import Settings
from tools.settings import PagerDutySettings
from tools.toolkit import build_toolkit


@dataclass(frozen=True)
class ListedTool:
    name: str
    kind: Literal["read", "write"]
    approval: Rule
    """The approval policy's rule for it."""
    description: str


@dataclass(frozen=True)
class ToolListing:
    tools: list[ListedTool]
    read_only: bool
    """PAGERDUTY_READ_ONLY is set: write tools are not offered."""


def list_tools(settings: Settings) -> ToolListing:
    """Every tool the commander would offer with these settings, checked against the approval policy."""
    pagerduty = PagerDutySettings()
    connection = connect(pagerduty, transport=httpx.MockTransport(_sends_nothing), clock=None, progress=None)
    try:
        toolkit = build_toolkit(connection.client, connection.events, read_only=pagerduty.read_only)
        policy = ApprovalPolicy.load(settings.approval_policy)
        policy.check(toolkit.tools)
        return ToolListing([ListedTool(t.name, toolkit.info(t.name).kind, policy.rule(t), t.description)
                            for t in toolkit.tools], toolkit.read_only)
    finally:
        connection.client.close()
        connection.events.close()


def _sends_nothing(request: httpx.Request) -> httpx.Response:
    raise AssertionError(f"listing the tools must not call PagerDuty ({request.method} {request.url.path})")
