"""The command-line fuzz in small: whatever is typed, every invocation ends with a message and an exit
code, never an exception or a traceback."""

from __future__ import annotations

import pytest

from benchmarks.cli_fuzz import run


@pytest.mark.slow
def test_no_typed_input_crashes_the_command_line():
    outcomes = run(runs=40, seed=3)

    assert sum(outcomes.values()) == 40 and outcomes["crash"] == 0
