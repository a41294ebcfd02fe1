"""The scripted human in the loop: answers each approval request from the scenario's `approvals` rules.

A request is matched by tool and by the arguments the rule names (the first unused rule that fits
wins). A request no rule fits is rejected, as a careful on-call engineer would reject a change they
did not ask for; the trial records it as unscripted, and the approvals check fails it (proposing a
change nobody asked for is itself a mistake). The gold replay uses the same matcher, so the
gold state and the run agree on which calls a person allowed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from evals.matching import Names, subset
from evals.scenario import Approval

UNSCRIPTED_REASON = "this change was not part of the request"
DEFAULT_APPROVER = "olivia.grant@acme.example"


@dataclass(frozen=True)
class Answer:
    verdict: Literal["approve", "edit", "reject"]
    approver: str
    arguments: dict[str, Any] | None
    """With edit: the whole new argument set (the request's arguments with the rule's changes)."""
    reason: str | None
    rule: int | None
    """Index of the rule used; None for an unscripted request."""


class Human:
    """Decides requests one by one; each rule answers once unless `reuse` (robustness runs, where a
    corrected mistake asks again for the change a rule describes)."""

    def __init__(self, rules: list[Approval], names: Names | None = None, *, reuse: bool = False) -> None:
        self.rules = rules
        self.names = names
        self.reuse = reuse
        self.used: set[int] = set()

    def decide(self, tool: str, arguments: dict[str, Any]) -> Answer:
        for index, rule in enumerate(self.rules):
            if index in self.used and not self.reuse:
                continue
            if rule.tool == tool and subset(rule.match, arguments, self.names):
                self.used.add(index)
                return Answer(verdict=rule.decision, approver=rule.approver, rule=index, reason=rule.reason,
                              arguments=edited(arguments, rule.arguments) if rule.decision == "edit" else None)
        return Answer(verdict="reject", approver=DEFAULT_APPROVER, arguments=None, reason=UNSCRIPTED_REASON, rule=None)


def edited(arguments: dict[str, Any], changes: dict[str, Any] | None) -> dict[str, Any]:
    """The request's arguments with the edit applied (a null value removes that argument)."""
    merged = {**arguments, **(changes or {})}
    return {k: v for k, v in merged.items() if v is not None}
