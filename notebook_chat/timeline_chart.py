"""The post-mortem timeline as a picture: one lane per kind of event on a time axis, with the time to
acknowledge and the time to resolve drawn as spans from the trigger.

It reads the `incident_timeline` tool's JSON. It draws on a bare `Figure` with the Agg canvas, never
through pyplot, so it works the same in a kernel, in CI and in a plain process, whatever the backend.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from matplotlib import dates as mdates
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from agent.wording import span

# Log entry type → (lane, marker, colour); lanes are drawn top to bottom in this order.
LANES: dict[str, tuple[str, str, str]] = {
    "trigger": ("Triggered", "^", "#d62728"),
    "notify": ("Notified", "o", "#1f77b4"),
    "escalate": ("Escalated", "D", "#ff7f0e"),
    "acknowledge": ("Acknowledged", "s", "#c99700"),
    "annotate": ("Notes", "P", "#9467bd"),
    "resolve": ("Resolved", "*", "#2ca02c"),
}
# What to strip from an entry's summary to leave the short label drawn next to its marker.
_PREFIXES = ("Triggered by ", "Notified ", "Escalated to ", "Acknowledged by ", "Note added by ", "Resolved by ")
LABEL_CHARS = 30
LABEL_STEPS = 3  # how many heights a label may take above its marker to keep clear of its neighbours
DPI = 110


def timeline_png(data: dict[str, Any]) -> bytes:
    """The chart of an `incident_timeline` result, as PNG bytes."""
    figure = timeline_figure(data)
    buffer = io.BytesIO()
    FigureCanvasAgg(figure).print_png(buffer)
    return buffer.getvalue()


def timeline_figure(data: dict[str, Any]) -> Figure:
    start = _moment(data["triggered_at"])
    marks = _marks(data, start)
    end = max([start, *(at for _, at, _ in marks)])
    pad = max((end - start) * 0.06, timedelta(minutes=2))

    figure = Figure(figsize=(10, 4.4), dpi=DPI, layout="constrained")
    renderer = FigureCanvasAgg(figure).get_renderer()
    axes = figure.add_subplot()
    axes.set_xlim(start - pad, end + pad)  # type: ignore[arg-type]  # matplotlib's stubs know only floats; it converts dates
    axes.set_ylim(-0.75, len(LANES) + 0.8)
    placed: list[Any] = []
    for y, (kind, (_, marker, colour)) in zip(range(len(LANES), 0, -1), LANES.items(), strict=True):
        axes.axhline(y, color="#eeeeee", linewidth=1, zorder=0)
        for at, label in _grouped((at, label) for k, at, label in marks if k == kind):
            axes.plot(at, y, marker=marker, color=colour, markersize=12 if marker == "*" else 8, linestyle="none",  # type: ignore[arg-type]
                      zorder=3)
            _label(axes, renderer, placed, at, y, label)
    _mark_durations(axes, renderer, data, start)

    _mark_durations(axes, renderer, data, start)

    axes.set_yticks(range(len(LANES), 0, -1), [lane for lane, _, _ in LANES.values()])
    axes.xaxis.set_major_locator(mdates.AutoDateLocator(minticks=4, maxticks=9))
    axes.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M" if end.date() == start.date() else "%d %b %H:%M"))
    axes.set_xlabel(f"UTC, {start:%a %d %b %Y}" + (f" to {end:%a %d %b}" if end.date() != start.date() else ""))
    for side in ("top", "right", "left"):
        axes.spines[side].set_visible(False)
    axes.tick_params(axis="y", length=0)
    axes.set_title(_title(data), loc="left", fontsize=11, fontweight="bold")
    return figure


def _label(axes: Any, renderer: Any, placed: list[Any], at: datetime, y: float, text: str) -> None:
    """Write `text` just above and right of its marker, one step higher while it would cover another label."""
    left, right = axes.get_xlim()
    near_end = mdates.date2num(at) > left + 0.8 * (right - left)  # such labels grow leftwards, inside the chart
    for step in range(LABEL_STEPS):
        note = axes.annotate(text, (at, y), xytext=(-3 if near_end else 3, 7 + 10 * step), textcoords="offset points",
                             ha="right" if near_end else "left", va="bottom", fontsize=7.5, color="#333333")
        box = note.get_window_extent(renderer)
        if step == LABEL_STEPS - 1 or not any(box.overlaps(other) for other in placed):
            placed.append(box)
            return
        note.remove()


def _mark_durations(axes: Any, renderer: Any, data: dict[str, Any], start: datetime) -> None:
    """Spans from the trigger to the first acknowledgement (TTA) and to the resolution (TTR), under the lanes."""
    spans = [("TTA", data.get("minutes_to_first_ack"), "not acknowledged yet", 0.3, "#c99700"),
             ("TTR", data.get("minutes_to_resolve"), "not resolved yet", -0.4, "#2ca02c")]
    for short, minutes, missing, y, colour in spans:
        if minutes is None:
            axes.annotate(f"{short}: {missing}", (start, y), xytext=(4, 0), textcoords="offset points",
                          va="center", fontsize=8, color="#777777")
            continue
        until = start + timedelta(minutes=minutes)
        axes.axvline(until, color=colour, linestyle=":", linewidth=1, zorder=1)
        arrow = axes.annotate("", xy=(until, y), xytext=(start, y), arrowprops={
            "arrowstyle": "<->", "color": colour, "linewidth": 1.4, "shrinkA": 0, "shrinkB": 0})
        style = {"textcoords": "offset points", "fontsize": 8.5, "fontweight": "bold", "color": colour}
        label = axes.annotate(f"{short} {span(minutes * 60)}", (start + (until - start) / 2, y), xytext=(0, 3),
                              ha="center", va="bottom", **style)
        if label.get_window_extent(renderer).width > arrow.get_window_extent(renderer).width:
            label.remove()  # a short span: the label goes beside the arrow instead of over it
            axes.annotate(f"{short} {span(minutes * 60)}", (until, y), xytext=(5, 0), ha="left", va="center", **style)
    axes.axvline(start, color="#d62728", linestyle=":", linewidth=1, zorder=1)


def _marks(data: dict[str, Any], start: datetime) -> list[tuple[str, datetime, str]]:
    """(kind, time, label) for every entry that has a lane."""
    out = []
    for entry in data.get("entries") or []:
        kind = entry.get("type")
        if kind not in LANES or not entry.get("at"):
            continue
        text = entry.get("note") if kind == "annotate" and entry.get("note") else entry.get("summary") or kind
        out.append((kind, _moment(entry["at"]), _short(text)))
    return out


def _grouped(points: Iterable[tuple[datetime, str]]) -> list[tuple[datetime, str]]:
    """Events of one lane within the same minute become one marker (at the first of them) listing them all."""
    groups: dict[datetime, tuple[datetime, list[str]]] = {}
    for at, label in sorted(points):
        groups.setdefault(at.replace(second=0, microsecond=0), (at, []))[1].append(label)
    return [(first, ", ".join(dict.fromkeys(labels))) for first, labels in groups.values()]


def _short(text: str) -> str:
    for prefix in _PREFIXES:
        if text.startswith(prefix):
            text = text[len(prefix):]
            break
    text = text.rstrip(".").strip()
    return text if len(text) <= LABEL_CHARS else text[:LABEL_CHARS - 1].rstrip() + "…"


def _title(data: dict[str, Any]) -> str:
    incident = data.get("incident") or {}
    number = f"#{incident['number']} " if incident.get("number") else ""
    service = (incident.get("service") or {}).get("name")
    return f"{number}{incident.get('title', '')}" + (f"  ({service})" if service else "")


def _moment(value: str) -> datetime:
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
