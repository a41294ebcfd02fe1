"""How the commander reaches PagerDuty: a real account, or the embedded simulator's demo organisation.

With no `PAGERDUTY_API_KEY`, the commander talks to the in-process simulator (or to the transport a
test or eval hands in) with the demo organisation's full-access token, acting as its first user.
This is where the commander is wired to the simulator (agent/embedded_state.py keeps its organisation
in a file); the only other agent module importing the simulator is the doctor, which checks a demo
organisation.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import httpx

from agent.embedded_state import SavedOrganisation
from simulator import Account, Simulator
from simulator.datasets import load_dataset
from tools.client import PagerDutyClient, Progress
from tools.clock import Clock
from tools.events import EventsClient
from tools.settings import PagerDutySettings

DEMO_DATASET = "demo"


@dataclass(frozen=True)
class Connection:
    client: PagerDutyClient
    events: EventsClient
    simulator: Simulator | None
    """The embedded simulator when the commander built one (the notebook demo inspects it)."""
    notice: str | None
    """A few words saying the commander is not on a real PagerDuty account, or None."""


def connect(settings: PagerDutySettings, *, transport: httpx.BaseTransport | None, clock: Clock | None,
            progress: Progress | None, state_file: Path | None = None) -> Connection:
    """Clients for the configured account, or for the demo organisation when no key is set.

    The embedded simulator (no key, no `transport`) is kept in `state_file` when one is given, so the
    next process continues the same organisation. A manual clock (one with `advance`) also drives the
    clients' waits, so a rate-limit pause in a test moves the clock instead of sleeping.
    """
    simulator = None
    notice = None
    credentials: dict[str, Any] = {}
    if settings.api_key is None:
        if transport is None:
            simulator, transport = _embedded(clock, state_file)
            notice = f"Demo: {simulator.state.dataset.name} on the built-in PagerDuty simulator, nothing real is paged"
        else:
            notice = "Demo: the demo organisation's token on the given transport"
        credentials = demo_credentials()
    timing: dict[str, Any] = {}
    if clock is not None and hasattr(clock, "advance"):
        timing = {"sleep": clock.advance, "monotonic": lambda: clock.now().timestamp()}
    return Connection(client=PagerDutyClient(settings, transport=transport, progress=progress, **credentials, **timing),
                      events=EventsClient(settings, transport=transport, progress=progress, **timing),
                      simulator=simulator, notice=notice)


def _embedded(clock: Clock | None, state_file: Path | None) -> tuple[Simulator, httpx.BaseTransport]:
    """The demo organisation and its transport (kept in `state_file`, if given)."""
    def build() -> Simulator:
        return Simulator.from_dataset(DEMO_DATASET, clock=clock)

    if state_file is None:
        simulator = build()
        return simulator, simulator.transport()
    store = SavedOrganisation(state_file, usable=_acts_as_demo_user)
    simulator = store.load_or_build(build, clock)
    return simulator, store.transport(simulator)


def _acts_as_demo_user(state: Account) -> bool:
    """A saved organisation is usable when the token and user `demo_credentials` name are still in it."""
    credentials = demo_credentials()
    return credentials["api_key"] in state.tokens and credentials["from_email"].lower() in state.users_by_email


def demo_credentials() -> dict[str, Any]:
    """The demo organisation's full-access account token, acting as its first user."""
    token, email = _demo_account()
    return {"api_key": token, "from_email": email, "token_kind": "token"}


@cache
def _demo_account() -> tuple[str, str]:
    """(token, email), read from the dataset once per process: the bundled file does not change."""
    dataset = load_dataset(DEMO_DATASET)
    token = next(t for t in dataset.tokens if t.kind == "account" and t.access == "full" and not t.bearer)
    return token.token, dataset.users[0].email
