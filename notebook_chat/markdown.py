"""Markdown for the notebook: the agent's answer, the live list of steps, and a timeline's headline."""

from __future__ import annotations

import html
import re
from typing import Any

from agent.commander import ProgressEvent
from agent.wording import span, when

ARGUMENT_CHARS = 120
_BULLET = re.compile(r"^(\s*)• ")


def as_markdown(text: str) -> str:
    """Answers are plain lines with • bullets (command mode) or Markdown (an LLM): keep the line breaks,
    turn bullets into list items, and keep stray HTML from being rendered."""
    lines = []
    for raw in html.escape(text, quote=False).splitlines():
        bullet = _BULLET.match(raw)
        lines.append(_BULLET.sub(lambda m: f"{m.group(1)}- ", raw) if bullet else raw + "  ")
    return "\n".join(lines)


class StepLog:
    """The steps of one run as a Markdown list that grows and changes in place while the run goes on."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self._running: list[tuple[int, str]] = []  # (line index, tool) of calls not finished yet

    def add(self, event: ProgressEvent) -> bool:
        """Take an event; True when the list changed (answers and notices are shown apart from the steps)."""
        if event.kind == "tool_started":
            self._running.append((len(self.lines), event.tool or ""))
            self.lines.append(f"⏳ {event.message}{_arguments(event.arguments)}")
        elif event.kind == "tool_finished":
            running = next((r for r in self._running if r[1] == event.tool), None)
            if running is None:
                self.lines.append(event.message)
                running = (len(self.lines) - 1, event.tool or "")
            else:
                self._running.remove(running)
            shown = self.lines[running[0]].removeprefix("⏳ ")
            self.lines[running[0]] = f"✅ {shown}" if event.ok else f"❌ {shown}: failed"
        elif event.kind in ("rate_limit_wait", "retry_wait"):
            self.lines.append(f"⏱ {event.message}")
        elif event.kind == "approval_needed":
            self.lines.append(f"✋ {event.message}")
        elif event.kind == "decision_recorded":
            self.lines.append(f"🧾 {event.message}")
        else:
            return False
        return True

    def markdown(self) -> str:
        return "\n".join(f"- {html.escape(line, quote=False)}" for line in self.lines)

    def html(self) -> str:
        """The same list for an HTML widget, which updates reliably where a display handle may not."""
        return '<ul style="margin:2px 0">' + "".join(f"<li>{inline_html(line)}</li>" for line in self.lines) + "</ul>"


def inline_html(text: str) -> str:
    """Plain text as HTML, with `code` in backticks shown as code."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(text, quote=False))


def timeline_headline(data: dict[str, Any]) -> str:
    """What a post-mortem starts with: the incident, when it began, how long to acknowledge and resolve."""
    incident = data.get("incident") or {}
    service = (incident.get("service") or {}).get("name")
    facts = [f"{incident.get('urgency', '?')} urgency", str(incident.get("status", "?"))]
    tta, ttr = data.get("minutes_to_first_ack"), data.get("minutes_to_resolve")
    acknowledged = "never acknowledged" if incident.get("status") == "resolved" else "not acknowledged yet"
    if tta is not None:
        first = (data.get("acknowledged_by") or [{}])[0].get("user")
        acknowledged = f"acknowledged after **{span(tta * 60)}**" + (f" by {_plain(first)}" if first else "")
    resolved = "not resolved yet"
    if ttr is not None:
        by = data.get("resolved_by")
        resolved = f"resolved after **{span(ttr * 60)}**" + (f" by {_plain(by)}" if by else "")
    parts = [f"### #{incident.get('number', '')} {_plain(incident.get('title', ''))}",
             " · ".join(_plain(fact) for fact in filter(None, [service, *facts])),
             f"Triggered {when(data.get('triggered_at'))}, {acknowledged}, {resolved}."]
    if data.get("resolution"):
        parts.append(f"Resolution: {_plain(data['resolution'])}")
    changes = data.get("changes_nearby") or []
    if changes:
        parts.append("Changes nearby:\n" + "\n".join(f"- {when(c.get('at'))} {_plain(c.get('summary', ''))}"
                                                     for c in changes))
    return "\n\n".join(parts)


def _arguments(arguments: dict[str, Any] | None) -> str:
    if not arguments:
        return ""
    text = ", ".join(f"{k}: {v}" for k, v in arguments.items())
    return f" ({text if len(text) <= ARGUMENT_CHARS else text[:ARGUMENT_CHARS - 1] + '…'})"


def _plain(text: str) -> str:
    """Text from PagerDuty shown as it is, not as Markdown or HTML."""
    return re.sub(r"([\\`*_\[\]#<>|])", r"\\\1", str(text))
