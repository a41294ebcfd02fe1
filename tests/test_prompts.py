"""The planner's prompt texts are package files: both parts reach the model, and a wrong name says what exists."""

import pytest

from prompts import load_prompt, system_prompt


def test_the_system_prompt_is_the_rules_then_the_answer_formats():
    whole = system_prompt()
    rules, formats = load_prompt("system"), load_prompt("answer_formats")
    assert whole == f"{rules}\n\n{formats}"
    assert "## How you report" in rules and formats.startswith("## Answer formats")
    assert "Opened #NUMBER" in formats and "approval" in rules.lower()


def test_an_unknown_prompt_names_the_ones_that_exist():
    with pytest.raises(FileNotFoundError, match=r"no prompt named 'sytem'; known: answer_formats, system"):
        load_prompt("sytem")
