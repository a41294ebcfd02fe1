"""Simulator speed and memory, each figure beside a baseline measured in the same run.

    python benchmarks/simulator_bench.py [--incidents 10000] [--seconds 2]

Baselines: in-process figures are compared with a bare `httpx.MockTransport` that returns a fixed
JSON body (the floor any in-process transport pays); the HTTP figure with a bare ASGI app served
by the same uvicorn and hit by the same client. Each figure is the best of many batches that
alternate with their baseline's (benchmarks/timing.py), so other load on the machine hits both alike.
"""

from __future__ import annotations

import argparse
import gc
import json
import multiprocessing
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from timing import best_per_call

from simulator import ManualClock, Simulator
from simulator.datasets import load_dataset
from simulator.models import HistorySpec, RateLimits
from simulator.oncall import oncalls

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
NO_LIMITS = RateLimits(**dict.fromkeys(RateLimits.model_fields, 10**9))  # measure speed, not 429s


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def rates(contenders: dict, seconds: float) -> dict[str, float]:
    """Requests per second of each contender, from its best batch (see benchmarks/timing.py)."""
    return {name: 1 / per_call for name, per_call in best_per_call(contenders, seconds, batch=20).items()}


def token_header(dataset) -> dict[str, str]:
    token = next(t for t in dataset.tokens if t.kind == "account" and t.access == "full" and not t.bearer)
    return {"Authorization": f"Token token={token.token}", "Accept": "application/vnd.pagerduty+json;version=2"}


def baseline_client(body: bytes) -> httpx.Client:
    return httpx.Client(transport=httpx.MockTransport(lambda request: httpx.Response(
        200, content=body, headers={"content-type": "application/json"})), base_url="https://api.pagerduty.com")


def serve(kind: str, port: int, dataset_name: str) -> None:
    import uvicorn

    if kind == "sim":
        from simulator.asgi import SimulatorApp

        sim = Simulator.from_dataset(dataset_name)
        sim.state.dataset.rate_limits = NO_LIMITS
        app: Any = SimulatorApp(sim)
    else:
        body = json.dumps({"user": {"id": "PXXXXXX", "name": "Bare"}}).encode()

        async def app(scope, receive, send):
            if scope["type"] != "http":
                return
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"application/json"),
                                    (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="error", access_log=False)


def http_rates(port: int, path: str, headers: dict, seconds: float) -> dict[str, float]:
    """Requests per second of the served simulator and of a bare ASGI app, served side by side."""
    processes = {kind: multiprocessing.Process(target=serve, args=(kind, port + n, "demo"), daemon=True)
                 for n, kind in enumerate(("sim", "bare"))}
    for process in processes.values():
        process.start()
    clients = {kind: httpx.Client(base_url=f"http://127.0.0.1:{port + n}", headers=headers)
               for n, kind in enumerate(processes)}
    try:
        for client in clients.values():
            for _ in range(200):
                try:
                    client.get("/healthz")
                    break
                except httpx.TransportError:
                    time.sleep(0.05)
            assert client.get(path).status_code == 200
        return rates({kind: lambda client=client: client.get(path) for kind, client in clients.items()}, seconds)
    finally:
        for client in clients.values():
            client.close()
        for process in processes.values():
            process.terminate()
            process.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=10_000)
    parser.add_argument("--notes", type=int, default=16, help="extra notes per incident (log entry volume)")
    parser.add_argument("--seconds", type=float, default=2.0)
    args = parser.parse_args()

    start = time.perf_counter()
    demo = Simulator.from_dataset("demo", clock=ManualClock(NOW))
    print(f"demo dataset load (with {len(demo.state.incidents)} generated incidents): "
          f"{time.perf_counter() - start:.3f} s  (goal < 1 s)")

    gc.collect()
    before = rss_mb()
    start = time.perf_counter()
    dataset = load_dataset("demo").model_copy(update={"history": HistorySpec(
        incidents=args.incidents, days=180, open_incidents=400, extra_notes_per_incident=args.notes)})
    sim = Simulator.from_dataset(dataset, clock=ManualClock(NOW))
    built = time.perf_counter() - start
    gc.collect()
    used = rss_mb() - before
    print(f"large dataset: {len(sim.state.incidents)} incidents, {len(sim.state.log_entries)} log entries, "
          f"built in {built:.1f} s, memory {used:.0f} MB  (goal < 300 MB)")
    sim.state.dataset.rate_limits = NO_LIMITS

    headers = token_header(dataset)
    client = httpx.Client(transport=sim.transport(), base_url="https://api.pagerduty.com", headers=headers)
    incident_id = next(iter(sim.state.incidents))
    one = client.get(f"/incidents/{incident_id}")
    assert one.status_code == 200
    floor_client = baseline_client(one.content)
    got = rates({"sim": lambda: client.get(f"/incidents/{incident_id}"),
                 "bare": lambda: floor_client.get(f"/incidents/{incident_id}")}, args.seconds)
    print(f"in-process GET /incidents/{{id}}: {got['sim']:,.0f} req/s; bare MockTransport {got['bare']:,.0f} req/s "
          f"(ratio {got['bare'] / got['sim']:.2f}x)  (goal ≥ 3,000 req/s)")

    params: dict[str, str | int] = {"statuses[]": "triggered", "limit": 100, "date_range": "all"}
    page = client.get("/incidents", params=params)
    assert page.status_code == 200 and page.json()["incidents"], page.text[:200]
    floor_client = baseline_client(page.content)
    got = rates({"sim": lambda: client.get("/incidents", params=params),
                 "bare": lambda: floor_client.get("/incidents", params=params)}, args.seconds)
    print(f"in-process GET /incidents?statuses[]=triggered&limit=100 ({len(page.json()['incidents'])} per page): "
          f"{got['sim']:,.0f} req/s; bare MockTransport {got['bare']:,.0f} req/s "
          f"(ratio {got['bare'] / got['sim']:.2f}x)  (goal ≥ 500 req/s)")

    state = sim.state
    overrides = {sid: state.overrides_for(sid) for sid in state.schedules}
    policies = list(state.escalation_policies.values())
    took = best_per_call({
        "computed": lambda: oncalls(policies, state.schedules, overrides, NOW, NOW),
        "api": lambda: client.get("/oncalls", params={"limit": 100}),
    }, args.seconds, batch=10)
    print(f"on-calls of all {len(policies)} escalation policies at one instant: "
          f"{took['computed'] * 1000:.2f} ms  (goal < 5 ms); through GET /oncalls?limit=100: "
          f"{took['api'] * 1000:.2f} ms")

    user_id = dataset.users[0].id
    got = http_rates(18000 + os.getpid() % 1000, f"/users/{user_id}", headers, args.seconds)
    print(f"HTTP loopback GET /users/{{id}}: {got['sim']:,.0f} req/s; bare ASGI app {got['bare']:,.0f} req/s "
          f"(ratio {got['bare'] / got['sim']:.2f}x)  (goal ≥ 1,000 req/s)")

if __name__ == "__main__":
    main()
