"""The approval card: what will happen, with which arguments, who asked, until when it can be approved.

Every mode shows the same card (as HTML). In `widgets` mode it also carries Approve / Reject buttons
and a reason box; clicks arrive after the cell has finished, which is how Jupyter delivers them, and
their results are written into the card's own output area.
"""

from __future__ import annotations

import html
from collections.abc import Callable

import ipywidgets as widgets

from agent.approvals import ApprovalRequest
from agent.wording import arguments_for_people, span, when
from notebook_chat.markdown import inline_html
from notebook_chat.tables import html_table

RISK_COLOURS = {"low": "#2ca02c", "medium": "#c99700", "high": "#d62728"}
_BOX = "border:1px solid #d0d7de;border-left:5px solid {colour};border-radius:6px;padding:6px 12px;margin:6px 0"


def card_html(request: ApprovalRequest, footer: str) -> str:
    """The card's text; `footer` says how to decide (or how it was decided), with `code` in backticks."""
    colour = RISK_COLOURS.get(request.risk, "#777777")
    arguments = html_table(["Argument", "Value"], arguments_for_people(request))
    valid = span((request.expires_at - request.created_at).total_seconds())
    return (f'<div style="{_BOX.format(colour=colour)}">'
            f'<div><b>Approval needed</b> · <span style="color:{colour}"><b>{html.escape(request.risk)} risk</b></span>'
            '</div>'
            f'<p style="margin:6px 0">{html.escape(request.summary)}</p>{arguments}'
            f'<div style="font-size:0.85em;color:#555">Requested by {html.escape(request.requester)} · '
            f'expires {html.escape(when(request.expires_at.isoformat()))} ({valid} after the request) · '
            f'<code>{html.escape(request.id)}</code></div>'
            f'<div style="font-size:0.85em;color:#555;margin-top:4px">{inline_html(footer)}</div></div>')


class ApprovalCard:
    """The card with buttons. `on_approve(card)` / `on_reject(card)` run on a click, and the steps that
    follow show in `progress`; `settle` shows the decision and disables the buttons, whoever decided
    (a button or a plain method call)."""

    def __init__(self, request: ApprovalRequest, footer: str, on_approve: Callable[[ApprovalCard], None],
                 on_reject: Callable[[ApprovalCard], None]) -> None:
        self.request = request
        self.approve_button = widgets.Button(description="Approve", button_style="success", icon="check",
                                             tooltip=request.summary)
        self.reject_button = widgets.Button(description="Reject", button_style="danger", icon="times")
        self.reason = widgets.Text(placeholder="reason for rejecting (optional)",
                                   layout=widgets.Layout(width="320px"))
        self.progress = widgets.HTML()
        self.status = widgets.HTML()
        self.output = widgets.Output()
        self.approve_button.on_click(lambda _: on_approve(self))
        self.reject_button.on_click(lambda _: on_reject(self))
        self.widget = widgets.VBox([widgets.HTML(card_html(request, footer)),
                                    widgets.HBox([self.approve_button, self.reject_button, self.reason]),
                                    self.status, self.progress, self.output])

    def settle(self, text: str) -> None:
        for control in (self.approve_button, self.reject_button, self.reason):
            control.disabled = True
        self.status.value = f"<b>{html.escape(text)}</b>"

