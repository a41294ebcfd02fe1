"""Slack thread ↔ agent thread: one derives from the other, so no mapping store is needed.

A Slack thread is named by its workspace, channel and the `ts` of its first message; the agent's
thread id spells those three out, so a follow-up in the Slack thread (or a restart of the app) lands
on the same persistent conversation, and an approval card's thread id says where to post the outcome.
"""

from __future__ import annotations

from dataclasses import dataclass

PREFIX = "slack"
PRIVATE = "private-"  # a private conversation's `ts`: it has no Slack thread, until its card opens one


@dataclass(frozen=True)
class SlackThread:
    team: str
    channel: str
    ts: str

    @property
    def thread_id(self) -> str:
        return f"{PREFIX}:{self.team}:{self.channel}:{self.ts}"

    @classmethod
    def parse(cls, thread_id: str) -> SlackThread:
        """The Slack thread behind an agent thread id; ValueError if it was not made here."""
        parts = thread_id.split(":")
        if len(parts) != 4 or parts[0] != PREFIX or not all(parts[1:]):
            raise ValueError(f"{thread_id!r} is not a Slack conversation")
        return cls(*parts[1:])
