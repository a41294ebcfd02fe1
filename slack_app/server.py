"""Serving the Bolt app: an ASGI app for uvicorn (HTTP mode), or a Socket Mode connection.

Bolt's ASGI handler runs the synchronous `App.dispatch` on the event loop, where one request waiting
for its `ack` would hold up every other; here dispatch runs in a worker thread instead. A health
endpoint answers without touching Slack, for load balancers and container probes. Every request to
the events path passes `RequestGate` first: signature before parsing, and no replays.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt import App
from slack_bolt.adapter.asgi import SlackRequestHandler
from slack_bolt.adapter.asgi.http_request import AsgiHttpRequest
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_bolt.request import BoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.signature import SignatureVerifier

from slack_app.app import check_setup
from slack_app.settings import SlackSettings

EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"
REPLAY_WINDOW = 300  # seconds: Slack's own limit on a request's age, so older ones are refused anyway

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


class RequestGate:
    """Slack's signature checked on the raw bytes before anything parses them, and each signed request
    taken once: a request replayed within Slack's five-minute window (same timestamp and signature) is
    dropped, so a captured slash command cannot post a second card. Replays are remembered per process."""

    def __init__(self, signing_secret: str, clock: Callable[[], float] = time.time) -> None:
        self._verifier = SignatureVerifier(signing_secret)
        self._clock = clock
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()

    def refusal(self, body: bytes, headers: dict[str, str]) -> BoltResponse | None:
        """None for a fresh, correctly signed request; else the answer to send instead."""
        stamp, signature = headers.get("x-slack-request-timestamp", ""), headers.get("x-slack-signature", "")
        if not (stamp.isdigit() and abs(self._clock() - int(stamp)) <= REPLAY_WINDOW
                and self._verifier.is_valid(body, stamp, signature)):
            return BoltResponse(status=401, body='{"error": "invalid request"}',
                                headers={"content-type": ["application/json"]})
        now = self._clock()
        with self._lock:
            self._seen = {key: until for key, until in self._seen.items() if until > now}
            if signature in self._seen:
                return BoltResponse(status=200, body="")  # already handled once: nothing to do again
            self._seen[signature] = int(stamp) + REPLAY_WINDOW
        return None


class _ThreadedHandler(SlackRequestHandler):
    def __init__(self, app: App, path: str, gate: RequestGate) -> None:
        super().__init__(app, path)
        self.gate = gate

    async def dispatch(self, request: AsgiHttpRequest) -> BoltResponse:
        raw = await _raw_body(request)
        headers = {name.lower(): value for name, value in request.get_headers().items() if isinstance(value, str)}
        refusal = self.gate.refusal(raw, headers)
        if refusal is not None:
            return refusal
        bolt_request = BoltRequest(body=raw.decode("utf-8", "replace"), query=request.query_string,
                                   headers=request.get_headers())
        return await asyncio.to_thread(self.app.dispatch, bolt_request)


async def _raw_body(request: AsgiHttpRequest) -> bytes:
    chunks = bytearray()
    while True:
        message = await request.receive()
        chunks.extend(message.get("body", b""))
        if not message.get("more_body", False):
            return bytes(chunks)


class SlackServer:
    """ASGI app: POST /slack/events for commands, clicks, dialogs and events; GET /healthz."""

    def __init__(self, app: App, signing_secret: str, path: str = EVENTS_PATH) -> None:
        self._slack = _ThreadedHandler(app, path, RequestGate(signing_secret))

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == HEALTH_PATH:
            body = json.dumps({"ok": True}).encode()
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"application/json"),
                                    (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})
            return
        await self._slack(scope, receive, send)


def socket_mode_handler(app: App, settings: SlackSettings) -> SocketModeHandler:
    """A Socket Mode connection for `app`, not yet open (`start()` opens it and blocks)."""
    check_setup(settings, socket_mode=True, need_token=False)
    assert settings.app_token is not None
    return SocketModeHandler(app, settings.app_token.get_secret_value())
