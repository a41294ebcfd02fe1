"""Who is asking and who writes: one rule, passed along explicitly, never the OS account by accident."""

from __future__ import annotations

import inspect

from commanders import build, open_incident, update_call, writes
from langgraph.checkpoint.memory import InMemorySaver

import tools.client
from agent.commander import Commander
from agent.planners.command import CommandModel
from agent.settings import Settings
from tools.settings import PagerDutySettings

ALICE = "alice.moreno@acme.example"  # the demo organisation's configured From user


def commander_on(sim, clock, **settings) -> Commander:
    return Commander.from_settings(Settings(checkpoint_db=":memory:", **settings), model=CommandModel(),
                                   transport=sim.transport(), checkpointer=InMemorySaver(), clock=clock,
                                   pagerduty_settings=PagerDutySettings(api_key=None))


def test_without_ic_requester_the_demo_user_asks_and_it_is_said_in_one_line(sim, clock):
    with commander_on(sim, clock) as commander:
        turn = commander.send("t1", "incidents mine")
        assert commander.requester == ALICE
        [said] = commander.notices  # one line says every embedded default in use

    assert said == f"Demo: the demo organisation's token on the given transport; you are {ALICE}."
    assert "No user matches" not in turn.text and "find_users" not in turn.text


def test_ic_requester_wins_and_is_not_announced(sim, clock):
    with commander_on(sim, clock, requester="chen.wei@acme.example") as commander:
        assert commander.requester == "chen.wei@acme.example"
        assert not any("you are" in n for n in commander.notices)


def test_a_write_names_the_requester_as_author_and_the_approver_stays_the_approver(sim, clock):
    incident = open_incident(sim)
    commander = build(sim, clock, [[update_call(incident, "acknowledge")], "Acknowledged."])  # requester dana
    [request] = commander.send("t1", "ack it").pending

    commander.decide("t1", request.id, "approve", "omar")

    [write] = writes(sim)
    assert write.actor_id == sim.state.users_by_email["dana.whitfield@acme.example"].id  # not the configured Alice
    assert sim.state.incidents[incident.id].acknowledger_ids  # acknowledged, by dana
    [ran] = [e for e in commander.audit("t1") if e.action == "tool_call"]
    assert ran.actor == "omar"


def test_who_writes_is_a_parameter_not_ambient_state():
    source = inspect.getsource(tools.client)
    assert "ContextVar" not in source and not hasattr(tools.client, "acting_as")
