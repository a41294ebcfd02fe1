"""The simulator's command line: `serve` it over HTTP(S), `import` a real account into a dataset, or run
the `demo` walkthrough.

Messages for people go to stderr through rich; stdout carries only plain data (the demo's summary),
so both commands can be piped.
"""

from __future__ import annotations

import contextlib
import json
from datetime import UTC
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.table import Table

from .account import Account
from .asgi import SimulatorApp
from .core import Simulator
from .datasets import load_dataset
from .models import Dataset, Token

if TYPE_CHECKING:  # uvicorn is imported by `serve` alone: `demo` and the commander's CLI start faster without it
    import uvicorn

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="A local PagerDuty (REST API v2 + Events API v2) for tests, demos and evals.")
console = Console(stderr=True, soft_wrap=True)

ACCEPT = "application/vnd.pagerduty+json;version=2"


def account_token(dataset: Dataset) -> Token:
    """The full-access account token: the one a person pointing a client at the simulator wants."""
    for token in dataset.tokens:
        if token.kind == "account" and token.access == "full" and not token.bearer:
            return token
    return dataset.tokens[0]


def build_simulator(dataset: str, state_file: Path | None, requests_per_minute: int | None) -> Simulator:
    """A saved state when there is one (it carries its dataset), else a fresh account from the dataset."""
    if state_file is not None and state_file.exists():
        sim = Simulator(Account.load(state_file))
    else:
        sim = Simulator.from_dataset(load_dataset(dataset))
    if requests_per_minute is not None:
        limits = sim.state.dataset.rate_limits
        sim.state.dataset.rate_limits = limits.model_copy(update={"requests_per_minute": requests_per_minute})
    return sim


def _simulator_server(sim: Simulator, scheme: str, state_file: Path | None, **config: Any) -> uvicorn.Server:
    """A uvicorn server that says where it listens once the socket is bound (so `--port 0` prints the real
    port), and saves the state once requests have stopped: uvicorn re-raises SIGINT/SIGTERM after shutting
    down, so saving after `run()` returns would be too late."""
    import uvicorn  # slow to import: only `serve` needs it

    class SimulatorServer(uvicorn.Server):
        async def startup(self, sockets: Any = None) -> None:
            await super().startup(sockets)
            if not self.started:
                return
            host, port = self.servers[0].sockets[0].getsockname()[:2]
            dataset = sim.state.dataset
            console.print(f"[bold green]PagerDuty simulator[/] listening on [bold]{scheme}://{host}:{port}[/]"
                          f"  (Events API at {scheme}://{host}:{port}/v2/enqueue)")
            console.print(f"dataset: [bold]{dataset.name}[/] ({len(dataset.services)} services, "
                          f"{len(dataset.users)} users, {len(sim.state.incidents)} incidents)")
            console.print(f"account token: [bold]Authorization: Token token={account_token(dataset).token}[/]"
                          "  (writes also need a From: <user email> header)")
            console.print("Ctrl-C stops it.")

        async def shutdown(self, sockets: Any = None) -> None:
            await super().shutdown(sockets)
            if state_file is not None:
                with sim.lock:
                    sim.state.save(state_file)
                console.print(f"state saved to {state_file}")

    return SimulatorServer(uvicorn.Config(SimulatorApp(sim), **config))


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on (0 picks a free one).")] = 8080,
    dataset: Annotated[str, typer.Option(help="Bundled dataset name or a YAML/JSON file.")] = "demo",
    state: Annotated[Path | None, typer.Option(
        help="Load the account from FILE if it exists; save it there on exit.")] = None,
    tls_cert: Annotated[Path | None, typer.Option(help="PEM certificate: serve HTTPS.")] = None,
    tls_key: Annotated[Path | None, typer.Option(help="PEM private key for --tls-cert.")] = None,
    requests_per_minute: Annotated[int | None, typer.Option(min=1, help="Per-token REST rate limit.")] = None,
) -> None:
    """Serve the REST API at / and the Events API at /v2/ until Ctrl-C."""
    if (tls_cert is None) != (tls_key is None):
        raise typer.BadParameter("--tls-cert and --tls-key go together")
    try:
        sim = build_simulator(dataset, state, requests_per_minute)
    except (ValueError, OSError) as exc:
        console.print(f"[red]cannot start:[/] {exc}")
        raise typer.Exit(2) from None
    server = _simulator_server(sim, "https" if tls_cert else "http", state, host=host, port=port,
                               log_level="warning", lifespan="on", ssl_certfile=str(tls_cert) if tls_cert else None,
                               ssl_keyfile=str(tls_key) if tls_key else None)
    with contextlib.suppress(KeyboardInterrupt):  # uvicorn re-raises Ctrl-C once it has shut down cleanly
        server.run()


@app.command("import")
def import_account(
    out: Annotated[Path, typer.Option(help="Write the dataset (YAML) to FILE; serve it with --dataset FILE.")],
    api_key: Annotated[str, typer.Option(envvar="PAGERDUTY_API_KEY", show_default=False,
                                         help="A PagerDuty REST API key; a read-only key is enough.")],
    api_url: Annotated[str, typer.Option(envvar="PAGERDUTY_API_HOST", help="The REST API's address.")]
        = "https://api.pagerduty.com",
    days: Annotated[int, typer.Option(min=0, max=365, help="Also copy the incidents of the last N days.")] = 0,
    anonymise: Annotated[bool, typer.Option(help="Replace people's names and emails with pseudonyms.")] = False,
) -> None:
    """Copy a PagerDuty account (directory, schedules, overrides, optionally recent incidents) into a dataset."""
    from datetime import datetime
    from time import sleep

    from .importer import AccountReader, ImportFailed, build_dataset, read_account, write_dataset
    from .importer import anonymise as anonymised

    headers = {"Authorization": f"Token token={api_key}", "Accept": ACCEPT}
    with httpx.Client(base_url=api_url, headers=headers, timeout=30) as client:
        reader = AccountReader(client, sleep, progress=lambda message: console.print(message))
        try:
            data = read_account(reader, datetime.now(UTC), days)
        except ImportFailed as exc:
            console.print(f"[red]import failed:[/] {exc}")
            raise typer.Exit(1) from None
    dataset = build_dataset(anonymised(data) if anonymise else data)
    write_dataset(dataset, out)
    console.print(f"wrote {out}: {len(dataset.users)} users, {len(dataset.schedules)} schedules, "
                  f"{len(dataset.services)} services, {len(dataset.incidents)} incidents "
                  f"({reader.requests} requests). Serve it: incident-commander sim serve --dataset {out}")


# --- the walkthrough ---


def _check(response: httpx.Response) -> dict:
    if response.is_error:
        console.print(f"[red]{response.request.method} {response.request.url.path} → {response.status_code}[/] "
                      f"{response.text}")
        raise typer.Exit(1)
    return response.json()


@app.command()
def demo() -> None:
    """A short tour of the demo organisation through the REST API, in-process (no network, no keys)."""
    sim = Simulator.from_dataset("demo")
    dataset = sim.state.dataset
    actor = dataset.users[0]
    headers = {"Authorization": f"Token token={account_token(dataset).token}", "Accept": ACCEPT,
               "From": actor.email}
    with httpx.Client(transport=sim.transport(), base_url="https://api.pagerduty.com", headers=headers) as api:
        services = _check(api.get("/services", params={"limit": 100}))["services"]
        table = Table(title=f"{dataset.name}: services")
        for column in ("service", "status", "escalation policy"):
            table.add_column(column)
        for service in services:
            table.add_row(service["name"], service["status"], service["escalation_policy"]["summary"])
        console.print(table)

        gateway = next(s for s in services if s["name"] == "API Gateway")
        policy = gateway["escalation_policy"]
        oncalls = _check(api.get("/oncalls", params={"escalation_policy_ids[]": policy["id"]}))["oncalls"]
        table = Table(title=f"On call for API Gateway now ({policy['summary']})")
        for column in ("level", "who", "via", "until"):
            table.add_column(column)
        for entry in oncalls:
            table.add_row(str(entry["escalation_level"]), entry["user"]["summary"],
                          entry["schedule"]["summary"] if entry["schedule"] else "directly",
                          entry.get("end") or "always")
        console.print(table)

        incident = _check(api.post("/incidents", json={"incident": {
            "type": "incident", "title": "API Gateway: 5xx rate above 5% (demo)", "urgency": "high",
            "service": {"id": gateway["id"], "type": "service_reference"},
            "body": {"type": "incident_body", "details": "Created by `python -m simulator demo`."}}}))["incident"]
        console.print(f"created incident #{incident['incident_number']} ({incident['id']}), "
                      f"assigned to {', '.join(a['assignee']['summary'] for a in incident['assignments'])}")
        for status in ("acknowledged", "resolved"):
            incident = _check(api.put(f"/incidents/{incident['id']}", json={"incident": {
                "type": "incident_reference", "status": status}}))["incident"]
            console.print(f"{actor.name} set it to [bold]{incident['status']}[/]")

        entries = _check(api.get(f"/incidents/{incident['id']}/log_entries"))["log_entries"]
        table = Table(title=f"Log entries of incident #{incident['incident_number']}")
        for column in ("at", "type", "summary"):
            table.add_column(column)
        for entry in entries:
            table.add_row(entry["created_at"], entry["type"], entry["summary"])
        console.print(table)
    print(json.dumps({"incident": incident["id"], "status": incident["status"],
                      "log_entries": [e["type"] for e in entries]}))


def main() -> None:
    app()


if __name__ == "__main__":
    main()
