"""The ChatOps grammar of command mode: a typed command in, the tool calls an LLM would make out.

Every command is one row of `COMMANDS`: the words that start it, a few patterns, and functions from
the matched arguments (and, for two-step commands, the results so far) to tool calls. One table keeps
parsing, `help` and "did you mean" in agreement.

Patterns are regular expressions with three additions: `{verb}` is any of the row's words,
`{kind:group}` captures `group` with the rules of `kind` (see `_KINDS`), and a space means "one or
more spaces". Groups are named after the tool's arguments, so most rows need no code of their own.
Matching is case-insensitive and the first pattern that matches the whole text wins.
"""

from __future__ import annotations

import difflib
import re
import string
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from agent.planners.answers import ToolResult, incident_refs
from tools.schemas import TOOL_ARGS

Steps = Sequence[Sequence[ToolResult]]


@dataclass(frozen=True)
class Call:
    """A tool call to emit; `check` validates it against `TOOL_ARGS` before it leaves the model."""

    name: str
    args: dict[str, Any]


def call(name: str, **args: Any) -> Call:
    """A call with only the arguments the user gave, so defaults stay the tool's business."""
    return Call(name, {k: v for k, v in args.items() if v is not None})


class Reply(Exception):
    """Raised to answer in words instead of calling a tool (help, a missing detail, a bad value)."""


@dataclass(frozen=True)
class Parsed:
    """A command matched against a text: its cleaned arguments and who asked."""

    command: Command
    args: dict[str, Any]
    requester: str | None

    def get(self, key: str) -> Any:
        return self.args.get(key)

    def me(self) -> str:
        return whoami(self.requester)


Plan = Callable[[Parsed], list[Call]]
FollowUp = Callable[[Parsed, Steps], "list[Call] | str | None"]  # None: nothing more, answer now


@dataclass(frozen=True)
class Command:
    words: tuple[str, ...]
    usage: str
    summary: str
    patterns: tuple[str, ...]
    plan: Plan
    follow_up: FollowUp | None = None
    done: str = ""  # how a successful change is announced, e.g. "Acknowledged"
    compiled: tuple[tuple[re.Pattern[str], dict[str, str]], ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "compiled", tuple(_compile(p, self.words) for p in self.patterns))


# --- pattern language ----------------------------------------------------------------------------

_QUOTED_OR_LAZY = r"\"[^\"]+\"|'[^']+'|.+?"  # quoted, or as little as the rest of the pattern allows
_REF = r"#?\d+|(?-i:[A-Z][A-Z0-9]{5,19})|(?=\w*\d)[a-z][a-z0-9]{5,19}"  # an incident number or id, not a word
_KINDS = {
    "id": r"#?[\w-]+",  # any token: its position says it is an incident
    "ref": _REF,
    "ids": rf"(?:{_REF})(?:(?:\s*,\s*|\s+and\s+|\s+)(?:{_REF}))*",  # "ack 268 please" is not two incidents
    "name": _QUOTED_OR_LAZY,
    "names": r".+?",
    "text": _QUOTED_OR_LAZY,
    "time": r".+?",
    "dur": r"\d+\s*[a-z]*",
    "num": r"\d+",
    "status": r"triggered|acknowledged|resolved",
    "key": r"[^\s\"']+|\"[^\"]+\"|'[^']+'",  # one token or quoted: an Events API dedup key
}
_UNITS = {"s": "", "sec": "", "secs": "", "second": "", "seconds": "",
          "m": "m", "min": "m", "mins": "m", "minute": "m", "minutes": "m",
          "h": "h", "hr": "h", "hrs": "h", "hour": "h", "hours": "h",
          "d": "d", "day": "d", "days": "d"}
_PEOPLE = {"assignee", "assigned_to", "user", "responders"}  # where "me" means the requester
_ME = {"me", "myself", "mine", "my", "i"}
_SMART_QUOTES = str.maketrans({"“": '"', "”": '"', "„": '"', "‘": "'", "’": "'"})


def _compile(template: str, verbs: tuple[str, ...]) -> tuple[re.Pattern[str], dict[str, str]]:
    kinds: dict[str, str] = {}

    def capture(match: re.Match[str]) -> str:
        kind, group = match.groups()
        kinds[group] = kind
        return f"(?P<{group}>{_KINDS[kind]})"

    regex = template.replace("{verb}", "(?:" + "|".join(map(re.escape, verbs)) + ")").replace(" ", r"\s+")
    regex = re.sub(r"\{(\w+):(\w+)\}", capture, regex)
    return re.compile(regex, re.IGNORECASE | re.DOTALL), kinds


def _unquote(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1].strip()
    return text


def _name(text: str) -> str:
    return _unquote(text.strip().rstrip("?!.").strip())


def duration(text: str) -> str:
    """'2 hours' → '2h', '1 week' → '7d', '90 seconds' → '90': the spelling the tools read; a unit is required."""
    text = text.strip().lower()
    amount = text.rstrip(string.ascii_lowercase).strip()
    unit = text[len(amount):].strip()
    if unit in ("w", "wk", "week", "weeks"):
        return f"{int(amount) * 7}d"
    if unit not in _UNITS or not unit:  # a bare "30" could mean seconds, minutes or hours: ask
        raise Reply(f"I don't understand the duration {text!r}; say e.g. `30m`, `2h` or `1d`.")
    return amount + _UNITS.get(unit, "")


def _incident(token: str) -> str:
    """'#1234' → '1234'; 'pq001zp' → 'PQ001ZP': PagerDuty ids are upper case, phones type them lower."""
    token = token.lstrip("#")
    return token.upper() if re.fullmatch(r"(?=\w*\d)[a-z][a-z0-9]{5,19}", token) else token


_CLEAN: dict[str, Callable[[str], Any]] = {
    "id": _incident,
    "ref": _incident,
    "ids": lambda s: [_incident(t) for t in re.split(r"[\s,]+", s) if t.lower() not in ("", "and")],
    "name": _name,
    "names": lambda s: [n for n in map(_name, re.split(r"\s*,\s*|\s+and\s+", s)) if n],
    "text": _unquote,
    "time": _name,
    "dur": duration,
    "num": int,
    "status": lambda s: [s.lower()],
    "key": _unquote,
    "keyword": str.lower,  # a plain (?P<group>high|low) group
}


def whoami(requester: str | None) -> str:
    if not requester:
        raise Reply("I don't know who is asking, so I can't tell who \"me\" is or which incidents are yours. "
                    "Name them instead, e.g. `ack 1234 1235` or `reassign 1234 to dana@example.com`.")
    return requester


def _me(value: Any, requester: str | None) -> Any:
    if isinstance(value, list):
        return [_me(v, requester) for v in value]
    return whoami(requester) if value.lower() in _ME else value


# --- what commands do ----------------------------------------------------------------------------

def _fill(tool: str, p: Parsed, **fixed: Any) -> Call:
    """A call of `tool` whose arguments are the groups named like them, plus `fixed` ones."""
    fields = TOOL_ARGS[tool].model_fields
    return call(tool, **{k: v for k, v in p.args.items() if k in fields} | fixed)


def _tool(tool: str, **fixed: Any) -> Plan:
    return lambda p: [_fill(tool, p, **fixed)]


def _help(p: Parsed) -> list[Call]:
    raise Reply(help_text())


_NO_MATCH = re.compile(r"\bNo [\w ]+ matches\b")
_GUESSES = ("service", "escalation_policy", "schedule", "team")  # what a bare `oncall NAME` may be


def _oncall(p: Parsed) -> list[Call]:
    """`oncall` alone is one unfiltered `who_is_on_call` (every policy's levels, grouped by policy in
    the answer); `oncall NAME` asks about a service first and `_oncall_guess` tries the other kinds."""
    guess = {"service": p.get("target")} if p.get("target") else {}
    return [_fill("who_is_on_call", p, **guess)]


def _oncall_guess(p: Parsed, steps: Steps) -> list[Call] | str | None:
    """A bare name that is not a service may be a policy, schedule or team; any other error (a bad time)
    is the answer as it is."""
    if not p.get("target") or not steps[-1][0].error or not _NO_MATCH.search(steps[-1][0].content):
        return None
    if len(steps) < len(_GUESSES):
        return [_fill("who_is_on_call", p, **{_GUESSES[len(steps)]: p.get("target")})]
    return (f"No service, escalation policy, schedule or team matches {p.get('target')!r}.\n"
            + steps[0][0].content.strip())


def _bulk(action: str, statuses: list[str]) -> tuple[Plan, FollowUp]:
    """`ack`/`resolve`: the named incidents, or (two steps) every open one assigned to the requester."""

    def named(p: Parsed) -> list[str]:
        return p.get("incidents") or ([p.get("incident")] if p.get("incident") else [])

    def plan(p: Parsed) -> list[Call]:
        ids, note = named(p), p.get("resolution")
        if len(ids) == 1:
            return [call("update_incident", incident=ids[0], action=action, resolution=note)]
        if ids:
            return [call("manage_incidents", incidents=ids, action=action, resolution=note)]
        return [call("list_incidents", assigned_to=p.me(), statuses=statuses)]

    def follow_up(p: Parsed, steps: Steps) -> list[Call] | str | None:
        if named(p) or len(steps) > 1 or steps[0][0].error:
            return None
        refs = incident_refs(steps[0][0])
        if not refs:
            return f"Nothing to {action}: no {' or '.join(statuses)} incidents are assigned to {p.requester}."
        return [call("manage_incidents", incidents=refs, action=action, resolution=p.get("resolution"))]

    return plan, follow_up


def _trigger(p: Parsed) -> list[Call]:
    """With a service named, open the incident; with only an alert's text, list the services first
    (`_trigger_on_named_service` opens it on the one the text names)."""
    return [_fill("create_incident", p)] if p.get("service") else [call("find_services")]


def _trigger_on_named_service(p: Parsed, steps: Steps) -> list[Call] | str | None:
    if p.get("service") or len(steps) > 1 or steps[0][0].error:
        return None
    services = steps[0][0].data.get("services", []) if isinstance(steps[0][0].data, dict) else []
    named = mentioned(p.get("title"), services)
    if len(named) == 1:
        return [_fill("create_incident", p, service=named[0]["id"])]
    if named:
        return (f"The alert names more than one service ({', '.join(s['name'] for s in named)}); which one "
                f'should be paged? Say e.g. `page whoever is on call for {named[0]["name"]}: {p.get("title")}`.')
    known = ", ".join(s["name"] for s in services[:20]) or "none found"
    return (f"Which service is this about? No service name appears in {p.get('title')!r}, and I will not "
            f'guess. Say e.g. `page whoever is on call for SERVICE: {p.get("title")}` (services: {known}).')


def mentioned(text: str, services: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The services whose names appear in `text` as whole words, longest match first: a name found only
    inside a longer one that also appears ("API" in "Payments API") does not count."""
    spans: dict[str, tuple[dict[str, Any], list[tuple[int, int]]]] = {}
    for service in services:
        name = service.get("name")
        found = [m.span() for m in re.finditer(rf"(?<!\w){re.escape(name)}(?!\w)", text, re.IGNORECASE)] if name else []
        if found:
            spans[service["id"]] = (service, found)

    def inside_a_longer_one(span: tuple[int, int]) -> bool:
        return any(a <= span[0] and span[1] <= b and (a, b) != span
                   for _, others in spans.values() for a, b in others)

    named = [service for service, found in spans.values() if not all(map(inside_a_longer_one, found))]
    return sorted(named, key=lambda s: -len(s["name"]))


def _override(p: Parsed) -> list[Call]:
    """`for 8h` becomes end `+8h`, which the tool reads relative to the start."""
    if not p.get("end") and not p.get("length"):
        raise Reply("Until when? Add `until TIME` or `for DURATION`, "
                    "e.g. `override \"Core Backend\" with dana@example.com for 8h`.")
    return [_fill("create_override", p, end=p.get("end") or "+" + p.get("length"))]


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

_AT = "(?: at {time:at})?"
_ONCALL = r"(?:{verb}|on call|who(?:'s|s| is)?(?: currently)? on[- ]?call(?: (?:right )?now)?)(?: for| on)?"
_ONCALL_BY = {"service": "service", "escalation policy|policy|ep": "escalation_policy",
              "schedule|rotation": "schedule", "team": "team", "user": "user"}
_PAGE_ONCALL = (r"page (?:whoever(?:'s| is)?|who(?:'s| is)?|the person|the engineer|the on-?call(?: engineer)?)"
                r"(?: on[- ]?call)?")
_ack, _ack_more = _bulk("acknowledge", ["triggered"])
_resolve, _resolve_more = _bulk("resolve", ["triggered", "acknowledged"])

COMMANDS: tuple[Command, ...] = (
    Command(("help", "commands"), "help", "this list", (r"(?:{verb}|\?)(?: .*)?",), _help),
    Command(("services", "service"), "services [QUERY]", "find services by name",
            ("(?:list |find )?{verb}(?: {name:query})?",), _tool("find_services")),
    Command(("oncall", "on-call"), "oncall [service|policy|schedule|team NAME] [at TIME]",
            "who is on call: everywhere, or for one service, policy, schedule or team",
            (_ONCALL + " (?P<user>me)" + _AT,
             "when am (?P<user>i) on[- ]?call" + _AT,
             _ONCALL + _AT,
             *(f"{_ONCALL} (?:{words}) {{name:{arg}}}{_AT}" for words, arg in _ONCALL_BY.items()),
             _ONCALL + " {name:target}" + _AT), _oncall, _oncall_guess),
    Command(("incidents",), "incidents [open|mine|service NAME]", "open incidents: all, yours or a service's",
            ("(?:open |list )?{verb}(?: open)?",
             "{verb} (?:assigned to )?(?P<assigned_to>mine|me)",
             "(?P<assigned_to>my)(?: open)? {verb}",
             "{verb} {status:statuses}",
             "{status:statuses} {verb}",
             "{verb}(?: service| for| on)? {name:service}"), _tool("list_incidents")),
    Command(("show", "get", "details", "incident"), "show INCIDENT", "one incident in detail",
            ("{verb}(?: incident)? {id:incident}",), _tool("get_incident")),
    Command(("trigger", "page", "create"), 'trigger "TITLE" on SERVICE [high|low] [assign USER]',
            "open an incident; it pages the service's on-call (or USER). "
            "An alert works too: `ALERT TEXT — page whoever is on call`",
            (_PAGE_ONCALL + r" (?:for|on) {name:service}\s*(?:[:\u2013\u2014-]| about)\s*{text:title}",
             r"page {name:service}\s*:\s*{text:title}",
             "{verb}(?: incident)? {text:title} (?:on|for) {name:service}"
             "(?: (?P<urgency>high|low)(?: urgency)?)?(?: assign(?:ed)?(?: to)? {name:assignee})?",
             r"{text:title}\s*[:,\u2013\u2014-]+\s*" + _PAGE_ONCALL + r"(?: now| please)?"),
            _trigger, _trigger_on_named_service, done="Triggered"),
    Command(("ack", "acknowledge"), "ack [INCIDENT…]", "acknowledge incidents (none named: all of yours)",
            ("{verb}(?: all| mine| everything| my incidents)?",
             "{verb}(?: incidents?)? {ids:incidents}"), _ack, _ack_more, done="Acknowledged"),
    Command(("resolve",), "resolve [INCIDENT…|all] [NOTE]", "resolve incidents (none named, or `all`: all of yours)",
            (r"{verb}(?: incidents?)? {ids:incidents}(?:[\s:,\u2013\u2014-]+(?:with |note )?{text:resolution})?",
             # all of yours only when said so: "resolve 268." must never read as "all, with note '268.'"
             r"{verb}(?: (?:all|mine|everything)(?:[\s:,\u2013\u2014-]+{text:resolution})?)?"),
            _resolve, _resolve_more, done="Resolved"),
    Command(("reopen", "retrigger", "unresolve"), "reopen INCIDENT", "trigger a resolved incident again",
            ("{verb} {id:incident}",), _tool("update_incident", action="reopen"), done="Reopened"),
    Command(("note", "comment"), 'note INCIDENT "TEXT"', "add a note to an incident",
            (r"(?:add )?{verb}(?: to| on)? {id:incident}[\s:,\u2013\u2014-]+{text:content}",),
            _tool("add_note"), done="Noted"),
    Command(("escalate",), "escalate INCIDENT [level N]", "escalate to the next (or the given) level",
            ("{verb} {id:incident}(?: to)?(?: level {num:escalation_level})?",),
            _tool("update_incident", action="escalate"), done="Escalated"),
    Command(("reassign", "assign"), "reassign INCIDENT to USER", "hand an incident over (or `policy NAME`)",
            ("{verb} {id:incident} to (?:escalation policy|policy|ep) {name:escalation_policy}",
             "{verb} {id:incident} to {name:assignee}"),
            _tool("update_incident", action="reassign"), done="Reassigned"),
    Command(("urgency",), "urgency INCIDENT high|low", "change an incident's urgency",
            ("(?:set )?{verb}(?: of)? {id:incident}(?: to)? (?P<urgency>high|low)",),
            _tool("update_incident", action="set_urgency"), done="Updated"),
    Command(("responders", "add"), "responders INCIDENT add USER|POLICY[, …]", "ask more people to join",
            ("{verb} {id:incident} add {names:responders}",
             "add(?: responders?)? {names:responders} to {id:incident}"),
            _tool("add_responders"), done="Requested"),
    Command(("snooze",), "snooze INCIDENT DURATION", "snooze an acknowledged incident, e.g. for 2h",
            ("{verb} {id:incident}(?: for)? {dur:duration}",), _tool("snooze_incident"), done="Snoozed"),
    Command(("merge",), "merge SOURCE[,SOURCE…] into TARGET", "merge incidents into one",
            ("{verb} {ids:sources} into {id:target}",), _tool("merge_incidents"), done="Merged"),
    Command(("override", "cover"), "override SCHEDULE with USER [from TIME] (until TIME|for DURATION)",
            "put someone on call in a schedule for a while",
            ("{verb} {name:schedule} with {name:user}(?: from {time:start})?"
             "(?: until {time:end}| for {dur:length})?",), _override, done="Override created"),
    Command(("timeline", "log", "history"), "timeline INCIDENT", "what happened, in order (for post-mortems)",
            ("{verb}(?: of| for)?(?: incident)? {id:incident}",), _tool("incident_timeline")),
    Command(("similar",), "similar INCIDENT", "past incidents like this one",
            ("{verb}(?: incidents)?(?: to| like)?(?: incident)? {id:incident}",), _tool("similar_incidents")),
    Command(("alert",), 'alert SERVICE "SUMMARY" [critical|error|warning|info] [source SOURCE] [key DEDUP_KEY]',
            "send an Events API alert (`alert ack|resolve SERVICE DEDUP_KEY` acknowledges or resolves it)",
            ("{verb} (?P<action>ack|acknowledge|resolve) {name:service} {key:dedup_key}",
             "{verb} {name:service} (?=[\"']){text:summary}(?: (?P<severity>critical|error|warning|info))?"
             "(?: source {name:source})?(?: key {key:dedup_key})?"), _alert, _alert_sent, done="Sent"),
    Command(("change",), 'change SERVICE "SUMMARY" [source SOURCE]',
            "record a change event (a deploy, a config change) on a service's timeline; nobody is paged",
            ("{verb} {name:service} (?=[\"']){text:summary}(?: source {name:source})?",),
            _tool("send_change_event"), _change_recorded, done="Recorded"),
)
_PATTERNS = [(command, regex, kinds) for command in COMMANDS for regex, kinds in command.compiled]


# --- parsing -------------------------------------------------------------------------------------

def normalise(text: str) -> str:
    """Phones curl quotes and people type `/ic` or a mention first: undo both."""
    text = text.translate(_SMART_QUOTES).strip()
    return re.sub(r"^(?:/\w+|<@\w+>|@\w+)\s+", "", text).strip()


def parse(text: str, requester: str | None) -> Parsed:
    """The first command that matches the whole text; `Reply` with suggestions when none does."""
    text = normalise(text)
    # Without trailing punctuation first: "resolve 268." and "… for 8h." mean what they say without it.
    for candidate in dict.fromkeys([text.rstrip("?!. "), text]):
        for command, regex, kinds in _PATTERNS:
            match = regex.fullmatch(candidate)
            if match:
                return _bind(command, match, kinds, requester)
    raise Reply(not_understood(text))


def _bind(command: Command, match: re.Match[str], kinds: dict[str, str], requester: str | None) -> Parsed:
    args = {k: _CLEAN[kinds.get(k, "keyword")](v) for k, v in match.groupdict().items() if v is not None}
    for key in _PEOPLE & args.keys():
        args[key] = _me(args[key], requester)
    return Parsed(command, args, requester)


def plan(parsed: Parsed, steps: Steps) -> list[Call] | str | None:
    """The next calls given the results so far, a reply in words, or None: answer from the results."""
    if not steps:
        calls: list[Call] | str | None = parsed.command.plan(parsed)
    elif parsed.command.follow_up:
        calls = parsed.command.follow_up(parsed, steps)
    else:
        return None
    if isinstance(calls, list):
        check(parsed.command, calls)
    return calls


def check(command: Command, calls: list[Call]) -> None:
    """Refuse, in words, what the tool would refuse, before anything is sent or approved."""
    for c in calls:
        try:
            TOOL_ARGS[c.name].model_validate(c.args)
        except ValidationError as error:
            problem = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'arguments'}: {e['msg']}"
                                for e in error.errors())
            raise Reply(f"That doesn't look right ({problem}). Usage: `{command.usage}`") from None


def not_understood(text: str) -> str:
    """The usage when the command word was right, else the closest command words; always `help`."""
    word = text.split()[0].lower() if text.split() else ""
    same = [c for c in COMMANDS if word in c.words]
    if same:
        return "Usage: " + " or ".join(f"`{c.usage}`" for c in same) + ". Type `help` for every command."
    primary = {w: c.words[0] for c in COMMANDS for w in c.words}
    close = dict.fromkeys(primary[w] for w in difflib.get_close_matches(word, primary, n=3, cutoff=0.6))
    hint = ("Did you mean " + " or ".join(f"`{w}`" for w in close) + "? ") if close else ""
    return f"I don't know the command `{word}`. {hint}Type `help` for every command."


def help_text() -> str:
    rows = "\n".join(f"• `{c.usage}` — {c.summary}" for c in COMMANDS)
    return ("Command mode (no LLM). INCIDENT is an id or a number (#1234); quote names that contain "
            "`on`, `with` or `until`; every change waits for approval.\n" + rows)
