"""How fast `/ic` is acknowledged over HTTP: Slack shows "Timeout was reached" after 3 s (goal: p99 < 300 ms).

    python benchmarks/slack_ack_bench.py [--requests 200] [--command "oncall API Gateway"]

Signed slash commands go over loopback HTTP to the real app (Bolt, our listeners, uvicorn) with the
Commander on the in-process demo simulator and the fake Slack Web API from the tests; each command
also starts its conversation in the background, as in production, so later acks share the machine
with earlier runs. The baseline is a GET of the health endpoint on the same server: what any
request costs here before Bolt and the ack.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from fake_slack import slack_world  # type: ignore[import-not-found]  # noqa: E402  (tests/ is on the path above)

from simulator import ManualClock, Simulator  # noqa: E402

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--command", default="oncall API Gateway")
    args = parser.parse_args()
    clock = ManualClock(NOW)
    with slack_world(Simulator.from_dataset("demo", clock=clock), clock) as world:
        world.command("help")  # warm up: first request, first run
        world.root()
        health, acks = [], []
        for _ in range(args.requests):
            start = time.perf_counter()
            world.http.get("/healthz").raise_for_status()
            health.append(time.perf_counter() - start)
        for _ in range(args.requests):
            start = time.perf_counter()
            response = world.command(args.command)
            acks.append(time.perf_counter() - start)
            if response.status_code != 200:
                raise SystemExit(f"the ack failed: HTTP {response.status_code} {response.text[:200]}")
        print(f"waiting for the {args.requests} background runs to post their answers…", file=sys.stderr)
        world.slack.wait_call("chat.postMessage", lambda a: "Level 1" in a.get("text", ""), n=args.requests,
                              timeout=600)
    ms = 1000
    base50, base99 = percentile(health, 50) * ms, percentile(health, 99) * ms
    ack50, ack99 = percentile(acks, 50) * ms, percentile(acks, 99) * ms
    print(f"/ic ack over HTTP, {args.requests} requests ({args.command!r}):")
    print(f"  p50 {ack50:7.1f} ms   p99 {ack99:7.1f} ms   max {max(acks) * ms:7.1f} ms   "
          f"mean {statistics.mean(acks) * ms:7.1f} ms")
    print(f"baseline GET /healthz, same server:  p50 {base50:7.1f} ms   p99 {base99:7.1f} ms")
    print(f"ratio ack/baseline: p50 ×{ack50 / base50:.1f}   p99 ×{ack99 / base99:.1f}")
    print(f"goal p99 < 300 ms: {'met' if ack99 < 300 else 'NOT met'} (Slack's limit is 3000 ms)")


if __name__ == "__main__":
    main()
