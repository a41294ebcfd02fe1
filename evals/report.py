"""Results as a JSON record, a Markdown report, a table for the terminal, and trajectories as JSONL."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from rich.table import Table

from evals.graders import Grade, api_call_limit, pass_hat_k
from evals.reference import Prepared
from evals.robustness import OUTCOMES
from evals.runner import Trajectory

SUM_METRICS = ("model_calls", "tool_calls", "api_reads", "api_writes", "retries_429", "waited_seconds",
               "input_tokens", "output_tokens")


def record(prepared: list[Prepared], trajectories: list[Trajectory], *, tier: str, model: str, trials: int,
           wall_seconds: float) -> dict[str, Any]:
    """The JSON record of a run: summary, pass^k, and every trial's reward, checks, metrics and diff."""
    by_id: dict[str, list[Trajectory]] = {}
    for t in trajectories:
        by_id.setdefault(t.scenario, []).append(t)
    outcomes = {sid: [_grade(t).reward == 1.0 for t in ts] for sid, ts in by_id.items()}
    passed = sum(sum(o) for o in outcomes.values())
    costs = [t.metrics.cost_usd for t in trajectories if t.metrics.cost_usd is not None]
    totals = {name: round(sum(getattr(t.metrics, name) for t in trajectories), 3) for name in SUM_METRICS}
    if costs:
        totals["cost_usd"] = round(sum(costs), 6)
    results = []
    for p in prepared:
        if p.scenario.id not in by_id:
            continue
        s = p.scenario
        results.append({"id": s.id, "title": s.title, "tags": s.tags, "reference_calls": p.reference_calls,
                        "api_call_limit": api_call_limit(p), "trials": [_trial(t) for t in by_id[s.id]]})
    return {
        "tier": tier, "model": model, "trials_per_scenario": trials, "scenarios": len(results),
        "trials": len(trajectories), "passed": passed,
        "pass_rate": round(passed / len(trajectories), 4) if trajectories else 0.0,
        "pass_hat_k": {str(k): _round(pass_hat_k(outcomes, k)) for k in range(1, trials + 1)},
        "wall_seconds": round(wall_seconds, 3),
        "trials_per_second": round(len(trajectories) / wall_seconds, 3) if wall_seconds > 0 else None,
        "totals": totals, "results": results,
    }


def markdown(data: dict[str, Any], robustness: list[dict[str, Any]] | None = None) -> str:
    """The human-readable report: summary line, pass^k, a row per scenario, then what differed."""
    source = f", re-graded from {data['regraded_from']}" if "regraded_from" in data else ""
    lines = [f"# Eval report: {data['model']} ({data['tier']} tier{source})", "",
             summary_line(data), "",
             "| k | " + " | ".join(data["pass_hat_k"]) + " |", "|---|" + "---|" * len(data["pass_hat_k"]),
             "| pass^k | " + " | ".join(_pct(v) for v in data["pass_hat_k"].values()) + " |", "",
             "| scenario | reward | passed | approvals | API calls (ref / limit) | 429s | time s | failure |",
             "|---|---|---|---|---|---|---|---|"]
    failures = []
    for r in data["results"]:
        trials = r["trials"]
        rewards = [t["reward"] for t in trials]
        calls = "/".join(str(t["metrics"]["api_reads"] + t["metrics"]["api_writes"]) for t in trials)
        approvals = "; ".join(dict.fromkeys(", ".join(t["approvals"]) or "none" for t in trials))
        failure = next((t["failure"] for t in trials if t["failure"]), "")
        seconds = sum(t["metrics"]["wall_seconds"] for t in trials) / len(trials)
        passed = sum(x == 1.0 for x in rewards)
        lines.append(f"| {r['id']} | {sum(rewards) / len(rewards):.2f} | {passed}/{len(rewards)}"
                     f" | {_cell(approvals)} | {calls} ({r['reference_calls']} / {r['api_call_limit']})"
                     f" | {sum(t['metrics']['retries_429'] for t in trials)} | {seconds:.2f} | {_cell(failure)} |")
        failures += [(r["id"], t) for t in trials if t["reward"] != 1.0]
    if failures:
        lines += ["", "## What went wrong", ""]
        for sid, t in failures:
            lines.append(f"### {sid}, trial {t['trial']} — {t['termination']}")
            lines += [f"- {name}: {detail}" for name, details in t["details"].items() for detail in details[:10]]
            if t["diff"]:
                lines += ["", "| entity | field | expected | actual |", "|---|---|---|---|"]
                lines += [f"| {_cell(d['entity'])} | {d['field']} | {_cell(json.dumps(d['expected']))} | "
                          f"{_cell(json.dumps(d['actual']))} |" for d in t["diff"][:20]]
            lines.append("")
    if robustness:
        lines += ["", robustness_markdown(robustness)]
    return "\n".join(lines).rstrip() + "\n"


def summary_line(data: dict[str, Any]) -> str:
    return (f"**{data['passed']}/{data['trials']} trials passed ({_pct(data['pass_rate'])})** on "
            f"{data['scenarios']} scenarios × {data['trials_per_scenario']} trial(s), {data['model']}, "
            f"in {data['wall_seconds']:.1f} s ({data['trials_per_second'] or 0:.2f} trials/s); "
            f"{data['totals']['api_reads'] + data['totals']['api_writes']} API calls, "
            f"{data['totals']['retries_429']} answered 429.")


def table(data: dict[str, Any]) -> Table:
    """The per-scenario table for the terminal."""
    out = Table(title=f"{data['model']} · {data['tier']} tier", title_justify="left")
    for column in ("scenario", "passed", "API calls", "ref", "s", "failure"):
        out.add_column(column, overflow="fold")
    for r in data["results"]:
        trials = r["trials"]
        ok = sum(t["reward"] == 1.0 for t in trials)
        style = "green" if ok == len(trials) else "red"
        out.add_row(r["id"], f"[{style}]{ok}/{len(trials)}[/{style}]",
                    "/".join(str(t["metrics"]["api_reads"] + t["metrics"]["api_writes"]) for t in trials),
                    str(r["reference_calls"]), f"{sum(t['metrics']['wall_seconds'] for t in trials):.2f}",
                    next((t["failure"] for t in trials if t["failure"]), "")[:160])
    return out


def robustness_markdown(rows: list[dict[str, Any]]) -> str:
    """One row per kind of mistake; the example is the first run that did not recover, if any did not."""
    lines = ["## Robustness: one injected mistake per run", "",
             f"| mistake | runs | {' | '.join(OUTCOMES)} | example |", "|---|---|" + "---|" * len(OUTCOMES) + "---|"]
    for row in rows:
        counts = " | ".join(str(row["counts"].get(outcome, 0)) for outcome in OUTCOMES)
        fallback = row["examples"][0] if row["examples"] else ""
        example = next((e for e in row["examples"] if ": recovered: " not in e), fallback)
        lines.append(f"| {row['kind']} | {row['runs']} | {counts} | {_cell(example[:220])} |")
    return "\n".join(lines)


def write_jsonl(path: Path, trajectories: Iterable[Trajectory]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as out:
        for t in trajectories:
            out.write(t.model_dump_json() + "\n")


def read_jsonl(path: Path) -> list[Trajectory]:
    """Trajectories written by `write_jsonl` (their grades as plain data; grade them again to refresh)."""
    with path.open(encoding="utf-8") as source:
        return [Trajectory.model_validate_json(line) for line in source if line.strip()]


def _grade(t: Trajectory) -> Grade:
    return t.grade if isinstance(t.grade, Grade) else Grade.model_validate(t.grade)


def _trial(t: Trajectory) -> dict[str, Any]:
    g = _grade(t)
    return {"trial": t.trial, "reward": g.reward, "checks": {k: c.passed for k, c in g.checks.items()},
            "details": {k: c.details for k, c in g.checks.items() if c.details}, "failure": g.failure,
            "termination": t.termination, "error": t.error, "metrics": t.metrics.model_dump(),
            "approvals": [f"{a.tool}:{a.verdict}" for a in t.approvals],
            "diff": [d.model_dump(mode="json") for d in g.diff], "answer": t.final_answer()}


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.1f}%"


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")
