"""Every tool has all its parts: until a tool is one declaration, its parts live in several places keyed
by name, and a part left out would fail only when that tool first ran (or only on PagerDuty's error path).
CONTRIBUTING.md's "Add a tool" lists the same parts."""

from __future__ import annotations

import pytest

from tools.actions import Actions
from tools.catalog import load_catalog
from tools.schemas import TOOL_ARGS
from tools.sentences import Sentences
from tools.toolkit import DOING, KEYED_TOOLS

DECLARED = {tool.name: tool for tool in load_catalog().tools()}


def test_the_overlay_describes_exactly_the_tools_with_arguments():
    assert set(DECLARED) == set(TOOL_ARGS)


@pytest.mark.parametrize("name", sorted(TOOL_ARGS))
def test_each_tool_has_an_action_and_words_for_its_failures(name):
    assert callable(getattr(Actions, name, None)), f"tools/actions.py has no method {name}"
    assert DOING.get(name), f"tools/toolkit.py DOING has no words for what {name} was doing"


@pytest.mark.parametrize("name", sorted(n for n, tool in DECLARED.items() if tool.kind == "write"))
def test_each_write_has_a_sentence_for_its_approval_card(name):
    assert callable(getattr(Sentences, name, None)), f"tools/sentences.py has no method {name}"


def test_keyed_tools_are_writes():
    assert {DECLARED[name].kind for name in KEYED_TOOLS} == {"write"}
