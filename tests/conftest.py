"""Shared fixtures: a demo-organisation simulator on a fixed clock, clients for each kind of token, the checkpoint
stores every graph test runs on, the command line's environment and the notebook's shell.

Only fixtures live here; the helpers they are built from (the demo organisation's ids by name, tokens, clients)
are in demo_org.py, which tests import directly."""

from __future__ import annotations

import ssl
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pagerduty
import pytest
import trustme
from demo_org import ALICE, BILAL, FULL_TOKEN, NOW, FakeTime, client_for, dataset, make_client, snapshot, token_for
from IPython.core.interactiveshell import InteractiveShell
from langgraph.checkpoint.memory import InMemorySaver
from servers import running_server
from traitlets.config import Config

from agent.planners.command import CommandModel
from agent.settings import Settings
from notebook_chat import NotebookChat
from simulator import ManualClock, Simulator, SystemClock
from simulator.asgi import SimulatorApp
from tools.events import EventsClient
from tools.settings import PagerDutySettings
from tools.toolkit import Toolkit, build_toolkit


@pytest.fixture(scope="session")
def demo_dataset():
    return dataset()


@pytest.fixture
def clock():
    return ManualClock(NOW)


@pytest.fixture
def sim(clock):
    """A fresh demo account (with its generated history) for every test; restoring a snapshot keeps this fast."""
    return Simulator(snapshot().snapshot(), clock)


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


@pytest.fixture(scope="session")
def _demo_now():
    """The demo organisation on the real clock, its history generated once per session (it takes a while)."""
    return Simulator.from_dataset("demo").snapshot()


@pytest.fixture
def served(env, _demo_now):
    """A demo organisation behind real HTTP, kept across invocations: (simulator, env pointing at it)."""
    sim = Simulator(_demo_now.snapshot(), SystemClock())
    with running_server(SimulatorApp(sim)) as url:
        yield sim, env | {"PAGERDUTY_API_KEY": FULL_TOKEN, "PAGERDUTY_API_HOST": url, "PAGERDUTY_FROM_EMAIL": ALICE}


@pytest.fixture(scope="module")
def shell(tmp_path_factory) -> Iterator[InteractiveShell]:
    """An IPython shell, so `display` publishes rich data that `capture_output` can record."""
    config = Config()
    config.HistoryManager.enabled = False
    yield InteractiveShell.instance(config=config, ipython_dir=str(tmp_path_factory.mktemp("ipython")))
    InteractiveShell.clear_instance()


@pytest.fixture
def make_chat(shell, sim, clock) -> Iterator[Callable[..., NotebookChat]]:
    """Notebook chats asking as Bilal, on the demo simulator, fixed clock and command mode (or `model`), closed
    after the test."""
    chats: list[NotebookChat] = []

    def make(mode: str | None = "manual", transport: httpx.BaseTransport | None = None,
             model: Any = None) -> NotebookChat:
        chat = NotebookChat.from_settings(
            Settings(checkpoint_db=":memory:", requester=BILAL), approval_mode=mode, thread_id="nb",
            model=model or CommandModel(), transport=transport or sim.transport(), checkpointer=InMemorySaver(),
            clock=clock, pagerduty_settings=PagerDutySettings(api_key=None))
        chats.append(chat)
        return chat

    yield make
    for chat in chats:
        chat.close()
