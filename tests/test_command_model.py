"""Command mode: every command of the grammar becomes the exact tool calls an LLM would make, and
tool results come back as sentences an on-call engineer can read at 3 a.m."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.tools import StructuredTool
from pydantic import ValidationError

from agent.approvals import RETRY_GUIDANCE, Decision, rejection_text
from agent.commander import Commander, default_model
from agent.planners.answers import ToolResult, answer, describe, for_people, in_zone, when
from agent.planners.command import CommandModel
from agent.planners.conversation import PENDING
from agent.planners.grammar import COMMANDS, mentioned
from agent.planners.phrasing import tidy
from agent.settings import Settings
from tools.registry import TOOLS
from tools.settings import PagerDutySettings

ME = "dana@example.com"

# (typed text, the calls expected) — one row per command and per variant people type.
CASES: list[tuple[str, list[tuple[str, dict[str, Any]]]]] = [
    ("services", [("find_services", {})]),
    ("services pay", [("find_services", {"query": "pay"})]),
    ("find services 'API Gateway'", [("find_services", {"query": "API Gateway"})]),
    ("oncall", [("who_is_on_call", {})]),
    ("who is on call?", [("who_is_on_call", {})]),
    ("oncall payments", [("who_is_on_call", {"service": "payments"})]),
    ("ONCALL Payments", [("who_is_on_call", {"service": "Payments"})]),
    ("who is on call for payments?", [("who_is_on_call", {"service": "payments"})]),
    ("who's on call for API Gateway", [("who_is_on_call", {"service": "API Gateway"})]),
    ("oncall service API Gateway", [("who_is_on_call", {"service": "API Gateway"})]),
    ("oncall policy \"Core Backend\"", [("who_is_on_call", {"escalation_policy": "Core Backend"})]),
    ("oncall schedule Core Backend at tomorrow 09:00",
     [("who_is_on_call", {"schedule": "Core Backend", "at": "tomorrow 09:00"})]),
    ("oncall team SRE", [("who_is_on_call", {"team": "SRE"})]),
    ("oncall at 2026-11-21T03:00", [("who_is_on_call", {"at": "2026-11-21T03:00"})]),
    ("oncall me", [("who_is_on_call", {"user": ME})]),
    ("when am I on call", [("who_is_on_call", {"user": ME})]),
    ("incidents", [("list_incidents", {})]),
    ("incidents open", [("list_incidents", {})]),
    ("incidents mine", [("list_incidents", {"assigned_to": ME})]),
    ("my incidents", [("list_incidents", {"assigned_to": ME})]),
    ("incidents service API Gateway", [("list_incidents", {"service": "API Gateway"})]),
    ("incidents resolved", [("list_incidents", {"statuses": ["resolved"]})]),
    ("show 1234", [("get_incident", {"incident": "1234"})]),
    ("show #1234", [("get_incident", {"incident": "1234"})]),
    ("show incident PX00001", [("get_incident", {"incident": "PX00001"})]),
    ('trigger "API Gateway p99 latency" on "API Gateway"',
     [("create_incident", {"title": "API Gateway p99 latency", "service": "API Gateway"})]),
    ('trigger "DB down on primary" on Payments low assign sam@example.com',
     [("create_incident", {"title": "DB down on primary", "service": "Payments", "urgency": "low",
                           "assignee": "sam@example.com"})]),
    ("trigger disk full on API Gateway high assign me",
     [("create_incident", {"title": "disk full", "service": "API Gateway", "urgency": "high", "assignee": ME})]),
    ("page whoever is on call for API Gateway: latency alert",
     [("create_incident", {"title": "latency alert", "service": "API Gateway"})]),
    ("page Payments: card declines spiking",
     [("create_incident", {"title": "card declines spiking", "service": "Payments"})]),
    ("ack 1234", [("update_incident", {"incident": "1234", "action": "acknowledge"})]),
    ("acknowledge #1234", [("update_incident", {"incident": "1234", "action": "acknowledge"})]),
    ("ack #1234, #1235 1236",
     [("manage_incidents", {"incidents": ["1234", "1235", "1236"], "action": "acknowledge"})]),
    ("ack", [("list_incidents", {"assigned_to": ME, "statuses": ["triggered"]})]),
    ("ack all", [("list_incidents", {"assigned_to": ME, "statuses": ["triggered"]})]),
    ("resolve 1234", [("update_incident", {"incident": "1234", "action": "resolve"})]),
    ("resolve #1234 rolled back the deploy",
     [("update_incident", {"incident": "1234", "action": "resolve", "resolution": "rolled back the deploy"})]),
    ('resolve PX00001 "restarted the pods"',
     [("update_incident", {"incident": "PX00001", "action": "resolve", "resolution": "restarted the pods"})]),
    ("resolve", [("list_incidents", {"assigned_to": ME, "statuses": ["triggered", "acknowledged"]})]),
    ("resolve 268.", [("update_incident", {"incident": "268", "action": "resolve"})]),
    ("Resolve #268!", [("update_incident", {"incident": "268", "action": "resolve"})]),
    ("resolve 268 266", [("manage_incidents", {"incidents": ["268", "266"], "action": "resolve"})]),
    ("resolve #268 and #266 – rolled back",
     [("manage_incidents", {"incidents": ["268", "266"], "action": "resolve", "resolution": "rolled back"})]),
    ("override Core Backend with Sam Lee for 8h.",
     [("create_override", {"schedule": "Core Backend", "user": "Sam Lee", "end": "+8h"})]),
    ("reopen #12", [("update_incident", {"incident": "12", "action": "reopen"})]),
    ("show px001zp", [("get_incident", {"incident": "PX001ZP"})]),
    ("ack px001zp, #268", [("manage_incidents", {"incidents": ["PX001ZP", "268"], "action": "acknowledge"})]),
    ('note 1234 "Rolled back v2.3"', [("add_note", {"incident": "1234", "content": "Rolled back v2.3"})]),
    ("note #1234 looking into it", [("add_note", {"incident": "1234", "content": "looking into it"})]),
    ("escalate 1234", [("update_incident", {"incident": "1234", "action": "escalate"})]),
    ("escalate 1234 level 2",
     [("update_incident", {"incident": "1234", "action": "escalate", "escalation_level": 2})]),
    ("reassign 1234 to sam@example.com",
     [("update_incident", {"incident": "1234", "action": "reassign", "assignee": "sam@example.com"})]),
    ('reassign #1234 to policy "Core Backend"',
     [("update_incident", {"incident": "1234", "action": "reassign", "escalation_policy": "Core Backend"})]),
    ("urgency 1234 low", [("update_incident", {"incident": "1234", "action": "set_urgency", "urgency": "low"})]),
    ("responders 1234 add Sam Lee, Core Backend",
     [("add_responders", {"incident": "1234", "responders": ["Sam Lee", "Core Backend"]})]),
    ("snooze 1234 2 hours", [("snooze_incident", {"incident": "1234", "duration": "2h"})]),
    ("snooze #1234 for 30m", [("snooze_incident", {"incident": "1234", "duration": "30m"})]),
    ("merge 1235, 1236 into #1234", [("merge_incidents", {"target": "1234", "sources": ["1235", "1236"]})]),
    ('override "Core Backend" with dana@example.com until tomorrow 09:00',
     [("create_override", {"schedule": "Core Backend", "user": ME, "end": "tomorrow 09:00"})]),
    ("override Core Backend with Sam Lee from 18:00 for 8 hours",
     [("create_override", {"schedule": "Core Backend", "user": "Sam Lee", "start": "18:00", "end": "+8h"})]),
    ("override Core Backend with me for 1 week",
     [("create_override", {"schedule": "Core Backend", "user": ME, "end": "+7d"})]),
    ("timeline 1234", [("incident_timeline", {"incident": "1234"})]),
    ("similar #1234", [("similar_incidents", {"incident": "1234"})]),
    ("related 1234", [("related_incidents", {"incident": "1234"})]),
    ("related to incident #1234", [("related_incidents", {"incident": "1234"})]),
    ("swap alice's shift with bob tomorrow 9-17", [("who_is_on_call", {"user": "alice", "at": "tomorrow 09:00"})]),
    ("/ic oncall “Core Backend”", [("who_is_on_call", {"service": "Core Backend"})]),
    ('alert Search "Search drill: index lag" warning source drill-runner key search-drill-42',
     [("send_event", {"service": "Search", "summary": "Search drill: index lag", "severity": "warning",
                      "source": "drill-runner", "dedup_key": "search-drill-42", "action": "trigger"})]),
    ('alert "API Gateway" "5xx above 3%"',
     [("send_event", {"service": "API Gateway", "summary": "5xx above 3%", "action": "trigger",
                      "source": "API Gateway"})]),
    ("alert resolve Search search-drill-42",
     [("send_event", {"service": "Search", "dedup_key": "search-drill-42", "action": "resolve"})]),
    ("alert ack API Gateway Key-9aB",
     [("send_event", {"service": "API Gateway", "dedup_key": "Key-9aB", "action": "acknowledge"})]),
    ('change Payments API "Deployed payments-api v2.14.0" source deploy-bot',
     [("send_change_event", {"service": "Payments API", "summary": "Deployed payments-api v2.14.0",
                             "source": "deploy-bot"})]),
    ("change Search 'Raised the heap to 32 GB'",
     [("send_change_event", {"service": "Search", "summary": "Raised the heap to 32 GB"})]),
]


def ask(text: str, model: CommandModel | None = None, *history: BaseMessage) -> AIMessage:
    model = model or CommandModel()
    return model.invoke([SystemMessage(f"Incident commander.\nRequester: {ME}"), *history, HumanMessage(text)])


def result(call: dict[str, Any], content: Any, status: str = "success") -> ToolMessage:
    text = content if isinstance(content, str) else json.dumps(content)
    return ToolMessage(text, tool_call_id=call["id"], name=call["name"], status=status)


@pytest.mark.parametrize(("text", "expected"), CASES, ids=[c[0] for c in CASES])
def test_each_command_emits_the_exact_valid_tool_calls(text: str, expected: list[tuple[str, dict]]) -> None:
    reply = ask(text)
    assert [(c["name"], c["args"]) for c in reply.tool_calls] == expected
    for c in reply.tool_calls:
        TOOLS[c["name"]].args.model_validate(c["args"])
        assert c["id"].startswith("cmd-") and c["type"] == "tool_call"


def test_every_command_of_the_grammar_has_a_case() -> None:
    typed = {text.split()[0].lower() for text, _ in CASES}
    assert {c.words[0] for c in COMMANDS if c.words[0] != "help"} <= typed


def test_help_lists_every_command() -> None:
    text = ask("help").content
    assert not ask("help").tool_calls
    for command in COMMANDS:
        assert command.usage in text


def test_a_misspelt_command_word_runs_a_read_and_asks_before_a_change() -> None:
    assert ask("oncal payments").tool_calls[0]["args"] == {"service": "payments"}
    assert ask("incidnets").tool_calls[0]["name"] == "list_incidents"
    for typed, meant in [("ackk 1234", "ack 1234"), ("reslove 12", "resolve 12")]:
        reply = ask(typed)
        assert not reply.tool_calls and reply.content == f"Did you mean `{meant}`? Reply `yes` to do it."
    assert turns("reslove 12", "yes").tool_calls[0]["args"] == {"incident": "12", "action": "resolve"}


@pytest.mark.parametrize(("text", "suggestion"), [("can you shift my pager to tomorrow", "`override "),
                                                   ("add a note to 268", "`note "),
                                                   ("set urgency of #268 to medium pls", "`urgency ")])
def test_unknown_input_suggests_the_closest_commands_with_an_example(text: str, suggestion: str) -> None:
    reply = ask(text)
    assert not reply.tool_calls
    assert suggestion in reply.content and "e.g. `" in reply.content


def test_nonsense_points_to_help_with_examples() -> None:
    assert ask("frobnicate").content.startswith("I didn't understand that. Try e.g. `incidents`")
    assert "Did you mean `show INCIDENT`" in ask("show").content


@pytest.mark.parametrize("text", ["resolve the gateway one", "resolve rolled back", "ack the db one",
                                  "resolve all the payments ones"])
def test_words_are_never_taken_for_incidents_or_for_all_of_yours(text: str) -> None:
    reply = ask(text)  # "resolve 268." once read as "resolve all of mine, noting '268.'"
    assert not reply.tool_calls and "`help`" in reply.content
    assert PENDING not in reply.additional_kwargs  # nothing a bare "yes" could run


def test_a_duration_without_a_unit_is_asked_about_not_guessed() -> None:
    reply = ask("snooze 269 30")
    assert not reply.tool_calls and "say e.g. `30m`, `2h` or `1d`" in reply.content


def test_arguments_the_tool_would_refuse_are_refused_in_words() -> None:
    reply = ask("trigger x on API Gateway")
    assert not reply.tool_calls and "title" in reply.content and "Usage: `trigger" in reply.content
    assert ask("override Core Backend with Sam").content.startswith("Until when?")


def test_requester_comes_from_the_conversation_before_the_model_default() -> None:
    model = CommandModel(requester="fallback@example.com")
    assert ask("incidents mine", model).tool_calls[0]["args"] == {"assigned_to": ME}
    alone = model.invoke([HumanMessage("incidents mine")])
    assert alone.tool_calls[0]["args"] == {"assigned_to": "fallback@example.com"}
    unknown = CommandModel().invoke([HumanMessage("ack")])
    assert not unknown.tool_calls and "who is asking" in unknown.content


def test_tool_call_ids_are_deterministic_and_unique_in_the_conversation() -> None:
    first = ask("ack 1 2")
    assert first.tool_calls == ask("ack 1 2").tool_calls
    earlier = [HumanMessage("ack 1 2"), first, result(first.tool_calls[0], {"incidents": []})]
    later = ask("ack 1 2", None, *earlier)
    assert later.tool_calls[0]["id"] != first.tool_calls[0]["id"]


def test_only_bound_tools_are_called() -> None:
    read_only = CommandModel().bind_tools([_tool("get_incident"), _tool("list_incidents")])
    assert ask("show 12", read_only).tool_calls[0]["name"] == "get_incident"
    refused = ask("ack 12", read_only)
    assert not refused.tool_calls and "read-only" in refused.content and "update_incident" not in refused.content
    assert refused.response_metadata["outcome"] == "refused"
    openai_style = CommandModel().bind_tools([{"type": "function", "function": {"name": "get_incident"}}])
    assert openai_style.tool_names == frozenset({"get_incident"})


def _tool(name: str) -> StructuredTool:
    return StructuredTool.from_function(lambda **kw: "", name=name, description=name, args_schema=TOOLS[name].args)


# --- two-step commands ---------------------------------------------------------------------------

def incident(number: int, status: str = "triggered", **extra: Any) -> dict[str, Any]:
    """An incident as the toolkit summarises it."""
    return {"id": f"PQ{number:05d}", "number": number, "title": "API Gateway p99 latency", "status": status,
            "urgency": "high", "service": {"id": "PS1", "name": "API Gateway"},
            "assignees": [{"id": "PU1", "name": "Dana Reyes"}],
            "html_url": f"https://demo.pagerduty.com/incidents/PQ{number:05d}", **extra}


def test_ack_without_incidents_lists_mine_then_acknowledges_them() -> None:
    model = CommandModel()
    convo: list[BaseMessage] = [SystemMessage(f"Requester: {ME}"), HumanMessage("ack")]
    listing = model.invoke(convo)
    assert listing.tool_calls[0]["args"] == {"assigned_to": ME, "statuses": ["triggered"]}
    convo += [listing, result(listing.tool_calls[0], {"incidents": [incident(1234), incident(1235)]})]
    acking = model.invoke(convo)
    assert [(c["name"], c["args"]) for c in acking.tool_calls] == [
        ("manage_incidents", {"incidents": ["PQ01234", "PQ01235"], "action": "acknowledge"})]
    assert acking.tool_calls[0]["id"] != listing.tool_calls[0]["id"]
    convo += [acking, result(acking.tool_calls[0], {"incidents": [incident(1234, "acknowledged"),
                                                                    incident(1235, "acknowledged")]})]
    done = model.invoke(convo)
    assert not done.tool_calls
    assert done.content.startswith("Acknowledged:\n• #1234 [acknowledged, high] API Gateway p99 latency")


def test_ack_with_nothing_to_acknowledge_says_so() -> None:
    model = CommandModel(requester=ME)
    listing = model.invoke([HumanMessage("ack")])
    done = model.invoke([HumanMessage("ack"), listing, result(listing.tool_calls[0], {"incidents": []})])
    assert done.content == f"Nothing to acknowledge: no triggered incidents are assigned to {ME}."


def test_resolve_without_incident_carries_the_note_into_the_second_step() -> None:
    model = CommandModel(requester=ME)
    listing = model.invoke([HumanMessage("resolve all: rolled back")])
    convo = [HumanMessage("resolve all: rolled back"), listing,
             result(listing.tool_calls[0], [incident(7, "acknowledged")])]
    assert model.invoke(convo).tool_calls[0]["args"] == {
        "incidents": ["PQ00007"], "action": "resolve", "resolution": "rolled back"}


def test_a_rejected_call_is_reported_and_the_command_stops() -> None:
    model = CommandModel(requester=ME)
    listing = model.invoke([HumanMessage("ack")])
    convo = [HumanMessage("ack"), listing, result(listing.tool_calls[0], {"incidents": [incident(1)]})]
    acking = model.invoke(convo)
    rejected = "Rejected by sam@example.com: wait for the rollback"
    done = model.invoke([*convo, acking, result(acking.tool_calls[0], rejected, "error")])
    assert not done.tool_calls and done.content == f"Not done: {rejected}"


def test_a_rejection_drops_the_planner_only_guidance_for_people() -> None:
    model = CommandModel(requester=ME)
    convo = [HumanMessage("ack 1"), model.invoke([HumanMessage("ack 1")])]
    said = rejection_text(Decision(approval_id="apr_1", verdict="reject", approver="sam", reason="not now.",
                                  decided_at=datetime(2026, 11, 20, 12, tzinfo=UTC)))
    done = model.invoke([*convo, result(convo[1].tool_calls[0], said, "error")])
    assert said.endswith(RETRY_GUIDANCE)
    assert done.content == "Not done: Rejected by sam: not now. Nothing was changed in PagerDuty."


def test_a_bare_oncall_name_falls_back_to_policy_schedule_and_team() -> None:
    model = CommandModel()
    convo: list[BaseMessage] = [HumanMessage("oncall Core Backend")]
    tried = []
    for _ in range(4):
        reply = model.invoke(convo)
        tried.append(reply.tool_calls[0]["args"])
        kind = next(iter(tried[-1])).replace("_", " ")
        closest = " Closest: Core API (PSV0001)." if kind == "service" else ""
        convo += [reply, result(reply.tool_calls[0], f"Error: could not find who is on call — No {kind} matches "
                                f"'Core Backend'.{closest} Call find_services to see them.", "error")]
    assert tried == [{"service": "Core Backend"}, {"escalation_policy": "Core Backend"},
                     {"schedule": "Core Backend"}, {"team": "Core Backend"}]
    final = model.invoke(convo)
    assert final.content == ("No service, escalation policy, schedule or team is called “Core Backend”. "
                             "The closest: Core API. Which one did you mean? Reply with its name.")
    answered = model.invoke([*convo, final, HumanMessage("Core API")])
    assert answered.tool_calls[0]["args"] == {"service": "Core API"}


def test_a_found_service_needs_no_fallback() -> None:
    model = CommandModel()
    first = model.invoke([HumanMessage("oncall payments")])
    done = model.invoke([HumanMessage("oncall payments"), first, result(first.tool_calls[0], {"oncalls": []})])
    assert done.content == "No oncalls."


# --- answers (shapes as tools/toolkit.py returns them) ------------------------------------------

ONCALLS = [
    {"level": 1, "user": {"id": "PU1", "name": "Dana Reyes", "email": ME},
     "schedule": {"id": "PS1", "name": "Core Backend"}, "escalation_policy": {"id": "PE1", "name": "Core Backend"},
     "start": "2026-11-20T09:00:00Z", "end": "2026-11-21T10:00:00+01:00"},
    {"level": 2, "user": {"id": "PU2", "name": "Sam Lee", "email": "sam@example.com"},
     "escalation_policy": {"id": "PE1", "name": "Core Backend"}},
]


def test_incident_lists_read_one_line_each() -> None:
    text = describe({"window": "any age (open incidents)",
                     "incidents": [incident(1234), incident(1235, "acknowledged", urgency="low")]})
    assert text.splitlines() == [  # the window, a note for the planner, is not read out
        "• #1234 [triggered, high] API Gateway p99 latency — API Gateway — assigned to Dana Reyes — "
        "https://demo.pagerduty.com/incidents/PQ01234",
        "• #1235 [acknowledged, low] API Gateway p99 latency — API Gateway — assigned to Dana Reyes — "
        "https://demo.pagerduty.com/incidents/PQ01235"]
    assert describe({"incidents": []}) == "No incidents."


def test_pagerduty_native_incidents_read_the_same() -> None:
    native = {"id": "PQ01234", "incident_number": 1234, "title": "API Gateway p99 latency", "status": "triggered",
              "urgency": "high", "service": {"id": "PS1", "type": "service_reference", "summary": "API Gateway"},
              "assignments": [{"assignee": {"id": "PU1", "summary": "Dana Reyes"}}],
              "html_url": "https://demo.pagerduty.com/incidents/PQ01234"}
    assert describe([native]) == describe([incident(1234)])


def test_a_single_incident_shows_its_other_fields_unless_brief() -> None:
    detailed = incident(12, created_at="2026-11-20T11:58:00Z", priority="P1",
                        escalation_policy={"id": "PE1", "name": "Core Backend"})
    assert describe(detailed).splitlines()[1:] == [
        "created at: 2026-11-20 11:58 UTC", "priority: P1", "escalation policy: Core Backend"]
    assert describe(detailed, brief=True) == describe(incident(12))


def test_oncall_reads_level_person_schedule_and_end() -> None:
    assert describe({"at": "2026-11-20T12:00:00Z", "oncalls": ONCALLS}).splitlines() == [
        "As of 2026-11-20 12:00 UTC:",
        f"• Level 1: Dana Reyes ({ME}) via Core Backend from 2026-11-20 09:00 UTC until 2026-11-21 09:00 UTC",
        "• Level 2: Sam Lee (sam@example.com) via Core Backend until further notice"]


def test_oncall_across_policies_is_grouped_by_policy() -> None:
    other = dict(ONCALLS[0], escalation_policy={"id": "PE2", "name": "Payments"})
    lines = describe({"oncalls": [*ONCALLS, other]}).splitlines()
    assert lines[0] == "Core Backend:" and "Payments:" in lines and lines[-1].startswith("  • Level 1: Dana")


def test_nobody_on_call_says_the_tools_notice() -> None:
    text = describe({"at": "2026-11-20T12:00:00Z", "oncalls": [], "notice": "nobody is on call for that then"})
    assert text.splitlines() == ["As of 2026-11-20 12:00 UTC:", "nobody is on call for that then"]


def test_wrappers_show_their_fields_and_entities_inside() -> None:
    note = {"incident": "PQ00012", "note": {"id": "PN1", "at": "2026-11-20T12:01:00Z", "user": "Dana Reyes",
                                             "content": "Rolled back v2.3"}}
    assert describe(note).splitlines() == ["incident: PQ00012",
                                           "note: 2026-11-20 12:01 UTC  Rolled back v2.3 — Dana Reyes"]
    override = {"schedule": {"id": "PS1", "name": "Core Backend"}, "length": "8h",
                "override": {"id": "PO1", "user": {"id": "PU2", "name": "Sam Lee"},
                             "start": "2026-11-20T18:00:00Z", "end": "2026-11-21T02:00:00Z"}}
    assert describe(override).splitlines() == [
        "schedule: Core Backend", "length: 8h",
        "override: Sam Lee from 2026-11-20 18:00 UTC until 2026-11-21 02:00 UTC"]


def test_truncation_notices_are_kept() -> None:
    text = describe({"incidents": [incident(1)], "notice": "truncated: showing 1 of more; narrow the search"})
    assert text.endswith("truncated: showing 1 of more; narrow the search")


def test_errors_are_shown_plainly_and_successes_announced_in_one_line() -> None:
    error = ("Error: could not update the incident — PagerDuty said 404 Not Found: incident 999 does not exist. "
             "Next: check the id or number; the list and find tools show the valid ones.")
    assert answer([ToolResult("update_incident", {}, error, "error")], "Acknowledged") == (
        "Could not update the incident: PagerDuty said 404 Not Found: incident 999 does not exist.")
    ok = ToolResult("create_incident", {}, json.dumps(incident(9, created_at="2026-11-20T11:58:00Z")))
    assert answer([ok], "Triggered") == "Triggered: " + describe(incident(9))


def test_a_result_edited_by_the_approver_says_so_and_is_still_summarised() -> None:
    edited = "Edited by sam@example.com before running; it ran with incident 9.\n"
    text = answer([ToolResult("update_incident", {}, edited + json.dumps(incident(9, "acknowledged")))],
                  "Acknowledged")
    assert text.splitlines() == ["Acknowledged:", edited.strip(), describe(incident(9, "acknowledged"))]


def test_nested_fields_read_as_phrases_not_dicts() -> None:
    text = describe({"title": "x", "status": "triggered", "id": "P1",
                     "last_change": {"at": "2026-11-20T11:58:00Z", "by": "Dana Reyes"},
                     "alerts": {"all": 3, "triggered": 1, "resolved": 2},
                     "minutes_to_resolve": 171.0})
    assert text.splitlines()[1:] == ["last change: 2026-11-20 11:58 UTC by Dana Reyes",
                                     "alerts: 3 (1 triggered, 2 resolved)", "time to resolve: 2 h 51 min"]


def test_an_incident_says_its_notes_and_who_was_notified_in_words() -> None:
    data = {"title": "x", "status": "triggered", "id": "P1",
            "notes": [{"id": "N1", "at": "2026-11-20T12:00:00Z", "user": "Dana Reyes", "content": "restarted"}],
            "notified": [{"at": "2026-11-20T11:48:00Z", "user": "Chen Wei"}]}
    lines = describe(data).splitlines()
    assert "notes: 2026-11-20 12:00 UTC  restarted — Dana Reyes" in lines
    assert "notified: Chen Wei at 2026-11-20 11:48 UTC" in lines


def test_moments_say_how_long_ago_they_were_when_the_time_is_known() -> None:
    data = {"title": "x", "status": "triggered", "id": "P1", "created_at": "2026-11-20T11:48:00Z",
            "resolved_at": "2026-09-01T12:00:00Z"}
    now = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    assert describe(data, now=now).splitlines()[1:] == ["created at: 2026-11-20 11:48 UTC (12 min ago)",
                                                        "resolved at: 2026-09-01 12:00 UTC (80 d ago)"]
    assert "ago" not in describe(data)


def test_times_are_said_in_utc() -> None:
    assert when("2026-11-21T10:00:00+01:00") == "2026-11-21 09:00 UTC"
    assert when("tomorrow") == "tomorrow"


@pytest.mark.parametrize("text", ["whos on call", "who is on call right now?", "who's on call now"])
def test_everyday_ways_of_asking_who_is_on_call(text: str) -> None:
    assert [c["name"] for c in ask(text).tool_calls] == ["who_is_on_call"]


def test_a_bad_time_is_answered_as_it_is_not_retried_as_another_kind_of_name() -> None:
    model = CommandModel(requester=ME)
    first = model.invoke([HumanMessage("oncall payments at 9am tomorrow")])
    bad_time = "Error: could not find who is on call — cannot read at '9am tomorrow'. Next: use e.g. '09:00'."
    reply = model.invoke([HumanMessage("oncall payments at 9am tomorrow"), first,
                          result(first.tool_calls[0], bad_time, "error")])
    assert not reply.tool_calls and "cannot read at '9am tomorrow'" in reply.content
    unread = model.invoke([HumanMessage("oncall payments at someday")])  # not a time: said, not looked up
    assert not unread.tool_calls and "I understood `oncall payments` but not “at someday”" in unread.content


def test_a_dash_before_a_note_is_not_part_of_it() -> None:
    assert ask("note 268 – rolled back").tool_calls[0]["args"] == {"incident": "268", "content": "rolled back"}


# --- conversation: answers to questions, "it", exclusions, times said back -----------------------

def turns(*texts: str, model: CommandModel | None = None) -> AIMessage:
    """The reply to the last text, after the earlier ones were answered by the same model."""
    model = model or CommandModel()
    convo: list[BaseMessage] = [SystemMessage(f"Requester: {ME}\nCurrent time: 2026-11-20 12:00 UTC")]
    for text in texts:
        convo.append(HumanMessage(text))
        reply = model.invoke(convo)
        convo.append(reply)
    return reply


def test_the_answer_to_until_when_completes_the_override() -> None:
    assert turns("I'll cover Platform Primary tonight").content.startswith("Until when?")
    reply = turns("I'll cover Platform Primary tonight", "till 9am tomorrow")
    assert reply.tool_calls[0]["args"] == {"schedule": "Platform Primary", "user": ME, "start": "tonight",
                                           "end": "9am tomorrow"}


def test_yes_runs_only_what_was_understood_and_no_drops_it() -> None:
    question = turns("resolve 269 in 2h")
    assert not question.tool_calls and "but not “in 2h”" in question.content
    assert turns("resolve 269 in 2h", "yes").tool_calls[0]["args"] == {"incident": "269", "action": "resolve"}
    dropped = turns("resolve 269 in 2h", "no")
    assert not dropped.tool_calls and dropped.content == "OK, I did nothing."


def test_a_new_command_after_a_question_is_a_new_command() -> None:
    reply = turns("snooze 268", "incidents mine")
    assert reply.tool_calls[0]["name"] == "list_incidents"


def test_it_is_asked_about_when_the_last_answer_showed_several() -> None:
    model = CommandModel(requester=ME)
    listed = [HumanMessage("incidents"), AIMessage("", tool_calls=[
        {"name": "list_incidents", "args": {}, "id": "c1", "type": "tool_call"}]),
              result({"name": "list_incidents", "id": "c1"}, {"incidents": [incident(268), incident(271)]}),
              AIMessage("(two incidents)")]
    question = model.invoke([*listed, HumanMessage("ack it")])
    assert not question.tool_calls and question.content.startswith("Which one? The last answer showed 2 incidents")
    assert "#271 [triggered, high]" in question.content and "PQ" not in question.content
    answered = model.invoke([*listed, HumanMessage("ack it"), question, HumanMessage("271")])
    assert answered.tool_calls[0]["args"] == {"incident": "271", "action": "acknowledge"}


def test_all_except_acts_on_the_others_and_refuses_an_exclusion_it_cannot_find() -> None:
    model = CommandModel(requester=ME)
    convo: list[BaseMessage] = [HumanMessage("resolve all except #268")]
    listing = model.invoke(convo)
    convo += [listing, result(listing.tool_calls[0], {"incidents": [incident(268), incident(269), incident(270)]})]
    assert model.invoke(convo).tool_calls[0]["args"] == {"incidents": ["PQ00269", "PQ00270"], "action": "resolve"}
    wrong = [HumanMessage("resolve all except 300"), listing, convo[-1]]
    refused = model.invoke(wrong)
    assert not refused.tool_calls and refused.content.startswith("#300 is not among your")


def test_times_are_read_in_the_requesters_zone_and_said_back_in_the_zone_they_were_said_in() -> None:
    model = CommandModel(time_zone="Europe/Berlin")
    convo: list[BaseMessage] = [SystemMessage(f"Requester: {ME}\nCurrent time: 2026-11-20 12:00 UTC"),
                                HumanMessage("who's on call for Search tomorrow 3am PST")]
    asking = model.invoke(convo)
    assert asking.tool_calls[0]["args"] == {"service": "Search", "at": "tomorrow 3am PST",
                                            "time_zone": "Europe/Berlin"}
    convo += [asking, result(asking.tool_calls[0], {"at": "2026-11-21T11:00:00Z", "oncalls": []})]
    assert model.invoke(convo).content.startswith("(“tomorrow 3am PST” is 2026-11-21 03:00 PST (11:00 UTC).)\n")
    local = CommandModel(time_zone="Europe/Berlin").invoke(
        [SystemMessage("Current time: 2026-11-20 12:00 UTC"), HumanMessage("oncall at 22:00 tonight")])
    assert local.tool_calls[0]["args"] == {"at": "22:00 tonight", "time_zone": "Europe/Berlin"}


def test_aliases_name_services_in_commands_and_in_pasted_alerts() -> None:
    model = CommandModel(aliases={"db": "Database", "gateway": "API Gateway"})
    assert ask("page the db team: replica lag", model).tool_calls[0]["args"] == {
        "service": "Database", "title": "replica lag"}
    assert ask("oncall for the gateway", model).tool_calls[0]["args"] == {"service": "API Gateway"}
    assert ask("services 'db'", model).tool_calls[0]["args"] == {"query": "db"}  # quoted: as written
    services = [{"id": "P1", "name": "Database"}, {"id": "P2", "name": "Search"}]
    assert mentioned("db replica lag 90s", services, {"db": "Database"}) == [services[0]]


def test_a_name_that_fits_several_things_becomes_a_question_without_ids() -> None:
    model = CommandModel(requester=ME)
    first = model.invoke([HumanMessage("oncall schedule platform")])
    error = ("Error: could not find who is on call — 'platform' matches 2 schedules: Platform Primary (PSCH001), "
             "Platform Secondary (PSCH002); pass one id.")
    question = model.invoke([HumanMessage("oncall schedule platform"), first,
                             result(first.tool_calls[0], error, "error")])
    assert question.content == ("“platform” fits several schedules: Platform Primary, Platform Secondary. "
                                "Which one? Reply with its name.")
    again = model.invoke([HumanMessage("oncall schedule platform"), first,
                          result(first.tool_calls[0], error, "error"), question, HumanMessage("Platform Secondary")])
    assert again.tool_calls[0]["args"] == {"schedule": "Platform Secondary"}


@pytest.mark.parametrize(("typed", "tidied"), [
    ("@ic can you pls ack 268 thx 🙏", "ack 268"),
    ("<@U024BE7LH> hey, resolve #269!!", "resolve #269"),
    ("Resolve #269 thanks", "Resolve #269"),
    ('note 268: "customer says thanks"', 'note 268: "customer says thanks"'),
    ("reassign 268 to sam@example.com", "reassign 268 to sam@example.com"),
    (":fire: page db: lag :fire:", "page db: lag"),
])
def test_chat_filler_is_tidied_away_but_quoted_text_and_emails_are_kept(typed: str, tidied: str) -> None:
    assert tidy(typed) == tidied


def test_the_zone_and_the_alias_file_are_settings_checked_at_start(tmp_path: Any) -> None:
    aliases = tmp_path / "aliases.yaml"
    aliases.write_text("db: Database\nThe Gateway: API Gateway\n")
    settings = Settings(IC_TIME_ZONE="America/New_York", IC_ALIASES=str(aliases))
    model, _ = default_model(settings)
    assert isinstance(model, CommandModel) and model.time_zone == "America/New_York"
    assert model.aliases == {"db": "Database", "gateway": "API Gateway"}
    with pytest.raises(ValidationError, match="unknown time zone 'Mars/Olympus'"):
        Settings(IC_TIME_ZONE="Mars/Olympus")
    aliases.write_text("- db\n- Database\n")
    with pytest.raises(ValidationError, match="must map names to names"):
        Settings(IC_ALIASES=str(aliases))
    with pytest.raises(ValidationError, match="cannot read the alias file"):
        Settings(IC_ALIASES=str(tmp_path / "missing.yaml"))


def test_covering_a_shift_in_several_schedules_asks_which_and_the_answer_completes_it() -> None:
    model = CommandModel(requester=ME)
    convo: list[BaseMessage] = [HumanMessage("I'll cover for Sam's shift for 4h")]
    finding = model.invoke(convo)
    assert finding.tool_calls[0]["args"] == {"user": "Sam", "at": "now"}
    shifts = {"oncalls": [{**ONCALLS[0], "schedule": {"id": "PS1", "name": "Core Backend"}},
                          {**ONCALLS[0], "schedule": {"id": "PS2", "name": "Edge"}}]}
    convo += [finding, result(finding.tool_calls[0], shifts)]
    question = model.invoke(convo)
    assert question.content == "Sam is on call in 2 schedules then: Core Backend, Edge. Which one?"
    chosen = model.invoke([*convo, question, HumanMessage("Edge")])
    assert chosen.tool_calls[0]["args"] == {"schedule": "Edge", "user": ME, "end": "+4h"}


@pytest.mark.parametrize(("text", "usage"), [("change Payments API Deployed v2.14.0", '`change SERVICE "SUMMARY"'),
                                             ("alert Search heap above 95%", '`alert SERVICE "SUMMARY"'),
                                             ("alert resolve Search", '`alert SERVICE "SUMMARY"')])
def test_an_event_without_quoted_summary_or_dedup_key_shows_the_usage(text: str, usage: str) -> None:
    reply = ask(text)  # an unquoted summary cannot be told apart from the service name: never guess the split
    assert not reply.tool_calls and usage in reply.content


def after(text: str, content: Any, status: str = "success") -> str:
    """The answer to `text` once its one tool call returned `content`."""
    convo: list[BaseMessage] = [SystemMessage(f"Requester: {ME}"), HumanMessage(text)]
    sent = CommandModel().invoke(convo)
    [c] = sent.tool_calls
    return str(CommandModel().invoke([*convo, sent, result(c, content, status)]).content)


def test_a_sent_alert_names_its_dedup_key_and_how_to_resolve_it() -> None:
    done = {"service": "Search (PSRCH01)", "action": "trigger", "status": "success", "message": "Event processed",
            "dedup_key": "k-81"}
    assert after('alert Search "Heap above 95%" critical source idx-3', done) == (
        "Sent the alert 'Heap above 95%' (critical) to Search (PSRCH01), dedup key k-81; "
        "`alert resolve Search k-81` resolves it.")
    assert after("alert resolve Search k-81", {**done, "action": "resolve"}) == (
        "Resolved the alert with dedup key k-81 on Search (PSRCH01).")


def test_a_change_event_is_confirmed_and_a_failed_one_shown_in_peoples_words() -> None:
    text = 'change Payments API "Deployed v2.14.0"'
    assert after(text, {"service": "Payments API (PPAYAPI)", "status": "success"}) == (
        "Recorded the change 'Deployed v2.14.0' on Payments API (PPAYAPI); nobody was paged.")
    failed = "Error: Payments API has no Events API v2 integration. Next: give routing_key, or call create_incident."
    assert after(text, failed, "error") == "Payments API has no Events API v2 integration."


def test_times_are_said_in_the_readers_zone_with_utc_beside_them() -> None:
    with in_zone("Europe/Berlin"):
        assert when("2026-11-21T09:00:00Z") == "2026-11-21 10:00 CET (09:00 UTC)"
    assert when("2026-11-21T09:00:00Z") == "2026-11-21 09:00 UTC"


def test_command_mode_answers_in_the_requesters_zone(sim, clock) -> None:
    settings = Settings(checkpoint_db=":memory:", requester="dana.whitfield@acme.example", openai_api_key=None,
                        time_zone="America/New_York")
    with Commander.from_settings(settings, transport=sim.transport(), clock=clock,
                                 pagerduty_settings=PagerDutySettings(api_key=None)) as commander:
        text = commander.send("t1", "oncall API Gateway").text
    assert " EST (" in text and " UTC)" in text, text


@pytest.mark.parametrize(("refusal", "shown"), [
    ("Error: update_incident was not called because its arguments are invalid: invalid arguments for "
     "update_incident — incident is required. Nothing was sent to PagerDuty. Next: fix these and call again.",
     "Could not update the incident: incident is required. Nothing was sent to PagerDuty."),
    ("Error: there is no tool named 'frob'. Available tools: add_note, create_incident.",
     "Could not take that step: there is no such step here."),
])
def test_a_refused_call_reads_as_the_step_in_words_without_tool_names(refusal, shown) -> None:
    assert for_people(refusal) == shown
