"""The chaos suite in small: every write tool, killed once before, once during and once after its request
lands, then resumed in a new process, happens exactly once and is reported as done."""

from __future__ import annotations

import pytest

from benchmarks.chaos import CASES, chaos
from tools.registry import TOOLS

WRITES = {name for name, tool in TOOLS.items() if tool.kind == "write"}


def test_the_suite_covers_every_write_tool():
    assert {case.tool for case in CASES} == WRITES


@pytest.mark.slow
def test_every_write_tool_happens_once_whenever_the_approving_process_dies():
    tallies = chaos(runs=3, seed=1, every_phase=True)

    assert all(t.phases == {"before": 1, "during": 1, "after": 1} for t in tallies.values())
    assert {tool: (t.duplicates, t.losses, t.false_failures) for tool, t in tallies.items()} == {
        tool: (0, 0, 0) for tool in WRITES}
