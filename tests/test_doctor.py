"""`incident-commander doctor` against the simulator with each kind of demo key, and a fake model endpoint.

The simulator is served over real HTTP (as a real PagerDuty would be reached); the model endpoint is a
local fake speaking OpenAI's protocol, so the real langchain-openai client makes the probe.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from fake_openai import Broken, FakeOpenAI, calls, says
from servers import running_server
from typer.testing import CliRunner

from command_line import cli
from command_line.cli import app
from simulator import Simulator
from simulator.asgi import SimulatorApp

ALICE = "alice.moreno@acme.example"
TOKENS = {"full": "LDDXW0eay3r9TbYzQOyS", "read-only": "SJKIAH7BTmIk-Z95YgVe", "user": "mVDHEzqv-gcd-iBnG9hl",
          "oauth-read": "y1ZBoVRnyX415EJVfw2V"}

runner = CliRunner()


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str | None]:
    return {"IC_CHECKPOINT_DB": str(tmp_path / "ic.sqlite"), "COLUMNS": "250", "OPENAI_API_KEY": None,
            "OPENAI_BASE_URL": None, "IC_MODEL": None, "PAGERDUTY_API_KEY": None, "PAGERDUTY_API_HOST": None,
            "PAGERDUTY_FROM_EMAIL": None, "PAGERDUTY_TOKEN_KIND": None, "PAGERDUTY_READ_ONLY": None}


@pytest.fixture
def pagerduty(env):
    """(simulator, env with its URL): add a key to the env to check it."""
    sim = Simulator.from_dataset("demo")
    with running_server(SimulatorApp(sim)) as url:
        yield sim, env | {"PAGERDUTY_API_HOST": url}


def doctor(env) -> tuple[int, dict[str, tuple[str, str]], str]:
    """Exit code, {check: (status, detail)} from --json, and the table as printed."""
    result = runner.invoke(app, ["doctor", "--json"], env=env)
    report = json.loads(result.stdout)
    assert report["ok"] == (result.exit_code == 0)
    table = runner.invoke(app, ["doctor"], env=env)
    assert table.exit_code == result.exit_code and "Traceback" not in table.output + result.output
    return result.exit_code, {c["name"]: (c["status"], c["detail"]) for c in report["checks"]}, table.output


def nothing_created(sim: Simulator, before: int) -> bool:
    return len(sim.state.incidents) == before and all(r.status >= 400 for r in sim.request_log if r.is_write)


def test_embedded_defaults_pass_every_check(env):
    code, checks, table = doctor(env)
    assert code == cli.EXIT_OK
    assert {status for status, _ in checks.values()} == {"ok"}
    assert checks["PagerDuty key"][1].startswith("none set: the demo organisation's account-level API key")
    assert checks["From user"][1] == f"Alice Moreno <{ALICE}>"
    assert "command mode" in checks["model"][1]
    assert "built-in simulator's demo organisation" in table


def test_full_account_key_with_a_from_user(pagerduty):
    sim, env = pagerduty
    before = len(sim.state.incidents)
    code, checks, _ = doctor(env | {"PAGERDUTY_API_KEY": TOKENS["full"], "PAGERDUTY_FROM_EMAIL": ALICE})

    assert code == cli.EXIT_OK
    assert checks["PagerDuty key"] == ("ok", "account-level API key (acts as the From user)")
    assert checks["read access"] == ("ok", "services, on-calls, incidents")
    assert checks["write access"][0] == "ok" and "nothing was created" in checks["write access"][1]
    status, detail = checks["rate-limit headroom"]
    assert status == "ok" and detail.endswith("of 960 requests left in this window (resets in 60 s)")
    assert nothing_created(sim, before)


def test_account_key_without_a_from_user_says_which_setting_to_add(pagerduty):
    _sim, env = pagerduty
    code, checks, _ = doctor(env | {"PAGERDUTY_API_KEY": TOKENS["full"]})
    assert code == cli.EXIT_CONFIGURATION
    assert checks["From user"][0] == "fail" and "set PAGERDUTY_FROM_EMAIL" in checks["From user"][1]
    assert checks["write access"][0] == "skip"


def test_a_from_user_that_does_not_exist(pagerduty):
    _sim, env = pagerduty
    code, checks, _ = doctor(env | {"PAGERDUTY_API_KEY": TOKENS["full"], "PAGERDUTY_FROM_EMAIL": "nobody@acme.example"})
    assert code == cli.EXIT_CONFIGURATION
    assert checks["From user"] == ("fail", "no PagerDuty user has the email nobody@acme.example; set "
                                           "PAGERDUTY_FROM_EMAIL to the email of an existing user")


def test_read_only_key_fails_the_write_check_and_says_what_to_do(pagerduty):
    sim, env = pagerduty
    before = len(sim.state.incidents)
    code, checks, _ = doctor(env | {"PAGERDUTY_API_KEY": TOKENS["read-only"], "PAGERDUTY_FROM_EMAIL": ALICE})

    assert code == cli.EXIT_CONFIGURATION
    assert checks["read access"][0] == "ok"
    status, detail = checks["write access"]
    assert status == "fail" and "HTTP 403" in detail and "read-only" in detail
    assert "use a full-access key, or set PAGERDUTY_READ_ONLY=true" in detail
    assert nothing_created(sim, before)


def test_read_only_key_in_read_only_mode_is_fine(pagerduty):
    _sim, env = pagerduty
    code, checks, _ = doctor(env | {"PAGERDUTY_API_KEY": TOKENS["read-only"], "PAGERDUTY_FROM_EMAIL": ALICE,
                                    "PAGERDUTY_READ_ONLY": "true"})
    assert code == cli.EXIT_OK
    assert checks["write access"][0] == "ok" and "PAGERDUTY_READ_ONLY is set" in checks["write access"][1]


def test_user_key_acts_as_its_user(pagerduty):
    _sim, env = pagerduty
    code, checks, _ = doctor(env | {"PAGERDUTY_API_KEY": TOKENS["user"]})
    assert code == cli.EXIT_OK
    assert checks["PagerDuty key"] == ("ok", f"user API key of Alice Moreno <{ALICE}>")
    assert checks["From user"] == ("ok", f"not needed: the key acts as Alice Moreno <{ALICE}>")
    assert checks["write access"][0] == "ok"


def test_oauth_token_without_write_scope_names_the_missing_scope(pagerduty):
    _sim, env = pagerduty
    code, checks, _ = doctor(env | {"PAGERDUTY_API_KEY": TOKENS["oauth-read"], "PAGERDUTY_TOKEN_KIND": "bearer"})
    assert code == cli.EXIT_CONFIGURATION
    assert checks["PagerDuty key"] == ("ok", "OAuth token of Bilal Khan <bilal.khan@acme.example>")
    status, detail = checks["write access"]
    assert status == "fail" and "give the token the incidents.write scope" in detail


def test_a_bad_key_gets_a_401_that_says_what_to_check(pagerduty):
    _sim, env = pagerduty
    code, checks, table = doctor(env | {"PAGERDUTY_API_KEY": "bad-key-0123456789ab", "PAGERDUTY_FROM_EMAIL": ALICE})

    assert code == cli.EXIT_CONFIGURATION
    status, detail = checks["PagerDuty key"]
    assert status == "fail" and "HTTP 401" in detail
    assert "Check PAGERDUTY_API_KEY, that PAGERDUTY_TOKEN_KIND matches it" in detail
    assert {checks[name][0] for name in ("From user", "read access", "write access", "rate-limit headroom")} == {"skip"}
    assert "bad-key-0123456789ab" not in table


def test_an_unreachable_host(env):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    host = f"http://127.0.0.1:{port}"
    code, checks, _ = doctor(env | {"PAGERDUTY_API_KEY": TOKENS["full"], "PAGERDUTY_API_HOST": host})
    assert code == cli.EXIT_CONFIGURATION
    status, detail = checks["PagerDuty key"]
    assert status == "fail" and f"cannot reach {host}" in detail and "Check PAGERDUTY_API_HOST" in detail


def test_an_unwritable_checkpoint_db(env, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    code, checks, _ = doctor(env | {"IC_CHECKPOINT_DB": str(blocker / "ic.sqlite")})
    assert code == cli.EXIT_CONFIGURATION
    status, detail = checks["checkpoint DB"]
    assert status == "fail" and "set IC_CHECKPOINT_DB to a writable file" in detail


@pytest.fixture
def model_endpoint(env):
    """Serve a FakeOpenAI with the given script; returns (fake, env pointing at it)."""
    servers = []

    def serve(*script):
        fake = FakeOpenAI(list(script))
        context = running_server(fake)
        url = context.__enter__()
        servers.append(context)
        return fake, env | {"OPENAI_API_KEY": "sk-test-secret-key", "OPENAI_BASE_URL": f"{url}/v1",
                            "IC_MODEL": "fake-gpt"}

    yield serve
    for context in servers:
        context.__exit__(None, None, None)


def test_a_model_that_calls_tools(model_endpoint):
    fake, env = model_endpoint(calls(("report_ready", {"ready": True})), calls(("report_ready", {"ready": True})))
    code, checks, _ = doctor(env)
    assert code == cli.EXIT_OK
    assert checks["model"][0] == "ok" and "calls tools" in checks["model"][1]
    assert fake.requests[0]["tools"][0]["function"]["name"] == "report_ready"


def test_a_model_that_writes_its_tool_call_as_text_is_fine(model_endpoint):
    probe = '```json\n{"name": "report_ready", "arguments": {"ready": true}}\n```'
    _fake, env = model_endpoint(says(probe), says(probe))
    code, checks, _ = doctor(env)
    assert code == cli.EXIT_OK
    assert checks["model"][0] == "ok" and "writes tool calls as text" in checks["model"][1]


def test_a_model_that_answers_in_words_is_a_warning(model_endpoint):
    _fake, env = model_endpoint(says("ready"), says("ready"))
    code, checks, _ = doctor(env)
    assert code == cli.EXIT_OK
    assert checks["model"][0] == "warn" and "may not support tool calling" in checks["model"][1]


def test_a_refused_model_key(model_endpoint):
    _fake, env = model_endpoint(Broken(401, json.dumps({"error": {
        "message": "Incorrect API key provided: sk-test-secret-key.", "type": "invalid_request_error",
        "code": "invalid_api_key"}})))
    code, checks, table = doctor(env)
    assert code == cli.EXIT_CONFIGURATION
    assert checks["model"][0] == "fail" and "refused OPENAI_API_KEY" in checks["model"][1]
    assert "sk-test-secret-key" not in table + json.dumps(checks)


def test_a_key_out_of_rate_limit_budget_is_reported_without_waiting(pagerduty):
    sim, env = pagerduty
    sim.add_fault(method="GET", path="/services*", status=429, reset_seconds=0)
    code, checks, _ = doctor(env | {"PAGERDUTY_API_KEY": TOKENS["user"]})
    assert code == cli.EXIT_OK
    assert checks["read access"][0] == "warn" and "HTTP 429" in checks["read access"][1]
    assert checks["rate-limit headroom"][0] == "warn" and checks["rate-limit headroom"][1].startswith("none left")
