"""Each write tool's precondition: a change that cannot run as shown is answered before anyone is asked,
one already in place is answered with what is there, and only a change that would run gets a card."""

from __future__ import annotations

import json

import pytest
from commanders import writes
from langgraph.checkpoint.memory import InMemorySaver
from test_toolkit import incident

from agent.commander import Commander
from agent.planners.command import CommandModel
from agent.settings import Settings
from tools.settings import PagerDutySettings

ME = "bilal.khan@acme.example"


def refusal(toolkit, name: str, args: dict, requester: str = ME) -> str:
    check = toolkit.precheck(name, args, requester=requester)
    assert check.outcome == "refused", f"{name} {args} should be refused, not {check.outcome}"
    return check.text


def settled(toolkit, name: str, args: dict) -> dict:
    check = toolkit.precheck(name, args, requester=ME)
    assert check.outcome == "settled", f"{name} {args} should be answered as already done"
    return json.loads(check.text)


def runs(toolkit, name: str, args: dict) -> bool:
    return toolkit.precheck(name, args, requester=ME).outcome == "runs"


def test_a_change_that_would_run_passes(toolkit, sim):
    assert runs(toolkit, "update_incident", {"incident": "266", "action": "acknowledge"})
    assert runs(toolkit, "create_incident", {"service": "Checkout", "title": "Checkout down"})
    assert writes(sim) == []


# --- create_incident -----------------------------------------------------------------------------

def test_create_incident_for_an_alert_already_open_answers_with_that_incident(toolkit, client, sim):
    toolkit.tools[[t.name for t in toolkit.tools].index("create_incident")].invoke(
        {"name": "create_incident", "id": "c1", "type": "tool_call",
         "args": {"service": "Checkout", "title": "Checkout down"}})
    before = len(writes(sim))

    answer = settled(toolkit, "create_incident", {"service": "Checkout", "title": "  checkout   DOWN "})

    assert answer["title"] == "Checkout down" and answer["html_url"].startswith("https://")
    assert "nobody was paged again" in answer["unchanged"]
    assert len(writes(sim)) == before


def test_create_incident_with_an_unknown_assignee_is_refused(toolkit):
    assert "No user matches 'Zed Quinn'" in refusal(toolkit, "create_incident", {
        "service": "Checkout", "title": "Checkout down", "assignee": "Zed Quinn"})


# --- update_incident -----------------------------------------------------------------------------

def test_update_incident_on_a_missing_incident_is_refused(toolkit):
    refused = refusal(toolkit, "update_incident", {"incident": "9999", "action": "acknowledge"})
    assert "Incident 9999 not found" in refused


@pytest.mark.parametrize(("number", "action", "why"), [
    (26, "resolve", "it is already resolved"),
    (265, "acknowledge", "it is already acknowledged"),
    (266, "reopen", "it is still open (triggered)"),
])
def test_update_incident_already_in_the_target_state_is_answered(toolkit, number, action, why):
    answer = settled(toolkit, "update_incident", {"incident": str(number), "action": action})
    assert answer["number"] == number and answer["unchanged"] == f"{why}; nothing was changed"


def test_update_incident_on_a_resolved_incident_is_refused(toolkit):
    assert "incident #26 is already resolved" in refusal(toolkit, "update_incident",
                                                          {"incident": "26", "action": "escalate"})


def test_escalating_past_the_last_level_is_refused(toolkit, client, sim):
    assert "has 2 level(s), so there is no level 3 to escalate to" in refusal(
        toolkit, "update_incident", {"incident": "270", "action": "escalate", "escalation_level": 3})
    client.put(f"/incidents/{incident(sim, 270).id}",
               {"incident": {"type": "incident_reference", "escalation_level": 2}})

    text = refusal(toolkit, "update_incident", {"incident": "270", "action": "escalate"})

    assert "there is no level 3 to escalate to" in text
    assert runs(toolkit, "update_incident", {"incident": "266", "action": "escalate"})


def test_setting_the_urgency_it_already_has_is_answered(toolkit, sim):
    urgency = incident(sim, 266).urgency
    assert "already" in settled(toolkit, "update_incident",
                                {"incident": "266", "action": "set_urgency", "urgency": urgency})["unchanged"]


# --- the other incident writes -------------------------------------------------------------------

def test_manage_incidents_refuses_missing_ones_and_answers_when_all_are_done(toolkit):
    assert "Incident 9999 not found" in refusal(toolkit, "manage_incidents",
                                                {"incidents": ["266", "9999"], "action": "resolve"})
    assert "#26 already resolved" in refusal(toolkit, "manage_incidents",
                                             {"incidents": ["26", "266"], "action": "acknowledge"})
    assert "already resolved" in settled(toolkit, "manage_incidents",
                                         {"incidents": ["26", "25"], "action": "resolve"})["unchanged"]


def test_add_note_to_a_missing_incident_is_refused(toolkit):
    assert "not found" in refusal(toolkit, "add_note", {"incident": "9999", "content": "hi"})


def test_add_responders_to_a_resolved_incident_is_refused(toolkit):
    assert "resolved; nobody can be asked to join it" in refusal(
        toolkit, "add_responders", {"incident": "26", "responders": ["Chen Wei"]})


def test_snoozing_an_unacknowledged_incident_is_refused(toolkit):
    text = refusal(toolkit, "snooze_incident", {"incident": "266", "duration": "1h"})
    assert "only an acknowledged incident can be snoozed" in text
    assert runs(toolkit, "snooze_incident", {"incident": "265", "duration": "1h"})


def test_merging_into_itself_or_into_a_resolved_incident_is_refused(toolkit):
    assert "both the target and a source" in refusal(toolkit, "merge_incidents", {"target": "266", "sources": ["266"]})
    assert "#26 is resolved; nothing can be merged into it" in refusal(
        toolkit, "merge_incidents", {"target": "26", "sources": ["266"]})


# --- schedules and events ------------------------------------------------------------------------

def test_an_override_with_an_unreadable_or_past_time_is_refused(toolkit):
    assert "could not create the override" in refusal(toolkit, "create_override", {
        "schedule": "Platform Primary", "user": "Chen Wei", "end": "when the moon is full"})
    assert "which has already passed" in refusal(toolkit, "create_override", {
        "schedule": "Platform Primary", "user": "Chen Wei", "start": "2020-01-01T00:00:00Z",
        "end": "2020-01-01T08:00:00Z"})


def test_deleting_an_override_that_is_not_there_is_refused(toolkit):
    assert "has no current or coming override PNOPE" in refusal(
        toolkit, "delete_override", {"schedule": "Platform Primary", "override_id": "PNOPE"})


def test_an_event_for_a_service_without_events_integration_is_refused(toolkit):
    assert "No service matches" in refusal(toolkit, "send_event", {
        "service": "No Such Service", "summary": "x", "source": "y"})
    assert "No service matches" in refusal(toolkit, "send_change_event", {"service": "No Such Service",
                                                                          "summary": "deploy"})


# --- who asks ------------------------------------------------------------------------------------

def test_a_requester_without_a_pagerduty_user_is_refused_before_anyone_is_asked(toolkit):
    text = refusal(toolkit, "update_incident", {"incident": "266", "action": "acknowledge"}, requester="root")
    assert "root has no PagerDuty user" in text


# --- through the graph: nobody is asked ----------------------------------------------------------

@pytest.fixture
def commander(sim, clock):
    with Commander.from_settings(Settings(checkpoint_db=":memory:", requester=ME), model=CommandModel(),
                                 transport=sim.transport(), checkpointer=InMemorySaver(), clock=clock,
                                 pagerduty_settings=PagerDutySettings(api_key=None)) as built:
        yield built


@pytest.mark.parametrize(("text", "expected"), [
    ("ack 9999", "Incident 9999 not found"),
    ("escalate 270 level 3", "has 2 level(s), so there is no level 3"),
    ('override "Platform Primary" with Chen Wei from 2020-01-01T00:00:00Z until 2020-01-01T08:00:00Z',
     "already passed"),
])
def test_changes_that_cannot_run_get_no_approval_card(commander, sim, text, expected):
    turn = commander.send("t1", text)
    assert (turn.status, turn.pending) == ("answered", []) and expected in turn.text
    assert writes(sim) == []
    assert [e.action for e in commander.audit("t1")] == ["message", "refused"]


def test_a_change_already_in_place_is_answered_without_a_card(commander, sim):
    turn = commander.send("t1", "resolve 26")
    assert (turn.status, turn.pending) == ("answered", []) and "it is already resolved" in turn.text
    assert writes(sim) == [] and "approval_requested" not in [e.action for e in commander.audit("t1")]


def test_a_slack_user_without_a_pagerduty_user_gets_no_card(commander, sim):
    turn = commander.send("t1", "ack 266", "someone@elsewhere.example")
    assert turn.pending == [] and "someone@elsewhere.example has no PagerDuty user" in turn.text
    assert writes(sim) == []


# --- what the card says ------------------------------------------------------------------------

def test_an_escalation_card_says_who_it_will_wake(toolkit):
    sentence = toolkit.describe("update_incident", {"incident": "268", "action": "escalate"})
    assert sentence.startswith("Escalate incident #268") and "to level 2, paging Chen Wei." in sentence


def test_an_override_card_says_who_it_replaces(toolkit):
    sentence = toolkit.describe("create_override", {"schedule": "Platform Primary", "user": "Mei Lin",
                                                    "start": "2026-11-20T12:00:00Z", "end": "+8h"})
    assert sentence.endswith(", instead of Bilal Khan.")
