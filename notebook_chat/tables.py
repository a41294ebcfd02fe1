"""HTML tables for the notebook: on-call, incidents, the audit trail, the conversation, a timeline.

Tables are built from the tools' JSON (not from the answer's sentences), so they hold whatever the
agent actually saw. Every value is escaped; only `Markup` passes through as it is.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Sequence
from typing import Any

from agent.audit import AuditEntry
from agent.wording import ToolResult, name_of, when

_TABLE = "border-collapse:collapse;margin:4px 0 10px 0;font-size:0.9em"
_HEAD = "text-align:left;border-bottom:2px solid #999;padding:3px 10px 3px 0"
_CELL = "text-align:left;vertical-align:top;border-bottom:1px solid #ddd;padding:3px 10px 3px 0;white-space:{wrap}"
NO_WRAP_CHARS = 24  # short values (times, names, ids) stay on one line; longer text wraps
_CAPTION = "caption-side:top;text-align:left;font-weight:bold;padding:2px 0"


class Markup(str):
    """HTML that is already safe to show (a link built here), so `html_table` does not escape it."""


def link(text: str, url: str | None) -> str:
    return Markup(f'<a href="{html.escape(url, quote=True)}" target="_blank">{html.escape(text)}</a>') if url else text


def html_table(columns: Sequence[str], rows: Iterable[Sequence[Any]], caption: str | None = None) -> str:
    """A plain, readable table; `None` shows as an empty cell."""
    head = "".join(f'<th style="{_HEAD}">{html.escape(c)}</th>' for c in columns)
    body = "".join("<tr>" + "".join(_td(v) for v in row) + "</tr>" for row in rows)
    title = f'<caption style="{_CAPTION}">{html.escape(caption)}</caption>' if caption else ""
    return f'<table style="{_TABLE}">{title}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def result_tables(result: ToolResult) -> list[str]:
    """The tables a tool result deserves: on-call entries, incident lists, or one incident."""
    data = result.data
    if result.error or not isinstance(data, dict):
        return []
    tables = []
    if data.get("oncalls"):
        tables.append(oncall_table(data["oncalls"], caption=_oncall_caption(data)))
    if data.get("incidents") and isinstance(data["incidents"], list):
        tables.append(incident_table(data["incidents"], caption=f"Incidents ({len(data['incidents'])})"))
    elif _is_incident(data):
        tables.append(incident_table([data]))
    return tables


def oncall_table(entries: list[dict[str, Any]], caption: str | None = None) -> str:
    rows = [(name_of(e.get("escalation_policy")), e.get("level"), name_of(e.get("user")),
             (e.get("user") or {}).get("email"), name_of(e.get("schedule")),
             when(e["end"]) if e.get("end") else "until further notice") for e in entries]
    return html_table(["Escalation policy", "Level", "On call", "Email", "Via schedule", "Until"], rows, caption)


def incident_table(incidents: list[dict[str, Any]], caption: str | None = None) -> str:
    rows = [(link(f"#{i['number']}" if i.get("number") else str(i.get("id", "")), i.get("html_url")),
             i.get("status"), i.get("urgency"), i.get("title"), name_of(i.get("service")),
             name_of(i.get("assignees")), when(i.get("created_at")) if i.get("created_at") else None)
            for i in incidents]
    return html_table(["Incident", "Status", "Urgency", "Title", "Service", "Assigned to", "Created"], rows, caption)


def audit_table(entries: list[AuditEntry], with_thread: bool = False) -> str:
    columns = ["At", *(["Thread"] if with_thread else []), "Actor", "Action", "Tool", "Arguments", "Outcome"]
    rows = [(when(e.at.isoformat()), *([e.thread_id] if with_thread else []), e.actor, e.action.replace("_", " "),
             e.tool, json.dumps(e.arguments, ensure_ascii=False, sort_keys=True) if e.arguments else None, e.outcome)
            for e in entries]
    return html_table(columns, rows, caption=f"Audit trail ({len(entries)} entries)")


def timeline_table(data: dict[str, Any]) -> str:
    """Every log entry of the incident, in order, with minutes since the trigger."""
    rows = [(when(e.get("at")), _minutes(e.get("minutes_after_trigger")), e.get("type"), e.get("summary"),
             e.get("by"), e.get("note")) for e in data.get("entries") or []]
    return html_table(["At", "After trigger", "Event", "What happened", "By", "Note"], rows,
                      caption=f"Log entries ({len(rows)})")


def _minutes(value: Any) -> str:
    return f"+{value:g} min" if isinstance(value, (int, float)) else ""


def _oncall_caption(data: dict[str, Any]) -> str:
    if data.get("at"):
        return f"On call at {when(data['at'])}"
    window = data.get("window") or {}
    return f"On call from {when(window.get('since'))} to {when(window.get('until'))}" if window else "On call"


def _is_incident(data: dict[str, Any]) -> bool:
    return "title" in data and "status" in data and ("id" in data or "number" in data)


def _td(value: Any) -> str:
    text = "" if value is None else str(value)
    wrap = "nowrap" if len(text) <= NO_WRAP_CHARS or isinstance(value, Markup) else "pre-wrap"
    return f'<td style="{_CELL.format(wrap=wrap)}">{text if isinstance(value, Markup) else html.escape(text)}</td>'
