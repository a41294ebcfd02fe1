"""The ChatOps grammar of command mode: a typed message in, the tool calls an LLM would make out.

Every command is one row of `COMMANDS` (a tool that declares command words in `tools.registry` gets its
`VERB INCIDENT` row from there): the words that start it, the patterns people type (terse ChatOps
and the everyday sentence forms), an example, and functions from the matched arguments (and, for
two-step commands, the results so far) to tool calls. One table keeps parsing, `help` and "did you mean"
in agreement.

Patterns are regular expressions with three additions: `{verb}` is any of the row's words,
`{kind:group}` captures `group` with the rules of `kind` (see `_KINDS`), and a space means "one or
more spaces". Groups are named after the tool's arguments, so most rows need no code of their own.
Matching is case-insensitive, on the message as `phrasing.tidy` leaves it, and the first pattern that
matches the whole text wins.

The safety rule: a pattern must account for every word. A word no pattern understood is never part of
a write nor dropped from one: the reply says what was and was not understood, and nothing runs.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from pydantic import ValidationError

from agent.planners.answers import ToolResult, incident_refs
from agent.planners.conversation import Context, Pending, clarify
from agent.planners.phrasing import TIME, tidy
from tools.registry import TOOLS
from tools.timeparse import TimeParseError, local, parse_time, split_zone

Steps = Sequence[Sequence[ToolResult]]


@dataclass(frozen=True)
class Call:
    """A tool call to emit; `check` validates it against its tool's argument model before it leaves the model."""

    name: str
    args: dict[str, Any]


def call(name: str, **args: Any) -> Call:
    """A call with only the arguments the user gave, so defaults stay the tool's business."""
    return Call(name, {k: v for k, v in args.items() if v is not None})


@dataclass(frozen=True)
class TextReply:
    """An answer in words instead of tool calls: help, a question, or why a value cannot be used. A question
    carries how the person's answer continues the request."""

    text: str
    pending: Pending | None = None
    understood: bool = True
    """False when the text (or a value in it) could not be read as a command at all."""


@dataclass(frozen=True)
class Leftover(TextReply):
    """Words a pattern took for a name that cannot be one; another pattern may still read them."""


def ask(text: str, *options: str, confirm: str | None = None) -> TextReply:
    return TextReply(text, Pending(options, confirm))


def not_understood_reply(text: str, pending: Pending | None = None) -> TextReply:
    return TextReply(text, pending, understood=False)


def first_reply(values: Iterable[Any]) -> TextReply | None:
    """The first of `values` that is an answer in words: a value that could not be read or used."""
    return next((v for v in values if isinstance(v, TextReply)), None)


@dataclass(frozen=True)
class Parsed:
    """A command matched against a text: its cleaned arguments, the context, and the times as read."""

    command: Command
    args: dict[str, Any]
    context: Context
    text: str = ""
    times: tuple[str, ...] = ()  # "'3am PST' is 2026-11-21 03:00 PST (11:00 UTC)", said with the answer

    def get(self, key: str) -> Any:
        return self.args.get(key)

    @property
    def requester(self) -> str | None:
        return self.context.requester


Plan = Callable[[Parsed], "list[Call] | TextReply"]
FollowUp = Callable[[Parsed, Steps], "list[Call] | str | TextReply | None"]  # None: nothing more, answer now


@dataclass(frozen=True, eq=False)
class Command:
    words: tuple[str, ...]
    usage: str
    summary: str
    patterns: tuple[str, ...]
    plan: Plan
    follow_up: FollowUp | None = None
    done: str = ""  # how a successful change is announced, e.g. "Acknowledged"
    example: str = ""  # what people would type, shown in `help` and in suggestions

    @cached_property
    def compiled(self) -> tuple[tuple[re.Pattern[str], dict[str, str]], ...]:
        """The patterns as regular expressions, compiled when first tried: compiling all of them takes a
        process most of a second, and a command matches long before the last one."""
        return tuple(_compile(p, self.words) for p in self.patterns)

    @property
    def writes(self) -> bool:
        return bool(self.done)


# --- pattern language ----------------------------------------------------------------------------

_QUOTED_OR_LAZY = r"\"[^\"]+\"|'[^']+'|.+?"  # quoted, or as little as the rest of the pattern allows
_NUMBER = r"#?\d+|(?-i:[A-Z][A-Z0-9]{5,19})|(?=\w*\d)[a-z][a-z0-9]{5,19}"  # an incident number or id, not a word
_PRONOUN = r"it|that(?: one| incident)?|this(?: one| incident)?|the (?:last|latest|same) (?:one|incident)|same one"
_THEM = r"them(?: all| both)?|all of them|both(?: of them)?|those(?: ones)?|these(?: ones)?"
_IT = "@it"  # what a pronoun reads as until the context says which incident it is
_ALL_SHOWN = "@them"  # likewise for every incident the last answer showed
_REF = rf"(?:incident |inc )?(?:{_NUMBER})"
_KINDS = {
    "id": rf"{_REF}|{_PRONOUN}",
    "ref": _REF,  # a number or id only
    "ids": rf"(?:{_REF})(?:(?:\s*,\s*(?:and\s+)?|\s+and\s+|\s+&\s+|\s+)(?:{_REF}))*|{_PRONOUN}|{_THEM}",
    "name": _QUOTED_OR_LAZY,
    "names": r".+?",
    "text": _QUOTED_OR_LAZY,
    "note": r".+?",  # a note nobody introduced with a colon or quotes: checked before it is used
    "time": TIME,
    "dur": r"(?:\d+(?:\.\d+)?|an?|half an?)\s*[a-z]*(?:\s*\d+\s*[a-z]+)?",
    "num": r"\d+|one|two|three|four|five",
    "status": r"triggered|acknowledged|acked|ack'd|resolved|closed",
    "hour": r"\d{1,2}(?::\d{2})?\s*(?:am|pm)?",
    "key": r"[^\s\"']+|\"[^\"]+\"|'[^']+'",  # one token or quoted: an Events API dedup key
}
_UNITS = {"s": "", "sec": "", "secs": "", "second": "", "seconds": "",
          "m": "m", "min": "m", "mins": "m", "minute": "m", "minutes": "m",
          "h": "h", "hr": "h", "hrs": "h", "hour": "h", "hours": "h",
          "d": "d", "day": "d", "days": "d"}
_PEOPLE = {"assignee", "assigned_to", "user", "responders", "other"}  # where "me" means the requester
_NAMES = {"service", "schedule", "escalation_policy", "team", "user", "assignee", "responders", "query",
          "other", "target_name"}  # where an alias may stand for a name
_ME = {"me", "myself", "mine", "my", "i"}
_SHOWABLE = ("incident", "incidents", "sources", "target", "excluded")  # where "it" or "them" may stand
_STATUS = {"acked": "acknowledged", "ack'd": "acknowledged", "closed": "resolved"}
# Words that qualify a request rather than name something: inside a name, they were not understood.
_QUALIFIERS = re.compile(r"\b(?:during|after|before|since|until|till|except|but|without|tomorrow|tonight|today|"
                         r"yesterday|ago|later|soon|asap|next|weekend|instead|also|too|again|first|for|with|by|to|"
                         r"from|and|level|all)\b|\b(?:on|in|at)\b(?!-)|#\d+", re.IGNORECASE)
_NOTE_STARTS = {"in", "at", "on", "for", "until", "till", "til", "by", "after", "before", "since", "during", "from",
                "except", "but", "without", "excluding", "unless", "and", "also", "too", "as", "to", "into", "with",
                "tomorrow", "tonight", "today", "yesterday", "later", "now", "soon", "next", "this", "all",
                "everything", "mine", "again", "then", "instead", "level", "high", "low", "urgency", "first", "last"}


def _compile(template: str, verbs: tuple[str, ...]) -> tuple[re.Pattern[str], dict[str, str]]:
    kinds: dict[str, str] = {}

    def capture(match: re.Match[str]) -> str:
        kind, group = match.groups()
        kinds[group] = kind
        return f"(?P<{group}>{_KINDS[kind]})"

    regex = template.replace(" ", r"\s+").replace("{verb}", "(?:" + "|".join(
        re.escape(v).replace(r"\ ", " ").replace(" ", r"\s+") for v in verbs) + ")")
    regex = re.sub(r"\{(\w+):(\w+)\}", capture, regex)
    return re.compile(regex, re.IGNORECASE | re.DOTALL), kinds


def _unquote(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1].strip()
    return text


def _name(text: str) -> str:
    """'"Core Backend"' → 'Core Backend'; 'the gateway' → 'gateway'; 'the db team' or 'the db one' → 'db'."""
    text = text.strip().rstrip("?!.").strip()
    if re.match(r"the\s", text, re.IGNORECASE):
        text = re.sub(r"\s+(?:team|one)$", "", text[4:], flags=re.IGNORECASE)
    return _unquote(text)


def duration(text: str) -> str | TextReply:
    """'2 hours' → '2h', 'an hour' → '1h', '1 week' → '7d', '1h 30m' → '1h30m': the spelling the tools
    read; a unit is required."""
    text = " ".join(text.strip().lower().split())
    if text.startswith("half an"):
        text = "30 minutes" if text.endswith(("hour", "hr")) else text
    text = re.sub(r"^an?\s+", "1 ", text)
    parts = re.findall(r"(\d+(?:\.\d+)?)\s*([a-z]+)", text)
    if not parts or "".join(a + u for a, u in parts) != text.replace(" ", ""):
        return not_understood_reply(f"I don't understand the duration {text!r}; say e.g. `30m`, `2h` or `1d`.")
    spelled = ""
    for amount, unit in parts:
        if unit in ("w", "wk", "wks", "week", "weeks"):
            amount, unit = str(int(float(amount) * 7)), "d"
        if unit not in _UNITS:  # a bare "30" could mean seconds, minutes or hours: ask
            return not_understood_reply(f"I don't understand the duration {text!r}; say e.g. `30m`, `2h` or `1d`.")
        spelled += amount + _UNITS[unit]
    return spelled


def _incident(token: str) -> str:
    """'#1234' → '1234'; 'pq001zp' → 'PQ001ZP': PagerDuty ids are upper case, phones type them lower."""
    token = re.sub(r"^(?:incident|inc)\s+", "", token.strip(), flags=re.IGNORECASE).lstrip("#")
    if re.fullmatch(_PRONOUN, token, re.IGNORECASE):
        return _IT
    return token.upper() if re.fullmatch(r"(?=\w*\d)[a-z][a-z0-9]{5,19}", token) else token


def _incidents(text: str) -> list[str]:
    if re.fullmatch(_PRONOUN, text.strip(), re.IGNORECASE):
        return [_IT]
    if re.fullmatch(_THEM, text.strip(), re.IGNORECASE):
        return [_ALL_SHOWN]
    text = re.sub(r"\b(?:incident|inc)\s+", "", text, flags=re.IGNORECASE)
    return [_incident(t) for t in re.split(r"[\s,&]+", text) if t.lower() not in ("", "and")]


_CLEAN: dict[str, Callable[[str], Any]] = {
    "id": _incident,
    "ref": _incident,
    "ids": _incidents,
    "name": _name,
    "names": lambda s: [n for n in map(_name, re.split(r"\s*,\s*(?:and\s+)?|\s+and\s+", s)) if n],
    "text": _unquote,
    "note": str.strip,
    "time": lambda s: re.sub(r"^(?:at|on)\s+", "", " ".join(s.split()), flags=re.IGNORECASE),
    "dur": duration,
    "num": lambda s: int(s) if s.isdigit() else ("one", "two", "three", "four", "five").index(s.lower()) + 1,
    "status": lambda s: [_STATUS.get(s.lower(), s.lower())],
    "hour": lambda s: s.replace(" ", "").lower(),
    "key": _unquote,
    "keyword": str.lower,  # a plain (?P<group>high|low) group
}


WHO_IS_ME = TextReply("I don't know who is asking, so I can't tell who \"me\" is or which incidents are yours. "
                      "Name them instead, e.g. `ack 1234 1235` or `reassign 1234 to dana@example.com`.")


def _me(value: Any, requester: str | None) -> Any:
    """"me" as the requester; `WHO_IS_ME` when it is said and nobody says who is asking."""
    if isinstance(value, list):
        return first_reply(people := [_me(v, requester) for v in value]) or people
    if value.lower() not in _ME:
        return value
    return requester or WHO_IS_ME


def _alias(value: Any, aliases: Mapping[str, str]) -> Any:
    """The PagerDuty name for what people call a thing (`db` → Database), else the name as said."""
    if isinstance(value, list):
        return [_alias(v, aliases) for v in value]
    key = " ".join(value.casefold().split())
    return aliases.get(key) or aliases.get(re.sub(r"\s+(?:team|service)$", "", key)) or value


# --- what commands do ----------------------------------------------------------------------------

def _fill(tool: str, p: Parsed, **fixed: Any) -> Call:
    """A call of `tool` whose arguments are the groups named like them, plus `fixed` ones."""
    fields = TOOLS[tool].args.model_fields
    args = {k: v for k, v in p.args.items() if k in fields} | fixed
    if "time_zone" in fields and p.context.time_zone and {"at", "start", "end"} & args.keys():
        args.setdefault("time_zone", p.context.time_zone)
    return call(tool, **args)


def _tool(tool: str, **fixed: Any) -> Plan:
    return lambda p: [_fill(tool, p, **fixed)]


def _help(p: Parsed) -> TextReply:
    return TextReply(help_text())


_NO_MATCH = re.compile(r"\bNo [\w ]+ matches\b")
_GUESSES = ("service", "escalation_policy", "schedule", "team")  # what a bare `oncall NAME` may be


def _oncall(p: Parsed) -> list[Call]:
    """`oncall` alone is one unfiltered `who_is_on_call` (every policy's levels, grouped by policy in
    the answer); `oncall NAME` asks about a service first and `_oncall_guess` tries the other kinds."""
    guess = {"service": p.get("target_name")} if p.get("target_name") else {}
    return [_fill("who_is_on_call", p, **guess)]


def _oncall_guess(p: Parsed, steps: Steps) -> list[Call] | str | TextReply | None:
    """A bare name that is not a service may be a policy, schedule or team; any other error (a bad time)
    is the answer as it is."""
    if not p.get("target_name") or not steps[-1][0].error or not _NO_MATCH.search(steps[-1][0].content):
        return None
    if len(steps) < len(_GUESSES):
        return [_fill("who_is_on_call", p, **{_GUESSES[len(steps)]: p.get("target_name")})]
    question = clarify(steps[0][0].content, p.text, noun="service, escalation policy, schedule or team")
    if question is None:
        return steps[0][0].content.strip()
    return TextReply(*question)


def _bulk(action: str, statuses: list[str]) -> tuple[Plan, FollowUp]:
    """`ack`/`resolve`: the named incidents, or (two steps) every open one assigned to the requester but
    those excluded ("all except #268")."""

    def named(p: Parsed) -> list[str]:
        return p.get("incidents") or ([p.get("incident")] if p.get("incident") else [])

    def plan(p: Parsed) -> list[Call] | TextReply:
        ids, note = named(p), p.get("resolution")
        if len(ids) == 1:
            return [call("update_incident", incident=ids[0], action=action, resolution=note)]
        if ids:
            return [call("manage_incidents", incidents=ids, action=action, resolution=note)]
        if not p.requester:
            return WHO_IS_ME
        return [call("list_incidents", assigned_to=p.requester, statuses=statuses)]

    def follow_up(p: Parsed, steps: Steps) -> list[Call] | str | None:
        if named(p) or len(steps) > 1 or steps[0][0].error:
            return None
        listed = steps[0][0].data
        excluded = set(p.get("excluded") or [])
        items = listed if isinstance(listed, list) else next(
            (v for v in (listed or {}).values() if isinstance(v, list)), [])
        numbers = {str(i.get("id")): str(i.get("number", i.get("incident_number"))) for i in items
                   if isinstance(i, dict)}
        refs = [r for r in incident_refs(steps[0][0]) if r not in excluded and numbers.get(r) not in excluded]
        unknown = sorted(excluded - set(numbers) - set(numbers.values()))
        if unknown:
            return (f"{', '.join('#' + u for u in unknown)} is not among your {' or '.join(statuses)} incidents, "
                    f"so I did nothing: check the numbers with `incidents mine`.")
        if not refs:
            return f"Nothing to {action}: no {' or '.join(statuses)} incidents are assigned to {p.requester}" + (
                " besides those you excluded." if excluded else ".")
        return [call("manage_incidents", incidents=refs, action=action, resolution=p.get("resolution"))]

    return plan, follow_up


def _trigger(p: Parsed) -> list[Call] | TextReply:
    """With a service named, open the incident; with only an alert's text, list the services first
    (`_trigger_on_named_service` opens it on the one the text names)."""
    if not p.get("title"):
        service = p.get("service")
        return ask(f"What should the page for {service} say? Reply with the alert's text, e.g. `replica lag 90s`.",
                   f'page {service}: "{{answer}}"')
    return [_fill("create_incident", p)] if p.get("service") else [call("find_services")]


def _trigger_on_named_service(p: Parsed, steps: Steps) -> list[Call] | str | TextReply | None:
    if p.get("service") or len(steps) > 1 or steps[0][0].error:
        return None
    services = steps[0][0].data.get("services", []) if isinstance(steps[0][0].data, dict) else []
    named = mentioned(p.get("title"), services, p.context.aliases)
    title = p.get("title")
    if len(named) == 1:
        return [_fill("create_incident", p, service=named[0]["id"])]
    if named:
        return ask(f"The alert names more than one service ({', '.join(s['name'] for s in named)}); which one "
                   f"should be paged? Reply with its name, e.g. `{named[0]['name']}`.", f'page {{answer}}: "{title}"')
    known = ", ".join(s["name"] for s in services[:20]) or "none found"
    return ask(f"Which service is this about? No service name appears in {title!r}, and I will not guess. "
               f"Reply with its name (services: {known}).", f'page {{answer}}: "{title}"')


def mentioned(text: str, services: list[dict[str, Any]],
              aliases: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """The services whose names (or aliases) appear in `text` as whole words, longest match first: a name
    found only inside a longer one that also appears ("API" in "Payments API") does not count."""
    spans: dict[str, tuple[dict[str, Any], list[tuple[int, int]]]] = {}
    for service in services:
        name = service.get("name")
        said = [name, *(a for a, n in (aliases or {}).items() if name and n.casefold() == name.casefold())]
        found = [m.span() for n in said if n
                 for m in re.finditer(rf"(?<!\w){re.escape(n)}(?!\w)", text, re.IGNORECASE)]
        if found:
            spans[service["id"]] = (service, found)

    def inside_a_longer_one(span: tuple[int, int]) -> bool:
        return any(a <= span[0] and span[1] <= b and (a, b) != span
                   for _, others in spans.values() for a, b in others)

    named = [service for service, found in spans.values() if not all(map(inside_a_longer_one, found))]
    return sorted(named, key=lambda s: -len(s["name"]))


def _window(p: Parsed) -> dict[str, str]:
    """start and end of cover from `from … until …`, `for 8h`, or a range such as `tomorrow 9-17`."""
    if p.get("first_hour"):
        day = p.get("day") or "today"
        return {"start": f"{day} {_clock(p.get('first_hour'))}", "end": f"{day} {_clock(p.get('last_hour'))}"}
    window = {"start": p.get("start")} if p.get("start") else {}
    if p.get("end") or p.get("length"):
        window["end"] = p.get("end") or "+" + p.get("length")
    return window


def _clock(hour: str) -> str:
    return f"{int(hour):02d}:00" if hour.isdigit() else hour


def _until(p: Parsed) -> dict[str, str] | TextReply:
    """The cover window, or the question "until when?" whose answer completes the command."""
    window = _window(p)
    if "end" not in window:
        return ask("Until when? Reply with a time or a length, e.g. `until 9am tomorrow` or `for 8h`.",
                   f"{p.text} {{answer}}", f"{p.text} until {{answer}}")
    return window


def _override(p: Parsed) -> list[Call] | TextReply:
    """`for 8h` becomes end `+8h`, which the tool reads relative to the start."""
    window = _until(p)
    return window if isinstance(window, TextReply) else [_fill("create_override", p, **window)]


def _swap(p: Parsed) -> list[Call] | TextReply:
    """Cover someone's shift: find which schedule it is in first (`_swap_schedule`)."""
    who, window = p.get("other") or p.requester, _until(p)
    if not who:
        return WHO_IS_ME
    if isinstance(window, TextReply):
        return window
    return [_fill("who_is_on_call", p, user=who, at=window.get("start", "now"))]


def _swap_schedule(p: Parsed, steps: Steps) -> list[Call] | str | TextReply | None:
    if len(steps) > 1 or steps[0][0].error:
        return None
    data = steps[0][0].data if isinstance(steps[0][0].data, dict) else {}
    named = [(o.get("schedule") or {}).get("name") for o in data.get("oncalls", [])]
    schedules = list(dict.fromkeys(name for name in named if name))
    if len(schedules) == 1:
        return [call("create_override", schedule=schedules[0], user=p.get("user"), **_window(p),
                     time_zone=p.context.time_zone)]
    who = p.get("other") or p.requester  # `_swap` asked only once it knew who
    if not schedules:
        return f"{who} has no shift in a schedule then, so there is nothing to cover. Name the schedule instead: " \
               f"`override SCHEDULE with {p.get('user')} …`."
    return ask(f"{who} is on call in {len(schedules)} schedules then: {', '.join(schedules)}. Which one?",
              f"override \"{{answer}}\" with {p.get('user')} " + _said_window(p))


def _said_window(p: Parsed) -> str:
    window = _window(p)
    return " ".join(filter(None, [f"from {window['start']}" if window.get("start") else "",
                                  f"until {window['end']}" if not window["end"].startswith("+") else
                                  f"for {window['end'][1:]}"]))


def _urgency(p: Parsed) -> list[Call]:
    urgency = p.get("urgency") or ("low" if p.get("direction") in ("lower", "downgrade", "reduce", "drop")
                                   else "high")
    return [_fill("update_incident", p, action="set_urgency", urgency=urgency)]


def _snooze(p: Parsed) -> list[Call] | TextReply:
    """`snooze 268 until 5pm` is a snooze for the time left until then, said back with the answer."""
    if p.get("until"):
        moment = parse_time(p.get("until"), now=p.context.now, tz=p.context.time_zone)
        minutes = int((moment - p.context.now).total_seconds() // 60)
        if minutes <= 0:
            return TextReply(f"{p.get('until')} is not in the future; say how long, e.g. `snooze 268 for 2h`.")
        return [_fill("snooze_incident", p, duration=f"{minutes}m")]
    if not p.get("duration"):
        return ask("For how long? Reply with a length, e.g. `2h` or `30m`.", f"{p.text} for {{answer}}")
    return [_fill("snooze_incident", p)]


_ALERT_ACTIONS = {"ack": "acknowledge", "acknowledge": "acknowledge", "resolve": "resolve"}


def _alert(p: Parsed) -> list[Call]:
    """An Events API alert: a trigger (its source defaults to the service, the affected component),
    or an acknowledge or resolve of the alert with the given dedup key."""
    if p.get("action"):
        return [_fill("send_event", p, action=_ALERT_ACTIONS[p.get("action")])]
    return [_fill("send_event", p, action="trigger", source=p.get("source") or p.get("service"))]


def _alert_sent(p: Parsed, steps: Steps) -> str | None:
    """Say the dedup key: it is what acknowledges or resolves the alert later."""
    sent = steps[-1][0]
    if sent.error or not isinstance(sent.data, dict):
        return None
    key, service = sent.data.get("dedup_key") or p.get("dedup_key"), sent.data.get("service") or p.get("service")
    if p.get("action"):
        return f"{_ALERT_ACTIONS[p.get('action')].capitalize()}d the alert with dedup key {key} on {service}."
    return (f"Sent the alert {p.get('summary')!r} ({p.get('severity') or 'error'}) to {service}, dedup key {key}; "
            f"`alert resolve {p.get('service')} {key}` resolves it.")


def _change_recorded(p: Parsed, steps: Steps) -> str | None:
    recorded = steps[-1][0]
    if recorded.error or not isinstance(recorded.data, dict):
        return None
    return (f"Recorded the change {p.get('summary')!r} on {recorded.data.get('service') or p.get('service')}; "
            "nobody was paged.")


# --- the grammar ---------------------------------------------------------------------------------

_TO_ME = "(?: me)?"
_LIST = "(?:(?:list|show|get|find|search|give|any)(?: me)? )?"
_THE = "(?:the )?"
_AT = "(?: {time:at})?"
_BY = r"(?:\s*[:\u2013\u2014-]\s*|\s+(?:with (?:a |the )?note|note|saying):?\s+)"  # words that only introduce a note
_ONCALL = (r"(?:{verb}|who(?:'s|s| is| are| was| will be)?(?: currently)?(?: the)? "
           r"(?:on[- ]?call(?: engineer| person)?|primary|"
           r"covering|holding the pager|carrying the pager|got the pager|has the pager)|"
           r"who (?:do|should) (?:i|we) page|"
           r"who gets paged|(?:is )?any(?:one|body) on[- ]?call)"
           r"(?: (?:right )?now| rn)?(?: for| on| in)?")
_ONCALL_BY = {"service": "service", "escalation policy|policy|ep": "escalation_policy",
              "schedule|rotation": "schedule", "team": "team", "user": "user"}
_PAGE_ONCALL = (r"(?:page|wake up|call|ping) (?:whoever(?:'s| is)?|who(?:'s| is)?|the person|the engineer|someone|"
                r"the on-?call(?: engineer| person| for)?|on-?call)(?: on[- ]?call| on duty)?")
_OPEN = r"(?:trigger|open|create|raise|start|declare|file)(?: an?| new)*(?: incident| inc)?"
_PAGE_OR_OPEN = r"(?:page|trigger|open|create|raise|start|declare|file)(?: an?| new)*(?: incident| inc)?"
_EXCEPT = r"(?:except(?: for)?|but(?: not)?|other than|apart from|excluding|besides|save)"
_ALL_MINE = (r"(?:(?:all|everything)(?: (?:of )?mine| my (?:incidents|stuff|pages)| (?:of )?my open ones)?|mine|"
             r"my (?:incidents|stuff|pages))")
_WINDOW = "(?: (?:(?:from|starting) )?{time:start})?(?: (?:until|till|til|to|through) {time:end}| for {dur:length})?"
_RANGE = r" (?:(?P<day>today|tomorrow|tonight|mon(?:day)?|tue(?:sday)?|wed(?:nesday)?|thu(?:rsday)?|fri(?:day)?|" \
         r"sat(?:urday)?|sun(?:day)?) )?(?:from )?{hour:first_hour}\s*(?:-|to)\s*{hour:last_hour}"
_COVERERS = ("(?P<user>i)(?:'ll| will| can) cover ", "(?:have |let )?{name:user} cover ")
_SHIFTS = ("for {name:other}(?:(?:'s|s') shift)?", "{name:other}(?:'s|s') shift")  # someone's shift, not a schedule
_PUT = "(?:put|have|let|make) {name:user} (?:on[- ]?call |cover |take )(?:for |on |in )?{name:schedule}"
_ABOUT = r"\s*(?:[:,\u2013\u2014-]| about| re| with)\s*"  # between who is paged and what it is about
_URGENCY = r"(?:\s*[,;.]?\s+(?P<urgency>high|low)[- ]urgency)?"  # "…: disk full, high urgency"
_OPEN_NOW = "(?:open|going on|on fire|happening|burning|broken)"
_NOTE = r"(?:\s*[:\u2013\u2014-]\s*{text:resolution})?"  # a note after all of yours, introduced
_ack, _ack_more = _bulk("acknowledge", ["triggered"])
_resolve, _resolve_more = _bulk("resolve", ["triggered", "acknowledged"])

COMMANDS: tuple[Command, ...] = (
    Command(("help", "commands"), "help", "this list",
            (r"(?:{verb}|\?|what can you do|how does this work)(?: .*)?",), _help, example="help"),
    Command(("services", "service"), "services [QUERY]", "find services by name",
            (_LIST + "(?:all )?(?:the )?{verb}",
             _LIST + "(?:all )?(?:the )?{verb}(?: (?:named|called|matching|like|for))? {name:query}",
             "what services (?:do we have|are there|exist)",
             "(?:which|what) services? (?:match(?:es)?|(?:is|are) (?:named|called)|contains?) {name:query}"),
            _tool("find_services"), example="services payments"),
    Command(("oncall", "on-call", "on call"), "oncall [service|policy|schedule|team NAME] [at TIME]",
            "who is on call: everywhere, or for one service, policy, schedule or team (now or at a time)",
            (_ONCALL + " (?P<user>me)" + _AT,
             "am (?P<user>i) on[- ]?call" + _AT,
             "when am (?P<user>i)(?: next)? on[- ]?call(?: next)?",
             "when(?:'s| is) (?P<user>my) next(?: on[- ]?call)? shift",
             "(?P<user>my)(?: on[- ]?call)? shifts",
             "(?:when is|when's) {name:user} (?:next )?on[- ]?call(?: next)?",
             "is {name:user} on[- ]?call" + _AT,
             _ONCALL + _AT,
             *(f"{_ONCALL} (?:{words}) {{name:{arg}}}{_AT}" for words, arg in _ONCALL_BY.items()),
             _ONCALL + " the {name:team} team" + _AT,
             _ONCALL + " {time:at} (?:for|on) {name:target_name}",
             _ONCALL + " {name:target_name}" + _AT),
            _oncall, _oncall_guess, example="who's on call for Payments API at 9am tomorrow"),
    Command(("incidents", "incident list"), "incidents [open|mine|triggered|acked|resolved] [on SERVICE]",
            "open incidents: all, yours, by status, or a service's or team's",
            (_LIST + "(?:all )?(?:the )?(?:open |current |active |ongoing |new )?{verb}(?: open)?",
             _LIST + "{verb} (?:assigned to |for )?(?P<assigned_to>mine|me)",
             _LIST + "(?:all )?(?P<assigned_to>my)(?: open| current)? (?:{verb}|stuff|pages)",
             "(?:what(?:'s|s| is)|anything|is anything) (?:on|assigned to) (?P<assigned_to>me)",
             _LIST + "{verb} {status:statuses}",
             _LIST + "(?:all )?(?:the )?{status:statuses} {verb}",
             _LIST + "(?:all )?(?:the )?(?P<urgency>high|low)(?:-| )urgency (?:open )?{verb}",
             "what(?:'s|s| is)(?: still)? " + _OPEN_NOW + "(?: right now| now)?",
             "what(?:'s|s| is)(?: still)? {status:statuses}",
             "(?:what|which) {verb} (?:are|is) (?:open|{status:statuses})",
             _LIST + "(?:all )?(?:the )?{status:statuses} {verb} (?:on|for|in) {name:service}",
             "(?:are there )?any(?: open)? {verb}(?: open)?",
             _LIST + "{verb} assigned to {name:assigned_to}",
             _LIST + "(?:open )?{verb}(?: open)? (?:for|on|in|of) the {name:team} team",
             "what(?:'s|s| is)(?: still)? " + _OPEN_NOW + " (?:for|on|in|with) the {name:team} team",
             "what(?:'s|s| is)(?: still)? " + _OPEN_NOW + " (?:for|on|in|with) {name:service}",
             "(?:is |are )?(?:there )?any(?:thing)? (?:open )?(?:incidents )?(?:open )?(?:for|on|in) {name:service}",
             _LIST + "(?:all )?(?:the )?(?:open )?{verb}(?: open)?(?: service| for| on| in| of)? {name:service}"),
            _tool("list_incidents"), example="what's open on API Gateway"),
    Command(("show", "get", "details", "view", "incident"), "show INCIDENT", "one incident in detail",
            ("(?:{verb}|pull up|look at|check|display|open|give|gimme)" + _TO_ME
             + "(?: the)?(?: details(?: of| for| on)?)?(?: incident| inc)? {id:incident}",
             "(?:details|info|status|summary|state)(?: on| for| of| about)? {id:incident}",
             "(?:what(?:'s|s| is) the )?(?:latest|news|update) (?:on|for|with) {id:incident}",
             "(?:tell me about|what(?:'s|s| is) (?:up|going on|happening|the status) (?:with|on|of)|how(?:'s| is)"
             "(?: it going with)?) {id:incident}",
             "{id:incident}(?: (?:status|details|info))?"),
            _tool("get_incident"), example="show #268"),
    Command(("trigger", "page", "create", "open"), 'trigger "TITLE" on SERVICE [high|low] [assign USER]',
            "open an incident; it pages the service's on-call (or USER). "
            "An alert works too: `ALERT TEXT — page whoever is on call`",
            (_PAGE_ONCALL + r" (?:for|on|of) {name:service}" + _ABOUT + "{text:title}",
             r"(?:page|wake up) (?:the )?{name:service} (?:team|on-?call|oncall)" + _ABOUT + "{text:title}",
             r"(?:page|wake up) {name:service}\s*(?:[:,\u2013\u2014-]| about| re)\s*{text:title}" + _URGENCY,
             _PAGE_OR_OPEN + r" (?:on|for|against) {name:service}\s*(?:[:,\u2013\u2014-]| about| re)\s*{text:title}"
             + _URGENCY,
             _OPEN + "(?: for| called| titled)? {text:title} (?:on|for|against) {name:service}"
             "(?: (?P<urgency>high|low)(?: urgency)?)?(?: assign(?:ed)?(?: to)? {name:assignee})?",
             r"{text:title}\s*[:,\u2013\u2014-]+\s*" + _PAGE_ONCALL + r"(?: now| asap)?",
             _PAGE_ONCALL + r" (?:for|on|of) {name:service}",
             r"(?:page|wake up) the {name:service} team"),
            _trigger, _trigger_on_named_service, done="Triggered",
            example="page the on-call for Database: replica lag 90s"),
    Command(("ack", "acknowledge", "acking"), "ack [INCIDENT…|all|all except INCIDENT…]",
            "acknowledge incidents (none named, or `all`: all of yours)",
            ("(?:ack|acknowledge)",
             "{verb} " + _ALL_MINE,
             "{verb}(?: " + _ALL_MINE + ")? " + _EXCEPT + " {ids:excluded}",
             "{verb}(?: incidents?)? {ids:incidents}",
             "(?:i(?:'ve| have)? got|i'm on|im on|i'll take|taking|on it,?) {ids:incidents}"),
            _ack, _ack_more, done="Acknowledged", example="ack 268"),
    Command(("resolve", "close", "close out", "closing", "resolving"),
            "resolve [INCIDENT…|all|all except INCIDENT…] [: NOTE]",
            "resolve incidents (none named, or `all`: all of yours)",
            ("resolve",
             "{verb} " + _ALL_MINE + _NOTE,
             "{verb}(?: " + _ALL_MINE + ")? " + _EXCEPT + " {ids:excluded}" + _NOTE,
             "(?:{verb}|fixed)(?: incidents?)? {ids:incidents}" + _BY + "{text:resolution}",
             "(?:{verb}|fixed)(?: incidents?)? {ids:incidents}",
             "mark {ids:incidents} (?:as )?(?:resolved|fixed|closed|done)(?:" + _BY + "{text:resolution})?",
             r"{ids:incidents}(?:'s|\s+is|\s+are)? (?:resolved|fixed|done|closed|sorted)(?: now)?",
             r"(?:resolve|close(?: out)?|fixed) {ids:incidents}(?:\s*,\s*|\s+){note:resolution}"),
            _resolve, _resolve_more, done="Resolved", example="resolve #269: rolled back the deploy"),
    Command(("reopen", "retrigger", "unresolve", "re-open", "un-resolve"), "reopen INCIDENT",
            "trigger a resolved incident again",
            ("{verb}(?: incident)? {id:incident}",),
            _tool("update_incident", action="reopen"), done="Reopened", example="reopen 266"),
    Command(("note", "comment"), "note INCIDENT: TEXT", "add a note to an incident",
            (r"(?:add |post |leave |put |write )?(?:an? )?(?:{verb}|update):?(?: to| on| for| in)?(?: incident)? "
             r"(?!(?:that|this) (?!one\b|incident\b)){id:incident}"  # "note that …" is not about "that"
             r"(?:\s*[:,\u2013\u2014-]\s*|\s+(?:saying|that says|reading):?\s+|\s+){text:content}",),
            _tool("add_note"), done="Noted", example="add a note to 268: failover done"),
    Command(("escalate", "bump"), "escalate INCIDENT [level N]", "escalate to the next (or the given) level",
            ("{verb}(?: incident)? {id:incident}(?: up)?(?: to)?(?: (?:level|lvl|l) ?{num:escalation_level})?",
             "{verb}(?: incident)? {id:incident}(?: up)? to the next level",
             "send {id:incident} up(?: to (?:level|lvl|l) ?{num:escalation_level})?"),
            _tool("update_incident", action="escalate"), done="Escalated", example="escalate 268 to level 2"),
    Command(("reassign", "assign", "hand", "hand over", "handover", "hand-off", "transfer", "give", "pass"),
            "reassign INCIDENT to USER",
            "hand an incident over (or `policy NAME`, or `the X team`)",
            ("{verb} {id:incident}(?: over| off)? to (?:escalation policy|policy|ep) {name:escalation_policy}",
             "{verb} {id:incident}(?: over| off)? to the {name:escalation_policy} (?:team|policy|escalation)",
             "hand (?:over|off) {id:incident} to {name:assignee}",
             "{verb} {id:incident}(?: over| off)? to {name:assignee}"),
            _tool("update_incident", action="reassign"), done="Reassigned", example="hand 268 over to Chen"),
    Command(("urgency",), "urgency INCIDENT high|low", "change an incident's urgency",
            ("(?:set |change )?(?:the )?{verb}(?: of| on| for)? {id:incident}(?: to)? (?P<urgency>high|low)",
             "(?:set )?{verb} (?:to )?(?P<urgency>high|low) (?:for|on|of) {id:incident}",
             "(?:set |make |change )?{id:incident}(?:'s)? {verb} (?:to )?(?P<urgency>high|low)",
             "(?:set |make |mark |change )(?:the urgency (?:of |on ))?{id:incident}(?: to)?(?: as)? "
             "(?P<urgency>high|low)(?: urgency)?",
             "(?P<direction>lower|downgrade|reduce|drop|raise|upgrade|bump) (?:the )?urgency(?: of| on| for)? "
             "{id:incident}(?: to (?P<urgency>high|low))?",
             "(?:lower|downgrade|reduce|drop|raise|upgrade|bump) {id:incident} to (?P<urgency>high|low)(?: urgency)?"),
            _urgency, done="Updated", example="set urgency of #268 to low"),
    Command(("responders", "add"), "responders INCIDENT add USER|POLICY[, …]", "ask more people to join",
            ("{verb} {id:incident} add {names:responders}",
             r"add(?! (?:an? )?(?:note|comment|update)\b)(?: responders?)? {names:responders}(?: as responders?)? "
             "(?:to|on) {id:incident}",
             "(?:loop|pull|bring|get|call) in {names:responders} (?:on|to|for|into) {id:incident}",
             "(?:loop|pull|bring|get) {names:responders} in(?:to| on)? {id:incident}",
             "(?:request|page) {names:responders} (?:for|on|into) {id:incident}"),
            _tool("add_responders"), done="Requested", example="loop in Chen and the Database team on 268"),
    Command(("snooze", "mute", "silence"), "snooze INCIDENT DURATION", "snooze an acknowledged incident for a while",
            ("{verb}(?: incident)? {id:incident}(?: for)? {dur:duration}",
             "{verb}(?: incident)? {id:incident} (?:until|till|til) {time:until}",
             "{verb}(?: incident)? {id:incident}"),
            _snooze, done="Snoozed", example="snooze 268 for 2h"),
    Command(("merge", "fold", "dedupe"), "merge SOURCE[,SOURCE…] into TARGET", "merge incidents into one",
            ("{verb} {ids:sources} (?:into|in to|with|onto) {id:target}",
             "{ids:sources} (?:is|are) (?:a )?(?:dup(?:e|licate)?s?|the same as) (?:of )?{id:target}"),
            _tool("merge_incidents"), done="Merged", example="merge 269 into 268"),
    Command(("swap",), "swap USER's shift with USER (when)", "cover someone's shift in their schedule",
            ("(?:swap|switch|trade) {name:other}(?:'s|s'|s)? (?:on[- ]?call )?shift with {name:user}" + _WINDOW,
             "(?:swap|switch|trade) shifts? with {name:user}" + _WINDOW,  # my shift
             "(?:swap|switch|trade) {name:other}(?:'s|s'|s)? (?:on[- ]?call )?shift with {name:user}" + _RANGE,
             *(who + shift + when for who in _COVERERS for shift in _SHIFTS for when in (_WINDOW, _RANGE))),
            _swap, _swap_schedule, done="Override created", example="swap alice's shift with bob tomorrow 9-17"),
    Command(("override", "cover"), "override SCHEDULE with USER [from TIME] (until TIME|for DURATION)",
            "put someone on call in a schedule for a while",
            ("{verb} {name:schedule} with {name:user}" + _WINDOW,
             "{verb} {name:schedule} with {name:user}" + _RANGE,
             _PUT + _WINDOW,
             _PUT + _RANGE,
             "{name:user} (?:will cover|covers|is covering|takes|will take|can take) {name:schedule}" + _WINDOW,
             "(?P<user>i)(?:'ll| will| can) (?:cover|take) {name:schedule}" + _WINDOW),
            _override, done="Override created", example="put Chen on call for Platform Primary until 9am tomorrow"),
    Command(("timeline", "log", "history", "postmortem", "post-mortem", "pm", "retro"), "timeline INCIDENT",
            "what happened, in order (for post-mortems)",
            ("(?:show |get |pull up )?" + _THE + "{verb}(?: of| for| on)?(?: incident)? {id:incident}",
             "(?:write |draft |start )?(?:an? |the )?(?:post[- ]?mortem|pm|retro)(?: timeline)?(?: for| of| on)?"
             "(?: incident)? "
             "{id:incident}",
             "what happened (?:in|with|on|to|during|for)(?: incident)? {id:incident}",
             "what(?:'s| is| has) happened (?:in|with|on|to|since) {id:incident}"),
            _tool("incident_timeline"), example="what happened in 26?"),
    Command(("similar",), "similar INCIDENT", "past incidents like this one",
            ("(?:any(?:thing)? )?{verb}(?: past)?(?: incidents)?(?: to| like| for)?(?: incident)? {id:incident}",
             "(?:any(?:thing)?|past|previous|earlier|other) (?:incidents )?like {id:incident}(?: before)?",
             "(?:has|did) {id:incident} happen(?:ed)? before",
             "(?:have we )?seen {id:incident} before"),
            _tool("similar_incidents"), example="has 268 happened before?"),
    Command(("alert",), 'alert SERVICE "SUMMARY" [critical|error|warning|info] [source SOURCE] [key DEDUP_KEY]',
            "send an Events API alert (`alert ack|resolve SERVICE DEDUP_KEY` acknowledges or resolves it)",
            ("{verb} (?P<action>ack|acknowledge|resolve) {name:service} {key:dedup_key}",
             "{verb} {name:service} (?=[\"']){text:summary}(?: (?P<severity>critical|error|warning|info))?"
             "(?: source {name:source})?(?: key {key:dedup_key})?"), _alert, _alert_sent, done="Sent",
            example='alert Search "Heap above 95%" critical source idx-3'),
    Command(("change",), 'change SERVICE "SUMMARY" [source SOURCE]',
            "record a change event (a deploy, a config change) on a service's timeline; nobody is paged",
            ("{verb} {name:service} (?=[\"']){text:summary}(?: source {name:source})?",),
            _tool("send_change_event"), _change_recorded, done="Recorded",
            example='change Payments API "Deployed v2.14.0"'),
)
COMMANDS += tuple(  # `VERB INCIDENT` for each tool whose declaration gives command words (tools.registry)
    Command(tool.verbs, f"{tool.verbs[0]} INCIDENT", tool.doing,
            ("{verb}(?: (?:to|for|of|on|with))?(?: incident)? {id:incident}",), _tool(tool.name),
            example=f"{tool.verbs[0]} 268")
    for tool in TOOLS.values() if tool.verbs)


def _patterns() -> Iterator[tuple[Command, re.Pattern[str], dict[str, str]]]:
    """Every pattern in the table's order, each command's compiled as it is reached."""
    for command in COMMANDS:
        for regex, kinds in command.compiled:
            yield command, regex, kinds


# --- parsing -------------------------------------------------------------------------------------

_YES = {"yes", "y", "yep", "yeah", "yup", "sure", "ok", "okay", "do it", "go ahead", "confirm", "please do",
        "yes please", "correct"}
_NO = {"no", "n", "nope", "cancel", "never mind", "nevermind", "stop", "abort", "forget it", "don't"}


def parse(text: str, context: Context, pending: Pending | None = None) -> Parsed | TextReply:
    """The first command that matches the whole tidied text (or, after a question, the request it
    continues); else a `TextReply` with what was (not) understood and the closest commands."""
    tidied = tidy(text)
    if pending is not None and (continued := _continue(text, tidied, context, pending)):
        return continued
    if not tidied:
        return TextReply("What should I do? Type `help` for every command.")
    parsed = match(tidied, context) or _misspelt(tidied, context)
    if parsed is None:
        return not_understood_reply(*not_understood(tidied, context))
    return parsed


def _misspelt(text: str, context: Context) -> Parsed | TextReply | None:
    """`incidnets`, `oncal payments`: a misspelt command word. A read runs as corrected; a change is
    offered back as a question, because a guessed verb must not reach an approval card unasked."""
    first, _, rest = text.partition(" ")
    words = {w: c for c in COMMANDS for w in c.words if " " not in w}
    for word in difflib.get_close_matches(first.lower(), words, n=2, cutoff=0.75):
        corrected = f"{word} {rest}".strip()
        parsed = match(corrected, context)
        if isinstance(parsed, Parsed) and parsed.command is words[word]:
            if not parsed.command.writes:
                return parsed
            return ask(f"Did you mean `{corrected}`? Reply `yes` to do it.", confirm=corrected)
    return None


def _continue(text: str, tidied: str, context: Context, pending: Pending) -> Parsed | TextReply | None:
    """The reply to the agent's own question: `yes` runs what it offered, `no` drops it, a new command
    is a new command, and anything else fills the gap the question was about."""
    bare = " ".join(re.sub(r"[^\w' ]", " ", text.lower()).split())
    if bare in _NO:
        return TextReply("OK, I did nothing.")
    if pending.confirm and bare in _YES:
        return match(pending.confirm, context)
    alone = match(tidied, context)
    if not tidied or (isinstance(alone, Parsed) and alone.command.words[0] != "show"):
        return None
    for option in pending.options:
        parsed = match(option.replace("{answer}", _unquote(tidied)), context)
        if parsed is not None:
            return parsed
    return None


def match(text: str, context: Context) -> Parsed | TextReply | None:
    """The first pattern that matches all of `text`, bound, or why a value in it cannot be used; a name with
    words left over (`payments during the holidays`) is said to be not understood only if no other pattern
    reads the text."""
    leftover: Leftover | None = None
    for command, regex, kinds in _patterns():
        found = regex.fullmatch(text)
        bound = _bind(command, found, kinds, context, text) if found else None
        if isinstance(bound, Leftover):
            leftover = leftover or bound
        elif bound is not None:
            return bound
    return leftover


def _bind(command: Command, found: re.Match[str], kinds: dict[str, str], context: Context,
          text: str) -> Parsed | TextReply | None:
    """The command with its arguments read, or why one cannot be used; None when the pattern does not fit
    after all (an incident number where a name goes: `raise urgency on 268`)."""
    said = {k: v for k, v in found.groupdict().items() if v is not None}
    args = {k: _CLEAN[kinds.get(k, "keyword")](v) for k, v in said.items()}
    names = [key for key in _NAMES & args.keys() if not said[key].startswith(('"', "'"))]  # quoted: as written
    if unreadable := first_reply(args.values()):
        return unreadable
    if any(re.match(r"#?\d", name) for key in names for name in _each(args[key])):
        return None
    if leftover := first_reply(_leftover(command, text, args[key]) for key in names):
        return leftover
    args |= {key: _alias(args[key], context.aliases) for key in names}
    people = {key: _me(args[key], context.requester) for key in _PEOPLE & args.keys()}
    notes = {key: _unquote(args[key]) if args[key][:1] in "\"'" else _check_note(command, text, args[key])
             for key, kind in kinds.items() if kind == "note" and key in args}
    shown = {key: _pronoun(args[key], context, command, text) for key in _SHOWABLE if key in args}
    times = tuple(_read_time(args[key], context) for key, kind in kinds.items() if kind == "time" and key in args)
    if problem := first_reply([*people.values(), *notes.values(), *shown.values(), *times]):
        return problem
    read = tuple(t for t in times if isinstance(t, str))  # every one of them, as none is a reply
    return Parsed(command, args | people | notes | shown, context, text, read)


def _each(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _leftover(command: Command, text: str, value: Any) -> Leftover | None:
    """A name holding "during the holidays" was not all name: say so instead of looking it up."""
    for name in _each(value):
        extra = _QUALIFIERS.search(name)
        if extra:
            rest = name[extra.start():]
            return Leftover(f"I understood `{text[:text.lower().rfind(rest.lower())].strip()}` but not "
                            f"“{rest}”, so I did nothing (a name with such words in it goes in quotes). "
                            f"{_try(command)}")
    return None


def _check_note(command: Command, text: str, note: str) -> str | TextReply:
    """A note nobody introduced (`resolve 269 in 2h`) is used only when it cannot be something else."""
    understood = text[: len(text) - len(note)].strip()
    note = re.sub(r"^(?:please|pls|plz|thanks|thx)\b[\s,.;:!-]*", "", note, flags=re.IGNORECASE) or note
    first = note.split()[0].lower().strip(",.;:")
    if first in _NOTE_STARTS or re.fullmatch(_NUMBER, first) or re.fullmatch(TIME, note, re.I):
        return ask(f"I understood `{understood}` but not “{note}”, so I did nothing. If it is a resolution note, "
                   f"say `{understood}: {note}`; reply `yes` to {command.words[0]} without a note.",
                   confirm=understood)
    return note


def _pronoun(value: Any, context: Context, command: Command, text: str) -> Any:
    """"it", "that one": the incident the conversation last showed; "them", "both": all it showed. Asked
    about when that is unclear."""
    if value == [_ALL_SHOWN]:
        if not context.shown:
            return TextReply("Which incidents? I haven't shown any in this conversation yet. "
                             "Name them, e.g. `ack 268 271`.")
        return [s.ref for s in context.shown]
    if value != _IT and value != [_IT]:
        return value
    said = re.search(rf"\b(?:{_PRONOUN})\b", text, re.IGNORECASE)
    template = text[: said.start()] + "{answer}" + text[said.end():] if said else None
    if not context.shown:
        return ask("Which incident? I haven't shown one in this conversation yet. "
                   "Reply with its number, e.g. `268`.", *filter(None, [template]))
    if len(context.shown) > 1:
        listed = "\n".join(f"• {s.line}" for s in context.shown[:10])
        return ask(f"Which one? The last answer showed {len(context.shown)} incidents:\n{listed}\n"
                   "Reply with its number.", *filter(None, [template]))
    return [context.shown[0].ref] if isinstance(value, list) else context.shown[0].ref


def _read_time(text: str, context: Context) -> str | TextReply:
    """The time as it will be read, in the zone it was said in, or a question when it cannot be read."""
    try:
        moment = parse_time(text, now=context.now, tz=context.time_zone)
    except TimeParseError:
        return TextReply(f"I couldn't read the time “{text}”, so I did nothing. Say e.g. `9am tomorrow`, `in 2h`, "
                         "`22:00 tonight` or `3am PST`.")
    return f"“{text}” is {local(moment, split_zone(text)[1] or context.time_zone)}"


def plan(parsed: Parsed, steps: Steps) -> list[Call] | str | TextReply | None:
    """The next calls given the results so far, an answer in words (a `str` from the results, a `TextReply`
    asking or refusing), or None: answer from the results."""
    if not steps:
        calls: list[Call] | str | TextReply | None = parsed.command.plan(parsed)
    elif parsed.command.follow_up:
        calls = parsed.command.follow_up(parsed, steps)
    else:
        return None
    if isinstance(calls, list):
        return check(parsed.command, calls) or calls
    return calls


def check(command: Command, calls: list[Call]) -> TextReply | None:
    """Refuse, in words, what the tool would refuse, before anything is sent or approved."""
    for c in calls:
        try:
            TOOLS[c.name].args.model_validate(c.args)
        except ValidationError as error:
            problem = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'arguments'}: {e['msg']}"
                                for e in error.errors())
            return not_understood_reply(f"That doesn't look right ({problem}). Usage: `{command.usage}`")
    return None


# --- when nothing matched ------------------------------------------------------------------------

_INTENTS = {  # words that hint at a command even in a sentence the grammar cannot read
    "oncall": ("on-call", "oncall", "pager", "shift", "rota", "rotation", "primary", "secondary", "duty"),
    "incidents": ("incidents", "open", "list", "what's", "burning", "fire", "outages", "alerts"),
    "trigger": ("page", "trigger", "wake", "alert", "declare", "raise", "create", "outage", "down"),
    "ack": ("ack", "acknowledge", "acked", "mine", "taking"),
    "resolve": ("resolve", "close", "fixed", "done", "resolved", "closed", "sorted"),
    "note": ("note", "comment", "update", "log"),
    "escalate": ("escalate", "escalation", "level", "bump"),
    "reassign": ("reassign", "assign", "hand", "handover", "transfer", "give"),
    "urgency": ("urgency", "priority", "severity", "sev", "low", "high"),
    "responders": ("responders", "loop", "help", "pull", "bring", "join"),
    "snooze": ("snooze", "mute", "silence", "later", "quiet"),
    "merge": ("merge", "duplicate", "dup", "dupe", "same"),
    "override": ("override", "cover", "swap", "shift", "covering", "vacation", "sick"),
    "timeline": ("timeline", "postmortem", "post-mortem", "happened", "history", "retro", "rca"),
    "similar": ("similar", "before", "like", "again", "seen"),
    "services": ("services", "service", "find"),
}


def not_understood(text: str, context: Context) -> tuple[str, Pending | None]:
    """What was understood of `text` (the longest start that is a command), else the commands its words
    point to, each with an example; always `help`."""
    words = text.split()
    for end in range(len(words) - 1, 0, -1):
        start = " ".join(words[:end])
        understood = match(start, context)
        if isinstance(understood, Parsed) and understood.args and understood.command.words[0] != "show":
            rest = " ".join(words[end:])
            named = {"incident", "incidents", "sources"} & understood.args.keys()  # never "all of yours"
            confirm = start if understood.command.writes and named else None
            answer = "reply `yes` to do just that, or say it again another way" if confirm else "say it another way"
            return (f"I understood `{start}` but not “{rest}”, so I did nothing: {answer}. "
                    f"{_try(understood.command)}", Pending(confirm=confirm) if confirm else None)
    guesses = _guesses(words)
    if guesses:
        return ("I didn't understand that. Did you mean " + " or ".join(
            f"`{c.usage}`{_for_example(c)}" for c in guesses) + "? Type `help` for every command.", None)
    return ("I didn't understand that. Try e.g. `incidents`, `who's on call for Payments API`, `ack 268` or "
            "`page the on-call for Database: replica lag`; `help` lists everything.", None)


def _guesses(words: list[str]) -> list[Command]:
    """Commands the words point to: the command word itself, then the intents most of the words hint at,
    then command words the first word is a misspelling of."""
    lowered = [w.lower().strip("?!.,:;") for w in words]
    by_word = {w: c for c in COMMANDS for w in c.words}
    by_intent = {c.words[0]: c for c in COMMANDS}
    hits = {intent: sum(bool(w in hints or difflib.get_close_matches(w, hints, n=1, cutoff=0.85))
                        for w in lowered if len(w) > 2) for intent, hints in _INTENTS.items()}
    ranked = [by_intent[i] for i in sorted((i for i in hits if hits[i]), key=lambda i: -hits[i])]
    first = difflib.get_close_matches(lowered[0], by_word, n=3, cutoff=0.6) if lowered else []
    exact = [by_word[lowered[0]]] if lowered and lowered[0] in by_word else []
    return list(dict.fromkeys(exact + ranked + [by_word[w] for w in first]))[:3]


def _try(command: Command) -> str:
    return f"Usage: `{command.usage}`" + (f", e.g. `{command.example}`." if command.example else ".")


def _for_example(command: Command) -> str:
    return f" (e.g. `{command.example}`)" if command.example else ""


def help_text() -> str:
    rows = "\n".join(f"• `{c.usage}` — {c.summary}{_for_example(c)}" for c in COMMANDS)
    return ("Command mode (no LLM). INCIDENT is a number (#1234), an id, `it` for the last one shown or `them` "
            "for all it showed; quote a name with words like `on`, `for` or `until` in it; every change waits "
            "for approval.\n" + rows)
