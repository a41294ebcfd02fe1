"""The `incident-commander` command line: chat, one-shot requests, approvals, tools, doctor, simulator, audit.

Data (answers, tables, JSON) goes to stdout and everything for a person watching (steps, notices,
errors) to stderr, so any command can be piped. Each command builds its own Commander from the
environment and closes it; pending approvals and the audit trail live in the checkpoint database, so
a later process can list and decide what an earlier one left waiting. The simulator, the Slack app and
the eval runner keep their commands in their own packages; `command_line.main` mounts them beside these.
"""

from __future__ import annotations

import json
import logging
import secrets
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Literal, NoReturn

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.logging import RichHandler
from rich.markup import escape

from agent.redaction import Scrubber
from agent.settings import Settings, settings_problem
from agent.wording import in_zone
from command_line import render

if TYPE_CHECKING:  # the commander's modules load LangGraph and LangChain: imported by the commands that run them
    from agent.approvals import ApprovalRequest, Verdict
    from agent.commander import Commander, ProgressEvent
    from agent.reads import QuickReads

EXIT_OK = 0
EXIT_ACTION_FAILED = 1
EXIT_USAGE = 2
EXIT_WAITING_FOR_APPROVAL = 3
EXIT_CONFIGURATION = 4

EXIT_CODES_HELP = (
    f"Exit codes: {EXIT_OK} done · {EXIT_ACTION_FAILED} an action failed or was refused · "
    f"{EXIT_USAGE} usage error · {EXIT_WAITING_FOR_APPROVAL} waiting for approval · "
    f"{EXIT_CONFIGURATION} configuration or connection problem (bad key, unreachable host)."
)
QUIT = frozenset({"/quit", "/exit"})
CHOICES: dict[str, Verdict] = {"a": "approve", "approve": "approve", "y": "approve", "yes": "approve",
                               "e": "edit", "edit": "edit", "r": "reject", "reject": "reject", "n": "reject",
                               "no": "reject"}

app = typer.Typer(name=render.PROGRAM, no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
                  help="Incident response on PagerDuty: look things up, propose changes, write only after a "
                       "person approves.",
                  epilog=EXIT_CODES_HELP)
tools_app = typer.Typer(no_args_is_help=True, help="The PagerDuty tools the planner can call.")
app.add_typer(tools_app, name="tools")


@app.callback()
def _options(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Also log every PagerDuty request "
                                                                         "on stderr.")] = False) -> None:
    """Requests are logged only when asked for: the commands already report what went wrong, once."""
    logger = logging.getLogger("incident_commander")
    logger.handlers = [RichHandler(console=Console(stderr=True), show_path=False) if verbose
                       else logging.NullHandler()]
    logger.setLevel(logging.DEBUG if verbose else logging.WARNING)


ThreadOption = Annotated[str | None, typer.Option("--thread", help="Conversation id (default: a new one).")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]


# --- output ---


def _say(markup: str) -> None:
    """A line for people, on stderr."""
    Console(stderr=True, soft_wrap=True, highlight=False).print(markup)


def _show(renderable: Any) -> None:
    """Data on stdout (tables honour COLUMNS when stdout is not a terminal)."""
    Console(highlight=False).print(renderable)


def _fail(message: str, code: int) -> NoReturn:
    _say(f"[bold red]error:[/] {escape(Scrubber()(message))}")  # token shapes: an error may quote one
    raise typer.Exit(code)


@contextmanager
def _reported() -> Iterator[None]:
    """Known failures become one line on stderr and an exit code, never a traceback."""
    from agent.approvals import ApprovalError, PolicyError  # loads LangChain: only once a command runs
    from agent.failures import ACTION_FAILURES, SETUP_FAILURES  # loads the simulator: likewise

    try:
        yield
    except (typer.Exit, typer.Abort):
        raise
    except ValidationError as error:
        _fail(f"configuration: {settings_problem(error)}", EXIT_CONFIGURATION)
    except PolicyError as error:
        _fail(f"{error} (IC_APPROVAL_POLICY names the policy file)", EXIT_CONFIGURATION)
    except ApprovalError as error:
        _fail(f"{str(error).rstrip('. ')}. Nothing was recorded; `{render.PROGRAM} pending` lists what is waiting.",
              EXIT_ACTION_FAILED)
    except SETUP_FAILURES as error:
        _fail(str(error), EXIT_CONFIGURATION)
    except ACTION_FAILURES as error:
        _fail(str(error), EXIT_ACTION_FAILED)
    except sqlite3.Error as error:
        _fail(f"checkpoint DB: {error}; set IC_CHECKPOINT_DB to a writable SQLite file", EXIT_CONFIGURATION)
    except OSError as error:
        _fail(f"{error}; check the paths in IC_CHECKPOINT_DB, IC_SIMULATOR_STATE, IC_APPROVAL_POLICY or the "
              "command's options", EXIT_CONFIGURATION)
    except Exception as error:  # the last line of defence: still one readable line
        _fail(f"unexpected {type(error).__name__}: {error}", EXIT_ACTION_FAILED)


@contextmanager
def _commander() -> Iterator[Commander]:
    """A Commander from the environment; says which embedded defaults it uses."""
    from agent.commander import Commander  # loads LangGraph: not for --help, tools or doctor

    commander = Commander.from_settings()
    try:
        _notices(commander.notices)
        yield commander
    finally:
        commander.close()


@contextmanager
def _quick_reads() -> Iterator[QuickReads]:
    """Quick reads from the environment (a Commander on the same parts for the rest); says which embedded
    defaults they use."""
    from agent.reads import QuickReads  # loads the tools and the simulator, not LangChain

    with QuickReads.from_settings() as quick:
        _notices(quick.notices)
        yield quick


def _graph_on(quick: QuickReads) -> Commander:
    """A Commander on the parts quick reads already wired, for what is not a quick read."""
    from agent.commander import Commander  # loads LangGraph: only for what is not a quick read

    return Commander.from_settings(wiring=quick.hand_over())


def _notices(notices: list[str]) -> None:
    for notice in notices:
        _say(f"[dim]{escape(notice)}[/]")


def _follow(events: Iterable[ProgressEvent], thread_id: str) -> list[ProgressEvent]:
    """Show each event on stderr as it happens (a run that stopped: with the command that finishes it); return
    them all."""
    seen = []
    for event in events:
        if (line := render.event_line(event)) is not None:
            _say(line)
        if event.kind == "failed" and event.resumable:
            _say(f"To finish it: [bold]{escape(render.PROGRAM)} resume {escape(thread_id)}[/]")
        seen.append(event)
    return seen


# --- outcomes ---


@dataclass
class Outcome:
    """Where a thread stands after a command, and the exit code that says so."""

    status: Literal["answered", "waiting", "failed"]
    text: str
    pending: list[ApprovalRequest]
    events: list[ProgressEvent]
    zone: str | None = None
    """The person's time zone (IC_TIME_ZONE), for the times of what is still pending."""

    @classmethod
    def of(cls, commander: Commander | QuickReads, thread_id: str, events: list[ProgressEvent]) -> Outcome:
        """Where the thread stands (a quick read leaves nothing pending)."""
        pending = commander.pending(thread_id)
        final = next((e for e in reversed(events) if e.kind in ("answer", "failed", "notice")), None)
        status: Literal["answered", "waiting", "failed"] = (
            "failed" if final is not None and final.kind == "failed" else "waiting" if pending else "answered")
        text = final.message if final is not None else "Waiting for approval."
        return cls(status, text, pending, events, commander.settings.time_zone)

    @property
    def exit_code(self) -> int:
        """As the README's table says: 4 PagerDuty cannot be used as configured, 1 failed, refused or not
        understood, 3 waiting for approval, 0 done."""
        final = next((e for e in reversed(self.events) if e.kind in ("answer", "failed")), None)
        problem = final.problem if final is not None else None
        if problem == "setup":
            return EXIT_CONFIGURATION
        if self.status == "failed" or problem is not None:
            return EXIT_ACTION_FAILED
        if self.pending:
            return EXIT_WAITING_FOR_APPROVAL
        return EXIT_OK


def _print_pending(requests: list[ApprovalRequest]) -> None:
    typer.echo("\n\n".join(render.approval_block(r) for r in requests))


def _finish(outcome: Outcome) -> NoReturn:
    """Print the answer (stdout) and what still waits, then exit with the outcome's code."""
    answer = next((e for e in reversed(outcome.events) if e.kind == "answer"), None)
    if answer is not None and answer.message:
        typer.echo(answer.message)
    if outcome.pending:
        with in_zone(outcome.zone):
            _print_pending(outcome.pending)
    raise typer.Exit(outcome.exit_code)


def new_thread_id(kind: str) -> str:
    return f"{kind}-{secrets.token_hex(4)}"


def _parse_sets(items: list[str]) -> dict[str, Any]:
    """`--set FIELD=VALUE` pairs. A value that reads as JSON (a number, a list, true, false, null) is taken as
    that; anything else is text, so `--set title=API down` needs no quotes."""
    changes: dict[str, Any] = {}
    for item in items:
        field, sep, value = item.partition("=")
        if not sep or not field.strip():
            raise typer.BadParameter(f"{item!r} is not FIELD=VALUE, e.g. --set urgency=low", param_hint="--set")
        try:
            changes[field.strip()] = json.loads(value)
        except json.JSONDecodeError:
            changes[field.strip()] = value
    return changes


def _parse_arguments(text: str) -> dict[str, Any]:
    """Edited arguments: a JSON object (the tool's schema checks the rest)."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"not valid JSON ({error.msg} at line {error.lineno} column {error.colno})") from None
    except RecursionError:
        raise ValueError("nested far too deeply; tool arguments are a flat JSON object") from None
    if not isinstance(value, dict):
        raise ValueError('must be a JSON object, e.g. {"title": "API latency", "urgency": "low"}')
    return value


# --- conversations ---


@app.command()
def ask(
    text: Annotated[str, typer.Argument(help='The request, e.g. "oncall API Gateway" or a sentence.')],
    thread: ThreadOption = None,
    approve_all: Annotated[bool, typer.Option("--approve-all", help="Approve every request (as yourself) and "
                                                                    "run to the end.")] = False,
    reject_all: Annotated[bool, typer.Option("--reject-all", help="Reject every request.")] = False,
    json_out: JsonOption = False,
) -> None:
    """Send one request; without --approve-all/--reject-all, print how to decide what it proposes."""
    if approve_all and reject_all:
        raise typer.BadParameter("choose one of --approve-all and --reject-all", param_hint="--approve-all")
    thread_id = thread or new_thread_id("ask")
    decided: dict[str, Verdict] = {}
    with _reported(), _quick_reads() as quick:
        _say(f"thread: {escape(thread_id)}")
        me = quick.requester
        answered = quick.stream(thread_id, text, me)
        if answered is not None:  # a read: answered without the graph
            events = _follow(answered, thread_id)
            outcome = Outcome.of(quick, thread_id, events)
        else:
            with closing(_graph_on(quick)) as commander:
                events = _follow(commander.stream(thread_id, text, me), thread_id)
                if approve_all or reject_all:
                    events += _decide_all(commander, thread_id, events, me, "approve" if approve_all else "reject",
                                          decided)
                outcome = Outcome.of(commander, thread_id, events)
    if not json_out:
        _finish(outcome)
    seen = {e.approval.id: e.approval for e in events if e.approval is not None}
    seen |= {r.id: r for r in outcome.pending}
    typer.echo(json.dumps({
        "thread": thread_id, "status": outcome.status, "answer": outcome.text,
        "approvals": [render.approval_record(r) | {"decision": decided.get(r.id, "pending")} for r in seen.values()],
        "events": [render.event_record(e) for e in events],
    }, ensure_ascii=False, indent=2))
    raise typer.Exit(outcome.exit_code)


def _decide_all(commander: Commander, thread_id: str, events: list[ProgressEvent], me: str, verdict: Verdict,
                decided: dict[str, Verdict]) -> list[ProgressEvent]:
    """Decide every request this command raised (never what others left waiting on the thread), and the ones
    the run raises after them, until none is left; `decided` records each verdict."""
    seen: list[ProgressEvent] = []
    while True:
        raised = {e.approval.id for e in [*events, *seen] if e.kind == "approval_needed" and e.approval is not None}
        waiting = [r for r in commander.pending(thread_id) if r.id in raised]
        if not waiting:
            return seen
        for request in waiting:
            reason = None if verdict == "approve" else f"rejected by {me} with --reject-all"
            seen += _follow(commander.stream_decide(thread_id, request.id, verdict, me, reason=reason), thread_id)
            decided[request.id] = verdict


@app.command()
def chat(thread: ThreadOption = None) -> None:
    """A conversation: type requests, see each step, and approve, edit or reject changes as they come."""
    thread_id = thread or new_thread_id("chat")
    with _reported(), _commander() as commander, in_zone(commander.settings.time_zone):
        _say(f"thread: {escape(thread_id)} · /quit (or end of input) leaves")
        me = commander.requester
        staying = _review(commander, thread_id, me)
        while staying:
            text = _read("you> ")
            if text is None or text.strip() in QUIT:
                break
            if text.strip():
                _print_answer(_follow(commander.stream(thread_id, text, me), thread_id))
                staying = _review(commander, thread_id, me)
        left = commander.pending(thread_id)
    if left:
        _say("Still waiting for approval; decide later with:")
        with in_zone(commander.settings.time_zone):
            _print_pending(left)
        raise typer.Exit(EXIT_WAITING_FOR_APPROVAL)


def _read(prompt: str) -> str | None:
    """One line of input (prompt on stderr), or None at end of input."""
    try:
        return Console(stderr=True, highlight=False).input(f"[bold]{escape(prompt)}[/]")
    except EOFError:
        return None


def _print_answer(events: list[ProgressEvent]) -> None:
    for event in events:
        if event.kind == "answer" and event.message:
            typer.echo(event.message)


def _review(commander: Commander, thread_id: str, me: str) -> bool:
    """Ask about every pending approval until none is left; False when the person left (end of input, /quit)."""
    from agent.approvals import ApprovalError  # already loaded by the commander; kept out of the module's top

    while waiting := commander.pending(thread_id):
        request = shown = waiting[0]
        _show_request("Needs approval", request)
        while True:  # an edit is shown as it would run, and asked about again
            decision = _ask_decision(shown)
            if decision is None:
                return False
            verdict, changes, reason = decision
            if verdict != "edit":
                break
            try:
                shown = commander.preview(shown, changes)
            except ApprovalError as error:
                _say(f"[red]{escape(str(error))}[/] — choose again.")
                continue
            _show_request("Edited, not approved yet", shown)
        arguments = shown.arguments if verdict == "approve" and shown is not request else None
        verdict = "edit" if arguments is not None else verdict
        try:
            _print_answer(_follow(commander.stream_decide(thread_id, request.id, verdict, me,
                                                          arguments=arguments, reason=reason), thread_id))
        except ApprovalError as error:
            _say(f"[red]{escape(str(error))}[/] — choose again.")
    return True


def _show_request(title: str, request: ApprovalRequest) -> None:
    _say(f"\n[bold yellow]{title}[/] ({request.risk} risk) [dim]{request.id}[/]\n  {escape(request.summary)}"
         f"\n  [dim]{escape(render.arguments_line(request))}[/]")


def _ask_decision(request: ApprovalRequest) -> tuple[Verdict, dict[str, Any] | None, str | None] | None:
    """approve / edit (FIELD=VALUE or a JSON object of changes; the tool's schema checks them) / reject (reason)."""
    while True:
        answer = _read("[a]pprove, [e]dit, [r]eject? ")
        if answer is None or answer.strip() in QUIT:
            return None
        verdict = CHOICES.get(answer.strip().lower())
        if verdict == "approve":
            return verdict, None, None
        if verdict == "reject":
            reason = _read("reason: ")
            if reason is None:
                return None
            return verdict, None, reason.strip() or None
        if verdict == "edit":
            text = _read("changes as FIELD=VALUE, or a JSON object (empty line: back): ")
            if text is None:
                return None
            if not text.strip():
                continue
            try:
                return verdict, _parse_arguments(text) if text.lstrip().startswith("{") else _parse_sets([text]), None
            except (ValueError, typer.BadParameter) as error:
                _say(f"[red]The changes are {escape(str(error))}[/]")
                continue
        _say("Type a (approve), e (edit) or r (reject).")


# --- deciding later ---


@app.command()
def pending(thread: Annotated[str | None, typer.Option("--thread", help="Only this conversation.")] = None,
            show_all: Annotated[bool, typer.Option("--all", help="Also the expired ones (they can only be "
                                                                 "rejected).")] = False,
            json_out: JsonOption = False) -> None:
    """List the approvals waiting for a decision (on every thread, or on one)."""
    with _reported(), _commander() as commander:
        threads = [thread] if thread else [t.thread_id for t in commander.threads()]
        requests = [(r, commander.expired(r)) for t in threads for r in commander.pending(t)]
        zone = commander.settings.time_zone
    hidden = sum(expired for _, expired in requests) if not show_all else 0
    requests = [(r, expired) for r, expired in requests if show_all or not expired]
    if json_out:
        typer.echo(json.dumps([render.approval_record(r) | {"expired": expired} for r, expired in requests],
                              ensure_ascii=False, indent=2))
    elif requests:
        with in_zone(zone):
            typer.echo("\n\n".join(render.approval_block(r, expired=expired) for r, expired in requests))
    else:
        _say("Nothing is waiting for approval" + (f" on thread {escape(thread)}." if thread else "."))
    if hidden:
        _say(f"[dim]{hidden} expired request(s) not shown; `{render.PROGRAM} pending --all` lists them.[/]")


@app.command()
def approve(
    thread: Annotated[str, typer.Argument(help="The conversation id.")],
    approval: Annotated[str, typer.Argument(help="The approval id (apr_…).")],
    arguments: Annotated[str | None, typer.Option(
        "--arguments", help="Change these arguments (a JSON object merged into the proposed ones; checked by the "
                            "tool's schema).",
    )] = None,
    sets: Annotated[list[str] | None, typer.Option(
        "--set", help="Change one argument: FIELD=VALUE (repeatable).")] = None,
) -> None:
    """Approve (or, with --set or --arguments, edit and approve) a pending request; the thread then carries on."""
    try:
        changes = _parse_arguments(arguments) if arguments is not None else {}
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--arguments") from None
    changes |= _parse_sets(sets or [])
    _decide(thread, approval, "edit" if changes else "approve", arguments=changes or None)


@app.command()
def reject(
    thread: Annotated[str, typer.Argument(help="The conversation id.")],
    approval: Annotated[str, typer.Argument(help="The approval id (apr_…).")],
    reason: Annotated[str, typer.Option("--reason", help="Why; the planner reads it.")],
) -> None:
    """Reject a pending request; nothing is changed in PagerDuty and the planner is told why."""
    _decide(thread, approval, "reject", reason=reason)


def _decide(thread_id: str, approval_id: str, verdict: Verdict, *, arguments: dict[str, Any] | None = None,
            reason: str | None = None) -> NoReturn:
    with _reported(), _commander() as commander:
        events = _follow(commander.stream_decide(thread_id, approval_id, verdict, commander.requester,
                                                 arguments=arguments, reason=reason), thread_id)
        outcome = Outcome.of(commander, thread_id, events)
    _finish(outcome)


@app.command()
def resume(thread: Annotated[str, typer.Argument(help="The conversation id.")]) -> None:
    """Finish a run that stopped on an error; a repeated PagerDuty change is recognised, not doubled."""
    with _reported(), _commander() as commander:
        outcome = Outcome.of(commander, thread, _follow(commander.stream_resume(thread), thread))
    _finish(outcome)


@app.command()
def audit(thread: Annotated[str | None, typer.Option("--thread", help="Only this conversation.")] = None,
          json_out: JsonOption = False) -> None:
    """Every message, approval request, decision and tool call, oldest first."""
    with _reported(), _commander() as commander:
        entries = commander.audit(thread)
    if json_out:
        typer.echo(json.dumps([e.model_dump(mode="json") for e in entries], ensure_ascii=False, indent=2))
    elif entries:
        _show(render.audit_table(entries, with_thread=thread is None))
    else:
        _say("No audit records" + (f" for thread {escape(thread)}." if thread else " yet."))


# --- tools ---


@tools_app.command("list")
def tools_list(json_out: JsonOption = False) -> None:
    """Each tool: read or write, its approval rule, and what it does."""
    from agent.tool_list import list_tools  # the tool declarations: only for this command

    with _reported():
        listing = list_tools(Settings())
    rows = [{"name": t.name, "kind": t.kind, "approval": t.approval,
             "description": render.first_sentence(t.description)} for t in listing.tools]
    if listing.read_only:
        _say("[yellow]Read-only mode (PAGERDUTY_READ_ONLY): write tools are not offered.[/]")
    if json_out:
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
    else:
        _show(render.tools_table(rows))


# --- readiness ---


@app.command()
def doctor(json_out: JsonOption = False) -> None:
    """Check the PagerDuty key, From user, access, rate limit, model and checkpoint DB; changes nothing."""
    from agent.doctor import diagnose  # loads LangChain and the simulator: only for this command

    with _reported():
        report = diagnose(Settings())
    if json_out:
        typer.echo(json.dumps({"target": report.target, "ok": not report.failed,
                               "checks": [vars(c) for c in report.checks]}, ensure_ascii=False, indent=2))
    else:
        _show(render.doctor_table(report))
    if report.failed:
        _say("[red]Some checks failed; each says what to change. Run doctor again afterwards.[/]")
        raise typer.Exit(EXIT_CONFIGURATION)
