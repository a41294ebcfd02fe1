"""The Bolt app: `/ic` commands, thread follow-ups, approval buttons and dialogs.

Every listener answers Slack first (`ack`, well inside the 3-second limit) and then does the slow
part — identity lookup, the commander's run, posting — on Bolt's listener threads. Failures reach
the person as sentences (an ephemeral note, the command's reply URL or a thread message), never as
tracebacks; unexpected ones are logged for operators with their traceback.
"""

from __future__ import annotations

import functools
import logging
import re
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from slack_bolt import App
from slack_bolt.error import BoltError
from slack_bolt.logger.messages import warning_client_prioritized_and_token_skipped
from slack_sdk import WebClient

from agent.approvals import ApprovalError, Verdict
from agent.commander import Clock, Commander, SystemClock
from agent.wording import in_zone
from slack_app.blocks import (
    APPROVE,
    ARGUMENT_BLOCK,
    EDIT,
    EDIT_VIEW,
    REASON_BLOCK,
    REASON_INPUT,
    REASON_VIEW,
    REJECT,
    CardRef,
    DialogContext,
    decided_card,
    edit_dialog,
    edited_arguments,
    escape,
    reason_dialog,
    section,
)
from slack_app.decisions import Decider
from slack_app.errors import SLACK_FAILURES, Refusal, slack_problem
from slack_app.people import People
from slack_app.relay import RESUME_HINT, ThreadRelay
from slack_app.settings import SlackSettings
from slack_app.threads import PRIVATE, SlackThread

log = logging.getLogger(__name__)


class _ClientGiven(logging.Filter):
    """Bolt warns that SLACK_BOT_TOKEN goes unused whenever it is handed a client, though the client was built
    from that very token: a warning about nothing, at every start."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != warning_client_prioritized_and_token_skipped()


BOLT_LOG = logging.getLogger("slack_bolt.App")
BOLT_LOG.addFilter(_ClientGiven())

LISTENER_THREADS = 16  # conversations running at once; each holds a thread while the commander works
RESUME_WORDS = frozenset({"resume", "retry"})  # a reply that finishes a run that stopped (the relay's hint)
LEADING_MENTION = re.compile(r"^\s*<@[A-Z0-9]+>\s*")


class SetupError(ValueError):
    """The Slack settings cannot work; the message names the setting to fix."""


NO_BOT_TOKEN = ("SLACK_BOT_TOKEN is not set: copy the app's Bot User OAuth Token (xoxb-…) from "
                "https://api.slack.com/apps → OAuth & Permissions")


def check_setup(settings: SlackSettings, *, socket_mode: bool, need_token: bool = True) -> None:
    """Fail before anything starts when a setting the chosen mode needs is missing."""
    if need_token and settings.bot_token is None:
        raise SetupError(NO_BOT_TOKEN)
    if socket_mode and settings.app_token is None:
        raise SetupError("Socket Mode needs SLACK_APP_TOKEN: create an app-level token (xapp-…) with the "
                         "connections:write scope at https://api.slack.com/apps → Basic Information")
    if not socket_mode and settings.signing_secret is None:
        raise SetupError("SLACK_SIGNING_SECRET is not set: copy it from https://api.slack.com/apps → Basic "
                         "Information → App Credentials (or use --socket-mode with SLACK_APP_TOKEN)")


def web_client(settings: SlackSettings) -> WebClient:
    if settings.bot_token is None:
        raise SetupError(NO_BOT_TOKEN)
    return WebClient(token=settings.bot_token.get_secret_value(), base_url=settings.api_url)


def build_app(commander: Commander, settings: SlackSettings, *, client: WebClient | None = None,
              socket_mode: bool = False, clock: Clock | None = None, people: People | None = None,
              listener_threads: int = LISTENER_THREADS) -> App:
    """The Bolt app over `commander`; Slack's API through `client` (default: from settings).

    HTTP mode checks every request's signature with SLACK_SIGNING_SECRET; Socket Mode needs no
    secret (Slack authenticates the socket). The bot token is checked with Slack once, here.
    """
    check_setup(settings, socket_mode=socket_mode, need_token=client is None)
    client = client or web_client(settings)
    try:
        app = App(client=client, name="incident-commander", logger=BOLT_LOG,
                  signing_secret=settings.signing_secret.get_secret_value() if settings.signing_secret else "-",
                  request_verification_enabled=not socket_mode,
                  listener_executor=ThreadPoolExecutor(listener_threads, thread_name_prefix="slack-listener"))
    except BoltError as exc:
        raise SetupError(f"Slack did not accept SLACK_BOT_TOKEN ({exc}); check the token and that the app is "
                         "installed in the workspace") from exc
    except OSError as exc:
        raise SetupError(f"Slack could not be reached at {settings.api_url} to check SLACK_BOT_TOKEN "
                         f"({type(exc).__name__}); check the network or IC_SLACK_API_URL") from exc
    commander.scrub.learn(*(s.get_secret_value() for s in (settings.bot_token, settings.signing_secret,
                                                             settings.app_token) if s))
    people = people or People(client, settings)
    surface = SlackSurface(commander, people, Decider(commander, people, two_person_rule=settings.two_person_rule),
                           clock or SystemClock(), public=settings.public_replies)
    app.command(settings.command)(surface.on_command)
    app.event("message")(surface.on_message)
    app.action(APPROVE)(surface.on_approve)
    app.action(REJECT)(surface.on_reject)
    app.action(EDIT)(surface.on_edit)
    app.view(REASON_VIEW)(surface.on_reason)
    app.view(EDIT_VIEW)(surface.on_edited)
    return app


def _reported(listener: Callable[..., None]) -> Callable[..., None]:
    """Log what a listener did not expect (with traceback, for operators); the person is told in words."""
    @functools.wraps(listener)
    def guarded(self: SlackSurface, *args: Any, **kwargs: Any) -> None:
        try:
            listener(self, *args, **kwargs)
        except Exception as exc:
            log.exception("Slack listener %s failed", listener.__name__)
            body = kwargs.get("body") or {}
            user = (body.get("user") or {}).get("id") or body.get("user_id")
            channel = (body.get("channel") or {}).get("id") or body.get("channel_id")
            if user and channel:
                self.tell(kwargs["client"], channel, user, f"Something failed inside the app ({type(exc).__name__}); "
                          "the operators' log has the details. If a change was under way, the thread is saved "
                          "where it stopped.")
    return guarded


class SlackSurface:
    """The listeners; Bolt injects Slack's arguments by name."""

    def __init__(self, commander: Commander, people: People, decider: Decider, clock: Clock, *,
                 public: bool = False) -> None:
        self._public = public
        self._commander = commander
        self._people = people
        self._decider = decider
        self._clock = clock

    # --- conversations ---

    @_reported
    def on_command(self, ack: Any, body: dict[str, Any], command: dict[str, Any], client: WebClient,
                   respond: Any, context: Any) -> None:
        """`/ic TEXT`: ack at once, open a thread for it, run the conversation there."""
        text = (command.get("text") or "").strip() or "help"
        ack(text=f"Working on it: `{escape(text)}`")
        user, channel = command["user_id"], command["channel_id"]

        def reply(text: str, **message: Any) -> None:  # blocks and attachments, as in the thread
            respond(text=text, response_type="ephemeral", replace_original=False, **message)

        try:
            email = self._people.email(user)
        except Refusal as refusal:
            reply(str(refusal))
            return
        team = context.team_id or command.get("team_id", "")

        def open_thread() -> SlackThread:
            root = client.chat_postMessage(channel=channel, text=f"<@{user}> asked: {escape(text)}",
                                           blocks=[section(f"<@{user}> asked: `{escape(text)}`")])
            return SlackThread(team, channel, root["ts"])

        if not self._public:  # answered to the requester alone; a thread opens only for an approval card
            agent_thread = SlackThread(team, channel, f"{PRIVATE}{uuid.uuid4().hex}")

            def open_linked_thread() -> SlackThread:  # a reply in it continues this conversation
                opened = open_thread()
                self._commander.link(opened.thread_id, agent_thread.thread_id)
                return opened

            relay = ThreadRelay(client, self._commander, None, requester_user=user, fallback=reply,
                                opener=open_linked_thread)
            relay.run(self._commander.stream(agent_thread.thread_id, text, email))
            return
        try:
            thread = open_thread()
        except SLACK_FAILURES as exc:
            reply(f"I could not start a thread in this channel: {slack_problem(exc)}. Nothing was run.")
            return
        relay = ThreadRelay(client, self._commander, thread, requester_user=user, fallback=reply)
        relay.run(self._commander.stream(thread.thread_id, text, email))

    @_reported
    def on_message(self, body: dict[str, Any], event: dict[str, Any], client: WebClient, context: Any,
                   request: Any) -> None:
        """A reply in a thread that holds a conversation continues it; other messages are not ours."""
        thread_ts = event.get("thread_ts")
        if (event.get("subtype") or event.get("bot_id") or not thread_ts or thread_ts == event.get("ts")
                or request.headers.get("x-slack-retry-num")):
            return
        thread = SlackThread(context.team_id or body.get("team_id", ""), event["channel"], thread_ts)
        conversation = self._commander.conversation(thread.thread_id)  # a private conversation's card thread
        if not self._commander.audit(conversation):
            return
        user = event["user"]
        try:
            email = self._people.email(user)
        except Refusal as refusal:
            self.tell(client, thread.channel, user, str(refusal), thread_ts=thread_ts)
            return
        text = LEADING_MENTION.sub("", event.get("text") or "").strip() or "help"
        relay = ThreadRelay(client, self._commander, thread, requester_user=user)
        relay.run(self._commander.stream_resume(conversation) if text.lower().rstrip(".!") in RESUME_WORDS
                  else self._commander.stream(conversation, text, email))

    # --- approvals ---

    @_reported
    def on_approve(self, ack: Any, body: dict[str, Any], action: dict[str, Any], client: WebClient) -> None:
        ack()
        self._decide(client, body, action.get("value"), "approve")

    @_reported
    def on_reject(self, ack: Any, body: dict[str, Any], action: dict[str, Any], client: WebClient) -> None:
        """Reject asks for a reason first (the planner reads it), in a dialog."""
        ack()
        self._open_dialog(client, body, action.get("value"), "reject")

    @_reported
    def on_edit(self, ack: Any, body: dict[str, Any], action: dict[str, Any], client: WebClient) -> None:
        ack()
        self._open_dialog(client, body, action.get("value"), "edit")

    @_reported
    def on_reason(self, ack: Any, body: dict[str, Any], view: dict[str, Any], client: WebClient) -> None:
        dialog = DialogContext.load(view["private_metadata"])
        typed = (((view.get("state") or {}).get("values") or {}).get(REASON_BLOCK) or {}).get(REASON_INPUT) or {}
        reason = typed.get("value")
        self._decide_in_dialog(ack, client, body, dialog, "reject", REASON_BLOCK,
                               reason=reason.strip() if isinstance(reason, str) else "")

    @_reported
    def on_edited(self, ack: Any, body: dict[str, Any], view: dict[str, Any], client: WebClient) -> None:
        dialog = DialogContext.load(view["private_metadata"])
        request = next((r for r in self._commander.pending(dialog.ref.thread_id) if r.id == dialog.ref.approval_id),
                       None)
        block = _first_block(view)
        if block is None:  # nothing to read an edit from, nor a box to show an error next to
            ack()
            self.tell(client, dialog.channel, body["user"]["id"], "That edit dialog had no arguments to read. "
                      "Nothing was decided; click Edit on the card again.")
            return
        if request is None:
            ack(response_action="errors", errors={block: "This approval is not waiting any more."})
            return
        arguments, errors = edited_arguments(request, (view.get("state") or {}).get("values") or {})
        try:
            self._commander.preview(request, arguments)
        except ApprovalError as exc:  # shown next to the box it is about, where the dialog has one
            errors |= {ARGUMENT_BLOCK + name: problem for name, problem in exc.fields.items()
                       if name in request.arguments} or {block: str(exc)}
        if errors:
            ack(response_action="errors", errors=errors)
            return
        self._decide_in_dialog(ack, client, body, dialog, "edit", block, arguments=arguments)

    def _open_dialog(self, client: WebClient, body: dict[str, Any], value: Any, verdict: Verdict) -> None:
        user, channel = body["user"]["id"], body["channel"]["id"]
        try:
            ref = _card(value)
            request = self._decider.check(ref, user, verdict)
        except Refusal as refusal:
            self.tell(client, channel, user, str(refusal))
            return
        dialog = DialogContext.of_click(ref, body)
        view = (reason_dialog(dialog, request.summary) if verdict == "reject"
                else edit_dialog(dialog, request, self._commander.argument_help(request.tool)))
        try:
            client.views_open(trigger_id=body["trigger_id"], view=view)
        except SLACK_FAILURES as exc:
            self.tell(client, channel, user, f"I could not open the dialog: {slack_problem(exc)}. Nothing was decided.")

    def _decide(self, client: WebClient, body: dict[str, Any], value: Any, verdict: Verdict) -> None:
        """A button decision: refusals go to the clicker alone; otherwise the card is replaced, then the work runs."""
        user, channel = body["user"]["id"], body["channel"]["id"]
        try:
            ref = _card(value)
            request, events = self._decider.decide(ref, user, verdict)
        except Refusal as refusal:
            self.tell(client, channel, user, str(refusal))
            return
        self._carry_out(client, DialogContext.of_click(ref, body), user, verdict, request, events)

    def _decide_in_dialog(self, ack: Any, client: WebClient, body: dict[str, Any], dialog: DialogContext,
                          verdict: Verdict, block: str, **decision: Any) -> None:
        """A dialog decision: a refusal stays in the dialog, next to what was typed; success closes it."""
        user = body["user"]["id"]
        try:
            request, events = self._decider.decide(dialog.ref, user, verdict, **decision)
        except Refusal as refusal:
            ack(response_action="errors", errors={block: str(refusal)})
            return
        ack()
        self._carry_out(client, dialog, user, verdict, request, events, reason=decision.get("reason"))

    def _carry_out(self, client: WebClient, card: DialogContext, user: str, verdict: Verdict, request: Any,
                   events: Any, reason: str | None = None) -> None:
        """Replace the card (so it cannot be clicked twice), then run what the decision allows in the thread."""
        summary = request.summary if request is not None else "this change"
        with in_zone(self._commander.settings.time_zone):
            self._decided(client, card, user, verdict, summary, events, reason)

    def _decided(self, client: WebClient, card: DialogContext, user: str, verdict: Verdict, summary: str,
                 events: Any, reason: str | None) -> None:
        text, blocks = decided_card(summary, verdict, user, self._clock.now(), reason)
        try:
            client.chat_update(channel=card.channel, ts=card.message_ts, text=text, blocks=blocks)
        except SLACK_FAILURES as exc:
            log.warning("approval card not replaced: %s", slack_problem(exc))
        ended = ThreadRelay(client, self._commander, card.thread()).run(events)  # writes are made as the requester
        if verdict == "reject" or ended is None:
            return
        outcome = (f":white_check_mark: Done. {ended.message}" if ended.kind == "answer" and ended.problem is None
                   else f":warning: Not done: {ended.message}" + (RESUME_HINT if ended.resumable else ""))
        text, blocks = decided_card(summary, verdict, user, self._clock.now(), reason, outcome=outcome)
        try:
            client.chat_update(channel=card.channel, ts=card.message_ts, text=text, blocks=blocks)
        except SLACK_FAILURES as exc:
            log.warning("approval card not updated with the outcome: %s", slack_problem(exc))

    @staticmethod
    def tell(client: WebClient, channel: str, user: str, text: str, thread_ts: str | None = None) -> None:
        """A note only `user` sees; logged when even that fails."""
        try:
            client.chat_postEphemeral(channel=channel, user=user, text=text, thread_ts=thread_ts)
        except SLACK_FAILURES as exc:
            log.warning("could not tell %s: %s (%s)", user, text, slack_problem(exc))


def _first_block(view: dict[str, Any]) -> str | None:
    """Where a dialog-wide error is shown: the first input box (None if the submission has none)."""
    return next((b.get("block_id") for b in view.get("blocks") or [] if b.get("type") == "input"), None)


def _card(value: Any) -> CardRef:
    try:
        return CardRef.parse(value)
    except ValueError:
        raise Refusal("This button does not belong to a valid approval card. Nothing was decided.") from None
