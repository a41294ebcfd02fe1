"""What people read — notebook output and Slack messages and cards — holds no planner guidance, tool names,
exception names or dict dumps, for reads, approvals, failures and refusals alike."""

from __future__ import annotations

import json
import re
from functools import partial
from typing import Any

from fake_slack import slack_world
from notebook_output import showing

from tools.registry import TOOLS

TOOL_NAME = re.compile(r"\b(?:" + "|".join(map(re.escape, TOOLS)) + r")\b")
PLANNER_WORDS = re.compile(r"Next: |\bCall [a-z_]+ |tell the user|call again|[A-Z][a-z]+Error\b|Errno|\{'")
REQUESTS = ["oncall API Gateway", "show 268", "show 99999", "ack 9999", "resolve 26", "frobnicate",
            "override Platform Primary with Zed Quinn for 8h", 'trigger "Checkout down" on API Gateway',
            "timeline 26"]


def problems(text: str) -> list[str]:
    return TOOL_NAME.findall(text) + PLANNER_WORDS.findall(text)


def test_the_notebook_shows_people_words(make_chat):
    chat = make_chat()
    for request in REQUESTS:
        outputs = showing(partial(chat, request))
        shown = "\n".join(str(v) for o in outputs for k, v in o.data.items() if k.startswith("text/"))
        assert not problems(shown), (request, problems(shown), shown)


def test_slack_shows_people_words(sim, clock):
    def finished(calls: list[Any]) -> list[Any] | None:
        """One answer (to the requester alone), failure or card per request (progress messages are context
        blocks)."""
        ends = [c for c in calls if c.method.startswith("hook:") or (c.method == "chat.postMessage"
                and "thread_ts" in c.args and (c.args.get("blocks") or [{}])[0].get("type") != "context")]
        return ends if len(ends) >= len(REQUESTS) else None

    with slack_world(sim, clock) as world:
        for request in REQUESTS:
            world.command(request)
        world.slack.wait_for(finished)
        for message in [c.args for c in world.slack.calls if c.method.startswith(("chat.", "hook:"))]:
            shown = json.dumps({k: message.get(k) for k in ("text", "blocks", "attachments")}, ensure_ascii=False)
            shown = re.sub(r"```.*?```", "", shown)  # the card's exact arguments, shown as data
            assert not problems(shown), (problems(shown), shown[:2000])
