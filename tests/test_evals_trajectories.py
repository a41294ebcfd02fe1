"""Recorded trajectories: enough to grade every check again (`eval --regrade`), and what a trial measures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from evals.cli import app
from evals.reference import prepare
from evals.runner import run_trial, scripted
from evals.scenario import SCENARIO_DIR, load_scenario

SCENARIOS = [str(SCENARIO_DIR / name) for name in
             ("page_oncall_api_gateway.yaml", "override_ill_engineer.yaml", "rejected_create.yaml")]


def invoke(*args: str):
    return CliRunner().invoke(app, list(args))


def trials(record: dict) -> dict[str, list[dict]]:
    return {r["id"]: r["trials"] for r in record["results"]}


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    """One scripted run of three scenarios: its JSON record and its trajectories file."""
    out = tmp_path_factory.mktemp("run") / "run.json"
    result = invoke(*SCENARIOS, "--output", str(out))
    assert result.exit_code == 0, result.output
    return json.loads(out.read_text()), out.with_suffix(".trajectories.jsonl")


def test_regrading_recorded_trials_gives_the_same_grades_without_running_anything(recorded, tmp_path: Path) -> None:
    run, jsonl = recorded
    before = jsonl.read_text()
    result = invoke(*SCENARIOS, "--regrade", str(jsonl), "--json", "--output", str(tmp_path / "again.json"),
                    "--report", str(tmp_path / "again.md"))
    assert result.exit_code == 0, result.output
    again = json.loads(result.stdout)
    assert trials(again) == trials(run)  # rewards, checks, diffs and the recorded metrics
    assert (again["tier"], again["model"], again["trials"], again["passed"]) == ("scripted", "scripted", 3, 3)
    assert again["regraded_from"] == str(jsonl)
    assert "re-graded from" in (tmp_path / "again.md").read_text()
    assert jsonl.read_text() == before and not (tmp_path / "again.trajectories.jsonl").exists()


def test_a_write_whose_approval_was_removed_fails_the_approvals_check(recorded, tmp_path: Path) -> None:
    _, jsonl = recorded
    lines = [json.loads(line) for line in jsonl.read_text().splitlines()]
    page = next(t for t in lines if t["scenario"] == "page-oncall-api-gateway")
    assert [a["verdict"] for a in page["approvals"]] == ["approve"]
    page["approvals"] = []  # as if create_incident had run without anybody deciding
    tampered = tmp_path / "tampered.jsonl"
    tampered.write_text("".join(json.dumps(t) + "\n" for t in lines))
    report = tmp_path / "r.md"
    result = invoke(*SCENARIOS, "--regrade", str(tampered), "--json", "--report", str(report))
    assert result.exit_code == 1
    graded = {sid: ts[0] for sid, ts in trials(json.loads(result.stdout)).items()}
    assert graded["page-oncall-api-gateway"]["reward"] == 0.0
    assert graded["page-oncall-api-gateway"]["checks"] == {"end_state": True, "approvals": False,
                                                         "forbidden_writes": True, "answer": True,
                                                         "efficiency": True}
    assert "create_incident" in graded["page-oncall-api-gateway"]["failure"]
    assert "without an approval of that call" in graded["page-oncall-api-gateway"]["failure"]
    assert [graded[s]["reward"] for s in ("override-ill-engineer", "rejected-create")] == [1.0, 1.0]
    assert "without an approval of that call" in report.read_text()


def test_only_the_selected_scenarios_are_regraded(recorded) -> None:
    _, jsonl = recorded
    result = invoke(SCENARIOS[0], "--regrade", str(jsonl), "--json")
    assert result.exit_code == 0, result.output
    assert list(trials(json.loads(result.stdout))) == ["page-oncall-api-gateway"]
    said = " ".join(result.stderr.split())
    assert "not re-graded, their scenarios are not selected: override-ill-engineer, rejected-create" in said


def test_regrade_usage_errors_exit_2_with_one_line(recorded, tmp_path: Path) -> None:
    _, jsonl = recorded
    garbage = tmp_path / "garbage.jsonl"
    garbage.write_text('{"scenario": "x"}\n')
    for args, message in [(("--regrade", str(tmp_path / "missing.jsonl")), "cannot read --regrade"),
                          (("--regrade", str(garbage)), "is not a trajectories file"),
                          (("--regrade", str(jsonl), "--model", "command"), "only apply to a new run"),
                          ((str(SCENARIO_DIR / "add_note.yaml"), "--regrade", str(jsonl)),
                           "none of its trials is of a selected scenario")]:
        result = invoke(*args)
        assert result.exit_code == 2, (args, result.output)
        assert message in " ".join(result.output.split()) and "Traceback" not in result.output


def test_time_to_first_approval_is_recorded_only_when_an_approval_was_asked() -> None:
    asked = run_trial(prepare(load_scenario(SCENARIO_DIR / "page_oncall_api_gateway.yaml")), scripted())
    assert asked.metrics.first_approval_seconds is not None
    assert 0 < asked.metrics.first_approval_seconds <= asked.metrics.wall_seconds
    read_only = run_trial(prepare(load_scenario(SCENARIO_DIR / "who_is_on_call.yaml")), scripted())
    assert read_only.approvals == [] and read_only.metrics.first_approval_seconds is None
