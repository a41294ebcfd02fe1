"""Scenario files: every mistake in one is refused with the file, the field and what to fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from evals.reference import prepare
from evals.scenario import ScenarioError, load_scenario, load_scenarios

VALID = """
id: tiny
title: Tiny
turns: ["ack {{page.number}}"]
world:
  setup:
    - pick: {status: triggered, service: API Gateway}
      as: page
approvals:
  - tool: update_incident
    match: {incident: "{{page.number}}"}
reference:
  - tool: update_incident
    args: {incident: "{{page.number}}", action: acknowledge}
  - answer: Acknowledged.
"""


def write(tmp_path: Path, text: str, name: str = "s.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_a_valid_file_loads_and_its_placeholders_are_filled(tmp_path: Path) -> None:
    p = prepare(load_scenario(write(tmp_path, VALID)))
    number = p.scenario.reference[0].args["incident"]
    assert number.isdigit() and p.scenario.turns == [f"ack {number}"]
    assert [e["status"] for e in p.gold.values()] == ["acknowledged"]


@pytest.mark.parametrize(("change", "message"), [
    (("tool: update_incident\n    args", "tool: ack_everything\n    args"), "unknown tool 'ack_everything'"),
    (("  - answer: Acknowledged.\n", ""), "end the steps of every turn with one `answer`"),
    (("title: Tiny\n", ""), "title: Field required"),
    (("id: tiny", "id: Tiny Scenario"), "id: String should match pattern"),
    (("    match:", "    decision: edit\n    match:"), "`arguments` goes with decision edit"),
    (("      as: page", "      as: page\n      advance: 5m"), "exactly one of incident, update"),
])
def test_invalid_files_name_the_field_and_the_fix(tmp_path: Path, change: tuple[str, str], message: str) -> None:
    path = write(tmp_path, VALID.replace(*change))
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    assert str(path) in str(caught.value) and message in str(caught.value)


def test_yaml_that_does_not_parse_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="not valid YAML"):
        load_scenario(write(tmp_path, "id: [unclosed"))


@pytest.mark.parametrize(("change", "message"), [
    (('turns: ["ack {{page.number}}"]', 'turns: ["ack {{pager.number}}"]'), "no setup action is named 'pager'"),
    (("action: acknowledge", "action: acknowledge, colour: red"), "unknown argument 'colour'"),
    (("    match: {incident: \"{{page.number}}\"}", "    match: {incident: \"1\"}"),
     "no rule under `approvals` matches"),
    (("service: API Gateway}", "service: Nowhere}"), "setup names service 'Nowhere'"),
])
def test_problems_found_when_preparing_name_the_file(tmp_path: Path, change: tuple[str, str], message: str) -> None:
    path = write(tmp_path, VALID.replace(*change))
    with pytest.raises(ScenarioError) as caught:
        prepare(load_scenario(path))
    assert str(path) in str(caught.value) and message in str(caught.value)


def test_duplicate_ids_unknown_paths_and_unmatched_tags_are_refused(tmp_path: Path) -> None:
    write(tmp_path, VALID, "a.yaml")
    write(tmp_path, VALID, "b.yaml")
    with pytest.raises(ScenarioError, match="id 'tiny' is already used"):
        load_scenarios([tmp_path])
    with pytest.raises(ScenarioError, match="no such file or folder"):
        load_scenarios([tmp_path / "missing.yaml"])
    with pytest.raises(ScenarioError, match="no scenario has any of the tags nope"):
        load_scenarios([tmp_path / "a.yaml"], tags=["nope"])
