"""Serving the Bolt app: an ASGI app for uvicorn (HTTP mode), or a Socket Mode connection.

Bolt's ASGI handler runs the synchronous `App.dispatch` on the event loop, where one request waiting
for its `ack` would hold up every other; here dispatch runs in a worker thread instead. A health
endpoint answers without touching Slack, for load balancers and container probes.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt import App
from slack_bolt.adapter.asgi import SlackRequestHandler
from slack_bolt.adapter.asgi.http_request import AsgiHttpRequest
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_bolt.request import BoltRequest
from slack_bolt.response import BoltResponse

from slack_app.app import check_setup
from slack_app.settings import SlackSettings

EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


class _ThreadedHandler(SlackRequestHandler):
    async def dispatch(self, request: AsgiHttpRequest) -> BoltResponse:
        bolt_request = BoltRequest(body=await request.get_raw_body(), query=request.query_string,
                                   headers=request.get_headers())
        return await asyncio.to_thread(self.app.dispatch, bolt_request)


class SlackServer:
    """ASGI app: POST /slack/events for commands, clicks, dialogs and events; GET /healthz."""

    def __init__(self, app: App, path: str = EVENTS_PATH) -> None:
        self._slack = _ThreadedHandler(app, path)

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
