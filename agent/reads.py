"""Quick answers: a read in command mode, on a new conversation, answered without LangChain or LangGraph.

Loading LangChain and LangGraph costs a Python process more than a second, while the reads people type at
3 a.m. (`oncall payments`, `incidents mine`, `show 271`, `help`) take milliseconds against PagerDuty. A read
needs no graph: nothing waits for approval, and nothing can stop half done. So when no OpenAI key is set
and the policy runs reads without asking, the first message of a conversation is read here with the
command grammar; when it only reads (or needs no tool at all: `help`, a question back, a command not
understood) it is answered here with the same tools and words the command model uses, and audited as
the graph audits it. Everything else (a change, a planner model, a conversation under way) goes to the
`Commander`, on the same wiring.

The turn is kept (`QuickTurns`), so the next message on the thread continues it: the Commander begins the
conversation with it (what "it" refers to, the question asked).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Generator, Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from agent.audit import AUTO
from agent.events import ProgressEvent, problem_of
from agent.planners.answers import ToolResult, in_zone
from agent.planners.conversation import Context
from agent.planners.grammar import Parsed
from agent.planners.phrasing import read_aliases
from agent.planners.turns import Said, next_move, read, tool_calls
from agent.redaction import redacted
from agent.settings import Settings
from agent.wiring import Wiring
from tools.client import WaitKind
from tools.toolkit import step

if TYPE_CHECKING:
    from agent.approvals import ApprovalRequest


class QuickReads:
    """Reads answered at once; everything else goes to a `Commander` on the wiring they `hand_over`."""

    def __init__(self, wiring: Wiring) -> None:
        self._wiring = wiring
        self.settings = wiring.settings
        self._kept = QuickTurns(wiring.settings.checkpoint_path)
        self._closed = False

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> QuickReads:
        return cls(Wiring.from_settings(settings))

    @property
    def notices(self) -> list[str]:
        notice = self._wiring.notice(command_mode=self._command_mode)
        return [notice] if notice else []

    @property
    def requester(self) -> str:
        return self._wiring.requester

    @property
    def _command_mode(self) -> bool:
        return self.settings.openai_api_key is None

    def stream(self, thread_id: str, text: str, requester: str | None = None) -> Iterator[ProgressEvent] | None:
        """The turn as events, when it is a quick read; None when the Commander has to run it (nothing has
        happened then)."""
        wiring = self._wiring
        if not self._command_mode or not self._reads_run_unasked() or wiring.audit.entries(thread_id):
            return None
        requester = requester or self.requester
        text = readable(text)
        now = wiring.clock.now().astimezone(UTC).replace(second=0, microsecond=0)  # as the graph tells the planner
        context = Context(requester=requester, now=now, time_zone=self.settings.time_zone,
                          aliases=read_aliases(self.settings.aliases))
        with in_zone(self.settings.time_zone):
            parsed = read(text, context)
        if isinstance(parsed, Parsed) and parsed.command.writes:
            return None
        return self._answer(thread_id, text, requester, parsed)

    def pending(self, thread_id: str) -> list[ApprovalRequest]:
        """Nothing: a quick read asks nobody for anything."""
        return []

    def hand_over(self) -> Wiring:
        """The wiring, for a `Commander` to run what is not a quick read; whoever takes it closes it."""
        self._closed = True
        return self._wiring

    def close(self) -> None:
        if not self._closed:
            self._wiring.close()
        self._kept.close()

    def __enter__(self) -> QuickReads:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _reads_run_unasked(self) -> bool:
        toolkit, policy = self._wiring.toolkit, self._wiring.policy
        return all(policy.rule(toolkit.info(name)) == "auto" for name in toolkit.offered
                   if toolkit.info(name).kind == "read")

    def _answer(self, thread_id: str, text: str, requester: str, parsed: Parsed | Said) -> Iterator[ProgressEvent]:
        wiring = self._wiring
        wiring.audit.record(at=wiring.clock.now(), thread_id=thread_id, actor=requester, action="message",
                            outcome=text[:1000])
        steps: list[list[ToolResult]] = []
        rounds: list[list[dict[str, Any]]] = []
        while True:
            with in_zone(self.settings.time_zone):
                move = next_move(parsed, steps)
            if isinstance(move, Said):
                break
            calls = tool_calls(move, already=sum(map(len, rounds)))
            rounds.append(calls)
            steps.append([])
            for call in calls:
                result = yield from self._run(thread_id, requester, call)
                steps[-1].append(result)
        self._kept.keep(thread_id, wiring.clock.now(), text, rounds, steps, move)
        yield ProgressEvent(kind="answer", message=wiring.scrub(move.text),
                            problem=problem_of(move.outcome, steps[-1] if steps else []))

    def _run(self, thread_id: str, requester: str,
             call: dict[str, Any]) -> Generator[ProgressEvent, None, ToolResult]:
        """One read, with its events and its audit record (as `act` makes them); returns its result."""
        wiring, name = self._wiring, call["name"]
        args = wiring.toolkit.validate(name, wiring.toolkit.tidy(name, call["args"])[0])  # as the tool reads them
        shown = redacted(args)
        yield ProgressEvent(kind="tool_started", message=step(name), tool=name, arguments=shown)
        waits: list[ProgressEvent] = []

        def heard(*, kind: WaitKind, seconds: float, message: str) -> None:
            waits.append(ProgressEvent(kind=kind, message=wiring.scrub(message), seconds=seconds))

        with wiring.relay.to(heard):
            content, ok = wiring.toolkit.read(name, args, thread_id=thread_id, requester=requester)
        yield from waits
        first_line = (content.strip().removeprefix("Error:").strip().splitlines() or [""])[0]
        wiring.audit.record(at=wiring.clock.now(), thread_id=thread_id, actor=AUTO, action="tool_call", tool=name,
                            arguments=shown, outcome="ok" if ok else f"error: {first_line[:300]}")
        yield ProgressEvent(kind="tool_finished", message=step(name), tool=name, ok=ok, result=wiring.scrub(content))
        return ToolResult(name, call["args"], content, "success" if ok else "error")


def readable(text: str) -> str:
    """The text as it can be stored and shown: a terminal's bytes that are not UTF-8 become '\ufffd'."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


class QuickTurns:
    """The turns quick reads answered, by thread, in the checkpoint database: how a conversation they began
    goes on in the graph."""

    def __init__(self, path: str) -> None:
        self._conn = sqlite3.connect(path, check_same_thread=False, timeout=30, isolation_level=None)
        self._lock = threading.Lock()
        with self._lock:
            self._conn.execute("CREATE TABLE IF NOT EXISTS ic_quick_turns (thread_id TEXT PRIMARY KEY, "
                               "at TEXT NOT NULL, turn TEXT NOT NULL)")

    def keep(self, thread_id: str, at: datetime, text: str, rounds: list[list[dict[str, Any]]],
             steps: list[list[ToolResult]], reply: Said) -> None:
        turn = {"text": text, "rounds": [[call | {"content": result.content, "status": result.status}
                                          for call, result in zip(calls, results, strict=True)]
                                         for calls, results in zip(rounds, steps, strict=True)],
                "reply": reply.text, "pending": reply.pending.as_kwargs() if reply.pending else {},
                "outcome": reply.outcome}
        with self._lock:
            self._conn.execute("INSERT OR REPLACE INTO ic_quick_turns VALUES (?, ?, ?)",
                               (thread_id, at.isoformat(), json.dumps(turn)))

    def turn(self, thread_id: str) -> dict[str, Any] | None:
        """The quick turn this thread began with: its text, its rounds of calls (each with its result), the
        reply, the question's continuation and the outcome; None when it began in the graph."""
        with self._lock:
            row = self._conn.execute("SELECT turn FROM ic_quick_turns WHERE thread_id = ?", (thread_id,)).fetchone()
        return json.loads(row[0]) if row else None

    def close(self) -> None:
        self._conn.close()
