"""Block Kit layouts stay inside what Slack accepts: chat.postMessage refuses the whole message otherwise."""

import json

from slack_app.blocks import MAX_POLICY_SECTIONS, answer_message

SLACK_MAX_BLOCKS = 50
SLACK_MAX_SECTION_TEXT = 3000


def oncalls(policies: int) -> str:
    return json.dumps({"oncalls": [{"level": 1, "user": {"summary": f"User {i}"},
                                    "escalation_policy": {"summary": f"Policy {i}"}} for i in range(policies)]})


def test_an_account_with_many_policies_still_gets_its_on_call_answer_posted():
    message = answer_message("Who is on call:\nlots", [oncalls(60)])
    assert len(message["blocks"]) <= SLACK_MAX_BLOCKS
    sections = [b for b in message["blocks"] if b["type"] == "section"]
    assert len(sections) == 1 + MAX_POLICY_SECTIONS
    assert f"Showing {MAX_POLICY_SECTIONS} of 60 escalation policies" in json.dumps(message["blocks"])


def test_every_section_has_text_even_when_the_answer_starts_with_a_blank_line():
    incident = {"id": "P1", "number": 12, "title": "Checkout 500s", "status": "triggered"}
    message = answer_message("\n\nIncidents:", [json.dumps({"incidents": [incident]})])
    texts = [b["text"]["text"] for b in message["blocks"] if b["type"] == "section"]
    assert texts[0] == "Incidents:"
    assert all(0 < len(t) <= SLACK_MAX_SECTION_TEXT for t in texts)
    assert len(message["attachments"]) == 1
