"""Who may decide an approval from Slack, and turning a click into a `Commander` decision.

Checks, in order: the person is an approver (list or user group); they have a PagerDuty identity
(the decision is recorded under their email); under the two-person rule they did not ask for this
change themselves, unless it is low risk; then the Commander checks the rest — the request is
still waiting, the nonce is the card's, the approval has not expired — and records the decision
once, so a double click or a replayed payload decides nothing the second time.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import chain
from typing import Any

from agent.approvals import ApprovalError, ApprovalRequest, Verdict
from agent.commander import Commander, ProgressEvent
from slack_app.blocks import CardRef
from slack_app.errors import Refusal
from slack_app.people import People


class Decider:
    def __init__(self, commander: Commander, people: People, *, two_person_rule: bool) -> None:
        self._commander = commander
        self._people = people
        self._two_person_rule = two_person_rule

    def check(self, ref: CardRef, user_id: str, verdict: Verdict) -> ApprovalRequest:
        """Before a dialog opens: the waiting request, or `Refusal` saying why this person cannot decide it."""
        request, _ = self._allowed(ref, user_id, verdict)
        if request is None:
            raise Refusal("This approval is not waiting any more: it was already decided, or the card is from an "
                          "older request. Nothing was decided.")
        return request

    def decide(self, ref: CardRef, user_id: str, verdict: Verdict, *, arguments: dict[str, Any] | None = None,
               reason: str | None = None) -> tuple[ApprovalRequest | None, Iterator[ProgressEvent]]:
        """Record the decision now (or refuse); the returned events carry out what it allows, as they are read."""
        request, approver = self._allowed(ref, user_id, verdict)
        events = self._commander.stream_decide(ref.thread_id, ref.approval_id, verdict, approver,
                                               arguments=arguments, reason=reason, nonce=ref.nonce)
        try:
            first = next(events)  # the Commander's own checks: still waiting, this card's nonce, not expired
        except ApprovalError as exc:
            raise Refusal(f"{_sentence(str(exc))} Nothing was decided.") from exc
        return first.approval or request, chain([first], events)  # an edit's: re-summarised, as it will run

    def _allowed(self, ref: CardRef, user_id: str, verdict: Verdict) -> tuple[ApprovalRequest | None, str]:
        """The request if still waiting, and the decider's email; `Refusal` for people who may not decide it."""
        self._people.check_approver(user_id)
        approver = self._people.email(user_id)
        request = next((r for r in self._commander.pending(ref.thread_id) if r.id == ref.approval_id), None)
        if (request is not None and self._two_person_rule and verdict != "reject" and request.risk != "low"
                and request.requester.lower() == approver.lower()):
            raise Refusal(f"You asked for this change ({request.summary}), and the two-person rule needs another "
                          "approver to say yes. Nothing was decided.")
        return request, approver


def _sentence(text: str) -> str:
    text = text.strip()
    return text[:1].upper() + text[1:] + ("" if text.endswith((".", "!", "?")) else ".")
