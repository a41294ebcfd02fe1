"""Secret arguments, shown and recorded by their last characters only.

An Events API integration key (`routing_key`) lets whoever holds it open incidents, so approval cards,
the audit log and progress events carry `…` plus its last 4 characters, enough to tell keys apart. The
tool still runs with the real key, which stays in the planner's tool call; an approver's edit that keeps
the shown form keeps the real key.
"""

from __future__ import annotations

from typing import Any

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
