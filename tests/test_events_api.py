"""Events API v2: dedup keys, alert grouping, acknowledge/resolve, validation errors and per-key rate limits."""

from __future__ import annotations

import httpx
import pytest
from demo_org import service_id

GATEWAY, PAYMENTS = service_id("API Gateway"), service_id("Payments API")


@pytest.fixture
def events(sim):
    with httpx.Client(transport=sim.transport(), base_url="https://events.pagerduty.com") as client:
        yield client


def key_of(sim, service_id):
    return sim.state.services[service_id].integrations[0].routing_key


def trigger(events, key, dedup_key=None, summary="API Gateway 5xx rate above 2%", **payload):
    body = {"routing_key": key, "event_action": "trigger",
            "payload": {"summary": summary, "source": "lb-1", "severity": "critical", **payload}}
    if dedup_key is not None:
        body["dedup_key"] = dedup_key
    return events.post("/v2/enqueue", json=body)


def act(events, key, action, dedup_key):
    return events.post("/v2/enqueue", json={"routing_key": key, "event_action": action, "dedup_key": dedup_key})


def invalid(response, fragment):
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["status"] == "invalid event" and body["message"] == "Event object is invalid"
    assert any(fragment in e for e in body["errors"]), body


def test_a_trigger_without_a_dedup_key_opens_a_new_incident_and_returns_a_generated_key(sim, events):
    key = key_of(sim, GATEWAY)
    count = len(sim.state.incidents)
    first, second = trigger(events, key), trigger(events, key)
    assert first.status_code == 202
    assert first.json()["status"] == "success" and first.json()["message"] == "Event processed"
    assert first.json()["dedup_key"] != second.json()["dedup_key"]
    assert len(sim.state.incidents) == count + 2
    incident = sim.state.incidents[sim.state.open_incident_keys[(GATEWAY, first.json()["dedup_key"])]]
    assert incident.title == "API Gateway 5xx rate above 2%" and incident.status == "triggered"
    trigger_entry = sim.state.log_entries_by_incident[incident.id][0]
    assert (trigger_entry.agent_type, trigger_entry.agent_id) == ("integration_reference", "PFQZ65B")


def test_the_same_dedup_key_groups_into_the_open_alert_until_it_is_resolved(sim, events):
    key = key_of(sim, GATEWAY)
    count = len(sim.state.incidents)
    assert trigger(events, key, "gw-5xx").json()["dedup_key"] == "gw-5xx"
    assert trigger(events, key, "gw-5xx", summary="still failing").status_code == 202
    incident = sim.state.incidents[sim.state.open_incident_keys[(GATEWAY, "gw-5xx")]]
    assert len(sim.state.incidents) == count + 1 and len(sim.state.alerts_by_incident[incident.id]) == 1
    assert act(events, key, "acknowledge", "gw-5xx").status_code == 202
    assert incident.status == "acknowledged"
    assert act(events, key, "resolve", "gw-5xx").json()["dedup_key"] == "gw-5xx"
    assert incident.status == "resolved"
    assert sim.state.log_entries_by_incident[incident.id][-1].type == "resolve_log_entry"
    trigger(events, key, "gw-5xx")
    assert len(sim.state.incidents) == count + 2  # after a resolve, the key opens a new incident


def test_the_same_dedup_key_on_another_routing_key_is_another_alert(sim, events):
    trigger(events, key_of(sim, GATEWAY), "shared")
    trigger(events, key_of(sim, PAYMENTS), "shared")
    assert sim.state.open_incident_keys[(GATEWAY, "shared")] != sim.state.open_incident_keys[(PAYMENTS, "shared")]


def test_acknowledge_or_resolve_of_an_unknown_key_is_accepted_and_dropped(sim, events):
    before = (len(sim.state.incidents), len(sim.state.log_entries))
    for action in ("acknowledge", "resolve"):
        response = act(events, key_of(sim, GATEWAY), action, "never-seen")
        assert response.status_code == 202 and response.json()["dedup_key"] == "never-seen"
    assert (len(sim.state.incidents), len(sim.state.log_entries)) == before


def test_rest_incident_keys_and_events_dedup_keys_share_the_services_namespace(sim, events, api):
    trigger(events, key_of(sim, GATEWAY), "edge-tls")
    duplicate = api.post("/incidents", json={"incident": {"type": "incident", "title": "TLS expiring",
                                                          "service": {"id": GATEWAY}, "incident_key": "edge-tls"}})
    assert duplicate.status_code == 400 and duplicate.json()["error"]["code"] == 2002


@pytest.mark.parametrize("body, fragment", [
    ({"event_action": "trigger"}, "'routing_key' is missing"),
    ({"routing_key": "short", "event_action": "trigger"}, "should be 32 characters"),
    ({"routing_key": "Z" * 32, "event_action": "trigger"}, "does not match"),
    ({"routing_key": "KEY", "event_action": "explode"}, "'event_action'"),
    ({"routing_key": "KEY", "event_action": "trigger"}, "'payload'"),
    ({"routing_key": "KEY", "event_action": "trigger", "payload": {"source": "x", "severity": "info"}},
     "'payload.summary' is missing"),
    ({"routing_key": "KEY", "event_action": "trigger", "payload": {"summary": "s" * 1025, "source": "x",
                                                                    "severity": "info"}}, "at most 1024"),
    ({"routing_key": "KEY", "event_action": "trigger", "payload": {"summary": "s", "severity": "info"}},
     "'payload.source' is missing"),
    ({"routing_key": "KEY", "event_action": "trigger", "payload": {"summary": "s", "source": "x", "severity": "bad"}},
     "'payload.severity'"),
    ({"routing_key": "KEY", "event_action": "trigger", "payload": {"summary": "s", "source": "x", "severity": "info",
                                                                    "timestamp": "noon"}}, "'payload.timestamp'"),
    ({"routing_key": "KEY", "event_action": "trigger", "dedup_key": "d" * 256,
      "payload": {"summary": "s", "source": "x", "severity": "info"}}, "'dedup_key'"),
    ({"routing_key": "KEY", "event_action": "resolve"}, "'dedup_key' is missing"),
    ({"routing_key": "KEY", "event_action": "acknowledge", "dedup_key": 5}, "'dedup_key' must be a string"),
])
def test_invalid_events_are_400s_in_the_events_api_shape(sim, events, body, fragment):
    if body.get("routing_key") == "KEY":
        body = dict(body, routing_key=key_of(sim, GATEWAY))
    count = len(sim.state.incidents)
    invalid(events.post("/v2/enqueue", json=body), fragment)
    assert len(sim.state.incidents) == count


@pytest.mark.parametrize("content", [b"{nope", b"[1, 2]", b"", b'"text"'])
def test_unparseable_events_are_400s(events, content):
    for path in ("/v2/enqueue", "/v2/change/enqueue"):
        response = events.post(path, content=content)
        assert response.status_code == 400
        assert response.json() == {"status": "Unrecognized object", "message": "Event object format is unrecognized",
                                   "errors": ["JSON parse error"]}


def test_each_routing_key_has_its_own_rate_limit(sim, events, clock):
    limit = sim.state.dataset.rate_limits.events_per_minute_per_routing_key
    key = key_of(sim, GATEWAY)
    for n in range(limit):
        assert act(events, key, "resolve", f"k{n}").status_code == 202
    throttled = act(events, key, "resolve", "one-more")
    assert throttled.status_code == 429 and throttled.json()["status"] == "throttle event"
    assert trigger(events, key, "refused").status_code == 429
    assert (GATEWAY, "refused") not in sim.state.open_incident_keys
    assert act(events, key_of(sim, PAYMENTS), "resolve", "other").status_code == 202
    clock.advance(61)
    assert act(events, key, "resolve", "later").status_code == 202


def test_change_events_are_recorded_on_the_routing_keys_service(sim, events):
    before = len(sim.state.incidents)
    response = events.post("/v2/change/enqueue", json={
        "routing_key": key_of(sim, PAYMENTS),
        "payload": {"summary": "Deployed payments 7.3.0", "source": "ci", "timestamp": "2026-11-20T11:58:00Z",
                    "custom_details": {"build": 220}}})
    assert response.status_code == 202 and response.json()["status"] == "success"
    event = sim.state.change_events[-1]
    assert (event.summary, event.service_ids, event.source, event.custom_details) == (
        "Deployed payments 7.3.0", [PAYMENTS], "ci", {"build": 220})
    assert event.timestamp.isoformat() == "2026-11-20T11:58:00+00:00"
    assert len(sim.state.incidents) == before  # change events page nobody
    invalid(events.post("/v2/change/enqueue", json={"routing_key": key_of(sim, PAYMENTS), "payload": {}}),
            "'payload.summary' is missing")
    invalid(events.post("/v2/change/enqueue", json={"routing_key": "x" * 31, "payload": {"summary": "s"}}),
            "should be 32 characters")


def test_custom_details_the_fast_encoder_refuses_are_still_served_intact(sim, events, api):
    """Integers beyond 64 bits are valid JSON; a sender's custom details come back exactly as sent."""
    details = {"bytes_dropped": 2**70, "region": "eu-west-1"}
    sent = trigger(events, key_of(sim, GATEWAY), "gw-big", custom_details=details)
    assert sent.status_code == 202
    incident_id = sim.state.open_incident_keys[(GATEWAY, "gw-big")]
    alerts = api.get(f"/incidents/{incident_id}/alerts")
    assert alerts.status_code == 200
    assert alerts.json()["alerts"][0]["body"]["details"] == details


# --- alert grouping (a service's alert_grouping_parameters) ---


def group(sim, service_id, **grouping):
    from simulator.models import AlertGrouping

    sim.state.services[service_id].alert_grouping = AlertGrouping(**grouping)


def incident_of(sim, response):
    key = response.json()["dedup_key"]
    return next(a.incident_id for a in sim.state.alerts.values() if a.alert_key == key)


def test_without_grouping_every_new_alert_opens_its_own_incident(sim, events):
    key = key_of(sim, GATEWAY)
    first, second = trigger(events, key, "a-1"), trigger(events, key, "a-2")
    assert incident_of(sim, first) != incident_of(sim, second)


def test_time_grouping_joins_alerts_within_the_timeout_of_the_incidents_first(sim, events, clock):
    group(sim, GATEWAY, type="time", timeout=10)
    key = key_of(sim, GATEWAY)
    first = incident_of(sim, trigger(events, key, "t-1"))
    clock.advance(9 * 60)
    assert incident_of(sim, trigger(events, key, "t-2", summary="Gateway 502s")) == first
    clock.advance(2 * 60)  # 11 minutes after the incident opened
    later = incident_of(sim, trigger(events, key, "t-3"))
    assert later != first
    incident = sim.state.incidents[first]
    assert [a.alert_key for a in sim.state.alerts_by_incident[first]] == ["t-1", "t-2"]
    assert incident.title == "API Gateway 5xx rate above 2%"  # the first alert names it
    act(events, key, "resolve", "t-1")
    assert incident.status != "resolved"  # one of its alerts is still open
    act(events, key, "resolve", "t-2")
    assert incident.status == "resolved"


def test_time_grouping_with_no_timeout_groups_until_the_incident_is_resolved(sim, events, clock, api):
    group(sim, GATEWAY, type="time", timeout=0)
    key = key_of(sim, GATEWAY)
    first = incident_of(sim, trigger(events, key, "u-1"))
    clock.advance(6 * 3600)
    assert incident_of(sim, trigger(events, key, "u-2")) == first
    api.put(f"/incidents/{first}", json={"incident": {"type": "incident_reference", "status": "resolved"}})
    assert incident_of(sim, trigger(events, key, "u-3")) != first


def test_content_grouping_joins_alerts_that_share_the_fields_within_the_window(sim, events, clock):
    group(sim, GATEWAY, type="content_based", aggregate="all", fields=["component", "custom_details.region"],
          time_window=600)
    key = key_of(sim, GATEWAY)
    first = incident_of(sim, trigger(events, key, "c-1", component="lb", custom_details={"region": "eu"}))
    clock.advance(300)
    same = trigger(events, key, "c-2", summary="LB errors", component="lb", custom_details={"region": "eu"})
    assert incident_of(sim, same) == first
    other_region = trigger(events, key, "c-3", component="lb", custom_details={"region": "us"})
    assert incident_of(sim, other_region) != first
    clock.advance(601)  # the window counts from the last alert grouped in
    late = trigger(events, key, "c-4", component="lb", custom_details={"region": "eu"})
    assert incident_of(sim, late) != first


def test_content_grouping_on_any_field_needs_one_match_and_never_groups_missing_values(sim, events):
    group(sim, GATEWAY, type="content_based", aggregate="any", fields=["source", "class"])
    key = key_of(sim, GATEWAY)
    first = incident_of(sim, trigger(events, key, "y-1", source="lb-1"))
    assert incident_of(sim, trigger(events, key, "y-2", source="lb-1", **{"class": "cpu"})) == first
    lone = incident_of(sim, trigger(events, key, "y-3", source="lb-9"))  # class missing on both: no match
    assert lone != first


def test_grouping_leaves_incidents_made_by_hand_alone(sim, events, api):
    group(sim, GATEWAY, type="time", timeout=30)
    made = api.post("/incidents", json={"incident": {"type": "incident", "title": "by hand",
                                                     "service": {"id": GATEWAY, "type": "service_reference"}}})
    assert incident_of(sim, trigger(events, key_of(sim, GATEWAY), "h-1")) != made.json()["incident"]["id"]


def test_services_show_their_grouping(sim, api):
    group(sim, GATEWAY, type="content_based", aggregate="any", fields=["source"], time_window=900)
    shown = api.get(f"/services/{GATEWAY}").json()["service"]["alert_grouping_parameters"]
    assert shown == {"type": "content_based", "config": {"aggregate": "any", "fields": ["source"], "time_window": 900}}
    assert api.get(f"/services/{PAYMENTS}").json()["service"]["alert_grouping_parameters"] == {"type": None}
