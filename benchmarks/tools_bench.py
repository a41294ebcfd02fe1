"""What the planner's tools cost: toolset size, PagerDuty calls per tool, and the client's own overhead.

    python benchmarks/tools_bench.py [--seconds 3]

(a) the whole default toolset as sent to OpenAI, in characters (budget 16,000);
(b) for each tool, the requests it makes in its common case against the in-process demo account,
    with a cold directory (a new conversation) and a warm one (names already looked up in this
    conversation), beside the fewest requests PagerDuty needs for the same answer from the same input;
(c) `PagerDutyClient.get` against a bare `httpx.Client` on the same transport, per call: on the
    simulator (what a tool pays) and on a fixed-body transport (the client's own overhead).
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

import httpx
from langchain_core.utils.function_calling import convert_to_openai_tool

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from timing import best_per_call  # benchmarks/, the script's own directory

from simulator import ManualClock, Simulator
from simulator.datasets import load_dataset
from simulator.models import RateLimits
from tools.client import ACCEPT, PagerDutyClient
from tools.events import EventsClient
from tools.toolkit import build_toolkit

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
TOKEN = "LDDXW0eay3r9TbYzQOyS"  # the demo account's full-access account key
FROM = "alice.moreno@acme.example"
BUDGET = 16_000

# tool: (common-case arguments, fewest PagerDuty requests for the same answer, why)
CASES: dict[str, tuple[dict, int, str]] = {
    "find_services": ({"query": "pay"}, 1, "list services"),
    "get_service": ({"service": "Payments API"}, 1, "list services by name returns the object"),
    "who_is_on_call": ({"service": "API Gateway"}, 2, "service → its policy, then on-calls"),
    "list_incidents": ({}, 1, "list incidents"),
    "get_incident": ({"incident": "269"}, 1, "get incident (number accepted)"),
    "list_incident_notes": ({"incident": "PQ001ZT"}, 1, "list notes"),
    "incident_timeline": ({"incident": "PQ001ZT"}, 2, "incident + log entries (we add change events)"),
    "list_log_entries": ({}, 1, "list log entries"),
    "list_incident_alerts": ({"incident": "PQ001ZT"}, 1, "list alerts"),
    "list_schedules": ({"query": "platform"}, 1, "list schedules"),
    "get_schedule": ({"schedule": "Payments Primary"}, 1, "list schedules can render the final schedule"),
    "list_overrides": ({"schedule": "Payments Primary"}, 2, "name → id, then overrides"),
    "find_users": ({"query": "dana"}, 1, "list users"),
    "list_escalation_policies": ({}, 1, "list policies"),
    "get_escalation_policy": ({"escalation_policy": "Payments Escalation"}, 1, "list by name returns the object"),
    "list_teams": ({}, 1, "list teams"),
    "list_priorities": ({}, 1, "list priorities"),
    "similar_incidents": ({"incident": "265"}, 7, "incident + candidates + 5 histories"),
    "create_incident": ({"service": "API Gateway", "title": "API Gateway latency"}, 2, "name → id, then create"),
    "update_incident": ({"incident": "PQ001ZT", "action": "acknowledge"}, 1, "update"),
    "manage_incidents": ({"incidents": ["PQ001ZD", "PQ001ZP"], "action": "acknowledge"}, 1, "bulk update"),
    "add_note": ({"incident": "PQ001ZT", "content": "Rolled back."}, 1, "create note (we read notes first)"),
    "add_responders": ({"incident": "PQ001ZT", "responders": ["Freya Lindqvist"]}, 2, "name → id, then request"),
    "snooze_incident": ({"incident": "PQ001ZT", "duration": "30m"}, 1, "snooze"),
    "merge_incidents": ({"target": "PQ001ZT", "sources": ["PQ001ZP"]}, 1, "merge"),
    "create_override": ({"schedule": "Payments Primary", "user": "Dana Whitfield", "start": "tomorrow 09:00",
                         "end": "+8h"}, 3, "two names → ids, then create (we check overrides first)"),
    "delete_override": ({"schedule": "PWR0LWS", "override_id": "made first"}, 1, "delete"),
    "send_event": ({"service": "API Gateway", "summary": "Disk full", "source": "gw-1"}, 2,
                   "service's integration key, then enqueue"),
    "send_change_event": ({"service": "API Gateway", "summary": "Deploy v2"}, 2,
                          "service's integration key, then enqueue"),
}


def toolset_size(toolkit) -> int:
    return len(json.dumps([convert_to_openai_tool(t) for t in toolkit.tools]))


def calls_per_tool() -> list[tuple[str, int, int, int, str]]:
    """(tool, cold, warm, minimum, why), each run on a fresh demo account."""
    return [(name, requests(name, args, warm=False), requests(name, args, warm=True), minimum, why)
            for name, (args, minimum, why) in CASES.items()]


def requests(name: str, args: dict, *, warm: bool) -> int:
    """Requests one call makes. Warm: the conversation already knows every name the call uses, as after
    the approval card for a write was built (the graph's plan step), or after a read ran once."""
    clock = ManualClock(NOW)
    sim = Simulator.from_dataset("demo", clock=clock)
    client = PagerDutyClient(api_key=TOKEN, from_email=FROM, transport=sim.transport())
    toolkit = build_toolkit(client, EventsClient(transport=sim.transport()), clock=clock)
    if name == "delete_override":  # something to delete, made without touching the toolkit's directory
        made = client.post("/schedules/PWR0LWS/overrides", {"overrides": [{
            "start": "2026-11-21T12:00:00Z", "end": "2026-11-22T12:00:00Z",
            "user": {"id": "P5N0NSY", "type": "user_reference"}}]})
        args = args | {"override_id": made[0]["override"]["id"]}
    tool = next(t for t in toolkit.tools if t.name == name)

    def run() -> None:  # no thread id: the conversation `describe` uses too
        reply = tool.invoke({"name": name, "args": args, "id": "bench", "type": "tool_call"}, {"configurable": {}})
        if reply.status == "error":
            raise SystemExit(f"{name} failed: {reply.content}")

    if warm:
        toolkit.describe(name, args) if toolkit.info(name).kind == "write" else run()
    start = len(sim.request_log)
    run()
    return len(sim.request_log) - start


def overhead(transport: httpx.BaseTransport, path: str, seconds: float) -> tuple[float, float]:
    """Microseconds per GET: a bare httpx.Client and ours, on the same transport."""
    headers = {"Authorization": f"Token token={TOKEN}", "Accept": ACCEPT}
    bare = httpx.Client(transport=transport, base_url="https://api.pagerduty.com", headers=headers)
    ours = PagerDutyClient(api_key=TOKEN, transport=transport)
    best = best_per_call({"bare": lambda: bare.get(path).json(), "ours": lambda: ours.get(path)}, seconds)
    return best["bare"] * 1e6, best["ours"] * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="time per overhead measurement")
    options = parser.parse_args()

    sim = Simulator.from_dataset("demo", clock=ManualClock(NOW))
    toolkit = build_toolkit(PagerDutyClient(api_key=TOKEN, from_email=FROM, transport=sim.transport()),
                            EventsClient(transport=sim.transport()), clock=ManualClock(NOW))
    size = toolset_size(toolkit)
    print(f"(a) toolset as sent to OpenAI: {size:,} characters for {len(toolkit.tools)} tools "
          f"(budget {BUDGET:,}: {'ok' if size <= BUDGET else 'OVER'})")

    print("\n(b) PagerDuty requests per tool, common case (cold = new conversation, warm = names already known)")
    print(f"    {'tool':<26}{'cold':>5}{'warm':>5}{'min':>5}  minimum means")
    for name, cold, warm, minimum, why in calls_per_tool():
        print(f"    {name:<26}{cold:>5}{warm:>5}{minimum:>5}  {why}")

    print("\n(c) client overhead per GET (best alternating batch), PagerDutyClient vs bare httpx.Client "
          "on the same transport")
    fixed = httpx.MockTransport(lambda request: httpx.Response(200, json={"priorities": [], "more": False}))
    unlimited = load_dataset("demo").model_copy(update={"rate_limits": RateLimits(requests_per_minute=10**9)})
    roomy = Simulator.from_dataset(unlimited, clock=ManualClock(NOW))  # no 429s however fast we call
    for label, transport, path in (("simulator", roomy.transport(), "/incidents/PQ001ZT"),
                                   ("fixed body", fixed, "/priorities")):
        bare, ours = overhead(transport, path, options.seconds)
        print(f"    {label:<11} bare {bare:8.1f} µs   ours {ours:8.1f} µs   ratio {ours / bare:.2f}× (goal ≤ 1.30×)")


if __name__ == "__main__":
    main()
