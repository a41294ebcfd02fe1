"""Shared fixtures: a demo-organisation simulator on a fixed clock, and clients for each kind of token."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from simulator import ManualClock, Simulator
from simulator.datasets import load_dataset

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
ACCEPT = "application/vnd.pagerduty+json;version=2"


@pytest.fixture(scope="session")
def demo_dataset():
    return load_dataset("demo")


@pytest.fixture(scope="session")
def _demo_snapshot(demo_dataset):
    sim = Simulator.from_dataset(demo_dataset, clock=ManualClock(NOW))
    return sim.snapshot()


@pytest.fixture
def clock():
    return ManualClock(NOW)


@pytest.fixture
def sim(_demo_snapshot, demo_dataset, clock):
    """A fresh demo account (with its generated history) for every test; restoring a snapshot keeps this fast."""
    simulator = Simulator(_demo_snapshot.snapshot(), clock)
    return simulator


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


@pytest.fixture
def account_token(demo_dataset):
    return token_for(demo_dataset)


@pytest.fixture
def api(sim, account_token, demo_dataset):
    """An account-token client that sends `From` as the first user, as a well-behaved integration does."""
    with make_client(sim, account_token, demo_dataset.users[0].email) as client:
        yield client


@pytest.fixture
def api_no_from(sim, account_token):
    with make_client(sim, account_token) as client:
        yield client
