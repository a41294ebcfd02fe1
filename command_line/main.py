"""The `incident-commander` console script: the command line's own commands, with the simulator's, the
Slack app's and the eval runner's mounted beside them.

This is the composition root, not a surface: each package keeps its commands in its own module, and only
here are they put together. tests/test_layering.py lets this module import those command modules and
nothing else, so no surface reaches into another package through it.
"""

from __future__ import annotations

import simulator.__main__ as simulator_commands
import slack_app.cli as slack_commands
from command_line.cli import app
from evals.cli import eval_command

app.add_typer(simulator_commands.app, name="sim")
app.add_typer(slack_commands.app, name="slack")
app.command("eval")(eval_command)  # after the conversation commands, so --help lists those first


def main() -> None:
    app(prog_name=app.info.name)
