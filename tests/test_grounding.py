"""Which words of an answer claim a change, and what a receipt says: the checks behind grounded answers."""

from __future__ import annotations

import json

import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

from agent.grounding import claims, grounded

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
