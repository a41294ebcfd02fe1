"""Secrets, shown and recorded by their last characters only.

An Events API integration key (`routing_key`) lets whoever holds it open incidents, so approval cards,
the audit log and progress events carry `…` plus its last 4 characters, enough to tell keys apart. The
tool still runs with the real key, which stays in the planner's tool call; an approver's edit that keeps
the shown form keeps the real key.

`Scrubber` is the one filter for everything else people see or we store: it knows every configured secret
(PagerDuty token, OpenAI key, Slack tokens and signing secret) and the shapes tokens come in, because an
outside service's error may quote one back (OpenAI-compatible proxies repeat the key in their 401).
"""

from __future__ import annotations

import re
import threading
from typing import Any

# Token shapes worth masking even when not configured here: OpenAI keys, Slack tokens, and whatever follows
# an HTTP authorization scheme or a `routing_key` field.
TOKEN_SHAPES = re.compile(
    r"\b(?:sk-[A-Za-z0-9_\-]{16,}|xox[abposre]-[A-Za-z0-9\-]{8,}|xapp-[A-Za-z0-9\-]{8,})"
    r"|(?<=Token token=)(?!\[redacted\])[^\s\"',;)]{8,}|(?<=Bearer )(?!\[redacted\])[^\s\"',;)]{8,}"
    r"|(?<=routing_key[\"']: [\"'])[^\s\"']{8,}|(?<=routing_key=)[^\s\"',;)&]{8,}")
MIN_SECRET = 8  # shorter configured values are test placeholders; masking them would garble ordinary text

SECRET_ARGUMENTS = frozenset({"routing_key"})
SHOWN_CHARACTERS = 4


def masked(secret: str) -> str:
    """'…c0de': never a usable key, since a real one is 32 plain characters."""
    return "…" + secret[-SHOWN_CHARACTERS:]


def redacted(arguments: dict[str, Any]) -> dict[str, Any]:
    """The arguments as people and records may see them."""
    return {name: masked(value) if _is_secret(name, value) else value for name, value in arguments.items()}


def scrubbed(text: str, arguments: dict[str, Any]) -> str:
    """`text` with every secret of `arguments` in its masked form (a sentence or error may quote one)."""
    for name, value in arguments.items():
        if _is_secret(name, value):
            text = text.replace(value, masked(value))
    return text


def restored(edited: dict[str, Any], original: dict[str, Any]) -> dict[str, Any]:
    """Edited arguments to run: a secret the approver left as shown gets the original value back."""
    return {name: original[name] if _is_secret(name, original.get(name)) and value == masked(original[name])
            else value for name, value in edited.items()}


def _is_secret(name: str, value: Any) -> bool:
    return name in SECRET_ARGUMENTS and isinstance(value, str) and bool(value)


class Scrubber:
    """Masks every known secret and token-shaped string in a text; surfaces add their own secrets at start."""

    def __init__(self, *secrets: str | None) -> None:
        self._secrets: list[str] = []
        self._lock = threading.Lock()
        self.learn(*secrets)

    def learn(self, *secrets: str | None) -> None:
        with self._lock:
            known = set(self._secrets) | {s for s in secrets if s and len(s) >= MIN_SECRET}
            self._secrets = sorted(known, key=len, reverse=True)  # a longer secret may contain a shorter one

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, masked(secret))
        return TOKEN_SHAPES.sub(lambda m: masked(m.group()), text)

    def value(self, value: Any) -> Any:
        """`value` with every string inside it scrubbed (arguments, JSON documents)."""
        if isinstance(value, str):
            return self(value)
        if isinstance(value, dict):
            return {k: self.value(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.value(v) for v in value]
        return value
