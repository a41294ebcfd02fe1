"""A fake Slack for offline tests: its Web API on loopback, and the signed requests Slack sends.

`FakeSlack` serves the Web API methods the app calls (on 127.0.0.1, port 0) and the reply URLs of
slash commands and clicks, records every call, and answers like Slack does — including the errors a
test asks for. Requests going the other way (slash commands, clicks, dialog submissions, events)
are built and HMAC-signed exactly as Slack signs them, and sent over real HTTP to the app served by
uvicorn, so signature checks, routing and acks are the real ones.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import count
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
from langgraph.checkpoint.memory import InMemorySaver
from servers import running_server
from slack_sdk import WebClient

from agent.commander import Commander
from agent.planners.command import CommandModel
from agent.settings import Settings
from slack_app.app import build_app
from slack_app.server import SlackServer
from slack_app.settings import SlackSettings
from tools.settings import PagerDutySettings

TEAM = "T0ACME"
BOT_USER, BOT_ID = "U0BOT", "B0BOT"
BOT_TOKEN = "xoxb-fake-bot-token"
SIGNING_SECRET = "fake-signing-secret"
WAIT = 10.0  # seconds a test waits for background work before it fails


@dataclass
class Call:
    """One request the app made to Slack: the API method (or `hook:<id>` for a reply URL) and its arguments."""

    method: str
    args: dict[str, Any]
    authorization: str | None
    reply: dict[str, Any] = field(default_factory=dict)


@dataclass
class Failure:
    error: str
    when: Callable[[dict[str, Any]], bool] | None = None


@dataclass
class FakeSlack:
    """Slack's Web API and reply URLs on loopback; `users` maps user id → email (None: no email on profile)."""

    users: dict[str, str | None] = field(default_factory=dict)
    groups: dict[str, list[str]] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    failures: dict[str, list[Failure]] = field(default_factory=dict)
    held: dict[str, threading.Event] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._changed = threading.Condition()
        self._ts = count(1)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> FakeSlack:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def api_url(self) -> str:
        return self.base_url + "/api/"

    def hook(self, name: str) -> str:
        """A reply URL (`response_url`) that lands here as `hook:<name>`."""
        return f"{self.base_url}/hooks/{name}"

    def hold(self, method: str) -> threading.Event:
        """Keep answers to `method` waiting until the returned event is set (a slow Slack, on demand)."""
        self.held[method] = threading.Event()
        return self.held[method]

    def fail(self, method: str, error: str, when: Callable[[dict[str, Any]], bool] | None = None) -> None:
        """Answer `method` with `{"ok": false, "error": error}` (only for calls matching `when`, if given)."""
        self.failures.setdefault(method, []).append(Failure(error, when))

    # --- what the app did ---

    def of(self, method: str) -> list[Call]:
        with self._changed:
            return [c for c in self.calls if c.method == method]

    def wait_for(self, check: Callable[[list[Call]], Any], timeout: float = WAIT) -> Any:
        """Block until `check(calls)` is truthy (and return it); fail the test after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not (found := check(list(self.calls))):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"Slack never saw what the test waited for; calls: "
                                         f"{[c.method for c in self.calls]}")
                self._changed.wait(left)
            return found

    def wait_call(self, method: str, where: Callable[[dict[str, Any]], bool] = lambda a: True,
                  n: int = 1, timeout: float = WAIT) -> list[Call]:
        """The first `n` calls of `method` whose arguments match `where`, once there are that many."""
        def matching(calls: list[Call]) -> list[Call] | None:
            found = [c for c in calls if c.method == method and where(c.args)]
            return found if len(found) >= n else None
        return self.wait_for(matching, timeout)

    # --- serving ---

    def _answer(self, method: str, args: dict[str, Any], authorization: str | None) -> dict[str, Any]:
        reply = self._reply_to(method, args, authorization)
        self._record(Call(method, args, authorization, reply))
        if method in self.held and not self.held[method].wait(WAIT):
            raise AssertionError(f"{method} was held and never released")
        return reply

    def _record(self, call: Call) -> None:
        with self._changed:
            self.calls.append(call)
            self._changed.notify_all()

    def _reply_to(self, method: str, args: dict[str, Any], authorization: str | None) -> dict[str, Any]:
        for failure in self.failures.get(method, []):
            if failure.when is None or failure.when(args):
                return {"ok": False, "error": failure.error}
        if authorization != f"Bearer {BOT_TOKEN}":
            return {"ok": False, "error": "invalid_auth"}
        ts = f"1795000000.{next(self._ts):06d}"
        answers: dict[str, Callable[[], dict[str, Any]]] = {
            "auth.test": lambda: {"url": "https://acme.slack.com/", "team": "Acme", "user": "incident-commander",
                                  "team_id": TEAM, "user_id": BOT_USER, "bot_id": BOT_ID},
            "chat.postMessage": lambda: {"channel": args.get("channel"), "ts": ts,
                                         "message": {"text": args.get("text"), "ts": ts}},
            "chat.update": lambda: {"channel": args.get("channel"), "ts": args.get("ts")},
            "chat.postEphemeral": lambda: {"message_ts": ts},
            "views.open": lambda: {"view": {"id": "V0DIALOG"}},
            "users.info": lambda: self._user(args.get("user")),
            "usergroups.users.list": lambda: ({"users": self.groups[args["usergroup"]]}
                                              if args.get("usergroup") in self.groups
                                              else {"ok": False, "error": "no_such_subteam"}),
        }
        return {"ok": True, **answers.get(method, dict)()}

    def _user(self, user_id: str | None) -> dict[str, Any]:
        if user_id not in self.users:
            return {"ok": False, "error": "user_not_found"}
        profile = {"real_name": user_id} | ({"email": self.users[user_id]} if self.users[user_id] else {})
        return {"user": {"id": user_id, "team_id": TEAM, "profile": profile}}


def _handler(slack: FakeSlack) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._serve(b"")

        def do_POST(self) -> None:
            self._serve(self.rfile.read(int(self.headers.get("content-length") or 0)))

        def _serve(self, raw: bytes) -> None:
            url = urlsplit(self.path)
            args: dict[str, Any] = dict(parse_qsl(url.query))
            if raw:
                is_json = (self.headers.get("content-type") or "").startswith("application/json")
                args |= json.loads(raw) if is_json else dict(parse_qsl(raw.decode()))
            if url.path.startswith("/hooks/"):
                slack._record(Call("hook:" + url.path.removeprefix("/hooks/"), args, None))
                self._reply(b"ok", "text/plain")
                return
            method = url.path.removeprefix("/api/")
            self._reply(json.dumps(slack._answer(method, args, self.headers.get("authorization"))).encode(),
                        "application/json; charset=utf-8")

        def _reply(self, body: bytes, content_type: str) -> None:
            self.send_response(200)
            self.send_header("content-type", content_type)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:  # quiet test output
            pass

    return Handler


# --- requests Slack sends to the app -----------------------------------------------------------------

def signed_headers(body: str, *, secret: str = SIGNING_SECRET, timestamp: int | None = None,
                   content_type: str = "application/x-www-form-urlencoded") -> dict[str, str]:
    """Slack's v0 signature: HMAC-SHA256 over `v0:<timestamp>:<body>` with the signing secret."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"v0:{stamp}:{body}".encode(), hashlib.sha256).hexdigest()
    return {"content-type": content_type, "x-slack-request-timestamp": stamp, "x-slack-signature": f"v0={digest}"}


def command_body(slack: FakeSlack, text: str, *, user: str, channel: str, command: str = "/ic",
                 hook: str = "cmd") -> str:
    return urlencode({"token": "legacy", "team_id": TEAM, "team_domain": "acme", "channel_id": channel,
                      "channel_name": "ops", "user_id": user, "user_name": user.lower(), "command": command,
                      "text": text, "api_app_id": "A0IC", "response_url": slack.hook(hook),
                      "trigger_id": "1.2.trigger"})


def click_body(slack: FakeSlack, card: Call, action_id: str, *, user: str, hook: str = "click") -> str:
    """A `block_actions` payload for clicking `action_id` on a card the app posted."""
    button = next(e for b in card.args["blocks"] if b["type"] == "actions" for e in b["elements"]
                  if e["action_id"] == action_id)
    ts = card.reply["ts"]
    container = {"type": "message", "message_ts": ts, "channel_id": card.args["channel"]}
    if card.args.get("thread_ts"):
        container["thread_ts"] = card.args["thread_ts"]
    payload = {"type": "block_actions", "team": {"id": TEAM, "domain": "acme"}, "user": {"id": user},
               "api_app_id": "A0IC", "token": "legacy", "trigger_id": "3.4.trigger",
               "container": container,
               "channel": {"id": card.args["channel"]}, "message": {"ts": ts, "blocks": card.args["blocks"]},
               "response_url": slack.hook(hook),
               "actions": [{"type": "button", "action_id": action_id, "block_id": "ic_decide",
                            "value": button["value"], "action_ts": str(time.time())}]}
    return urlencode({"payload": json.dumps(payload)})


def submission_body(view: dict[str, Any], values: dict[str, str], *, user: str) -> str:
    """A `view_submission` payload for the dialog the app opened, with `values` typed into its boxes."""
    elements = {b["block_id"]: b["element"] for b in view["blocks"] if b.get("block_id") in values}
    state = {block: {elements[block]["action_id"]: (
        {"type": "static_select", "selected_option": {"value": value}} if elements[block]["type"] == "static_select"
        else {"type": "plain_text_input", "value": value})} for block, value in values.items()}
    payload = {"type": "view_submission", "team": {"id": TEAM}, "user": {"id": user}, "api_app_id": "A0IC",
               "token": "legacy", "trigger_id": "5.6.trigger",
               "view": {**view, "id": "V0DIALOG", "team_id": TEAM, "state": {"values": state}}}
    return urlencode({"payload": json.dumps(payload)})


def event_body(event: dict[str, Any]) -> str:
    return json.dumps({"token": "legacy", "team_id": TEAM, "api_app_id": "A0IC", "type": "event_callback",
                       "event_id": f"Ev{time.time_ns()}", "event_time": int(time.time()), "event": event})


def post(client: httpx.Client, body: str, headers: dict[str, str]) -> httpx.Response:
    return client.post("/slack/events", content=body.encode(), headers=headers)


def messages_in(slack: FakeSlack, thread_ts: str) -> list[Call]:
    return [c for c in slack.of("chat.postMessage") if c.args.get("thread_ts") == thread_ts]


# --- the app under test, wired to the fake ---------------------------------------------------------

CHANNEL = "C0OPS"
REQUESTER, APPROVER, OTHER, NO_EMAIL = "U0BILAL", "U0OLIVIA", "U0CHEN", "U0NOMAIL"
USERS = {REQUESTER: "bilal.khan@acme.example", APPROVER: "olivia.grant@acme.example",
         OTHER: "chen.wei@acme.example", NO_EMAIL: None}


@dataclass
class World:
    """The real app (Bolt, our listeners, the Commander on the demo simulator) served by uvicorn, and Slack."""

    slack: FakeSlack
    http: httpx.Client
    commander: Commander
    sim: Any
    clock: Any

    def command(self, text: str, user: str = REQUESTER, hook: str = "cmd") -> httpx.Response:
        body = command_body(self.slack, text, user=user, channel=CHANNEL, hook=hook)
        return post(self.http, body, signed_headers(body))

    def click(self, card: Call, action_id: str, user: str = APPROVER, body: str | None = None) -> httpx.Response:
        body = body or click_body(self.slack, card, action_id, user=user)
        return post(self.http, body, signed_headers(body))

    def submit(self, view: dict[str, Any], values: dict[str, str], user: str = APPROVER) -> httpx.Response:
        body = submission_body(view, values, user=user)
        return post(self.http, body, signed_headers(body))

    def reply_in_thread(self, thread_ts: str, text: str, user: str = REQUESTER) -> httpx.Response:
        body = event_body({"type": "message", "channel": CHANNEL, "user": user, "text": text,
                           "ts": f"{time.time():.6f}", "thread_ts": thread_ts, "channel_type": "channel"})
        return post(self.http, body, signed_headers(body, content_type="application/json"))

    def root(self, n: int = 1) -> Call:
        """The n-th message that opened a thread (a top-level post)."""
        return self.slack.wait_call("chat.postMessage", lambda a: "thread_ts" not in a, n=n)[n - 1]

    def card(self, n: int = 1) -> Call:
        """The n-th approval card posted."""
        return self.slack.wait_call("chat.postMessage", is_card, n=n)[n - 1]

    def said(self, thread_ts: str, phrase: str) -> Call:
        """Wait for a thread message containing `phrase`."""
        return self.slack.wait_call("chat.postMessage", lambda a: a.get("thread_ts") == thread_ts
                                    and phrase in a.get("text", ""))[0]

    def told(self, user: str, phrase: str) -> Call:
        """Wait for an ephemeral note to `user` containing `phrase`."""
        return self.slack.wait_call("chat.postEphemeral", lambda a: a.get("user") == user
                                    and phrase in a.get("text", ""))[0]

    def writes(self) -> list[Any]:
        return [r for r in self.sim.request_log if r.is_write]


def is_card(args: dict[str, Any]) -> bool:
    return any(b.get("type") == "actions" for b in args.get("blocks") or [])


@contextmanager
def slack_world(sim: Any, clock: Any, **slack_settings: Any) -> Iterator[World]:
    """Everything real but Slack and PagerDuty: fake Slack on loopback, the simulator in-process."""
    settings = {"approvers": (APPROVER,)} | slack_settings
    with FakeSlack(users=dict(USERS)) as slack, Commander.from_settings(
            Settings(checkpoint_db=":memory:", requester="nobody"), model=CommandModel(), transport=sim.transport(),
            checkpointer=InMemorySaver(), clock=clock, pagerduty_settings=PagerDutySettings(api_key=None)) as commander:
        app = build_app(commander, SlackSettings(bot_token=BOT_TOKEN, signing_secret=SIGNING_SECRET,
                                                 api_url=slack.api_url, **settings),
                        client=WebClient(token=BOT_TOKEN, base_url=slack.api_url), clock=clock)
        with running_server(SlackServer(app, SIGNING_SECRET)) as url, httpx.Client(base_url=url, timeout=WAIT) as http:
            yield World(slack, http, commander, sim, clock)
