"""Quick reads (`agent.reads`): a command-mode read on a new conversation answered without the graph.

They must say exactly what the graph says (answer, outcome, steps, audit), leave everything else to the
graph without doing anything first, let the conversation go on in the graph, and keep LangChain and
LangGraph out of the process that answers them.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from commanders import open_incident

from agent.commander import Commander
from agent.reads import QuickReads
from agent.settings import Settings
from agent.wiring import Wiring
from tools.settings import PagerDutySettings

ROOT = Path(__file__).resolve().parents[1]


def wiring(sim, clock, **settings) -> Wiring:
    defaults = {"checkpoint_db": ":memory:", "requester": "dana", "openai_api_key": None}
    return Wiring.from_settings(Settings(**defaults | settings),
                                transport=sim.transport(), clock=clock,
                                pagerduty_settings=PagerDutySettings(api_key=None))


def reads(sim, clock, **settings) -> QuickReads:
    return QuickReads(wiring(sim, clock, **settings))


def steps(events) -> list[tuple]:
    return [(e.kind, e.tool, e.ok, e.message) for e in events]


def audited(entries) -> list[tuple]:
    return [(e.actor, e.action, e.tool, e.arguments, e.outcome) for e in entries]


@pytest.mark.parametrize("text", [
    "oncall API Gateway", "incidents mine", "incidents open on Payments API", "services", "help",
    "who is on call for the payments team", "oncall Nonexistent Service", "incidnets", "paint the shed",
    "show {n}", "timeline {n}", "similar {n}", "show 99999",
])
def test_a_quick_read_says_and_records_what_the_graph_does(sim, clock, text):
    text = text.format(n=open_incident(sim).number)
    with reads(sim, clock) as quick:
        answered = quick.stream("quick", text)
        assert answered is not None, "a read is answered quickly"
        events = list(answered)
        quick_audit = quick._wiring.audit.entries("quick")
    with Commander.from_settings(wiring=wiring(sim, clock)) as commander:
        turn = commander.send("graph", text)
        graph_audit = commander.audit("graph")

    assert steps(events) == steps(turn.events)
    assert (events[-1].kind, events[-1].message, events[-1].problem) == \
        (turn.events[-1].kind, turn.text, turn.events[-1].problem)
    assert audited(quick_audit) == audited(graph_audit)


@pytest.mark.parametrize("text", ["ack {n}", "resolve all", 'trigger "Disk full" on API Gateway', "escalate {n}"])
def test_a_change_is_left_to_the_graph_before_anything_happens(sim, clock, text):
    sent = len(sim.request_log)
    with reads(sim, clock) as quick:
        assert quick.stream("t", text.format(n=open_incident(sim).number)) is None
        assert quick._wiring.audit.entries("t") == []
    assert len(sim.request_log) == sent


def test_a_conversation_under_way_a_model_or_a_policy_that_asks_for_reads_goes_to_the_graph(sim, clock, tmp_path):
    with reads(sim, clock) as quick:
        assert quick.stream("t", "services") is not None
        list(quick.stream("t", "services") or [])  # the thread has history now
        assert quick.stream("t", "services") is None
    with reads(sim, clock, openai_api_key="sk-test") as quick:
        assert quick.stream("t2", "services") is None
    policy = tmp_path / "policy.yaml"
    policy.write_text("reads: approve\n")
    with reads(sim, clock, approval_policy=str(policy)) as quick:
        assert quick.stream("t3", "services") is None


def test_the_graph_goes_on_from_a_quick_read(sim, clock, tmp_path):
    """'it' is the incident the quick read showed, and the answer to its question continues the request."""
    incident = open_incident(sim)
    store = str(tmp_path / "ic.sqlite")
    settings = {"checkpoint_db": store}
    with reads(sim, clock, **settings) as quick:
        list(quick.stream("t", f"show {incident.number}") or [])
        [asked] = [e for e in quick.stream("q", "show it") or [] if e.kind == "answer"]
    with Commander.from_settings(wiring=wiring(sim, clock, **settings)) as commander:
        turn = commander.send("t", "ack it")
        assert turn.status == "waiting"
        [request] = turn.pending
        assert f"#{incident.number}" in request.summary

        assert asked.message.startswith("Which incident?")
        answered = commander.send("q", str(incident.number))
        assert answered.text.startswith(f"#{incident.number} ["), answered.text


def test_a_read_in_the_command_line_loads_neither_langchain_nor_langgraph(tmp_path):
    script = ("import sys\nfrom command_line.main import main\nsys.argv = ['incident-commander', 'ask', "
              "'oncall API Gateway']\ntry:\n    main()\nexcept SystemExit as end:\n    code = end.code\n"
              "loaded = sorted({m.split('.')[0] for m in sys.modules} & {'langchain_core', 'langgraph', 'langsmith'})\n"
              "print('RESULT', code, ','.join(loaded))\n")
    env = {"IC_CHECKPOINT_DB": str(tmp_path / "ic.sqlite"), "PATH": "/usr/bin:/bin", "COLUMNS": "200",
           "HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    result = done.stdout.splitlines()[-1].split()
    assert result == ["RESULT", "0"], done.stdout + done.stderr  # done, and nothing of the three loaded
    assert "Level 1:" in done.stdout


def test_a_change_in_the_command_line_still_runs_through_the_graph(env):
    from typer.testing import CliRunner

    from command_line.cli import app

    result = CliRunner().invoke(app, ["ask", 'trigger "Disk full" on API Gateway', "--json"], env=env)
    assert result.exit_code == 3, result.output
    assert json.loads(result.stdout)["approvals"]
