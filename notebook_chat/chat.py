"""`NotebookChat`: the commander in a Jupyter notebook.

`chat("who is on call for Payments API?")` streams the run's steps into one output that updates in
place, then shows the answer as Markdown and the data behind it (on-call, incidents) as tables. A
change waits for a person: its card has Approve / Reject buttons (`widgets` mode), and
`chat.approve()`, `chat.reject("why")` and `chat.edit(field=value)` work in every mode, so a notebook
can also run unattended (`auto-approve`, `auto-reject`). Everything goes through `Commander`, so
approvals, audit and checkpoints are the same as on every other surface.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import chain
from typing import Any, Literal

from IPython.display import HTML, Image, Markdown, display

from agent.approvals import ApprovalError, ApprovalRequest, Verdict
from agent.commander import Commander, ProgressEvent
from agent.settings import Settings
from agent.wording import ToolResult, in_zone
from notebook_chat.card import ApprovalCard, card_html
from notebook_chat.errors import NotebookError
from notebook_chat.markdown import StepLog, as_markdown, timeline_headline
from notebook_chat.settings import ApprovalMode, resolve_approval_mode
from notebook_chat.tables import audit_table, html_table, result_tables, timeline_table
from notebook_chat.timeline_chart import timeline_png

HOW_TO_DECIDE = 'decide with `chat.approve()`, `chat.reject("why")` or `chat.edit(field=value)`'
FOOTERS: dict[str, str] = {
    "widgets": f"Click Approve or Reject, or {HOW_TO_DECIDE}.",
    "manual": f"Waiting: {HOW_TO_DECIDE}.",
    "auto-approve": "Approved automatically (approval mode auto-approve).",
    "auto-reject": "Rejected automatically (approval mode auto-reject).",
}
DONE = {"approve": "Approved", "reject": "Rejected", "edit": "Edited and approved"}

ExchangeStatus = Literal["answered", "waiting", "failed"]


@dataclass
class Exchange:
    """One request or decision made in this notebook, and how it ended (a row of `history()`)."""

    asked: str
    status: ExchangeStatus
    text: str
    events: list[ProgressEvent] = field(repr=False)

    @property
    def results(self) -> list[ToolResult]:
        """What each tool returned during this exchange, in order."""
        return [ToolResult(e.tool or "", {}, e.result, "success" if e.ok else "error")
                for e in self.events if e.kind == "tool_finished" and e.result is not None]

    @property
    def asked_for_approval(self) -> list[ApprovalRequest]:
        """The approvals this exchange asked for (not older ones still waiting)."""
        return [e.approval for e in self.events if e.kind == "approval_needed" and e.approval is not None]


class NotebookChat:
    """A conversation (one commander thread) shown in notebook cells."""

    def __init__(self, commander: Commander, *, approval_mode: str | None = None, thread_id: str | None = None,
                 approver: str | None = None) -> None:
        self.commander = commander
        self.approval_mode: ApprovalMode = resolve_approval_mode(approval_mode)
        self.thread_id = thread_id or f"notebook-{secrets.token_hex(4)}"
        """A fresh thread per chat, so a new kernel never inherits a decision waiting from an old run."""
        self.approver = approver or commander.requester
        self.exchanges: list[Exchange] = []
        self.cards: dict[str, ApprovalCard] = {}
        """The button cards shown in `widgets` mode, by approval id."""
        self._clicked_card: ApprovalCard | None = None

    @classmethod
    def from_settings(cls, settings: Settings | None = None, *, approval_mode: str | None = None,
                      thread_id: str | None = None, approver: str | None = None, **wiring: Any) -> NotebookChat:
        """A chat over `Commander.from_settings(settings, **wiring)`: with no keys, the embedded demo
        organisation in command mode. `approval_mode` wins over `IC_NOTEBOOK_APPROVAL_MODE`."""
        mode = resolve_approval_mode(approval_mode)  # a bad mode fails before anything is opened
        return cls(Commander.from_settings(settings, **wiring), approval_mode=mode, thread_id=thread_id,
                   approver=approver)

    # --- asking ---

    def __call__(self, text: str) -> None:
        """Ask something, or give a command: the steps, then the answer and its tables, then any approval."""
        self._present(self._converse(text, self.commander.stream(self.thread_id, text)))

    def timeline(self, incident: str | int) -> None:
        """The post-mortem timeline of an incident: headline, picture and every log entry.

        It only reads, so each one runs on a thread of its own: a decision waiting in the conversation
        does not hold it up, and a timeline that failed is simply asked for again."""
        text, thread = f"timeline {incident}", f"{self.thread_id}-timeline-{len(self.exchanges) + 1}"
        exchange = self._converse(text, self.commander.stream(thread, text), thread)
        data = next((r.data for r in reversed(exchange.results)
                     if r.name == "incident_timeline" and not r.error and isinstance(r.data, dict)), None)
        if data is None or exchange.status != "answered":
            self._present(exchange, retry=f"chat.timeline({incident!r})")
            return
        with in_zone(self.commander.settings.time_zone):
            display(Markdown(timeline_headline(data)))
            display(Image(data=timeline_png(data), format="png"))
            display(HTML(timeline_table(data)))

    def resume(self) -> None:
        """Finish a run that stopped on an error; a change already made is recognised, not made twice."""
        self._present(self._converse("resume", self.commander.stream_resume(self.thread_id)))

    # --- deciding ---

    def pending(self) -> list[ApprovalRequest]:
        """The approvals waiting on this chat's thread."""
        return self.commander.pending(self.thread_id)

    def approve(self, approval_id: str | None = None) -> None:
        """Approve the waiting change (name its id when several wait)."""
        self._decide(self._waiting(approval_id), "approve")

    def reject(self, reason: str | None = None, approval_id: str | None = None) -> None:
        """Reject the waiting change; the reason is what the agent reads."""
        self._decide(self._waiting(approval_id), "reject", reason=reason)

    def edit(self, approval_id: str | None = None, /, **changes: Any) -> None:
        """Approve the waiting change with some arguments changed, e.g. `chat.edit(urgency="low")`."""
        if not changes:
            raise NotebookError('Say what to change, e.g. chat.edit(urgency="low"); to run it as it is, '
                                "use chat.approve().")
        request = self._waiting(approval_id)
        self._decide(request, "edit", arguments={**request.arguments, **changes})

    # --- looking back ---

    def history(self) -> None:
        """This chat's conversation so far, as a table."""
        rows = [(n, e.asked, e.status, e.text) for n, e in enumerate(self.exchanges, start=1)]
        display(HTML(html_table(["#", "Asked", "Outcome", "Reply"], rows,
                                caption=f"Conversation on thread {self.thread_id}")))

    def audit(self, all_threads: bool = False) -> None:
        """The audit trail of this chat's thread (or of every thread) as a table."""
        entries = self.commander.audit(None if all_threads else self.thread_id)
        with in_zone(self.commander.settings.time_zone):
            display(HTML(audit_table(entries, with_thread=all_threads)))

    @property
    def last(self) -> Exchange | None:
        return self.exchanges[-1] if self.exchanges else None

    def close(self) -> None:
        self.commander.close()

    def _repr_markdown_(self) -> str:
        notices = "".join(f"\n- {as_markdown(n)}" for n in self.commander.notices)
        return (f"**Incident Commander** · thread `{self.thread_id}` · approvals: `{self.approval_mode}`{notices}\n\n"
                f'Ask with `chat("…")`; {HOW_TO_DECIDE}; `chat.timeline(INCIDENT)` draws a post-mortem timeline.')

    # --- running and showing ---

    def _converse(self, asked: str, events: Iterator[ProgressEvent], thread_id: str | None = None) -> Exchange:
        """Run to the end, showing steps in one output that updates in place; nothing shows if refused."""
        try:
            first = next(events, None)  # a decision Commander refuses is raised here, before any output
        except ApprovalError as error:
            raise NotebookError(f"{error}.") from None
        steps, handle, seen = StepLog(), None, []
        for event in chain([first] if first else [], events):
            seen.append(event)
            if not steps.add(event):
                continue
            if self._clicked_card is not None:  # after a click, the card's own widget shows the steps live
                self._clicked_card.progress.value = steps.html()
            elif handle is None:
                handle = display(Markdown(steps.markdown()), display_id=True)
            else:
                handle.update(Markdown(steps.markdown()))
        pending = self.commander.pending(thread_id or self.thread_id)
        final = next((e for e in reversed(seen) if e.kind in ("answer", "failed", "notice")), None)
        status: ExchangeStatus = "failed" if final and final.kind == "failed" else "waiting" if pending else "answered"
        text = final.message if final else "Waiting for approval: " + "; ".join(r.summary for r in pending)
        exchange = Exchange(asked=asked, status=status, text=text, events=seen)
        self.exchanges.append(exchange)
        return exchange

    def _present(self, exchange: Exchange, retry: str = "chat.resume()") -> None:
        """Show an exchange's outcome, tables and cards, times in the configured zone with UTC beside them."""
        with in_zone(self.commander.settings.time_zone):
            self._show(exchange, retry)

    def _show(self, exchange: Exchange, retry: str) -> None:
        if exchange.status == "failed":
            display(Markdown(f"⚠️ {as_markdown(exchange.text)}\n\nRun `{retry}` to retry."))
        elif exchange.status == "waiting" and not exchange.asked_for_approval:  # held up by an earlier request
            how = "click its card's buttons or " + HOW_TO_DECIDE if self.approval_mode == "widgets" else HOW_TO_DECIDE
            display(Markdown(f"{as_markdown(exchange.text)}\n\nDecide that first: {how}."))
        elif exchange.text and exchange.status != "waiting":
            display(Markdown(as_markdown(exchange.text)))
        for result in exchange.results:
            for table in result_tables(result):
                display(HTML(table))
        self._ask(exchange.asked_for_approval)

    def _ask(self, requests: list[ApprovalRequest]) -> None:
        """Show a card per request; in the automatic modes, decide each at once."""
        for request in requests:
            footer = FOOTERS[self.approval_mode]
            if len(requests) > 1 and self.approval_mode in ("widgets", "manual"):
                footer += f' Several are waiting: name this one, e.g. `chat.approve("{request.id}")`.'
            if self.approval_mode == "widgets":
                card = ApprovalCard(request, footer, on_approve=lambda c: self._clicked(c, "approve"),
                                    on_reject=lambda c: self._clicked(c, "reject"))
                self.cards[request.id] = card
                display(card.widget)
            else:
                display(HTML(card_html(request, footer)))
        if self.approval_mode in ("auto-approve", "auto-reject"):
            for request in requests:
                automatic = f"{self.approver} ({self.approval_mode})"
                if self.approval_mode == "auto-approve":
                    self._decide(request, "approve", approver=automatic)
                else:
                    self._decide(request, "reject", approver=automatic, reason="rejected by the auto-reject mode")

    def _decide(self, request: ApprovalRequest, verdict: Verdict, *, arguments: dict[str, Any] | None = None,
                reason: str | None = None, approver: str | None = None) -> None:
        approver = approver or self.approver
        events = self.commander.stream_decide(self.thread_id, request.id, verdict, approver, arguments=arguments,
                                              reason=reason, nonce=request.nonce)
        exchange = self._converse(f"{verdict} {request.id}", events)
        if request.id in self.cards:
            self.cards[request.id].settle(f"{DONE[verdict]} by {approver}")
        self._present(exchange)

    def _waiting(self, approval_id: str | None) -> ApprovalRequest:
        pending = self.pending()
        listed = "; ".join(f"{r.id} ({r.summary})" for r in pending)
        if approval_id is not None:
            found = next((r for r in pending if r.id == approval_id), None)
            if found is None:
                raise NotebookError(f"No approval {approval_id} is waiting on this chat's thread"
                                    + (f"; waiting: {listed}." if pending else "; nothing is waiting."))
            return found
        if not pending:
            raise NotebookError("Nothing is waiting for approval on this chat's thread; ask for a change first.")
        if len(pending) > 1:
            raise NotebookError(f"{len(pending)} approvals are waiting: {listed}. Name one, e.g. "
                                f'chat.approve("{pending[0].id}").')
        return pending[0]

    def _clicked(self, card: ApprovalCard, verdict: Verdict) -> None:
        """A button press: decide, and show what followed (or why not) inside the card."""
        self._clicked_card = card
        with card.output:
            try:
                if verdict == "approve":
                    self.approve(card.request.id)
                else:
                    self.reject(card.reason.value.strip() or None, card.request.id)
            except NotebookError as error:
                display(Markdown(f"⚠️ {error}"))
            except Exception as error:  # a click has no cell to show a traceback in: say it here
                display(Markdown(f"⚠️ Could not decide: {type(error).__name__}: {error}. Try "
                                 f'chat.{verdict}(approval_id="{card.request.id}") in a cell.'))
            finally:
                self._clicked_card = None
