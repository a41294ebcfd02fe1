"""The README's Quick start is what a newcomer runs first: its commands must keep doing what it says."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from test_cli import run

ROOT = Path(__file__).resolve().parents[1]


def quick_start() -> list[str]:
    """The two command lines of the Quick start's code block."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"## Quick start\s+```bash\n(.*?)```", readme, re.S)
    assert block, "the README has no Quick start code block"
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_the_quick_start_has_exactly_two_commands_and_the_second_is_what_ci_runs():
    install_and_run, install_and_test = quick_start()
    assert "pip install -q -e ." in install_and_run and "incident-commander " in install_and_run  # answer last
    pytest_command = install_and_test.split("&&")[-1].strip()
    assert pytest_command.startswith("python -m pytest")
    assert pytest_command in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_the_quick_start_pages_the_on_call_on_the_embedded_defaults(env):
    command = shlex.split(quick_start()[0].split("&&")[-1])
    assert command[0] == "incident-commander"
    first = run(env, *command[1:])
    assert first.exit_code == 0, first.output
    assert re.match(r"Triggered: #\d+ \[triggered, high\] .* — API Gateway — assigned to \w+", first.stdout)
    again = run(env, *command[1:])  # the README promises the second run pages nobody twice
    assert again.exit_code == 0 and again.stdout.startswith("Nothing new:")
    assert "nobody was paged again" in again.stdout
    assert "approv" not in again.output.lower()  # answered at once: no approval asked, none decided
