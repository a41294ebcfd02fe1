"""A write whose names fit nothing (or several things) is answered at once, never put to a person.

Such a call cannot succeed, so asking someone to approve it at 3 a.m. only wastes their time: the
planner reads the tool's own error (with the closest matches), the audit log keeps it, nothing is
written, and the other calls of the same plan go to approval as before.
"""

from __future__ import annotations

from typing import Any

from commanders import build, open_incident, said, update_call, writes
from langchain_core.messages import ToolMessage
from langgraph.checkpoint.memory import InMemorySaver

from agent.commander import Commander
from agent.embedded import connect
from agent.planners.command import CommandModel
from agent.planners.scripted import ScriptedChatModel
from agent.settings import Settings
from tools.settings import PagerDutySettings
from tools.toolkit import build_toolkit

ME = "bilal.khan@acme.example"
UNKNOWN_OVERRIDE = {"name": "create_override",
                    "args": {"schedule": "Platform Primary", "user": "Zed Quinn", "end": "+8h"}}


def tool_results(model: ScriptedChatModel) -> list[ToolMessage]:
    """The tool results in the last conversation the planner was shown."""
    return [m for m in model.received[-1] if isinstance(m, ToolMessage)]


def tool_answer(sim: Any, clock: Any, call: dict[str, Any]) -> ToolMessage:
    """What the tool itself answers to `call`, run directly on the same account."""
    connection = connect(PagerDutySettings(api_key=None), transport=sim.transport(), clock=clock,
                         progress=None)
    tools = {t.name: t for t in build_toolkit(connection.client, connection.events, clock=clock).tools}
    return tools[call["name"]].invoke({**call, "id": "direct", "type": "tool_call"})


def test_command_mode_answers_an_unknown_user_at_once(sim, clock):
    commander = Commander.from_settings(Settings(checkpoint_db=":memory:", requester=ME), model=CommandModel(),
                                        transport=sim.transport(), checkpointer=InMemorySaver(), clock=clock,
                                        pagerduty_settings=PagerDutySettings(api_key=None))
    before = set(sim.state.overrides)

    with commander:
        turn = commander.send("t1", "override Platform Primary with Zed Quinn for 8h", ME)
        entries = commander.audit("t1")

    assert (turn.status, turn.pending) == ("answered", [])
    assert turn.text.startswith("No user is called “Zed Quinn”. The closest: Mei Lin")  # asked, without ids
    assert turn.text.endswith("Which one did you mean? Reply with its name.")
    assert writes(sim) == [] and set(sim.state.overrides) == before
    assert [e.action for e in entries] == ["message", "refused"]  # asked, refused; no approval, no write
    assert entries[1].tool == "create_override" and "No user matches 'Zed Quinn'" in entries[1].outcome


def test_the_planner_reads_the_error_the_tool_itself_would_give(sim, clock, store):
    expected = tool_answer(sim, clock, UNKNOWN_OVERRIDE)
    model = ScriptedChatModel(script=[[UNKNOWN_OVERRIDE], "Nobody called Zed Quinn here."])
    commander = build(sim, clock, model, store)

    turn = commander.send("t1", "Zed Quinn covers Platform Primary for 8 hours")

    assert (turn.status, said(turn.text)) == ("answered", "Nobody called Zed Quinn here.")
    [result] = tool_results(model)
    assert (result.status, result.text) == ("error", expected.text)
    assert result.text.startswith("Error: could not create the override — No user matches 'Zed Quinn'.")
    assert "Call find_users" in result.text
    assert writes(sim) == []
    assert "approval_requested" not in [e.action for e in commander.audit("t1")]


def test_a_name_that_fits_several_entries_lists_them_instead_of_asking(sim, clock, store):
    model = ScriptedChatModel(script=[
        [{"name": "create_incident", "args": {"service": "Data", "title": "Row counts are off"}}], "Which one?"])
    commander = build(sim, clock, model, store)

    turn = commander.send("t1", "open an incident on Data")

    assert (turn.status, turn.pending) == ("answered", [])
    [result] = tool_results(model)
    assert result.status == "error"
    assert "'Data' matches 2 services" in result.text
    assert "Database" in result.text and "Data Pipeline" in result.text
    assert writes(sim) == []


def test_the_resolvable_calls_of_the_same_plan_still_wait_for_approval(sim, clock, store):
    incident = open_incident(sim)
    model = ScriptedChatModel(script=[[UNKNOWN_OVERRIDE, update_call(incident, "acknowledge")], "Acked; who covers?"])
    commander = build(sim, clock, model, store)

    turn = commander.send("t1", "ack it and let Zed Quinn cover Platform Primary")

    assert turn.status == "waiting"
    [request] = turn.pending
    assert request.tool == "update_incident" and writes(sim) == []

    done = commander.decide("t1", request.id, "approve", "omar")

    assert (done.status, said(done.text)) == ("answered", "Acked; who covers?")
    assert [(w.method, w.path) for w in writes(sim)] == [("PUT", f"/incidents/{incident.id}")]
    results = {m.name: m for m in tool_results(model)}
    assert results["create_override"].status == "error"
    assert "No user matches 'Zed Quinn'" in results["create_override"].text
    assert results["update_incident"].status != "error"
    actions = [(e.action, e.tool) for e in commander.audit("t1")]
    assert actions.count(("refused", "create_override")) == 1  # the resume re-ran review, not the lookup
    assert ("approval_requested", "create_override") not in actions


def test_a_change_that_cannot_be_checked_is_not_put_to_a_person(sim, clock, store):
    """PagerDuty erring while the change is checked: nobody could tell what the card would do, so the
    planner hears that PagerDuty is not answering, and nothing is asked or written."""
    sim.add_fault(method="GET", path="/users", status=500)
    model = ScriptedChatModel(script=[[UNKNOWN_OVERRIDE], "Done."])
    commander = build(sim, clock, model, store)

    turn = commander.send("t1", "Zed Quinn covers Platform Primary for 8 hours")

    assert (turn.status, turn.pending) == ("answered", []) and writes(sim) == []
    [result] = tool_results(model)
    assert result.status == "error" and "PagerDuty 500" in result.text


def test_changes_pagerduty_would_refuse_as_things_stand_are_answered_at_once(sim, clock):
    triggered = next(i for i in sorted(sim.state.incidents.values(), key=lambda i: i.number)
                     if i.status == "triggered")
    commander = Commander.from_settings(Settings(checkpoint_db=":memory:", requester=ME), model=CommandModel(),
                                        transport=sim.transport(), checkpointer=InMemorySaver(), clock=clock,
                                        pagerduty_settings=PagerDutySettings(api_key=None))
    with commander:
        snooze = commander.send("t1", f"snooze {triggered.number} 2h", ME)
        merge = commander.send("t2", f"merge {triggered.number} into {triggered.number}", ME)
        refused = [e.tool for e in commander.audit() if e.action == "refused"]

    assert (snooze.status, snooze.pending) == ("answered", [])
    assert f"incident #{triggered.number} is triggered; only an acknowledged incident can be snoozed" in snooze.text
    assert merge.pending == [] and "is both the target and a source" in merge.text
    assert writes(sim) == [] and sorted(refused) == ["merge_incidents", "snooze_incident"]
