"""How the command line shows things: one progress line per event for people, tables and JSON for data.

Text that comes from outside (summaries, answers, PagerDuty's words) is escaped, so a name in square
brackets is shown as typed instead of being read as rich markup. Nonces are never shown: the command
line decides by approval id, and a nonce is only worth something while nobody else has seen it.
"""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING, Any

from rich.markup import escape
from rich.table import Table

from agent.wording import arguments_for_people, when

if TYPE_CHECKING:  # types only: importing the commander here would load LangGraph for `--help`
    from agent.approvals import ApprovalRequest
    from agent.audit import AuditEntry
    from agent.commander import ProgressEvent
    from agent.doctor import Report

PROGRAM = "incident-commander"
STATUS_STYLE = {"ok": "[green]ok[/]", "warn": "[yellow]warn[/]", "fail": "[bold red]FAIL[/]", "skip": "[dim]skip[/]"}


def event_line(event: ProgressEvent) -> str | None:
    """A line for stderr, or None for the events a surface prints as data (the answer)."""
    text = escape(event.message)
    if event.kind == "tool_started":
        return f"[dim]  → {text}…[/]"
    if event.kind == "tool_finished":
        return f"[green]  ✓ {text}[/]" if event.ok else f"[red]  ✗ {text}: failed[/]"
    if event.kind in ("rate_limit_wait", "retry_wait"):
        return f"[yellow]  ⏳ {text}[/]"
    if event.kind == "approval_needed" and event.approval is not None:
        return f"[bold yellow]  ? {text}[/] [dim]({event.approval.id})[/]"
    if event.kind == "decision_recorded":
        return f"[cyan]  ✔ {text}[/]"
    if event.kind == "failed":
        return f"[bold red]{text}[/]"
    if event.kind == "notice":
        return f"[yellow]{text}[/]"
    return None


def approval_record(request: ApprovalRequest) -> dict[str, Any]:
    """An approval as JSON for scripts (no nonce)."""
    return request.model_dump(mode="json", exclude={"nonce"})


def event_record(event: ProgressEvent) -> dict[str, Any]:
    record = event.model_dump(mode="json", exclude={"approval"}, exclude_none=True)
    if event.approval is not None:
        record["approval_id"] = event.approval.id
    return record


def decide_commands(request: ApprovalRequest, *, expired: bool = False) -> list[str]:
    """The exact commands that decide this approval later, from any shell (an expired one: reject only)."""
    where = f"{shlex.quote(request.thread_id)} {shlex.quote(request.id)}"
    field = next(iter(request.arguments), "FIELD")
    approve = [f"{PROGRAM} approve {where}", f"{PROGRAM} approve {where} --set {field}=VALUE"]
    return [*([] if expired else approve), f"{PROGRAM} reject {where} --reason '<why>'"]


def arguments_line(request: ApprovalRequest) -> str:
    """The arguments as people read them: 'incident: #268 API p99 latency (PQ001ZD) · action: acknowledge'."""
    return "with " + " · ".join(f"{label}: {value}" for label, value in arguments_for_people(request))


def approval_block(request: ApprovalRequest, *, expired: bool = False) -> str:
    """A pending approval as plain text: what it does, with what, who asked, and the commands that decide it."""
    expires = when(request.expires_at.isoformat())
    until = f"EXPIRED at {expires}, reject it and ask again" if expired else f"expires {expires}"
    lines = [f"{request.id} · thread {request.thread_id} · {request.risk} risk · requested by {request.requester}"
             f" · {until}",
             f"  {request.summary}",
             f"  {arguments_line(request)}",
             *(f"  {command}" for command in decide_commands(request, expired=expired))]
    return "\n".join(lines)


def audit_table(entries: list[AuditEntry], *, with_thread: bool = True) -> Table:
    table = Table(title="Audit trail", title_justify="left")
    columns = ["at (UTC)", *(["thread"] if with_thread else []), "who", "action", "tool", "outcome"]
    for column in columns:
        table.add_column(column, overflow="fold", no_wrap=column in ("at (UTC)", "action"))
    for e in entries:
        table.add_row(f"{e.at:%Y-%m-%d %H:%M:%S}", *([escape(e.thread_id)] if with_thread else []), escape(e.actor),
                      e.action, escape(e.tool or ""), escape(e.outcome))
    return table


def tools_table(rows: list[dict[str, str]]) -> Table:
    table = Table(title="Tools", title_justify="left")
    for column in ("name", "kind", "approval", "description"):
        table.add_column(column, no_wrap=column != "description", overflow="fold")
    for row in rows:
        table.add_row(row["name"], row["kind"], row["approval"], escape(row["description"]))
    return table


def doctor_table(report: Report) -> Table:
    table = Table(title=f"Checked against {escape(report.target)}", title_justify="left")
    table.add_column("check", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("details", overflow="fold")
    for check in report.checks:
        table.add_row(check.name, STATUS_STYLE[check.status], escape(check.detail))
    return table


def first_sentence(text: str) -> str:
    """A catalogue description's first sentence, for a one-line listing."""
    line = " ".join(text.split())
    end = line.find(". ")
    return line if end < 0 else line[:end + 1]
