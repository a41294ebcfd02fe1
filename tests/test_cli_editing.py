"""Deciding from the command line: a partial edit, what `pending` shows, expired requests kept out of the way."""

from __future__ import annotations

from commanders import build
from test_cli import asked, run, titled

from command_line import cli, render


def test_approve_set_changes_only_the_named_arguments(served):
    sim, env = served
    request = asked(env)

    result = run(env, "approve", "t1", request["id"], "--set", "urgency=low", "--set", "title=Checkout errors in EU")

    assert result.exit_code == cli.EXIT_OK, result.output
    [incident] = titled(sim, "Checkout errors in EU")
    assert incident.urgency == "low" and titled(sim, "Checkout errors") == []


def test_a_partial_arguments_object_is_merged_too(served):
    sim, env = served
    request = asked(env)
    result = run(env, "approve", "t1", request["id"], "--arguments", '{"urgency": "low"}')
    assert result.exit_code == cli.EXIT_OK, result.output
    assert [i.urgency for i in titled(sim, "Checkout errors")] == ["low"]


def test_a_set_without_a_value_is_a_usage_error(served):
    _, env = served
    request = asked(env)
    result = run(env, "approve", "t1", request["id"], "--set", "urgency")
    assert result.exit_code == cli.EXIT_USAGE and "is not FIELD=VALUE" in result.output


def test_pending_shows_the_arguments_and_how_to_change_one(served):
    _, env = served
    request = asked(env)
    listing = run(env, "pending").stdout
    assert "with service: API Gateway (P" in listing and "· title: Checkout errors · urgency: high" in listing
    assert f"approve t1 {request['id']} --set service=VALUE" in listing and "<JSON>" not in listing


def test_expired_requests_are_marked_and_only_rejectable(sim, clock):
    commander = build(sim, clock, [[{"name": "update_incident", "args": {"incident": "266", "action": "resolve"}}],
                                   "Resolved."])
    [request] = commander.send("t1", "resolve 266").pending
    assert not commander.expired(request)
    clock.advance(16 * 60)
    assert commander.expired(request)

    block = render.approval_block(request, expired=True)
    assert "EXPIRED at" in block and "approve t1" not in block and "reject t1" in block


def test_pending_leaves_expired_requests_out_unless_asked_for_all(served):
    _, env = served
    asked(env, thread="now")
    assert run(env, "pending", "--all").stdout == run(env, "pending").stdout  # nothing expired: the same list
    assert "expired request(s) not shown" not in run(env, "pending").stderr
