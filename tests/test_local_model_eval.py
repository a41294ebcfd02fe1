"""The local-model benchmark's bookkeeping: which calls start a person's follow-up message, and its figures."""

from __future__ import annotations

from uuid import uuid4

from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage

from benchmarks.local_model_eval import CORE_SET, FOLLOW_UPS, Calls, follow_up_figures
from evals.scenario import load_scenarios


def test_only_the_first_call_after_a_later_message_counts_as_a_follow_up_turn():
    calls = Calls(scenario="s")
    first = [SystemMessage("rules"), HumanMessage("page Data")]
    asked_back = [*first, AIMessage("Which service: Data Pipeline or Database?")]
    conversations = {
        "first message": first,
        "after a tool result": [*first, AIMessage("", tool_calls=[{"name": "f", "args": {}, "id": "c1"}]),
                                ToolMessage("{}", tool_call_id="c1")],
        "follow-up message": [*asked_back, HumanMessage("Database.")],
    }
    for messages in conversations.values():
        run = uuid4()
        calls.on_chat_model_start({}, [messages], run_id=run)
        calls.on_llm_error(TimeoutError(), run_id=run)

    assert [c.follow_up_turn for c in calls.seen] == [False, False, True]
    figures = follow_up_figures([], calls.seen)
    assert figures == {}  # no follow-up conversation ran: nothing to report


def test_every_scenario_the_benchmark_names_is_in_the_suite():
    suite = {scenario.id for scenario in load_scenarios()}
    assert set(CORE_SET) <= suite and set(FOLLOW_UPS) <= suite and len(CORE_SET) >= 12
