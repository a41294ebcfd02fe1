"""The audit log: who asked for what, who approved it, what ran and how it ended — per thread.

It lives in SQLite next to the checkpoints (same file, own tables), so it survives restarts and every
process deciding on a thread sees the same record. It also holds the decision ledger: a decision is
written once per approval (the nonce is single use even across processes), and the claims on runs: a
batch is resumed by exactly one deciding process (`claim_resume`), and a resume runs only when no other
live claim on the thread is younger than a lease (`take_over`).
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import threading
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel

from agent.approvals import ApprovalError, ApprovalRequest, Decision
from agent.redaction import Scrubber

AUTO = "policy:auto"  # the actor of calls the approval policy runs without asking anyone

Action = Literal["message", "approval_requested", "decision", "refused", "repaired", "api_write", "tool_call"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS ic_audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    thread_id TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    tool TEXT,
    arguments TEXT,
    outcome TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ic_audit_thread ON ic_audit (thread_id, seq);
CREATE TABLE IF NOT EXISTS ic_decisions (
    approval_id TEXT PRIMARY KEY,
    nonce TEXT NOT NULL UNIQUE,
    thread_id TEXT NOT NULL,
    decision TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS ic_thread_links (
    alias TEXT PRIMARY KEY,
    thread_id TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS ic_resumes (
    batch_id TEXT PRIMARY KEY,
    thread_id TEXT NOT NULL,
    claimed_at TEXT,
    owner TEXT
);
"""


class AuditEntry(BaseModel):
    """One line of the audit log."""

    at: datetime
    thread_id: str
    actor: str
    action: Action
    tool: str | None = None
    arguments: dict[str, Any] | None = None
    outcome: str


class ThreadInfo(BaseModel):
    """A conversation as listed by `Commander.threads()`."""

    thread_id: str
    started_at: datetime
    last_activity: datetime
    started_by: str


class AuditLog:
    """SQLite-backed audit log and decision ledger; safe to share between threads of one process."""

    def __init__(self, path: str = ":memory:", scrub: Scrubber | None = None) -> None:
        self._scrub = scrub or Scrubber()  # nothing stored here may hold a secret
        self._conn = sqlite3.connect(path, check_same_thread=False, timeout=30, isolation_level=None)
        self._lock = threading.Lock()
        with self._lock:
            self._conn.executescript(_SCHEMA)
            columns = {row[1] for row in self._conn.execute("PRAGMA table_info(ic_resumes)")}
            for column in ("claimed_at", "owner"):  # a file from before claims had them: its claims count as ended
                if column not in columns:
                    self._conn.execute(f"ALTER TABLE ic_resumes ADD COLUMN {column} TEXT")

    def close(self) -> None:
        self._conn.close()

    def record(self, *, at: datetime, thread_id: str, actor: str, action: Action, outcome: str,
               tool: str | None = None, arguments: dict[str, Any] | None = None) -> None:
        with self._lock:
            self._insert(AuditEntry(at=at, thread_id=thread_id, actor=actor, action=action, tool=tool,
                                    arguments=self._scrub.value(arguments), outcome=self._scrub(outcome)))

    def link(self, alias: str, thread_id: str) -> None:
        """Make `alias` another name of the conversation `thread_id` (the first link of an alias stays)."""
        with self._lock:
            self._conn.execute("INSERT OR IGNORE INTO ic_thread_links VALUES (?, ?)", (alias, thread_id))

    def linked(self, alias: str) -> str | None:
        """The conversation `alias` is another name of, if it is one."""
        with self._lock:
            row = self._conn.execute("SELECT thread_id FROM ic_thread_links WHERE alias = ?", (alias,)).fetchone()
        return row[0] if row else None

    def entries(self, thread_id: str | None = None) -> list[AuditEntry]:
        """Oldest first; all threads when `thread_id` is None."""
        query = "SELECT at, thread_id, actor, action, tool, arguments, outcome FROM ic_audit"
        params: tuple[str, ...] = ()
        if thread_id is not None:
            query, params = query + " WHERE thread_id = ?", (thread_id,)
        with self._lock:
            rows = self._conn.execute(query + " ORDER BY seq", params).fetchall()
        return [AuditEntry(at=at, thread_id=t, actor=actor, action=action, tool=tool,
                           arguments=json.loads(args) if args else None, outcome=outcome)
                for at, t, actor, action, tool, args, outcome in rows]

    def threads(self) -> list[ThreadInfo]:
        """Threads with at least one message, most recently active first."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT thread_id, MIN(at), MAX(at), (SELECT actor FROM ic_audit f WHERE f.thread_id = a.thread_id"
                " AND f.action = 'message' ORDER BY seq LIMIT 1) FROM ic_audit a GROUP BY thread_id"
                " HAVING SUM(action = 'message') > 0 ORDER BY MAX(at) DESC").fetchall()
        return [ThreadInfo(thread_id=t, started_at=first, last_activity=last, started_by=who)
                for t, first, last, who in rows]

    def decide(self, request: ApprovalRequest, decision: Decision) -> None:
        """Store a decision once; a second decision on the same request (same nonce) is refused."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.execute(
                    "INSERT INTO ic_decisions (approval_id, nonce, thread_id, decision) VALUES (?, ?, ?, ?)",
                    (request.id, request.nonce, request.thread_id, decision.model_dump_json()))
            except sqlite3.IntegrityError:
                self._conn.execute("ROLLBACK")
                earlier = self._decisions_locked([request.id]).get(request.id)
                who = f" by {earlier.approver} at {earlier.decided_at:%H:%M:%S}" if earlier else ""
                raise ApprovalError(f"approval {request.id} was already decided{who}; "
                                    "its nonce cannot be used again") from None
            self._insert(AuditEntry(at=decision.decided_at, thread_id=request.thread_id, actor=decision.approver,
                                    action="decision", tool=request.tool, arguments=decision.arguments,
                                    outcome=decision.verdict + (f": {decision.reason}" if decision.reason else "")))
            self._conn.execute("COMMIT")

    def decisions(self, approval_ids: list[str]) -> dict[str, Decision]:
        with self._lock:
            return self._decisions_locked(approval_ids)

    def claim_resume(self, batch_id: str, thread_id: str, *, at: datetime, owner: str | None = None) -> bool:
        """True for exactly one caller per batch: the one that resumes the graph."""
        with self._lock:
            cursor = self._conn.execute(
                "INSERT OR IGNORE INTO ic_resumes (batch_id, thread_id, claimed_at, owner) VALUES (?, ?, ?, ?)",
                (batch_id, thread_id, at.isoformat(), owner or this_process()))
            return cursor.rowcount == 1

    def take_over(self, claim: str, thread_id: str, *, at: datetime, lease: timedelta) -> datetime | None:
        """Claim `claim` unless another claim on the thread is live and younger than `lease`: None when the
        caller now holds it, else when that younger claim was taken."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")  # no other process claims between the look and the write
            try:
                rows = self._conn.execute(
                    "SELECT claimed_at, owner FROM ic_resumes WHERE thread_id = ? AND claimed_at IS NOT NULL",
                    (thread_id,)).fetchall()
                live = [since for since, owner in ((datetime.fromisoformat(text), owner) for text, owner in rows)
                        if since > at - lease and not _gone(owner)]
                if not live:
                    self._conn.execute(
                        "INSERT OR REPLACE INTO ic_resumes (batch_id, thread_id, claimed_at, owner) "
                        "VALUES (?, ?, ?, ?)",
                        (claim, thread_id, at.isoformat(), this_process()))
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")
            return max(live) if live else None

    def release_resume(self, claim: str) -> None:
        """End a claim whose run has ended; its row stays, so a late decision cannot claim the batch again."""
        with self._lock:
            self._conn.execute("UPDATE ic_resumes SET claimed_at = NULL WHERE batch_id = ?", (claim,))

    def _decisions_locked(self, approval_ids: list[str]) -> dict[str, Decision]:
        marks = ",".join("?" * len(approval_ids))
        rows = self._conn.execute(f"SELECT approval_id, decision FROM ic_decisions WHERE approval_id IN ({marks})",
                                  approval_ids).fetchall()
        return {approval_id: Decision.model_validate_json(text) for approval_id, text in rows}

    def _insert(self, entry: AuditEntry) -> None:
        self._conn.execute(
            "INSERT INTO ic_audit (at, thread_id, actor, action, tool, arguments, outcome)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (entry.at.isoformat(), entry.thread_id, entry.actor, entry.action, entry.tool,
             json.dumps(entry.arguments, sort_keys=True) if entry.arguments is not None else None, entry.outcome))


def this_process() -> str:
    """Who holds a claim: host and process id, so a claim left by a process that died here can be told apart."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _gone(owner: str | None) -> bool:
    """True when the claim's process ran on this host and has exited: its lease need not be waited out.

    A crashed CLI command must not lock its thread for the whole lease; a process elsewhere (or one whose
    liveness cannot be read) is trusted until the lease ends.
    """
    host, _, pid = (owner or "").rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, run by another user
        return False
    return False
