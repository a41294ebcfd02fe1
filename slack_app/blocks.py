"""Block Kit layouts: approval cards, decided cards, dialogs, incident cards and on-call lists.

Pure functions from plain data to Slack JSON, so every layout can be checked without Slack.
Incidents and on-call entries are recognised by shape in the tools' JSON results, as the text
answers do (`agent.planners.answers`), so the cards keep working as tools gain fields.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from agent.approvals import ApprovalRequest, Verdict
from agent.wording import ToolResult, arguments_for_people, name_of, oncall_line, when
from slack_app.threads import SlackThread

APPROVE, REJECT, EDIT = "ic_approve", "ic_reject", "ic_edit"
REASON_VIEW, EDIT_VIEW = "ic_reason", "ic_edit"
REASON_BLOCK, REASON_INPUT = "reason", "reason_text"
ARGUMENT_BLOCK = "arg:"  # + argument name
MAX_CARDS = 10  # incident cards per message; more are counted, not drawn
MAX_POLICY_SECTIONS = 40  # Slack refuses a message of more than 50 blocks; the rest are counted, not drawn
SECTION_LIMIT = 2900  # Slack allows 3000 characters in a section
STATUS_COLOURS = {"triggered": "#E01E5A", "acknowledged": "#ECB22E", "resolved": "#2EB67D"}
STATUS_MARKS = {"triggered": ":red_circle:", "acknowledged": ":large_yellow_circle:",
                "resolved": ":large_green_circle:"}
VERDICT_WORDS = {"approve": ("white_check_mark", "Approved"), "edit": ("pencil2", "Edited and approved"),
                 "reject": ("no_entry_sign", "Rejected")}


@dataclass(frozen=True)
class CardRef:
    """What a button carries: which approval, on which agent thread, with which single-use nonce."""

    thread_id: str
    approval_id: str
    nonce: str

    def value(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def parse(cls, value: Any) -> CardRef:
        """The button's value; ValueError unless it names a thread, an approval and a nonce (none may be null:
        a card without its nonce must not decide anything)."""
        try:
            data = json.loads(value) if isinstance(value, str) else value
        except ValueError:
            data = None
        fields = ("thread_id", "approval_id", "nonce")
        if not (isinstance(data, dict) and set(data) == set(fields)
                and all(isinstance(data[f], str) and data[f] for f in fields)):
            raise ValueError("not an approval card's button")
        return cls(**data)


@dataclass(frozen=True)
class DialogContext:
    """What a dialog remembers (its `private_metadata`): the approval, the card to replace after it and the
    thread the card is in (where the outcome is told)."""

    ref: CardRef
    channel: str
    message_ts: str
    thread_ts: str | None = None

    @classmethod
    def of_click(cls, ref: CardRef, body: dict[str, Any]) -> DialogContext:
        """The card a button was clicked on, from Slack's `block_actions` payload."""
        container = body["container"]
        thread_ts = container.get("thread_ts") or (body.get("message") or {}).get("thread_ts")
        return cls(ref, body["channel"]["id"], container["message_ts"], thread_ts)

    def thread(self) -> SlackThread:
        """Where the outcome goes: the card's own thread (a private conversation's card opened it)."""
        agent_thread = SlackThread.parse(self.ref.thread_id)
        if self.thread_ts is None:
            return agent_thread
        return SlackThread(agent_thread.team, self.channel, self.thread_ts)

    def dump(self) -> str:
        return json.dumps({"ref": asdict(self.ref), "channel": self.channel, "ts": self.message_ts,
                           "thread": self.thread_ts})

    @classmethod
    def load(cls, text: str) -> DialogContext:
        data = json.loads(text)
        return cls(ref=CardRef.parse(data["ref"]), channel=data["channel"], message_ts=data["ts"],
                   thread_ts=data.get("thread"))


def escape(text: str) -> str:
    """Slack's three control characters, so user text cannot mention @channel or fake links."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_time(moment: datetime, style: str = "{date_short_pretty} at {time}") -> str:
    """A time each reader sees in their own zone (UTC in notifications and old clients)."""
    return f"<!date^{int(moment.timestamp())}^{style}|{when(moment.isoformat())}>"


def _clip(text: str, limit: int = SECTION_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": _clip(text)}}


def context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": _clip(text)}]}


def _plain(text: str, limit: int = 75) -> dict[str, Any]:
    return {"type": "plain_text", "text": _clip(text, limit), "emoji": True}


# --- approvals -----------------------------------------------------------------------------------

def editable(request: ApprovalRequest) -> bool:
    """Edit is offered when every argument fits a text box faithfully: text, numbers, yes/no, lists of text."""
    def fits(value: Any) -> bool:
        return isinstance(value, (str, int, float, bool)) or (
            isinstance(value, list) and all(isinstance(v, str) for v in value))
    return bool(request.arguments) and all(fits(v) for v in request.arguments.values())


def approval_card(request: ApprovalRequest, requester_user: str | None = None) -> tuple[str, list[dict[str, Any]]]:
    """The card asking for a decision: the sentence, the exact arguments in words, who asked, until when;
    buttons."""
    ref = CardRef(request.thread_id, request.id, request.nonce).value()
    who = f"<@{requester_user}> ({escape(request.requester)})" if requester_user else escape(request.requester)
    approve: dict[str, Any] = {"type": "button", "action_id": APPROVE, "text": _plain("Approve"), "style": "primary",
                               "value": ref}
    if request.risk == "high":
        approve["confirm"] = {"title": _plain("Change PagerDuty?"), "text": {"type": "mrkdwn", "text": _clip(
            f"{escape(request.summary)}\n\nThis is a high-risk change.", 300)},
            "confirm": _plain("Approve"), "deny": _plain("Cancel"), "style": "primary"}
    buttons = [approve, {"type": "button", "action_id": REJECT, "text": _plain("Reject"), "style": "danger",
                         "value": ref}]
    if editable(request):
        buttons.append({"type": "button", "action_id": EDIT, "text": _plain("Edit"), "value": ref})
    arguments = "\n".join(f"*{escape(label)}*: {escape(value)}" for label, value in arguments_for_people(request))
    blocks = [
        {"type": "header", "text": _plain("Approval needed", 150)},
        section(f"*{escape(request.summary)}*"),
        section(arguments or "No arguments."),
        context(f"Requested by {who} · {request.risk} risk · expires {slack_time(request.expires_at, '{time}')}"),
        {"type": "actions", "block_id": "ic_decide", "elements": buttons},
    ]
    return f"Approval needed: {request.summary}", blocks


def decided_card(summary: str, verdict: Verdict, user_id: str, at: datetime, reason: str | None = None,
                 outcome: str | None = None) -> tuple[str, list[dict[str, Any]]]:
    """What replaces a card once decided: no buttons left to click twice. `outcome`, once the change ran,
    says how it went (else it is being carried out)."""
    emoji, word = VERDICT_WORDS[verdict]
    doing = (f"Not done{f': {escape(reason)}' if reason else ''}." if verdict == "reject"
             else _clip(escape(outcome), 2000) if outcome else "Carrying it out…")
    text = f":{emoji}: {word} by <@{user_id}> at {slack_time(at, '{time}')} — {escape(summary)}"
    return f"{word}: {summary}", [section(text), context(doing)]


def unusable_card(summary: str, why: str) -> tuple[str, list[dict[str, Any]]]:
    """A card whose approval can no longer be decided (expired, or decided elsewhere)."""
    return f"No longer open: {summary}", [section(f":hourglass: {escape(summary)}"), context(escape(why))]


def reason_dialog(dialog: DialogContext, summary: str) -> dict[str, Any]:
    return {
        "type": "modal", "callback_id": REASON_VIEW, "private_metadata": dialog.dump(),
        "title": _plain("Reject change", 24), "submit": _plain("Reject", 24), "close": _plain("Cancel", 24),
        "blocks": [section(escape(summary)),
                   {"type": "input", "block_id": REASON_BLOCK, "label": _plain("Why? (the agent reads this)"),
                    "element": {"type": "plain_text_input", "action_id": REASON_INPUT, "multiline": True,
                                "max_length": 500}}],
    }


def edit_dialog(dialog: DialogContext, request: ApprovalRequest,
                help: dict[str, tuple[str, list[str] | None]] | None = None) -> dict[str, Any]:
    """One box per argument, labelled in words, prefilled, with what it means as the hint: a menu where the
    values are fixed; else text stays text and anything else is written as JSON."""
    inputs = []
    for name, value in request.arguments.items():
        meaning, choices = (help or {}).get(name, ("", None))
        shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        if choices and shown in choices:
            options = [{"text": _plain(c.replace("_", " "), 75), "value": c} for c in choices]
            element: dict[str, Any] = {"type": "static_select", "action_id": "value", "options": options,
                                       "initial_option": options[choices.index(shown)]}
        else:
            element = {"type": "plain_text_input", "action_id": "value", "initial_value": shown,
                       "multiline": len(shown) > 60}
        hint = meaning or ("" if isinstance(value, str) else "Written as JSON.")
        inputs.append({"type": "input", "block_id": ARGUMENT_BLOCK + name,
                       "label": _plain(name.replace("_", " ").capitalize()), "element": element,
                       **({"hint": _plain(hint, 150)} if hint else {})})
    return {"type": "modal", "callback_id": EDIT_VIEW, "private_metadata": dialog.dump(),
            "title": _plain("Edit and approve", 24), "submit": _plain("Approve", 24), "close": _plain("Cancel", 24),
            "blocks": [section(escape(request.summary)), *inputs]}


def edited_arguments(request: ApprovalRequest, state: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """The arguments typed into the edit dialog, and per-box errors for what cannot be read."""
    arguments: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for name, original in request.arguments.items():
        box = state.get(ARGUMENT_BLOCK + name, {}).get("value", {})
        text = ((box.get("selected_option") or {}).get("value") or box.get("value") or "").strip()
        if isinstance(original, str):
            arguments[name] = text
            continue
        try:
            arguments[name] = json.loads(text)
        except ValueError:
            errors[ARGUMENT_BLOCK + name] = f"Write this as JSON, like {json.dumps(original, ensure_ascii=False)}"
    return arguments, errors


# --- answers -------------------------------------------------------------------------------------

def answer_message(answer: str, results: list[str]) -> dict[str, Any]:
    """`chat.postMessage` arguments for a finished turn: the answer, with cards for incidents and on-call.

    `results` are the turn's tool outputs; the answer text stays the notification text and is shown
    on its own when the results hold nothing to draw.
    """
    incidents: list[dict[str, Any]] = []
    oncalls: list[dict[str, Any]] = []
    notices: list[str] = []
    for content in results:
        data = ToolResult("", {}, content).data
        for item in _entities(data):
            if _is_incident(item) and item.get("id") not in {i.get("id") for i in incidents}:
                incidents.append(item)
            elif _is_oncall(item):
                oncalls.append(item)
        if isinstance(data, dict) and (data.get("unchanged") or data.get("notice")):
            notices.append(str(data.get("unchanged") or data["notice"]))
    text = answer or "Done."
    if not incidents and not oncalls:
        return {"text": _clip(text, 3900), "blocks": [section(escape(text))]}
    headline = next((line for line in text.splitlines() if line.strip()), "Done.")  # Slack refuses an empty section
    blocks = [section(escape(headline))]
    drawn = oncall_blocks(oncalls)
    if len(drawn) > MAX_POLICY_SECTIONS:
        notices.append(f"Showing {MAX_POLICY_SECTIONS} of {len(drawn)} escalation policies; ask about a service or "
                       "a policy to see the rest.")
    blocks += drawn[:MAX_POLICY_SECTIONS]
    if len(incidents) > MAX_CARDS:
        notices.append(f"Showing {MAX_CARDS} of {len(incidents)} incidents; ask for fewer (e.g. a service) to see "
                       "the rest.")
    blocks += [context(escape(n)) for n in notices[:5]]
    return {"text": _clip(text, 3900), "blocks": blocks,
            "attachments": [incident_card(i) for i in incidents[:MAX_CARDS]]}


def incident_card(item: dict[str, Any]) -> dict[str, Any]:
    """One incident as a coloured attachment: linked number and title, then its facts side by side."""
    number = item.get("number") or item.get("incident_number")
    label = escape(f"#{number} {item.get('title', '')}" if number else item.get("title", ""))
    title = f"*<{item['html_url']}|{label}>*" if item.get("html_url") else f"*{label}*"
    status = str(item.get("status", "unknown"))
    assignees = name_of(item.get("assignees")) or "nobody"
    facts = [("Status", f"{STATUS_MARKS.get(status, ':white_circle:')} {status.capitalize()}"),
             ("Service", name_of(item.get("service")) or "—"), ("Urgency", item.get("urgency") or "—"),
             ("Priority", item.get("priority") or "—"), ("Assigned to", assignees)]
    created = _moment(item.get("created_at"))
    facts.append(("Created", slack_time(created) if created else "—"))
    fields = [{"type": "mrkdwn", "text": f"*{name}*\n{value if name in ('Status', 'Created') else escape(str(value))}"}
              for name, value in facts]
    return {"color": STATUS_COLOURS.get(status, "#9E9EA6"), "fallback": f"#{number} {item.get('title', '')}",
            "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": title}, "fields": fields}]}


def oncall_blocks(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """On-call entries under their escalation policy, one section per policy, levels in order."""
    policies: dict[str, list[dict[str, Any]]] = {}
    for item in items:
        policies.setdefault(name_of(item.get("escalation_policy")) or "No escalation policy", []).append(item)
    return [section(f"*{escape(policy)}*\n" + "\n".join(
        f"• {escape(oncall_line(i))}" for i in sorted(entries, key=lambda i: i.get("level") or 0)))
            for policy, entries in policies.items()]


def _entities(data: Any) -> list[dict[str, Any]]:
    """The result itself when it is one entity, else the dicts in its lists."""
    if isinstance(data, dict) and (_is_incident(data) or _is_oncall(data)):
        return [data]
    lists = data.values() if isinstance(data, dict) else [data] if isinstance(data, list) else []
    return [i for items in lists if isinstance(items, list) for i in items if isinstance(i, dict)]


def _is_incident(item: dict[str, Any]) -> bool:
    return "title" in item and "status" in item


def _is_oncall(item: dict[str, Any]) -> bool:
    return "level" in item and "user" in item


def _moment(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")) if value else None
    except ValueError:
        return None
