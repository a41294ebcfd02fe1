"""The planner's prompt texts are package files: both parts reach the model, and a wrong name says what exists."""

import re

import pytest

from prompts import load_prompt, system_prompt


def test_the_system_prompt_is_the_rules_then_the_answer_formats():
    whole = system_prompt()
    rules, formats = load_prompt("system"), load_prompt("answer_formats")
    assert whole == f"{rules}\n\n{formats}"
    assert "## How you report" in rules and formats.startswith("## Answer formats")
    assert "Opened #4812" in formats and "approval" in rules.lower()


def test_the_answer_formats_give_examples_not_placeholders_a_model_could_copy():
    formats = load_prompt("answer_formats")
    assert not re.search(r"\b(NAME|LINK|SERVICE|NUMBER|TITLE|URGENCY|STATUS|TIME|WHAT|WHY)\b", formats)


def test_the_system_prompt_stays_the_same_for_every_person_and_minute():
    assert not re.search(r"Requester:|Current time:", system_prompt())


def test_an_unknown_prompt_names_the_ones_that_exist():
    with pytest.raises(FileNotFoundError, match=r"no prompt named 'sytem'; known: answer_formats, system"):
        load_prompt("sytem")
