"""The simulator as an ASGI app, so uvicorn can serve it to any program over HTTP(S)."""

from __future__ import annotations

import asyncio
import json

from .core import Simulator
from .faults import SimulatedNetworkError
from .http import MAX_BODY_BYTES, Request


class SimulatorApp:
    """REST API at `/`, Events API at `/v2/...`, and `/healthz` for whoever runs it."""

    def __init__(self, simulator: Simulator) -> None:
        self.simulator = simulator

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        body = await self._body(receive)
        if scope["path"] == "/healthz":
            await self._send(send, 200, {"content-type": "application/json"},
                             json.dumps({"status": "ok", "dataset": self.simulator.state.dataset.name}).encode())
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        request = Request.build(scope["method"], scope["path"], scope["query_string"].decode("latin-1"),
                                headers, bytes(body))
        try:  # in a worker thread, so a slow answer does not hold up the event loop (the simulator locks itself)
            response = await asyncio.to_thread(self.simulator.handle, request)
        except SimulatedNetworkError as exc:
            if exc.kind == "timeout":
                await asyncio.sleep(30)
            # Start a response and end it short: the client sees the connection drop mid-answer.
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-length", b"1000")]})
            return
        if response.delay_seconds:
            await asyncio.sleep(response.delay_seconds)
        await self._send(send, response.status, response.headers, response.content())

    @staticmethod
    async def _lifespan(receive, send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return

    @staticmethod
    async def _body(receive) -> bytearray:
        """All of it, but no more than one byte past the limit the request is refused at."""
        body = bytearray()
        while True:
            message = await receive()
            if len(body) <= MAX_BODY_BYTES:
                body += message.get("body", b"")[:MAX_BODY_BYTES + 1 - len(body)]
            if not message.get("more_body"):
                return body

    @staticmethod
    async def _send(send, status: int, headers: dict[str, str], content: bytes) -> None:
        raw_headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
        raw_headers.append((b"content-length", str(len(content)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": raw_headers})
        await send({"type": "http.response.body", "body": content})
