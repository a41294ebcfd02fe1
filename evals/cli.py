"""`incident-commander eval`: run the scenario suite against a planner and report.

People read stderr (a progress bar, then the per-scenario table); scripts read stdout (`--json`)
and the files (`--output`, `--report`, `--trajectories`). Exit codes: 0 every trial passed (or the
pass rate reached `--min-pass-rate`), 1 some failed, 2 the command or a scenario file is wrong,
3 something broke inside the eval itself. `--regrade FILE` grades recorded trials again without
running a planner, so a changed grader or expectation can be checked against old runs.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

if TYPE_CHECKING:  # the eval modules load the commander, LangGraph and the simulator: imported when `eval` runs
    from evals.reference import Prepared
    from evals.runner import Planner, Prices, Trajectory

EXIT_PASS, EXIT_FAIL, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3

app = typer.Typer(add_completion=False, help="Scripted evaluation runs of the incident commander.")


class UsageProblem(Exception):
    """Something the person running the command must change; the message says what."""


@app.command("eval")
def eval_command(
    paths: list[Path] | None = typer.Argument(None, help="Scenario files or folders (default: the built-in suite)."),
    model: str | None = typer.Option(None, "--model", help="scripted (the default), command, or openai:MODEL."),
    base_url: str | None = typer.Option(None, "--base-url", help="OpenAI-compatible server for openai:MODEL."),
    trials: int = typer.Option(1, "--trials", min=1, help="Trials per scenario (pass^1…pass^K)."),
    tags: list[str] | None = typer.Option(
        None, "--tags", help="Only scenarios with any of these tags (repeat or comma-separate)."),
    concurrency: int | None = typer.Option(None, "--concurrency", min=1, help="Trials run at once (processes; "
                                           "threads for openai:MODEL). Default 2, and 1 for openai:MODEL."),
    as_json: bool = typer.Option(False, "--json", help="Print the JSON record on stdout."),
    output: Path | None = typer.Option(None, "--output", help="Write the JSON record here."),
    report: Path | None = typer.Option(None, "--report", help="Write the Markdown report here."),
    trajectories: Path | None = typer.Option(None, "--trajectories",
                                                help="Write every trial as JSONL (default: next to --output)."),
    min_pass_rate: float | None = typer.Option(None, "--min-pass-rate", min=0.0, max=1.0,
                                                  help="Exit 0 when at least this share of trials passes."),
    robustness: bool = typer.Option(False, "--robustness", help="Also inject one typical model mistake at a time "
                                    "into the reference paths and report how the tools cope."),
    price_input: float | None = typer.Option(None, "--price-input", help="USD per million input tokens."),
    price_output: float | None = typer.Option(None, "--price-output", help="USD per million output tokens."),
    regrade: Path | None = typer.Option(None, "--regrade", help="Grade the trials recorded in this trajectories "
                                           "file again (against the current scenario files) instead of running any."),
) -> None:
    """Run the scenarios, grade every trial, and report pass rate, pass^k and what differed."""
    # Slow to import (the commander, LangGraph, the simulator): loaded here so the CLI's other commands start fast.
    from evals.reference import prepare
    from evals.report import record, robustness_markdown, table
    from evals.robustness import run_robustness
    from evals.scenario import ScenarioError, load_scenarios

    err = Console(stderr=True, soft_wrap=True)  # one-line errors stay one line, whatever the path length
    logging.getLogger("incident_commander").setLevel(logging.ERROR)  # waits and retries are counted per trial
    try:
        prices = _prices(price_input, price_output)
        wanted = [t.strip() for item in tags or [] for t in item.split(",") if t.strip()]
        scenarios = load_scenarios(list(paths) if paths else None, wanted or None)
        if regrade is not None:
            if model is not None or base_url is not None or robustness:
                raise UsageProblem("--regrade grades recorded trials; --model, --base-url and --robustness "
                                   "only apply to a new run")
            recorded, skipped = _recorded(regrade, {s.id for s in scenarios})
            prepared = [prepare(s) for s in scenarios if s.id in {t.scenario for t in recorded}]
        else:
            planner = _planner(model or "scripted", base_url)
            workers = concurrency or default_concurrency(planner)
            prepared = [prepare(s) for s in scenarios]
            if not any(planner.turns(p.scenario) for p in prepared):
                raise UsageProblem(f"none of the selected scenarios has a form for the {planner.tier} tier")
    except (UsageProblem, ScenarioError) as exc:
        err.print(f"[red]eval:[/red] {exc}", markup=True, highlight=False)
        raise typer.Exit(EXIT_USAGE) from None
    try:
        started = time.perf_counter()
        if regrade is not None:
            if skipped:
                err.print(f"eval: not re-graded, their scenarios are not selected: {', '.join(skipped)}",
                          highlight=False)
            results = _regrade(prepared, recorded, prices)
            data = record(prepared, results, tier=results[0].tier, model=results[0].model,
                          trials=max(Counter(t.scenario for t in results).values()),
                          wall_seconds=time.perf_counter() - started) | {"regraded_from": str(regrade)}
            mistakes = None
        else:
            results = _run(prepared, planner, trials, workers, prices, err)
            data = record(prepared, results, tier=planner.tier, model=planner.name, trials=trials,
                          wall_seconds=time.perf_counter() - started)
            mistakes = run_robustness(prepared, concurrency=workers) if robustness else None
            if mistakes is not None:
                data["robustness"] = mistakes
        # Re-graded trials are not written next to --output by default: that file may be the one read.
        _write(data, results, mistakes, output, report, trajectories, keep_trajectories=regrade is None)
    except Exception as exc:  # the person gets one line, not a traceback
        err.print(f"[red]eval: internal error:[/red] {type(exc).__name__}: {exc}", markup=True, highlight=False)
        raise typer.Exit(EXIT_INTERNAL) from None
    err.print(table(data))
    if mistakes is not None:
        err.print(robustness_markdown(mistakes), markup=False, highlight=False)
    err.print(f"{data['passed']}/{data['trials']} trials passed ({data['pass_rate'] * 100:.1f}%), "
              f"pass^k {data['pass_hat_k']}", highlight=False)
    if as_json:
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
    passed = data["pass_rate"] >= min_pass_rate if min_pass_rate is not None else data["passed"] == data["trials"]
    raise typer.Exit(EXIT_PASS if passed else EXIT_FAIL)


def default_concurrency(planner: Planner) -> int:
    """One trial at a time against a model server: a local one serves one request at a time, and time spent
    queueing would count against each trial's timeout. Two worker processes for the in-process planners."""
    return 2 if planner.in_process else 1


def _planner(model: str, base_url: str | None) -> Planner:
    from evals.runner import command, live, scripted  # slow to import: only when `eval` runs

    if model.startswith("openai:"):
        name = model.removeprefix("openai:").strip()
        if not name:
            raise UsageProblem("--model openai:MODEL needs a model name, e.g. openai:gpt-4.1-mini")
        from agent.planners.openai import chat_model
        from agent.settings import Settings

        settings = Settings(model=name, openai_base_url=base_url) if base_url else Settings(model=name)
        if settings.openai_api_key is None:
            raise UsageProblem("--model openai:… needs OPENAI_API_KEY in the environment (any value for a local "
                               "server that does not check it)")
        return live(chat_model(settings), f"openai:{name}")
    if base_url is not None:
        raise UsageProblem("--base-url only applies to --model openai:MODEL")
    planners = {"scripted": scripted, "command": command}
    if model not in planners:
        raise UsageProblem(f"unknown --model {model!r}; use scripted, command or openai:MODEL")
    return planners[model]()


def _recorded(path: Path, selected: set[str]) -> tuple[list[Trajectory], list[str]]:
    """The trials in a trajectories file whose scenarios are selected, and the ids of those left out."""
    from evals.report import read_jsonl  # slow to import: only when `eval` runs

    try:
        recorded = read_jsonl(path)
    except OSError as exc:
        raise UsageProblem(f"cannot read --regrade {path}: {exc.strerror or exc}") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        raise UsageProblem(f"--regrade {path} is not a trajectories file written by eval --output or "
                           f"--trajectories ({'.'.join(map(str, first['loc'])) or 'line'}: {first['msg']})") from None
    runs = sorted({f"{t.model} ({t.tier} tier)" for t in recorded})
    if len(runs) > 1:
        raise UsageProblem(f"--regrade {path} mixes runs ({', '.join(runs)}); re-grade one run at a time")
    kept = [t for t in recorded if t.scenario in selected]
    if not kept:
        found = ", ".join(sorted({t.scenario for t in recorded})) or "none"
        raise UsageProblem(f"--regrade {path}: none of its trials is of a selected scenario (recorded: {found}); "
                           "give their scenario files as PATHS")
    return kept, sorted({t.scenario for t in recorded} - selected)


def _regrade(prepared: list[Prepared], recorded: list[Trajectory], prices: Prices | None) -> list[Trajectory]:
    """Each recorded trial with a fresh grade (and a fresh cost when prices are given), in suite order."""
    from evals.graders import grade  # slow to import: only when `eval` runs

    by_id = {p.scenario.id: p for p in prepared}
    order = list(by_id)
    regraded = []
    for t in sorted(recorded, key=lambda t: (order.index(t.scenario), t.trial)):
        metrics = t.metrics if prices is None else t.metrics.model_copy(
            update={"cost_usd": prices.cost(t.metrics.input_tokens, t.metrics.output_tokens)})
        regraded.append(t.model_copy(update={"grade": grade(by_id[t.scenario], t), "metrics": metrics}))
    return regraded


def _prices(price_input: float | None, price_output: float | None) -> Prices | None:
    from evals.runner import Prices  # slow to import: only when `eval` runs

    if (price_input is None) != (price_output is None):
        raise UsageProblem("give both --price-input and --price-output (USD per million tokens), or neither")
    return None if price_input is None else Prices(price_input, price_output or 0.0)


def _run(prepared: list[Prepared], planner: Planner, trials: int, concurrency: int, prices: Prices | None,
         err: Console) -> list[Trajectory]:
    from evals.graders import grade  # slow to import: only when `eval` runs
    from evals.runner import run_trials

    total = sum(trials for p in prepared if planner.turns(p.scenario))
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    # Redrawn as each trial ends, without a refresh thread: trial workers are forked, which is safe only
    # while this process runs a single thread (see evals.workers).
    with Progress(*columns, console=err, transient=True, auto_refresh=False) as progress:
        task = progress.add_task(f"{planner.name}", total=total)
        return run_trials(prepared, planner, trials=trials, concurrency=concurrency, prices=prices, grade=grade,
                          on_done=lambda t: progress.update(task, advance=1, refresh=True))


def _write(data: dict[str, Any], results: list[Trajectory], mistakes: list[dict[str, Any]] | None,
           output: Path | None, report: Path | None, trajectories: Path | None, *, keep_trajectories: bool) -> None:
    from evals.report import markdown, write_jsonl  # slow to import: only when `eval` runs

    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        if keep_trajectories:
            trajectories = trajectories or output.with_suffix(".trajectories.jsonl")
    if trajectories is not None:
        write_jsonl(trajectories, results)
    if report is not None:
        report.parent.mkdir(parents=True, exist_ok=True)
        report.write_text(markdown(data, mistakes), encoding="utf-8")
