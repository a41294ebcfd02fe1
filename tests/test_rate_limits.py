"""Rate limits as PagerDuty applies them: a sliding minute per token, plus a limit of their own for
creating incidents, updating incidents in bulk and listing on-calls."""

from __future__ import annotations

import pytest
from demo_org import make_client, service_id, token_for

GATEWAY = service_id("API Gateway")


def limit(sim, **limits):
    sim.state.dataset.rate_limits = sim.state.dataset.rate_limits.model_copy(update=limits)


def assert_limited(response):
    assert response.status_code == 429, response.text
    assert response.json() == {"error": {"message": "Rate Limit Exceeded", "code": 2020}}
    assert response.headers["ratelimit-remaining"] == "0"
    assert int(response.headers["ratelimit-reset"]) > 0


def create(client, n):
    return client.post("/incidents", json={"incident": {
        "type": "incident", "title": f"Gateway errors {n}", "incident_key": f"rate-{n}",
        "service": {"id": GATEWAY, "type": "service_reference"}}})


def bulk_acknowledge(client, sim):
    open_id = next(i.id for i in sim.state.incidents.values() if i.status != "resolved")
    return client.put("/incidents", json={"incidents": [
        {"id": open_id, "type": "incident_reference", "status": "acknowledged"}]})


OPERATIONS = {
    "incident_creates_per_minute": lambda client, sim, n: create(client, n),
    "incident_bulk_updates_per_minute": lambda client, sim, n: bulk_acknowledge(client, sim),
    "oncalls_per_minute": lambda client, sim, n: client.get("/oncalls"),
}


def test_each_token_has_a_sliding_minute(sim, clock, demo_dataset):
    limit(sim, requests_per_minute=3)
    with make_client(sim, token_for(demo_dataset)) as client:
        answers = [client.get("/services") for _ in range(3)]
        assert [a.status_code for a in answers] == [200, 200, 200]
        assert [a.headers["ratelimit-remaining"] for a in answers] == ["2", "1", "0"]
        assert all(a.headers["ratelimit-limit"] == "3" for a in answers)
        assert_limited(client.get("/teams"))
        with make_client(sim, token_for(demo_dataset, access="read-only")) as other:
            assert other.get("/services").status_code == 200  # another token has its own minute
        clock.advance(60)
        assert client.get("/services").status_code == 200


@pytest.mark.parametrize("field", OPERATIONS)
def test_limited_operations_have_a_minute_of_their_own(sim, clock, demo_dataset, field):
    limit(sim, **{field: 2})
    call = OPERATIONS[field]
    with make_client(sim, token_for(demo_dataset), demo_dataset.users[0].email) as client:
        answers = [call(client, sim, n) for n in range(2)]
        assert [a.status_code for a in answers] == ([201, 201] if field.startswith("incident_creates")
                                                    else [200, 200])
        # The headers describe the window closest to running out: this operation's.
        assert [(a.headers["ratelimit-limit"], a.headers["ratelimit-remaining"]) for a in answers] == [
            ("2", "1"), ("2", "0")]
        assert_limited(call(client, sim, 2))
        other = client.get("/services")  # the token's own budget is far from spent
        assert other.status_code == 200 and other.headers["ratelimit-limit"] == "960"
        clock.advance(60)
        assert call(client, sim, 3).status_code < 400


def test_a_refused_request_does_not_use_up_the_budget(sim, demo_dataset):
    limit(sim, oncalls_per_minute=1, requests_per_minute=5)
    with make_client(sim, token_for(demo_dataset)) as client:
        assert client.get("/oncalls").status_code == 200
        for _ in range(3):
            assert_limited(client.get("/oncalls"))
        assert client.get("/services").headers["ratelimit-remaining"] == "3"
