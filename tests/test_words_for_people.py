"""What people read about a change is written for people on every surface: approval arguments with names
(ids only in brackets), labels in words, times in the person's zone with UTC beside them, and how to
finish a stopped run said in the surface's own terms.
"""

from __future__ import annotations

import json
import re

import pytest
from commanders import open_incident
from fake_slack import is_card, slack_world
from test_cli import TRIGGER, run

from agent.commander import Commander
from agent.planners.answers import describe
from agent.settings import Settings
from agent.wiring import Wiring
from agent.wording import arguments_for_people, in_zone
from command_line import cli, render
from notebook_chat.card import card_html
from tools.registry import TOOLS
from tools.settings import PagerDutySettings

BARE_ID = re.compile(r"(?<![(\w])P[A-Z0-9]{6}(?![\w)])")  # a PagerDuty id not in brackets
ISO_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d")  # a machine's time, not a person's
TOOL_NAME = re.compile(r"\b(?:" + "|".join(TOOLS) + r")\b")
OVERRIDE = 'override "Platform Primary" with Chen Wei from tomorrow 09:00 until tomorrow 17:00'


def model_facing(text: str) -> list[str]:
    """What a person should never read: bare ids, tool names, raw argument dumps, guidance for a planner."""
    found = BARE_ID.findall(text) + TOOL_NAME.findall(text) + ISO_TIME.findall(text)
    found += [s for s in ('{"', '":', "=", "Call find_", "Next:", "tell the user") if s in text]
    return found


def commander(sim, clock, **settings) -> Commander:
    wiring = Wiring.from_settings(Settings(checkpoint_db=":memory:", requester="dana", openai_api_key=None,
                                           **settings), transport=sim.transport(), clock=clock,
                                  pagerduty_settings=PagerDutySettings(api_key=None))
    return Commander.from_settings(wiring=wiring)


@pytest.mark.parametrize("text", [TRIGGER, "ack {n}", "escalate {n}", "reassign {n} to Chen Wei",
                                  "responders {n} add Chen Wei", OVERRIDE])
def test_approval_arguments_name_things_with_their_ids_in_brackets(sim, clock, text):
    with commander(sim, clock) as ic:
        [request] = ic.send("t", text.format(n=open_incident(sim).number)).pending
    shown = arguments_for_people(request)
    line = render.arguments_line(request)
    assert not model_facing(line), line
    assert all("_" not in label for label, _ in shown)
    named = {value for _, value in shown if "(" in value}
    assert named, f"nothing was named: {shown}"


def test_the_command_line_shows_names_and_the_zone_in_pending_approvals(env):
    result = run(env | {"IC_TIME_ZONE": "Europe/Berlin"}, "ask", TRIGGER, "--thread", "t1")
    assert result.exit_code == cli.EXIT_WAITING_FOR_APPROVAL
    block = result.stdout
    assert "service: API Gateway (P" in block and not BARE_ID.findall(block.split("approve")[0])
    # UTC beside the local time, with its date when that is another day (the expiry crosses midnight)
    assert re.search(r"expires \d{4}-\d\d-\d\d \d\d:\d\d CET \((?:\d{4}-\d\d-\d\d )?\d\d:\d\d UTC\)", block)


def test_an_override_is_proposed_in_the_requesters_zone_with_utc_beside_it(sim, clock):
    with commander(sim, clock, time_zone="America/New_York") as ic:
        [request] = ic.send("t", OVERRIDE).pending
    assert re.search(r"from 2026-11-21 09:00 EST \(14:00 UTC\) to 17:00 EST \(22:00 UTC\)", request.summary), \
        request.summary


def test_the_notebook_card_names_things_and_says_the_zone(sim, clock):
    with commander(sim, clock, time_zone="Asia/Tokyo") as ic:
        [request] = ic.send("t", TRIGGER).pending
    with in_zone("Asia/Tokyo"):
        html = card_html(request, "Approve with `chat.approve()`.")
    assert "API Gateway (P" in html and "JST" in html and "UTC" in html
    assert not BARE_ID.findall(re.sub(r"<[^>]+>", " ", html).split("Requested by")[0])


def test_the_slack_card_shows_arguments_in_words(sim, clock):
    with slack_world(sim, clock) as world:
        world.command(TRIGGER)
        card = world.card()
        texts = [b["text"]["text"] for b in card.args["blocks"] if b.get("type") == "section"]
        assert is_card(card.args)
        assert any("*service*: API Gateway (P" in t for t in texts)
        assert not any("```" in t or TOOL_NAME.search(t) for t in texts)


def test_a_reply_in_a_private_conversations_card_thread_continues_it(sim, clock):
    with slack_world(sim, clock) as world:
        world.command(TRIGGER)
        card = world.card()
        root_ts = card.args["thread_ts"]
        world.reply_in_thread(root_ts, "incidents mine")
        world.said(root_ts, "is waiting for decisions first")  # the same conversation, held by its card


def test_a_stopped_run_in_slack_says_to_reply_resume_and_the_reply_finishes_it(sim, clock):
    with slack_world(sim, clock) as world:
        world.command(TRIGGER)
        card = world.card()
        root_ts = card.args["thread_ts"]
        sim.add_fault(method="POST", path="/incidents", status=503)
        world.click(card, "ic_approve")
        told = world.said(root_ts, "Reply `resume` in this thread")
        assert "incident-commander" not in told.args["text"]
        sim.faults.clear()
        world.reply_in_thread(root_ts, "resume")
        world.said(root_ts, "Triggered: #")
        assert len([i for i in sim.state.incidents.values() if i.title == "Checkout errors"]) == 1


def test_a_stopped_run_on_the_command_line_says_the_command_that_finishes_it(served):
    sim, env = served
    assert run(env, "ask", TRIGGER, "--thread", "t1").exit_code == cli.EXIT_WAITING_FOR_APPROVAL
    [request] = json.loads(run(env, "pending", "--json").stdout)
    sim.add_fault(method="POST", path="/incidents", status=503)
    failed = run(env, "approve", "t1", request["id"])
    assert failed.exit_code == cli.EXIT_ACTION_FAILED
    assert "To finish it: incident-commander resume t1" in failed.stderr
    sim.faults.clear()
    assert run(env, "resume", "t1").exit_code == cli.EXIT_OK


def test_answers_say_moments_and_who_acted_in_sentences_not_fields():
    on_call = describe({"at": "2026-11-20T12:00:00Z", "oncalls": []})
    acked = describe({"acknowledged_by": [{"user": "Olivia Grant", "at": "2026-09-11T22:53:00Z",
                                           "minutes_after_trigger": 21}]})
    assert on_call.startswith("As of 2026-11-20 12:00 UTC:")
    assert "Olivia Grant at 2026-09-11 22:53 UTC (21 min after the trigger)" in acked
    assert "user:" not in acked and "at:" not in acked
