"""Approval cards in Slack: approve, reject with a reason, edit; who may decide; single-use nonces;
and what happens when the card cannot be posted. Every click is a signed `block_actions` request."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlencode

import pytest
from fake_slack import APPROVER, OTHER, REQUESTER, click_body, is_card, slack_world

from agent.approvals import ApprovalRequest
from slack_app.blocks import APPROVE, EDIT, REJECT, CardRef, DialogContext, edit_dialog, edited_arguments

TRIGGER = 'trigger "Checkout down" on "API Gateway"'


@pytest.fixture
def world(sim, clock):
    with slack_world(sim, clock) as w:
        yield w


def ask(world, text=TRIGGER):
    """Send a command that needs approval; the card, once posted."""
    world.command(text)
    return world.card()


def button(card, action_id):
    return next(e for b in card.args["blocks"] if b["type"] == "actions" for e in b["elements"]
                if e["action_id"] == action_id)


def replaced(world, card):
    """The chat.update that replaced the card."""
    return world.slack.wait_call("chat.update", lambda a: a.get("ts") == card.reply["ts"])[0]


def created(world, title):
    return [i for i in world.sim.state.incidents.values() if i.title == title]


def test_card_shows_the_change_and_nothing_is_written_before_a_decision(world):
    card = ask(world)
    text = json.dumps(card.args["blocks"])
    assert "Create a HIGH-urgency incident 'Checkout down' on API Gateway" in text
    assert "*title*: Checkout down" in text and "*service*: API Gateway (P" in text  # the exact arguments, in words
    assert f"<@{REQUESTER}> (bilal.khan@acme.example)" in text and "expires" in text
    assert button(card, APPROVE)["style"] == "primary" and "confirm" in button(card, APPROVE)  # high risk
    assert button(card, REJECT)["style"] == "danger"
    assert button(card, EDIT)
    assert card.args["thread_ts"] == world.root().reply["ts"]
    assert not world.writes()


def test_approve_creates_the_incident_as_the_requester_and_replaces_the_card(world):
    card = ask(world)
    assert world.click(card, APPROVE).status_code == 200
    update = replaced(world, card)
    assert f"Approved by <@{APPROVER}>" in update.args["blocks"][0]["text"]["text"]
    assert not is_card(update.args)  # no buttons left to click
    outcome = world.said(card.args["thread_ts"], "Triggered: #")
    assert outcome.args["attachments"][0]["color"] == "#E01E5A"
    [_incident] = created(world, "Checkout down")
    [write] = world.writes()
    assert write.actor_id == world.sim.state.users_by_email["bilal.khan@acme.example"].id  # From: the requester
    decision = next(e for e in world.commander.audit() if e.action == "decision")
    assert decision.actor == "olivia.grant@acme.example"


def test_the_decided_card_ends_with_the_outcome(world):
    card = ask(world)
    world.click(card, APPROVE)
    world.said(card.args["thread_ts"], "Triggered: #")
    [_, final] = world.slack.wait_call("chat.update", lambda a: a.get("ts") == card.reply["ts"], n=2)
    shown = json.dumps(final.args["blocks"])
    assert "Done. Triggered: #" in shown and "Carrying it out" not in shown
    assert "Approved by" in shown and not is_card(final.args)


def test_the_card_header_names_no_tool(world):
    card = ask(world)
    assert card.args["blocks"][0]["text"]["text"] == "Approval needed"
    assert "create_incident" not in json.dumps(card.args["blocks"][0])


def test_reject_asks_for_a_reason_and_writes_nothing(world):
    card = ask(world)
    world.click(card, REJECT)
    dialog = world.slack.wait_call("views.open")[0].args["view"]
    assert world.submit(dialog, {"reason": "wrong service"}).status_code == 200
    update = replaced(world, card)
    assert "Rejected by" in update.args["blocks"][0]["text"]["text"] and "wrong service" in json.dumps(update.args)
    world.said(card.args["thread_ts"], "Not done")
    assert not world.writes() and not created(world, "Checkout down")


def test_edit_runs_the_changed_arguments(world):
    card = ask(world)
    world.click(card, EDIT)
    dialog = world.slack.wait_call("views.open")[0].args["view"]
    assert world.submit(dialog, {"arg:title": "Checkout fully down", "arg:service": "API Gateway"}).status_code == 200
    outcome = world.said(card.args["thread_ts"], "Checkout fully down")
    assert "Edited by olivia.grant@acme.example" in outcome.args["text"]
    decided = replaced(world, card).args["blocks"][0]["text"]["text"]
    assert "Edited and approved by" in decided
    assert "'Checkout fully down' on API Gateway" in decided and "'Checkout down'" not in decided  # what ran
    assert created(world, "Checkout fully down") and not created(world, "Checkout down")


def test_the_edit_dialog_speaks_in_words_and_puts_errors_by_their_box(world):
    card = ask(world)
    world.click(card, EDIT)
    dialog = world.slack.wait_call("views.open")[0].args["view"]
    boxes = {b["block_id"]: b for b in dialog["blocks"] if b.get("type") == "input"}
    title = boxes["arg:title"]
    assert title["label"]["text"] == "Title" and title["hint"]["text"] == "Short, specific title."

    answer = world.submit(dialog, {"arg:title": "no", "arg:service": "API Gateway"})

    errors = answer.json()["errors"]
    assert list(errors) == ["arg:title"] and "at least 3 characters" in errors["arg:title"]
    assert not world.writes()


def test_fixed_values_are_offered_as_a_menu(world):
    request = ApprovalRequest.new(thread_id="T:C:1", tool_call_id="c1", tool="update_incident",
                                  arguments={"incident": "266", "action": "acknowledge"}, summary="Acknowledge #266.",
                                  risk="medium", requester="bilal.khan@acme.example",
                                  now=datetime.now(UTC), ttl=timedelta(minutes=15))
    dialog = edit_dialog(DialogContext(CardRef("T:C:1", request.id, request.nonce), "C", "1"), request,
                         world.commander.argument_help("update_incident"))
    action = next(b for b in dialog["blocks"] if b.get("block_id") == "arg:action")
    assert action["label"]["text"] == "Action" and action["element"]["type"] == "static_select"
    assert "set urgency" in [o["text"]["text"] for o in action["element"]["options"]]
    assert action["element"]["initial_option"]["value"] == "acknowledge"
    state = {"arg:action": {"value": {"selected_option": {"value": "resolve"}}},
             "arg:incident": {"value": {"value": "266"}}}
    assert edited_arguments(request, state) == ({"incident": "266", "action": "resolve"}, {})


def test_someone_not_on_the_approvers_list_is_refused(world):
    card = ask(world)
    world.click(card, APPROVE, user=OTHER)
    world.told(OTHER, "not one of the approvers")
    assert not world.slack.of("chat.update") and not world.writes()
    assert [r.tool for r in world.commander.pending(card_thread(world, card))] == ["create_incident"]


def test_members_of_the_approver_group_may_approve(sim, clock):
    with slack_world(sim, clock, approvers=(), approver_group="S0ONCALL") as world:
        world.slack.groups["S0ONCALL"] = [OTHER]
        card = ask(world)
        world.click(card, APPROVE, user=OTHER)
        world.said(card.args["thread_ts"], "Triggered: #")
        assert created(world, "Checkout down")


def test_two_person_rule_stops_self_approval(sim, clock):
    with slack_world(sim, clock, approvers=(REQUESTER, APPROVER), two_person_rule=True) as world:
        card = ask(world)
        world.click(card, APPROVE, user=REQUESTER)
        world.told(REQUESTER, "two-person rule")
        assert not world.writes()
        world.click(card, APPROVE, user=APPROVER)
        world.said(card.args["thread_ts"], "Triggered: #")
        assert len(created(world, "Checkout down")) == 1


def test_an_expired_approval_cannot_be_approved(world):
    card = ask(world)
    world.clock.advance(16 * 60)
    world.click(card, APPROVE)
    world.told(APPROVER, "expired")
    assert not world.writes() and not world.slack.of("chat.update")


def test_a_reused_nonce_decides_nothing(world):
    card = ask(world)
    world.click(card, APPROVE)
    world.said(card.args["thread_ts"], "Triggered: #")
    world.click(card, APPROVE)  # the same click again, later
    world.told(APPROVER, "already decided")
    assert len(world.writes()) == 1


def test_a_card_with_another_nonce_is_refused(world):
    card = ask(world)
    body = parse_qs(click_body(world.slack, card, APPROVE, user=APPROVER))["payload"][0]
    payload = json.loads(body)
    value = json.loads(payload["actions"][0]["value"]) | {"nonce": "from-an-older-card"}
    payload["actions"][0]["value"] = json.dumps(value)
    world.click(card, APPROVE, body=urlencode({"payload": json.dumps(payload)}))
    world.told(APPROVER, "nonce does not match")
    assert not world.writes()


def test_a_double_click_writes_once(world):
    card = ask(world)
    clicks = [threading.Thread(target=world.click, args=(card, APPROVE)) for _ in range(2)]
    for click in clicks:
        click.start()
    for click in clicks:
        click.join()
    world.said(card.args["thread_ts"], "Triggered: #")
    world.told(APPROVER, "already decided")
    assert len(world.writes()) == 1 and len(created(world, "Checkout down")) == 1


def test_a_card_slack_refuses_is_withdrawn_and_nothing_is_written(world):
    world.slack.fail("chat.postMessage", "not_in_channel", when=is_card)
    world.command(TRIGGER)
    thread_ts = world.root().reply["ts"]
    note = world.said(thread_ts, "could not post the approval card")
    assert "not_in_channel" in note.args["text"] and "Nothing was changed" in note.args["text"]
    world.said(thread_ts, "Not done")
    thread_id = world.commander.threads()[0].thread_id
    assert not world.commander.pending(thread_id)
    assert not world.writes()


def card_thread(world, card):
    return json.loads(button(card, APPROVE)["value"])["thread_id"]


@pytest.mark.parametrize("nonce", [None, ""], ids=["null", "empty"])
def test_a_card_without_a_nonce_decides_nothing(world, nonce):
    card = ask(world)
    payload = json.loads(parse_qs(click_body(world.slack, card, APPROVE, user=APPROVER))["payload"][0])
    payload["actions"][0]["value"] = json.dumps(json.loads(payload["actions"][0]["value"]) | {"nonce": nonce})
    world.click(card, APPROVE, body=urlencode({"payload": json.dumps(payload)}))
    world.told(APPROVER, "does not belong to a valid approval card")
    assert not world.writes() and len(world.commander.pending(json.loads(button(card, APPROVE)["value"])
                                                              ["thread_id"])) == 1


def test_an_edit_submission_without_input_boxes_is_refused_in_words(world):
    card = ask(world)
    world.click(card, EDIT)
    dialog = world.slack.wait_call("views.open")[0].args["view"]
    emptied = {**dialog, "blocks": [b for b in dialog["blocks"] if b.get("type") != "input"]}
    assert world.submit(emptied, {}).status_code == 200
    world.told(APPROVER, "had no arguments to read")
    assert not world.writes()
