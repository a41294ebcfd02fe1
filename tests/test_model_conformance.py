"""How the agent copes with what real models send: a conformance suite against the local fake
OpenAI-compatible server (real HTTP, real `ChatOpenAI`, the demo simulator), one failure mode per test.

The modes are the ones small local models showed (a tool call written as text: bare JSON, fenced JSON,
`<tool_call>` tags; arguments the tool does not take; "default" and null fillers; an answer that claims
a change it never made) and the ones any endpoint has (an unknown tool, a looping model, an empty reply,
a stall longer than the timeout, a 5xx). Each must end in a recovered call or a clear answer: never a
fabricated claim, never a crash.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from commanders import open_incident, said, writes
from fake_openai import Broken, FakeOpenAI, Stall, calls, says
from servers import running_server

from agent.commander import Commander
from agent.guidance import ANSWER_LIST, ANSWER_NOW
from agent.settings import Settings
from tools.registry import TOOLS
from tools.settings import PagerDutySettings

ON_CALL = "Bilal Khan"  # level 1 for API Gateway at the tests' fixed clock
CREATE = {"name": "create_incident", "arguments": {"service": "API Gateway", "title": "API Gateway latency"}}
LOOKUP = {"name": "who_is_on_call", "arguments": {"service": "API Gateway"}}


@pytest.fixture
def served() -> Iterator[tuple[FakeOpenAI, str]]:
    fake = FakeOpenAI([])
    with running_server(fake) as url:
        yield fake, url + "/v1"


def commander_on(url: str, sim: Any, clock: Any, **settings: Any) -> Commander:
    return Commander.from_settings(
        Settings(OPENAI_API_KEY="fake", OPENAI_BASE_URL=url, IC_MODEL="fake-gpt", checkpoint_db=":memory:",
                 requester="dana", **settings),
        transport=sim.transport(), clock=clock, pagerduty_settings=PagerDutySettings(api_key=None))


def results(request: dict[str, Any]) -> list[str]:
    """The tool results a request to the model carried, in order, each without the invitation to answer
    that ends every result a served model reads."""
    contents = [m["content"] for m in request["messages"] if m["role"] == "tool"]
    assert all(c.endswith((f"\n\n{ANSWER_NOW}", f"\n\n{ANSWER_LIST}")) for c in contents)
    return [c.removesuffix(f"\n\n{ANSWER_NOW}").removesuffix(f"\n\n{ANSWER_LIST}") for c in contents]


@pytest.mark.parametrize("text", [
    json.dumps(LOOKUP),
    f"```json\n{json.dumps(LOOKUP, indent=2)}\n```",
    f"<tool_call>\n{json.dumps(LOOKUP)}\n</tool_call>",
    f"<tools>\n{json.dumps(LOOKUP)}\n</tools>",
    f"<tool_response>\n{json.dumps(LOOKUP)}\n</tool_response>",
    json.dumps([{"type": "function", "function": {"name": "who_is_on_call",
                                                  "arguments": json.dumps({"service": "API Gateway"})}}]),
    json.dumps({"function": "who_is_on_call", "parameters": {"service": "API Gateway"}}),
], ids=["bare-json", "fenced-json", "tool-call-tags", "tools-tags", "tool-response-tags", "openai-shaped-list",
        "function-and-parameters"])
def test_a_tool_call_written_as_text_is_run_as_that_call_and_audited_as_repaired(served, sim, clock, text):
    fake, url = served
    fake.script = [says(text), says(f"{ON_CALL} is on call for API Gateway.")]
    with commander_on(url, sim, clock) as commander:
        turn = commander.send("t1", "who is on call for API Gateway?")
        audit = [(e.action, e.tool) for e in commander.audit("t1")]

    assert said(turn.text) == f"{ON_CALL} is on call for API Gateway."
    assert ON_CALL in results(fake.requests[1])[0]
    assert audit == [("message", None), ("repaired", "who_is_on_call"), ("tool_call", "who_is_on_call")]
    # The model reads its repaired step as a real call with its result, not as text it said.
    step = fake.requests[1]["messages"][-2]
    assert step["role"] == "assistant" and step["tool_calls"][0]["function"]["name"] == "who_is_on_call"


def test_a_reply_that_is_only_a_tools_name_is_called_and_its_error_says_what_it_needs(served, sim, clock):
    incident = open_incident(sim)
    fake, url = served
    fake.script = [says("update_incident"),
                   calls(("update_incident", {"incident": str(incident.number), "action": "acknowledge"})),
                   says("Waiting for approval.")]
    with commander_on(url, sim, clock) as commander:
        turn = commander.send("t1", f"ack {incident.number}")
        audit = [(e.action, e.outcome) for e in commander.audit("t1")]

    assert ("repaired", "the model wrote this call as a bare tool name") in audit
    [error] = results(fake.requests[1])
    assert error.startswith("Error: update_incident was not called because its arguments are invalid")
    assert "incident" in error and writes(sim) == [] and [r.tool for r in turn.pending] == ["update_incident"]


@pytest.mark.parametrize("text", [
    f"Let me check who is on call: {json.dumps(LOOKUP)}",
    json.dumps({"name": "page_everyone", "arguments": {}}),
    json.dumps({"name": "who_is_on_call", "arguments": "not json"}),
], ids=["prose-around-it", "unknown-tool", "arguments-not-an-object"])
def test_text_that_is_not_only_a_call_of_a_known_tool_stays_an_answer(served, sim, clock, text):
    fake, url = served
    fake.script = [says(text), says(text)]  # reminded once to look things up, it says the same again
    with commander_on(url, sim, clock) as commander:
        turn = commander.send("t1", "who is on call for API Gateway?")
        actions = [e.action for e in commander.audit("t1")]

    assert turn.status == "answered" and actions == ["message"]
    assert turn.text.endswith("Nothing was changed in PagerDuty.")


def test_a_written_write_is_repaired_into_an_approval_not_run(served, sim, clock):
    fake, url = served
    fake.script = [says(f"```json\n{json.dumps(CREATE)}\n```"), says("Opened the incident.")]
    with commander_on(url, sim, clock) as commander:
        asked = commander.send("t1", "API Gateway latency alert — page whoever is on call")
        assert asked.status == "waiting" and writes(sim) == []
        [request] = asked.pending
        done = commander.decide("t1", request.id, "approve", "omar")

    number = next(i.number for i in sim.state.incidents.values() if i.title == "API Gateway latency")
    assert said(done.text) == "Opened the incident."
    assert f"Changed in PagerDuty: opened #{number} [triggered, high] API Gateway latency — API Gateway — " \
           f"assigned to {ON_CALL}" in done.text


def test_an_unknown_tool_call_is_refused_and_the_model_told_what_exists(served, sim, clock):
    fake, url = served
    fake.script = [calls(("page_everyone", {"service": "API Gateway"})), says("I cannot page everyone.")]
    with commander_on(url, sim, clock) as commander:
        turn = commander.send("t1", "page everyone on API Gateway")

    [refusal] = results(fake.requests[1])
    assert refusal.startswith("Error: there is no tool named 'page_everyone'. Available tools:")
    assert said(turn.text) == "I cannot page everyone." and writes(sim) == []


def test_an_argument_the_tool_does_not_take_is_dropped_with_a_notice_and_the_call_runs(served, sim, clock):
    incident = next(i for i in sim.state.incidents.values() if i.status == "triggered")
    fake, url = served
    fake.script = [calls(("add_note", {"incident": incident.id, "content": "Rolled back", "type": "note"})),
                   says("Noted.")]
    with commander_on(url, sim, clock) as commander:
        turn = commander.send("t1", "note on it: rolled back")

    [result] = results(fake.requests[1])
    assert result.startswith("Note: ignored 'type', which add_note does not take (incident, content).\n")
    assert sim.state.notes_by_incident[incident.id][-1].content == "Rolled back"
    assert said(turn.text) == "Noted." and "Changed in PagerDuty: added a note to" in turn.text


def test_the_approval_card_and_the_result_say_which_arguments_were_left_out(served, sim, clock):
    fake, url = served
    fake.script = [calls(("create_incident", {**CREATE["arguments"], "severity": "sev1"})), says("Opened.")]
    with commander_on(url, sim, clock) as commander:
        [request] = commander.send("t1", "open an incident for API Gateway latency").pending
        commander.decide("t1", request.id, "approve", "omar")

    assert "severity" not in request.arguments
    assert request.summary.endswith("(Left out 'severity': not part of this change.)")
    [result] = results(fake.requests[1])
    assert result.startswith("Note: ignored 'severity', which create_incident does not take (")
    assert "title: API Gateway latency" in result.splitlines()


def test_a_resolution_given_with_an_acknowledge_is_left_out_and_the_card_says_so(served, sim, clock):
    """"Ack 266, I'm on it": the 1.5B Qwen put the person's words in `resolution`, which only a resolve takes."""
    incident = open_incident(sim)
    fake, url = served
    fake.script = [calls(("update_incident", {"incident": str(incident.number), "action": "acknowledge",
                                              "resolution": "I'm on it."})), says("Acknowledged.")]
    with commander_on(url, sim, clock) as commander:
        [request] = commander.send("t1", f"ack {incident.number}, I'm on it").pending
        commander.decide("t1", request.id, "approve", "omar")

    assert "resolution" not in request.arguments
    assert request.summary.endswith("(Left out 'resolution': not part of this change.)")
    [result] = results(fake.requests[1])
    assert result.startswith(f"Note: ignored 'resolution', which this action does not use.\nid: {incident.id}\n")
    assert sim.state.incidents[incident.id].status == "acknowledged"


def test_default_and_null_fillers_in_optional_arguments_count_as_left_out(served, sim, clock):
    fake, url = served
    fake.script = [calls(("list_incidents", {"service": "default", "team": None, "urgency": "default",
                                             "since": "Default"})),
                   says("Those are the open incidents.")]
    with commander_on(url, sim, clock) as commander:
        turn = commander.send("t1", "what is open?")

    [result] = results(fake.requests[1])
    assert not result.startswith(("Error", "Note")) and "\nincidents:\n- " in result
    assert said(turn.text) == "Those are the open incidents."


def test_a_filler_in_a_required_argument_still_gets_the_actionable_error(served, sim, clock):
    fake, url = served
    fake.script = [calls(("get_incident", {"incident": "null"})), says("I need the incident number.")]
    with commander_on(url, sim, clock) as commander:
        commander.send("t1", "show the incident")

    [result] = results(fake.requests[1])
    assert result.startswith("Error: get_incident was not called because its arguments are invalid")
    assert "placeholder" in result and "Next:" in result


def test_a_looping_model_is_stopped_with_a_plain_answer_and_its_replies_are_capped(served, sim, clock):
    fake, url = served
    fake.script = [calls(("who_is_on_call", {"service": "API Gateway"}))] * 3
    with commander_on(url, sim, clock, IC_MAX_MODEL_CALLS=3, IC_MODEL_MAX_TOKENS=300) as commander:
        turn = commander.send("t1", "who is on call for API Gateway?")

    assert turn.status == "answered" and len(fake.requests) == 3
    assert turn.text == ("Could not finish: it needed more than 3 planning steps, so I stopped.\n\n"
                         "Nothing was changed in PagerDuty.")
    assert {r["max_completion_tokens"] for r in fake.requests} == {300}


def test_an_empty_reply_becomes_a_plain_answer(served, sim, clock):
    fake, url = served
    fake.script = [says(""), says("")]
    with commander_on(url, sim, clock) as commander:
        turn = commander.send("t1", "who is on call for API Gateway?")

    assert turn.status == "answered"
    assert turn.text == ("I have no answer to that; please ask again, perhaps in other words.\n\n"
                         "Nothing was changed in PagerDuty.")


def test_a_stall_longer_than_the_timeout_fails_the_turn_resumably(served, sim, clock):
    fake, url = served
    fake.script = [Stall(1.5, says("too late"))]
    with commander_on(url, sim, clock, IC_MODEL_TIMEOUT=0.3, IC_MODEL_RETRIES=0) as commander:
        turn = commander.send("t1", "who is on call for API Gateway?")

    assert turn.status == "failed" and writes(sim) == []
    assert turn.text.startswith("Could not finish: the model endpoint did not answer in time")
    assert "resume" in turn.text and len(fake.requests) == 1


def test_a_server_error_is_retried_as_set_then_fails_the_turn_resumably(served, sim, clock):
    fake, url = served
    fake.script = [Broken(503)]
    with commander_on(url, sim, clock, IC_MODEL_RETRIES=1) as commander:
        turn = commander.send("t1", "who is on call for API Gateway?")

    assert turn.status == "failed" and len(fake.requests) == 2
    assert turn.text.startswith("Could not finish: the model endpoint answered HTTP 503")


@pytest.mark.parametrize("claim", [
    'Opened #1234 "API Gateway latency alert" on API Gateway (high urgency) — paged Bilal Khan.',
    "I have paged Bilal Khan.",
    "Bilal Khan has been paged and the incident acknowledged.",
    'Opened #NUMBER "TITLE" on SERVICE — paged NAME. LINK',
])
def test_an_answer_claiming_a_change_that_did_not_happen_is_not_shown(served, sim, clock, claim):
    fake, url = served
    fake.script = [says(claim), says(claim)]
    with commander_on(url, sim, clock) as commander:
        turn = commander.send("t1", "API Gateway latency alert — page whoever is on call")

    assert turn.status == "answered" and writes(sim) == []
    assert claim not in turn.text and "paged Bilal" not in turn.text
    assert turn.text.startswith("I could not give a reliable answer: my draft was not shown because")
    assert turn.text.endswith("Nothing was changed in PagerDuty.")


def test_an_answer_given_without_looking_anything_up_gets_one_reminder_to_look_it_up(served, sim, clock):
    fake, url = served
    fake.script = [says("Alice is on call."), calls(("who_is_on_call", {"service": "API Gateway"})),
                   says(f"{ON_CALL} is on call for API Gateway.")]
    with commander_on(url, sim, clock) as commander:
        turn = commander.send("t1", "who is on call for API Gateway?")

    assert said(turn.text) == f"{ON_CALL} is on call for API Gateway."
    reminder = fake.requests[1]["messages"][-1]
    assert reminder["role"] == "system" and reminder["content"].startswith("You answered without calling a tool.")
    # Asked in words, never forced: llama.cpp's forced call for Qwen models ran to max_tokens without a call.
    assert not any("tool_choice" in request for request in fake.requests)
    # Its draft is not read again (shown it, the 1.5B Qwen wrote it once more); the request comes right before.
    assert fake.requests[1]["messages"][-2]["role"] == "user"
    assert "Alice is on call." not in json.dumps(fake.requests[1]["messages"])


@pytest.mark.parametrize(("request_text", "named", "not_named"), [
    ("resolve #1, the deploy was rolled back", "update_incident", "who_is_on_call"),
    ("Have we seen something like #1 before? How was it fixed?", "similar_incidents", "update_incident"),
], ids=["a-change-names-its-tools", "a-question-names-lookups-only"])
def test_the_reminder_names_the_tools_the_request_called_for(served, sim, clock, request_text, named, not_named):
    fake, url = served
    fake.script = [says("It is done."), says("It is done.")]
    with commander_on(url, sim, clock) as commander:
        commander.send("t1", request_text)

    reminder = fake.requests[1]["messages"][-1]["content"]
    assert named in reminder and not_named not in reminder


def test_the_reminder_and_the_draft_it_answered_are_not_read_again(served, sim, clock):
    fake, url = served
    fake.script = [says("Alice is on call."), calls(("who_is_on_call", {"service": "API Gateway"})),
                   says(f"{ON_CALL} is on call for API Gateway.")]
    with commander_on(url, sim, clock) as commander:
        commander.send("t1", "who is on call for API Gateway?")

    after = json.dumps(fake.requests[2]["messages"])
    assert "You answered without calling a tool" not in after and "Alice is on call." not in after


def test_a_question_back_to_the_person_needs_no_lookup(served, sim, clock):
    fake, url = served
    fake.script = [says("Which service is the alert on?")]
    with commander_on(url, sim, clock) as commander:
        turn = commander.send("t1", "page whoever is on call")

    assert said(turn.text) == "Which service is the alert on?" and len(fake.requests) == 1


def test_a_claim_the_turn_supports_is_shown_with_its_receipt(served, sim, clock):
    fake, url = served
    fake.script = [calls(("create_incident", CREATE["arguments"])), says(f"Opened it and paged {ON_CALL}.")]
    with commander_on(url, sim, clock) as commander:
        [request] = commander.send("t1", "page the on-call for API Gateway").pending
        done = commander.decide("t1", request.id, "approve", "omar")

    assert said(done.text) == f"Opened it and paged {ON_CALL}."
    number = next(i.number for i in sim.state.incidents.values() if i.title == "API Gateway latency")
    assert f"Changed in PagerDuty: opened #{number} [triggered, high] API Gateway latency" in done.text


def test_the_person_asking_is_not_paged_as_assignee_nobody_named(served, sim, clock):
    asker = next(u for u in sim.state.users.values() if u.name == "Dana Whitfield")
    fake, url = served
    fake.script = [calls(("create_incident", {**CREATE["arguments"], "assignee": asker.email, "priority": "P1"})),
                   says("Waiting for approval.")]
    with commander_on(url, sim, clock) as commander:
        [request] = commander.send("t1", "API Gateway latency alert — page whoever is on call").pending
        audit = [(e.action, e.outcome) for e in commander.audit("t1")]

    assert "assignee" not in request.arguments and "priority" not in request.arguments
    assert f"assigned to {ON_CALL}" in request.summary
    assert request.summary.endswith("(Left out assignee, priority: the request did not say.)")
    assert ("repaired", "left out assignee, priority: the request did not state them") in audit


def test_a_rejected_change_is_named_under_the_answer(served, sim, clock):
    fake, url = served
    fake.script = [calls(("create_incident", CREATE["arguments"])), says("Understood.")]
    with commander_on(url, sim, clock) as commander:
        [request] = commander.send("t1", "page the on-call for API Gateway").pending
        done = commander.decide("t1", request.id, "reject", "omar", reason="already handled")

    assert done.text.endswith("Nothing was changed in PagerDuty.\n"
                              "Not done: create the incident (rejected by omar: already handled).")


def test_a_description_of_what_a_lookup_found_is_not_taken_for_a_claim(served, sim, clock):
    incident = next(i for i in sim.state.incidents.values() if i.status == "acknowledged")
    fake, url = served
    fake.script = [calls(("get_incident", {"incident": incident.id})),
                   says(f"#{incident.number} is acknowledged. Resolved incidents are not shown.")]
    with commander_on(url, sim, clock) as commander:
        turn = commander.send("t1", f"what is the state of #{incident.number}?")

    assert said(turn.text) == f"#{incident.number} is acknowledged. Resolved incidents are not shown."


def test_facts_given_without_any_lookup_are_not_shown(served, sim, clock):
    fake, url = served
    unlooked = "Jordan is on call; see https://acme.pagerduty.com/schedules/P1 or write jordan@acme.example"
    fake.script = [says(unlooked)] * 2
    with commander_on(url, sim, clock) as commander:
        turn = commander.send("t1", "who is on call?")

    assert "https://" not in turn.text and "I did not look anything up" in turn.text


def test_a_model_that_asks_for_more_tools_gets_them_on_its_next_step(served, sim, clock):
    fake, url = served
    fake.script = [calls(("more_tools", {})), says("Which schedule?")]
    with commander_on(url, sim, clock) as commander:
        turn = commander.send("t1", "who is on call?")

    first, second = ([t["function"]["name"] for t in r["tools"]] for r in fake.requests)
    assert "create_override" not in first and "more_tools" in first
    assert "create_override" in second and "more_tools" not in second and len(second) == len(TOOLS)
    assert said(turn.text) == "Which schedule?"


def test_the_prompt_prefix_is_the_same_across_turns_and_minutes(served, sim, clock):
    """A server's prompt cache holds only while the start of the prompt is unchanged: the system prompt and
    the tools come first, then the turns, each request with who asked and when as it was when asked."""
    fake, url = served
    fake.script = [says("Which service do you mean?"), says("Which one?")]
    with commander_on(url, sim, clock) as commander:
        commander.send("t1", "who is on call?")
        clock.advance(7 * 60)
        commander.send("t1", "and now?")

    first, second = fake.requests
    assert first["tools"] == second["tools"]
    assert second["messages"][:len(first["messages"])] == first["messages"]
    assert first["messages"][-1]["content"] == "who is on call?\n\n(Asked by dana at 2026-11-20 12:00 UTC.)"
    assert second["messages"][-1]["content"] == "and now?\n\n(Asked by dana at 2026-11-20 12:07 UTC.)"


def test_a_lookup_that_stops_short_of_the_change_asked_for_draws_one_reminder_to_make_it(served, sim, clock):
    fake, url = served
    fake.script = [calls(("list_schedules", {"query": "Platform Primary"})),
                   says("Alice Moreno will cover Platform Primary."),
                   calls(("create_override", {"schedule": "Platform Primary", "user": "Alice Moreno", "end": "+8h"})),
                   says("Waiting for approval.")]
    with commander_on(url, sim, clock) as commander:
        turn = commander.send("t1", "I'm ill and can't hold Platform Primary for 8 hours. Alice Moreno will cover me.")

    [request] = turn.pending
    assert request.tool == "create_override"
    # Read at the end of the result, where the invitation to answer was (a system message after it, the 1.5B
    # Qwen gave back as its answer); its draft is not read again.
    result = fake.requests[2]["messages"][-1]
    assert result["role"] == "tool" and "Platform Primary" in result["content"]
    assert result["content"].endswith("the request asks for (likely create_override, delete_override).)")
    assert "\n\n(You looked things up but proposed no change." in result["content"]
    assert ANSWER_NOW not in result["content"]
    assert "Alice Moreno will cover Platform Primary." not in json.dumps(fake.requests[2]["messages"])


def test_a_question_answered_from_a_lookup_ends_the_turn(served, sim, clock):
    fake, url = served
    fake.script = [calls(("list_schedules", {"query": "Platform Primary"})), says("Platform Primary is weekly.")]
    with commander_on(url, sim, clock) as commander:
        turn = commander.send("t1", "What does the Platform Primary schedule look like, who could cover?")

    assert said(turn.text) == "Platform Primary is weekly." and len(fake.requests) == 2


def test_a_reply_with_a_runaway_list_of_calls_runs_only_the_first_ten(served, sim, clock):
    fake, url = served
    fake.script = [calls(*[("who_is_on_call", {"service": "API Gateway"})] * 12), says(f"{ON_CALL} is on call.")]
    with commander_on(url, sim, clock) as commander:
        turn = commander.send("t1", "who is on call for API Gateway?")
        audit = [(e.action, e.outcome) for e in commander.audit("t1")]

    assert said(turn.text) == f"{ON_CALL} is on call."
    assert len(results(fake.requests[1])) == 10
    assert ("refused", "left out 2 more calls of one reply: at most 10 run per step") in audit
