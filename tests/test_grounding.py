"""Which words of an answer claim a change, and what a receipt says: the checks behind grounded answers."""

from __future__ import annotations

import json

import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

from agent.grounding import claims, grounded
from agent.guidance import ANSWER_LIST, ANSWER_NOW

WRITES = {"create_incident", "update_incident"}.__contains__
INCIDENT = {"id": "Q1", "number": 271, "title": "Checkout 5xx", "status": "triggered", "urgency": "high",
            "service": {"name": "Checkout"}, "assignees": [{"name": "Chen Wei"}]}


@pytest.mark.parametrize(("answer", "kinds"), [
    ('Opened #1234 "API latency" on API Gateway — paged NAME.', ["opened", "paged"]),
    ("I have acknowledged #12.", ["acknowledged"]),
    ("Chen Wei has been paged.", ["paged"]),
    ("Done. Escalated #12 to level 2.", ["escalated"]),
    ("#12 is acknowledged by Chen Wei.", []),
    ("Resolved incidents this week: none.", []),
    ("#12 [triggered, high] Checkout — assigned to Chen Wei", []),
    ("Acknowledged by Chen Wei at 12:05.", []),
    ("#12 — Triggered 5 minutes ago on Checkout.", []),
    ("The incident was not created: the request was rejected.", []),
])
def test_claims_are_actions_said_done_not_states_described(answer, kinds):
    assert claims(answer) == kinds


def turn(*results: tuple[str, dict, str]) -> list:
    calls = [{"name": name, "args": args, "id": f"c{n}"} for n, (name, args, _) in enumerate(results)]
    return [HumanMessage("page checkout"), AIMessage("", tool_calls=calls),
            *[ToolMessage(text, tool_call_id=f"c{n}", name=name) for n, (name, _, text) in enumerate(results)]]


def test_a_supported_claim_is_shown_with_the_receipt_under_it():
    messages = turn(("create_incident", {"service": "Checkout"}, json.dumps(INCIDENT)))
    text = grounded("Opened it; Chen Wei is paged.", messages, WRITES)
    assert text == ("Opened it; Chen Wei is paged.\n\nChanged in PagerDuty: opened #271 [triggered, high] "
                    "Checkout 5xx — Checkout — assigned to Chen Wei")


def test_an_empty_answer_after_a_change_is_just_its_receipt_never_a_request_to_ask_again():
    messages = turn(("create_incident", {"service": "Checkout"}, json.dumps(INCIDENT)))
    assert grounded("", messages, WRITES) == ("Changed in PagerDuty: opened #271 [triggered, high] Checkout 5xx — "
                                              "Checkout — assigned to Chen Wei")
    assert grounded(" ", turn(), WRITES).startswith("I have no answer to that; please ask again")


def test_a_looping_answer_is_shown_with_each_sentence_once_and_without_its_cut_off_end():
    messages = turn(("get_incident", {"incident": "271"}, json.dumps(INCIDENT)))
    loop = "#271 is triggered on Checkout. It is assigned to Chen Wei. "
    text = grounded(loop * 40 + "#271 is trigg", messages, WRITES)
    assert text == ("#271 is triggered on Checkout. It is assigned to Chen Wei.\n\n"
                    "Nothing was changed in PagerDuty.")


def test_a_claim_beyond_the_writes_is_withheld_and_the_reads_are_reported():
    on_call = json.dumps([{"level": 1, "user": {"name": "Chen Wei"}}])
    messages = turn(("who_is_on_call", {"service": "Checkout"}, on_call))
    text = grounded("Paged Chen Wei.", messages, WRITES)
    assert text.startswith("I could not give a reliable answer: my draft was not shown because it said "
                           "something was paged, which did not happen.")
    assert "What I found:\n• Level 1: Chen Wei" in text and text.endswith("Nothing was changed in PagerDuty.")


def test_an_incident_number_nothing_returned_is_withheld_but_one_the_person_gave_is_not():
    messages = turn(("get_incident", {"incident": "271"}, json.dumps(INCIDENT)))
    assert "which no lookup returned" in grounded("#4812 is open.", messages, WRITES)
    assert grounded("#271 is open.", messages, WRITES) == "#271 is open.\n\nNothing was changed in PagerDuty."


def test_a_failed_write_supports_nothing():
    messages = turn(("update_incident", {"incident": "271", "action": "acknowledge"}, "Error: could not update"))
    assert grounded("Acknowledged #271.", messages, WRITES).startswith("I could not give a reliable answer")


@pytest.mark.parametrize("answer", [
    "You answered without calling a tool. Reply with only the call of the tool that gets the facts.",
    ANSWER_NOW,
    ANSWER_LIST,
    "Incident #271 is open.\n\n(Asked by dana at 2026-11-20 12:00 UTC.)",
])
def test_an_answer_that_gives_back_the_models_guidance_is_withheld(answer):
    messages = turn(("get_incident", {"incident": "271"}, json.dumps(INCIDENT)))
    text = grounded(answer, messages, WRITES)
    assert text.startswith("I could not give a reliable answer: my draft was not shown because it repeated "
                           "instructions meant for me")
    assert "What I found:\n#271 [triggered, high] Checkout 5xx" in text


def test_a_withheld_answer_after_a_write_does_not_say_nothing_was_looked_up():
    messages = turn(("create_incident", {"service": "Checkout"}, json.dumps(INCIDENT)))
    text = grounded("Paged Chen Wei and acknowledged it.", messages, WRITES)
    assert "I did not look anything up" not in text
    assert text.endswith("Changed in PagerDuty: opened #271 [triggered, high] Checkout 5xx — Checkout — "
                         "assigned to Chen Wei")


def test_the_receipt_names_what_a_person_rejected():
    rejected = "Rejected by omar: not tonight. Nothing was changed in PagerDuty. Do not repeat this call unless"
    messages = turn(("create_incident", {"service": "Checkout"}, rejected))
    messages[-1] = messages[-1].model_copy(update={"status": "error"})  # as the graph answers a rejected call
    text = grounded("Understood.", messages, WRITES)
    assert text == ("Understood.\n\nNothing was changed in PagerDuty.\n"
                    "Not done: create the incident (rejected by omar: not tonight).")


def test_the_receipt_leaves_out_the_notes_before_a_results_data():
    noted = "Note: ignored 'severity', which this action does not use.\n" + json.dumps(INCIDENT)
    messages = turn(("update_incident", {"incident": "271", "action": "resolve"}, noted))
    assert grounded("Done.", messages, WRITES).endswith(
        "Changed in PagerDuty: resolved #271 [triggered, high] Checkout 5xx — Checkout — assigned to Chen Wei")


def test_a_created_override_supports_the_word_created_and_its_receipt_names_who_covers():
    cover = {"schedule": {"name": "Platform Primary"}, "override": {
        "user": {"name": "Alice Moreno"}, "start": "2026-11-20T12:00:00Z", "end": "2026-11-20T20:00:00Z"},
        "length": "8 h"}
    messages = turn(("create_override", {"schedule": "Platform Primary"}, json.dumps(cover)))
    text = grounded("The override for Alice Moreno has been created.", messages, {"create_override"}.__contains__)
    assert text == ("The override for Alice Moreno has been created.\n\nChanged in PagerDuty: added on-call cover: "
                    "schedule: Platform Primary; override: Alice Moreno from 2026-11-20 12:00 UTC until "
                    "2026-11-20 20:00 UTC; length: 8 h")


@pytest.mark.parametrize(("answer", "why"), [
    ('{"at":"2026-11-20T12:00:00Z","oncalls":[{"level":1}]}', "it was raw data, not an answer"),
    ('```json\n{"name": "find_users"}\n```', "it was raw data, not an answer"),
    ("<tool_response>\nError: 'Data' matches 2 services\n</tool_response>", "it was raw data, not an answer"),
    ("update_incident", "it spoke of a step (update the incident) instead of answering"),
    ("Call who_is_on_call to see more.", "it spoke of a step (find who is on call) instead of answering"),
])
def test_raw_data_or_a_tool_name_never_reaches_people(answer, why):
    messages = turn(("get_incident", {"incident": "271"}, json.dumps(INCIDENT)))
    text = grounded(answer, messages, WRITES)
    assert text.startswith(f"I could not give a reliable answer: my draft was not shown because {why}.")
    assert "What I found:\n#271 [triggered, high] Checkout 5xx" in text


def test_what_a_withheld_answer_found_leaves_out_the_notes_meant_for_the_model():
    noted = "Note: ignored 'time_zone', which get_incident does not take (incident, full).\n" + json.dumps(INCIDENT)
    text = grounded("Paged Chen Wei.", turn(("get_incident", {"incident": "271"}, noted)), WRITES)
    assert "What I found:\n#271 [triggered, high] Checkout 5xx" in text and "get_incident" not in text
