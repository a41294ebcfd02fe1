"""The audit log: who asked for what, who approved it, what ran and how it ended — per thread.

It lives in SQLite next to the checkpoints (same file, own tables), so it survives restarts and every
process deciding on a thread sees the same record. Two other records share that file and its lock: the
ledger of approval decisions (`agent.ledger`) and the leases on runs (`agent.leases`).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel

from agent.redaction import Scrubber

AUTO = "policy:auto"  # the actor of calls the approval policy runs without asking anyone

Action = Literal["message", "approval_requested", "decision", "refused", "repaired", "api_write", "tool_call"]

# The tables as every release has written them; a change here needs a migration in `AuditDatabase`.
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


class AuditDatabase:
    """The SQLite file the audit log, the decision ledger and the run leases share: one connection per process,
    one lock for its threads, and transactions that keep other processes out between a look and a write."""

    def __init__(self, path: str = ":memory:") -> None:
        self._conn = sqlite3.connect(path, check_same_thread=False, timeout=30, isolation_level=None)
        self._lock = threading.Lock()
        with self._lock:
            self._conn.executescript(_SCHEMA)
            columns = {row[1] for row in self._conn.execute("PRAGMA table_info(ic_resumes)")}
            for column in ("claimed_at", "owner"):  # a file from before claims had them: its claims count as ended
                if column not in columns:
                    self._conn.execute(f"ALTER TABLE ic_resumes ADD COLUMN {column} TEXT")

    @contextmanager
    def locked(self) -> Iterator[sqlite3.Connection]:
        """The connection, for statements that stand alone."""
        with self._lock:
            yield self._conn

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """The connection inside `BEGIN IMMEDIATE`: committed when the block ends, rolled back if it raises."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def close(self) -> None:
        self._conn.close()


class AuditLog:
    """The audit log's lines: written as things happen, read by thread; safe to share between threads."""

    def __init__(self, database: AuditDatabase, scrub: Scrubber | None = None) -> None:
        self._db = database
        self._scrub = scrub or Scrubber()  # nothing stored here may hold a secret

    def record(self, *, at: datetime, thread_id: str, actor: str, action: Action, outcome: str,
               tool: str | None = None, arguments: dict[str, Any] | None = None) -> None:
        with self._db.locked() as conn:
            add_entry(conn, AuditEntry(at=at, thread_id=thread_id, actor=actor, action=action, tool=tool,
                                       arguments=self._scrub.value(arguments), outcome=self._scrub(outcome)))

    def link(self, alias: str, thread_id: str) -> None:
        """Make `alias` another name of the conversation `thread_id` (the first link of an alias stays)."""
        with self._db.locked() as conn:
            conn.execute("INSERT OR IGNORE INTO ic_thread_links VALUES (?, ?)", (alias, thread_id))

    def linked(self, alias: str) -> str | None:
        """The conversation `alias` is another name of, if it is one."""
        with self._db.locked() as conn:
            row = conn.execute("SELECT thread_id FROM ic_thread_links WHERE alias = ?", (alias,)).fetchone()
        return row[0] if row else None

    def entries(self, thread_id: str | None = None) -> list[AuditEntry]:
        """Oldest first; all threads when `thread_id` is None."""
        query = "SELECT at, thread_id, actor, action, tool, arguments, outcome FROM ic_audit"
        params: tuple[str, ...] = ()
        if thread_id is not None:
            query, params = query + " WHERE thread_id = ?", (thread_id,)
        with self._db.locked() as conn:
            rows = conn.execute(query + " ORDER BY seq", params).fetchall()
        return [AuditEntry(at=at, thread_id=t, actor=actor, action=action, tool=tool,
                           arguments=json.loads(args) if args else None, outcome=outcome)
                for at, t, actor, action, tool, args, outcome in rows]

    def threads(self) -> list[ThreadInfo]:
        """Threads with at least one message, most recently active first."""
        with self._db.locked() as conn:
            rows = conn.execute(
                "SELECT thread_id, MIN(at), MAX(at), (SELECT actor FROM ic_audit f WHERE f.thread_id = a.thread_id"
                " AND f.action = 'message' ORDER BY seq LIMIT 1) FROM ic_audit a GROUP BY thread_id"
                " HAVING SUM(action = 'message') > 0 ORDER BY MAX(at) DESC").fetchall()
        return [ThreadInfo(thread_id=t, started_at=first, last_activity=last, started_by=who)
                for t, first, last, who in rows]


def add_entry(conn: sqlite3.Connection, entry: AuditEntry) -> None:
    """Append `entry` on a connection the caller holds (the ledger adds its line inside its own transaction)."""
    conn.execute(
        "INSERT INTO ic_audit (at, thread_id, actor, action, tool, arguments, outcome)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (entry.at.isoformat(), entry.thread_id, entry.actor, entry.action, entry.tool,
         json.dumps(entry.arguments, sort_keys=True) if entry.arguments is not None else None, entry.outcome))
