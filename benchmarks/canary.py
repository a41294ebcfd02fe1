"""Canary secrets: configure made-up secrets, make every outside service quote them back, and search every
artifact for them.

    python benchmarks/canary.py [--verbose]

A loopback server plays an OpenAI-compatible endpoint and a PagerDuty API that both answer 401 with the
caller's credential in the message (as some proxies do). The real command line then runs against it and
against the embedded simulator — writes approved with `--approve-all`, `--json` output, `audit --json`,
an eval run with its report and trajectories — with a canary OpenAI key, PagerDuty token and Slack
secrets set. Searched: stdout and stderr of every command, the files they wrote, and the checkpoint
database, both its raw bytes and every checkpoint and pending write decoded. Prints where each canary
was found; exit status 1 if any was.
"""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
import subprocess
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

ROOT = Path(__file__).resolve().parents[1]
PROGRAM = [sys.executable, "-c", "from command_line.main import main; main()"]  # the command line of this tree


def canaries() -> dict[str, str]:
    tail = secrets.token_hex(12)
    return {"OPENAI_API_KEY": f"sk-canary{tail}", "PAGERDUTY_API_KEY": f"pdcanary{tail}",
            "SLACK_BOT_TOKEN": f"xoxb-canary-{tail}", "SLACK_SIGNING_SECRET": f"signcanary{tail}",
            "SLACK_APP_TOKEN": f"xapp-canary-{tail}"}


class EchoingEndpoints(BaseHTTPRequestHandler):
    """401 for everything, quoting the credential it was given: the worst an outside service can do."""

    def _answer(self) -> None:
        self.rfile.read(int(self.headers.get("content-length") or 0))
        credential = self.headers.get("authorization") or ""
        body = json.dumps({"error": {"message": f"Incorrect API key provided: {credential}", "code": 2006,
                                     "type": "invalid_request_error",
                                     "errors": [f"The credential {credential} is not valid"]}}).encode()
        self.send_response(401)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = _answer

    def log_message(self, *args: object) -> None:
        pass


def run(args: list[str], env: dict[str, str], outputs: list[tuple[str, str]]) -> None:
    done = subprocess.run([*PROGRAM, *args], env=env | {"PYTHONPATH": str(ROOT)}, capture_output=True, text=True,
                          timeout=300, cwd=ROOT)
    outputs += [(f"stdout of {' '.join(args[:3])}", done.stdout), (f"stderr of {' '.join(args[:3])}", done.stderr)]


def decoded_checkpoints(db: Path) -> str:
    """Every checkpoint and pending write of the SQLite checkpointer, decoded to text."""
    serde = JsonPlusSerializer()
    parts: list[str] = []
    with sqlite3.connect(db) as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "checkpoints" in tables:
            for kind, blob in conn.execute("SELECT type, checkpoint FROM checkpoints"):
                parts.append(repr(serde.loads_typed((kind, blob))))
        if "writes" in tables:
            for kind, blob in conn.execute("SELECT type, value FROM writes"):
                parts.append(repr(serde.loads_typed((kind, blob))))
        for table in tables - {"checkpoints", "writes"}:
            parts += [repr(row) for row in conn.execute(f'SELECT * FROM "{table}"')]
    return "\n".join(parts)


def main() -> int:
    secret = canaries()
    server = ThreadingHTTPServer(("127.0.0.1", 0), EchoingEndpoints)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    outputs: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory(prefix="ic-canary-") as tmp:
        work = Path(tmp)
        base = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "PAGERDUTY_", "SLACK_", "IC_"))}
        base |= {"IC_CHECKPOINT_DB": str(work / "ic.sqlite"), "IC_REQUESTER": "dana.whitfield@acme.example",
                 "SLACK_BOT_TOKEN": secret["SLACK_BOT_TOKEN"], "SLACK_SIGNING_SECRET": secret["SLACK_SIGNING_SECRET"],
                 "SLACK_APP_TOKEN": secret["SLACK_APP_TOKEN"], "COLUMNS": "200"}
        model = base | {"OPENAI_API_KEY": secret["OPENAI_API_KEY"], "OPENAI_BASE_URL": f"{url}/v1"}
        pagerduty = base | {"PAGERDUTY_API_KEY": secret["PAGERDUTY_API_KEY"], "PAGERDUTY_API_HOST": url,
                            "PAGERDUTY_FROM_EMAIL": "dana.whitfield@acme.example"}
        for env in (base, model, pagerduty):  # embedded demo + command mode; the model refusing; PagerDuty refusing
            for json_out in ([], ["--json"]):
                run(["ask", "ack 268", "--approve-all", "--thread", f"t{len(outputs)}", *json_out], env, outputs)
                run(["ask", "oncall API Gateway", "--thread", f"t{len(outputs)}", *json_out], env, outputs)
        run(["audit", "--json"], base, outputs)
        run(["doctor", "--json"], pagerduty, outputs)
        run(["eval", "--model", "openai:gpt-canary", "--base-url", f"{url}/v1", "--tags", "postmortem",
             "--output", str(work / "eval.json"), "--report", str(work / "eval.md"),
             "--trajectories", str(work / "trajectories.jsonl"), "--concurrency", "1"], model, outputs)
        for path in sorted(work.iterdir()):
            if path.suffix in (".json", ".md", ".jsonl"):
                outputs.append((path.name, path.read_text(errors="replace")))
            elif path.name.startswith("ic.sqlite"):
                outputs.append((f"{path.name} (raw bytes)", path.read_bytes().decode("latin-1")))
        outputs.append(("checkpoint DB decoded", decoded_checkpoints(work / "ic.sqlite")))
    server.shutdown()
    found = [(name, where) for name, value in secret.items() for where, text in outputs if value in text]
    if "--verbose" in sys.argv:
        for where, text in outputs:
            print(f"{where}: {len(text)} characters: {' '.join(text.split())[:150]}")
    for name, where in found:
        print(f"FOUND {name} in {where}")
    print(f"{len(secret)} canaries, {len(outputs)} artifacts searched, {len(found)} found")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
