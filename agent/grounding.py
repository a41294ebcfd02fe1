"""Answers that say only what happened: a receipt built from the turn's tool results, and a check that
the model's words claim no change that did not happen.

A model's answer is prose; what changed in PagerDuty is a fact the graph holds: the write tools that ran
this turn and what PagerDuty answered. So code writes the last lines of every model answer ("Changed in
PagerDuty: opened #271 …" or "Nothing was changed in PagerDuty."), and an answer that claims a change no
successful write of the turn supports ("Opened #1234 …", "paged Chen", "has been acknowledged"), names
an incident number no tool returned, or copies a placeholder (`NAME`, `LINK`) is not shown as it is: the
person reads what was actually done instead. A turn that looked nothing up cannot state facts either.

Only claims are checked, not descriptions: "#12 is acknowledged" reports a state a read returned, while
"Acknowledged #12" and "I acknowledged #12" claim an action.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage

from agent.approvals import is_rejection, rejected_by
from agent.guidance import repeats_guidance
from agent.planners.answers import ToolResult, describe, say
from tools.registry import TOOLS

NOTHING_CHANGED = "Nothing was changed in PagerDuty."
RECEIPT_LINES = 3  # a write's result up to this many lines goes whole into its receipt line
NO_ANSWER = "I have no answer to that; please ask again, perhaps in other words."

# What a successful write did, as the receipt says it: by tool, then by its `action` argument when it has one.
DONE: dict[str, str | dict[str, str]] = {
    "create_incident": "opened",
    "update_incident": {"acknowledge": "acknowledged", "resolve": "resolved", "reopen": "reopened",
                        "escalate": "escalated", "reassign": "reassigned", "set_urgency": "changed the urgency of",
                        "set_priority": "set the priority of", "set_title": "renamed"},
    "manage_incidents": {"acknowledge": "acknowledged", "resolve": "resolved"},
    "add_note": "added a note to",
    "add_responders": "asked to join",
    "snooze_incident": "snoozed",
    "merge_incidents": "merged into",
    "create_override": "added on-call cover:",
    "delete_override": "removed on-call cover:",
    "send_event": {"trigger": "sent an alert:", "acknowledge": "acknowledged an alert:",
                   "resolve": "resolved an alert:"},
    "send_change_event": "recorded a change:",
}

# The changes an answer can claim, and the words that claim them.
CLAIM_WORDS: dict[str, str] = {
    "opened": r"opened|created|triggered|raised|filed",
    "paged": r"paged|notified|alerted",
    "acknowledged": r"acknowledged|acked",
    "resolved": r"resolved|closed",
    "reopened": r"reopened",
    "escalated": r"escalated",
    "reassigned": r"reassigned|assigned",
    "snoozed": r"snoozed",
    "merged": r"merged",
    "overridden": r"overridden|overrode|covered",
    "noted": r"noted|added a note|left a note|posted a note",
}

# Which receipt verbs support which claims (a page comes with opening, escalating, reassigning …; an override
# or a note is "created" too).
SUPPORTS: dict[str, set[str]] = {
    "opened": {"opened", "paged"}, "acknowledged": {"acknowledged"}, "resolved": {"resolved"},
    "reopened": {"reopened", "opened"}, "escalated": {"escalated", "paged"}, "reassigned": {"reassigned", "paged"},
    "changed the urgency of": set(), "set the priority of": set(), "renamed": set(),
    "added a note to": {"noted", "opened"}, "asked to join": {"paged"}, "snoozed": {"snoozed"},
    "merged into": {"merged", "resolved"},
    "added on-call cover:": {"overridden", "opened"}, "removed on-call cover:": set(),
    "sent an alert:": {"opened", "paged"}, "acknowledged an alert:": {"acknowledged"},
    "resolved an alert:": {"resolved"}, "recorded a change:": set(),
}

_VERBS = "|".join(CLAIM_WORDS.values())
_START = r"(?:^|(?<=[.!?\n•*\-—:]))\s*"
# "Opened #12", "I paged Chen", "I've acknowledged it", "Chen has been paged", "we escalated …"
_CLAIMS = [
    re.compile(_START + rf"(?:I|We)?\s*(?:have\s+|'ve\s+|just\s+)?({_VERBS})\b"
               rf"(?!\s+(?:\d|(?:by|to|at|on|in|incidents|since|until|for|yesterday|today|earlier|ago)\b))",
               re.I | re.M),
    re.compile(rf"\b(?:I|we)\s+(?:have\s+|'ve\s+|just\s+)?({_VERBS})\b", re.I),
    re.compile(rf"\b(?:has|have)\s+(?:now\s+|just\s+)?been\s+({_VERBS})\b", re.I),
]
_NUMBER = re.compile(r"#(\d+)\b")
_PLACEHOLDER = re.compile(r"\b(NAME|LINK|SERVICE|NUMBER|TITLE|URGENCY|STATUS|TIME|WHAT|WHY)\b")
_DATA = re.compile(r"\s*(?:[{\[]|```|<tool_call>|<tools>|<tool_response>)")  # JSON, code or tags: for machines
_TOOL_NAME = re.compile(r"\b(?:" + "|".join(sorted(TOOLS, key=len, reverse=True)) + r")\b")
_FACTS = re.compile(r"#\d+|https?://|\b[\w.+-]+@[\w-]+\.[\w.]+")
_SENTENCE = re.compile(r"[^.!?\n]+(?:[.!?]+|\n|$)\s*")


@dataclass(frozen=True)
class Change:
    """One successful write of the turn, in words."""

    done: str
    what: str

    def __str__(self) -> str:
        return f"{self.done} {self.what}".strip()


def grounded(answer: str, messages: Sequence[BaseMessage], is_write: Callable[[str], bool]) -> str:
    """The answer as the person should read it: checked against this turn's writes, with the receipt last."""
    turn = this_turn(messages)
    changes = changes_of(turn, is_write)
    answer = once(answer)
    problem = unsupported(answer, changes, messages, turn)
    shown = (answer.strip() or _nothing_said(changes)) if problem is None else withheld(problem, turn, is_write)
    return "\n\n".join(filter(None, [shown, receipt(changes, rejected_of(turn))]))


def _nothing_said(changes: Sequence[Change]) -> str:
    """What an empty answer reads as: after a change, nothing but its receipt (asked again, the person
    would make it twice); otherwise a plain request to ask again."""
    return "" if changes else NO_ANSWER


def once(answer: str) -> str:
    """The answer with each sentence said once: a small model can loop on a few sentences until its reply
    is cut at the token cap (the 1.5B Qwen for 1,024 tokens). After a repeat, an unfinished last
    sentence goes too."""
    seen: set[str] = set()
    kept, repeated = [], False
    for sentence in _SENTENCE.findall(answer):
        said = " ".join(sentence.split()).casefold()
        if said and said in seen:
            repeated = True
            continue
        seen.add(said)
        kept.append(sentence)
    if not repeated:
        return answer
    if kept and not kept[-1].rstrip().endswith((".", "!", "?")):
        kept.pop()
    return "".join(kept).strip()


def receipt(changes: Sequence[Change], rejected: Sequence[str] = ()) -> str:
    """What changed, then what a person turned down: a model's answer may leave either out."""
    if not changes:
        said = NOTHING_CHANGED
    elif len(changes) == 1:
        said = f"Changed in PagerDuty: {changes[0]}"
    else:
        said = "Changed in PagerDuty:\n" + "\n".join(f"• {change}" for change in changes)
    return "\n".join([said, *(f"Not done: {what}." for what in rejected)])


def rejected_of(turn: Sequence[BaseMessage]) -> list[str]:
    """The turn's calls a person rejected, in words: "create the incident (rejected by …: reason)"."""
    return [f"{TOOLS[m.name].doing if m.name in TOOLS else 'the change'} ({rejected_by(m.text)})"
            for m in turn if isinstance(m, ToolMessage) and m.name and is_rejection(m.text)]


def changes_of(turn: Sequence[BaseMessage], is_write: Callable[[str], bool]) -> list[Change]:
    """The writes of the turn that succeeded, oldest first."""
    return [Change(_done(result), _what(result)) for result in _results(turn)
            if is_write(result.name) and not result.error]


def unsupported(answer: str, changes: Sequence[Change], messages: Sequence[BaseMessage],
                turn: Sequence[BaseMessage]) -> str | None:
    """Why the answer cannot be shown as it is, or None."""
    if repeats_guidance(answer):
        return "it repeated instructions meant for me, not an answer"
    if _DATA.match(answer):
        return "it was raw data, not an answer"
    if tool := _TOOL_NAME.search(answer):
        return f"it spoke of a step ({TOOLS[tool.group(0)].doing}) instead of answering"
    if placeholder := _PLACEHOLDER.search(answer):
        return f"it contained a placeholder ({placeholder.group(1)}) instead of a fact"
    supported = set().union(*(SUPPORTS.get(c.done, set()) for c in changes))
    claimed = [kind for kind in claims(answer) if kind not in supported]
    if claimed:
        return f"it said something was {claimed[0]}, which did not happen"
    seen = " ".join([m.text for m in messages if isinstance(m, (ToolMessage, HumanMessage))]
                    + [str(c["args"]) for m in messages if isinstance(m, AIMessage) for c in m.tool_calls])
    invented = [n for n in _NUMBER.findall(answer) if not re.search(rf"(?<!\d){n}(?!\d)", seen)]
    if invented:
        return f"it named incident #{invented[0]}, which no lookup returned"
    if not any(isinstance(m, ToolMessage) for m in messages) and _FACTS.search(answer):
        return "it gave details without looking anything up in PagerDuty"
    return None


def withheld(problem: str, turn: Sequence[BaseMessage], is_write: Callable[[str], bool]) -> str:
    """What the person reads instead of an answer that claimed too much: what the turn really found."""
    reads = [r for r in _results(turn) if not is_write(r.name) and not r.error]
    wrote = any(is_write(r.name) and not r.error for r in _results(turn))  # the receipt says what
    failed = [r for r in _results(turn) if r.error]
    parts = [f"I could not give a reliable answer: my draft was not shown because {problem}."]
    if failed:
        parts.append(say(failed[-1]))
    if reads:
        parts.append("What I found:\n" + _plain(reads[-1]))
    elif not failed and not wrote:
        parts.append("I did not look anything up. Ask again with the service or incident, "
                     "for example: who is on call for API Gateway?")
    return "\n\n".join(parts)


def this_turn(messages: Sequence[BaseMessage]) -> list[BaseMessage]:
    """The messages after the last human message."""
    starts = [i for i, m in enumerate(messages) if isinstance(m, HumanMessage)]
    return list(messages[starts[-1] + 1:]) if starts else list(messages)


def claims(answer: str) -> list[str]:
    """The kinds of change the answer claims were made ("opened", "paged" …), in order."""
    kinds = []
    for pattern in _CLAIMS:
        for match in pattern.finditer(answer):
            word = match.group(1).lower()
            kinds += [kind for kind, words in CLAIM_WORDS.items() if re.fullmatch(words, word, re.I)]
    return list(dict.fromkeys(kinds))


def _results(turn: Sequence[BaseMessage]) -> list[ToolResult]:
    """The turn's tool results with the arguments of the calls that produced them."""
    args = {c["id"]: c["args"] for m in turn if isinstance(m, AIMessage) for c in m.tool_calls}
    return [ToolResult(m.name or "", args[m.tool_call_id], m.text, m.status)
            for m in turn if isinstance(m, ToolMessage) and m.tool_call_id in args]


def supported_claims(tool: str, args: dict[str, Any]) -> set[str]:
    """The claims a successful call of a write tool with these arguments supports."""
    return SUPPORTS.get(done_by(tool, args), set())


def done_by(tool: str, args: dict[str, Any]) -> str:
    """What a successful write did, as the receipt words it ("opened", "acknowledged" …)."""
    done = DONE.get(tool, "changed:")
    if isinstance(done, dict):
        return done.get(str(args.get("action") or "trigger"), "changed:")
    return done


def _done(result: ToolResult) -> str:
    return done_by(result.name, result.args)


def _what(result: ToolResult) -> str:
    if isinstance(result.data, dict) and result.data.get("unchanged"):
        return "(nothing new: it was already done) " + _in_a_line(result)
    return _in_a_line(result)


def _plain(result: ToolResult) -> str:
    """A result in brief words, without the notes before its data ("Note: ignored …": for the model)."""
    return describe(result.data, brief=True) if result.data is not None else say(result, brief=True)


def _in_a_line(result: ToolResult) -> str:
    """What the write changed."""
    lines = [line.strip().removeprefix("• ") for line in _plain(result).strip().splitlines() if line.strip()]
    # A change in a few lines (an override: its schedule, who covers when, how long) reads whole.
    return "; ".join(lines) if len(lines) <= RECEIPT_LINES else lines[0]
