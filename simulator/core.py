"""The simulator: an account + a clock + the request pipeline every way in goes through.

Order of checks follows PagerDuty: unknown path, authentication, access level and OAuth scope,
rate limit, the `From` header, then the operation itself. Any `ApiError` becomes PagerDuty's
error body; an unexpected exception becomes a 500 that names itself as a simulator bug.
"""

from __future__ import annotations

import threading
import traceback
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from . import errors, routes
from .account import Account
from .clock import Clock, ManualClock, SystemClock
from .datasets import load_dataset
from .errors import ApiError
from .faults import FaultRule, Faults, SimulatedNetworkError
from .history import generate_history
from .http import Request, Response, Route, Router
from .models import Dataset, Token
from .ratelimit import RateLimiter
from .transport import SimulatorTransport


@dataclass(frozen=True)
class LoggedRequest:
    """One request as tests and graders see it: never the token."""

    at: datetime
    method: str
    path: str
    query: dict[str, list[str]]
    body: Any
    status: int
    actor_id: str | None
    api: str  # "rest" or "events"

    @property
    def is_write(self) -> bool:
        return self.method != "GET"


class Simulator:
    """One PagerDuty account answering requests: `state` is the account, `clock` its time.

    `router` defaults to every endpoint (`routes.api()`); the engine and the routes see only the
    account and the clock, never the simulator.
    """

    def __init__(self, state: Account, clock: Clock | None = None, router: Router | None = None) -> None:
        self.state = state
        self.clock = clock or (ManualClock(state.dataset.now) if state.dataset.now else SystemClock())
        self.router = router or routes.api()
        self.rate_limiter = RateLimiter()
        self.faults = Faults()
        self.request_log: list[LoggedRequest] = []
        self.lock = threading.RLock()  # one request at a time: the state is not thread-safe

    @classmethod
    def from_dataset(cls, dataset: Dataset | str = "demo", clock: Clock | None = None) -> Simulator:
        """Build from a Dataset or a dataset name/path; history is generated with the simulator's own rules."""
        if isinstance(dataset, str):
            dataset = load_dataset(dataset)
        sim = cls(Account.from_dataset(dataset), clock)
        if dataset.history is not None:
            generate_history(sim.state, sim.clock, dataset.history)
        return sim

    # --- conveniences for tests, evals and the CLI ---

    def transport(self) -> SimulatorTransport:
        return SimulatorTransport(self)

    def add_fault(self, **fields: Any) -> FaultRule:
        return self.faults.add(**fields)

    def snapshot(self) -> Account:
        with self.lock:
            return self.state.snapshot()

    def restore(self, snapshot: Account) -> None:
        """Put the account back as it was; rate-limit windows, faults and the request log start afresh."""
        with self.lock:
            self.state = snapshot.snapshot()
            self.rate_limiter = RateLimiter()
            self.faults.clear()
            self.request_log.clear()

    def now(self) -> datetime:
        return self.clock.now()

    # --- the pipeline ---

    def handle(self, request: Request) -> Response:
        with self.lock:
            route: Route | None = None
            try:
                fault = self.faults.pick(request.method, request.path)
                if fault is not None and fault.action != "delay":
                    response = self._fault_response(fault)
                else:
                    route, params = self.router.match(request.method, request.path)
                    response = self._dispatch(route, params, request)
                    if fault is not None:
                        response.delay_seconds = fault.delay_seconds
            except ApiError as exc:
                response = Response(exc.status, exc.body(), dict(exc.headers))
            except SimulatedNetworkError:
                self._log(request, route, 0)
                raise
            except Exception:  # a simulator bug must still answer like a server, and say so
                response = Response(500, {"error": {"message": "Internal Server Error", "code": 2000,
                                                    "errors": [traceback.format_exc(limit=3).splitlines()[-1]]}})
            response.headers.setdefault("content-type", "application/json; charset=utf-8")
            response.headers.setdefault("x-request-id", f"sim-{len(self.request_log) + 1:08d}")
            self._log(request, route, response.status)
            return response

    def _dispatch(self, route: Route, params: dict[str, str], request: Request) -> Response:
        if route.api == "events":  # no token; each routing key has its own limit, checked once the key is known
            return route.handler(self.state, self.clock, request, limiter=self.rate_limiter)
        token = self._authenticate(request)
        if route.method != "GET" and token.access == "read-only":
            raise errors.forbidden("This API token is read-only and cannot be used for this request.")
        if token.scopes is not None and route.scope and route.scope not in token.scopes:
            raise errors.forbidden(f"The token is missing the OAuth scope {route.scope}.")
        limits = self.state.dataset.rate_limits
        keys: list[tuple[tuple[str, ...], int]] = [(("token", token.token), limits.requests_per_minute)]
        if route.rate_group is not None:
            keys.append((("token", token.token, route.rate_group), limits.for_operation(route.rate_group)))
        allowed, rate_headers = self.rate_limiter.check(keys, self.now())
        if not allowed:
            raise errors.rate_limited(rate_headers)
        request.actor_id = self._actor(route, token, request)
        response = route.handler(self.state, self.clock, request, **params)
        for name, value in rate_headers.items():
            response.headers.setdefault(name, value)
        return response

    def _authenticate(self, request: Request) -> Token:
        header = request.headers.get("authorization", "")
        if header.startswith("Token token="):
            token = self.state.tokens.get(header[len("Token token="):].strip())
            if token is not None and not token.bearer:
                request.token = token
                return token
        elif header.startswith("Bearer "):
            token = self.state.tokens.get(header[len("Bearer "):].strip())
            if token is not None and token.bearer:
                request.token = token
                return token
        raise errors.unauthorized()

    def _actor(self, route: Route, token: Token, request: Request) -> str | None:
        """User tokens act as their user; account tokens act as the `From` user where one is given or required."""
        if token.kind == "user" and token.user_id:
            return token.user_id
        sender = request.headers.get("from", "").strip()
        if not sender:
            if route.requires_from:
                raise errors.from_header_missing()
            return None
        user = self.state.users_by_email.get(sender.lower())
        if user is None:
            raise errors.user_not_found(sender)
        return user.id

    def _fault_response(self, fault: FaultRule) -> Response:
        if fault.action in ("drop", "timeout"):
            raise SimulatedNetworkError(fault.action)
        if fault.action == "malformed":
            return Response(fault.status if fault.status < 500 else 200, raw=b'{"incidents": [{"id": ')
        if fault.status == 429:
            headers = {}
            if fault.rate_limit_headers:
                limit = self.state.dataset.rate_limits.requests_per_minute
                headers = {"ratelimit-limit": str(limit), "ratelimit-remaining": "0",
                           "ratelimit-reset": str(fault.reset_seconds)}
                return Response(429, errors.rate_limited().body(), headers)
            return Response(429, None)
        message = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}.get(
            fault.status, "Error")
        return Response(fault.status, {"error": {"message": message, "code": 2000}})

    def _log(self, request: Request, route: Route | None, status: int) -> None:
        body: Any = None
        if request.body:
            try:
                body = request.json()
            except ApiError:
                body = request.body[:200].decode("utf-8", "replace")
        self.request_log.append(LoggedRequest(self.now(), request.method, request.path, request.query, body,
                                              status, request.actor_id, route.api if route else "rest"))
