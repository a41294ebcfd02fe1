"""`NotebookChat` as a notebook shows it: captured display data (Markdown, HTML tables, the approval
widget, the timeline PNG), and every way of deciding (methods, buttons, automatic modes) reaching the
simulator's end state through the real Commander, graph, toolkit and command mode."""

from __future__ import annotations

import base64
import io
from datetime import timedelta
from typing import Any

import httpx
import pytest
from commanders import said
from demo_org import BILAL, service_id
from langgraph.checkpoint.memory import InMemorySaver
from matplotlib import image
from notebook_output import of_kind, showing

from agent.planners.command import CommandModel
from agent.planners.scripted import ScriptedChatModel
from agent.settings import Settings
from notebook_chat import NotebookChat, NotebookError
from notebook_chat.timeline_chart import timeline_figure
from tools.settings import PagerDutySettings

API_GATEWAY = service_id("API Gateway")

ME = BILAL  # conftest's chats ask as him
PAGE = "page whoever is on call for API Gateway: latency alert"
WIDGET = "application/vnd.jupyter.widget-view+json"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def titled(sim: Any, title: str) -> list[Any]:
    return [i for i in sim.state.incidents.values() if i.title == title]


def decisions(chat: NotebookChat) -> list[tuple[str, str]]:
    return [(e.actor, e.outcome) for e in chat.commander.audit("nb") if e.action == "decision"]


# --- asking -------------------------------------------------------------------------------------

def test_steps_stream_into_one_updating_output_then_the_answer_as_markdown_and_oncall_as_a_table(make_chat):
    chat = make_chat()
    outputs = showing(lambda: chat("oncall API Gateway"))

    steps = [o for o in outputs if o.transient]
    [_display_id] = {o.transient["display_id"] for o in steps}
    assert [o.update for o in steps] == [False, True]  # shown once, then updated in place
    assert "⏳ Finding who is on call (service: API Gateway)" in steps[0].data["text/markdown"]
    assert "✅ Finding who is on call" in steps[-1].data["text/markdown"]

    answer = [m for m in of_kind(outputs, "text/markdown") if "Level 1" in m]
    assert answer and "- Level 1: Bilal Khan" in answer[0]
    [table] = of_kind(outputs, "text/html")
    assert table.startswith("<table") and "<th" in table and "Bilal Khan" in table and ME in table
    assert chat.last.status == "answered"


def test_incidents_show_as_a_table_with_one_row_each(make_chat, sim):
    chat = make_chat()
    [table] = of_kind(showing(lambda: chat("incidents")), "text/html")
    open_numbers = [i.number for i in sim.state.incidents.values() if i.status != "resolved"]
    assert table.count("<tr>") == len(open_numbers) + 1  # the header row, then one per incident
    assert all(f">#{n}</a>" in table for n in open_numbers)


def test_text_from_pagerduty_is_escaped_not_rendered(make_chat, sim):
    chat = make_chat(mode="auto-approve")
    outputs = showing(lambda: chat('trigger "<img src=x onerror=alert(1)>" on API Gateway'))
    assert not any("<img" in text for text in of_kind(outputs, "text/html") + of_kind(outputs, "text/markdown"))
    assert titled(sim, "<img src=x onerror=alert(1)>")


# --- approvals ----------------------------------------------------------------------------------

def test_widgets_mode_shows_a_card_with_buttons_and_changes_nothing_until_decided(make_chat, sim):
    chat = make_chat(mode="widgets")
    outputs = showing(lambda: chat(PAGE))

    [request] = chat.pending()
    card = chat.cards[request.id]
    [view] = of_kind(outputs, WIDGET)
    assert view["model_id"] == card.widget.model_id
    header, buttons, *_ = card.widget.children
    assert "Approval needed" in header.value and "high risk" in header.value and "latency alert" in header.value
    assert "Bilal Khan (on call for API Gateway now)" in header.value  # the card names who will be paged
    assert [b.description for b in buttons.children[:2]] == ["Approve", "Reject"]
    assert chat.last.status == "waiting" and not titled(sim, "latency alert")


def test_approve_through_the_helper_creates_the_incident_and_settles_the_card(make_chat, sim):
    chat = make_chat(mode="widgets")
    showing(lambda: chat(PAGE))
    [request] = chat.pending()

    outputs = showing(chat.approve)

    [incident] = titled(sim, "latency alert")
    assert incident.service_id == API_GATEWAY and incident.urgency == "high"
    assert any("Triggered:" in m for m in of_kind(outputs, "text/markdown"))
    assert any("latency alert" in t for t in of_kind(outputs, "text/html"))  # the new incident as a table
    card = chat.cards[request.id]
    assert card.approve_button.disabled and card.reject_button.disabled and f"Approved by {ME}" in card.status.value
    assert chat.pending() == [] and decisions(chat) == [(ME, "approve")]


def test_reject_through_the_helper_changes_nothing_and_records_the_reason(make_chat, sim):
    chat = make_chat()
    showing(lambda: chat(PAGE))
    outputs = showing(lambda: chat.reject("already handled in #inc-gateway"))

    assert not titled(sim, "latency alert")
    assert decisions(chat) == [(ME, "reject: already handled in #inc-gateway")]
    assert any("Not done" in m for m in of_kind(outputs, "text/markdown"))


def test_edit_through_the_helper_changes_only_the_named_arguments(make_chat, sim):
    chat = make_chat()
    showing(lambda: chat(PAGE))
    showing(lambda: chat.edit(urgency="low"))

    [incident] = titled(sim, "latency alert")
    assert incident.urgency == "low" and incident.service_id == API_GATEWAY


def test_an_edit_that_does_not_validate_is_refused_and_nothing_is_recorded(make_chat):
    chat = make_chat()
    showing(lambda: chat(PAGE))
    with pytest.raises(NotebookError, match="not valid"):
        chat.edit(urgency="urgent")
    assert len(chat.pending()) == 1 and decisions(chat) == []
    with pytest.raises(NotebookError, match="Say what to change"):
        chat.edit()


def test_clicking_approve_acts_like_approve(make_chat, sim):
    chat = make_chat(mode="widgets")
    showing(lambda: chat(PAGE))
    [request] = chat.pending()

    card = chat.cards[request.id]
    outputs = showing(card.approve_button.click)

    assert len(titled(sim, "latency alert")) == 1 and decisions(chat) == [(ME, "approve")]
    assert any("Triggered:" in m for m in of_kind(outputs, "text/markdown"))
    # after a click the steps go to the card's own widget (a frontend updates it live), not a display handle
    assert "✅ Creating the incident" in card.progress.value and not [o for o in outputs if o.transient]


def test_clicking_reject_acts_like_reject_with_the_typed_reason(make_chat, sim):
    chat = make_chat(mode="widgets")
    showing(lambda: chat(PAGE))
    [request] = chat.pending()
    card = chat.cards[request.id]

    card.reason.value = "not ours"
    showing(card.reject_button.click)

    assert not titled(sim, "latency alert") and decisions(chat) == [(ME, "reject: not ours")]
    assert card.approve_button.disabled and "Rejected by" in card.status.value


def test_a_second_click_says_why_instead_of_failing(make_chat, sim):
    chat = make_chat(mode="widgets")
    showing(lambda: chat(PAGE))
    [request] = chat.pending()
    showing(chat.approve)

    outputs = showing(chat.cards[request.id].approve_button.click)  # a stale click on a settled card

    assert any("No approval" in m and "nothing is waiting" in m for m in of_kind(outputs, "text/markdown"))
    assert len(titled(sim, "latency alert")) == 1


def test_auto_approve_decides_at_once_and_the_audit_says_so(make_chat, sim, clock):
    chat = make_chat(mode="auto-approve")
    outputs = showing(lambda: chat("override Platform Primary with dana.whitfield@acme.example for 8h"))

    assert any("Approved automatically" in h for h in of_kind(outputs, "text/html"))
    assert not of_kind(outputs, WIDGET)
    dana = sim.state.users_by_email["dana.whitfield@acme.example"].id
    [override] = [o for o in sim.state.overrides.values() if o.user_id == dana and o.start == clock.now()]
    assert override.end - override.start == timedelta(hours=8)
    assert decisions(chat) == [(f"{ME} (auto-approve)", "approve")]
    assert chat.last.status == "answered" and "Override created" in chat.last.text


def test_auto_reject_changes_nothing(make_chat, sim):
    chat = make_chat(mode="auto-reject")
    showing(lambda: chat(PAGE))
    assert not titled(sim, "latency alert") and chat.pending() == []
    assert decisions(chat) == [(f"{ME} (auto-reject)", "reject: rejected by the auto-reject mode")]


def test_manual_mode_shows_the_card_without_buttons_and_waits(make_chat):
    chat = make_chat(mode="manual")
    outputs = showing(lambda: chat(PAGE))
    [card] = [h for h in of_kind(outputs, "text/html") if "Approval needed" in h]
    assert "<code>chat.approve()</code>" in card and "`" not in card and "expires 2026-11-20 12:15 UTC" in card
    assert not of_kind(outputs, WIDGET) and len(chat.pending()) == 1

    held = showing(lambda: chat("oncall API Gateway"))  # a new request waits for the decision
    assert any("waiting for decisions first" in m and "chat.approve()" in m for m in of_kind(held, "text/markdown"))


# --- what a person is told when something cannot be done ----------------------------------------

def test_deciding_with_nothing_waiting_says_so_without_a_traceback(make_chat):
    chat = make_chat()
    with pytest.raises(NotebookError, match="Nothing is waiting for approval") as raised:
        chat.approve()
    assert raised.value._render_traceback_() == [f"NotebookError: {raised.value}"]


def test_several_waiting_approvals_must_be_named_and_run_once_all_are_decided(make_chat, sim):
    two = [{"name": "create_incident", "args": {"service": "API Gateway", "title": title}} for title in ("one", "two")]
    chat = make_chat(model=ScriptedChatModel(script=[two, "Opened both."]))
    outputs = showing(lambda: chat("open two incidents"))
    first, second = chat.pending()
    assert len([h for h in of_kind(outputs, "text/html") if "Approval needed" in h]) == 2

    with pytest.raises(NotebookError, match=f"2 approvals are waiting: {first.id}.*{second.id}"):
        chat.approve()
    with pytest.raises(NotebookError, match="No approval apr_nope is waiting"):
        chat.approve("apr_nope")
    showing(lambda: chat.approve(first.id))
    assert chat.last.status == "waiting" and not titled(sim, "one")  # nothing runs before the whole batch is decided
    showing(lambda: chat.approve(second.id))
    assert (chat.last.status, said(chat.last.text)) == ("answered", "Opened both.")
    assert titled(sim, "one") and titled(sim, "two")


def test_an_expired_approval_is_refused_but_can_be_rejected(make_chat, sim, clock):
    chat = make_chat()
    showing(lambda: chat(PAGE))
    clock.advance(16 * 60)
    with pytest.raises(NotebookError, match="expired"):
        chat.approve()
    showing(lambda: chat.reject("too late"))
    assert not titled(sim, "latency alert") and chat.pending() == []


def test_an_unknown_approval_mode_lists_the_modes(make_chat, sim, monkeypatch):
    with pytest.raises(NotebookError, match="auto-approve"):
        make_chat(mode="yolo")
    monkeypatch.setenv("IC_NOTEBOOK_APPROVAL_MODE", "sometimes")
    with pytest.raises(NotebookError, match="IC_NOTEBOOK_APPROVAL_MODE"):
        NotebookChat.from_settings(Settings(checkpoint_db=":memory:"), transport=sim.transport())


def test_the_mode_comes_from_the_environment_unless_given(make_chat, monkeypatch):
    monkeypatch.setenv("IC_NOTEBOOK_APPROVAL_MODE", "auto-reject")
    assert make_chat(mode=None).approval_mode == "auto-reject"
    assert make_chat(mode="manual").approval_mode == "manual"


class FailsOnce(httpx.BaseTransport):
    """PagerDuty's answer to the first incident creation never arrives: the run stops with an error."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner, self.failed = inner, False

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if (request.method, request.url.path) == ("POST", "/incidents") and not self.failed:
            self.failed = True
            raise RuntimeError("connection dropped mid-request")
        return self.inner.handle_request(request)


def test_a_run_that_stops_says_how_to_resume_and_resume_finishes_it(make_chat, sim):
    chat = make_chat(mode="auto-approve", transport=FailsOnce(sim.transport()))
    outputs = showing(lambda: chat(PAGE))
    assert chat.last.status == "failed"
    assert any("Could not finish" in m and "chat.resume()" in m for m in of_kind(outputs, "text/markdown"))

    showing(chat.resume)
    assert chat.last.status == "answered" and len(titled(sim, "latency alert")) == 1


# --- the post-mortem timeline and looking back ---------------------------------------------------

def test_timeline_shows_headline_png_and_every_log_entry(make_chat, sim):
    chat = make_chat()
    outputs = showing(lambda: chat.timeline(26))

    incident = sim.state.incidents[sim.state.incidents_by_number[26]]
    entries = sim.state.log_entries_by_incident[incident.id]
    [headline] = [m for m in of_kind(outputs, "text/markdown") if m.startswith("###")]
    assert incident.title in headline and "acknowledged after **21 min**" in headline
    assert "resolved after **2 h 51 min**" in headline
    [png] = of_kind(outputs, "image/png")
    png = png if isinstance(png, bytes) else base64.b64decode(png)
    assert png.startswith(PNG_MAGIC)
    height, width, _ = image.imread(io.BytesIO(png), format="png").shape
    assert width > 900 and height > 400
    [table] = of_kind(outputs, "text/html")
    assert table.count("<tr>") == len(entries) + 1


def test_the_timeline_picture_marks_every_lane_and_the_two_durations(make_chat):
    chat = make_chat()
    showing(lambda: chat.timeline(26))
    [data] = [r.data for r in chat.last.results if r.name == "incident_timeline"]

    axes = timeline_figure(data).axes[0]
    lanes = [label.get_text() for label in axes.get_yticklabels()]
    assert lanes == ["Triggered", "Notified", "Escalated", "Acknowledged", "Notes", "Resolved"]
    texts = [t.get_text() for t in axes.texts]
    assert "TTA 21 min" in texts and "TTR 2 h 51 min" in texts
    assert any("Tom Hargreaves" in t for t in texts)  # the second notification round, after the escalation


def test_timeline_of_an_unknown_incident_shows_the_error(make_chat):
    chat = make_chat()
    outputs = showing(lambda: chat.timeline(99999))
    assert not of_kind(outputs, "image/png")
    assert any("99999" in m for m in of_kind(outputs, "text/markdown"))


def test_a_timeline_is_not_held_up_by_a_waiting_decision(make_chat):
    chat = make_chat()
    showing(lambda: chat(PAGE))
    assert of_kind(showing(lambda: chat.timeline(26)), "image/png")


def test_history_and_audit_are_tables(make_chat):
    chat = make_chat(mode="auto-approve")
    showing(lambda: chat(PAGE))

    [history] = of_kind(showing(chat.history), "text/html")
    assert history.count("<tr>") == 1 + 2  # the request, then the decision that finished it
    assert PAGE in history and "Triggered:" in history

    [audit] = of_kind(showing(chat.audit), "text/html")
    for action in ("message", "approval requested", "decision", "api write", "tool call"):
        assert f">{action}<" in audit
    assert "(auto-approve)" in audit and "create_incident" in audit


def test_the_chat_introduces_itself_with_the_embedded_defaults(make_chat):
    chat = make_chat(mode="widgets")
    text = chat._repr_markdown_()
    assert "approvals: `widgets`" in text and "demo organisation" in text and "`nb`" in text


def test_tables_and_cards_show_the_persons_zone_with_utc_and_names_not_ids(sim, clock):
    berlin = "Europe/Berlin"
    chat = NotebookChat.from_settings(
        Settings(checkpoint_db=":memory:", requester=ME, time_zone=berlin), approval_mode="manual", thread_id="nb",
        model=CommandModel(time_zone=berlin), transport=sim.transport(), checkpointer=InMemorySaver(), clock=clock,
        pagerduty_settings=PagerDutySettings(api_key=None))
    try:
        tables = "".join(of_kind(showing(lambda: chat("incidents open")), "text/html"))
        assert "CET (" in tables and " UTC)" in tables
        card = "".join(of_kind(showing(lambda: chat(PAGE)), "text/html"))
    finally:
        chat.close()
    assert "API Gateway (P" in card and "CET (" in card
    assert "service" in card and "create_incident" not in card
