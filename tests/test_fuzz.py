"""Malformed requests of every kind get PagerDuty's 4xx error body, never a 500."""

from __future__ import annotations

import json
import re

import pytest
from demo_org import auth_header, token_for
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator.http import Request

NASTY_TEXT = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["", "null", "undefined", "-1", "0", "99999999999999999999", "1e309", "NaN", "true",
                     "2026-13-45T99:99:99Z", "../../etc", "%00", "P" * 300, "[]", "{}"]),
)
JSONISH = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), NASTY_TEXT),
    lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(NASTY_TEXT, children, max_size=4)),
    max_leaves=12,
)
KNOWN_KEYS = ["incident", "incidents", "note", "overrides", "override", "duration", "source_incidents",
              "requester_id", "message", "responder_request_targets", "routing_key", "event_action", "payload",
              "dedup_key", "status", "service", "title", "assignments", "user", "start", "end", "type", "id"]
BODIES = st.one_of(
    st.binary(max_size=60),
    JSONISH.map(lambda v: json.dumps(v).encode()),
    st.dictionaries(st.sampled_from(KNOWN_KEYS), JSONISH, max_size=5).map(lambda v: json.dumps(v).encode()),
)
PARAM_NAMES = ["limit", "offset", "total", "since", "until", "statuses[]", "service_ids[]", "user_ids[]",
               "include[]", "query", "sort_by", "date_range", "earliest", "time_zone", "incident_key",
               "escalation_policy_ids[]", "schedule_ids[]", "urgencies[]", "overflow", "is_overview"]


def _fill(pattern: str, ids: list[str], pick) -> str:
    return re.sub(r"\{\w+\}", lambda _: pick(ids), pattern)


@pytest.mark.slow
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_no_request_makes_the_simulator_fail(sim, demo_dataset, data):
    routes = sim.router.routes
    route = data.draw(st.sampled_from(routes))
    real_ids = ([next(iter(sim.state.incidents)), next(iter(sim.state.services)), next(iter(sim.state.schedules)),
                 demo_dataset.users[0].id, "1", "PNOPE00"])
    path = _fill(route.pattern, real_ids, lambda ids: data.draw(st.one_of(st.sampled_from(ids), NASTY_TEXT.filter(
        lambda s: s and "/" not in s and "?" not in s and "#" not in s))))
    params = data.draw(st.dictionaries(st.sampled_from(PARAM_NAMES), NASTY_TEXT, max_size=4))
    token = data.draw(st.sampled_from(demo_dataset.tokens))
    headers = {"authorization": auth_header(token), "from": data.draw(st.sampled_from(
        [demo_dataset.users[0].email, "", "nobody@nowhere.example", "not an email"]))}
    body = data.draw(BODIES) if route.method != "GET" else b""
    query = "&".join(f"{k}={v}" for k, v in params.items())
    response = sim.handle(Request.build(route.method, path, query, headers, body))
    assert response.status < 500, (route.method, path, query, body, response.body)
    if response.status >= 400:
        assert_error_body(route, token, response)


def assert_error_body(route, token, response):
    """Each API's own error shape, as the real one sends it.

    REST: `{"error": {"message", "code", "errors"}}`, except `/users/me` with an account-level token, which
    PagerDuty answers with a plain-string `error` (clients detect the key type from that sentence).
    Events API v2: `{"status", "message", "errors"}`.
    """
    body = response.body
    assert isinstance(body, dict), body
    if route.api == "events":
        assert isinstance(body.get("status"), str) and isinstance(body.get("message"), str), body
        assert all(isinstance(e, str) for e in body.get("errors", [])), body
        return
    error = body.get("error")
    if isinstance(error, str):
        assert route.pattern == "/users/me" and token.kind == "account" and response.status == 400, body
        assert "account-level access token" in error, body
        return
    assert isinstance(error, dict) and isinstance(error.get("message"), str), body
    assert isinstance(error.get("code"), int), body
    assert all(isinstance(e, str) for e in error.get("errors", [])), body


def test_the_fuzzer_reaches_real_successes(sim, demo_dataset):
    """Guard against a fuzzer that only ever produces 401s: a valid request through the same path succeeds."""
    token = token_for(demo_dataset)
    response = sim.handle(Request.build("GET", "/services", "", {"authorization": auth_header(token)}, b""))
    assert response.status == 200 and response.body["services"]


def test_a_deeply_nested_body_without_credentials_is_refused_not_a_crash(sim):
    """Logging the request used to parse the body recursively and fail after the 401 was decided."""
    deep = b"[" * 100_000 + b"]" * 100_000
    response = sim.handle(Request.build("POST", "/incidents", "", {}, deep))
    assert response.status == 401
    assert sim.request_log[-1].status == 401 and isinstance(sim.request_log[-1].body, str)
    events = sim.handle(Request.build("POST", "/v2/enqueue", "", {}, deep))
    assert events.status == 400 and events.body["status"] == "Unrecognized object"
