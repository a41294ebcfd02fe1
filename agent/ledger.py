"""The ledger of approval decisions: each approval is decided once, even across processes.

A decision is stored with the request's nonce, which is unique in the table, so a second decision on the
same request (a double click, a replayed Slack payload, another process) is refused rather than counted.
The decision's line in the audit log is written in the same transaction.
"""

from __future__ import annotations

import sqlite3

from agent.approvals import ApprovalError, ApprovalRequest, Decision
from agent.audit import AuditDatabase, AuditEntry, add_entry


class DecisionLedger:
    """Decisions by approval id, in the audit database; safe to share between threads of one process."""

    def __init__(self, database: AuditDatabase) -> None:
        self._db = database

    def record(self, request: ApprovalRequest, decision: Decision) -> None:
        """Store a decision once; a second decision on the same request (same nonce) is refused."""
        with self._db.transaction() as conn:
            try:
                conn.execute(
                    "INSERT INTO ic_decisions (approval_id, nonce, thread_id, decision) VALUES (?, ?, ?, ?)",
                    (request.id, request.nonce, request.thread_id, decision.model_dump_json()))
            except sqlite3.IntegrityError:
                earlier = _decisions(conn, [request.id]).get(request.id)
                who = f" by {earlier.approver} at {earlier.decided_at:%H:%M:%S}" if earlier else ""
                raise ApprovalError(f"approval {request.id} was already decided{who}; "
                                    "its nonce cannot be used again") from None
            add_entry(conn, AuditEntry(at=decision.decided_at, thread_id=request.thread_id, actor=decision.approver,
                                       action="decision", tool=request.tool, arguments=decision.arguments,
                                       outcome=decision.verdict + (f": {decision.reason}" if decision.reason else "")))

    def decisions(self, approval_ids: list[str]) -> dict[str, Decision]:
        """The decisions stored for these approvals (those not decided are absent)."""
        with self._db.locked() as conn:
            return _decisions(conn, approval_ids)


def _decisions(conn: sqlite3.Connection, approval_ids: list[str]) -> dict[str, Decision]:
    marks = ",".join("?" * len(approval_ids))
    rows = conn.execute(f"SELECT approval_id, decision FROM ic_decisions WHERE approval_id IN ({marks})",
                        approval_ids).fetchall()
    return {approval_id: Decision.model_validate_json(text) for approval_id, text in rows}
