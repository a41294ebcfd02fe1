"""`PagerDutyClient`: the one way our code talks to PagerDuty's REST API v2.

It does what python-pagerduty does not: it sleeps exactly `ratelimit-reset` seconds on a 429 (and
tells the user it is waiting), caps attempts and total waiting instead of retrying forever, paces
every client that shares a token so parallel threads do not stampede, retries 5xx and network
failures only where repeating the request is harmless, and turns PagerDuty's error bodies into
typed errors that never contain the token. Time, sleep, randomness and the transport are injected,
so tests run against the in-process simulator with a fake clock.
"""

from __future__ import annotations

import hashlib
import inspect
import logging
import random
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib import metadata
from typing import Any, Literal, Protocol

import httpx

from .errors import (
    ConfigurationError,
    Forbidden,
    InvalidInput,
    NetworkError,
    PagerDutyError,
    RateLimited,
    ServerError,
    error_class,
    parse_error_body,
)
from .settings import PagerDutySettings

logger = logging.getLogger("incident_commander.pagerduty")

ACCEPT = "application/vnd.pagerduty+json;version=2"
BACKOFF_BASE = 1.0
BACKOFF_CAP = 30.0
JITTER = 0.25  # each backoff is scaled by a random factor in [1 - JITTER, 1 + JITTER]
PAGE_SIZE = 100  # PagerDuty's maximum `limit`
MAX_OFFSET = 10_000  # PagerDuty answers 400 when offset + limit exceeds this
MAX_WINDOW = timedelta(days=180)  # /incidents allows at most 6 months per request
MIN_WINDOW = timedelta(seconds=1)  # windows are not bisected below this
IDEMPOTENT_METHODS = frozenset({"GET", "DELETE", "PUT"})
DEDUP_CONFLICT = "matching dedup key already exists"
OPEN_STATUSES = ("triggered", "acknowledged")

Sleep = Callable[[float], None]
Monotonic = Callable[[], float]  # seconds that only go forward (time.monotonic): measures waits, never tells the time


def _no_answer(exc: httpx.TransportError) -> str:
    """Why a request got no answer, in words (the exception's own text names sockets and errno values)."""
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    if isinstance(exc, httpx.ConnectError):
        return "could not connect"
    return "the connection broke"


def _user_agent() -> str:
    try:
        version = metadata.version("incident-commander")
    except metadata.PackageNotFoundError:
        version = "0+unknown"
    return f"incident-commander/{version} httpx/{httpx.__version__}"


USER_AGENT = _user_agent()

WaitKind = Literal["rate_limit_wait", "retry_wait"]


class Progress(Protocol):
    """Told of each wait before it starts, so a person watching knows why nothing happens for a while, e.g.
    `kind="rate_limit_wait", seconds=20, message="PagerDuty rate limit: waiting 20 s"`. The agent turns these
    into its progress events; the client defines no event type of its own."""

    def __call__(self, *, kind: WaitKind, seconds: float, message: str) -> None: ...


@dataclass(frozen=True)
class PageResult:
    """A whole list, and whether it is the whole list: `truncated` means PagerDuty holds more than `items`."""

    items: list[dict]
    truncated: bool
    total_read: int


@dataclass(frozen=True)
class CreatedIncident:
    """The incident `create_incident` stands for; `already_existed` when its incident_key was already open."""

    incident: dict
    already_existed: bool


# --- pacing shared by every client of one token ---


class TokenPacer:
    """What PagerDuty last said about one token's budget, shared by all clients using that token.

    When the budget is spent (`ratelimit-remaining: 0`, or a 429), every client holds its next
    request until the window resets, instead of each discovering the limit with its own 429.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._resume_at = float("-inf")
        self.remaining: int | None = None
        self.reset: float | None = None

    def observe(self, remaining: int | None, reset: float | None, now: float) -> None:
        with self._lock:
            if remaining is not None:
                self.remaining = remaining
            if reset is not None:
                self.reset = reset
            if remaining == 0 and reset is not None:
                self._resume_at = max(self._resume_at, now + reset)

    def hold(self, seconds: float, now: float) -> None:
        with self._lock:
            self._resume_at = max(self._resume_at, now + seconds)

    def wait_for(self, now: float) -> float:
        with self._lock:
            return max(0.0, self._resume_at - now)


# Pacers live as long as the object their timer belongs to, so a process that makes many timers (one per
# eval trial) does not keep a pacer for each forever; `time.monotonic` lives as long as the process.
_PACERS: weakref.WeakKeyDictionary[Any, dict[tuple[str, Any], TokenPacer]] = weakref.WeakKeyDictionary()
_PACERS_LOCK = threading.Lock()


def shared_pacer(secret: str, monotonic: Monotonic) -> TokenPacer:
    """The pacer for this token, keyed by a hash (never the token itself) and by the timer its deadlines use.

    A bound method is filed under its object: each attribute access makes a new method object, and
    clients built with `fake.monotonic` one after another must still share one pacer.
    """
    owner, which = (monotonic.__self__, monotonic.__func__) if inspect.ismethod(monotonic) else (monotonic, None)
    key = (hashlib.sha256(secret.encode()).hexdigest(), which)
    with _PACERS_LOCK:
        return _PACERS.setdefault(owner, {}).setdefault(key, TokenPacer())


# --- the send loop both APIs share ---


def _header_number(response: httpx.Response, name: str) -> float | None:
    try:
        return float(response.headers[name])
    except (KeyError, ValueError):
        return None


def _seconds_text(seconds: float) -> str:
    return f"{seconds:.1f}".rstrip("0").rstrip(".")


class RetryingHttp:
    """One httpx client plus the retry policy: 429 always retried, 5xx/network only when `retry_failures`.

    Every wait (pacing, 429, backoff) counts against `max_wait`, and at most `max_attempts` requests
    are sent; then the last error is raised. `secrets` (and those of the request, such as an Events
    routing key) are scrubbed from every error message.
    """

    def __init__(self, *, base_url: str, headers: Mapping[str, str], timeout: float, max_attempts: int,
                 max_wait: float, transport: httpx.BaseTransport | None, sleep: Sleep, monotonic: Monotonic,
                 progress: Progress | None, rng: random.Random, pacer: TokenPacer | None,
                 secrets: tuple[str, ...] = ()) -> None:
        self.http = httpx.Client(base_url=base_url, headers=dict(headers), timeout=httpx.Timeout(timeout),
                                 transport=transport, follow_redirects=False)
        self.max_attempts = max_attempts
        self.max_wait = max_wait
        self.sleep = sleep
        self.monotonic = monotonic
        self.progress = progress
        self.rng = rng
        self.pacer = pacer
        self._secrets = tuple(s for s in secrets if s)

    def close(self) -> None:
        self.http.close()

    def backoff(self, attempt: int) -> float:
        """1, 2, 4, 8… seconds capped at 30, each scaled by random jitter so retrying clients spread out."""
        nominal = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** (attempt - 1))
        return nominal * self.rng.uniform(1 - JITTER, 1 + JITTER)

    def request(self, method: str, path: str, *, params: list[tuple[str, str]] | None = None, json: Any = None,
                headers: Mapping[str, str] | None = None, retry_failures: bool, secrets: tuple[str, ...] = ()) -> Any:
        waited = 0.0
        attempt = 0
        while True:
            attempt += 1
            waited += self._pace(waited, method, path)
            try:
                return self._exchange(method, path, params, json, headers, secrets)
            except (RateLimited, ServerError, NetworkError) as error:
                limited = isinstance(error, RateLimited)
                delay = self.backoff(attempt)
                if isinstance(error, RateLimited):
                    delay = error.reset_in if error.reset_in is not None else delay
                    error.reset_in = delay
                    if self.pacer is not None:
                        self.pacer.hold(delay, self.monotonic())
                    if waited + delay > self.max_wait:
                        raise self._too_long(error, delay, waited) from None
                if not (limited or retry_failures) or attempt >= self.max_attempts or waited + delay > self.max_wait:
                    raise
                self._wait(delay, error)
                waited += delay

    def _pace(self, waited: float, method: str, path: str) -> float:
        """Hold while another client of this token has seen the budget run out; returns the seconds waited."""
        if self.pacer is None:
            return 0.0
        delay = self.pacer.wait_for(self.monotonic())
        if not delay:
            return 0.0
        error = RateLimited("Rate limit for this API key is exhausted", status=None, method=method, path=path,
                            reset_in=delay)
        if waited + delay > self.max_wait:
            raise self._too_long(error, delay, waited)
        self._wait(delay, error)
        return delay

    def _too_long(self, error: RateLimited, delay: float, waited: float) -> RateLimited:
        """PagerDuty asks for a longer wait than this request may still spend: say so rather than wait less
        (a shorter wait would only earn another 429)."""
        return RateLimited(f"PagerDuty's rate limit resets in {_seconds_text(delay)} s, longer than the "
                           f"{_seconds_text(max(self.max_wait - waited, 0))} s this request may still wait "
                           "(PAGERDUTY_MAX_WAIT); not retried", reset_in=delay, status=error.status,
                           code=error.code, method=error.method, path=error.path, request_id=error.request_id)

    def _wait(self, seconds: float, reason: PagerDutyError) -> None:
        if isinstance(reason, RateLimited):
            kind: WaitKind = "rate_limit_wait"
            message = f"PagerDuty rate limit: waiting {_seconds_text(seconds)} s"
        else:
            kind = "retry_wait"
            cause = f"HTTP {reason.status}" if reason.status is not None else "no answer"
            message = f"PagerDuty {cause} on {reason.method} {reason.path}: retrying in {_seconds_text(seconds)} s"
        logger.warning(message)
        if self.progress is not None:
            self.progress(kind=kind, seconds=seconds, message=message)
        self.sleep(seconds)

    def _exchange(self, method: str, path: str, params: list[tuple[str, str]] | None, json: Any,
                  headers: Mapping[str, str] | None, secrets: tuple[str, ...] = ()) -> Any:
        """One request: the parsed JSON body of a success, else a typed error."""
        started = self.monotonic()
        try:
            query = tuple(params) if params is not None else None  # httpx types a list of pairs by its values
            response = self.http.request(method, path, params=query, json=json, headers=headers)
        except httpx.TransportError as exc:
            logger.warning("%s %s -> no answer (%s) elapsed=%.3fs", method, path, type(exc).__name__,
                           self.monotonic() - started)
            raise NetworkError(f"No answer from PagerDuty at {self.http.base_url.host} ({_no_answer(exc)})",
                               sent=not isinstance(exc, httpx.ConnectError),
                               method=method, path=path) from None
        raw_remaining = _header_number(response, "ratelimit-remaining")
        remaining = None if raw_remaining is None else int(raw_remaining)
        reset = _header_number(response, "ratelimit-reset")
        if self.pacer is not None:
            self.pacer.observe(remaining, reset, self.monotonic())
        request_id = response.headers.get("x-request-id")
        logger.log(logging.DEBUG if response.is_success else logging.WARNING,
                   "%s %s -> %s x-request-id=%s ratelimit-remaining=%s elapsed=%.3fs", method, path,
                   response.status_code, request_id, remaining, self.monotonic() - started)
        try:
            body = response.json() if response.content else None
        except ValueError:
            if response.is_success:
                raise ServerError(f"PagerDuty answered HTTP {response.status_code} with a body that is not JSON",
                                  status=response.status_code, request_id=request_id, method=method,
                                  path=path) from None
            body = None
        if response.is_success:
            return body
        message, code, details = parse_error_body(body)
        cls = error_class(response.status_code)
        fields: dict[str, Any] = dict(status=response.status_code, code=code,
                                      errors=[self._scrub(d, secrets) for d in details], request_id=request_id,
                                      method=method, path=path)
        if cls is RateLimited:
            fields["reset_in"] = None if reset is None else max(reset, 0.0)
        raise cls(self._scrub(message or response.reason_phrase or "Error", secrets), **fields)

    def _scrub(self, text: str, secrets: tuple[str, ...] = ()) -> str:
        for secret in (*self._secrets, *(s for s in secrets if s)):
            text = text.replace(secret, "[redacted]")
        return text


# --- the REST client ---


def format_time(value: datetime) -> str:
    """ISO 8601 in UTC; a naive datetime is refused because PagerDuty would read it in the account's zone."""
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: give it a time zone")
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return format_time(value)
    return str(value)


def encode_params(params: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    """Query pairs as PagerDuty reads them: lists become repeated `name[]=v`, booleans `true`/`false`, None is
    left out."""
    pairs: list[tuple[str, str]] = []
    for name, value in (params or {}).items():
        if value is None:
            continue
        if isinstance(value, (list, tuple, set, frozenset)):
            key = name if name.endswith("[]") else f"{name}[]"
            values = sorted(value) if isinstance(value, (set, frozenset)) else value
            pairs.extend((key, _query_value(v)) for v in values)
        else:
            pairs.append((name, _query_value(value)))
    return pairs


def resolve_settings(settings: PagerDutySettings | None, **overrides: Any) -> PagerDutySettings:
    """`settings` (else the environment) with the explicitly given values on top, validated again."""
    given = {k: v for k, v in overrides.items() if v is not None}
    if settings is None:
        return PagerDutySettings(**given)
    if not given:
        return settings
    return PagerDutySettings(**{**settings.model_dump(), **given})


class Pager:
    """The items of a classic-paginated list, fetched page by page as they are consumed.

    The offset advances by the items actually returned (PagerDuty may return fewer than asked), and
    no request goes past offset + limit = 10,000. After iteration, `truncated` says whether PagerDuty
    holds more than was read (the cap, or `limit_items`) and `total_read` how many items came back.
    """

    def __init__(self, client: PagerDutyClient, path: str, root: str, params: Mapping[str, Any] | None,
                 limit_items: int | None) -> None:
        if limit_items is not None and limit_items < 1:
            raise ValueError(f"limit_items must be at least 1, got {limit_items}")
        self._client = client
        self._path = path
        self._root = root
        self._params = dict(params or {})
        self._limit_items = limit_items
        self.truncated = False
        self.total_read = 0

    def __iter__(self) -> Iterator[dict]:
        offset = yielded = 0
        wanted = self._limit_items
        while True:
            limit = min(PAGE_SIZE, MAX_OFFSET - offset)
            if wanted is not None:
                limit = min(limit, wanted - yielded)
            body = self._client.get(self._path, {**self._params, "limit": limit, "offset": offset})
            items = body.get(self._root) if isinstance(body, dict) else None
            if not isinstance(items, list):
                raise ServerError(f"PagerDuty's answer has no {self._root!r} list", method="GET", path=self._path)
            self.total_read += len(items)
            for item in items:
                if wanted is not None and yielded >= wanted:
                    self.truncated = True
                    return
                yield item
                yielded += 1
            offset += len(items)
            if body.get("more") is not True:
                return
            if not items or offset >= MAX_OFFSET or (wanted is not None and yielded >= wanted):
                self.truncated = True
                return


class PagerDutyClient:
    """Synchronous PagerDuty REST API v2 client; one instance may be shared by many threads."""

    def __init__(self, settings: PagerDutySettings | None = None, *, api_key: str | None = None,
                 host: str | None = None, from_email: str | None = None,
                 token_kind: Literal["token", "bearer"] | None = None, read_only: bool | None = None,
                 transport: httpx.BaseTransport | None = None, sleep: Sleep = time.sleep,
                 monotonic: Monotonic = time.monotonic, progress: Progress | None = None,
                 rng: random.Random | None = None) -> None:
        self.settings = resolve_settings(settings, api_key=api_key, api_host=host, from_email=from_email,
                                         token_kind=token_kind, read_only=read_only)
        authorization = self.settings.authorization()
        if self.settings.api_key is None or authorization is None:
            raise ConfigurationError("No PagerDuty API key: set PAGERDUTY_API_KEY")
        secret = self.settings.api_key.get_secret_value()
        self._http = RetryingHttp(
            base_url=self.settings.api_host,
            headers={"Authorization": authorization, "Accept": ACCEPT, "User-Agent": USER_AGENT},
            timeout=self.settings.timeout, max_attempts=self.settings.max_attempts,
            max_wait=self.settings.max_wait, transport=transport, sleep=sleep, monotonic=monotonic, progress=progress,
            rng=rng or random.Random(), pacer=shared_pacer(secret, monotonic), secrets=(secret,))
        self._from_lock = threading.Lock()
        self._from_email = self.settings.from_email
        self._account_token = False  # learnt from GET /users/me; such a token needs PAGERDUTY_FROM_EMAIL

    def __repr__(self) -> str:
        return (f"PagerDutyClient(host={self.settings.api_host!r}, token_kind={self.settings.token_kind!r}, "
                f"from_email={self._from_email!r}, read_only={self.settings.read_only!r})")

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> PagerDutyClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- generic requests ---

    def request(self, method: str, path: str, *, params: Mapping[str, Any] | None = None, json: Any = None,
                idempotent: bool | None = None, author: str | None = None) -> Any:
        """Send one request (with retries as the method allows) and return the parsed JSON body.

        `idempotent` overrides the method's default (GET, PUT and DELETE retry on 5xx and network
        errors; POST never does), e.g. for a PUT that appends instead of replacing. `author` is the
        email of the person a write is made as (PagerDuty's `From`); by default the configured one.
        One client serves many people at once, so who writes is said with each request.
        """
        method = method.upper()
        headers = None
        if method != "GET":
            if self.settings.read_only:
                raise Forbidden("Writes are disabled because PAGERDUTY_READ_ONLY is set", method=method, path=path)
            headers = {"From": author or self.from_email()}
        retry = method in IDEMPOTENT_METHODS if idempotent is None else idempotent
        # No query at all rather than an empty one: httpx rebuilds the URL for any params it is given.
        return self._http.request(method, path, params=encode_params(params) or None, json=json, headers=headers,
                                  retry_failures=retry)

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        return self.request("GET", path, params=params)

    def post(self, path: str, json: Any = None, *, params: Mapping[str, Any] | None = None,
             author: str | None = None) -> Any:
        return self.request("POST", path, params=params, json=json, author=author)

    def put(self, path: str, json: Any = None, *, params: Mapping[str, Any] | None = None,
            idempotent: bool = True, author: str | None = None) -> Any:
        return self.request("PUT", path, params=params, json=json, idempotent=idempotent, author=author)

    def delete(self, path: str, *, params: Mapping[str, Any] | None = None, author: str | None = None) -> Any:
        return self.request("DELETE", path, params=params, author=author)

    # --- who acts ---

    def from_email(self) -> str:
        """The default `From` for writes: the configured one, else the token's own user (asked once).

        An account-level key has no user of its own, so it must be configured; failing here keeps
        the write from ever reaching PagerDuty half-specified.
        """
        with self._from_lock:
            if self._from_email is None:
                if not self._account_token:
                    try:
                        user = self.get("/users/me").get("user") or {}
                    except InvalidInput:  # PagerDuty's answer to an account-level key
                        self._account_token = True
                    else:
                        self._from_email = user.get("email")
                if self._from_email is None:
                    raise ConfigurationError(
                        "This PagerDuty API key is account-level, so writes must name the acting user: "
                        "set PAGERDUTY_FROM_EMAIL to that user's email address")
            return self._from_email

    # --- lists ---

    def iterate(self, path: str, root: str, params: Mapping[str, Any] | None = None, *,
                limit_items: int | None = None) -> Pager:
        return Pager(self, path, root, params, limit_items)

    def list_all(self, path: str, root: str, params: Mapping[str, Any] | None = None, *,
                 limit_items: int | None = None) -> PageResult:
        pager = self.iterate(path, root, params, limit_items=limit_items)
        items = list(pager)
        return PageResult(items=items, truncated=pager.truncated, total_read=pager.total_read)

    def iterate_windows(self, path: str, root: str, since: datetime, until: datetime,
                        params: Mapping[str, Any] | None = None, *, max_window: timedelta = MAX_WINDOW) -> PageResult:
        """Everything created in [since, until), past both the per-request range limit and the 10,000 cap.

        The range is cut into windows no longer than `max_window`; a window PagerDuty says holds more
        than 10,000 items is halved until each half fits (down to one second, then it is reported as
        truncated). Results are merged in window order and de-duplicated by id.
        """
        if until <= since:
            raise InvalidInput("until must be after since", method="GET", path=path)
        merged: dict[object, dict] = {}
        truncated = False
        total_read = 0
        start = since
        while start < until:
            end = min(start + max_window, until)
            for result in self._windowed(path, root, start, end, dict(params or {})):
                truncated |= result.truncated
                total_read += result.total_read
                for item in result.items:
                    merged.setdefault(item.get("id") or ("no id", len(merged)), item)
            start = end
        return PageResult(items=list(merged.values()), truncated=truncated, total_read=total_read)

    def _windowed(self, path: str, root: str, since: datetime, until: datetime,
                  params: dict[str, Any]) -> Iterator[PageResult]:
        window = {**params, "since": since, "until": until}
        total = self.get(path, {**window, "limit": 1, "offset": 0, "total": True}).get("total")
        if isinstance(total, int) and total > MAX_OFFSET and until - since > MIN_WINDOW:
            middle = since + timedelta(seconds=(until - since).total_seconds() // 2)
            yield from self._windowed(path, root, since, middle, params)
            yield from self._windowed(path, root, middle, until, params)
        else:
            yield self.list_all(path, root, window)

    # --- idempotent incident creation ---

    def create_incident(self, incident: Mapping[str, Any], *, incident_key: str,
                        author: str | None = None) -> CreatedIncident:
        """POST /incidents with an incident_key, so that repeating it (a resumed run) never makes a second one.

        `incident` is the unwrapped incident object (title, service, …). PagerDuty refuses a second
        open incident with the same key on the same service; that refusal is answered with the
        incident that already holds the key.
        """
        if not incident_key or not incident_key.strip():
            raise InvalidInput("create_incident needs a non-empty incident_key", method="POST", path="/incidents")
        body = {"incident": {**incident, "type": "incident", "incident_key": incident_key}}
        try:
            # Safe to retry on 5xx and network errors: a retry of a POST that did land meets the same key.
            created = self.request("POST", "/incidents", json=body, idempotent=True, author=author)["incident"]
            return CreatedIncident(incident=created, already_existed=False)
        except InvalidInput as error:
            if not any(DEDUP_CONFLICT in text.lower() for text in (error.message, *error.errors)):
                raise
            service = incident.get("service")
            existing = self.find_open_incident(incident_key, service.get("id") if isinstance(service, dict) else None)
            if existing is None:
                raise
            return CreatedIncident(incident=existing, already_existed=True)

    def find_open_incident(self, incident_key: str, service_id: str | None = None) -> dict | None:
        """The open incident holding `incident_key` (on `service_id`), whenever it was created."""
        params = {"incident_key": incident_key, "service_ids": [service_id] if service_id else None,
                  "statuses": list(OPEN_STATUSES), "date_range": "all"}
        incidents = self.get("/incidents", params).get("incidents") or []
        exact = [i for i in incidents if i.get("incident_key") == incident_key]
        return (exact or incidents or [None])[0]
