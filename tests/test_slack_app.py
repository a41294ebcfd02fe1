"""The Slack app end to end: signed requests in, real Bolt routing and acks, the Commander on the demo
simulator, and a fake Slack Web API that records what the app posted."""

from __future__ import annotations

import time

import pytest
from fake_slack import CHANNEL, NO_EMAIL, REQUESTER, TEAM, command_body, post, signed_headers, slack_world

from slack_app.threads import SlackThread


@pytest.fixture
def world(sim, clock):
    """Answers posted in the channel's thread for everyone (IC_SLACK_PUBLIC_REPLIES=true)."""
    with slack_world(sim, clock, public_replies=True) as w:
        yield w


@pytest.fixture
def private_world(sim, clock):
    """The default: reads and help reach only the person who asked."""
    with slack_world(sim, clock) as w:
        yield w


@pytest.mark.parametrize(("text", "phrase"), [("oncall API Gateway", "Level 1: Bilal Khan"),
                                              ("help", "Command mode")])
def test_reads_and_help_reply_to_the_requester_alone_by_default(private_world, text, phrase):
    world = private_world
    world.command(text)
    [reply] = world.slack.wait_call("hook:cmd", lambda a: phrase in a.get("text", ""))
    assert reply.args["response_type"] == "ephemeral"
    assert not world.slack.of("chat.postMessage")  # nothing in the channel for everyone
    assert not world.writes()


def test_a_change_still_puts_its_card_in_the_channel_and_tells_the_outcome_there(private_world):
    world = private_world
    world.command('trigger "Checkout down" on "API Gateway"')
    card = world.card()
    root = world.root()
    assert f"<@{REQUESTER}> asked" in root.args["text"] and card.args["thread_ts"] == root.reply["ts"]
    world.click(card, "ic_approve")
    world.said(root.reply["ts"], "Triggered: #")
    assert len(world.writes()) == 1


def test_a_private_request_whose_card_cannot_be_posted_writes_nothing(private_world):
    world = private_world
    world.slack.fail("chat.postMessage", "not_in_channel")
    world.command('trigger "DB down" on "API Gateway"')
    note = world.slack.wait_call("hook:cmd", lambda a: "not_in_channel" in a.get("text", ""))[0]
    assert "Nothing was changed" in note.args["text"] and note.args["response_type"] == "ephemeral"
    assert not world.writes()


def test_command_is_acked_before_the_work_and_answered_in_a_thread(world):
    release = world.slack.hold("users.info")  # the background work cannot get past identity until released
    response = world.command("oncall API Gateway")
    assert response.status_code == 200
    assert response.text == "Working on it: `oncall API Gateway`"
    assert not world.slack.of("chat.postMessage")  # the ack did not wait for the run
    release.set()
    root = world.root()
    assert root.args["channel"] == CHANNEL and f"<@{REQUESTER}>" in root.args["text"]
    answer = world.said(root.reply["ts"], "Level 1: Bilal Khan")
    assert any("*Platform Escalation*" in b["text"]["text"] for b in answer.args["blocks"] if b["type"] == "section")
    assert not world.writes()


def test_a_reply_in_the_thread_continues_the_same_conversation(world):
    world.command("oncall API Gateway")
    root_ts = world.root().reply["ts"]
    world.said(root_ts, "Level 1")
    assert world.reply_in_thread(root_ts, "incidents mine").status_code == 200
    world.said(root_ts, "[triggered, high]")
    thread_id = SlackThread(TEAM, CHANNEL, root_ts).thread_id
    messages = [e.outcome for e in world.commander.audit(thread_id) if e.action == "message"]
    assert messages == ["oncall API Gateway", "incidents mine"]
    assert [t.thread_id for t in world.commander.threads()] == [thread_id]


def test_replies_in_other_threads_are_left_alone(world):
    assert world.reply_in_thread("1700000000.000001", "incidents").status_code == 200
    world.command("help")  # something to wait for, after the reply was handled
    world.said(world.root().reply["ts"], "Command mode")
    assert len(world.commander.threads()) == 1


def test_incidents_are_drawn_as_cards_coloured_by_status(world):
    world.command("incidents")
    answer = world.said(world.root().reply["ts"], "[triggered, high]")
    cards = answer.args["attachments"]
    colours = {c["color"] for c in cards}
    assert {"#E01E5A", "#ECB22E"} <= colours  # triggered red, acknowledged yellow
    first = cards[0]["blocks"][0]
    assert first["text"]["text"].startswith("*<https://acme.pagerduty.com/incidents/")
    assert [f["text"].split("\n")[0] for f in first["fields"]] == [
        "*Status*", "*Service*", "*Urgency*", "*Priority*", "*Assigned to*", "*Created*"]


def test_an_unmapped_user_is_told_why_and_nothing_runs(world):
    world.command('trigger "DB down" on "API Gateway"', user=NO_EMAIL)
    note = world.slack.wait_call("hook:cmd")[0]
    assert "IC_SLACK_USER_MAP" in note.args["text"] and "Nothing was done" in note.args["text"]
    assert note.args["response_type"] == "ephemeral"
    assert not world.slack.of("chat.postMessage")
    assert not world.commander.threads() and not world.writes()


def test_not_in_channel_is_explained_and_nothing_runs(world):
    world.slack.fail("chat.postMessage", "not_in_channel")
    world.command('trigger "DB down" on "API Gateway"')
    note = world.slack.wait_call("hook:cmd")[0]
    assert "not_in_channel" in note.args["text"] and "/invite" in note.args["text"]
    assert "Traceback" not in note.args["text"]
    assert not world.commander.threads() and not world.writes()


@pytest.mark.parametrize("headers", [
    lambda body: signed_headers(body, secret="not-the-secret"),
    lambda body: signed_headers(body, timestamp=int(time.time()) - 301),  # a replay older than 5 minutes
    lambda body: {"content-type": "application/x-www-form-urlencoded"},
], ids=["bad-signature", "replayed", "unsigned"])
def test_requests_not_signed_by_slack_are_refused(world, headers):
    body = command_body(world.slack, 'trigger "DB down" on "API Gateway"', user=REQUESTER, channel=CHANNEL)
    response = post(world.http, body, headers(body))
    assert response.status_code == 401
    assert [c.method for c in world.slack.calls] == ["auth.test"]  # only the start-up token check
    assert not world.commander.threads()


def test_health_endpoint_answers_without_slack(world):
    response = world.http.get("/healthz")
    assert response.status_code == 200 and response.json() == {"ok": True}
    assert [c.method for c in world.slack.calls] == ["auth.test"]


def test_unknown_paths_are_not_found(world):
    assert world.http.post("/elsewhere", content=b"x").status_code == 404


def test_an_unsigned_malformed_body_is_refused_before_it_is_read(world):
    response = post(world.http, "payload=%7Bnot-json", {"content-type": "application/x-www-form-urlencoded"})
    assert response.status_code == 401


def test_a_signed_command_replayed_within_the_window_runs_once(world):
    body = command_body(world.slack, "oncall API Gateway", user=REQUESTER, channel=CHANNEL)
    headers = signed_headers(body)
    first = post(world.http, body, headers)
    assert first.status_code == 200 and "Working on it" in first.text
    replayed = post(world.http, body, headers)  # the same signed request, sent again
    assert replayed.status_code == 200 and replayed.text == ""  # dropped before the app saw it
    world.said(world.root().reply["ts"], "Level 1")
    assert [c.args["text"] for c in world.slack.of("chat.postMessage") if "thread_ts" not in c.args] == [
        f"<@{REQUESTER}> asked: oncall API Gateway"]
