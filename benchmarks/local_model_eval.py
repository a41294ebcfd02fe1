"""The agent with a real model behind any OpenAI-compatible URL, on a fixed core set of eval scenarios.

Run (a local llama.cpp server, for instance; see README "Run with a local model"):
    OPENAI_API_KEY=local .venv/bin/python benchmarks/local_model_eval.py \
        --base-url http://127.0.0.1:8088/v1 --model qwen2.5-coder-1.5b [--scenarios ID,ID] [--json FILE]

One trial per scenario, one at a time (a local server has one slot). Prints each trial as it ends, then:
pass rate; seconds per model call and per turn, cold (the run's first call, nothing cached yet) and warm
(later calls of a turn, whose prompt starts with what the server just read, and the first call of a
person's follow-up message, timed on the conversations of `--follow-ups`, which run after the core set
and count apart from its pass rate); the new prompt tokens follow-up calls read; prompt tokens of each
scenario's first call (system prompt, the tools offered and the request, counted by the server's
tokenizer); the cached-token ratio of follow-up calls (the share of their prompt the server reported as
served from its cache); repaired tool calls; and fabricated claims: answers people were shown that claim
a change (opened, paged, acknowledged …) that no successful write of the trial supports, checked against
the audit, plus the drafts the grounding step caught and did not show.

Read the seconds next to the machine's load (printed from `os.getloadavg`), and the ratios more than the
seconds on a shared machine.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import HumanMessage
from langchain_core.outputs import LLMResult

from agent.grounding import claims, supported_claims
from agent.planners.openai import chat_model
from agent.settings import Settings
from evals.graders import grade
from evals.reference import prepare
from evals.runner import Planner, Trajectory, run_trials
from evals.scenario import load_scenarios
from tools.registry import TOOLS

CORE_SET = (
    "who-is-on-call", "list-my-incidents", "similar-past-incidents",                      # reads
    "acknowledge-incident", "add-note", "change-urgency", "snooze-incident",             # one write
    "resolve-with-note", "escalate-next-level",
    "page-oncall-api-gateway", "page-oncall-payments", "reassign-incident",              # look up, then write
    "override-ill-engineer", "rejected-create",                                          # cover; a person says no
)
FOLLOW_UPS = ("ambiguous-service-name", "events-trigger-then-resolve")  # a person's second message, prefix cached
WITHHELD = "I could not give a reliable answer"


@dataclass
class Call:
    """One model call as the benchmark saw it."""

    scenario: str
    index: int  # 0 for the scenario's first call
    seconds: float
    prompt_tokens: int
    cached_tokens: int
    follow_up_turn: bool = False  # the first call after a person's second or later message


@dataclass
class Calls(BaseCallbackHandler):
    """Times every model call and keeps the usage its server reported."""

    scenario: str = ""
    seen: list[Call] = field(default_factory=list)
    _started: dict[UUID, float] = field(default_factory=dict)
    _follow_up: dict[UUID, bool] = field(default_factory=dict)

    def on_chat_model_start(self, serialized: Any, messages: Any, *, run_id: UUID, **kwargs: Any) -> None:
        self._started[run_id] = time.perf_counter()
        sent = messages[0] if messages else []
        self._follow_up[run_id] = bool(sent) and isinstance(sent[-1], HumanMessage) and sum(
            isinstance(m, HumanMessage) for m in sent) > 1

    def on_llm_end(self, response: LLMResult, *, run_id: UUID, **kwargs: Any) -> None:
        message = getattr(response.generations[0][0], "message", None)
        usage = getattr(message, "usage_metadata", None) or {}
        cached = (usage.get("input_token_details") or {}).get("cache_read", 0)
        self._record(run_id, usage.get("input_tokens", 0), cached)

    def on_llm_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        """A call that timed out counts with its seconds (at least the timeout) and no tokens."""
        self._record(run_id, 0, 0)

    def _record(self, run_id: UUID, prompt_tokens: int, cached_tokens: int) -> None:
        seconds = time.perf_counter() - self._started.pop(run_id, time.perf_counter())
        index = sum(c.scenario == self.scenario for c in self.seen)
        self.seen.append(Call(self.scenario, index, seconds, prompt_tokens, cached_tokens,
                              self._follow_up.pop(run_id, False)))


def fabricated(trial: Trajectory) -> list[str]:
    """Claims of change in the answers shown that no successful write of the trial supports."""
    writes = {name for name, info in _kinds().items() if info == "write"}
    supported: set[str] = set()
    for entry in trial.audit:
        if entry.action == "tool_call" and entry.outcome == "ok" and entry.tool in writes:
            supported |= supported_claims(entry.tool, entry.arguments or {})
    out = []
    for turn in trial.turns:
        shown = turn.answer.split("\n\nChanged in PagerDuty:")[0].split("\n\nNothing was changed in PagerDuty.")[0]
        if not shown.startswith(WITHHELD):
            out += [kind for kind in claims(shown) if kind not in supported]
    return out


def _kinds() -> dict[str, str]:
    return {tool.name: tool.kind for tool in TOOLS.values()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", default=os.environ.get("OPENAI_BASE_URL"), help="OpenAI-compatible /v1 URL")
    parser.add_argument("--model", default=os.environ.get("IC_MODEL", "qwen2.5-coder-1.5b"))
    parser.add_argument("--scenarios", default=",".join(CORE_SET), help="comma-separated scenario ids")
    parser.add_argument("--follow-ups", default=",".join(FOLLOW_UPS),
                        help="conversations of several messages, run after the core set to time follow-up turns "
                             "('' for none)")
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds per model call")
    parser.add_argument("--toolset", choices=("focused", "all"), default="focused")
    parser.add_argument("--json", type=Path, help="write the figures and trials here")
    parser.add_argument("--count-only", action="store_true",
                        help="only count each scenario's first prompt (system prompt, offered tools, request) with "
                             "the server's own tokenizer, focused and with every tool (llama.cpp's /apply-template "
                             "and /tokenize); no model call")
    args = parser.parse_args()
    logging.getLogger("incident_commander").setLevel(logging.ERROR)
    if not args.base_url:
        parser.error("--base-url (or OPENAI_BASE_URL) is required")

    wanted = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    follow_ups = [s.strip() for s in args.follow_ups.split(",") if s.strip()]
    by_id = {s.id: s for s in load_scenarios()}
    unknown = [s for s in [*wanted, *follow_ups] if s not in by_id]
    if unknown:
        parser.error(f"unknown scenario ids: {', '.join(unknown)}")
    if args.count_only:
        count_prompts([prepare(by_id[s]).scenario for s in wanted], args.base_url.removesuffix("/").removesuffix("/v1"))
        return
    settings = Settings(OPENAI_API_KEY=os.environ.get("OPENAI_API_KEY") or "local", openai_base_url=args.base_url,
                        model=args.model, model_timeout=args.timeout, model_retries=0, toolset=args.toolset)
    calls = Calls()
    model = chat_model(settings)
    model = model.model_copy(update={"callbacks": [calls]})
    planner = Planner(f"openai:{args.model}", "live", lambda _: model, in_process=False)

    print(f"{args.model} at {args.base_url}, toolset {args.toolset}; load average {_load()}", flush=True)
    started = time.perf_counter()
    core = [_run(by_id[scenario_id], planner, calls) for scenario_id in wanted]
    if follow_ups:
        print("follow-up conversations (timed apart from the core set's pass rate):", flush=True)
    later = [_run(by_id[scenario_id], planner, calls) for scenario_id in follow_ups]
    figures = summarise([t for t, _ in core], [c for c in calls.seen if c.scenario in wanted], [s for _, s in core],
                        time.perf_counter() - started)
    figures |= follow_up_figures([t for t, _ in later], [c for c in calls.seen if c.scenario in follow_ups])
    trials = [t for t, _ in core + later]
    print(f"load average after: {_load()}")
    for name, value in figures.items():
        print(f"{name}: {value}")
    if args.json:
        args.json.write_text(json.dumps({"figures": figures, "model": args.model, "base_url": args.base_url,
                                         "trials": [t.model_dump(mode="json", exclude={"grade"}) for t in trials]},
                                        indent=2, default=str))


def _run(scenario: Any, planner: Planner, calls: Calls) -> tuple[Trajectory, float]:
    """One trial of the scenario, printed as it ends, and its seconds."""
    calls.scenario = scenario.id
    begun = time.perf_counter()
    [trial] = run_trials([prepare(scenario)], planner, trials=1, concurrency=1, grade=grade)
    seconds = time.perf_counter() - begun
    mine = [c for c in calls.seen if c.scenario == scenario.id]
    status = "pass" if trial.grade.reward == 1.0 else f"FAIL ({trial.grade.failure or trial.termination})"
    print(f"  {scenario.id:<28} {status[:90]:<60} {len(mine)} calls, {sum(c.seconds for c in mine):.1f} s, "
          f"first prompt {mine[0].prompt_tokens if mine else 0} tokens", flush=True)
    answer = trial.final_answer().replace("\n", " | ")
    print(f"      {sum(a.action == 'repaired' for a in trial.audit)} repaired; answer: {answer[:200]}", flush=True)
    return trial, seconds


def count_prompts(scenarios: list[Any], server: str) -> None:
    """Tokens of each scenario's first prompt as the served model's chat template renders it."""
    import httpx

    from agent.embedded import connect
    from agent.toolsets import MORE_TOOLS_DEFINITION, offered
    from prompts import system_prompt
    from tools.langchain_tools import definition
    from tools.settings import PagerDutySettings
    from tools.toolkit import build_toolkit

    connection = connect(PagerDutySettings(api_key=None), transport=None, clock=None, progress=None, state_file=None)
    tools = {t.name: t for t in build_toolkit(connection.client, connection.events).tools}

    def tokens(request: str, names: list[str] | None) -> int:
        offer = [definition(tools[n]) for n in names] + [MORE_TOOLS_DEFINITION] if names else \
            [definition(t) for t in tools.values()]
        messages = [{"role": "system", "content": system_prompt()}, {"role": "user", "content": request}]
        prompt = httpx.post(f"{server}/apply-template", json={"messages": messages, "tools": offer}, timeout=60)
        text = prompt.raise_for_status().json()["prompt"]
        return len(httpx.post(f"{server}/tokenize", json={"content": text}, timeout=60).json()["tokens"])

    focused = []
    for scenario in scenarios:
        request = scenario.messages()[0]
        names = offered([request], list(tools), everything=False)
        focused.append(tokens(request, names))
        print(f"  {scenario.id:<28} {focused[-1]:>5} tokens, {len(names or tools)} tools offered")
    every = tokens(scenarios[0].messages()[0], None)
    print(f"first prompt, focused toolset (min/median/max): {min(focused)}/{statistics.median(focused):.0f}/"
          f"{max(focused)} tokens; with all {len(tools)} tools: {every} tokens")


def summarise(trials: list[Trajectory], calls: list[Call], turns: list[float], wall: float) -> dict[str, Any]:
    """The figures the run is judged by."""
    passed = sum(t.grade.reward == 1.0 for t in trials)
    firsts = [c for c in calls if c.index == 0]
    follow_ups = [c for c in calls if c.index > 0]
    cached = [c.cached_tokens / c.prompt_tokens for c in follow_ups if c.prompt_tokens]
    counted = [c.prompt_tokens for c in firsts if c.prompt_tokens]  # a timed-out call reports no tokens
    invented = [claim for t in trials for claim in fabricated(t)]
    return {
        "pass rate": f"{passed}/{len(trials)} ({passed / max(1, len(trials)):.0%})",
        "cold first call (s)": round(calls[0].seconds, 1) if calls else None,
        "first calls of later scenarios, median (s)": _median([c.seconds for c in firsts[1:]]),
        "warm follow-up calls, median (s)": _median([c.seconds for c in follow_ups]),
        "warm follow-up calls, max (s)": round(max((c.seconds for c in follow_ups), default=0), 1),
        "seconds per scenario (cold first, median of the rest)":
            (round(turns[0], 1) if turns else None, _median(turns[1:])),
        "first-call prompt tokens (min/median/max)":
            (min(counted, default=0), _median(counted), max(counted, default=0)),
        "cached-token ratio of follow-up calls (median)": _median(cached, 2),
        "new prompt tokens read by follow-up calls (median/max)":  # what a follow-up's seconds mostly are
            (_median([c.prompt_tokens - c.cached_tokens for c in follow_ups if c.prompt_tokens], 0),
             max((c.prompt_tokens - c.cached_tokens for c in follow_ups), default=0)),
        "model calls": len(calls),
        "repaired calls": sum(a.action == "repaired" for t in trials for a in t.audit),
        "fabricated claims shown": len(invented),
        "claims caught and not shown": sum(turn.answer.startswith(WITHHELD) for t in trials for turn in t.turns),
        "wall (s)": round(wall, 1),
    }


def follow_up_figures(trials: list[Trajectory], calls: list[Call]) -> dict[str, Any]:
    """How a person's follow-up message fares: its first call reads only the new message (and the answer
    before it) after a cached conversation."""
    if not trials:
        return {}
    passed = sum(t.grade.reward == 1.0 for t in trials)
    firsts = [c for c in calls if c.follow_up_turn]
    return {
        "follow-up conversations passed": f"{passed}/{len(trials)}",
        "first call of a follow-up message, median/max (s)":
            (_median([c.seconds for c in firsts]), round(max((c.seconds for c in firsts), default=0), 1)),
        "new prompt tokens read by it (median)":
            _median([c.prompt_tokens - c.cached_tokens for c in firsts if c.prompt_tokens], 0),
        "fabricated claims shown in them": sum(len(fabricated(t)) for t in trials),
    }


def _median(values: Sequence[float], digits: int = 1) -> float | None:
    return round(statistics.median(values), digits) if values else None


def _load() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


if __name__ == "__main__":
    main()
