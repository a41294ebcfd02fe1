"""Spec-driven fuzz of the served simulator: schemathesis generates requests from PagerDuty's official
OpenAPI spec for every operation the simulator implements, sends them over loopback HTTP, and counts
the answers by status class. Any 5xx is a simulator bug (it must answer like PagerDuty: a 4xx for bad input).

    python benchmarks/simulator_fuzz.py [--requests 2000] [--seed 1]

Half the requests are valid by the spec, half deliberately not (schemathesis' negative mode); a third of
them use ids that exist, so they get past the 404 into the handlers. The account is the demo organisation
with rate limits lifted, served by uvicorn on 127.0.0.1 only; it stops when the run ends.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.core.result import Err

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from simulator import ManualClock, Simulator  # noqa: E402
from simulator.asgi import SimulatorApp  # noqa: E402
from simulator.errors import ApiError  # noqa: E402
from simulator.models import RateLimits  # noqa: E402

SPEC = ROOT.parent / "shared" / "pagerduty-api" / "openapiv3.json"
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
NO_LIMITS = RateLimits(**dict.fromkeys(RateLimits.model_fields, 10**9))  # fuzz the handlers, not the 429s


@dataclass
class FuzzReport:
    statuses: Counter = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)  # "METHOD path -> 5xx: body" for each 5xx

    @property
    def requests(self) -> int:
        return sum(self.statuses.values())

    @property
    def server_errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status >= 500)


def demo_simulator() -> Simulator:
    sim = Simulator.from_dataset("demo", clock=ManualClock(NOW))
    sim.state.dataset.rate_limits = NO_LIMITS
    return sim


def _real_ids(sim: Simulator) -> dict[str, str]:
    """An existing id for each collection a path parameter can name."""
    state = sim.state
    alert = next(iter(state.alerts.values()))
    return {"incidents": alert.incident_id, "services": next(iter(state.services)),
            "schedules": next(iter(state.schedules)), "users": next(iter(state.users)),
            "teams": next(iter(state.teams)), "escalation_policies": next(iter(state.escalation_policies)),
            "log_entries": state.log_entries[-1].id, "alert_id": alert.id, "override_id": "PO00001"}


def implemented_operations(sim: Simulator):
    """The spec's operations the simulator routes (the others would only ever answer 404)."""
    schema = schemathesis.openapi.from_path(str(SPEC))
    found = []
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            raise result.err()  # an operation schemathesis cannot read: say so rather than fuzz less
        operation = result.ok()
        try:
            sim.router.match(operation.method.upper(), operation.path.replace("{", "").replace("}", ""))
        except ApiError:
            continue
        found.append(operation)
    return found


def _path_parameters(operation, ids: dict[str, str]) -> dict[str, str]:
    collection = operation.path.strip("/").split("/")[0]
    params = {}
    for name in (p.name for p in operation.path_parameters):
        params[name] = ids.get(name) or ids.get(collection, "PNOPE00")
    return params


def fuzz(base_url: str, sim: Simulator, budget: int, seed: int = 1) -> FuzzReport:
    """Send about `budget` generated requests, spread evenly over the implemented operations."""
    account = next(t for t in sim.state.dataset.tokens if t.kind == "account" and t.access == "full" and not t.bearer)
    headers = {"Authorization": f"Token token={account.token}", "From": sim.state.dataset.users[0].email}
    ids = _real_ids(sim)
    operations = implemented_operations(sim)
    per_operation = max(1, math.ceil(budget / len(operations)))
    report = FuzzReport()
    session = requests.Session()
    for operation in operations:
        strategy = st.one_of(
            operation.as_strategy(GenerationMode.POSITIVE),
            operation.as_strategy(GenerationMode.NEGATIVE),
            operation.as_strategy(GenerationMode.POSITIVE, path_parameters=_path_parameters(operation, ids)),
        )

        @hypothesis_seed(seed)
        @settings(max_examples=per_operation, database=None, deadline=None, phases=[Phase.generate],
                  suppress_health_check=list(HealthCheck))
        @given(case=strategy)
        def send(case) -> None:
            try:
                response = case.call(base_url=base_url, session=session, headers=headers, timeout=10)
            except requests.RequestException as exc:  # a dropped connection counts as a server failure
                report.statuses[599] += 1
                report.failures.append(f"{case.method} {case.formatted_path} -> connection error: {exc}")
                return
            report.statuses[response.status_code] += 1
            if response.status_code >= 500:
                report.failures.append(f"{case.method} {case.formatted_path} -> {response.status_code}: "
                                       f"{response.text[:300]}")

        send()
    session.close()
    return report


class LoopbackServer:
    """The simulator under uvicorn on 127.0.0.1 (a free port) in a thread, for the length of a `with`."""

    def __init__(self, sim: Simulator) -> None:
        import uvicorn

        self.server = uvicorn.Server(uvicorn.Config(SimulatorApp(sim), host="127.0.0.1", port=0, log_level="error",
                                                    lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the simulator did not start within 10 s")
            time.sleep(0.01)
        return f"http://127.0.0.1:{self.server.servers[0].sockets[0].getsockname()[1]}"

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="about how many requests to send")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    if not SPEC.exists():
        sys.exit(f"PagerDuty's OpenAPI spec is not at {SPEC}")
    sim = demo_simulator()
    started = time.perf_counter()
    with LoopbackServer(sim) as url:
        report = fuzz(url, sim, args.requests, args.seed)
    elapsed = time.perf_counter() - started
    by_class = Counter(f"{status // 100}xx" for status in report.statuses.elements())
    print(json.dumps({"requests": report.requests, "operations": len(implemented_operations(sim)),
                      "server_errors": report.server_errors, "by_class": dict(sorted(by_class.items())),
                      "seconds": round(elapsed, 1)}))
    for failure in report.failures[:20]:
        print(failure, file=sys.stderr)
    sys.exit(1 if report.server_errors else 0)


if __name__ == "__main__":
    main()
