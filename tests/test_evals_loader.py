"""Scenario files: every mistake in one is refused with the file, the field and what to fix."""

from __future__ import annotations

from collections.abc import Callable
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


def refused(path: Path, message: str, step: Callable[[Path], object] = load_scenario) -> None:
    """Loading the file (or another `step`) fails with a ScenarioError naming the file and the problem."""
    with pytest.raises(ScenarioError) as caught:
        step(path)
    assert str(path) in str(caught.value) and message in str(caught.value)


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
    refused(write(tmp_path, VALID.replace(*change)), message)


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
    refused(write(tmp_path, VALID.replace(*change)), message, lambda path: prepare(load_scenario(path)))


def test_duplicate_ids_unknown_paths_and_unmatched_tags_are_refused(tmp_path: Path) -> None:
    write(tmp_path, VALID, "a.yaml")
    write(tmp_path, VALID, "b.yaml")
    with pytest.raises(ScenarioError, match="id 'tiny' is already used"):
        load_scenarios([tmp_path])
    with pytest.raises(ScenarioError, match="no such file or folder"):
        load_scenarios([tmp_path / "missing.yaml"])
    with pytest.raises(ScenarioError, match="no scenario has any of the tags nope"):
        load_scenarios([tmp_path / "a.yaml"], tags=["nope"])


STOPPED = """
id: stopped
title: Stopped
world:
  faults: [{method: POST, path: /incidents, status: 500, times: 5}]
turns:
  - "open an incident on Search: index lag"
  - resume: true
approvals:
  - tool: create_incident
    match: {service: Search}
reference:
  - tool: create_incident
    args: {service: Search, title: Index lag}
  - stop: [Not confirmed]
  - answer: Opened it.
command: ['trigger "Index lag" on Search']
"""


def test_a_stopped_turn_and_its_resume_load_and_replay_to_one_incident(tmp_path: Path) -> None:
    p = prepare(load_scenario(write(tmp_path, STOPPED)))
    assert p.scenario.messages() == ["open an incident on Search: index lag"]
    assert [[s.tool or s.answer for s in steps] for steps in p.scenario.reference_turns()] == [
        ["create_incident", "Opened it."]]  # the resume goes on with the same message's replies
    assert [(e["title"], e["service"]) for e in p.gold.values() if e["kind"] == "incident"] == [("Index lag", "Search")]


@pytest.mark.parametrize(("change", "message"), [
    (("  - resume: true\n", ""), "2 answer or stop step(s) for 1 turn(s)"),
    (("  - stop: [Not confirmed]\n", "  - answer: Stopped.\n"), "a resume turn comes right after a turn"),
    (('  - "open an incident on Search: index lag"\n  - resume: true\n',
      '  - resume: true\n  - "open an incident on Search: index lag"\n'), "turn 1: a resume turn comes right after"),
    (("  - tool: create_incident\n    args: {service: Search, title: Index lag}\n  - stop",
      "  - stop"), "a `stop` follows the call PagerDuty did not confirm"),
    (("  - resume: true\n", "  - resume: false\n"), "turns.1"),
    (("command: ['trigger \"Index lag\" on Search']", "command: [a, b]"), "command has 2 line(s) for 1 typed turn"),
])
def test_stops_and_resumes_out_of_place_are_refused(tmp_path: Path, change: tuple[str, str], message: str) -> None:
    refused(write(tmp_path, STOPPED.replace(*change)), message)


@pytest.mark.parametrize(("change", "message"), [
    (("times: 5", "times: 1"), "stops the run, but PagerDuty confirmed every call before it"),
    (("times: 5", "times: 10"), "PagerDuty did not confirm the resumed call either"),
])
def test_a_stop_the_world_does_not_cause_is_refused_when_preparing(tmp_path: Path, change: tuple[str, str],
                                                                  message: str) -> None:
    refused(write(tmp_path, STOPPED.replace(*change)), message, lambda path: prepare(load_scenario(path)))


def test_a_write_not_confirmed_without_a_stop_is_refused_when_preparing(tmp_path: Path) -> None:
    path = write(tmp_path, STOPPED.replace("  - resume: true\n", "").replace("  - stop: [Not confirmed]\n", ""))
    with pytest.raises(ScenarioError, match="did not confirm create_incident, so the run stops there"):
        prepare(load_scenario(path))


@pytest.mark.parametrize(("addition", "message"), [
    ("expect: {forbidden: [{tool: merge_incident}]}", "unknown tool 'merge_incident'"),
    ("expect: {forbidden: [{tool: merge_incidents, match: {source: '1'}}]}",
     "merge_incidents takes no argument source"),
    ("expect: {forbidden: [{method: GET, path: /incidents}]}", "GET is a read"),
    ("expect: {forbidden: [{method: POST, path: incidents*}]}", "request paths start with /"),
    ("expect: {forbidden: [{method: POST, match: {urgency: high}}]}", "`match` goes with `tool`"),
    ("expect: {approvals: [{tool: update_incident, match: {state: acknowledged}}]}",
     "update_incident takes no argument state"),
    ("expect: {mentions: ['  ']}", "expect.mentions.0"),
    ("expect: {mentions: [[]]}", "expect.mentions.0"),
])
def test_patterns_that_could_never_match_are_refused(tmp_path: Path, addition: str, message: str) -> None:
    refused(write(tmp_path, VALID + addition + "\n"), message)


def test_an_approval_rule_on_an_argument_the_tool_does_not_take_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, VALID.replace('match: {incident: "{{page.number}}"}',
                                         'match: {incident: "{{page.number}}", colour: red}'))
    with pytest.raises(ScenarioError, match=r"approvals\.0: .*update_incident takes no argument colour"):
        load_scenario(path)


def test_a_forbidden_read_is_refused_as_it_could_never_be_written(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="list_incidents only reads"):
        load_scenario(write(tmp_path, VALID + "expect: {forbidden: [{tool: list_incidents}]}\n"))
