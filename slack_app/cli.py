"""`incident-commander slack …`: run the Slack app (HTTP under uvicorn, or Socket Mode)."""

from __future__ import annotations

import typer
from pydantic import ValidationError
from rich.console import Console

from agent.settings import Settings
from slack_app.settings import SlackSettings

app = typer.Typer(help="Incident Commander as a Slack app: /ic commands, approval buttons.",
                  no_args_is_help=True, pretty_exceptions_enable=False)


@app.callback()
def slack() -> None:
    """Incident Commander as a Slack app."""


@app.command()
def serve(host: str = typer.Option("127.0.0.1", help="Address to listen on (0.0.0.0 behind a proxy)."),
          port: int = typer.Option(3000, help="Port to listen on."),
          socket_mode: bool = typer.Option(False, "--socket-mode",
                                           help="Connect out to Slack with SLACK_APP_TOKEN; no public URL needed.")
          ) -> None:
    """Serve Slack's requests at /slack/events (and /healthz), or over Socket Mode."""
    # Slack Bolt, uvicorn and the commander are slow to import; every other command of the CLI goes without them.
    import uvicorn

    from agent.commander import Commander
    from slack_app.app import SetupError, build_app, check_setup
    from slack_app.server import EVENTS_PATH, HEALTH_PATH, SlackServer, socket_mode_handler

    err = Console(stderr=True, soft_wrap=True)  # one-line errors stay one line, whatever the path length
    try:
        slack_settings = SlackSettings()
        check_setup(slack_settings, socket_mode=socket_mode)
        agent_settings = Settings()
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        err.print(f"Cannot start: a setting is not valid ({problems}).")
        raise typer.Exit(2) from None
    except SetupError as exc:
        err.print(f"Cannot start: {exc}")
        raise typer.Exit(2) from None
    try:
        commander = Commander.from_settings(agent_settings)
    except ValueError as exc:  # a broken approval policy or PagerDuty setting, named in the message
        err.print(f"Cannot start: {exc}")
        raise typer.Exit(2) from None
    with commander:
        try:
            bolt = build_app(commander, slack_settings, socket_mode=socket_mode)
            handler = socket_mode_handler(bolt, slack_settings) if socket_mode else None
        except ValueError as exc:  # SetupError, or an unreadable IC_SLACK_USER_MAP
            err.print(f"Cannot start: {exc}")
            raise typer.Exit(2) from None
        for notice in commander.notices:
            err.print(notice)
        if handler is not None:
            err.print(f"Connecting to Slack over Socket Mode; commands: {slack_settings.command}")
            handler.start()
        else:
            err.print(f"Slack requests: http://{host}:{port}{EVENTS_PATH} · health: http://{host}:{port}{HEALTH_PATH}")
            assert slack_settings.signing_secret is not None  # check_setup makes sure in HTTP mode
            server = SlackServer(bolt, slack_settings.signing_secret.get_secret_value())
            uvicorn.run(server, host=host, port=port, log_level="info")
