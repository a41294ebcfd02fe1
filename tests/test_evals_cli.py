"""`eval` as a command: exit codes, JSON on stdout, files written, one-line errors without tracebacks."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from evals.cli import app
from evals.scenario import SCENARIO_DIR

SEED = str(SCENARIO_DIR / "page_oncall_api_gateway.yaml")
NOTE = str(SCENARIO_DIR / "add_note.yaml")


def invoke(*args: str):
    return CliRunner().invoke(app, list(args))


def failing_scenario(tmp_path: Path) -> str:
    """The seed scenario with a mention its answer never makes."""
    text = Path(SEED).read_text().replace("mentions: [Bilal Khan]", "mentions: [Bilal Khan, a unicorn]")
    path = tmp_path / "failing.yaml"
    path.write_text(text.replace("id: page-oncall-api-gateway", "id: failing"))
    return str(path)


def test_a_passing_run_exits_0_and_writes_record_report_and_trajectories(tmp_path: Path) -> None:
    result = invoke(SEED, NOTE, "--trials", "2", "--json", "--output", str(tmp_path / "r.json"),
                    "--report", str(tmp_path / "r.md"))
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["trials"], data["passed"], data["pass_hat_k"]) == (4, 4, {"1": 1.0, "2": 1.0})
    assert json.loads((tmp_path / "r.json").read_text())["results"][0]["id"] == "page-oncall-api-gateway"
    assert len((tmp_path / "r.trajectories.jsonl").read_text().splitlines()) == 4
    assert "**4/4 trials passed (100.0%)**" in (tmp_path / "r.md").read_text()


def test_failures_exit_1_unless_the_pass_rate_is_reached(tmp_path: Path) -> None:
    failing = failing_scenario(tmp_path)
    report = tmp_path / "r.md"
    result = invoke(failing, SEED, "--report", str(report))
    assert result.exit_code == 1
    assert "the answer does not mention 'a unicorn'" in report.read_text()
    assert invoke(failing, SEED, "--min-pass-rate", "0.5").exit_code == 0
    assert invoke(failing, SEED, "--min-pass-rate", "0.9").exit_code == 1


def test_usage_errors_exit_2_with_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: x\n")
    for args, message in [((SEED, "--model", "gpt"), "unknown --model 'gpt'"),
                          ((SEED, "--base-url", "http://127.0.0.1:1"), "--base-url only applies"),
                          ((str(bad),), "bad.yaml"),
                          ((SEED, "--tags", "nope"), "no scenario has any of the tags nope"),
                          ((SEED, "--price-input", "1"), "give both --price-input and --price-output"),
                          ((SEED, "--trials", "0"), "")]:
        result = invoke(*args)
        assert result.exit_code == 2, (args, result.output)
        assert message in result.output and "Traceback" not in result.output


def test_the_live_tier_needs_a_key(monkeypatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    result = invoke(SEED, "--model", "openai:gpt-4.1-mini")
    assert result.exit_code == 2 and "needs OPENAI_API_KEY" in result.output


def test_the_command_tier_runs_only_scenarios_with_a_command_form() -> None:
    result = invoke(SEED, str(SCENARIO_DIR / "set_priority.yaml"), "--model", "command", "--json")
    assert result.exit_code == 0, result.output
    assert [r["id"] for r in json.loads(result.stdout)["results"]] == ["page-oncall-api-gateway"]


def test_an_error_inside_the_run_exits_3_without_a_traceback(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = invoke(SEED, "--output", str(blocker / "r.json"))
    assert result.exit_code == 3
    assert "internal error" in result.output and "Traceback" not in result.output
