"""The embedded demo organisation kept in a file: what one Commander (or CLI process) changes, the next sees.

Each Commander here is built the way a CLI command builds its own, with no PagerDuty key and no transport,
so only the state file and the checkpoint database connect them.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from demo_org import service_id
from typer.testing import CliRunner

from agent.commander import Commander
from agent.embedded_state import SimulatorStateError
from agent.planners.command import CommandModel
from agent.settings import Settings
from command_line import cli
from simulator import Account, Simulator
from tools.settings import PagerDutySettings

API_GATEWAY = service_id("API Gateway")

PAGE = "page whoever is on call for API Gateway: latency"


@pytest.fixture(autouse=True)
def _no_state_file_from_outside(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("IC_SIMULATOR_STATE", raising=False)


def embedded(store: str, **settings) -> Commander:
    """A Commander on the embedded simulator, as a fresh process would build it."""
    return Commander.from_settings(Settings(checkpoint_db=store, requester="dana", openai_api_key=None, **settings),
                                   model=CommandModel(), pagerduty_settings=PagerDutySettings(api_key=None))


def titled(state: Account, title: str) -> list:
    return [i for i in state.incidents.values() if i.title == title]


def test_an_approval_in_a_second_commander_lands_in_the_organisation_a_third_one_lists(tmp_path):
    store = str(tmp_path / "ic.sqlite")
    with embedded(store) as first:
        asked = first.send("t1", PAGE)
    assert asked.status == "waiting"

    with embedded(store) as second:
        done = second.decide("t1", asked.pending[0].id, "approve", "omar")
    assert done.status == "answered" and done.text.startswith("Triggered:")
    [saved] = titled(Account.load(tmp_path / "simulator-state.json"), "latency")
    assert saved.status == "triggered" and saved.service_id == API_GATEWAY

    with embedded(store) as third:
        listed = third.send("t2", "incidents open")
        assert [i.id for i in titled(third.simulator.state, "latency")] == [saved.id]
    assert f"#{saved.number} [triggered, high] latency" in listed.text


def test_commanders_open_side_by_side_see_and_keep_each_others_changes(tmp_path):
    store = str(tmp_path / "ic.sqlite")
    with embedded(store) as one, embedded(store) as other:
        for commander, thread, title in ((one, "a", "disk full"), (other, "b", "queue stuck")):
            asked = commander.send(thread, f'trigger "{title}" on API Gateway high')
            assert commander.decide(thread, asked.pending[0].id, "approve", "omar").status == "answered"
        listed = one.send("c", "incidents open")

    assert "queue stuck" in listed.text and "disk full" in listed.text
    saved = Account.load(tmp_path / "simulator-state.json")
    assert len(titled(saved, "disk full")) == 1 and len(titled(saved, "queue stuck")) == 1


def test_an_explicit_state_file_is_used_instead_of_the_default(tmp_path):
    chosen = tmp_path / "elsewhere" / "org.json"
    with embedded(str(tmp_path / "ic.sqlite"), simulator_state=str(chosen)) as commander:
        asked = commander.send("t1", PAGE)
        commander.decide("t1", asked.pending[0].id, "approve", "omar")

    assert titled(Account.load(chosen), "latency")
    assert not (tmp_path / "simulator-state.json").exists()


def test_a_corrupt_state_file_is_one_clear_error_naming_the_file_to_delete(tmp_path):
    state_file = tmp_path / "simulator-state.json"
    state_file.write_text('{"dataset": ')

    with pytest.raises(SimulatorStateError) as raised:
        embedded(str(tmp_path / "ic.sqlite"))

    message = str(raised.value)
    assert f"delete {state_file}" in message and "not JSON" in message and "\n" not in message
    assert state_file.read_text() == '{"dataset": '  # left for the person to look at


def test_a_state_of_another_organisation_is_refused_as_incompatible(tmp_path):
    state = Simulator.from_dataset("demo").state
    data = state.to_json()
    for token in data["dataset"]["tokens"]:
        token["token"] = "x" + token["token"]
    state_file = tmp_path / "simulator-state.json"
    state_file.write_text(json.dumps(data))

    with pytest.raises(SimulatorStateError, match="not the demo organisation this version uses") as raised:
        embedded(str(tmp_path / "ic.sqlite"))
    assert f"delete {state_file}" in str(raised.value)


def test_in_memory_checkpoints_keep_no_state_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with embedded(":memory:", simulator_state=str(tmp_path / "org.json")) as commander:
        asked = commander.send("t1", PAGE)
        assert commander.decide("t1", asked.pending[0].id, "approve", "omar").status == "answered"

    assert list(tmp_path.iterdir()) == []


def test_a_given_transport_never_touches_a_state_file(tmp_path, sim, clock):
    settings = Settings(checkpoint_db=str(tmp_path / "ic.sqlite"), requester="dana", openai_api_key=None)
    with Commander.from_settings(settings, model=CommandModel(), transport=sim.transport(), clock=clock,
                                 pagerduty_settings=PagerDutySettings(api_key=None)) as commander:
        asked = commander.send("t1", PAGE)
        commander.decide("t1", asked.pending[0].id, "approve", "omar")
        assert commander.simulator is None

    assert titled(sim.state, "latency")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ic.sqlite"]


# --- the command line, one process per command ---


runner = CliRunner()


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str | None]:
    return {"IC_CHECKPOINT_DB": str(tmp_path / "ic.sqlite"), "IC_REQUESTER": "dana", "COLUMNS": "200",
            "IC_SIMULATOR_STATE": None, "OPENAI_API_KEY": None, "OPENAI_BASE_URL": None, "IC_APPROVAL_POLICY": None,
            "PAGERDUTY_API_KEY": None, "PAGERDUTY_API_HOST": None, "PAGERDUTY_FROM_EMAIL": None,
            "PAGERDUTY_TOKEN_KIND": None, "PAGERDUTY_READ_ONLY": None}


def test_ask_then_approve_then_ask_again_on_the_command_line_sees_the_new_incident(env):
    asked = runner.invoke(cli.app, ["ask", PAGE, "--thread", "t1"], env=env)
    assert asked.exit_code == cli.EXIT_WAITING_FOR_APPROVAL, asked.output
    approval = re.search(r"approve t1 (apr_\w+)", asked.stdout).group(1)

    approved = runner.invoke(cli.app, ["approve", "t1", approval], env=env)
    assert approved.exit_code == cli.EXIT_OK, approved.output
    number = re.search(r"Triggered: #(\d+) \[triggered, high\] latency", approved.stdout).group(1)

    listed = runner.invoke(cli.app, ["ask", "incidents open"], env=env)
    assert listed.exit_code == cli.EXIT_OK, listed.output
    assert f"#{number} [triggered, high] latency — API Gateway" in listed.stdout
    assert "afresh" not in listed.output


def test_a_corrupt_state_file_stops_a_command_with_one_line_and_no_traceback(env, tmp_path):
    (tmp_path / "simulator-state.json").write_text("not json")

    result = runner.invoke(cli.app, ["ask", "incidents open"], env=env)

    assert result.exit_code == cli.EXIT_CONFIGURATION
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error: the saved demo organisation") and "delete" in line and "simulator-state.json" in line
    assert "Traceback" not in result.output
