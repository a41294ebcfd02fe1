"""The planner's tools against the in-process demo account: answers, end states, errors and idempotency.

Each test drives a tool the way the graph does (a ToolCall with a thread id in the config), then checks
what came back and what the simulator now holds, and counts the requests in `sim.request_log`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from demo_org import client_for, incident_id, policy_id, priority_id, schedule_id, service_id, user_id
from langchain_core.messages import AIMessage, ToolMessage
from langchain_core.tools import StructuredTool
from langchain_core.utils.function_calling import convert_to_openai_tool

from simulator import LoggedRequest
from tools.registry import TOOLS
from tools.toolkit import Toolkit, build_toolkit

BILAL_ID = user_id("Bilal Khan")
INCIDENT_266 = incident_id(266)
INCIDENT_268 = incident_id(268)
INCIDENT_269 = incident_id(269)
INCIDENT_270 = incident_id(270)
JONAS_ID = user_id("Jonas Becker")
MEI_ID = user_id("Mei Lin")
MOBILE_BACKEND = service_id("Mobile Backend")
P1_PRIORITY = priority_id("P1")
P2_PRIORITY = priority_id("P2")
PLATFORM_ESCALATION = policy_id("Platform Escalation")
PLATFORM_PRIMARY = schedule_id("Platform Primary")
PLATFORM_SECONDARY = schedule_id("Platform Secondary")

BUDGET = 16_000
API_GATEWAY, PAYMENTS_API = service_id("API Gateway"), service_id("Payments API")
PAYMENTS_PRIMARY, PAYMENTS_POLICY = schedule_id("Payments Primary"), policy_id("Payments Escalation")
DANA, FREYA, ALICE_ID = user_id("Dana Whitfield"), user_id("Freya Lindqvist"), user_id("Alice Moreno")
WRITES = {"create_incident", "update_incident", "manage_incidents", "add_note", "add_responders", "snooze_incident",
          "merge_incidents", "create_override", "delete_override", "send_event", "send_change_event"}


@dataclass
class Outcome:
    message: ToolMessage
    requests: list[LoggedRequest]

    @property
    def ok(self) -> bool:
        return self.message.status == "success"

    @property
    def text(self) -> str:
        return self.message.content

    @property
    def data(self):
        assert self.ok, self.text
        return json.loads(self.text)

    @property
    def writes(self) -> list[tuple[str, str]]:
        return [(r.method, r.path) for r in self.requests if r.is_write]


@pytest.fixture
def call(toolkit, sim):
    """Invoke a tool as the graph does; returns its ToolMessage and the requests it made."""

    def run(name: str, args: dict | None = None, *, call_id: str = "call-1", thread: str = "thread-1",
            kit: Toolkit | None = None) -> Outcome:
        tool = next(t for t in (kit or toolkit).tools if t.name == name)
        start = len(sim.request_log)
        message = tool.invoke({"name": name, "args": args or {}, "id": call_id, "type": "tool_call"},
                              {"configurable": {"thread_id": thread}})
        assert isinstance(message, ToolMessage) and message.tool_call_id == call_id
        return Outcome(message, sim.request_log[start:])

    return run


def incident(sim, number: int):
    return sim.state.incidents[sim.state.incidents_by_number[number]]


# --- the toolset as the model sees it ----------------------------------------------------------


def test_toolset_fits_the_budget(toolkit):
    size = len(json.dumps([convert_to_openai_tool(t) for t in toolkit.tools]))
    print(f"\ntoolset as sent to OpenAI: {size} characters for {len(toolkit.tools)} tools (budget {BUDGET})")
    assert size <= BUDGET


def test_one_structured_tool_per_schema_with_kind_and_destructive(toolkit):
    assert [t.name for t in toolkit.tools] == list(TOOLS)
    for tool in toolkit.tools:
        assert isinstance(tool, StructuredTool)
        assert tool.args_schema is TOOLS[tool.name].args
        kind = "write" if tool.name in WRITES else "read"
        assert tool.metadata == {"kind": kind, "destructive": kind == "write" and tool.name != "add_note"}
        assert toolkit.info(tool.name) is TOOLS[tool.name]
        assert len(tool.description) > 40
    schema = convert_to_openai_tool(next(t for t in toolkit.tools if t.name == "create_incident"))["function"]
    assert "tool_call_id" not in schema["parameters"]["properties"]  # injected, never shown to the model
    assert all("anyOf" not in p for p in schema["parameters"]["properties"].values())  # no null branches


def test_read_only_mode_leaves_out_every_write(client, events, clock, sim, demo_dataset):
    flagged = build_toolkit(client, events, read_only=True, clock=clock)
    assert {t.name for t in flagged.tools} == set(TOOLS) - WRITES
    assert flagged.info("create_incident").kind == "write"  # still known to the approval step
    with client_for(sim, demo_dataset, access="read-only", read_only=True) as ro_client:
        assert {t.name for t in build_toolkit(ro_client, clock=clock).tools} == set(TOOLS) - WRITES


def test_validate_rechecks_edited_arguments(toolkit):
    assert toolkit.validate("create_override", {"schedule": " Payments Primary ", "user": "dana", "end": "+8h"}) == \
        {"schedule": "Payments Primary", "user": "dana", "end": "+8h"}
    with pytest.raises(ValueError, match=r"urgency: Input should be 'high' or 'low'"):
        toolkit.validate("create_incident", {"service": "API Gateway", "title": "Latency", "urgency": "urgent"})
    with pytest.raises(ValueError, match=r"unknown argument 'assignees' \(allowed: service, title"):
        toolkit.validate("create_incident", {"service": "API Gateway", "title": "Latency", "assignees": ["x"]})
    with pytest.raises(ValueError, match="no tool named 'nuke'"):
        toolkit.validate("nuke", {})


# --- approval-card sentences -------------------------------------------------------------------


def test_describe_names_who_gets_paged(toolkit):
    assert toolkit.describe("create_incident", {"service": "api gateway", "title": "API Gateway latency"}) == (
        f"Create a HIGH-urgency incident 'API Gateway latency' on API Gateway ({API_GATEWAY}), "
        "assigned to Bilal Khan (on call for API Gateway now).")
    assert toolkit.describe("create_incident", {"service": "Payments API", "title": "Card auth failing",
                                                "urgency": "low", "assignee": "dana", "priority": "p1"}) == (
        f"Create a LOW-urgency incident 'Card auth failing' on Payments API ({PAYMENTS_API}), "
        "assigned to Dana Whitfield (dana.whitfield@acme.example), priority P1.")


def test_describe_other_writes(toolkit):
    assert toolkit.describe("update_incident", {"incident": "269", "action": "acknowledge"}) == \
        "Acknowledge incident #269 'API Gateway p99 latency above 2s' on API Gateway."
    assert toolkit.describe("create_override", {"schedule": "Payments Primary", "user": "dana",
                                                "start": "2026-11-20T12:00:00Z", "end": "+8h"}) == (
        f"Cover schedule 'Payments Primary' ({PAYMENTS_PRIMARY}) with Dana Whitfield (dana.whitfield@acme.example) "
        "from 2026-11-20 12:00 UTC to 20:00 UTC (8 h), instead of Jonas Becker.")
    assert toolkit.describe("snooze_incident", {"incident": "269", "duration": "2h"}) == (
        "Snooze incident #269 'API Gateway p99 latency above 2s' on API Gateway for 2 h "
        "(until about 2026-11-20 14:00 UTC); it pages again after that.")
    assert toolkit.describe("add_responders", {"incident": "269", "responders": ["freya", "Payments Escalation"]}) \
        .startswith(f"Page Freya Lindqvist <freya.lindqvist@acme.example> ({FREYA}), "
                    f"Payments Escalation ({PAYMENTS_POLICY}) to join incident #269")
    # a read needs no card unless a policy asks for one; then it says what it reads, in words, not the tool's name
    assert toolkit.describe("list_incidents", {"urgency": "high"}) == "List incidents: urgency 'high', limit 25."


def test_describe_falls_back_to_the_values_given_in_words_when_a_name_does_not_resolve(toolkit):
    sentence = toolkit.describe("create_incident", {"service": "nope", "title": "Something"})
    assert sentence == "Create the incident: service 'nope', title 'Something', urgency 'high'."


# --- reads -------------------------------------------------------------------------------------


def test_find_services_and_get_service(call):
    found = call("find_services", {"query": "pay"})
    assert [s["name"] for s in found.data["services"]] == ["Payments API"]
    assert found.data["services"][0]["escalation_policy"] == {"id": PAYMENTS_POLICY, "name": "Payments Escalation"}
    one = call("get_service", {"service": "payments api"})
    assert one.data["id"] == PAYMENTS_API and one.data["integrations"] == ["Datadog"]
    assert "integration_key" not in one.text  # routing keys are credentials; never shown to the model
    by_team = call("find_services", {"team": "Data"})
    assert [s["name"] for s in by_team.data["services"]] == ["Data Pipeline", "Search"]


def test_who_is_on_call_for_a_service_now(call):
    result = call("who_is_on_call", {"service": "API Gateway"})
    assert [r.path for r in result.requests] == ["/services", "/oncalls"]
    data = result.data
    assert data["at"] == "2026-11-20T12:00:00Z"
    first = data["oncalls"][0]
    assert first == {"level": 1, "user": {"id": BILAL_ID, "name": "Bilal Khan", "email": "bilal.khan@acme.example"},
                     "schedule": {"id": PLATFORM_PRIMARY, "name": "Platform Primary"},
                     "escalation_policy": {"id": PLATFORM_ESCALATION, "name": "Platform Escalation"},
                     "start": "2026-11-19T22:00:00Z", "end": "2026-11-20T14:00:00Z"}
    assert [o["level"] for o in data["oncalls"]] == [1, 2, 3]
    assert "schedule" not in data["oncalls"][2]  # level 3 names Alice directly: no shift, no end


def test_who_is_on_call_at_a_time_in_a_zone_by_schedule_policy_team_and_user(call):
    at = call("who_is_on_call", {"schedule": PAYMENTS_PRIMARY, "at": "tomorrow 09:00", "time_zone": "Europe/Berlin"})
    assert at.data["at"] == "2026-11-21T08:00:00Z"
    assert {o["user"]["name"] for o in at.data["oncalls"]} == {"Freya Lindqvist"}
    oncalls = next(r for r in at.requests if r.path == "/oncalls")
    assert oncalls.query["since"] == oncalls.query["until"] == ["2026-11-21T08:00:00Z"]
    policy = call("who_is_on_call", {"escalation_policy": "Payments Escalation"})
    assert {o["escalation_policy"]["name"] for o in policy.data["oncalls"]} == {"Payments Escalation"}
    team = call("who_is_on_call", {"team": "Payments"})
    assert {o["escalation_policy"]["name"] for o in team.data["oncalls"]} == {"Payments Escalation",
                                                                                 "Checkout Escalation"}
    user = call("who_is_on_call", {"user": "dana.whitfield@acme.example"})
    assert user.data["window"] == {"since": "2026-11-20T12:00:00Z", "until": "2026-12-04T12:00:00Z"}
    assert {o["user"]["id"] for o in user.data["oncalls"]} == {DANA}
    everyone = call("who_is_on_call")
    assert len({o["escalation_policy"]["id"] for o in everyone.data["oncalls"]}) == 8


def test_list_incidents_defaults_to_open_ones_of_any_age(call):
    result = call("list_incidents")
    data = result.data
    assert data["window"] == "any age (open incidents)"
    assert [i["number"] for i in data["incidents"]] == [270, 269, 268, 267, 266, 265]
    assert data["incidents"][0] == {
        "id": INCIDENT_270, "number": 270, "title": "Mobile Backend 5xx rate above 2%", "status": "triggered",
        "urgency": "high", "service": {"id": MOBILE_BACKEND, "name": "Mobile Backend"},
        "assignees": [{"id": MEI_ID, "name": "Mei Lin"}], "created_at": "2026-11-20T10:57:38Z",
        "html_url": f"https://acme.pagerduty.com/incidents/{INCIDENT_270}"}
    assert "notice" not in data
    mine = call("list_incidents", {"assigned_to": "Bilal Khan", "service": "API Gateway"})
    assert [i["number"] for i in mine.data["incidents"]] == [269, 268, 266]


def test_list_incidents_says_when_it_was_cut_short(call):
    result = call("list_incidents", {"statuses": ["resolved"], "since": "-7d", "limit": 3})
    data = result.data
    assert data["window"] == {"since": "2026-11-13T12:00:00Z", "until": "2026-11-20T12:00:00Z"}
    assert len(data["incidents"]) == 3
    assert data["notice"].startswith("truncated: showing 3 of more;")


def test_list_incidents_splits_windows_longer_than_six_months(call):
    result = call("list_incidents", {"statuses": ["resolved"], "since": "2025-11-20T00:00:00Z", "limit": 5})
    windows = {(r.query["since"][0], r.query["until"][0]) for r in result.requests if r.path == "/incidents"}
    assert len(windows) == 3  # 365 days in windows of at most 180
    data = result.data
    assert data["window"]["since"] == "2025-11-20T00:00:00Z"
    assert [i["number"] for i in data["incidents"]] == [264, 263, 262, 261, 260]
    assert data["notice"].startswith("truncated: showing 5 of more")


def test_get_incident_compact_and_full(call):
    compact = call("get_incident", {"incident": "#269"})
    assert compact.data["acknowledged_by"] == [{"name": "Bilal Khan", "at": compact.data["last_change"]["at"]}]
    assert compact.data["escalation_policy"]["name"] == "Platform Escalation"
    full = call("get_incident", {"incident": INCIDENT_269, "full": True})
    assert full.data["type"] == "incident" and full.data["first_trigger_log_entry"]["type"]
    assert len(compact.text) < len(full.text) / 2


def test_an_incident_in_detail_has_its_notes_and_who_was_notified(call):
    shown = call("get_incident", {"incident": "#269"}).data
    assert shown["notes"][0]["user"] == "Bilal Khan" and shown["notes"][0]["content"]
    assert shown["notified"] and all(set(n) == {"at", "user"} for n in shown["notified"])
    assert "notes" not in call("get_incident", {"incident": "#269", "full": True}).data  # PagerDuty's own shape


def test_notes_alerts_and_log_entries(call, sim):
    notes = call("list_incident_notes", {"incident": "269"})
    assert notes.data["incident"] == INCIDENT_269 and notes.data["notes"][0]["user"] == "Bilal Khan"
    alerts = call("list_incident_alerts", {"incident": "270"})
    assert [(a["status"], a["alert_key"]) for a in alerts.data["alerts"]] == [("triggered", "mobile-backend-00269")]
    account = call("list_log_entries", {"limit": 5})
    assert account.data["window"] == {"since": "2026-11-19T12:00:00Z", "until": "2026-11-20T12:00:00Z"}
    assert len(account.data["log_entries"]) == 5 and account.data["notice"].startswith("truncated: showing 5")
    one = call("list_log_entries", {"incident": "270"})
    assert [e["type"] for e in one.data["log_entries"]][-1] == "trigger"


def test_schedules_overrides_users_policies_teams_priorities(call):
    assert [s["name"] for s in call("list_schedules", {"query": "platform"}).data["schedules"]] == \
        ["Platform Primary", "Platform Secondary"]
    schedule = call("get_schedule", {"schedule": "Payments Primary", "until": "+1d"}).data
    assert schedule["window"] == {"since": "2026-11-20T12:00:00Z", "until": "2026-11-21T12:00:00Z"}
    assert schedule["shifts"][0] == {"user": {"id": JONAS_ID, "name": "Jonas Becker"},
                                     "start": "2026-11-20T12:00:00Z", "end": "2026-11-20T17:00:00Z"}
    assert call("list_overrides", {"schedule": "Payments Primary"}).data["overrides"] == []
    assert [u["email"] for u in call("find_users", {"query": "dana"}).data["users"]] == ["dana.whitfield@acme.example"]
    policy = call("get_escalation_policy", {"escalation_policy": "payments escalation"}).data
    assert [(lv["level"], lv["targets"][0]["name"]) for lv in policy["levels"]] == [
        (1, "Payments Primary"), (2, "Gustavo Ramos"), (3, "Tom Hargreaves")]
    assert len(call("list_escalation_policies", {"team": "Platform"}).data["escalation_policies"]) == 3
    assert [t["name"] for t in call("list_teams").data["teams"]][:2] == ["Data", "Payments"]
    assert [p["name"] for p in call("list_priorities").data["priorities"]] == ["P1", "P2", "P3", "P4", "P5"]


# --- writes and their end state ----------------------------------------------------------------


def test_create_incident_pages_the_service_once_per_open_alert(call, sim):
    before = len(sim.state.incidents)
    first = call("create_incident", {"service": "API Gateway", "title": "API Gateway latency", "details": "p99 3s"},
                 call_id="call-7")
    assert first.writes == [("POST", "/incidents")]
    post = next(r for r in first.requests if r.is_write)
    created = incident(sim, first.data["number"])
    assert post.body["incident"]["incident_key"] == created.incident_key
    assert created.incident_key.startswith("ic-") and len(created.incident_key) == 35
    assert (created.title, created.service_id, created.body_details) == ("API Gateway latency", API_GATEWAY, "p99 3s")
    assert first.data["assignees"] == [{"id": BILAL_ID, "name": "Bilal Khan"}]  # the policy's level 1 now
    replayed = call("create_incident", {"service": "API Gateway", "title": "API Gateway latency", "details": "p99 3s"},
                    call_id="call-7")  # a crash-and-resume replays the same call
    retried = call("create_incident", {"service": API_GATEWAY, "title": "  api gateway   LATENCY"},
                   call_id="call-8")  # a planner retrying after an unclear failure
    reported_again = call("create_incident", {"service": "API Gateway", "title": "API Gateway latency"},
                          call_id="call-1", thread="thread-2")  # a colleague reports the same alert
    for answer in (replayed, retried, reported_again):
        assert answer.data["id"] == first.data["id"] and "nobody was paged again" in answer.data["unchanged"]
    assert len(sim.state.incidents) == before + 1
    other_alert = call("create_incident", {"service": "API Gateway", "title": "API Gateway 5xx"}, call_id="call-9")
    other_service = call("create_incident", {"service": "Payments API", "title": "API Gateway latency"},
                         call_id="call-10")
    assert len({first.data["id"], other_alert.data["id"], other_service.data["id"]}) == 3
    assert len(sim.state.incidents) == before + 3


def test_create_incident_pages_again_once_the_earlier_incident_is_resolved(call, sim):
    first = call("create_incident", {"service": "API Gateway", "title": "API Gateway latency"}, call_id="call-1")
    call("update_incident", {"incident": str(first.data["number"]), "action": "resolve"}, call_id="call-2")
    again = call("create_incident", {"service": "API Gateway", "title": "API Gateway latency"}, call_id="call-3")
    assert again.data["id"] != first.data["id"] and "unchanged" not in again.data


def test_create_incident_with_assignee_priority_or_policy(call, sim):
    result = call("create_incident", {"service": "Payments API", "title": "Card auth failing", "urgency": "low",
                                      "assignee": "freya", "priority": "P2"})
    created = incident(sim, result.data["number"])
    assert [a.user_id for a in created.assignments] == [FREYA]
    assert (created.urgency, created.priority_id) == ("low", P2_PRIORITY)
    via_policy = call("create_incident", {"service": "Checkout", "title": "Checkout down",
                                          "escalation_policy": "Payments Escalation"}, call_id="call-2")
    assert incident(sim, via_policy.data["number"]).escalation_policy_id == PAYMENTS_POLICY


def test_update_incident_actions_change_the_incident(call, sim):
    assert call("update_incident", {"incident": "270", "action": "acknowledge"}).data["status"] == "acknowledged"
    assert incident(sim, 270).acknowledger_ids == [ALICE_ID]
    call("update_incident", {"incident": "270", "action": "set_urgency", "urgency": "low"})
    call("update_incident", {"incident": "270", "action": "set_priority", "priority": "p1"})
    call("update_incident", {"incident": "270", "action": "set_title", "title": "Mobile 5xx"})
    assert (incident(sim, 270).urgency, incident(sim, 270).priority_id, incident(sim, 270).title) == \
        ("low", P1_PRIORITY, "Mobile 5xx")
    call("update_incident", {"incident": "270", "action": "reassign", "assignee": "Dana"})
    assert [a.user_id for a in incident(sim, 270).assignments] == [DANA]
    resolved = call("update_incident", {"incident": INCIDENT_270, "action": "resolve", "resolution": "Rolled back."})
    assert resolved.writes == [("PUT", f"/incidents/{INCIDENT_270}")]
    assert len(resolved.requests) == 1  # an id: no lookup
    assert incident(sim, 270).status == "resolved"
    resolve_entry = sim.state.log_entries_by_incident[INCIDENT_270][-1]
    assert (resolve_entry.type, resolve_entry.note) == ("resolve_log_entry", "Rolled back.")
    call("update_incident", {"incident": "270", "action": "reopen"})
    assert incident(sim, 270).status == "triggered"


def test_escalate_goes_to_the_next_level_unless_told(call, sim):
    result = call("update_incident", {"incident": "268", "action": "escalate"})
    assert incident(sim, 268).escalation_level == 2
    put = next(r for r in result.requests if r.is_write)
    assert put.body["incident"]["escalation_level"] == 2
    call("update_incident", {"incident": "268", "action": "escalate", "escalation_level": 3})
    assert incident(sim, 268).escalation_level == 3


def test_escalate_asks_for_the_level_when_the_assignee_holds_several(call, sim, clock):
    clock.set(datetime(2026, 11, 19, 15, 0, tzinfo=UTC))  # Alice holds levels 1 and 3 of the gateway's policy
    opened = call("create_incident", {"service": "API Gateway", "title": "Gateway probe"}).data
    result = call("update_incident", {"incident": opened["id"], "action": "escalate"}, call_id="call-2")
    assert not result.ok and not result.writes
    assert "at levels 1 and 3 of escalation policy Platform Escalation (P" in result.text  # named, id in brackets
    assert "Next: ask the user which level to escalate to, then pass it as escalation_level." in result.text
    assert call("update_incident", {"incident": opened["id"], "action": "escalate", "escalation_level": 2},
                call_id="call-3").ok


def test_empty_times_are_refused_by_argument_name(call, toolkit):
    result = call("create_override", {"schedule": "Payments Primary", "user": "dana", "start": "", "end": "+8h"})
    assert not result.ok and not result.writes
    assert result.text.startswith("Error: could not create the override — start is empty; give a time")


def test_an_override_ending_at_a_clock_time_ends_on_its_start_day(call):
    result = call("create_override", {"schedule": "Payments Primary", "user": "dana",
                                      "start": "tomorrow 09:00", "end": "17:00"})
    assert (result.data["override"]["start"], result.data["override"]["end"]) == (
        "2026-11-21T09:00:00Z", "2026-11-21T17:00:00Z")


def test_pinned_fixes_an_overrides_times_as_read_now_and_leaves_other_tools_alone(toolkit):
    args = {"schedule": "Payments Primary", "user": "dana", "start": "09:00", "end": "+8h",
            "time_zone": "Europe/Berlin"}
    assert toolkit.pinned("create_override", args) == {"schedule": "Payments Primary", "user": "dana",
                                                       "start": "2026-11-21T08:00:00Z", "end": "2026-11-21T16:00:00Z"}
    unreadable = {**args, "start": "someday"}
    assert toolkit.pinned("create_override", unreadable) == unreadable
    snooze = {"incident": "268", "duration": "1h"}
    assert toolkit.pinned("snooze_incident", snooze) == snooze


def test_manage_incidents_in_one_request(call, sim):
    result = call("manage_incidents", {"incidents": ["266", "268", "#266"], "action": "resolve",
                                       "resolution": "Duplicates of #269"})
    assert result.writes == [("PUT", "/incidents")]
    assert [i["status"] for i in result.data["incidents"]] == ["resolved", "resolved"]
    assert incident(sim, 266).status == incident(sim, 268).status == "resolved"


def test_add_note_reads_before_it_writes(call, sim, clock):
    first = call("add_note", {"incident": "269", "content": "Rolled back the deploy."})
    assert first.writes == [("POST", f"/incidents/{INCIDENT_269}/notes")]
    replay = call("add_note", {"incident": "269", "content": "Rolled back  the deploy. "})
    assert replay.writes == [] and "already added" in replay.data["unchanged"]
    assert [n.content for n in sim.state.notes_by_incident[INCIDENT_269]].count("Rolled back the deploy.") == 1
    clock.advance(11 * 60)  # a deliberate repeat later on is a new note
    assert call("add_note", {"incident": "269", "content": "Rolled back the deploy."}).writes
    assert [n.content for n in sim.state.notes_by_incident[INCIDENT_269]].count("Rolled back the deploy.") == 2


def test_add_responders_skips_those_already_asked(call, sim):
    first = call("add_responders", {"incident": "269", "responders": ["freya", "Payments Escalation"],
                                    "message": "Card auth is failing behind the gateway"})
    assert first.writes == [("POST", f"/incidents/{INCIDENT_269}/responder_requests")]
    body = next(r for r in first.requests if r.is_write).body
    assert body["requester_id"] == ALICE_ID
    assert body["responder_request_targets"] == [
        {"responder_request_target": {"id": FREYA, "type": "user_reference"}},
        {"responder_request_target": {"id": PAYMENTS_POLICY, "type": "escalation_policy_reference"}}]
    again = call("add_responders", {"incident": "269", "responders": ["Freya Lindqvist", "dana"]})
    assert [r.body["responder_request_targets"] for r in again.requests if r.is_write] == [
        [{"responder_request_target": {"id": DANA, "type": "user_reference"}}]]
    assert again.data["already_requested"] == [f"Freya Lindqvist <freya.lindqvist@acme.example> ({FREYA})"]
    nothing_new = call("add_responders", {"incident": "269", "responders": ["dana"]})
    assert nothing_new.writes == [] and nothing_new.data["requested"] == []
    assert len(incident(sim, 269).responder_request_ids) == 2


def test_snooze_and_merge(call, sim):
    snoozed = call("snooze_incident", {"incident": "269", "duration": "30m"})
    assert snoozed.data["snoozed_until"] == "2026-11-20T12:30:00Z"
    assert [r.body for r in snoozed.requests if r.is_write] == [{"duration": 1800}]
    assert incident(sim, 269).snoozed_until is not None
    merged = call("merge_incidents", {"target": "269", "sources": ["268", "266"]})
    assert merged.data["merged_and_resolved"] == [
        f"#268 API Gateway upstream connection resets above 1% ({INCIDENT_268})",
        f"#266 API Gateway rate limiter rejecting 10% of requests ({INCIDENT_266})"]
    assert incident(sim, 268).merged_into == incident(sim, 266).merged_into == INCIDENT_269
    assert incident(sim, 268).status == "resolved"


def test_create_override_twice_makes_one(call, sim, clock):
    args = {"schedule": "Payments Primary", "user": "dana", "start": "tomorrow 09:00", "end": "+8h",
            "time_zone": "Europe/Berlin"}
    first = call("create_override", args)
    assert first.writes == [("POST", f"/schedules/{PAYMENTS_PRIMARY}/overrides")]
    assert first.data["override"]["start"] == "2026-11-21T08:00:00Z"
    assert first.data["override"]["end"] == "2026-11-21T16:00:00Z" and first.data["length"] == "8 h"
    again = call("create_override", args)
    assert again.writes == [] and "already exists" in again.data["unchanged"]
    assert again.data["override"]["id"] == first.data["override"]["id"]
    assert len(sim.state.overrides) == 1
    cover_now = {"schedule": PAYMENTS_PRIMARY, "user": "Freya", "end": "+2h"}  # start "now" drifts on a replay
    call("create_override", cover_now, call_id="call-2")
    clock.advance(90)
    assert call("create_override", cover_now, call_id="call-2").writes == []
    assert len(sim.state.overrides) == 2
    oncall = call("who_is_on_call", {"schedule": "Payments Primary", "at": "2026-11-21T10:00:00Z"})
    assert {o["user"]["id"] for o in oncall.data["oncalls"]} == {DANA}


def test_delete_override(call, sim):
    made = call("create_override", {"schedule": "Payments Primary", "user": "dana",
                                    "start": "2026-11-22T10:00:00Z", "end": "2026-11-22T12:00:00Z"}).data
    listed = call("list_overrides", {"schedule": "Payments Primary", "until": "+3d"}).data["overrides"]
    assert listed == [made["override"]]
    deleted = call("delete_override", {"schedule": "Payments Primary", "override_id": made["override"]["id"]})
    assert deleted.data["deleted"] == made["override"]["id"] and sim.state.overrides == {}


def test_events_reach_the_service_integration(call, sim):
    first = call("send_event", {"service": "API Gateway", "summary": "Disk full on gw-1", "source": "gw-1",
                                "severity": "critical"}, call_id="call-9")
    alert_key = first.data["dedup_key"]
    alerts = [a for a in sim.state.alerts.values() if a.alert_key == alert_key]
    assert len(alerts) == 1 and alerts[0].service_id == API_GATEWAY and alerts[0].severity == "critical"
    call("send_event", {"service": "API Gateway", "summary": "Disk full on gw-1", "source": "gw-1"},
         call_id="call-9")  # replayed: same dedup key, still one alert
    assert len([a for a in sim.state.alerts.values() if a.alert_key == alert_key]) == 1
    resolved = call("send_event", {"service": "API Gateway", "action": "resolve", "dedup_key": alert_key})
    assert resolved.ok and sim.state.alerts[alerts[0].id].status == "resolved"
    change = call("send_change_event", {"service": "Payments API", "summary": "Deployed payments v2.3"})
    assert change.data["status"] == "success"
    assert [(c.summary, c.service_ids) for c in sim.state.change_events] == [("Deployed payments v2.3", [PAYMENTS_API])]


# --- computed answers --------------------------------------------------------------------------


def test_incident_timeline_does_the_arithmetic(call, sim, clock, events):
    events.change("BiF2wrLuEa38N4opjgT53PBvFtBrV5Kd", summary="Deploy payments v2.4", source="ci")
    clock.advance(10 * 60)
    created = call("create_incident", {"service": "Payments API", "title": "Card auth failing"}).data
    clock.advance(5 * 60)
    call("update_incident", {"incident": created["id"], "action": "acknowledge"})
    call("add_note", {"incident": created["id"], "content": "Rolling back v2.4"})
    clock.advance(20 * 60)
    call("update_incident", {"incident": created["id"], "action": "resolve", "resolution": "Rolled back v2.4"})
    timeline = call("incident_timeline", {"incident": str(created["number"])}).data
    assert timeline["minutes_to_first_ack"] == 5.0
    assert timeline["minutes_to_resolve"] == 25.0
    assert timeline["acknowledged_by"] == [{"user": "Alice Moreno", "at": "2026-11-20T12:15:00Z",
                                            "minutes_after_trigger": 5.0}]
    assert timeline["notes"] == [{"at": "2026-11-20T12:15:00Z", "by": "Alice Moreno", "content": "Rolling back v2.4"}]
    assert timeline["resolution"] == "Rolled back v2.4"
    assert timeline["changes_nearby"] == [{"at": "2026-11-20T12:00:00Z", "summary": "Deploy payments v2.4",
                                           "source": "ci"}]
    stamps = [e["at"] for e in timeline["entries"]]
    assert stamps == sorted(stamps) and timeline["entries"][0]["type"] == "trigger"


def test_similar_incidents_with_how_they_were_resolved(call):
    result = call("similar_incidents", {"incident": "265", "limit": 3})
    similar = result.data["similar"]
    assert len(similar) == 3
    assert all(s["match"] == "same service, similar title" for s in similar)
    assert all(s["incident"]["title"] == "Data Pipeline nightly ETL run failed" for s in similar)
    created = [s["incident"]["created_at"] for s in similar]
    assert created == sorted(created, reverse=True)
    assert all(s["resolution"] and s["minutes_to_resolve"] > 0 for s in similar)
    assert len(result.requests) == 1 + 2 + 3  # the incident, two pages of candidates, one history each


def test_related_incidents_are_whole_incidents_on_other_services_with_why(call):
    mine = call("create_incident", {"service": "Payments API", "title": "Card authorization latency p95 above 3s"})
    theirs = call("create_incident", {"service": "Checkout", "title": "Checkout latency p95 above 3s"}, call_id="c2")
    result = call("related_incidents", {"incident": f"#{mine.data['number']}"})
    assert result.data["incident"] == mine.data["id"]
    related = {r["id"]: r for r in result.data["related"]}
    assert mine.data["id"] not in related
    assert related[theirs.data["id"]]["number"] == theirs.data["number"]
    assert related[theirs.data["id"]]["service"]["name"] == "Checkout"
    assert related[theirs.data["id"]]["related_by"] == ["alike, around the same time"]


def test_related_incidents_of_an_incident_that_does_not_exist_says_what_to_do(call):
    result = call("related_incidents", {"incident": "99999"})
    assert not result.ok and result.text.startswith("Error: could not find related incidents — PagerDuty 404")
    assert "Next: check the id or number" in result.text


# --- refusals: before any request, and as text ------------------------------------------------

MALFORMED = [
    ("get_incident", {"incident": "undefined"}, "incident: 'undefined' is a placeholder"),
    ("get_incident", {"incident": ""}, "incident: '' is a placeholder"),
    ("get_service", {"service": "null"}, "service: 'null' is a placeholder"),
    ("create_incident", {"service": "API Gateway", "title": "Latency", "assignee": "<id>"}, "assignee: '<id>'"),
    ("manage_incidents", {"incidents": ["269", "n/a"], "action": "resolve"}, "incidents: 'n/a' is a placeholder"),
    ("create_incident", {"service": "API Gateway", "title": "Latency", "severity": "high"},
     "unknown argument 'severity'"),
    ("list_incidents", {"status": ["triggered"]}, "unknown argument 'status'"),
    ("create_incident", {"service": "API Gateway", "title": "Latency", "urgency": "critical"},
     "urgency: Input should be 'high' or 'low'"),
    ("update_incident", {"incident": "269", "action": "close"}, "action: Input should be 'acknowledge'"),
    ("list_incidents", {"statuses": ["open"]}, "statuses.0: Input should be 'triggered'"),
    ("create_incident", {"title": "Latency"}, "service is required"),
    ("add_note", {"incident": "269"}, "content is required"),
    ("create_override", {"schedule": "Payments Primary", "user": "dana"}, "end is required"),
    ("add_note", {"incident": "269", "content": "   "}, "content: String should have at least 1 character"),
    ("list_incidents", {"limit": 0}, "limit: Input should be greater than or equal to 1"),
    ("update_incident", {"incident": "269", "action": "acknowledge", "urgency": "low"},
     "urgency cannot be used with action acknowledge"),
    ("update_incident", {"incident": "269", "action": "reassign"}, "reassign needs exactly one of"),
    ("create_incident", {"service": "x", "title": "Latency", "assignee": "dana", "escalation_policy": "y"},
     "give assignee or escalation_policy, not both"),
    ("snooze_incident", {"incident": "269", "duration": "9d"}, "a snooze lasts from 1 second to 7 days"),
    ("snooze_incident", {"incident": "269", "duration": "a while"}, "cannot read duration 'a while'"),
    ("send_event", {"service": "API Gateway", "summary": "x"}, "a trigger needs summary and source"),
    ("send_event", {"service": "API Gateway", "action": "resolve"}, "resolve needs the dedup_key"),
    ("send_change_event", {"summary": "Deploy"}, "give either routing_key or service"),
    ("update_incident", {"incident": f"{INCIDENT_269}/merge", "action": "acknowledge"}, "is not an id (like Q1ABC23)"),
    ("delete_override", {"schedule": PAYMENTS_PRIMARY, "override_id": "../../users"},
     "override_id: '../../users' is not"),
    ("get_incident", {"incident": {"type": "incident_reference"}}, 'pass the id (or name) as a plain string'),
    ("get_service", {"service": {"id": None, "type": "service_reference"}}, 'pass the id (or name) as a plain string'),
    ("get_service", {"service": {"id": "null", "type": "service_reference"}}, "service: 'null' is a placeholder"),
]


def test_a_pagerduty_reference_object_is_taken_as_the_id_it_carries(call, sim):
    flat = call("get_service", {"service": API_GATEWAY})
    nested = call("get_service", {"service": {"id": API_GATEWAY, "type": "service_reference"}})
    by_email = call("who_is_on_call", {"user": {"email": "dana.whitfield@acme.example", "type": "user_reference"}})
    assert nested.data == flat.data and nested.data["name"] == "API Gateway"
    assert by_email.message.status != "error"
    number = next(i for i in sim.state.incidents.values() if i.status == "triggered").number
    acked = call("manage_incidents", {"incidents": [{"id": str(number), "type": "incident_reference"}],
                                      "action": "acknowledge"})
    assert acked.writes == [("PUT", "/incidents")] and incident(sim, number).status == "acknowledged"


@pytest.mark.parametrize(("name", "args", "problem"), MALFORMED, ids=[f"{n}-{p[:24]}" for n, _, p in MALFORMED])
def test_malformed_arguments_are_refused_before_any_request(call, name, args, problem):
    result = call(name, args)
    assert result.message.status == "error"
    assert result.text.startswith(f"Error: invalid arguments for {name} — ")
    assert problem in result.text
    assert result.text.endswith("Nothing was sent to PagerDuty. Next: fix these and call again.")
    assert result.requests == []


@pytest.mark.parametrize(("name", "args", "problem"), [
    ("create_incident", {"service": "Payments Wrkr", "title": "Latency"}, "No service matches 'Payments Wrkr'"),
    ("create_incident", {"service": "API Gateway", "title": "Latency", "assignee": "a"}, "'a' matches"),
    ("create_override", {"schedule": "platform", "user": "dana", "end": "+8h"},
     f"'platform' matches 2 schedules: Platform Primary ({PLATFORM_PRIMARY}), "
     f"Platform Secondary ({PLATFORM_SECONDARY}); pass one id."),
    ("create_override", {"schedule": "Payments Primary", "user": "dana", "end": "-1h"}, "must be after the start"),
    ("create_override", {"schedule": "Payments Primary", "user": "dana", "end": "someday"},
     "cannot read end 'someday'"),
    ("add_responders", {"incident": "269", "responders": ["nobody"]}, "No user or escalation policy matches"),
    ("who_is_on_call", {"service": "API Gateway", "time_zone": "Mars/Base", "at": "09:00"}, "unknown time zone"),
])
def test_resolution_and_time_problems_are_text_and_never_write(call, name, args, problem):
    result = call(name, args)
    assert result.message.status == "error" and result.text.startswith("Error: could not ")
    assert problem in result.text
    assert result.writes == []


def test_pagerduty_refusals_come_back_as_one_paragraph(call, sim):
    missing = call("get_incident", {"incident": "99999"})
    assert missing.text == ("Error: could not read the incident — PagerDuty 404 (2100 Not Found): Incident 99999 "
                            "not found. Next: check the id or number; the list and find tools show the valid ones.")
    merged_into_itself = call("merge_incidents", {"target": "269", "sources": [INCIDENT_269]})
    assert "target is also listed as a source" in merged_into_itself.text and merged_into_itself.writes == []
    snooze_triggered = call("snooze_incident", {"incident": "270", "duration": "1h"})
    assert snooze_triggered.text.startswith("Error: could not snooze the incident — PagerDuty 400 (")
    assert "Next: fix the arguments PagerDuty named" in snooze_triggered.text


def test_rate_limits_and_server_errors_after_retries_are_text(call, sim):
    sim.add_fault(method="GET", path="/incidents/*", status=429, reset_seconds=20)
    limited = call("get_incident", {"incident": "269"})
    assert limited.message.status == "error"
    assert "PagerDuty 429 (2020 Rate Limit Exceeded)" in limited.text
    assert "Next: PagerDuty is rate limiting this key; wait 20 s, then try again." in limited.text
    sim.faults.clear()
    sim.add_fault(method="GET", path="/services", status=503)
    broken = call("find_services")
    assert broken.text.startswith("Error: could not find services — PagerDuty 503 (2000 Service Unavailable)")
    assert "[request id sim-" in broken.text and "try again in a minute" in broken.text
    assert len(broken.requests) == 5  # the client's attempts, then the tool answers in words


def test_read_only_key_is_refused_in_words(sim, demo_dataset, clock, call):
    with client_for(sim, demo_dataset, access="read-only") as ro_client:
        kit = build_toolkit(ro_client, clock=clock)  # the key is read-only but nobody said so
        result = call("add_note", {"incident": INCIDENT_269, "content": "hello"}, kit=kit)
    assert result.text.startswith("Error: could not add the note — PagerDuty 403 (")
    assert "tell the user rather than retrying" in result.text


def test_tools_run_inside_a_langgraph_tool_node(toolkit, sim):
    from langgraph.graph import END, START, MessagesState, StateGraph
    from langgraph.prebuilt import ToolNode

    graph = StateGraph(MessagesState)
    graph.add_node("tools", ToolNode(toolkit.tools))
    graph.add_edge(START, "tools")
    graph.add_edge("tools", END)
    node = graph.compile()
    calls = [{"name": "create_incident", "args": {"service": "Search", "title": "Search index lagging"},
              "id": "tc-1", "type": "tool_call"},
             {"name": "get_incident", "args": {"incident": "nope"}, "id": "tc-2", "type": "tool_call"}]
    before = len(sim.state.incidents)
    for _ in range(2):  # the second run is a resume after a crash: same thread, same tool-call ids
        out = node.invoke({"messages": [AIMessage("", tool_calls=calls)]}, {"configurable": {"thread_id": "t-9"}})
        created, missing = out["messages"][1:]
        assert json.loads(created.content)["title"] == "Search index lagging"
        assert missing.status == "error" and missing.content.startswith("Error: could not read the incident")
    assert len(sim.state.incidents) == before + 1
    assert sim.now() - incident(sim, max(sim.state.incidents_by_number)).created_at < timedelta(seconds=1)
