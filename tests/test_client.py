"""PagerDutyClient and EventsClient against the in-process simulator: retries, rate limits, errors, `From`, secrets.

Time is a `FakeTime` that only moves when the client sleeps (and moves the simulator's clock with
it), so every wait is recorded exactly and no test sleeps for real.
"""

from __future__ import annotations

import gc
import logging
import random
import re
import time
import weakref

import httpx
import pytest
from demo_org import service_id, team_id, token_for

from simulator import Simulator
from simulator.models import RateLimits
from tools.client import PagerDutyClient, shared_pacer
from tools.errors import (
    ConfigurationError,
    Forbidden,
    InvalidInput,
    NetworkError,
    NotFound,
    PagerDutyError,
    RateLimited,
    ServerError,
    Unauthorized,
)
from tools.events import EventsClient
from tools.settings import PagerDutySettings

PLATFORM_TEAM = team_id("Platform")

SERVICE = service_id("API Gateway")
DEFAULTS = dict(api_host="https://api.pagerduty.com", timeout=30.0, max_attempts=5, max_wait=120.0,
                read_only=False, from_email=None)


class FakeTime:
    """Monotonic time that moves only when slept through, dragging the simulator's clock along."""

    def __init__(self, sim_clock=None) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []
        self.sim_clock = sim_clock

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        if self.sim_clock is not None:
            self.sim_clock.advance(seconds)


class Recording(httpx.BaseTransport):
    """Passes requests to the simulator and keeps them, to check the headers the client sends."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.requests: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.inner.handle_request(request)


@pytest.fixture
def fake_time(clock):
    return FakeTime(clock)


@pytest.fixture
def events_seen():
    """Each wait the clients reported, as the keyword arguments of their progress callback."""
    return []


@pytest.fixture
def on_wait(events_seen):
    return lambda **wait: events_seen.append(wait)


@pytest.fixture
def connect(sim, fake_time, demo_dataset, on_wait):
    """Build a client for a demo token (the full account token by default) on the fake time."""

    def make(token=None, *, transport=None, target=None, **settings) -> PagerDutyClient:
        token = token or token_for(demo_dataset)
        config = PagerDutySettings(**{**DEFAULTS, "api_key": token.token,
                                      "token_kind": "bearer" if token.bearer else "token", **settings})
        return PagerDutyClient(config, transport=transport or (target or sim).transport(), sleep=fake_time.sleep,
                               monotonic=fake_time.monotonic, progress=on_wait, rng=random.Random(7))

    return make


@pytest.fixture
def from_alice(demo_dataset):
    return demo_dataset.users[0].email


def calls(sim, method, path):
    return [r for r in sim.request_log if r.method == method and r.path == path]


def note_path(sim):
    incident = next(i for i in sim.state.incidents.values() if i.status != "resolved")
    return f"/incidents/{incident.id}/notes"


def note(text="checking the gateway"):
    return {"note": {"content": text}}


# --- 429 ---


def test_429_with_headers_sleeps_exactly_ratelimit_reset_and_reports_it(sim, connect, fake_time, events_seen):
    sim.add_fault(method="GET", path="/incidents*", status=429, times=2, rate_limit_headers=True, reset_seconds=20)
    client = connect()
    assert "incidents" in client.get("/incidents")
    assert fake_time.sleeps == [20, 20]
    assert [r.status for r in calls(sim, "GET", "/incidents")] == [429, 429, 200]
    assert events_seen == [{"kind": "rate_limit_wait", "seconds": 20,
                            "message": "PagerDuty rate limit: waiting 20 s"}] * 2


def test_a_ratelimit_reset_within_the_cap_is_waited_in_full(sim, connect, fake_time):
    sim.add_fault(method="GET", path="/services", status=429, times=1, reset_seconds=90)
    connect().get("/services")
    assert fake_time.sleeps == [90]


def test_a_ratelimit_reset_beyond_the_cap_fails_clearly_instead_of_waiting_less(sim, connect, fake_time):
    sim.add_fault(method="GET", path="/services", status=429, times=1, reset_seconds=3600)
    with pytest.raises(RateLimited, match=r"resets in 3600 s, longer than the 120 s .*PAGERDUTY_MAX_WAIT") as caught:
        connect().get("/services")
    assert fake_time.sleeps == [] and caught.value.reset_in == 3600


def test_429_without_headers_backs_off_exponentially_with_bounded_jitter(sim, connect, fake_time):
    sim.add_fault(method="GET", path="/services", status=429, times=8, rate_limit_headers=False)
    connect(max_attempts=9, max_wait=1000).get("/services")
    assert len(fake_time.sleeps) == 8
    for attempt, slept in enumerate(fake_time.sleeps, start=1):
        nominal = min(30, 2 ** (attempt - 1))  # 1, 2, 4, 8, 16, then the cap
        assert 0.75 * nominal <= slept <= 1.25 * nominal
    assert len(set(fake_time.sleeps)) == 8 and fake_time.sleeps[:3] != [1, 2, 4]  # jittered, not nominal


def test_total_wait_cap_raises_rate_limited_without_waiting_past_it(sim, connect, fake_time):
    sim.add_fault(method="GET", path="/services", status=429, reset_seconds=20)
    with pytest.raises(RateLimited) as caught:
        connect(max_wait=50).get("/services")
    assert fake_time.sleeps == [20, 20]
    assert len(calls(sim, "GET", "/services")) == 3
    error = caught.value
    assert (error.status, error.code, error.reset_in) == (429, 2020, 20)
    assert str(error) == ("GET /services failed (HTTP 429, code 2020): PagerDuty's rate limit resets in 20 s, longer "
                          "than the 10 s this request may still wait (PAGERDUTY_MAX_WAIT); not retried. "
                          "Try again in 20 s.")


def test_attempts_cap_raises_rate_limited(sim, connect, fake_time):
    sim.add_fault(method="GET", path="/services", status=429, reset_seconds=1)
    with pytest.raises(RateLimited):
        connect(max_attempts=3).get("/services")
    assert len(calls(sim, "GET", "/services")) == 3
    assert fake_time.sleeps == [1, 1]


def test_a_post_is_retried_after_a_429_because_pagerduty_did_not_process_it(sim, connect, from_alice):
    sim.add_fault(method="POST", path="/incidents/*/notes", status=429, times=1, reset_seconds=5)
    path = note_path(sim)
    assert connect(from_email=from_alice).post(path, note())["note"]["content"] == "checking the gateway"
    assert [r.status for r in calls(sim, "POST", path)] == [429, 200]


# --- 5xx and the network ---


def test_5xx_on_get_is_retried_then_succeeds(sim, connect, fake_time, events_seen):
    sim.add_fault(method="GET", path="/services", status=503, times=2)
    assert connect().get("/services")["services"]
    assert [r.status for r in calls(sim, "GET", "/services")] == [503, 503, 200]
    assert [e["kind"] for e in events_seen] == ["retry_wait", "retry_wait"]
    assert events_seen[0]["message"].startswith("PagerDuty HTTP 503 on GET /services: retrying in ")
    assert 0.75 <= fake_time.sleeps[0] <= 1.25 and 1.5 <= fake_time.sleeps[1] <= 2.5


@pytest.mark.parametrize("fault", [dict(status=500), dict(status=502), dict(action="drop"), dict(action="timeout"),
                                   dict(action="malformed")])
def test_a_post_is_never_retried_on_5xx_or_network_errors(sim, connect, fake_time, from_alice, fault):
    sim.add_fault(method="POST", path="/incidents/*/notes", times=1, **fault)
    path = note_path(sim)
    with pytest.raises((ServerError, NetworkError)):
        connect(from_email=from_alice).post(path, note())
    assert len(calls(sim, "POST", path)) == 1
    assert fake_time.sleeps == []


def test_a_put_marked_non_idempotent_is_not_retried(sim, connect, from_alice):
    sim.add_fault(method="PUT", path="/incidents/*", status=500, times=1)
    incident = next(i for i in sim.state.incidents.values() if i.status == "triggered")
    with pytest.raises(ServerError):
        connect(from_email=from_alice).put(f"/incidents/{incident.id}", {"incident": {"type": "incident_reference",
                                                                                      "status": "acknowledged"}},
                                           idempotent=False)
    assert len(calls(sim, "PUT", f"/incidents/{incident.id}")) == 1


def test_a_put_is_retried_on_5xx(sim, connect, from_alice):
    sim.add_fault(method="PUT", path="/incidents/*", status=502, times=1)
    incident = next(i for i in sim.state.incidents.values() if i.status == "triggered")
    answer = connect(from_email=from_alice).put(f"/incidents/{incident.id}",
                                                {"incident": {"type": "incident_reference", "status": "acknowledged"}})
    assert answer["incident"]["status"] == "acknowledged"
    assert [r.status for r in calls(sim, "PUT", f"/incidents/{incident.id}")] == [502, 200]


def test_timeouts_drops_and_malformed_bodies_on_get_are_retried(sim, connect):
    sim.add_fault(method="GET", path="/users", action="timeout", calls=[1])
    sim.add_fault(method="GET", path="/users", action="drop", calls=[2])
    sim.add_fault(method="GET", path="/users", action="malformed", calls=[3])
    assert connect().get("/users")["users"]
    assert [r.status for r in calls(sim, "GET", "/users")] == [0, 0, 200, 200]


def test_network_failures_that_persist_raise_network_error(sim, connect, fake_time):
    sim.add_fault(method="GET", path="/users", action="timeout")
    with pytest.raises(NetworkError) as caught:
        connect(max_attempts=3).get("/users")
    assert len(calls(sim, "GET", "/users")) == 3 and len(fake_time.sleeps) == 2
    assert caught.value.status is None and "(timed out)" in str(caught.value)


def test_4xx_is_never_retried(sim, connect, fake_time):
    with pytest.raises(NotFound) as caught:
        connect().get("/services/PNOSUCH")
    assert len(calls(sim, "GET", "/services/PNOSUCH")) == 1 and fake_time.sleeps == []
    error = caught.value
    assert (error.status, error.code, error.method, error.path) == (404, 2100, "GET", "/services/PNOSUCH")
    assert re.fullmatch(r"sim-\d+", error.request_id)
    assert str(error).startswith("GET /services/PNOSUCH failed (HTTP 404, code 2100): Not Found — ")


# --- idempotent incident creation ---


def test_a_repeated_create_incident_returns_the_existing_incident(sim, connect, from_alice):
    client = connect(from_email=from_alice)
    payload = {"title": "Checkout latency above SLO", "service": {"id": SERVICE, "type": "service_reference"}}
    first = client.create_incident(payload, incident_key="thread-7/call-3")
    again = client.create_incident(payload, incident_key="thread-7/call-3")  # a resumed run replays the call
    assert (first.already_existed, again.already_existed) == (False, True)
    assert again.incident["id"] == first.incident["id"]
    assert [i for i in sim.state.incidents.values() if i.incident_key == "thread-7/call-3"] == \
        [sim.state.incidents[first.incident["id"]]]
    lookup = calls(sim, "GET", "/incidents")[-1]
    assert lookup.query["incident_key"] == ["thread-7/call-3"] and lookup.query["service_ids[]"] == [SERVICE]
    assert lookup.query["statuses[]"] == ["triggered", "acknowledged"]


@pytest.mark.parametrize("fault", [dict(status=502), dict(action="drop"), dict(action="timeout")])
def test_create_incident_is_retried_on_5xx_and_network_errors_because_its_key_makes_it_safe(
        sim, connect, fake_time, from_alice, fault):
    sim.add_fault(method="POST", path="/incidents", times=1, **fault)
    payload = {"title": "Checkout latency above SLO", "service": {"id": SERVICE, "type": "service_reference"}}
    created = connect(from_email=from_alice).create_incident(payload, incident_key="thread-7/call-4")
    assert not created.already_existed
    assert len(calls(sim, "POST", "/incidents")) == 2 and len(fake_time.sleeps) == 1
    keyed = [i.id for i in sim.state.incidents.values() if i.incident_key == "thread-7/call-4"]
    assert keyed == [created.incident["id"]]


def test_other_400s_from_create_incident_are_raised(sim, connect, from_alice):
    with pytest.raises(InvalidInput) as caught:
        connect(from_email=from_alice).create_incident({"title": "No service"}, incident_key="k")
    assert caught.value.status == 400 and caught.value.code == 2001


# --- who acts: the From header ---


def test_a_user_token_takes_from_from_users_me_once(sim, connect, demo_dataset):
    token = token_for(demo_dataset, kind="user")
    recording = Recording(sim.transport())
    client = connect(token, transport=recording)
    path = note_path(sim)
    client.post(path, note("one"))
    client.post(path, note("two"))
    assert len(calls(sim, "GET", "/users/me")) == 1
    me = sim.state.users[token.user_id].email
    assert [r.headers.get("from") for r in recording.requests] == [None, me, me]


def test_an_account_token_without_from_fails_fast_naming_the_setting(sim, connect):
    client = connect()
    for _ in range(2):
        with pytest.raises(ConfigurationError) as caught:
            client.post(note_path(sim), note())
        assert "PAGERDUTY_FROM_EMAIL" in str(caught.value)
    assert [(r.method, r.path) for r in sim.request_log] == [("GET", "/users/me")]  # asked once, wrote nothing


def test_a_configured_from_acts_as_that_user(sim, connect, demo_dataset):
    user = demo_dataset.users[3]
    connect(from_email=user.email).post(note_path(sim), note())
    assert sim.request_log[-1].actor_id == user.id
    assert not calls(sim, "GET", "/users/me")


def test_the_client_sends_pagerdutys_headers_and_a_timeout(sim, connect, from_alice):
    recording = Recording(sim.transport())
    client = connect(from_email=from_alice, transport=recording, timeout=7)
    client.get("/services", {"team_ids": [PLATFORM_TEAM], "total": True})
    client.post(note_path(sim), note())
    read, write = recording.requests
    assert read.headers["accept"] == "application/vnd.pagerduty+json;version=2"
    assert re.fullmatch(r"incident-commander/\S+ httpx/\S+", read.headers["user-agent"])
    assert read.headers["authorization"].startswith("Token token=")
    assert "from" not in read.headers and "content-type" not in read.headers
    assert read.url.query == f"team_ids%5B%5D={PLATFORM_TEAM}&total=true".encode()
    assert write.headers["content-type"] == "application/json" and write.headers["from"] == from_alice
    assert read.extensions["timeout"] == {"connect": 7, "read": 7, "write": 7, "pool": 7}


def test_a_bearer_token_is_sent_as_bearer(sim, connect, demo_dataset):
    recording = Recording(sim.transport())
    connect(token_for(demo_dataset, kind="user", bearer=True), transport=recording).get("/users/me")
    assert recording.requests[0].headers["authorization"].startswith("Bearer ")


# --- refusals ---


def test_a_read_only_key_gets_forbidden_on_write(sim, connect, demo_dataset, from_alice):
    client = connect(token_for(demo_dataset, access="read-only"), from_email=from_alice)
    assert client.get("/services")["services"]
    with pytest.raises(Forbidden) as caught:
        client.post(note_path(sim), note())
    assert caught.value.status == 403 and caught.value.code == 2010


def test_read_only_mode_refuses_writes_without_sending_them(sim, connect, from_alice):
    with pytest.raises(Forbidden, match="PAGERDUTY_READ_ONLY"):
        connect(from_email=from_alice, read_only=True).delete("/schedules/PXXXXXX/overrides/PYYYYYY")
    assert sim.request_log == []


def test_a_missing_oauth_scope_is_named(sim, connect, demo_dataset):
    client = connect(token_for(demo_dataset, kind="user", bearer=True, scoped=True))
    with pytest.raises(Forbidden) as caught:
        client.post(note_path(sim), note())
    assert caught.value.missing_scope == "incidents.write"
    assert str(caught.value).endswith("The token needs the OAuth scope incidents.write.")


def test_401_says_what_to_check(sim, connect, demo_dataset):
    account = token_for(demo_dataset)
    with pytest.raises(Unauthorized) as caught:
        connect(account, token_kind="bearer").get("/services")  # a REST key sent as an OAuth token
    text = str(caught.value)
    assert "HTTP 401, code 2006" in text and "PAGERDUTY_TOKEN_KIND" in text and "api.eu.pagerduty.com" in text


# --- the token never leaks ---


def test_the_token_appears_in_no_error_repr_log_line_or_progress_event(sim, connect, demo_dataset, caplog,
                                                                      events_seen, from_alice):
    caplog.set_level(logging.DEBUG, logger="incident_commander.pagerduty")
    account = token_for(demo_dataset)
    errors: list[PagerDutyError] = []
    sim.add_fault(method="GET", path="/teams", status=429, rate_limit_headers=False)
    sim.add_fault(method="GET", path="/priorities", action="timeout")
    sim.add_fault(method="GET", path="/users", status=500)
    attempts = [
        (connect(account, max_attempts=2), lambda c: c.get("/teams")),
        (connect(account, max_attempts=2), lambda c: c.get("/priorities")),
        (connect(account, max_attempts=2), lambda c: c.get("/users")),
        (connect(account), lambda c: c.get("/services/PNOSUCH")),
        (connect(account), lambda c: c.post(note_path(sim), note())),
        (connect(account, token_kind="bearer"), lambda c: c.get("/services")),
        (connect(token_for(demo_dataset, access="read-only"), from_email=from_alice),
         lambda c: c.post(note_path(sim), note())),
    ]
    for client, act in attempts:
        with pytest.raises(PagerDutyError) as caught:
            act(client)
        errors.append(caught.value)
        assert account.token not in repr(client) and account.token not in repr(client.settings)
    assert {type(e) for e in errors} == {RateLimited, NetworkError, ServerError, NotFound, ConfigurationError,
                                         Unauthorized, Forbidden}
    secrets = [t.token for t in demo_dataset.tokens]
    texts = [str(e) for e in errors] + [repr(e) for e in errors] + [r.getMessage() for r in caplog.records]
    texts += [e["message"] for e in events_seen]
    assert caplog.records and events_seen
    assert not [t for t in texts for s in secrets if s in t]
    assert "Token token=" not in caplog.text and "authorization" not in caplog.text.lower()


def test_a_token_echoed_by_the_server_is_scrubbed_from_the_error():
    secret = "s3cr3t-token-abcdef"

    def echo(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, json={"error": {"message": f"bad key {secret}", "code": 2001,
                                                   "errors": [request.headers["authorization"]]}})

    client = PagerDutyClient(api_key=secret, from_email="x@example.com", transport=httpx.MockTransport(echo))
    with pytest.raises(InvalidInput) as caught:
        client.get("/services")
    assert secret not in str(caught.value) and secret not in repr(caught.value)
    assert "[redacted]" in str(caught.value)


# --- pacing shared between clients of one token ---


def test_clients_sharing_a_token_wait_for_the_reset_instead_of_stampeding(demo_dataset, clock, fake_time,
                                                                         connect, events_seen):
    tight = demo_dataset.model_copy(update={"rate_limits": RateLimits(requests_per_minute=3), "history": None})
    small = Simulator.from_dataset(tight, clock=clock)
    first, second = connect(target=small), connect(target=small)
    for _ in range(3):
        first.get("/teams")  # the third answer says ratelimit-remaining: 0
    assert second.get("/teams")["teams"]
    assert [r.status for r in small.request_log] == [200] * 4  # nobody hit a 429
    assert fake_time.sleeps == [60]
    assert events_seen == [{"kind": "rate_limit_wait", "seconds": 60, "message": "PagerDuty rate limit: waiting 60 s"}]
    other = connect(token_for(demo_dataset, kind="user"), target=small)
    other.get("/teams")  # another token's budget is its own
    assert fake_time.sleeps == [60]


def test_a_pacing_wait_past_the_budget_raises_without_a_request(demo_dataset, clock, connect):
    tight = demo_dataset.model_copy(update={"rate_limits": RateLimits(requests_per_minute=1), "history": None})
    small = Simulator.from_dataset(tight, clock=clock)
    connect(target=small).get("/teams")
    with pytest.raises(RateLimited) as caught:
        connect(target=small, max_wait=10).get("/teams")
    assert caught.value.reset_in == 60 and caught.value.status is None
    assert len(small.request_log) == 1


def test_a_pacer_lasts_as_long_as_its_clock_and_no_longer(demo_dataset, sim) -> None:
    token = token_for(demo_dataset)
    lasting = FakeTime()
    pacer = shared_pacer(token.token, lasting.monotonic)
    assert shared_pacer(token.token, lasting.monotonic) is pacer  # a new method object of the same clock
    dropped = FakeTime()
    client = PagerDutyClient(PagerDutySettings(**{**DEFAULTS, "api_key": token.token}), transport=sim.transport(),
                             sleep=dropped.sleep, monotonic=dropped.monotonic)
    assert client.get("/teams")["teams"]
    tick = lambda: 0.0  # noqa: E731 - a clock of its own, as each embedded connection makes
    gone = [weakref.ref(shared_pacer(token.token, dropped.monotonic)), weakref.ref(shared_pacer(token.token, tick))]
    client.close()
    del client, dropped, tick
    gc.collect()
    assert [ref() for ref in gone] == [None, None]
    assert shared_pacer(token.token, lasting.monotonic) is pacer
    assert shared_pacer(token.token, time.monotonic) is shared_pacer(token.token, time.monotonic)


# --- Events API v2 ---


@pytest.fixture
def events(sim, fake_time, on_wait):
    settings = PagerDutySettings(events_host="https://events.pagerduty.com", max_attempts=5, max_wait=120)
    return EventsClient(settings, transport=sim.transport(), sleep=fake_time.sleep, monotonic=fake_time.monotonic,
                        progress=on_wait, rng=random.Random(3))


@pytest.fixture
def routing_key(sim):
    return sim.state.services[SERVICE].integrations[0].routing_key


@pytest.mark.parametrize("key", ["", "short", "x" * 33])
def test_a_malformed_routing_key_is_refused_without_a_request(sim, events, key):
    with pytest.raises(InvalidInput, match="32-character") as caught:
        events.trigger(key, summary="disk full", source="db-1", severity="critical")
    assert caught.value.status is None
    assert sim.request_log == []


def test_a_bad_severity_is_refused_without_a_request(sim, events, routing_key):
    with pytest.raises(InvalidInput, match="severity"):
        events.trigger(routing_key, summary="disk full", source="db-1", severity="fatal")  # type: ignore[arg-type]
    assert sim.request_log == []


def test_triggers_with_one_dedup_key_make_one_alert_and_resolve_closes_it(sim, events, routing_key):
    before = len(sim.state.incidents)
    results = [events.trigger(routing_key, summary="5xx above 2%", source="lb-1", severity="critical",
                              dedup_key="gw-5xx") for _ in range(2)]
    assert [r.dedup_key for r in results] == ["gw-5xx", "gw-5xx"] and results[0].status == "success"
    assert len(sim.state.incidents) == before + 1
    incident = list(sim.state.incidents.values())[-1]
    events.acknowledge(routing_key, "gw-5xx")
    assert incident.status == "acknowledged"
    events.resolve(routing_key, "gw-5xx")
    assert incident.status == "resolved"


def test_a_trigger_without_a_dedup_key_gets_one_so_a_retry_cannot_duplicate_it(sim, events, routing_key):
    sim.add_fault(method="POST", path="/v2/enqueue", status=502, times=1)
    before = len(sim.state.incidents)
    result = events.trigger(routing_key, summary="queue backlog", source="worker-3", severity="warning")
    sent = [r.body["dedup_key"] for r in sim.request_log]
    assert len(sent) == 2 and sent[0] == sent[1] == result.dedup_key and re.fullmatch(r"[0-9a-f]{32}", sent[0])
    assert len(sim.state.incidents) == before + 1


def test_events_429_and_5xx_are_retried_with_backoff(sim, events, routing_key, fake_time, events_seen):
    sim.add_fault(method="POST", path="/v2/enqueue", status=429, rate_limit_headers=False, calls=[1])
    sim.add_fault(method="POST", path="/v2/enqueue", status=503, calls=[2])
    events.trigger(routing_key, summary="disk full", source="db-1", severity="error", dedup_key="disk")
    assert [r.status for r in sim.request_log] == [429, 503, 202]
    assert [e["kind"] for e in events_seen] == ["rate_limit_wait", "retry_wait"] and len(fake_time.sleeps) == 2


def test_an_events_400_is_never_retried(sim, events, fake_time):
    with pytest.raises(InvalidInput) as caught:
        events.trigger("Z" * 32, summary="disk full", source="db-1", severity="error")  # well-formed, unknown
    assert len(sim.request_log) == 1 and fake_time.sleeps == []
    assert "does not match any Events API v2 integration" in str(caught.value)


def test_a_change_event_is_accepted(sim, events, routing_key):
    result = events.change(routing_key, summary="Deployed gateway v2.41", source="ci",
                           custom_details={"sha": "abc123"})
    assert result.status == "success" and result.dedup_key is None
    assert sim.request_log[-1].path == "/v2/change/enqueue" and sim.request_log[-1].status == 202
