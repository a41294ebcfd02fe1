"""Commanders for tests: the real toolkit on the demo simulator, a scripted planner, a chosen store.

Nothing of ours is replaced: the Commander is built by `Commander.from_settings`, the same way the
surfaces build it; only the outside world is injected (model, HTTP transport, clock, database file).
"""

from __future__ import annotations

from typing import Any

import httpx

from agent.commander import Commander
from agent.planners.scripted import ScriptedChatModel
from agent.settings import Settings
from simulator import LoggedRequest, Simulator
from tools.settings import PagerDutySettings


class ProcessKilled(BaseException):
    """Stands in for the process dying: not an Exception, so nothing between here and the test catches it."""


class DiesAfterWrite(httpx.BaseTransport):
    """Delivers the first `method path` request to PagerDuty, then "kills the process" before the answer
    (or, with `deliver=False`, kills it just before the request leaves)."""

    def __init__(self, inner: httpx.BaseTransport, method: str, path: str, deliver: bool = True) -> None:
        self.inner, self.method, self.path, self.deliver, self.fired = inner, method, path, deliver, False

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        target = (request.method, request.url.path) == (self.method, self.path) and not self.fired
        if target and not self.deliver:
            self.fired = True
            raise ProcessKilled
        response = self.inner.handle_request(request)
        if target:
            self.fired = True
            raise ProcessKilled
        return response


def build(sim: Simulator, clock: Any, script: Any, store: str = ":memory:", *,
          transport: httpx.BaseTransport | None = None, **settings: Any) -> Commander:
    """A Commander on `sim` (demo organisation token) with a scripted planner and the given settings."""
    return Commander.from_settings(
        Settings(checkpoint_db=store, requester="dana", openai_api_key=None, **settings),
        model=script if isinstance(script, ScriptedChatModel) else ScriptedChatModel(script=script),
        transport=transport or sim.transport(), clock=clock, pagerduty_settings=PagerDutySettings(api_key=None))


def writes(sim: Simulator, since: int = 0) -> list[LoggedRequest]:
    """Requests that could change PagerDuty (anything but GET), from position `since` of the log."""
    return [r for r in sim.request_log[since:] if r.is_write]


def open_incident(sim: Simulator, n: int = 0):
    """The n-th triggered incident of the demo account (by number), for tests that act on one: acknowledging
    or resolving it changes something, so it is asked about rather than answered as already done."""
    return incident_in(sim, "triggered", n)


def incident_in(sim: Simulator, status: str, n: int = 0):
    """The n-th incident of the demo account (by number) with this status."""
    found = sorted((i for i in sim.state.incidents.values() if i.status == status), key=lambda i: i.number)
    return found[n]


def update_call(incident, action: str) -> dict[str, Any]:
    """The planner's `update_incident` tool call on `incident` (acknowledge, resolve, ...), for a script."""
    return {"name": "update_incident", "args": {"incident": incident.id, "action": action}}


def ack_both(first, second) -> list[dict[str, Any]]:
    """One planner step that acknowledges two incidents: a batch of two approvals."""
    return [update_call(first, "acknowledge"), update_call(second, "acknowledge")]


def said(text: str) -> str:
    """A model answer without the receipt the graph puts under it (`agent.grounding`): what the model said."""
    head, _, last = text.rpartition("\n\n")
    return head if head and (last.startswith(("Nothing was changed in PagerDuty.", "Changed in PagerDuty:"))) \
        else text
