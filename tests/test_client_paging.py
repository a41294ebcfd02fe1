"""Classic pagination, the 10,000 offset+limit cap, and time windows, against the simulator."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from demo_org import NOW, token_for

from simulator import ManualClock, Simulator
from tools.client import PagerDutyClient
from tools.errors import InvalidInput, ServerError
from tools.settings import PagerDutySettings


def no_sleep(seconds: float) -> None:
    raise AssertionError(f"nothing here should wait, yet the client slept {seconds} s")


def client_for(sim: Simulator, token) -> PagerDutyClient:
    settings = PagerDutySettings(api_key=token.token, api_host="https://api.pagerduty.com", max_attempts=5)
    return PagerDutyClient(settings, transport=sim.transport(), sleep=no_sleep, monotonic=lambda: 0.0)


@pytest.fixture
def client(sim, demo_dataset):
    return client_for(sim, token_for(demo_dataset))


@pytest.fixture(scope="module")
def busy_sim(demo_dataset):
    """An account with over 10,000 log entries in 30 days: enough to hit the cap, small enough to build in a second."""
    history = demo_dataset.history.model_copy(update={"incidents": 2500, "days": 30})
    return Simulator.from_dataset(demo_dataset.model_copy(update={"history": history}), clock=ManualClock(NOW))


def offsets(sim, path):
    return [(int(r.query["offset"][0]), int(r.query["limit"][0])) for r in sim.request_log if r.path == path]


def test_list_all_reads_every_page_and_is_not_truncated(sim, client):
    result = client.list_all("/incidents", "incidents", {"date_range": "all"})
    assert len(result.items) == len(sim.state.incidents) == result.total_read
    assert not result.truncated
    assert len({i["id"] for i in result.items}) == len(result.items)
    assert offsets(sim, "/incidents") == [(0, 100), (100, 100), (200, 100)]


def test_limit_items_asks_only_for_what_it_needs_and_says_there_is_more(sim, client):
    result = client.list_all("/incidents", "incidents", {"date_range": "all"}, limit_items=130)
    assert len(result.items) == 130 and result.truncated
    assert offsets(sim, "/incidents") == [(0, 100), (100, 30)]


def test_limit_items_equal_to_everything_is_not_truncated(sim, client):
    count = len(sim.state.incidents)
    result = client.list_all("/incidents", "incidents", {"date_range": "all"}, limit_items=count)
    assert len(result.items) == count and not result.truncated


def test_iterate_is_lazy(sim, client):
    pager = client.iterate("/incidents", "incidents", {"date_range": "all"})
    first = next(iter(pager))
    assert first["type"] == "incident" and len(sim.request_log) == 1


def test_the_offset_advances_by_the_items_actually_returned():
    """A server that hands out fewer items than asked must not make the client skip any."""
    records = [{"id": f"P{n:06d}"} for n in range(95)]

    def stingy(request: httpx.Request) -> httpx.Response:
        offset = int(request.url.params["offset"])
        chunk = records[offset:offset + 40]
        return httpx.Response(200, json={"users": chunk, "offset": offset, "limit": 40,
                                         "more": offset + len(chunk) < len(records)})

    client = PagerDutyClient(api_key="k" * 20, transport=httpx.MockTransport(stingy), sleep=no_sleep)
    assert client.list_all("/users", "users").items == records


def test_a_page_without_its_list_is_a_server_error(client):
    with pytest.raises(ServerError, match="'nothing'"):
        client.list_all("/services", "nothing")


@pytest.mark.slow  # busy_sim: a 2,500-incident account
def test_pagination_stops_at_the_10000_cap_and_says_so(busy_sim, demo_dataset):
    busy_sim.request_log.clear()
    assert len(busy_sim.state.log_entries) > 10_000
    result = client_for(busy_sim, token_for(demo_dataset)).list_all("/log_entries", "log_entries")
    assert len(result.items) == 10_000 and result.truncated
    pages = offsets(busy_sim, "/log_entries")
    assert max(offset + limit for offset, limit in pages) == 10_000
    assert {r.status for r in busy_sim.request_log} == {200}


@pytest.mark.slow
def test_windows_are_bisected_past_the_cap_and_merged_without_duplicates(busy_sim, demo_dataset):
    busy_sim.request_log.clear()
    since, until = NOW - timedelta(days=31), NOW + timedelta(seconds=1)
    result = client_for(busy_sim, token_for(demo_dataset)).iterate_windows("/log_entries", "log_entries",
                                                                           since, until)
    expected = [e for e in busy_sim.state.log_entries if since <= e.created_at < until]
    assert len(expected) > 10_000 and not result.truncated
    assert sorted(e["id"] for e in result.items) == sorted(e.id for e in expected)
    assert {r.status for r in busy_sim.request_log} == {200}
    windows = {(r.query["since"][0], r.query["until"][0]) for r in busy_sim.request_log}
    assert len(windows) == 3  # the whole range (probed only), then its two halves


def test_a_long_range_is_split_into_windows_pagerduty_accepts(sim, client):
    since = NOW - timedelta(days=400)
    result = client.iterate_windows("/incidents", "incidents", since, NOW + timedelta(seconds=1),
                                    {"statuses": ["resolved"]})
    expected = {i.id for i in sim.state.incidents.values() if i.status == "resolved"}
    assert {i["id"] for i in result.items} == expected and not result.truncated
    for r in sim.request_log:
        start, end = (datetime.fromisoformat(r.query[k][0].replace("Z", "+00:00")) for k in ("since", "until"))
        assert end - start <= timedelta(days=180)
        assert r.query["statuses[]"] == ["resolved"] and r.status == 200


def test_an_empty_or_backwards_range_is_refused_without_a_request(sim, client):
    with pytest.raises(InvalidInput, match="until must be after since"):
        client.iterate_windows("/incidents", "incidents", NOW, NOW - timedelta(days=1))
    assert sim.request_log == []


def test_naive_datetimes_are_refused(client):
    with pytest.raises(ValueError, match="time zone"):
        client.get("/incidents", {"since": datetime(2026, 11, 1)})
    assert client.get("/incidents", {"since": datetime(2026, 11, 1, tzinfo=UTC)})["incidents"] is not None
