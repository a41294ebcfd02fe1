"""How people type in chat, tidied into what the grammar reads: no greeting, politeness, mention or emoji;
and the names people use for things, from the alias file.

Only words that carry no request are removed, and only at the ends of a message (a note in quotes is
never touched), so "Resolve #269 thanks" is `resolve #269` and not a resolution note 'thanks'.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from tools.timeparse import ZONE_NAMES

_SMART_QUOTES = str.maketrans({"“": '"', "”": '"', "„": '"', "‘": "'", "’": "'"})
_MENTION = r"(?:/\w+|<[@!#][^>]+>|@[\w.-]+)"
_EMOJI = re.compile(r"(?<![\w:]):[a-z][a-z0-9_+-]*:(?![\w:])|[\U0001F000-\U0001FAFF\u2600-\u27BF\uFE0F\u200D]")
_OPENERS = ("hey", "hi", "hello", "yo", "ok", "okay", "so", "um", "uh", "hmm", "quick one", "quick q",
            "please", "pls", "plz", "pl", "kindly", "just", "go ahead and", "can you", "could you", "would you",
            "will you", "can u", "could u", "can someone", "could someone", "can we", "could we",
            "i need you to", "i'd like you to", "i want you to", "i'd like to", "i want to", "i need to",
            "need to", "we need to", "gotta", "we should", "time to", "someone", "somebody",
            "let's", "lets")
# "now" and its kin close a request too: the present is what every request means unless it says otherwise
_CLOSERS = ("please", "pls", "plz", "thanks", "thank you", "thanks a lot", "thx", "ty", "tia", "cheers",
            "asap", "for me", "if you can", "if possible", "kthx", "ta", "thank u", "pretty please", "ok", "rn",
            "right now", "atm", "at the moment", "now", "immediately")
_OPENER = re.compile(r"^(?:" + "|".join(sorted(map(re.escape, _OPENERS), key=len, reverse=True))
                     + r")\b[\s,:!.]*", re.IGNORECASE)
_CLOSER = re.compile(r"[\s,;!.]*\b(?:" + "|".join(sorted(map(re.escape, _CLOSERS), key=len, reverse=True))
                     + r")[\s!.?]*$", re.IGNORECASE)
_TRAILING = re.compile(r"[\s?!.,;]+$")


def tidy(text: str) -> str:
    """The request in `text` without what surrounds it in chat: '@ic can you pls ack 268 thx 🙏' → 'ack 268'."""
    text = _EMOJI.sub(" ", text.translate(_SMART_QUOTES))
    text = re.sub(r"[ \t\u00a0]+", " ", text).strip()  # a note's line breaks are the note's
    text = re.sub(rf"^(?:{_MENTION}[\s,:]*)+", "", text)
    text = re.sub(r"(?:[\s,]+(?:<[@!#][^>]+>|@[\w.-]+))+$", "", text)
    while True:
        before = text
        text = _OPENER.sub("", text)
        if not text.endswith(("'", '"')):
            text = _TRAILING.sub("", _CLOSER.sub("", text))
        if text == before:
            return text


# --- times inside a message ----------------------------------------------------------------------

# weekdays in full or by unambiguous abbreviation ("sun", "sat" and "wed" are also words: "Follow the Sun")
_WEEKDAYS = r"monday|mon|tuesday|tues|tue|wednesday|thursday|thurs|thu|friday|fri|saturday|sunday"
_UNIT = r"(?:s|secs?|seconds?|m|mins?|minutes?|h|hrs?|hours?|d|days?|w|wks?|weeks?)"
_TIME_WORD = "|".join([
    r"now", r"today", r"tomorrow", r"tonight", r"yesterday", r"noon", r"midnight", r"morning", r"afternoon",
    r"evening", r"night", r"this", r"next", r"week", r"at", r"on", r"in", r"an?", r"ago", r"hours?", r"minutes?",
    _WEEKDAYS,
    r"\d{4}-\d{2}-\d{2}(?:[T ]\d{1,2}:\d{2}(?::\d{2})?(?:Z|[+-]\d{2}:?\d{2})?)?",
    r"\d{1,2}(?::\d{2})?\s*(?:am|pm|a\.m\.|p\.m\.)?",
    rf"[+-]?\d+(?:\.\d+)?\s*{_UNIT}",
    "|".join(map(re.escape, ZONE_NAMES)),
    r"[A-Z][a-z]+/[A-Za-z_]+(?:/[A-Za-z_]+)?",  # an IANA zone such as Europe/Berlin
])
TIME = rf"(?:(?:{_TIME_WORD})(?:\s+(?:{_TIME_WORD}))*)(?<!\bat)(?<!\bon)(?<!\bin)"
"""A run of words that can only be (part of) a time; the grammar reads it, timeparse decides if it is one."""


def read_aliases(path: Path | None) -> dict[str, str]:
    """The alias file: a YAML mapping of what people say to the name PagerDuty uses (`db: Database`,
    `the gateway: API Gateway`), keyed case- and space-insensitively."""
    if path is None:
        return {}
    try:
        data = yaml.safe_load(Path(path).expanduser().read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as error:
        raise ValueError(f"cannot read the alias file {str(path)!r}: {error}") from None
    if not isinstance(data, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in data.items()):
        raise ValueError(f"the alias file {str(path)!r} must map names to names, e.g. `db: Database`")
    return {" ".join(re.sub(r"^the\s+", "", k.casefold()).split()): v.strip() for k, v in data.items()}
