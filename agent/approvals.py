"""Who may change PagerDuty, and how a person says yes or no.

The policy maps each tool to `auto`, `approve` or `deny` (YAML; `approval_policy.yaml` beside this
module is the default); what a tool is (read or write, destructive, its risk) comes from its declaration
in `tools.registry`, and `agent.screening` applies the policy to a plan's calls. An `ApprovalRequest` is
what a person sees and answers: plain JSON, with a single-use nonce and an expiry. A `Decision` is
their answer. The texts the planner reads after a
rejection, a denial or an edit live here too, so every surface and planner sees the same words.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal, Protocol

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from tools.registry import TOOLS, Risk

Rule = Literal["auto", "approve", "deny"]
Verdict = Literal["approve", "edit", "reject"]

DEFAULT_POLICY = Path(__file__).with_name("approval_policy.yaml")


class ApprovalError(ValueError):
    """A decision that cannot be accepted (expired, reused, unknown, malformed); the message says why, and
    `fields` which edited argument is wrong and how, for dialogs that show it next to the box."""

    def __init__(self, message: str, fields: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.fields = fields or {}


class PolicyError(ValueError):
    """The approval policy file is unusable or would let a destructive call run unapproved."""


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader, refusing a key given twice in one mapping: in a policy the last one would
    silently win, and `add_note: deny` followed by `add_note: auto` must not read as `auto`."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: set = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"{key!r} is given twice",
                                                        key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep)


class Named(Protocol):
    """A tool as the policy sees it: its name (a LangChain tool or a declaration of `tools.registry`)."""

    @property
    def name(self) -> str: ...


class ApprovalPolicy(BaseModel):
    """Tool → rule, with defaults by the tool's kind; risk levels for the approval cards where a workspace
    sees them otherwise than the tools' declarations do."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    reads: Rule = "auto"
    writes: Rule = "approve"
    tools: dict[str, Rule] = {}
    deny_reason: str = "the approval policy does not allow it"
    risk: dict[str, Risk] = {}

    @classmethod
    def load(cls, path: Path | str | None = None) -> ApprovalPolicy:
        """Read a policy file (default: the built-in one); a malformed file fails with its path in the message."""
        path = Path(path or DEFAULT_POLICY)
        try:
            return cls.model_validate(yaml.load(path.read_text(), Loader=_UniqueKeyLoader) or {})
        except yaml.MarkedYAMLError as exc:  # one line, with where: "'x' is given twice (line 4)"
            where = f" (line {exc.problem_mark.line + 1})" if exc.problem_mark else ""
            raise PolicyError(f"approval policy {path}: {exc.problem or exc}{where}") from exc
        except (OSError, yaml.YAMLError, ValueError) as exc:
            raise PolicyError(f"approval policy {path}: {exc}") from exc

    def rule(self, tool: Named) -> Rule:
        """The rule for a tool, by its declaration; a name no tool is declared with counts as a destructive write."""
        declared = TOOLS.get(tool.name)
        kind = declared.kind if declared else "write"
        rule = self.tools.get(tool.name, self.reads if kind == "read" else self.writes)
        if rule == "auto" and kind != "read" and (declared is None or declared.destructive):
            raise PolicyError(f"approval policy: {tool.name} changes PagerDuty destructively and cannot be "
                              "'auto'; use 'approve' or 'deny'")
        return rule

    def check(self, tools: Iterable[Named]) -> None:
        """Fail at start-up, not at 3 a.m.: every tool has a legal rule, and a typo cannot hide a `deny`."""
        for tool in tools:
            self.rule(tool)
        unknown = sorted((set(self.tools) | {k.split(".")[0] for k in self.risk}) - set(TOOLS))
        if unknown:
            raise PolicyError(f"approval policy names tools that do not exist: {', '.join(unknown)}")

    def risk_of(self, tool: str, arguments: dict[str, Any]) -> Risk:
        """This policy's `tool.action` (e.g. update_incident.resolve), then its `tool`, then the tool's declared
        risk (medium for a name no tool is declared with)."""
        action = arguments.get("action")
        declared = TOOLS.get(tool)
        return (self.risk.get(f"{tool}.{action}") or self.risk.get(tool)
                or (declared.risk_of(arguments) if declared else "medium"))


class ApprovalRequest(BaseModel):
    """One call waiting for a person: everything a Slack card, a notebook or a terminal needs to show."""

    id: str
    nonce: str = Field(description="Single use: a decision quoting it is accepted once.")
    thread_id: str
    tool_call_id: str
    tool: str
    arguments: dict[str, Any]
    summary: str = Field(description="What will happen, in one sentence, with names resolved.")
    names: dict[str, str] = Field(default_factory=dict, description=(
        "How people know each id or name in the arguments, id in brackets: 'P567AF0' → 'API Gateway (P567AF0)'."))
    risk: Risk
    requester: str
    created_at: datetime
    expires_at: datetime

    @classmethod
    def new(cls, *, thread_id: str, tool_call_id: str, tool: str, arguments: dict[str, Any], summary: str,
            risk: Risk, requester: str, now: datetime, ttl: timedelta,
            names: dict[str, str] | None = None) -> ApprovalRequest:
        return cls(id=f"apr_{secrets.token_hex(6)}", nonce=secrets.token_urlsafe(16), thread_id=thread_id,
                   tool_call_id=tool_call_id, tool=tool, arguments=arguments, summary=summary, names=names or {},
                   risk=risk, requester=requester, created_at=now, expires_at=now + ttl)

    def accept(self, verdict: Verdict, *, now: datetime, nonce: str | None) -> None:
        """Refuse a decision with the wrong nonce, or an approval after expiry (a rejection is always allowed)."""
        if nonce is not None and not secrets.compare_digest(nonce, self.nonce):
            raise ApprovalError(f"approval {self.id}: the nonce does not match this request; "
                                "it may be from an older card")
        if verdict != "reject" and now >= self.expires_at:
            raise ApprovalError(f"approval {self.id} expired at {self.expires_at:%Y-%m-%d %H:%M} UTC; "
                                "reject it and ask again")


class Decision(BaseModel):
    """A person's answer to one request. `edit` carries the new (already re-validated) arguments."""

    approval_id: str
    verdict: Verdict
    approver: str = Field(min_length=1)
    arguments: dict[str, Any] | None = None
    reason: str | None = None
    decided_at: datetime

    @model_validator(mode="after")
    def _shape(self) -> Decision:
        if (self.verdict == "edit") != (self.arguments is not None):
            raise ValueError("arguments come with an edit, and only with an edit")
        return self


REJECTED = "Rejected by "
UNCHANGED = " Nothing was changed in PagerDuty."
RETRY_GUIDANCE = " Do not repeat this call unless the person asks again."
"""The part of a rejection meant for a model planner only; command mode shows people the rest."""


def rejection_text(decision: Decision) -> str:
    """What the planner reads when a person says no; it must not retry the same call."""
    reason = (decision.reason or "no reason given").rstrip(". ")
    return f"{REJECTED}{decision.approver}: {reason}.{UNCHANGED}{RETRY_GUIDANCE}"


def is_rejection(text: str) -> bool:
    """Whether a tool reply is a person's rejection: a decision taken, not a failure."""
    return text.startswith(REJECTED)


def rejected_by(text: str) -> str:
    """Who said no and why, from a rejection's text (`rejection_text`): "rejected by omar: not tonight"."""
    who_and_why = text.split(UNCHANGED)[0].strip().rstrip(".")
    return who_and_why[:1].lower() + who_and_why[1:]


def denial_text(policy: ApprovalPolicy, tool: str) -> str:
    return f"Refused: {tool} is not allowed here ({policy.deny_reason}). Nothing was changed in PagerDuty."


def edit_notice(decision: Decision) -> str:
    """Prefix of an edited call's result, so the planner (and, in command mode, people) know what actually ran:
    'Edited by sam@example.com before running; it ran with incident 9, urgency low.'"""
    used = ", ".join(f"{name.replace('_', ' ')} {value if isinstance(value, str) else json.dumps(value)}"
                     for name, value in sorted((decision.arguments or {}).items()))
    return f"Edited by {decision.approver} before running; it ran with {used}.\n"
