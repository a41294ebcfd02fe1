"""The audit database (audit log, decision ledger, run leases) opens the files earlier releases wrote: a
checkpoint file kept from before keeps its history, its decisions and its claims."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta

import pytest
from commanders import build, said

from agent.audit import AuditDatabase, AuditLog
from agent.leases import RunLeases, this_process
from agent.ledger import DecisionLedger

AT = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
LEASE = timedelta(minutes=15)

# The tables exactly as files written so far hold them (copied here, not imported: it is the past's layout).
WRITTEN = """
CREATE TABLE ic_audit (seq INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, thread_id TEXT NOT NULL,
                       actor TEXT NOT NULL, action TEXT NOT NULL, tool TEXT, arguments TEXT, outcome TEXT NOT NULL);
CREATE INDEX ic_audit_thread ON ic_audit (thread_id, seq);
CREATE TABLE ic_decisions (approval_id TEXT PRIMARY KEY, nonce TEXT NOT NULL UNIQUE, thread_id TEXT NOT NULL,
                           decision TEXT NOT NULL);
"""
CLAIMS = "CREATE TABLE ic_resumes (batch_id TEXT PRIMARY KEY, thread_id TEXT NOT NULL, claimed_at TEXT, owner TEXT);"
CLAIMS_BEFORE_LEASES = "CREATE TABLE ic_resumes (batch_id TEXT PRIMARY KEY, thread_id TEXT NOT NULL);"
DECISION = {"approval_id": "ap-1", "verdict": "approve", "approver": "omar", "arguments": None, "reason": None,
            "decided_at": AT.isoformat()}


def written_earlier(path: str, claims: str) -> None:
    """A file as an earlier release left it: a message, an approval request, its decision and a claim."""
    conn = sqlite3.connect(path)
    conn.executescript(WRITTEN + claims)
    conn.executemany("INSERT INTO ic_audit (at, thread_id, actor, action, tool, arguments, outcome) "
                     "VALUES (?, 't1', ?, ?, ?, ?, ?)",
                     [(AT.isoformat(), "dana", "message", None, None, "resolve 268"),
                      (AT.isoformat(), "dana", "approval_requested", "update_incident",
                       json.dumps({"incident": "268", "action": "resolve"}), "waiting"),
                      ((AT + timedelta(minutes=1)).isoformat(), "omar", "decision", "update_incident", None,
                       "approve")])
    conn.execute("INSERT INTO ic_decisions VALUES ('ap-1', 'nonce-1', 't1', ?)", (json.dumps(DECISION),))
    if "owner" in claims:
        conn.execute("INSERT INTO ic_resumes VALUES ('batch-1', 't1', ?, ?)", (AT.isoformat(), this_process()))
    else:
        conn.execute("INSERT INTO ic_resumes VALUES ('batch-1', 't1')")
    conn.commit()
    conn.close()


def test_a_file_written_earlier_keeps_its_log_decisions_and_claims(tmp_path):
    path = str(tmp_path / "ic.sqlite")
    written_earlier(path, CLAIMS)

    database = AuditDatabase(path)

    log = AuditLog(database)
    assert [(e.action, e.actor) for e in log.entries("t1")] == [
        ("message", "dana"), ("approval_requested", "dana"), ("decision", "omar")]
    assert log.entries("t1")[1].arguments == {"incident": "268", "action": "resolve"}
    assert [(t.thread_id, t.started_by) for t in log.threads()] == [("t1", "dana")]
    assert DecisionLedger(database).decisions(["ap-1"])["ap-1"].approver == "omar"
    leases = RunLeases(database)
    assert leases.claim_batch("batch-1", "t1", at=AT) is False  # claimed before: still claimed
    assert leases.take_over("resume-1", "t1", at=AT + timedelta(minutes=1), lease=LEASE) == AT  # and live


def test_a_file_from_before_leases_opens_with_its_claims_ended(tmp_path):
    path = str(tmp_path / "ic.sqlite")
    written_earlier(path, CLAIMS_BEFORE_LEASES)

    leases = RunLeases(AuditDatabase(path))

    assert leases.claim_batch("batch-1", "t1", at=AT) is False  # its batch stays claimed once and for all
    assert leases.take_over("resume-1", "t1", at=AT, lease=LEASE) is None  # but nobody holds the thread


@pytest.mark.parametrize("claims", [CLAIMS, CLAIMS_BEFORE_LEASES])
def test_a_commander_opens_a_checkpoint_file_written_earlier(sim, clock, tmp_path, claims):
    path = str(tmp_path / "ic.sqlite")
    written_earlier(path, claims)

    commander = build(sim, clock, ["Nothing else is open."], path)

    assert [e.action for e in commander.audit("t1")] == ["message", "approval_requested", "decision"]
    assert [t.thread_id for t in commander.threads()] == ["t1"]
    assert said(commander.send("t2", "anything open?").text) == "Nothing else is open."
    commander.close()
