"""Shared fixtures: a demo-organisation simulator on a fixed clock, clients for each kind of token, the checkpoint
stores every graph test runs on, and the command line's environment."""

from __future__ import annotations

import ssl
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pagerduty
import pytest
import trustme
from servers import running_server

from simulator import ManualClock, Simulator
from simulator.asgi import SimulatorApp
from simulator.datasets import load_dataset
from tools.client import PagerDutyClient
from tools.events import EventsClient
from tools.toolkit import Toolkit, build_toolkit

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
ACCEPT = "application/vnd.pagerduty+json;version=2"
ALICE = "alice.moreno@acme.example"  # PEKVE7N, the demo clients' `From` user
FULL_TOKEN = "LDDXW0eay3r9TbYzQOyS"  # the demo organisation's full-access account key


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


@pytest.fixture(params=["memory", "sqlite"])
def store(request, tmp_path: Path) -> str:
    """Every graph test runs on both checkpointers: in memory and a SQLite file."""
    return ":memory:" if request.param == "memory" else str(tmp_path / "checkpoints.sqlite")


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str | None]:
    """The command line's environment: no keys (embedded defaults), a checkpoint file of its own, a wide terminal."""
    return {"IC_CHECKPOINT_DB": str(tmp_path / "ic.sqlite"), "IC_REQUESTER": "dana", "COLUMNS": "200",
            "OPENAI_API_KEY": None, "OPENAI_BASE_URL": None, "IC_APPROVAL_POLICY": None,
            "PAGERDUTY_API_KEY": None, "PAGERDUTY_API_HOST": None, "PAGERDUTY_FROM_EMAIL": None,
            "PAGERDUTY_TOKEN_KIND": None, "PAGERDUTY_READ_ONLY": None}


@pytest.fixture
def https_sim(sim, tmp_path):
    """The demo simulator over HTTPS with a throwaway CA (PagerDuty's own client refuses plain http): (url, context)."""
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.private_key_and_cert_chain_pem.write_to_path(str(cert_path))
    cert.private_key_pem.write_to_path(str(key_path))
    with running_server(SimulatorApp(sim), ssl_certfile=str(cert_path), ssl_keyfile=str(key_path)) as url:
        yield url, _ssl_context(ca)


def _ssl_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


@pytest.fixture
def official(https_sim, demo_dataset):
    """PagerDuty's own Python client on `https_sim`, with an account token and no retries."""
    url, context = https_sim
    token = token_for(demo_dataset)
    client = pagerduty.RestApiV2Client(token.token, default_from=demo_dataset.users[0].email,
                                       base_url=url, verify=context)
    client.max_network_attempts = 1
    with client:  # closing its keep-alive connection lets the server stop at once
        yield client


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


@pytest.fixture
def client(sim, demo_dataset):
    """An account-token client on the demo simulator, `From` Alice."""
    with client_for(sim, demo_dataset) as pd:
        yield pd


@pytest.fixture
def events(sim):
    """An Events API client on the demo simulator."""
    time = FakeTime()
    with EventsClient(transport=sim.transport(), sleep=time.sleep, monotonic=time.monotonic) as ev:
        yield ev


@pytest.fixture
def toolkit(client, events, clock) -> Toolkit:
    """The planner's tools on the demo simulator."""
    return build_toolkit(client, events, clock=clock)


@pytest.fixture
def served(env):
    """A demo organisation behind real HTTP, kept across invocations: (simulator, env pointing at it)."""
    sim = Simulator.from_dataset("demo")
    with running_server(SimulatorApp(sim)) as url:
        yield sim, env | {"PAGERDUTY_API_KEY": FULL_TOKEN, "PAGERDUTY_API_HOST": url, "PAGERDUTY_FROM_EMAIL": ALICE}
