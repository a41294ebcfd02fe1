"""What the incident-commander graph costs per step, against the plainest LangGraph agent doing the same work.

    python benchmarks/graph_bench.py [--rounds 12] [--turns 15]

Both play the same script of read tool calls (scripted model, the real toolkit on the in-process demo
simulator, a SQLite checkpointer in a temporary file, `durability="sync"`):

- ours: `Commander.send` — plan / review / act with the approval policy, audit log and limits;
- bare: a model node and `langgraph.prebuilt.ToolNode` in a loop, tools bound once.

A step is one model reply and the tool call it asked for. Printed: milliseconds per step for each
(median over turns, the two alternating), and ours / bare (goal: at most 1.5×).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langgraph.graph import START, MessagesState, StateGraph
from langgraph.prebuilt import ToolNode, tools_condition

from agent.commander import Commander, open_checkpointer
from agent.embedded import connect
from agent.planners.scripted import ScriptedChatModel
from agent.settings import Settings
from simulator import ManualClock, Simulator
from tools.settings import PagerDutySettings
from tools.toolkit import build_toolkit

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
GOAL = 1.5
READS = [  # cheap, varied lookups: the tools cost the same on both sides, so the difference is the graph
    {"name": "find_services", "args": {"query": "API"}},
    {"name": "list_teams", "args": {}},
    {"name": "list_priorities", "args": {}},
    {"name": "find_users", "args": {"query": "alice"}},
]


def script(rounds: int) -> Callable[[list[BaseMessage]], Any]:
    """`rounds` read calls, then an answer; a function of the conversation, so one model serves every turn."""

    def reply(messages: list[BaseMessage]) -> Any:
        last_human = max(i for i, m in enumerate(messages) if isinstance(m, HumanMessage))
        step = sum(isinstance(m, AIMessage) for m in messages[last_human:])
        return [READS[step % len(READS)]] if step < rounds else "Done."

    return reply


def ours(db: str, rounds: int) -> Callable[[str], None]:
    settings = Settings(checkpoint_db=db, requester="bench", openai_api_key=None,
                        max_model_calls=rounds + 2, recursion_limit=3 * rounds + 10)
    # No clock passed: with a manual one, the PagerDuty client's pacing would move it instead of waiting.
    commander = Commander.from_settings(settings, model=ScriptedChatModel(script=script(rounds)),
                                        transport=demo().transport(),
                                        pagerduty_settings=PagerDutySettings(api_key=None))

    def turn(thread: str) -> None:
        reply = commander.send(thread, "look around")
        assert reply.text == "Done.", reply.text

    return turn


def bare(db: str, rounds: int) -> Callable[[str], None]:
    connection = connect(PagerDutySettings(api_key=None), transport=demo().transport(), clock=None,
                         progress=None)
    tools = build_toolkit(connection.client, connection.events).tools
    checkpointer, _ = open_checkpointer(db)
    bound = ScriptedChatModel(script=script(rounds)).bind_tools(tools)

    def model(state: MessagesState) -> dict[str, Any]:
        return {"messages": [bound.invoke(state["messages"])]}

    builder = StateGraph(MessagesState)
    builder.add_node("model", model)
    builder.add_node("tools", ToolNode(tools))
    builder.add_edge(START, "model")
    builder.add_conditional_edges("model", tools_condition)
    builder.add_edge("tools", "model")
    graph = builder.compile(checkpointer=checkpointer)

    def turn(thread: str) -> None:
        out = graph.invoke({"messages": [HumanMessage("look around")]},
                           {"configurable": {"thread_id": thread}, "recursion_limit": 3 * rounds + 10},
                           durability="sync")
        assert out["messages"][-1].text == "Done."

    return turn


def demo() -> Simulator:
    return Simulator.from_dataset("demo", clock=ManualClock(NOW))


def measure(bare_turn: Callable[[str], None], ours_turn: Callable[[str], None], rounds: int,
            turns: int) -> tuple[float, float, float]:
    """Median ms per step of each, and the median of their per-turn ratios. Turns alternate, so load from
    other processes on the machine hits both sides alike (after two warm-up turns each)."""
    for n in range(2):
        bare_turn(f"warm-{n}")
        ours_turn(f"warm-{n}")
    bare_ms: list[float] = []
    ours_ms: list[float] = []
    for n in range(turns):
        for turn, timings in ((bare_turn, bare_ms), (ours_turn, ours_ms)):
            start = time.perf_counter()
            turn(f"timed-{n}")
            timings.append((time.perf_counter() - start) * 1000 / rounds)
    ratios = [o / b for o, b in zip(ours_ms, bare_ms, strict=True)]
    return statistics.median(bare_ms), statistics.median(ours_ms), statistics.median(ratios)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=12, help="tool-calling steps per turn")
    parser.add_argument("--turns", type=int, default=15, help="timed turns (each on a new thread)")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        ours_turn = ours(str(Path(folder) / "ours.sqlite"), options.rounds)
        bare_turn = bare(str(Path(folder) / "bare.sqlite"), options.rounds)
        bare_ms, ours_ms, ratio = measure(bare_turn, ours_turn, options.rounds, options.turns)
        print(f"steps per turn: {options.rounds} read tool calls, then an answer; {options.turns} turns each")
        print(f"bare LangGraph loop (model node + ToolNode): {bare_ms:7.2f} ms per step")
        print(f"incident-commander graph (Commander.send):   {ours_ms:7.2f} ms per step")
        print(f"ratio ours / bare (median of per-turn ratios): {ratio:.2f}x "
              f"(goal <= {GOAL}x: {'met' if ratio <= GOAL else 'NOT met'})")


if __name__ == "__main__":
    main()
