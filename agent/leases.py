"""Leases on runs, so approved writes are carried out by one process.

A decided batch is resumed by exactly one deciding process (`claim_batch`), and a resume runs only when no
other live claim on the thread is younger than a lease (`take_over`). A claim names the process holding it,
so one left by a process that died on this host need not be waited out.
"""

from __future__ import annotations

import os
import socket
from datetime import datetime, timedelta

from agent.audit import AuditDatabase


class RunLeases:
    """Claims on runs, by batch or checkpoint id, in the audit database; safe to share between threads."""

    def __init__(self, database: AuditDatabase) -> None:
        self._db = database

    def claim_batch(self, batch_id: str, thread_id: str, *, at: datetime, owner: str | None = None) -> bool:
        """True for exactly one caller per batch: the one that resumes the graph."""
        with self._db.locked() as conn:
            cursor = conn.execute(
                "INSERT OR IGNORE INTO ic_resumes (batch_id, thread_id, claimed_at, owner) VALUES (?, ?, ?, ?)",
                (batch_id, thread_id, at.isoformat(), owner or this_process()))
            return cursor.rowcount == 1

    def take_over(self, claim: str, thread_id: str, *, at: datetime, lease: timedelta) -> datetime | None:
        """Claim `claim` unless another claim on the thread is live and younger than `lease`: None when the
        caller now holds it, else when that younger claim was taken."""
        with self._db.transaction() as conn:  # no other process claims between the look and the write
            rows = conn.execute(
                "SELECT claimed_at, owner FROM ic_resumes WHERE thread_id = ? AND claimed_at IS NOT NULL",
                (thread_id,)).fetchall()
            live = [since for since, owner in ((datetime.fromisoformat(text), owner) for text, owner in rows)
                    if since > at - lease and not _gone(owner)]
            if not live:
                conn.execute(
                    "INSERT OR REPLACE INTO ic_resumes (batch_id, thread_id, claimed_at, owner) VALUES (?, ?, ?, ?)",
                    (claim, thread_id, at.isoformat(), this_process()))
        return max(live) if live else None

    def release(self, claim: str) -> None:
        """End a claim whose run has ended; its row stays, so a late decision cannot claim the batch again."""
        with self._db.locked() as conn:
            conn.execute("UPDATE ic_resumes SET claimed_at = NULL WHERE batch_id = ?", (claim,))


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
