"""The scripted chat model: plays its script, binds tools, streams tool calls, records, and runs out loudly."""

from __future__ import annotations

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.tools import tool
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import START, MessagesState, StateGraph

from agent.planners.scripted import ScriptedChatModel, ScriptExhausted


@tool
def get_incident(incident: str) -> str:
    """Look an incident up."""
    return f"incident {incident}"


def test_plays_text_tool_calls_and_messages_in_order():
    model = ScriptedChatModel(script=[
        [{"name": "get_incident", "args": {"incident": "12"}}],
        AIMessage("", tool_calls=[{"name": "get_incident", "args": {"incident": "13"}, "id": "mine"}]),
        "All quiet.",
    ])
    first = model.invoke([HumanMessage("show 12")])
    assert first.tool_calls == [{"name": "get_incident", "args": {"incident": "12"}, "id": "call_0_0",
                                 "type": "tool_call"}]
    assert model.invoke([HumanMessage("show 13")]).tool_calls[0]["id"] == "mine"
    assert model.invoke([HumanMessage("anything?")]).text == "All quiet."
    assert model.remaining == 0


def test_ids_are_unique_in_a_conversation_and_stable_on_replay():
    """Ids count the AI messages already in the conversation, so a fresh model (another process) replaying
    the same conversation gives the same ids, and a later call in the same thread gets a new one."""
    script = [[{"name": "get_incident", "args": {"incident": "12"}}]]
    history = [HumanMessage("a"), AIMessage("x"), HumanMessage("b")]
    one = ScriptedChatModel(script=script).invoke(history)
    two = ScriptedChatModel(script=script).invoke(history)
    assert one.tool_calls[0]["id"] == two.tool_calls[0]["id"] == "call_1_0"
    assert ScriptedChatModel(script=script).invoke(history[:1]).tool_calls[0]["id"] == "call_0_0"


def test_a_function_script_sees_the_conversation():
    def reply(messages):
        seen = [m for m in messages if isinstance(m, ToolMessage)]
        return f"saw {seen[-1].text}" if seen else [{"name": "get_incident", "args": {"incident": "7"}}]

    model = ScriptedChatModel(script=reply)
    call = model.invoke([HumanMessage("show 7")])
    answer = model.invoke([HumanMessage("show 7"), call,
                           ToolMessage("incident 7", tool_call_id=call.tool_calls[0]["id"])])
    assert answer.text == "saw incident 7"
    assert model.remaining is None


def test_bind_tools_records_the_tools_and_shares_the_script():
    model = ScriptedChatModel(script=["one", "two"])
    bound = model.bind_tools([get_incident], tool_choice="auto")
    assert model.bound_tools == ["get_incident"]
    assert bound.invoke([HumanMessage("hi")]).text == "one"
    assert model.invoke([HumanMessage("again")]).text == "two"
    assert [m[-1].text for m in model.received] == ["hi", "again"]


def test_runs_out_with_a_clear_error_instead_of_cycling():
    model = ScriptedChatModel(script=["only reply"])
    model.invoke([HumanMessage("first")])
    with pytest.raises(ScriptExhausted, match=r"no reply #2 \(it played 1\).*'second'"):
        model.invoke([SystemMessage("sys"), HumanMessage("second")])
    assert len(model.received) == 2  # the failed request is recorded too


def test_streams_text_and_tool_call_chunks():
    model = ScriptedChatModel(script=[
        AIMessage("Looking it up", tool_calls=[{"name": "get_incident", "args": {"incident": "12"}, "id": "c1"}],
                  usage_metadata={"input_tokens": 10, "output_tokens": 3, "total_tokens": 13}),
    ])
    chunks = list(model.stream([HumanMessage("show 12")]))
    assert any(c.tool_call_chunks for c in chunks)
    whole = chunks[0]
    for chunk in chunks[1:]:
        whole += chunk
    assert whole.text == "Looking it up"
    assert whole.tool_calls == [{"name": "get_incident", "args": {"incident": "12"}, "id": "c1", "type": "tool_call"}]
    assert whole.usage_metadata["total_tokens"] == 13


def test_tool_calls_survive_a_graph_streamed_in_messages_mode():
    """The pitfall of langchain-core's GenericFakeChatModel: in "messages" mode tool calls vanished."""
    model = ScriptedChatModel(script=[[{"name": "get_incident", "args": {"incident": "12"}}]])
    bound = model.bind_tools([get_incident])
    builder = StateGraph(MessagesState)
    builder.add_node("plan", lambda state: {"messages": [bound.invoke(state["messages"])]})
    builder.add_edge(START, "plan")
    graph = builder.compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "t"}}
    streamed = [chunk for chunk, _ in graph.stream({"messages": [HumanMessage("show 12")]}, config,
                                                    stream_mode="messages")]
    assert len([c for c in streamed if getattr(c, "tool_call_chunks", None)]) == 2  # name+id, then arguments
    final = graph.get_state(config).values["messages"][-1]
    assert final.tool_calls[0]["args"] == {"incident": "12"}
