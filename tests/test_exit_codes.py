"""The README's exit codes, command by command: 0 done · 1 failed, refused or not understood · 2 usage ·
3 waiting for approval · 4 PagerDuty cannot be used as configured (bad key, unreachable host, no From)."""

from __future__ import annotations

import json

import pytest
from test_cli import TRIGGER, run

from command_line import cli

DEAD_HOST = "http://127.0.0.1:9"  # nothing listens on the discard port


def code(env, *args: str) -> int:
    result = run(env, *args)
    assert "Traceback" not in result.output, result.output
    return result.exit_code


@pytest.mark.parametrize(("text", "expected"), [
    ("oncall API Gateway", cli.EXIT_OK),
    ("help", cli.EXIT_OK),
    ("resolve 26", cli.EXIT_OK),  # already resolved: the answer, not a failure
    ("show 99999", cli.EXIT_ACTION_FAILED),  # a failed read
    ("ack 9999", cli.EXIT_ACTION_FAILED),  # refused before approval: no such incident
    ("frobnicate the gateway", cli.EXIT_ACTION_FAILED),  # not understood
    (TRIGGER, cli.EXIT_WAITING_FOR_APPROVAL),
])
def test_ask(env, text, expected):
    assert code(env, "ask", text) == expected


def test_ask_refused_by_a_read_only_setting_fails(env):
    assert code(env | {"PAGERDUTY_READ_ONLY": "true"}, "ask", "ack 266") == cli.EXIT_ACTION_FAILED


def test_ask_with_a_bad_key_or_an_unreachable_host_is_a_configuration_problem(served):
    _, env = served
    assert code(env | {"PAGERDUTY_API_KEY": "not-a-key"}, "ask", "oncall API Gateway") == cli.EXIT_CONFIGURATION
    unreachable = env | {"PAGERDUTY_API_HOST": DEAD_HOST, "PAGERDUTY_MAX_ATTEMPTS": "1"}
    assert code(unreachable, "ask", "oncall API Gateway") == cli.EXIT_CONFIGURATION


def test_a_write_with_nobody_to_name_as_from_is_a_configuration_problem(served):
    _, env = served
    nobody = env | {"PAGERDUTY_FROM_EMAIL": None, "IC_REQUESTER": None}
    assert code(nobody, "ask", "ack 266") == cli.EXIT_CONFIGURATION


def test_approve_and_reject(served):
    _, env = served
    assert code(env, "ask", TRIGGER, "--thread", "t1") == cli.EXIT_WAITING_FOR_APPROVAL
    [request] = json.loads(run(env, "pending", "--json").stdout)
    assert code(env, "approve", "t1", "apr_nope") == cli.EXIT_ACTION_FAILED
    unreachable = env | {"PAGERDUTY_API_HOST": DEAD_HOST, "PAGERDUTY_MAX_ATTEMPTS": "1"}
    assert code(unreachable, "approve", "t1", request["id"]) == cli.EXIT_CONFIGURATION
    assert code(env, "resume", "t1") == cli.EXIT_OK  # the write runs once PagerDuty answers again

    assert code(env, "ask", 'trigger "Disk full" on Database', "--thread", "t2") == cli.EXIT_WAITING_FOR_APPROVAL
    [second] = json.loads(run(env, "pending", "--json").stdout)
    assert code(env, "reject", "t2", second["id"], "--reason", "duplicate") == cli.EXIT_OK  # a decision, done


def test_the_other_commands(env):
    assert code(env, "pending") == cli.EXIT_OK
    assert code(env, "audit") == cli.EXIT_OK
    assert code(env, "tools", "list") == cli.EXIT_OK
    assert code(env, "resume", "nothing-here") == cli.EXIT_OK
    assert code(env, "ask") == cli.EXIT_USAGE
    assert code(env, "doctor") == cli.EXIT_OK
    assert code(env | {"PAGERDUTY_API_KEY": "not-a-key"}, "doctor") == cli.EXIT_CONFIGURATION
