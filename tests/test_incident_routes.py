"""REST incidents API: request/response shapes, PagerDuty's rules and errors, through the in-process transport."""

from __future__ import annotations

import json
from datetime import timedelta

import httpx
import pytest
from demo_org import make_client, policy_id, priority_id, service_id, team_id, token_for, user_id

P1_PRIORITY = priority_id("P1")
PAYMENTS_ESCALATION = policy_id("Payments Escalation")
PAYMENTS_TEAM = team_id("Payments")
PLATFORM_TEAM = team_id("Platform")
SECURITY_ESCALATION = policy_id("Security Escalation")
SECURITY_TEAM = team_id("Security")

ALICE, GUSTAVO, TOM = user_id("Alice Moreno"), user_id("Gustavo Ramos"), user_id("Tom Hargreaves")
PAYMENTS, GATEWAY = service_id("Payments API"), service_id("API Gateway")
EVENTS = "https://events.pagerduty.com"


def body_for(title="Payments API 5xx rate above 1%", service=PAYMENTS, **extra):
    return {"incident": {"type": "incident", "title": title,
                         "service": {"id": service, "type": "service_reference"}, **extra}}


def create(api, **kw):
    response = api.post("/incidents", json=body_for(**kw))
    assert response.status_code == 201, response.text
    return response.json()["incident"]


def put(api, incident_id, **fields):
    return api.put(f"/incidents/{incident_id}", json={"incident": {"type": "incident_reference", **fields}})


def log_types(api, incident_id):
    entries = api.get(f"/incidents/{incident_id}/log_entries", params={"limit": 100}).json()["log_entries"]
    return [e["type"] for e in reversed(entries)]


def error(response, status, code=None):
    assert response.status_code == status, response.text
    body = response.json()["error"]
    assert isinstance(body["message"], str) and body["message"]
    if code is not None:
        assert body["code"] == code, body
    return body


# --- create ---


def test_create_returns_201_with_the_incident_in_pagerdutys_shape(api, sim, demo_dataset):
    incident = create(api, urgency="low", incident_key="pay-5xx",
                      priority={"id": P1_PRIORITY, "type": "priority_reference"},
                      body={"type": "incident_body", "details": "5xx on /v1/charges"})
    assert incident["type"] == "incident" and incident["status"] == "triggered"
    assert incident["summary"] == f"[#{incident['incident_number']}] Payments API 5xx rate above 1%"
    assert incident["self"] == f"https://api.pagerduty.com/incidents/{incident['id']}"
    assert incident["html_url"] == f"https://acme.pagerduty.com/incidents/{incident['id']}"
    assert incident["service"]["id"] == PAYMENTS and incident["service"]["type"] == "service_reference"
    assert incident["escalation_policy"]["id"] == PAYMENTS_ESCALATION
    assert incident["urgency"] == "low" and incident["incident_key"] == "pay-5xx"
    assert incident["priority"]["name"] == "P1" and incident["body"]["details"] == "5xx on /v1/charges"
    assert incident["first_trigger_log_entry"]["type"] == "trigger_log_entry_reference"
    assert incident["alert_counts"] == {"all": 0, "triggered": 0, "resolved": 0}
    assert incident["last_status_change_by"]["id"] == demo_dataset.users[0].id
    assert incident["assignments"] and incident["acknowledgements"] == []
    assert incident["resolved_at"] is None  # null while open, as PagerDuty sends it
    assert sim.state.incidents[incident["id"]].status == "triggered"


def test_a_duplicate_open_incident_key_is_refused_with_pagerdutys_error(api):
    create(api, incident_key="dup")
    body = error(api.post("/incidents", json=body_for(incident_key="dup")), 400, 2002)
    assert body["errors"] == ["Open incident with matching dedup key already exists on this service"]
    assert create(api, incident_key="dup", service=GATEWAY)["incident_key"] == "dup"


def test_assigning_to_yourself_starts_acknowledged(api, demo_dataset):
    me = demo_dataset.users[0].id
    incident = create(api, assignments=[{"assignee": {"id": me, "type": "user_reference"}}])
    assert incident["status"] == "acknowledged"
    assert [a["acknowledger"]["id"] for a in incident["acknowledgements"]] == [me]


def test_from_is_required_with_an_account_token_but_not_with_a_user_token(api_no_from, sim, demo_dataset):
    error(api_no_from.post("/incidents", json=body_for()), 400, 2016)
    assert api_no_from.get("/incidents").status_code == 200
    with make_client(sim, token_for(demo_dataset, kind="user")) as user_client:
        response = user_client.post("/incidents", json=body_for())
        assert response.status_code == 201
        assert response.json()["incident"]["last_status_change_by"]["id"] == ALICE


def test_read_only_and_read_scoped_tokens_cannot_write(sim, demo_dataset):
    with make_client(sim, token_for(demo_dataset, access="read-only"), "alice.moreno@acme.example") as client:
        error(client.post("/incidents", json=body_for()), 403, 2010)
        assert client.get("/incidents").status_code == 200
    with make_client(sim, token_for(demo_dataset, kind="user", bearer=True, scoped=True)) as client:
        error(client.post("/incidents", json=body_for()), 403)
        assert client.get("/log_entries").status_code == 200


@pytest.mark.parametrize("incident, code", [
    ({"type": "incident", "service": {"id": PAYMENTS}}, 2001),  # no title
    ({"type": "incident", "title": "x"}, 2001),  # no service
    ({"type": "incident", "title": "x", "service": {"id": "PNOPE00"}}, 2001),
    ({"type": "incident", "title": "x", "service": PAYMENTS}, 2001),
    ({"type": "incident_reference", "title": "x", "service": {"id": PAYMENTS}}, 2001),
    ({"type": "incident", "title": 7, "service": {"id": PAYMENTS}}, 2001),
    ({"type": "incident", "title": "x", "service": {"id": PAYMENTS}, "urgency": "urgent"}, 2001),
    ({"type": "incident", "title": "x", "service": {"id": PAYMENTS}, "priority": {"id": "PNOPE00"}}, 1020),
    ({"type": "incident", "title": "x", "service": {"id": PAYMENTS}, "assignments": [{"assignee": {"id": TOM}}],
      "escalation_policy": {"id": PAYMENTS_ESCALATION, "type": "escalation_policy_reference"}}, 2001),
    ({"type": "incident", "title": "x", "service": {"id": PAYMENTS}, "assignments": {"assignee": TOM}}, 2001),
    ({"type": "incident", "title": "x", "service": {"id": PAYMENTS},
      "assignments": [{"assignee": {"id": "PNOPE00"}}]}, 1007),
    ({"type": "incident", "title": "x", "service": {"id": PAYMENTS}, "body": {"details": ["x"]}}, 2001),
])
def test_malformed_create_bodies_are_400s(api, sim, incident, code):
    count = len(sim.state.incidents)
    error(api.post("/incidents", json={"incident": incident}), 400, code)
    assert len(sim.state.incidents) == count


@pytest.mark.parametrize("method, path, content", [
    ("POST", "/incidents", b"{not json"),
    ("POST", "/incidents", b"[]"),
    ("POST", "/incidents", b""),
    ("POST", "/incidents", b'{"incident": "x"}'),
    ("PUT", "/incidents/{id}", b'{"incident": {"type": "incident_reference", "status": "done"}}'),
    ("PUT", "/incidents/{id}", b'{"incident": {"type": "incident_reference", "escalation_level": "2"}}'),
    ("PUT", "/incidents/{id}", b'{"incident": {"type": "incident_reference", "escalation_level": true}}'),
    ("PUT", "/incidents/{id}", b'{"incident": {"type": "incident_reference", "priority": 5}}'),
    ("PUT", "/incidents/{id}", b'{"incident": {"status": "resolved"}}'),
    ("PUT", "/incidents", b'{"incidents": "all"}'),
    ("PUT", "/incidents", b'{"incidents": [7]}'),
    ("PUT", "/incidents", b'{"incidents": [{"type": "incident_reference", "status": "resolved"}]}'),
    ("PUT", "/incidents/{id}/merge", b'{"source_incidents": "P1"}'),
    ("PUT", "/incidents/{id}/merge", b'{"source_incidents": [{"type": "incident_reference"}]}'),
    ("POST", "/incidents/{id}/snooze", b'{"duration": "1h"}'),
    ("POST", "/incidents/{id}/snooze", b'{"duration": true}'),
    ("POST", "/incidents/{id}/notes", b'{"note": {"content": ""}}'),
    ("POST", "/incidents/{id}/notes", b'{"note": {"content": 5}}'),
    ("POST", "/incidents/{id}/responder_requests", b'{"message": "help"}'),
    ("POST", "/incidents/{id}/responder_requests", json.dumps(
        {"requester_id": ALICE, "message": "m", "responder_request_targets": [{"id": TOM}]}).encode()),
    ("GET", "/incidents?statuses[]=open", b""),
    ("GET", "/incidents?urgencies[]=urgent", b""),
    ("GET", "/incidents?sort_by=title", b""),
    ("GET", "/incidents?sort_by=created_at:up", b""),
    ("GET", "/incidents?sort_by=created_at,urgency,incident_number", b""),
    ("GET", "/incidents?include[]=everything", b""),
    ("GET", "/incidents?since=yesterday", b""),
    ("GET", "/incidents?date_range=week", b""),
    ("GET", "/incidents?time_zone=Mars/Olympus", b""),
    ("GET", "/incidents?time_zone=" + "P" * 300, b""),  # too long for a zone file name: OSError inside
    ("GET", "/incidents?limit=0", b""),
    ("GET", "/incidents?offset=9990&limit=20", b""),
    ("GET", "/log_entries?is_overview=maybe", b""),
    ("GET", "/incidents/{id}/alerts?sort_by=severity", b""),
    ("POST", "/incidents", b"[" * 100_000 + b"]" * 100_000),  # the parser's recursion, not a 500
    ("POST", "/incidents", b'{"incident": ' * 65 + b"{}" + b"}" * 65),  # valid JSON, absurdly deep
    ("POST", "/incidents/{id}/notes", b'{"note": {"content": "' + b"x" * (1024 * 1024) + b'"}}'),  # over 1 MiB
])
def test_malformed_requests_are_400_never_500(api, method, path, content):
    incident = create(api)
    response = api.request(method, path.replace("{id}", incident["id"]), content=content,
                           headers={"content-type": "application/json"})
    error(response, 400)


def test_nesting_to_the_limit_is_still_read(api):
    """A body as deep as the limit allows is parsed and answered on its merits (here: not an incident)."""
    response = api.post("/incidents", content=b'{"incident": ' + b'{"x": ' * 62 + b"1" + b"}" * 63,
                        headers={"content-type": "application/json"})
    assert response.status_code == 400 and "nests deeper" not in response.text


# --- read ---


def test_get_by_id_or_number_and_404(api):
    incident = create(api)
    assert api.get(f"/incidents/{incident['id']}").json()["incident"]["id"] == incident["id"]
    assert api.get(f"/incidents/{incident['incident_number']}").json()["incident"]["id"] == incident["id"]
    error(api.get("/incidents/PNOPE00"), 404, 2100)
    error(api.get("/incidents/99999"), 404, 2100)


def test_list_filters_and_sorting(api, sim, clock):
    low = create(api, urgency="low", service=GATEWAY)
    clock.advance(60)
    high = create(api, urgency="high")
    put(api, high["id"], status="acknowledged")
    def listed(**params):
        return [i["id"] for i in api.get("/incidents", params={"limit": 100, **params}).json()["incidents"]]

    month_ago = sim.now() - timedelta(days=31)
    assert set(listed(**{"statuses[]": "triggered"})) == {
        i.id for i in sim.state.incidents.values() if i.status == "triggered" and i.created_at >= month_ago}
    acknowledged = listed(**{"statuses[]": ["acknowledged"]})
    assert high["id"] in acknowledged and low["id"] not in acknowledged
    assert low["id"] in listed(**{"service_ids[]": GATEWAY}) and high["id"] not in listed(**{"service_ids[]": GATEWAY})
    both = {"urgencies[]": "low", "service_ids[]": [GATEWAY, PAYMENTS], "statuses[]": "triggered"}
    assert listed(**both) == [low["id"]]
    assert listed(incident_key=high["incident_key"]) == [high["id"]]
    assignee = low["assignments"][0]["assignee"]["id"]
    mine = api.get("/incidents", params={"user_ids[]": assignee, "date_range": "all", "limit": 100}).json()["incidents"]
    assert mine and all(assignee in [a["assignee"]["id"] for a in i["assignments"]] for i in mine)
    assert all(i["status"] != "resolved" for i in mine)
    teams = api.get("/incidents", params={"team_ids[]": PAYMENTS_TEAM, "limit": 100}).json()["incidents"]
    assert teams and all(PAYMENTS_TEAM in [t["id"] for t in i["teams"]] for i in teams)
    numbers = [i["incident_number"] for i in api.get("/incidents", params={"limit": 100}).json()["incidents"]]
    assert numbers == sorted(numbers)
    newest = api.get("/incidents", params={"sort_by": "created_at:desc", "limit": 5}).json()["incidents"]
    assert [i["id"] for i in newest[:2]] == [high["id"], low["id"]]
    by_urgency = api.get("/incidents", params={"sort_by": "urgency:desc,incident_number:desc", "limit": 100,
                                               "statuses[]": "triggered"}).json()["incidents"]
    assert [i["urgency"] for i in by_urgency] == sorted((i["urgency"] for i in by_urgency), key=lambda u: u != "high")


def test_list_pagination_with_total(api, sim):
    first = api.get("/incidents", params={"date_range": "all", "limit": 10, "total": "true"}).json()
    assert (first["limit"], first["offset"], first["more"], first["total"]) == (10, 0, True, len(sim.state.incidents))
    tail = {"date_range": "all", "limit": 10, "offset": len(sim.state.incidents) - 3}
    last = api.get("/incidents", params=tail).json()
    assert len(last["incidents"]) == 3 and last["more"] is False and last["total"] is None
    assert api.get("/incidents", params={"limit": 500}).json()["limit"] == 100


def test_the_date_window_defaults_to_one_month_and_allows_at_most_six(api, sim):
    now = sim.now()
    listed = api.get("/incidents", params={"limit": 100, "total": "true"}).json()
    month = sum(1 for i in sim.state.incidents.values() if now - timedelta(days=31) <= i.created_at < now)
    assert listed["total"] in range(month - 5, month + 1)  # one calendar month back, not 31 days
    month_ago = (now - timedelta(days=31)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert all(i["created_at"] >= month_ago for i in listed["incidents"])
    everything = api.get("/incidents", params={"date_range": "all", "total": "true"}).json()["total"]
    assert everything == len(sim.state.incidents)
    window = {"since": (now - timedelta(days=60)).isoformat(), "until": now.isoformat(), "total": "true"}
    assert api.get("/incidents", params=window).json()["total"] > listed["total"]
    error(api.get("/incidents", params={"since": (now - timedelta(days=200)).isoformat(), "until": now.isoformat()}),
          400, 2001)
    backwards = {"since": now.isoformat(), "until": (now - timedelta(hours=1)).isoformat()}
    error(api.get("/incidents", params=backwards), 400)


def test_include_expands_references(api):
    incident = create(api)
    full = api.get(f"/incidents/{incident['id']}", params={"include[]": ["services", "assignees", "priorities",
                                                                         "first_trigger_log_entries", "teams"]}
                   ).json()["incident"]
    assert full["service"]["type"] == "service" and full["service"]["name"] == "Payments API"
    assert full["assignments"][0]["assignee"]["type"] == "user" and "email" in full["assignments"][0]["assignee"]
    assert full["first_trigger_log_entry"]["type"] == "trigger_log_entry"
    assert full["teams"][0]["type"] == "team"


# --- update ---


def test_acknowledge_and_resolve_with_log_entries_and_idempotent_repeats(api, sim):
    incident = create(api)
    acked = put(api, incident["id"], status="acknowledged")
    assert acked.status_code == 200 and acked.json()["incident"]["status"] == "acknowledged"
    count = len(log_types(api, incident["id"]))
    assert put(api, incident["id"], status="acknowledged").status_code == 200
    assert len(log_types(api, incident["id"])) == count
    resolved = put(api, incident["id"], status="resolved", resolution="Rolled back").json()["incident"]
    assert resolved["status"] == "resolved" and resolved["assignments"] == [] and "resolved_at" in resolved
    assert log_types(api, incident["id"])[-1] == "resolve_log_entry"
    newest = api.get(f"/incidents/{incident['id']}/log_entries").json()["log_entries"][0]
    assert newest["note"] == "Rolled back" and newest["agent"]["type"] == "user_reference"
    assert put(api, incident["id"], status="resolved").status_code == 200
    assert log_types(api, incident["id"]).count("resolve_log_entry") == 1


def test_reopen_escalate_reassign_urgency_and_priority_by_name(api, sim):
    incident = create(api)
    put(api, incident["id"], status="resolved")
    reopened = put(api, incident["id"], status="triggered").json()["incident"]
    assert reopened["status"] == "triggered" and reopened["assignments"]
    escalated = put(api, incident["id"], escalation_level=2).json()["incident"]
    assert [a["assignee"]["id"] for a in escalated["assignments"]] == [GUSTAVO]
    error(put(api, incident["id"], escalation_level=7), 400, 1006)
    to_tom = [{"assignee": {"id": TOM, "type": "user_reference"}}]
    moved = put(api, incident["id"], assignments=to_tom).json()["incident"]
    assert [a["assignee"]["id"] for a in moved["assignments"]] == [TOM] and moved["assigned_via"] == "direct_assignment"
    changed = put(api, incident["id"], urgency="low", priority="P3", title="Refunds slow").json()["incident"]
    assert (changed["urgency"], changed["priority"]["name"], changed["title"]) == ("low", "P3", "Refunds slow")
    error(put(api, incident["id"], priority="P42"), 400, 1020)
    types = log_types(api, incident["id"])
    assert types.count("trigger_log_entry") == 2 and "escalate_log_entry" in types
    assert types[-1] == "urgency_change_log_entry"
    error(put(api, "PNOPE00", status="resolved"), 404, 2100)


def test_bulk_update_checks_everything_before_changing_anything(api, sim):
    a, b = create(api), create(api, service=GATEWAY)
    response = api.put("/incidents", json={"incidents": [
        {"id": a["id"], "type": "incident_reference", "status": "acknowledged"},
        {"id": b["id"], "type": "incident_reference", "status": "resolved"}]}, params={"total": "true"})
    assert response.status_code == 200
    body = response.json()
    assert [i["status"] for i in body["incidents"]] == ["acknowledged", "resolved"]
    assert (body["more"], body["total"]) == (False, 2)
    c = create(api)
    refused = api.put("/incidents", json={"incidents": [
        {"id": c["id"], "type": "incident_reference", "status": "resolved"},
        {"id": "PNOPE00", "type": "incident_reference", "status": "resolved"}]})
    error(refused, 400)
    assert sim.state.incidents[c["id"]].status == "triggered"
    too_many = [{"id": c["id"], "type": "incident_reference", "status": "acknowledged"}] * 251
    error(api.put("/incidents", json={"incidents": too_many}), 413)
    assert sim.state.incidents[c["id"]].status == "triggered"


def test_write_routes_need_from_with_an_account_token(api_no_from, api):
    incident = create(api)
    for method, path, body in [
        ("PUT", f"/incidents/{incident['id']}", {"incident": {"type": "incident_reference", "status": "resolved"}}),
        ("PUT", "/incidents", {"incidents": [{"id": incident["id"], "type": "incident_reference"}]}),
        ("PUT", f"/incidents/{incident['id']}/merge", {"source_incidents": []}),
        ("POST", f"/incidents/{incident['id']}/snooze", {"duration": 60}),
        ("POST", f"/incidents/{incident['id']}/notes", {"note": {"content": "x"}}),
    ]:
        error(api_no_from.request(method, path, json=body), 400, 2016)
    response = api_no_from.post(f"/incidents/{incident['id']}/responder_requests", json={
        "requester_id": ALICE, "message": "help", "responder_request_targets": [
            {"responder_request_target": {"id": TOM, "type": "user_reference"}}]})
    assert response.status_code == 200  # the spec declares no From here: the requester is in the body


# --- merge, snooze, notes, log entries, alerts, responders ---


def test_merge_route(api, sim):
    target, source = create(api), create(api, service=GATEWAY)
    response = api.put(f"/incidents/{target['id']}/merge", json={"source_incidents": [
        {"id": source["id"], "type": "incident_reference"}]})
    assert response.status_code == 200
    assert response.json()["incident"]["id"] == target["id"]
    assert response.json()["incident"]["type"] == "incident_reference"
    assert api.get(f"/incidents/{target['id']}").json()["incident"]["alert_counts"]["all"] == 1
    merged = api.get(f"/incidents/{source['id']}").json()["incident"]
    assert merged["status"] == "resolved" and merged["resolve_reason"]["incident"]["id"] == target["id"]
    error(api.put(f"/incidents/{target['id']}/merge", json={"source_incidents": [{"id": source["id"]}]}), 400, 1019)
    error(api.put(f"/incidents/{target['id']}/merge", json={"source_incidents": [{"id": "PNOPE00"}]}), 404)


def test_snooze_route(api, sim, clock):
    incident = create(api)
    error(api.post(f"/incidents/{incident['id']}/snooze", json={"duration": 60}), 400, 1012)
    put(api, incident["id"], status="acknowledged")
    error(api.post(f"/incidents/{incident['id']}/snooze", json={"duration": 0}), 400, 1013)
    response = api.post(f"/incidents/{incident['id']}/snooze", json={"duration": 3600})
    assert response.status_code == 201
    snoozed = response.json()["incident"]
    assert snoozed["status"] == "acknowledged"
    assert snoozed["pending_actions"] == [{"type": "unacknowledge",
                                           "at": (sim.now() + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")}]
    clock.advance(3601)
    again = api.get(f"/incidents/{incident['id']}").json()["incident"]
    assert again["status"] == "triggered" and again["pending_actions"] == []
    assert log_types(api, incident["id"])[-1 - len(again["assignments"])] == "unacknowledge_log_entry"


def test_notes_route(api, demo_dataset):
    incident = create(api)
    made = api.post(f"/incidents/{incident['id']}/notes", json={"note": {"content": "Rolled back 4.2.1"}})
    assert made.status_code == 200
    note = made.json()["note"]
    assert note["content"] == "Rolled back 4.2.1" and note["user"]["id"] == demo_dataset.users[0].id
    assert note["channel"]["summary"]
    listed = api.get(f"/incidents/{incident['id']}/notes").json()
    assert listed == {"notes": [note]}
    assert log_types(api, incident["id"])[-1] == "annotate_log_entry"
    error(api.get("/incidents/PNOPE00/notes"), 404)


def test_log_entries_newest_first_with_windows_overview_and_pagination(api, sim, clock):
    incident = create(api)
    clock.advance(60)
    put(api, incident["id"], status="acknowledged")
    clock.advance(60)
    put(api, incident["id"], status="resolved")
    entries = api.get(f"/incidents/{incident['id']}/log_entries", params={"total": "true"}).json()
    times = [e["created_at"] for e in entries["log_entries"]]
    assert times == sorted(times, reverse=True) and entries["total"] == len(times)
    assert entries["log_entries"][0]["incident"]["id"] == incident["id"]
    overview = api.get(f"/incidents/{incident['id']}/log_entries", params={"is_overview": "true"}).json()["log_entries"]
    assert overview and all(e["type"] != "notify_log_entry" for e in overview)
    recent = api.get("/log_entries", params={"since": (sim.now() - timedelta(seconds=90)).isoformat(),
                                             "total": "true"}).json()
    assert [e["type"] for e in recent["log_entries"]] == ["resolve_log_entry", "acknowledge_log_entry"]
    page = api.get("/log_entries", params={"limit": 2, "offset": 1}).json()
    assert [e["type"] for e in page["log_entries"]] == ["acknowledge_log_entry"] + [
        e["type"] for e in entries["log_entries"][2:3]] and page["more"] is True
    error(api.get("/log_entries", params={"since": sim.now().isoformat(),
                                          "until": (sim.now() - timedelta(days=1)).isoformat()}), 400)
    one = api.get(f"/log_entries/{entries['log_entries'][0]['id']}", params={"include[]": "incidents"}).json()
    assert one["log_entry"]["type"] == "resolve_log_entry" and one["log_entry"]["incident"]["type"] == "incident"
    error(api.get("/log_entries/PNOPE00"), 404)
    teams = api.get("/log_entries", params={"team_ids[]": SECURITY_TEAM, "limit": 100}).json()["log_entries"]
    assert all(SECURITY_TEAM in [t["id"] for t in e["teams"]] for e in teams)


def test_alerts_route(api, sim):
    key = sim.state.services[PAYMENTS].integrations[0].routing_key
    with httpx.Client(transport=sim.transport(), base_url=EVENTS) as events:
        sent = events.post("/v2/enqueue", json={
            "routing_key": key, "event_action": "trigger", "dedup_key": "refunds",
            "payload": {"summary": "Refund queue backlog", "source": "refunds-1", "severity": "warning",
                        "custom_details": {"depth": 12000}}})
        assert sent.status_code == 202
    incident_id = sim.state.open_incident_keys[(PAYMENTS, "refunds")]
    alerts = api.get(f"/incidents/{incident_id}/alerts", params={"total": "true"}).json()
    assert alerts["total"] == 1
    alert = alerts["alerts"][0]
    assert (alert["type"], alert["status"], alert["alert_key"], alert["severity"]) == (
        "alert", "triggered", "refunds", "warning")
    assert alert["body"]["details"] == {"depth": 12000} and alert["incident"]["id"] == incident_id
    assert api.get(f"/incidents/{incident_id}/alerts", params={"statuses[]": "resolved"}).json()["alerts"] == []
    expanded = api.get(f"/incidents/{incident_id}/alerts", params={
        "include[]": ["incidents", "first_trigger_log_entries", "services"]}).json()["alerts"][0]
    assert expanded["incident"]["type"] == "incident" and expanded["service"]["type"] == "service"
    assert expanded["first_trigger_log_entry"]["type"] == "trigger_log_entry"
    assert expanded["incident"]["first_trigger_log_entry"]["type"] == "trigger_log_entry_reference"  # one level
    error(api.get("/incidents/PNOPE00/alerts"), 404)


def test_responder_request_route(api, sim):
    incident = create(api)
    response = api.post(f"/incidents/{incident['id']}/responder_requests", json={
        "requester_id": ALICE, "message": "Join the bridge", "responder_request_targets": [
            {"responder_request_target": {"id": TOM, "type": "user_reference"}},
            {"responder_request_target": {"id": SECURITY_ESCALATION, "type": "escalation_policy_reference"}}]})
    assert response.status_code == 200
    request = response.json()["responder_request"]
    assert request["requester"]["id"] == ALICE and request["message"] == "Join the bridge"
    targets = [t["responder_request_target"] for t in request["responder_request_targets"]]
    assert [(t["type"], t["id"]) for t in targets] == [("user", TOM), ("escalation_policy", SECURITY_ESCALATION)]
    assert [r["user"]["id"] for r in targets[0]["incidents_responders"]] == [TOM]
    shown = api.get(f"/incidents/{incident['id']}").json()["incident"]
    assert TOM in [r["user"]["id"] for r in shown["incidents_responders"]]
    assert log_types(api, incident["id"])[-1] == "notify_log_entry"
    error(api.post(f"/incidents/{incident['id']}/responder_requests", json={
        "requester_id": "PNOPE00", "message": "x", "responder_request_targets": [
            {"responder_request_target": {"id": TOM, "type": "user_reference"}}]}), 400, 1008)


def test_change_events_are_listed_newest_first(api, sim, clock):
    key = sim.state.services[GATEWAY].integrations[0].routing_key
    with httpx.Client(transport=sim.transport(), base_url=EVENTS) as events:
        for version in ("4.2.0", "4.2.1"):
            assert events.post("/v2/change/enqueue", json={
                "routing_key": key, "payload": {"summary": f"Deployed {version}", "source": "ci"}}).status_code == 202
            clock.advance(60)
    listed = api.get("/change_events", params={"total": "true"}).json()
    assert [e["summary"] for e in listed["change_events"]] == ["Deployed 4.2.1", "Deployed 4.2.0"]
    assert listed["change_events"][0]["services"][0]["id"] == GATEWAY
    assert api.get("/change_events", params={"team_ids[]": SECURITY_TEAM}).json()["change_events"] == []
    assert len(api.get("/change_events", params={"team_ids[]": PLATFORM_TEAM}).json()["change_events"]) == 2


def test_restoring_a_snapshot_puts_the_account_back_and_starts_faults_and_log_afresh(api, sim):
    before = sim.snapshot()
    created = create(api)
    sim.add_fault(method="GET", path="/services", status=503, times=5)
    assert api.get("/services").status_code == 503

    sim.restore(before)

    assert created["id"] not in sim.state.incidents and len(sim.state.incidents) == len(before.incidents)
    assert sim.request_log == []
    assert api.get("/services").status_code == 200
    assert create(api)["incident_number"] == created["incident_number"]  # numbering is part of the state


def test_time_zone_renders_incident_and_log_entry_times_in_that_zone(api, sim):
    incident = create(api)
    berlin = api.get("/incidents", params={"time_zone": "Europe/Berlin", "statuses[]": "triggered",
                                           "incident_key": incident["incident_key"]}).json()["incidents"][0]
    assert incident["created_at"] == "2026-11-20T12:00:00Z" and berlin["created_at"] == "2026-11-20T13:00:00+01:00"
    assert berlin["assignments"][0]["at"] == "2026-11-20T13:00:00+01:00"
    entries = api.get(f"/incidents/{incident['id']}/log_entries", params={"time_zone": "Asia/Kolkata"}).json()
    assert {e["created_at"] for e in entries["log_entries"]} == {"2026-11-20T17:30:00+05:30"}
    entry_id = entries["log_entries"][0]["id"]
    one = api.get(f"/log_entries/{entry_id}", params={"time_zone": "America/New_York",
                                                      "include[]": "incidents"}).json()["log_entry"]
    assert one["created_at"] == "2026-11-20T07:00:00-05:00"
    assert one["incident"]["created_at"] == "2026-11-20T07:00:00-05:00"  # included objects too
    assert api.get("/log_entries", params={"time_zone": "UTC", "limit": 1}).json()["log_entries"][0][
        "created_at"].endswith("Z")
