"""`incident-commander doctor`: is this machine ready to run the commander, and if not, what to fix.

Each check asks the real thing (PagerDuty, the model endpoint, the checkpoint file) the smallest
question that proves it works, and never changes anything: write access is shown by an incident
PagerDuty must refuse as incomplete (a read-only key or a missing scope is refused before the body is
even read), and the database by a write lock taken and released. Without a PagerDuty key the checks
run against the in-process simulator's demo organisation, exactly as the commander would.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import httpx

from agent.embedded import DEMO_DATASET, connect
from agent.settings import Settings
from simulator import Simulator
from tools.client import PagerDutyClient
from tools.errors import (
    ConfigurationError,
    Forbidden,
    InvalidInput,
    NetworkError,
    PagerDutyError,
    RateLimited,
    Unauthorized,
)
from tools.settings import PagerDutySettings

Status = Literal["ok", "warn", "fail", "skip"]
RATE_HEADERS = ("ratelimit-limit", "ratelimit-remaining", "ratelimit-reset")
LOW_HEADROOM = 0.1  # below this share of the window's budget, say that waits are likely
READS = (("/services", "services"), ("/oncalls", "on-calls"), ("/incidents", "incidents"))
PROBE_TOOL = {"type": "function", "function": {
    "name": "report_ready", "description": "Report that you can call tools.",
    "parameters": {"type": "object", "properties": {"ready": {"type": "boolean"}}, "required": ["ready"]}}}


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str


@dataclass(frozen=True)
class Report:
    target: str
    """What was checked: the PagerDuty host, or the embedded simulator."""
    checks: list[Check]

    @property
    def failed(self) -> bool:
        return any(c.status == "fail" for c in self.checks)


class RateLimitTap(httpx.BaseTransport):
    """Passes every request through and keeps the rate-limit headers of the last read that carried them."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.headers: dict[str, str] = {}

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        seen = {name: response.headers[name] for name in RATE_HEADERS if name in response.headers}
        if request.method == "GET" and seen:
            self.headers = seen
        return response

    def close(self) -> None:
        self.inner.close()


@dataclass
class _Identity:
    """What the key turned out to be."""

    kind: Literal["account", "user", "unknown"]
    user: dict[str, Any] | None = None
    refused: bool = False  # 401 or unreachable: nothing else can be checked


def diagnose(settings: Settings, pagerduty: PagerDutySettings | None = None,
             transport: httpx.BaseTransport | None = None) -> Report:
    """Run every check; `pagerduty` replaces the environment's PagerDuty settings and `transport` the network
    (the CLI passes neither)."""
    pagerduty = pagerduty or PagerDutySettings()
    quick = pagerduty.model_copy(update={"max_attempts": 1, "max_wait": 0.0})  # report a 429, do not wait it out
    if pagerduty.api_key is None and transport is None:
        transport = Simulator.from_dataset(DEMO_DATASET).transport()
        target = "the built-in simulator's demo organisation (in-process; nothing real is paged)"
    else:
        target = f"PagerDuty at {pagerduty.api_host}" if pagerduty.api_key else "the demo organisation"
    tap = RateLimitTap(transport or httpx.HTTPTransport())
    connection = connect(quick, transport=tap, clock=None, progress=None)
    client = connection.client
    try:
        checks = _pagerduty_checks(client, pagerduty, tap, embedded=pagerduty.api_key is None)
    finally:
        client.close()
        connection.events.close()
    checks += [_model_check(settings), _checkpoint_check(settings)]
    return Report(target=target, checks=checks)


# --- PagerDuty ---


def _pagerduty_checks(client: PagerDutyClient, pagerduty: PagerDutySettings, tap: RateLimitTap,
                      embedded: bool) -> list[Check]:
    identity, key = _key_check(client, pagerduty, embedded)
    if identity.refused:
        later = ("From user", "read access", "write access", "rate-limit headroom")
        return [key, *(Check(name, "skip", "not checked: PagerDuty did not accept the key") for name in later)]
    sender = _from_check(client, identity)
    reads, limited = _read_check(client)
    return [key, sender, reads, _write_check(client, pagerduty, identity, sender), _headroom_check(tap, limited)]


def _key_check(client: PagerDutyClient, pagerduty: PagerDutySettings, embedded: bool) -> tuple[_Identity, Check]:
    """Which kind of key this is: `GET /users/me` answers a user key with its user, an account key with 400."""
    prefix = "none set: the demo organisation's " if embedded else ""
    try:
        user = (client.get("/users/me") or {}).get("user") or {}
    except InvalidInput:
        return _Identity("account"), Check("PagerDuty key", "ok", f"{prefix}account-level API key (acts as the "
                                           "From user)" + _read_only_note(pagerduty))
    except Unauthorized as error:
        return _Identity("unknown", refused=True), Check("PagerDuty key", "fail", str(error))
    except NetworkError as error:
        return _Identity("unknown", refused=True), Check("PagerDuty key", "fail", (
            f"cannot reach {pagerduty.api_host}: {error.message}. Check PAGERDUTY_API_HOST "
            "(https://api.eu.pagerduty.com for EU accounts) and the network"))
    except PagerDutyError as error:  # a scope, a rate limit, an outage: the key itself may well be fine
        return _Identity("unknown"), Check("PagerDuty key", "warn", f"accepted, but its kind is unknown: {error}")
    kind = "OAuth token" if pagerduty.token_kind == "bearer" else "user API key"
    return (_Identity("user", user),
            Check("PagerDuty key", "ok", f"{prefix}{kind} of {_person(user)}" + _read_only_note(pagerduty)))


def _from_check(client: PagerDutyClient, identity: _Identity) -> Check:
    """Writes need a `From` user: the token's own, or PAGERDUTY_FROM_EMAIL for an account key."""
    configured = client.settings.from_email
    if identity.kind == "user" and identity.user is not None:
        own = identity.user.get("email") or ""
        if configured and configured.lower() != own.lower():
            return Check("From user", "warn", f"PAGERDUTY_FROM_EMAIL is {configured}, but this key acts as "
                         f"{_person(identity.user)}; unset PAGERDUTY_FROM_EMAIL or use that person's key")
        return Check("From user", "ok", f"not needed: the key acts as {_person(identity.user)}")
    if configured is None:
        status: Status = "fail" if identity.kind == "account" else "warn"
        return Check("From user", status, "an account-level key must name the person writes act as: set "
                     "PAGERDUTY_FROM_EMAIL to that PagerDuty user's email address")
    try:
        users = (client.get("/users", {"query": configured, "limit": 25}) or {}).get("users") or []
    except PagerDutyError as error:
        return Check("From user", "warn", f"could not look up {configured}: {error}")
    match = next((u for u in users if (u.get("email") or "").lower() == configured.lower()), None)
    if match is None:
        return Check("From user", "fail", f"no PagerDuty user has the email {configured}; set "
                     "PAGERDUTY_FROM_EMAIL to the email of an existing user")
    return Check("From user", "ok", _person(match))


def _read_check(client: PagerDutyClient) -> tuple[Check, RateLimited | None]:
    readable = []
    for path, label in READS:
        try:
            client.get(path, {"limit": 1})
        except RateLimited as error:
            return Check("read access", "warn", f"{label}: {error}"), error
        except PagerDutyError as error:
            return Check("read access", "fail", f"{label}: {error}"), None
        readable.append(label)
    return Check("read access", "ok", ", ".join(readable)), None


def _write_check(client: PagerDutyClient, pagerduty: PagerDutySettings, identity: _Identity,
                 sender: Check) -> Check:
    """An incident without a service: PagerDuty refuses it as invalid (writes allowed) or as forbidden."""
    if pagerduty.read_only:
        return Check("write access", "ok", "off by choice: PAGERDUTY_READ_ONLY is set, so the commander only "
                     "looks things up")
    if identity.kind == "account" and sender.status == "fail":
        return Check("write access", "skip", "not checked until the From user is fixed")
    try:
        client.post("/incidents", {"incident": {"type": "incident"}})
    except InvalidInput:
        return Check("write access", "ok", "allowed (checked with an incomplete incident, which PagerDuty "
                     "refused; nothing was created)")
    except Forbidden as error:
        fix = (f"give the token the {error.missing_scope} scope" if error.missing_scope
               else "use a full-access key")
        return Check("write access", "fail", f"the test write was refused: {error} Real writes would be too: "
                     f"{fix}, or set PAGERDUTY_READ_ONLY=true to run the commander read-only")
    except ConfigurationError as error:
        return Check("write access", "fail", str(error))
    except PagerDutyError as error:
        return Check("write access", "warn", f"could not tell: {error}")
    return Check("write access", "ok", "allowed")


def _headroom_check(tap: RateLimitTap, limited: RateLimited | None) -> Check:
    if limited is not None:
        return Check("rate-limit headroom", "warn", f"none left right now: {limited}")
    try:
        limit, remaining, reset = (float(tap.headers[name]) for name in RATE_HEADERS)
    except (KeyError, ValueError):
        return Check("rate-limit headroom", "warn", "PagerDuty sent no ratelimit-* headers on reads; a 429 "
                     "would be retried with backoff instead of the advised wait")
    detail = f"{remaining:g} of {limit:g} requests left in this window (resets in {reset:g} s)"
    if remaining < limit * LOW_HEADROOM:
        return Check("rate-limit headroom", "warn", detail + "; something else is using this key heavily, "
                     "so expect waits")
    return Check("rate-limit headroom", "ok", detail)


def _person(user: dict[str, Any]) -> str:
    return f"{user.get('name') or user.get('summary') or user.get('id')} <{user.get('email')}>"


def _read_only_note(pagerduty: PagerDutySettings) -> str:
    return "; PAGERDUTY_READ_ONLY is set" if pagerduty.read_only else ""


# --- the model ---


def _model_check(settings: Settings) -> Check:
    """Without a key: command mode. With one: a real request offering one tool, which the model must call."""
    if settings.openai_api_key is None:
        return Check("model", "ok", "no OPENAI_API_KEY: command mode (ChatOps commands, no LLM needed)")
    # The OpenAI client and LangChain are slow to import; a doctor run without a key never needs them.
    import openai
    from langchain_core.messages import HumanMessage

    from agent.planners.openai import chat_model
    from agent.repair import repaired

    where = f"{settings.model} at {settings.openai_base_url or 'https://api.openai.com/v1'}"
    secret = settings.openai_api_key.get_secret_value()

    def scrubbed(error: Exception) -> str:
        return str(error).replace(secret, "[redacted]") if secret else str(error)

    try:
        model = chat_model(settings).bind_tools([PROBE_TOOL])
        reply = model.invoke([HumanMessage("Call the report_ready tool with ready=true. Do not answer in words.")])
    except openai.AuthenticationError as error:
        return Check("model", "fail", f"{where} refused OPENAI_API_KEY ({scrubbed(error)}); check the key")
    except openai.NotFoundError as error:
        return Check("model", "fail", f"{where}: not found ({scrubbed(error)}); check IC_MODEL and OPENAI_BASE_URL")
    except openai.APIConnectionError as error:
        return Check("model", "fail", f"cannot reach {where} ({scrubbed(error)}); check OPENAI_BASE_URL and the "
                     "network")
    except openai.BadRequestError as error:
        return Check("model", "fail", f"{where} refused a request offering a tool ({scrubbed(error)}); it may not "
                     "support tool calling: pick a model that does")
    except openai.APIError as error:
        return Check("model", "fail", f"{where}: {scrubbed(error)}")
    if getattr(reply, "tool_calls", None):
        return Check("model", "ok", f"{where}: answers, and calls tools")
    if repaired(reply, {"report_ready"})[1] is not None:  # small local models often do this
        return Check("model", "ok", f"{where}: answers, and writes tool calls as text, which the commander reads "
                     "as calls (audited as repaired)")
    return Check("model", "warn", f"{where} answered in words instead of calling the offered tool: it may not "
                 "support tool calling, which the commander needs; pick a model that does")


# --- the checkpoint database ---


def _checkpoint_check(settings: Settings) -> Check:
    """Take and release SQLite's write lock: proves the file (and its folder) are writable, changes nothing."""
    path = settings.checkpoint_path
    if path == ":memory:":
        return Check("checkpoint DB", "warn", "in memory: pending approvals and audit records end with each "
                     "process; set IC_CHECKPOINT_DB to a file to keep them")
    try:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(path, timeout=5)
        try:
            connection.execute("BEGIN IMMEDIATE")
            connection.execute("ROLLBACK")
        finally:
            connection.close()
    except (OSError, sqlite3.Error) as error:
        return Check("checkpoint DB", "fail", f"cannot write {path}: {error}; set IC_CHECKPOINT_DB to a "
                     "writable file")
    return Check("checkpoint DB", "ok", f"{path} is writable")
