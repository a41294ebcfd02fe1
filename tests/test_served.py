"""What a served model reads: tool results as short lines, things by their ids and references by name,
each ending with what to do next."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage

from agent.guidance import ANSWER_LIST, ANSWER_NOW, MAKE_THE_CHANGE
from agent.served import in_lines, served

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
INCIDENT = {"id": "PINC266", "number": 266, "title": "API Gateway rate limiter rejecting 10% of requests",
            "status": "acknowledged", "urgency": "high", "priority": None,
            "service": {"id": "PSVC0AG", "name": "API Gateway"},
            "assignees": [{"id": "PUSR0BK", "name": "Bilal Khan", "email": "bilal.khan@acme.example"}],
            "created_at": "2026-11-20T09:37:16Z", "snoozed_until": "2026-11-21T08:00:00Z",
            "acknowledged_by": [{"name": "Bilal Khan", "at": "2026-11-20T12:00:00Z"}],
            "alerts": {"all": 1, "triggered": 1}, "escalated": False, "notes": []}


def test_a_result_reads_as_lines_things_by_id_and_references_by_the_names_tools_take():
    assert in_lines(json.dumps(INCIDENT), "2026-11-20").splitlines() == [
        "id: PINC266",
        "number: 266",
        "title: API Gateway rate limiter rejecting 10% of requests",
        "status: acknowledged",
        "urgency: high",
        "service: API Gateway",
        "assignees: Bilal Khan <bilal.khan@acme.example>",
        "created_at: today 09:37 UTC",
        "snoozed_until: 2026-11-21 08:00 UTC",
        "acknowledged_by:",
        "- name Bilal Khan; at today 12:00 UTC",
        "alerts: all 1; triggered 1",
        "escalated: false",
        "notes: none",
    ]


def test_a_notice_stays_first_and_text_that_is_not_json_stays_as_it_is():
    listed = {"incidents": [INCIDENT | {"number": n} for n in (1, 2)]}
    lines = in_lines("Note: ignored 'type'.\n" + json.dumps(listed), "2026-11-20").splitlines()
    assert lines[:2] == ["Note: ignored 'type'.", "incidents:"]
    assert [line[:24] for line in lines[2:]] == ["- id PINC266; number 1; ", "- id PINC266; number 2; "]
    error = "Error: no incident #9 here. Next: list the open incidents."
    assert in_lines(error, "2026-11-20") == error


def test_every_result_ends_with_the_invitation_to_answer_a_line_per_item_for_a_list_or_the_reminder():
    call = AIMessage("", tool_calls=[{"name": "get_incident", "args": {"incident": "266"}, "id": "c1"}])
    result = ToolMessage(json.dumps(INCIDENT), tool_call_id="c1")
    conversation = [HumanMessage("ack 266"), call, result]

    assert served(conversation, NOW)[-1].content.endswith(f"escalated: false\nnotes: none\n\n{ANSWER_NOW}")
    listed = result.model_copy(update={"content": json.dumps({"incidents": [INCIDENT, INCIDENT]})})
    assert served([*conversation[:2], listed], NOW)[-1].content.endswith(f"\n\n{ANSWER_LIST}")
    reminded = served([*conversation, SystemMessage(MAKE_THE_CHANGE)], NOW)
    assert len(reminded) == 3 and reminded[-1].content.endswith(f"notes: none\n\n({MAKE_THE_CHANGE})")
