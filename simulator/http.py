"""Transport-neutral requests, responses and routing for the simulator.

Both ways in (the in-process httpx transport and the ASGI app) build a `Request`, call
`Simulator.handle`, and turn the `Response` back into their own form, so every rule is
enforced once, the same way, whichever way a client arrives.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import Any
from urllib.parse import parse_qsl

import orjson

from .clock import known_zone
from .errors import ApiError, invalid_input
from .models import Token

# What a request body may be: PagerDuty refuses oversized or absurdly nested JSON as bad input, and so
# must we, before a parser or a renderer recurses into it. Both bounds are far above any real request
# (an Events API payload is capped at 512 KB; the deepest PagerDuty object nests a few levels).
MAX_BODY_BYTES = 1024 * 1024
MAX_JSON_DEPTH = 64


def json_depth(value: Any) -> int:
    """How deeply `value` nests lists and objects, counted without recursion (a bare scalar is 0)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, depth = stack.pop()
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else None
        if children is None:
            continue
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in children)
    return deepest


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    body: bytes = b""
    token: Token | None = None
    actor_id: str | None = None  # the user the request acts as: the token's user or the From user
    _json: Any = field(default=None, repr=False)

    @classmethod
    def build(cls, method: str, path: str, query_string: str, headers: dict[str, str], body: bytes) -> Request:
        query: dict[str, list[str]] = {}
        for key, value in parse_qsl(query_string, keep_blank_values=True):
            query.setdefault(key, []).append(value)
        return cls(method.upper(), path, query, {k.lower(): v for k, v in headers.items()}, body)

    def json(self) -> Any:
        """The JSON body; a missing or malformed body is PagerDuty's 400, never a crash."""
        if self._json is None:
            if not self.body:
                raise invalid_input("A JSON request body is required.")
            if len(self.body) > MAX_BODY_BYTES:
                raise invalid_input(f"The request body is larger than {MAX_BODY_BYTES} bytes.")
            try:
                parsed = json.loads(self.body)
            except (ValueError, UnicodeDecodeError, RecursionError):
                raise invalid_input("The request body is not valid JSON.") from None
            if json_depth(parsed) > MAX_JSON_DEPTH:
                raise invalid_input(f"The request body nests deeper than {MAX_JSON_DEPTH} levels.")
            self._json = parsed
        return self._json

    def json_object(self, root: str | None = None) -> dict:
        """The body as an object, unwrapped from its root key when one is named."""
        data = self.json()
        if not isinstance(data, dict):
            raise invalid_input("The request body must be a JSON object.")
        if root is None:
            return data
        inner = data.get(root)
        if not isinstance(inner, dict):
            raise invalid_input(f'The request body must be an object with a "{root}" object.')
        return inner

    def param(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else default

    def list_param(self, name: str) -> list[str]:
        """A set filter: `name[]=a&name[]=b` (PagerDuty also accepts a bare `name=a`)."""
        return self.query.get(f"{name}[]", []) + self.query.get(name, [])

    def bool_param(self, name: str, default: bool = False) -> bool:
        value = self.param(name)
        if value is None:
            return default
        if value.lower() in ("true", "1"):
            return True
        if value.lower() in ("false", "0", ""):
            return False
        raise invalid_input(f"{name} must be true or false.")

    def int_param(self, name: str, default: int) -> int:
        value = self.param(name)
        if value is None or value == "":
            return default
        try:
            return int(value)
        except ValueError:
            raise invalid_input(f"{name} must be an integer.") from None

    def zone_param(self, default: str = "UTC") -> tzinfo:
        """The `time_zone` to render times in: an IANA name, else PagerDuty's 400."""
        name = self.param("time_zone") or default
        zone = known_zone(name)
        if zone is None:
            raise invalid_input(f"time_zone {name!r} is not a known IANA time zone.")
        return zone

    def time_param(self, name: str) -> datetime | None:
        value = self.param(name)
        if value is None or value == "":
            return None
        return parse_time(value, name)


def parse_time(value: str, name: str) -> datetime:
    """ISO 8601 as PagerDuty takes it; a time without an offset is read as UTC."""
    text = value.strip().replace(" ", "+") if value.count(" ") == 1 and "T" in value else value.strip()
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(400, 2004, "Invalid time values in 'since' and/or 'until'",
                       [f"{name} is not a valid ISO 8601 date-time: {value!r}"]) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def format_time(value: datetime | None, zone: tzinfo | None = None) -> str | None:
    """ISO 8601 to the second: `Z` in UTC, else with the offset of `zone` (a request's `time_zone`)."""
    if value is None:
        return None
    if zone is None or zone is UTC:
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    text = value.astimezone(zone).isoformat(timespec="seconds")
    return text[:-6] + "Z" if text.endswith("+00:00") else text


@dataclass
class Response:
    status: int
    body: Any = None  # JSON-able; None means no body (204)
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None  # exact bytes to send instead of `body` (fault injection: malformed bodies)
    delay_seconds: float = 0.0  # a fault asked for a slow answer; the transport waits (or times out)

    def content(self) -> bytes:
        if self.raw is not None:
            return self.raw
        if self.body is None:
            return b""
        return encode_json(self.body)


def encode_json(body: Any) -> bytes:
    """Compact JSON. orjson encodes a page of incidents ten times faster than the standard library;
    what it refuses (integers beyond 64 bits or non-string keys, say in an alert's custom details)
    still goes out through the standard library."""
    try:
        return orjson.dumps(body)
    except TypeError:
        return json.dumps(body, separators=(",", ":")).encode()


Handler = Callable[..., Response]


@dataclass(frozen=True)
class Route:
    method: str
    pattern: str
    regex: re.Pattern
    handler: Handler
    scope: str | None  # OAuth scope needed, e.g. "incidents.write"
    requires_from: bool  # account tokens must send `From` (the spec marks these operations)
    rate_group: str | None  # an operation-specific rate limit on top of the per-token one
    api: str  # "rest" or "events"


class Router:
    """Method + path-template routing; `{name}` segments become keyword arguments of the handler."""

    def __init__(self) -> None:
        self.routes: list[Route] = []
        self._static: dict[tuple[str, str], Route] = {}

    def add(self, method: str, pattern: str, *, scope: str | None = None, requires_from: bool = False,
            rate_group: str | None = None, api: str = "rest") -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            regex = re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern) + "$")
            self._keep(Route(method, pattern, regex, handler, scope, requires_from, rate_group, api))
            return handler
        return register

    def include(self, other: Router) -> None:
        """Answer `other`'s routes too, after this router's own."""
        for route in other.routes:
            self._keep(route)

    def _keep(self, route: Route) -> None:
        self.routes.append(route)
        if "{" not in route.pattern:
            self._static[(route.method, route.pattern)] = route

    def get(self, pattern: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self.add("GET", pattern, **kw)

    def post(self, pattern: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self.add("POST", pattern, **kw)

    def put(self, pattern: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self.add("PUT", pattern, **kw)

    def delete(self, pattern: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self.add("DELETE", pattern, **kw)

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]]:
        """The route for this request, or PagerDuty's 404 (unknown path) / 405 (known path, other method)."""
        route = self._static.get((method, path))
        if route is not None:
            return route, {}
        path_known = False
        for route in self.routes:
            m = route.regex.match(path)
            if m:
                if route.method == method:
                    return route, m.groupdict()
                path_known = True
        if path_known:
            raise ApiError(405, None, "Method Not Allowed", [f"{method} is not supported on {path}."])
        raise ApiError(404, 2100, "Not Found", [f"No API endpoint at {path}."])


@dataclass(frozen=True)
class Page:
    """Classic pagination as PagerDuty does it: limit 25 by default, at most 100, offset+limit ≤ 10,000."""

    limit: int
    offset: int
    total: bool

    MAX_WINDOW = 10_000

    @classmethod
    def from_request(cls, request: Request) -> Page:
        limit = request.int_param("limit", 25)
        offset = request.int_param("offset", 0)
        if limit < 1 or offset < 0:
            raise invalid_input("limit must be at least 1 and offset at least 0.")
        limit = min(limit, 100)
        if offset + limit > cls.MAX_WINDOW:
            raise invalid_input("Offset+limit exceeds maximum allowed value of 10000. Please try to refine your search "
                                "to reduce the returned set of records below this number, like adding a date range")
        return cls(limit, offset, request.bool_param("total"))

    def wrap(self, root: str, items: list, render: Callable[[Any], Any]) -> dict:
        """The page of `items` under `root`, rendering only what is returned."""
        chunk = items[self.offset:self.offset + self.limit]
        return {root: [render(i) for i in chunk], "limit": self.limit, "offset": self.offset,
                "more": self.offset + len(chunk) < len(items), "total": len(items) if self.total else None}
