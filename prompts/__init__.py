"""Prompt texts, kept as Markdown files beside this module and loaded by name."""

from __future__ import annotations

from functools import cache
from importlib.resources import files


@cache
def load_prompt(name: str) -> str:
    """The text of `prompts/<name>.md`; a missing prompt fails loudly with the names that exist."""
    folder = files(__name__)
    path = folder / f"{name}.md"
    if not path.is_file():
        known = sorted(p.name.removesuffix(".md") for p in folder.iterdir() if p.name.endswith(".md"))
        raise FileNotFoundError(f"no prompt named {name!r}; known: {', '.join(known)}")
    return path.read_text(encoding="utf-8").strip()


SYSTEM_PROMPT_PARTS = ("system",)
"""The planner's system prompt: its role and rules. No example answers: a 1.5B model copied them word for word
as its answer (an incident number, a person paged) before looking anything up."""


def system_prompt() -> str:
    """The whole system prompt the planner receives."""
    return "\n\n".join(load_prompt(name) for name in SYSTEM_PROMPT_PARTS)
