"""The planner's prompt text is a package file: it reaches the model whole, and a wrong name says what exists."""

import re

import pytest

from prompts import load_prompt, system_prompt


def test_the_system_prompt_is_the_rules_with_no_answer_a_model_could_copy():
    whole = system_prompt()
    assert whole == load_prompt("system")
    assert "## How you report" in whole and "approval" in whole.lower()
    assert not re.search(r"\b(NAME|LINK|SERVICE|NUMBER|TITLE|URGENCY|STATUS|TIME|WHAT|WHY)\b", whole)
    assert not re.search(r"#\d+|https?://", whole)  # no example incident or link to repeat as if it happened


def test_the_system_prompt_stays_the_same_for_every_person_and_minute():
    assert not re.search(r"Requester:|Current time:", system_prompt())


def test_an_unknown_prompt_names_the_ones_that_exist():
    with pytest.raises(FileNotFoundError, match=r"no prompt named 'sytem'; known: system"):
        load_prompt("sytem")
