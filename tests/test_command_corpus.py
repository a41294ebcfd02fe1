"""Command mode against the corpus of messages as people type them (tests/command_corpus.py): most are
understood exactly, the rest get a question that shows the way forward, and none becomes a wrong write."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
from command_corpus import CORPUS, WRITES, Outcome, reply_to, score, useful
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.planners.grammar import COMMANDS


@pytest.fixture(scope="module")
def scored() -> tuple[Counter[str], list[Outcome]]:
    return score()


def test_no_phrasing_becomes_a_wrong_write(scored: tuple[Counter[str], list[Outcome]]) -> None:
    counts, outcomes = scored
    assert [(o.case.text, o.calls) for o in outcomes if o.kind == "wrong write"] == []
    assert counts["wrong write"] == 0


def test_at_least_nine_in_ten_are_understood_and_the_rest_asked_usefully(
        scored: tuple[Counter[str], list[Outcome]]) -> None:
    counts, outcomes = scored
    assert len(outcomes) >= 150
    assert counts["understood"] / len(outcomes) >= 0.9, [o.case.text for o in outcomes if o.kind != "understood"]
    assert [o.case.text for o in outcomes if o.kind == "wrong read"] == []
    assert [o.case.text for o in outcomes if o.kind == "asked" and not useful(o)] == []


# The rows of the README's "What you can ask" table (swapping a shift is an override there).
README_INTENTS = {"services", "oncall", "incidents", "show", "trigger", "ack", "resolve", "reopen", "note", "escalate",
                  "reassign", "urgency", "responders", "snooze", "merge", "override", "timeline", "similar",
                  "alert", "change"}


def test_every_intent_in_the_readme_has_at_least_five_natural_phrasings() -> None:
    per_intent = Counter(case.intent for case in CORPUS)
    assert {c.words[0] for c in COMMANDS} >= README_INTENTS
    assert {i: per_intent[i] for i in README_INTENTS if per_intent[i] < 5} == {}


def test_the_corpus_expects_writes_only_where_a_change_was_asked_for() -> None:
    reads = {"services", "oncall", "incidents", "show", "timeline", "similar", "unknown"}
    for case in CORPUS:
        if case.intent in reads and isinstance(case.expect, list):
            assert not {name for name, _ in case.expect} & WRITES, case.text


def readme_examples() -> list[str]:
    """The sentences in the first column of the README's "What you can ask" table."""
    text = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    table = text.split("| you can say |", 1)[1].split("\n\n", 1)[0]
    return [example for row in table.splitlines()[2:] for example in re.findall(r"`([^`]+)`", row.split(" | ")[0])]


def test_every_example_in_the_readme_table_is_understood() -> None:
    examples = readme_examples()
    assert len(examples) >= 30
    assert [text for text in examples if not reply_to(text, shown=(268,)).tool_calls] == []


NAMED = {"assignee", "user", "schedule", "service", "escalation_policy", "responders"}
BASES = ["ack 268", "escalate 268", "reopen 266", "urgency 268 low", "snooze 268 2h", "merge 269 into 268",
         "reassign 268 to Chen", "override Platform Primary with Chen for 8h", "resolve 269"]
EXTRAS = ["in 2h", "tomorrow", "except 271", "for bob", "and 270", "again", "later", "too", "by noon", "on db",
          "at 5pm", "first", "instead", "#271", "with sam", "until friday", "level 3", "to high", "all", "next week"]


@settings(max_examples=300, derandomize=True, deadline=None)
@given(base=st.sampled_from(BASES), extra=st.lists(st.sampled_from(EXTRAS), min_size=1, max_size=3))
def test_words_added_to_a_change_never_silently_change_it(base: str, extra: list[str]) -> None:
    """The safety rule as a property: an unknown qualifier after a change is understood, asked about, or kept
    whole in the note; it never turns into another change or goes missing from this one."""
    said = f"{base} {' '.join(extra)}"
    plain = [(c["name"], c["args"]) for c in reply_to(base).tool_calls]
    calls = [(c["name"], c["args"]) for c in reply_to(said).tool_calls]
    assert calls == [] or calls != plain, f"{said!r}: the added words were dropped"
    for name, args in calls:
        assert name in WRITES
        for key in NAMED & args.keys():
            names = args[key] if isinstance(args[key], list) else [args[key]]
            assert all(n.lower() in base.lower() for n in names), f"{said!r}: words taken into {key}"
        assert "start" not in args or f"from {args['start']}" in said, f"{said!r}: a start nobody said"
        note = args.get("resolution") or args.get("content")
        assert note is None or note == " ".join(extra), f"{said!r}: a note that is not what was said"
