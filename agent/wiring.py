"""What every way of answering needs, wired once from settings: the PagerDuty clients and toolkit, the
approval policy, the audit log, the secret filter, who is asking by default, and the one line that says
which embedded defaults are in use.

The `Commander` (the graph) and quick reads (`agent.reads`) both start from here, so they act on the same
account as the same person under the same policy. Nothing here loads LangChain or LangGraph.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import httpx

from agent.approvals import ApprovalPolicy
from agent.audit import AuditDatabase, AuditLog
from agent.embedded import Connection, connect
from agent.redaction import Scrubber
from agent.settings import Settings, os_user
from tools.client import Progress, WaitKind
from tools.clock import Clock, SystemClock
from tools.errors import ConfigurationError
from tools.settings import PagerDutySettings
from tools.toolkit import Toolkit, build_toolkit


class Relay:
    """Passes the PagerDuty client's waits ("rate limited, waiting 20 s") to the run that caused them: the
    clients are shared by every run, so each run listens only while it runs."""

    def __init__(self) -> None:
        self._listener: ContextVar[Progress | None] = ContextVar("listener", default=None)
        self.fallback: Progress | None = None
        """Who hears a wait when no run listens (the graph's own relay, once a Commander is built)."""

    def __call__(self, *, kind: WaitKind, seconds: float, message: str) -> None:
        listener = self._listener.get() or self.fallback
        if listener is not None:
            listener(kind=kind, seconds=seconds, message=message)

    @contextmanager
    def to(self, listener: Progress) -> Iterator[None]:
        token = self._listener.set(listener)
        try:
            yield
        finally:
            self._listener.reset(token)


@dataclass
class Wiring:
    """The parts shared by the graph and quick reads, and what closes them."""

    settings: Settings
    connection: Connection
    toolkit: Toolkit
    policy: ApprovalPolicy
    database: AuditDatabase
    """The SQLite file of the audit log, the decision ledger and the run leases."""
    audit: AuditLog
    scrub: Scrubber
    clock: Clock
    relay: Relay
    closers: list[Callable[[], None]] = field(default_factory=list)

    @classmethod
    def from_settings(cls, settings: Settings | None = None, *, transport: httpx.BaseTransport | None = None,
                      clock: Clock | None = None, pagerduty_settings: PagerDutySettings | None = None) -> Wiring:
        """No PagerDuty key → the demo organisation (on `transport` if given, else an embedded simulator kept
        in `settings.simulator_state_path`). A `clock` with `advance` also drives PagerDuty's rate-limit waits."""
        settings = settings or Settings()
        pd_settings = pagerduty_settings or PagerDutySettings()
        relay = Relay()
        connection = connect(pd_settings, transport=transport, clock=clock, progress=relay,
                             state_file=settings.simulator_state_path)
        toolkit = build_toolkit(connection.client, connection.events, read_only=pd_settings.read_only, clock=clock,
                                time_zone=settings.time_zone)
        policy = ApprovalPolicy.load(settings.approval_policy)
        policy.check(toolkit.info(name) for name in toolkit.offered)
        if settings.checkpoint_path != ":memory:":
            Path(settings.checkpoint_path).parent.mkdir(parents=True, exist_ok=True)
        scrub = Scrubber(*(s.get_secret_value() for s in (settings.openai_api_key, pd_settings.api_key) if s))
        database = AuditDatabase(settings.checkpoint_path)
        return cls(settings=settings, connection=connection, toolkit=toolkit, policy=policy, database=database,
                   audit=AuditLog(database, scrub), scrub=scrub, clock=clock or SystemClock(), relay=relay,
                   closers=[connection.client.close, connection.events.close, database.close])

    @cached_property
    def requester(self) -> str:
        """Who is asking when a surface does not say: `IC_REQUESTER`, else the PagerDuty user writes are made
        as (`PAGERDUTY_FROM_EMAIL`, a user token's own user, the embedded demo's user). With neither, the OS
        account name, which PagerDuty does not know: writes are then refused before anyone is asked."""
        if self.settings.requester:
            return self.settings.requester
        try:
            return self.toolkit.default_author()
        except ConfigurationError:
            return os_user()

    def notice(self, *, command_mode: bool) -> str | None:
        """The one line that says which embedded defaults are in use, or None on a real account with a model:
        'Demo: Acme Cloud on the built-in PagerDuty simulator, nothing real is paged; you are alice@…;
        command mode, type `help`.'"""
        parts = []
        if self.connection.notice:
            parts.append(self.connection.notice)
            if not self.settings.requester:
                parts.append(f"you are {self.requester}")
        if command_mode:
            parts.append("command mode, type `help`" if parts else "No OPENAI_API_KEY: command mode, type `help`")
        return "; ".join(parts) + "." if parts else None

    def close(self) -> None:
        for close in self.closers:
            close()
