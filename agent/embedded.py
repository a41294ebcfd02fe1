"""How the commander reaches PagerDuty: a real account, or the embedded simulator's demo organisation.

With no `PAGERDUTY_API_KEY`, the commander talks to the in-process simulator (or to the transport a
test or eval hands in) with the demo organisation's full-access token, acting as its first user.
This is the only agent module that imports the simulator.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from simulator import Simulator
from simulator.datasets import load_dataset
from tools.client import PagerDutyClient, Progress
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
    """One line saying the commander is not on a real PagerDuty account, or None."""


def connect(settings: PagerDutySettings, *, transport: httpx.BaseTransport | None, clock: Any | None,
            progress: Progress) -> Connection:
    """Clients for the configured account, or for the demo organisation when no key is set.

    A manual clock (one with `advance`) also drives the clients' waits, so a rate-limit pause in a test
    moves the clock instead of sleeping.
    """
    simulator = None
    notice = None
    credentials: dict[str, Any] = {}
    if settings.api_key is None:
        if transport is None:
            simulator = Simulator.from_dataset(DEMO_DATASET, clock=clock)
            transport = simulator.transport()
            notice = ("No PAGERDUTY_API_KEY: working on the built-in simulator's demo organisation "
                      f"({simulator.state.dataset.name}); nothing real is paged.")
        else:
            notice = "No PAGERDUTY_API_KEY: using the demo organisation's token on the given transport."
        credentials = demo_credentials()
    timing: dict[str, Any] = {}
    if clock is not None and hasattr(clock, "advance"):
        timing = {"sleep": clock.advance, "clock": lambda: clock.now().timestamp()}
    return Connection(client=PagerDutyClient(settings, transport=transport, progress=progress, **credentials, **timing),
                      events=EventsClient(settings, transport=transport, progress=progress, **timing),
                      simulator=simulator, notice=notice)


def demo_credentials() -> dict[str, Any]:
    """The demo organisation's full-access account token, acting as its first user."""
    dataset = load_dataset(DEMO_DATASET)
    token = next(t for t in dataset.tokens if t.kind == "account" and t.access == "full" and not t.bearer)
    return {"api_key": token.token, "from_email": dataset.users[0].email, "token_kind": "token"}
