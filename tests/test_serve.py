"""The simulator served over real HTTP, and its command line (`serve`, `demo`)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pagerduty
import pytest
from demo_org import ACCEPT, auth_header, token_for
from servers import running_server

from simulator.account import Account
from simulator.asgi import SimulatorApp

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.network
def test_serves_health_and_users_over_http(sim, account_token, demo_dataset):
    user = demo_dataset.users[0]
    headers = {"Authorization": f"Token token={account_token.token}", "Accept": ACCEPT}
    with running_server(SimulatorApp(sim)) as url, httpx.Client(base_url=url, headers=headers) as client:
        health = client.get("/healthz")
        assert health.status_code == 200 and health.json() == {"status": "ok", "dataset": "Acme Cloud"}
        answer = client.get(f"/users/{user.id}")
        assert answer.status_code == 200 and answer.json()["user"]["email"] == user.email
        assert answer.headers["ratelimit-limit"] == "960"
        assert client.get("/users/PNOPE00").status_code == 404
        assert client.get("/users", headers={"Authorization": "Token token=wrong"}).status_code == 401


@pytest.mark.network
def test_official_client_tells_account_keys_from_user_keys(official, https_sim, demo_dataset):
    """python-pagerduty reads the key type off `GET /users/me`: 400 with PagerDuty's string `error` for account keys."""
    url, context = https_sim
    user_client = pagerduty.RestApiV2Client(token_for(demo_dataset, kind="user").token, base_url=url, verify=context)
    with user_client:  # closed, so the server's shutdown is not kept waiting on idle connections (the fixture
        # closes the other)
        assert official.api_key_access == "account"
        assert user_client.api_key_access == "user"


def _serve(*args: str) -> tuple[subprocess.Popen, str]:
    """Start `python -m simulator serve` on a free port and return it with its base URL."""
    process = subprocess.Popen([sys.executable, "-m", "simulator", "serve", "--port", "0", *args], cwd=ROOT,
                               stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                               env={**os.environ, "COLUMNS": "200"})
    assert process.stderr is not None
    for line in process.stderr:
        found = re.search(r"listening on (http://127\.0\.0\.1:\d+)", line)
        if found:
            return process, found.group(1)
    process.kill()
    raise AssertionError(f"the server did not announce itself: {process.communicate()}")


@pytest.mark.network
@pytest.mark.slow
def test_serve_command_keeps_state_across_restarts(tmp_path, demo_dataset):
    state_file = tmp_path / "state.json"
    token = next(t for t in demo_dataset.tokens if t.kind == "account" and t.access == "full")
    headers = {"Authorization": f"Token token={token.token}", "From": demo_dataset.users[0].email}
    service = demo_dataset.services[0]
    process, url = _serve("--state", str(state_file), "--requests-per-minute", "5000")
    try:
        answer = httpx.get(f"{url}/users/{demo_dataset.users[0].id}", headers=headers)
        assert answer.headers["ratelimit-limit"] == "5000"
        created = httpx.post(f"{url}/incidents", headers=headers, json={"incident": {
            "type": "incident", "title": "kept across restarts",
            "service": {"id": service.id, "type": "service_reference"}}})
        assert created.status_code == 201
    finally:
        process.send_signal(signal.SIGINT)
        _, errors = process.communicate(timeout=30)
    assert process.returncode == 0, errors
    assert "state saved" in errors
    incident_id = created.json()["incident"]["id"]
    assert incident_id in Account.load(state_file).incidents
    process, url = _serve("--state", str(state_file))
    try:
        again = httpx.get(f"{url}/incidents/{incident_id}", headers=headers)
        assert again.status_code == 200 and again.json()["incident"]["title"] == "kept across restarts"
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)


@pytest.mark.slow
def test_demo_walkthrough_runs_by_itself():
    done = subprocess.run([sys.executable, "-m", "simulator", "demo"], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["status"] == "resolved"
    assert {"trigger_log_entry", "acknowledge_log_entry", "resolve_log_entry"} <= set(summary["log_entries"])
    assert "On call for API Gateway" in done.stderr and "API Gateway" in done.stderr


def test_a_served_simulator_refuses_oversized_and_deeply_nested_bodies_with_400(sim, demo_dataset):
    headers = {"Authorization": auth_header(token_for(demo_dataset)), "From": demo_dataset.users[0].email,
               "Content-Type": "application/json"}
    with running_server(SimulatorApp(sim)) as url, httpx.Client(base_url=url, headers=headers) as client:
        deep = client.post("/incidents", content=b"[" * 200_000 + b"]" * 200_000)
        big = client.post("/incidents", content=b'{"incident": "' + b"x" * (3 * 1024 * 1024) + b'"}')
        anonymous = client.post("/incidents", content=b"[" * 200_000, headers={"Authorization": ""})
    assert deep.status_code == 400 and deep.json()["error"]["code"] == 2001
    assert big.status_code == 400 and "larger than" in big.json()["error"]["errors"][0]
    assert anonymous.status_code == 401
