"""The planner's tools as a person reads them: each one's kind, the rule that decides whether someone
approves it, and what it does. Read from the tools' declarations, so listing needs neither PagerDuty nor
LangChain."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from agent.approvals import ApprovalPolicy, Rule
from agent.settings import Settings
from tools.registry import TOOLS
from tools.settings import PagerDutySettings


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
    read_only = PagerDutySettings().read_only
    offered = [tool for tool in TOOLS.values() if not (read_only and tool.kind == "write")]
    policy = ApprovalPolicy.load(settings.approval_policy)
    policy.check(offered)
    return ToolListing([ListedTool(t.name, t.kind, policy.rule(t), t.description) for t in offered], read_only)
