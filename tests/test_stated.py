"""Optional arguments nobody stated are left out (`agent.stated`): what small models fill in from nowhere."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

from agent.stated import unstated

ASKER = "dana.whitfield@acme.example"
KNOWN = {  # what the directory knows, by what a model may write
    "dana.whitfield@acme.example": {"pdana01", "dana whitfield", ASKER},
    "PPAY001": {"ppay001", "payments api"},
    "PPRI001": {"ppri001", "priya sharma", "priya.sharma@acme.example"},
}


def aliases(kind: str, ref: str) -> set[str]:
    return KNOWN.get(ref, set())


def left_out(tool: str, args: dict[str, Any], *said: str, results: tuple[str, ...] = ()) -> dict[str, Any]:
    messages: list[Any] = [HumanMessage(text) for text in said]
    for n, text in enumerate(results):
        messages += [AIMessage("", tool_calls=[{"name": "who_is_on_call", "args": {}, "id": f"c{n}"}]),
                     ToolMessage(text, tool_call_id=f"c{n}", name="who_is_on_call")]
    return unstated(tool, args, messages, aliases, ASKER)


def test_the_person_asking_is_not_made_the_assignee_of_a_page_for_whoever_is_on_call():
    args = {"service": "API Gateway", "title": "5xx above 3%", "assignee": ASKER, "priority": "P1"}
    dropped = left_out("create_incident", args, "API Gateway 5xx above 3%. Page whoever is on call.")
    assert dropped == {"assignee": ASKER, "priority": "P1"}


@pytest.mark.parametrize("request_text", ["Open one on API Gateway and assign it to me.", "I'll take it: open one."])
def test_the_person_asking_is_stated_when_they_speak_of_themselves(request_text):
    assert left_out("create_incident", {"service": "API Gateway", "title": "t", "assignee": ASKER},
                    request_text) == {}


def test_a_priority_or_assignee_the_person_named_is_kept():
    args = {"service": "Checkout", "title": "t", "priority": "P1", "assignee": "Chen Wei"}
    assert left_out("create_incident", args, "Checkout is down. Open a P1 for Chen Wei.") == {}


def test_an_id_is_stated_by_its_name_and_an_email_by_its_owners_first_name():
    assert left_out("who_is_on_call", {"service": "PPAY001"}, "who is on call for payments api?") == {}
    assert left_out("create_incident", {"service": "Data", "title": "t", "assignee": "PPRI001"},
                    "Open an incident on Data for Priya.") == {}


def test_a_value_a_lookup_returned_is_stated():
    on_call = '{"oncalls": [{"user": "Bilal Khan (PB00001)", "level": 1}]}'
    assert left_out("create_incident", {"service": "API Gateway", "title": "t", "assignee": "PB00001"},
                    "page whoever is on call for API Gateway", results=(on_call,)) == {}


def test_a_status_filter_needs_the_persons_words_not_the_results():
    statuses = ["triggered", "acknowledged", "resolved"]
    assert left_out("list_incidents", {"statuses": statuses, "assigned_to": ASKER}, "What's on my plate?",
                    results=('{"status": "resolved"}',)) == {"statuses": statuses}
    assert left_out("list_incidents", {"statuses": ["resolved"]}, "what was resolved last week?") == {}


def test_required_arguments_and_unknown_tools_are_left_to_their_own_errors():
    assert left_out("create_override", {"schedule": "Nowhere", "user": "Nobody", "end": "+8h"}, "cover me") == {}
    assert left_out("no_such_tool", {"service": "Nowhere"}, "hello") == {}


def test_an_events_service_is_its_target_and_never_left_out():
    assert left_out("send_change_event", {"service": "API Gateway", "summary": "Deployed v2"}, "do it") == {}


def test_a_priority_a_lookup_listed_is_not_stated_by_it():
    priorities = '{"priorities": [{"name": "P1"}, {"name": "P2"}]}'
    assert left_out("create_incident", {"service": "Database", "title": "t", "priority": "P1"},
                    "Page the on-call for Database, loads are failing.", results=(priorities,)) == {"priority": "P1"}
