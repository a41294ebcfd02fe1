"""The tools a request offers the model first: the lookups always, a group when the request's words call for it."""

from __future__ import annotations

from dataclasses import replace
from unittest import mock

import pytest
from langchain_core.messages import AIMessage, HumanMessage

from agent import toolsets
from agent.toolsets import MORE_TOOLS, ToolsetError, asked_for_more, cues, offered
from tools.registry import TOOLS

ALL = list(TOOLS)
CORE = ["find_services", "who_is_on_call", "list_incidents", "get_incident", "find_users"]


def test_every_group_has_words_and_tools():
    assert cues() and all(cues().values())
    assert {group for tool in TOOLS.values() for group in tool.toolsets} == {toolsets.CORE, *cues()}


@pytest.mark.parametrize(("groups", "message"), [
    (("historie",), "tools declare toolsets that toolsets.yaml lacks: historie"),
    (("history",), "toolsets.yaml: no tool is in snooze"),
])
def test_a_toolset_the_table_lacks_or_a_group_without_tools_fails(groups, message):
    declared = {name: replace(tool, toolsets=groups) if tool.name == "snooze_incident" else tool
                for name, tool in TOOLS.items()}
    cues.cache_clear()
    try:
        with mock.patch.object(toolsets, "TOOLS", declared), pytest.raises(ToolsetError, match=message):
            cues()
    finally:
        cues.cache_clear()


def test_a_plain_question_gets_the_lookups_only():
    assert offered(["who is on call for Payments?"], ALL, everything=False) == CORE


def test_the_words_of_a_request_add_their_groups_in_the_tools_order():
    chosen = offered(["Chen is sick: Priya covers Core Backend until tomorrow 09:00"], ALL, everything=False)
    assert chosen == [*CORE, "list_schedules", "get_schedule", "list_overrides", "create_override",
                      "delete_override"]  # the lookups first, the same for every request: a cacheable prefix


def test_the_offer_grows_along_a_conversation_at_its_end_and_all_means_none():
    first = offered(["page the on-call for API Gateway"], ALL, everything=False)
    later = offered(["page the on-call for API Gateway", "now snooze it"], ALL, everything=False)
    assert first is not None and later is not None and "snooze_incident" in later
    assert later[:len(first)] == first  # what was offered keeps its place: the cached prompt holds up to the new
    assert offered(["anything"], ALL, everything=True) is None


def test_a_more_tools_call_in_the_turn_asks_for_everything():
    turn = [HumanMessage("x"), AIMessage("", tool_calls=[{"name": MORE_TOOLS, "args": {}, "id": "1"}])]
    assert asked_for_more(turn) and not asked_for_more(turn[:1])
