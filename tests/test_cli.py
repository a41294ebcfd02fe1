"""The `incident-commander` command line, through Typer's test runner.

Commands run as a person would type them: each invocation builds its own Commander from the
environment (so two invocations are two "processes" sharing only the checkpoint file), on the
embedded simulator or on a simulator served over real HTTP when a test needs to see PagerDuty's state.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from command_line import cli
from command_line.main import app
from simulator import Simulator

SPEC = Path(__file__).resolve().parents[2] / "shared" / "pagerduty-api" / "openapiv3.json"
TRIGGER = 'trigger "Checkout errors" on API Gateway high'

runner = CliRunner()


def run(env, *args: str, input: str | None = None):
    return runner.invoke(app, list(args), env=env, input=input)


def titled(sim: Simulator, title: str) -> list:
    return [i for i in sim.state.incidents.values() if i.title == title]


def writes(sim: Simulator) -> list:
    return [r for r in sim.request_log if r.is_write]


def waiting(env, thread: str | None = None) -> list[dict]:
    result = run(env, "pending", "--json", *(["--thread", thread] if thread else []))
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def asked(env, text: str = TRIGGER, thread: str = "t1") -> dict:
    """`ask` without a decision: it must stop at the approval and say how to decide it."""
    result = run(env, "ask", text, "--thread", thread)
    assert result.exit_code == cli.EXIT_WAITING_FOR_APPROVAL, result.output
    [request] = waiting(env, thread)
    return request


# --- help and usage ---


def test_help_documents_every_exit_code():
    result = run({"COLUMNS": "200"}, "--help")
    assert result.exit_code == 0
    text = " ".join(result.stdout.split())
    for code, meaning in ((cli.EXIT_OK, "done"), (cli.EXIT_ACTION_FAILED, "an action failed or was refused"),
                          (cli.EXIT_USAGE, "usage error"), (cli.EXIT_WAITING_FOR_APPROVAL, "waiting for approval"),
                          (cli.EXIT_CONFIGURATION, "configuration or connection problem")):
        assert f"{code} {meaning}" in text
    for command in ("chat", "ask", "pending", "approve", "reject", "tools", "doctor", "sim", "audit"):
        assert command in text


def test_approve_all_and_reject_all_together_is_a_usage_error(env):
    result = run(env, "ask", "services", "--approve-all", "--reject-all")
    assert result.exit_code == cli.EXIT_USAGE
    assert "choose one of --approve-all and --reject-all" in result.stderr


def test_unknown_command_is_a_usage_error(env):
    assert run(env, "page-everyone").exit_code == cli.EXIT_USAGE


# --- the quick start: embedded defaults ---


def test_quick_start_pages_the_on_call_engineer_on_the_embedded_simulator(env):
    result = run(env, "ask", "page whoever is on call for API Gateway: latency alert", "--approve-all")

    assert result.exit_code == cli.EXIT_OK, result.output
    assert re.search(r"Triggered: #\d+ \[triggered, high\] latency alert — API Gateway — assigned to \w+",
                     result.stdout)
    [notice] = [line for line in result.stderr.splitlines() if line.startswith("Demo:")]
    assert notice == "Demo: Acme Cloud on the built-in PagerDuty simulator, nothing real is paged; command mode, " \
                     "type `help`."  # IC_REQUESTER names who asks, so it is not said
    assert re.search(r"thread: ask-[0-9a-f]{8}", result.stderr)
    assert "dana: approve" in result.stderr and "Traceback" not in result.output


def test_each_ask_gets_a_fresh_thread_unless_one_is_given(env):
    threads = {re.search(r"thread: (\S+)", run(env, "ask", "services").stderr).group(1) for _ in range(2)}
    assert len(threads) == 2
    assert "thread: mine" in run(env, "ask", "services", "--thread", "mine").stderr


def test_an_approval_left_by_one_process_is_decided_by_the_next_on_the_embedded_simulator(env):
    request = asked(env)

    result = run(env, "approve", "t1", request["id"])

    assert result.exit_code == cli.EXIT_OK, result.output
    assert "Checkout errors" in result.stdout and "Triggered" in result.stdout
    assert (Path(env["IC_CHECKPOINT_DB"]).parent / "simulator-state.json").exists()  # what the next command continues
    assert waiting(env) == []


# --- ask, then decide later (on a served simulator, to see what PagerDuty received) ---


def test_ask_without_a_decision_writes_nothing_and_prints_the_commands_that_decide(served):
    sim, env = served
    result = run(env, "ask", TRIGGER, "--thread", "t1")

    assert result.exit_code == cli.EXIT_WAITING_FOR_APPROVAL
    [request] = waiting(env, "t1")
    assert request["tool"] == "create_incident" and request["requester"] == "dana" and "nonce" not in request
    assert f"incident-commander approve t1 {request['id']}" in result.stdout
    assert f"incident-commander reject t1 {request['id']} --reason" in result.stdout
    assert writes(sim) == []


def test_pending_lists_every_thread_and_approve_runs_exactly_once(served):
    sim, env = served
    first, second = asked(env, thread="t1"), asked(env, 'trigger "Queue backlog" on Database', thread="t2")

    listing = run(env, "pending")
    assert listing.exit_code == 0
    assert first["id"] in listing.stdout and second["id"] in listing.stdout
    assert [r["id"] for r in waiting(env, "t2")] == [second["id"]]

    approved = run(env, "approve", "t1", first["id"])
    assert approved.exit_code == cli.EXIT_OK, approved.output
    assert len(titled(sim, "Checkout errors")) == 1
    assert [r["id"] for r in waiting(env)] == [second["id"]]

    again = run(env, "approve", "t1", first["id"])
    assert again.exit_code == cli.EXIT_ACTION_FAILED
    assert f"approval {first['id']} was already decided (approve by dana)" in again.stderr
    assert len(titled(sim, "Checkout errors")) == 1
    assert "Traceback" not in again.output


def test_reject_needs_a_reason(served):
    _sim, env = served
    request = asked(env)
    result = run(env, "reject", "t1", request["id"])
    assert result.exit_code == cli.EXIT_USAGE
    assert "Missing option '--reason'" in result.stderr
    assert len(waiting(env)) == 1


def test_reject_writes_nothing_and_tells_the_planner_why(served):
    sim, env = served
    request = asked(env)

    result = run(env, "reject", "t1", request["id"], "--reason", "already paged by phone")

    assert result.exit_code == cli.EXIT_OK, result.output
    assert "already paged by phone" in result.stdout and "Nothing was changed" in result.stdout
    assert writes(sim) == [] and waiting(env) == []
    trail = json.loads(run(env, "audit", "--thread", "t1", "--json").stdout)
    assert ("dana", "decision", "reject: already paged by phone") in [(e["actor"], e["action"], e["outcome"])
                                                                      for e in trail]


def test_approve_with_edited_arguments_sends_the_edit(served):
    sim, env = served
    request = asked(env)
    edit = json.dumps({"service": "API Gateway", "title": "Checkout errors (EU only)", "urgency": "low"})

    result = run(env, "approve", "t1", request["id"], "--arguments", edit)

    assert result.exit_code == cli.EXIT_OK, result.output
    [incident] = titled(sim, "Checkout errors (EU only)")
    assert incident.urgency == "low"
    assert titled(sim, "Checkout errors") == []


@pytest.mark.parametrize("arguments, problem", [('{"title": "x"', "not valid JSON"),
                                                ('["a list"]', "must be a JSON object"),
                                                ("[" * 5000 + "]" * 5000, "nested far too deeply")])
def test_arguments_that_are_not_a_json_object_are_a_usage_error(served, arguments, problem):
    sim, env = served
    request = asked(env)
    result = run(env, "approve", "t1", request["id"], "--arguments", arguments)
    assert result.exit_code == cli.EXIT_USAGE
    assert problem in result.stderr
    assert writes(sim) == [] and len(waiting(env)) == 1


def test_bytes_that_are_not_utf8_read_as_an_unknown_word_not_a_crash(env):
    result = run(env, "ask", "show \udcff", "--thread", "t1")  # how Python passes a terminal's byte 0xff
    assert isinstance(result.exception, SystemExit | None), result.output
    assert "Traceback" not in result.output and "unexpected" not in result.stderr
    assert "`show INCIDENT`" in result.stdout  # read as a show command with a word it cannot use


def test_arguments_the_tool_refuses_are_refused_and_nothing_is_recorded(served):
    sim, env = served
    request = asked(env)
    result = run(env, "approve", "t1", request["id"], "--arguments", '{"title": "x"}')
    assert result.exit_code == cli.EXIT_ACTION_FAILED
    assert "the edited arguments are not valid" in result.stderr and "Nothing was recorded" in result.stderr
    assert writes(sim) == [] and len(waiting(env)) == 1


def test_an_unknown_approval_id_is_refused(served):
    _sim, env = served
    asked(env)
    result = run(env, "approve", "t1", "apr_000000000000")
    assert result.exit_code == cli.EXIT_ACTION_FAILED
    assert "no approval apr_000000000000 is waiting on thread t1" in result.stderr
    assert "incident-commander pending" in result.stderr


def test_reject_all_writes_nothing(served):
    sim, env = served
    result = run(env, "ask", TRIGGER, "--reject-all", "--json")
    assert result.exit_code == cli.EXIT_OK, result.output
    report = json.loads(result.stdout)
    assert [a["decision"] for a in report["approvals"]] == ["reject"]
    assert "Nothing was changed" in report["answer"]
    assert writes(sim) == []


def test_ask_json_reports_the_answer_approvals_events_and_thread(served):
    sim, env = served
    result = run(env, "ask", TRIGGER, "--approve-all", "--json", "--thread", "incident-42")

    assert result.exit_code == cli.EXIT_OK, result.output
    report = json.loads(result.stdout)  # stdout is nothing but the JSON
    assert report["thread"] == "incident-42" and report["status"] == "answered"
    assert "Checkout errors" in report["answer"]
    [approval] = report["approvals"]
    assert (approval["tool"], approval["decision"], approval["thread_id"]) == ("create_incident", "approve",
                                                                              "incident-42")
    kinds = [e["kind"] for e in report["events"]]
    assert kinds.index("approval_needed") < kinds.index("decision_recorded") < kinds.index("tool_finished")
    assert kinds[-1] == "answer"
    assert len(titled(sim, "Checkout errors")) == 1


def test_ask_json_while_waiting_exits_with_the_waiting_code(served):
    _sim, env = served
    result = run(env, "ask", TRIGGER, "--json")
    assert result.exit_code == cli.EXIT_WAITING_FOR_APPROVAL
    report = json.loads(result.stdout)
    assert report["status"] == "waiting" and [a["decision"] for a in report["approvals"]] == ["pending"]


def test_approve_all_never_approves_what_an_earlier_request_left_waiting(served):
    sim, env = served
    asked(env)
    result = run(env, "ask", "services", "--thread", "t1", "--approve-all")
    assert result.exit_code == cli.EXIT_WAITING_FOR_APPROVAL
    assert "waiting for decisions first" in result.stderr
    assert writes(sim) == []


def test_a_failed_write_exits_with_the_failure_code(served):
    sim, env = served
    triggered = next(i for i in sim.state.incidents.values() if i.status == "triggered")
    sim.add_fault(method="PUT", path="/incidents/*", status=403, times=1)  # refused by PagerDuty after approval
    result = run(env, "ask", f"ack {triggered.id}", "--approve-all")
    assert result.exit_code == cli.EXIT_ACTION_FAILED, result.output
    assert "✗" in result.stderr and sim.state.incidents[triggered.id].status == "triggered"


# --- chat ---


def test_chat_asks_inline_and_a_rejection_writes_nothing(served):
    sim, env = served
    result = run(env, "chat", "--thread", "c1", input=f"oncall API Gateway\n{TRIGGER}\nr\nnot now\n/quit\n")

    assert result.exit_code == cli.EXIT_OK, result.output
    assert "Level 1:" in result.stdout  # the on-call answer
    assert "Needs approval" in result.stderr and "[a]pprove, [e]dit, [r]eject?" in result.stderr
    assert "not now" in result.stdout
    assert writes(sim) == []


def test_chat_edit_is_validated_until_it_is_right(served):
    sim, env = served
    lines = [TRIGGER, "e", "{not json", "e", '{"title": 1}', "maybe", "e", "title=Checkout errors in EU", "a"]
    result = run(env, "chat", input="\n".join(lines) + "\n")

    assert result.exit_code == cli.EXIT_OK, result.output
    assert "not valid JSON" in result.stderr
    assert "the edited arguments are not valid: title: Input should be a valid string" in result.stderr
    assert "Next:" not in result.stderr and "for create_incident" not in result.stderr
    # The edit is shown as it would run and asked about again before anything is written.
    assert "Edited, not approved yet" in result.stderr and "'Checkout errors in EU' on API Gateway" in result.stderr
    assert "Type a (approve), e (edit) or r (reject)." in result.stderr
    assert len(titled(sim, "Checkout errors in EU")) == 1 and titled(sim, "Checkout errors") == []


def test_chat_ending_with_an_undecided_approval_says_how_to_decide_it(served):
    sim, env = served
    result = run(env, "chat", "--thread", "c1", input=TRIGGER + "\n")

    assert result.exit_code == cli.EXIT_WAITING_FOR_APPROVAL
    [request] = waiting(env, "c1")
    assert f"incident-commander approve c1 {request['id']}" in result.stdout
    assert writes(sim) == []

    resumed = run(env, "chat", "--thread", "c1", input="a\n")  # a new session picks the approval up first
    assert resumed.exit_code == cli.EXIT_OK, resumed.output
    assert len(titled(sim, "Checkout errors")) == 1


# --- resume, audit, tools, simulator ---


def test_resume_with_nothing_to_resume(env):
    result = run(env, "resume", "t9")
    assert result.exit_code == cli.EXIT_OK
    assert "Nothing to resume on this thread." in result.stderr


def test_audit_shows_requests_decisions_and_writes(served):
    _sim, env = served
    run(env, "ask", TRIGGER, "--approve-all", "--thread", "t1")

    table = run(env, "audit")
    assert table.exit_code == 0
    for word in ("message", "approval_requested", "decision", "api_write", "create_incident", "dana"):
        assert word in table.stdout
    entries = json.loads(run(env, "audit", "--thread", "t1", "--json").stdout)
    assert [e["action"] for e in entries] == ["message", "approval_requested", "decision", "api_write", "tool_call"]
    assert {e["thread_id"] for e in entries} == {"t1"}


def test_audit_of_an_empty_database(env):
    result = run(env, "audit")
    assert result.exit_code == 0 and "No audit records yet." in result.stderr


def test_tools_list_shows_kind_and_approval_rule(env):
    rows = {r["name"]: r for r in json.loads(run(env, "tools", "list", "--json").stdout)}
    assert (rows["find_services"]["kind"], rows["find_services"]["approval"]) == ("read", "auto")
    assert (rows["create_incident"]["kind"], rows["create_incident"]["approval"]) == ("write", "approve")
    assert all(r["description"] and "\n" not in r["description"] for r in rows.values())

    table = run(env, "tools", "list")
    assert table.exit_code == 0 and "create_incident" in table.stdout and "approve" in table.stdout


def test_tools_list_in_read_only_mode_offers_no_writes(env):
    result = run(env | {"PAGERDUTY_READ_ONLY": "true"}, "tools", "list", "--json")
    assert result.exit_code == 0
    assert {r["kind"] for r in json.loads(result.stdout)} == {"read"}
    assert "write tools are not offered" in result.stderr


def test_sim_is_the_simulators_own_command_line(env):
    result = run(env, "sim", "--help")
    assert result.exit_code == 0 and "serve" in result.stdout and "demo" in result.stdout
    mismatched = run(env, "sim", "serve", "--tls-cert", "cert.pem")
    assert mismatched.exit_code == cli.EXIT_USAGE


# --- configuration problems ---


def test_a_bad_setting_is_one_line_naming_it(env):
    result = run(env | {"PAGERDUTY_API_KEY": "u+secret-value", "PAGERDUTY_API_HOST": "http://pagerduty.example"},
                 "ask", "services")
    assert result.exit_code == cli.EXIT_CONFIGURATION
    assert "PAGERDUTY_API_HOST may use http:// only for a loopback host" in result.stderr
    assert "secret-value" not in result.output and "Traceback" not in result.output
    assert len(result.stderr.strip().splitlines()) == 1


def test_an_unusable_checkpoint_path_is_a_configuration_problem(env, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    result = run(env | {"IC_CHECKPOINT_DB": str(blocker / "ic.sqlite")}, "pending")
    assert result.exit_code == cli.EXIT_CONFIGURATION
    assert "not-a-folder" in result.stderr and "Traceback" not in result.output


def test_a_broken_approval_policy_is_a_configuration_problem(env, tmp_path):
    policy = tmp_path / "policy.yaml"
    policy.write_text("tools: {create_incident: auto}\n")
    result = run(env | {"IC_APPROVAL_POLICY": str(policy)}, "ask", "services")
    assert result.exit_code == cli.EXIT_CONFIGURATION
    assert "create_incident changes PagerDuty destructively and cannot be 'auto'" in result.stderr


def test_rate_limit_waits_are_shown_while_a_request_runs(served):
    sim, env = served
    sim.add_fault(method="GET", path="/oncalls*", status=429, reset_seconds=0, times=1)
    result = run(env, "ask", "oncall API Gateway")
    assert result.exit_code == cli.EXIT_OK, result.output
    assert "PagerDuty rate limit: waiting 0 s" in result.stderr
    assert "Level 1:" in result.stdout
