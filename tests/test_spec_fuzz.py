"""A small, bounded run of the spec-driven fuzz (benchmarks/simulator_fuzz.py runs the full one): requests
schemathesis generates from PagerDuty's spec, sent over loopback to the served simulator, never get a 5xx."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from spec_contract import require_spec

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from simulator_fuzz import LoopbackServer, demo_simulator, fuzz, implemented_operations

pytestmark = [pytest.mark.network, pytest.mark.slow]


def test_generated_requests_get_no_server_error():
    require_spec()
    sim = demo_simulator()
    with LoopbackServer(sim) as url:
        report = fuzz(url, sim, budget=84, seed=3)
    assert report.requests >= 84
    assert report.server_errors == 0, "\n".join(report.failures)
    assert report.statuses[200] + report.statuses[201] > 0, "the fuzz never got past validation"


def test_the_fuzz_covers_every_rest_route():
    """Every REST route the simulator has is an operation of the spec the fuzz draws requests for."""
    require_spec()
    sim = demo_simulator()
    fuzzed = {sim.router.match(op.method.upper(), op.path.replace("{", "").replace("}", ""))[0].pattern
              for op in implemented_operations(sim)}
    assert fuzzed == {r.pattern for r in sim.router.routes if r.api == "rest"}
