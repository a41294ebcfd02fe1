"""The simulator as an httpx transport: no sockets, deterministic, usable by sync and async clients."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Protocol

import httpx

from .clock import Clock, ManualClock
from .faults import SimulatedNetworkError
from .http import Request, Response


class Answers(Protocol):
    """What the transport needs of a simulator: its pipeline, and the clock a slow answer moves."""

    clock: Clock

    def handle(self, request: Request) -> Response: ...


class SimulatorTransport(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """Hands each httpx request to `Simulator.handle`.

    Faults that drop the connection or time out raise the httpx errors a real network would.
    A slow answer advances a `ManualClock` instead of sleeping, so tests stay fast; with the
    real clock it sleeps through the injectable `sleep`.
    """

    def __init__(self, simulator: Answers, sleep: Callable[[float], None] = time.sleep) -> None:
        self.simulator = simulator
        self.sleep = sleep

    def _answer(self, request: httpx.Request) -> tuple[httpx.Response, float]:
        sim_request = Request.build(request.method, request.url.path, request.url.query.decode("ascii"),
                                    dict(request.headers), request.content)
        try:
            response = self.simulator.handle(sim_request)
        except SimulatedNetworkError as exc:
            if exc.kind == "timeout":
                raise httpx.ReadTimeout("simulated read timeout", request=request) from None
            raise httpx.RemoteProtocolError("simulated dropped connection", request=request) from None
        delay = response.delay_seconds
        read_timeout = (request.extensions.get("timeout") or {}).get("read")
        if delay and read_timeout is not None and delay > read_timeout:
            raise httpx.ReadTimeout("simulated slow answer exceeded the read timeout", request=request)
        if delay and isinstance(self.simulator.clock, ManualClock):
            self.simulator.clock.advance(delay)
            delay = 0.0
        return httpx.Response(response.status, headers=response.headers, content=response.content(),
                              request=request), delay

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()
        response, delay = self._answer(request)
        if delay:
            self.sleep(delay)
        return response

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        response, delay = self._answer(request)
        if delay:
            await asyncio.sleep(delay)
        return response
