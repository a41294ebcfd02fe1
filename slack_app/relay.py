"""One run of the commander, told in its Slack thread: progress, approval cards, the outcome.

A private run (the default for `/ic`) has no thread until it needs one: its answers reach only the
person who asked, and the thread is opened in the channel when an approval card must be posted there.
The run advances only while its events are read, so the relay reads every event to the end even
when Slack stops accepting messages; what cannot be posted is logged and, where the person would
otherwise hear nothing, sent through the slash command's reply URL instead. An approval card that
cannot be posted is never left waiting: its request is rejected, so nothing is written.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

from slack_sdk import WebClient

from agent.approvals import ApprovalError, ApprovalRequest
from agent.commander import Commander, ProgressEvent
from agent.wording import in_zone
from slack_app.blocks import answer_message, approval_card, context, escape, section
from slack_app.errors import SLACK_FAILURES, slack_problem
from slack_app.threads import SlackThread

log = logging.getLogger(__name__)

WITHDRAWN_BY = "Incident Commander (Slack)"
PROGRESS_LINES = 8  # the progress message shows the latest steps only
RESUME_HINT = " Reply `resume` in this thread to finish it."
PROGRESS_KINDS = frozenset({"tool_started", "tool_finished", "rate_limit_wait", "retry_wait"})


class ThreadRelay:
    """Posts one conversation's runs into its Slack thread."""

    def __init__(self, client: WebClient, commander: Commander, thread: SlackThread | None, *,
                 requester_user: str | None = None, fallback: Callable[..., None] | None = None,
                 opener: Callable[[], SlackThread] | None = None) -> None:
        """`thread` None: a private run, told through `fallback`; `opener` posts its thread for a card."""
        self._client = client
        self._commander = commander
        self._thread = thread
        self._requester_user = requester_user
        self._fallback = fallback
        self._opener = opener
        self._progress_ts: str | None = None
        self._progress: list[str] = []
        self._ended: ProgressEvent | None = None
        self._started: str | None = None  # the tool whose step is the last line, while it runs

    def run(self, events: Iterator[ProgressEvent]) -> ProgressEvent | None:
        """Relay a run, then withdraw the cards Slack refused; the event that ended it (answer or failure)."""
        self._ended = None
        with in_zone(self._commander.settings.time_zone):  # times in cards and fallback texts, UTC beside them
            for request, problem in self._relay(events):
                self._withdraw(request, problem)
        return self._ended

    def _relay(self, events: Iterator[ProgressEvent]) -> list[tuple[ApprovalRequest, str]]:
        results: list[str] = []
        unposted: list[tuple[ApprovalRequest, str]] = []
        for event in events:
            if event.kind in ("answer", "failed"):
                self._ended = event
            if event.kind in PROGRESS_KINDS:
                if event.kind == "tool_finished" and event.result is not None:
                    results.append(event.result)
                self._show_progress(event)
            elif event.kind == "approval_needed" and event.approval is not None:
                text, blocks = approval_card(event.approval, self._requester_user)
                problem = self._open() or self._post(text=text, blocks=blocks)
                if problem is not None:
                    unposted.append((event.approval, problem))
            elif event.kind == "answer":
                self._say(**answer_message(event.message, results))
            elif event.kind in ("failed", "notice"):
                mark = ":warning: " if event.kind == "failed" else ""
                text = event.message + (RESUME_HINT if event.resumable and self._thread is not None else "")
                self._say(text=text, blocks=[section(mark + escape(text))])
        return unposted

    def _withdraw(self, request: ApprovalRequest, problem: str) -> None:
        """Reject a request whose card never reached Slack, and say so wherever it can be heard."""
        note = (f"I could not post the approval card for: {request.summary} ({problem}). Nothing was changed "
                "in PagerDuty; the request was withdrawn. Fix the problem and ask again.")
        self._say(text=note, blocks=[section(":warning: " + escape(note))])
        try:
            self._relay(self._commander.stream_decide(
                request.thread_id, request.id, "reject", WITHDRAWN_BY, reason=f"the approval card could not be "
                f"posted in Slack ({problem})", nonce=request.nonce))
        except ApprovalError as exc:  # decided meanwhile (another process saw the card): nothing to withdraw
            log.info("approval %s not withdrawn: %s", request.id, exc)

    def _open(self) -> str | None:
        """Give a private run its thread in the channel; None when it has one, else what Slack said."""
        if self._thread is not None:
            return None
        if self._opener is None:
            return "there is no thread to post it in"
        try:
            self._thread = self._opener()
        except SLACK_FAILURES as exc:
            return slack_problem(exc)
        return None

    def _show_progress(self, event: ProgressEvent) -> None:
        """One message per run, edited as steps start and finish; a private run shows only its answer."""
        if self._thread is None:
            return
        line = {"tool_started": f"{event.message}…",
                "tool_finished": f"{event.message}: {'done' if event.ok else 'failed'}"}.get(event.kind, event.message)
        if event.kind == "tool_finished" and self._progress and self._started == event.tool:
            self._progress[-1] = line
        else:
            self._progress.append(line)
        self._started = event.tool if event.kind == "tool_started" else None
        shown = self._progress[-PROGRESS_LINES:]
        text = "\n".join(f"• {escape(line)}" for line in shown)
        blocks = [context(":hourglass_flowing_sand: Steps\n" + text)]
        try:
            if self._progress_ts is None:
                self._progress_ts = self._client.chat_postMessage(
                    channel=self._thread.channel, thread_ts=self._thread.ts, text=text, blocks=blocks)["ts"]
            else:
                self._client.chat_update(channel=self._thread.channel, ts=self._progress_ts, text=text, blocks=blocks)
        except SLACK_FAILURES as exc:
            log.warning("progress not shown in %s: %s", self._thread.thread_id, slack_problem(exc))

    def _post(self, **message: Any) -> str | None:
        """Post in the thread; None when it worked, else what Slack said."""
        if self._thread is None:
            return "there is no thread to post it in"
        try:
            self._client.chat_postMessage(channel=self._thread.channel, thread_ts=self._thread.ts, **message)
        except SLACK_FAILURES as exc:
            problem = slack_problem(exc)
            log.warning("message not posted in %s: %s", self._thread.thread_id, problem)
            return problem
        return None

    def _say(self, **message: Any) -> None:
        """Post in the thread (a private run: tell the requester alone), or failing that tell them privately."""
        if self._thread is None:
            self._tell(**message)
            return
        problem = self._post(**message)
        if problem is not None:
            self._tell(text=f"{message['text']}\n\n(I could not post this in the thread: {problem}.)")

    def _tell(self, **message: Any) -> None:
        if self._fallback is None:
            return
        try:
            self._fallback(**message)
        except Exception as exc:  # the reply URL is the last channel left; its failure is only logged
            log.warning("could not reach the requester either: %s", type(exc).__name__)
