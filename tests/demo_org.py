"""The demo organisation as tests see it: its entities by name, its tokens, clients on it, and the fixed time
tests run at.

Ids are whatever the dataset (or its generated history) gives each entity; a test names the entity and looks
the id up, so it reads as what it means and survives a change of ids. Fixtures built on these live in
conftest.py.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache

import httpx

from simulator import Account, Dataset, ManualClock, Simulator
from simulator.datasets import load_dataset
from tools.client import PagerDutyClient

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
ACCEPT = "application/vnd.pagerduty+json;version=2"
ALICE = "alice.moreno@acme.example"  # the demo clients' `From` user
BILAL = "bilal.khan@acme.example"  # on call at level 1 for API Gateway at NOW
FULL_TOKEN = "LDDXW0eay3r9TbYzQOyS"  # the demo organisation's full-access account key


@cache
def dataset() -> Dataset:
    return load_dataset("demo")


@cache
def snapshot() -> Account:
    """The demo organisation at `NOW`, with its generated history; tests restore copies of it."""
    return Simulator.from_dataset(dataset(), clock=ManualClock(NOW)).snapshot()


def _id(kind: str, entities: list, name: str) -> str:
    found = [e.id for e in entities if name in (e.name, getattr(e, "email", None))]
    if len(found) != 1:
        raise LookupError(f"the demo dataset has {len(found)} {kind} named {name!r}")
    return found[0]


def service_id(name: str) -> str:
    return _id("services", dataset().services, name)


def user_id(name_or_email: str) -> str:
    return _id("users", dataset().users, name_or_email)


def team_id(name: str) -> str:
    return _id("teams", dataset().teams, name)


def schedule_id(name: str) -> str:
    return _id("schedules", dataset().schedules, name)


def policy_id(name: str) -> str:
    return _id("escalation policies", dataset().escalation_policies, name)


def priority_id(name: str) -> str:
    return _id("priorities", dataset().priorities, name)


def incident_id(number: int) -> str:
    """The id of incident #`number` of the generated history (the same on every load)."""
    return snapshot().incidents_by_number[number]


def token_for(dataset, *, kind="account", access="full", bearer=False, scoped=False):
    for t in dataset.tokens:
        if t.kind == kind and t.access == access and t.bearer == bearer and (t.scopes is not None) == scoped:
            return t
    raise LookupError(f"the demo dataset has no {kind}/{access} token (bearer={bearer}, scoped={scoped})")


def auth_header(token) -> str:
    return f"Bearer {token.token}" if token.bearer else f"Token token={token.token}"


def make_client(sim, token, from_email: str | None = None) -> httpx.Client:
    headers = {"Authorization": auth_header(token), "Accept": ACCEPT}
    if from_email:
        headers["From"] = from_email
    return httpx.Client(transport=sim.transport(), base_url="https://api.pagerduty.com", headers=headers)


class FakeTime:
    """The clients' monotonic clock and sleep: time moves only when they wait, so nothing sleeps for real."""

    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def client_for(sim, dataset, *, access: str = "full", from_email: str | None = ALICE, **settings) -> PagerDutyClient:
    """An account-token client on `sim` with its own fake time (so rate-limit pacing is per test)."""
    time = FakeTime()
    return PagerDutyClient(api_key=token_for(dataset, access=access).token, from_email=from_email,
                           transport=sim.transport(), sleep=time.sleep, monotonic=time.monotonic, **settings)
