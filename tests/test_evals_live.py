"""The live tier end to end: `eval --model openai:…` drives the real ChatOpenAI over HTTP against a local
OpenAI-compatible server that plays a scenario's reference tool calls, so the live path (settings from
the environment, the model's wire protocol, token usage, grading and exit codes) runs without a model."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fake_openai import CannedResponse, FakeOpenAI, calls, says
from servers import running_server
from typer.testing import CliRunner

from evals.cli import app
from evals.scenario import SCENARIO_DIR, Scenario, load_scenario

PAGE = SCENARIO_DIR / "page_oncall_api_gateway.yaml"
ON_CALL = SCENARIO_DIR / "who_is_on_call.yaml"
USAGE = (100, 10)  # prompt and completion tokens the fake reports for every reply


def plays(scenario: Scenario) -> list[CannedResponse]:
    """The model replies that walk the scenario's reference path: its tool calls, then its answer."""
    return [says(step.answer) if step.answer is not None else calls(*((c.tool, c.args) for c in step.calls()))
            for step in scenario.reference]


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[FakeOpenAI, str]]:
    """A fake OpenAI server (script set by each test), its base URL, and a key in the environment."""
    monkeypatch.setenv("OPENAI_API_KEY", "fake")
    fake = FakeOpenAI([])
    with running_server(fake) as url:
        yield fake, url + "/v1"


def live_eval(url: str, *paths: object, extra: tuple[str, ...] = ()):
    # One trial at a time: every trial shares the one scripted server, whose replies must come in order.
    return CliRunner().invoke(app, [*map(str, paths), "--model", "openai:fake-model", "--base-url", url,
                                    "--concurrency", "1", "--json", *extra])


def test_a_model_that_walks_the_reference_paths_passes_and_its_tokens_are_counted(served) -> None:
    fake, url = served
    fake.script = plays(load_scenario(PAGE)) + plays(load_scenario(ON_CALL))
    result = live_eval(url, PAGE, ON_CALL, extra=("--price-input", "2", "--price-output", "8"))
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["tier"], data["model"], data["passed"], data["trials"]) == ("live", "openai:fake-model", 2, 2)
    assert {r["id"]: r["trials"][0]["approvals"] for r in data["results"]} == {
        "page-oncall-api-gateway": ["create_incident:approve"], "who-is-on-call": []}
    assert {request["model"] for request in fake.requests} == {"fake-model"}
    calls_made = data["totals"]["model_calls"]
    assert calls_made == len(fake.requests) == 6  # four replies for the page, two for the question
    assert (data["totals"]["input_tokens"], data["totals"]["output_tokens"]) == (calls_made * USAGE[0],
                                                                                calls_made * USAGE[1])
    assert data["totals"]["cost_usd"] == pytest.approx(calls_made * (USAGE[0] * 2 + USAGE[1] * 8) / 1e6)


def test_a_model_that_answers_without_acting_gets_no_reward_and_a_reason(served) -> None:
    fake, url = served
    fake.script = [says("Bilal Khan is on call; I have paged him.")] * 2  # claims the page, never makes it
    result = live_eval(url, PAGE)
    assert result.exit_code == 1
    [trial] = json.loads(result.stdout)["results"][0]["trials"]
    assert trial["reward"] == 0.0 and trial["termination"] == "answered"
    assert not trial["checks"]["end_state"] and not trial["checks"]["approvals"]
    assert trial["failure"].startswith("end_state: ") and "API Gateway 5xx above 3%" in trial["failure"]
    assert "Traceback" not in result.output
