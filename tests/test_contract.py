"""Every implemented operation, on its happy and its error paths, answers in the shape PagerDuty's spec gives."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from demo_org import ACCEPT, auth_header, token_for
from spec_contract import SPEC_DEFECTS, RecordingTransport, contract, require_spec


@pytest.fixture
def recorder(sim):
    require_spec()
    return RecordingTransport(sim.transport())


def client_for(recorder, token, from_email=None):
    headers = {"Authorization": auth_header(token), "Accept": ACCEPT}
    if from_email:
        headers["From"] = from_email
    return httpx.Client(transport=recorder, base_url="https://api.pagerduty.com", headers=headers)


def assert_all_match_spec(recorder):
    assert recorder.exchanges, "nothing was exercised"
    failures = []
    for method, path, response in recorder.exchanges:
        try:
            contract().check(method, path, response)
        except AssertionError as exc:
            failures.append(str(exc))
    assert not failures, "\n".join(failures)


def _ids(sim):
    service = next(s for s in sim.state.services.values() if s.name == "API Gateway")
    open_incident = next(i for i in sim.state.incidents.values() if i.status != "resolved")
    schedule = next(iter(sim.state.schedules.values()))
    return service, open_incident, schedule


def test_directory_reads(recorder, sim, demo_dataset):
    service, _, schedule = _ids(sim)
    user = demo_dataset.users[0]
    with client_for(recorder, token_for(demo_dataset)) as c:
        for path in ("/services", f"/services/{service.id}", "/escalation_policies",
                     f"/escalation_policies/{service.escalation_policy_id}", "/users", f"/users/{user.id}",
                     "/teams", f"/teams/{demo_dataset.teams[0].id}", "/priorities", "/schedules",
                     f"/schedules/{schedule.id}", "/oncalls"):
            assert c.get(path).status_code == 200, path
        assert c.get("/services", params={"query": "pay", "total": "true"}).status_code == 200
        assert c.get("/services/PNOPE00").status_code == 404
        assert c.get("/users", params={"limit": 20, "offset": 9990}).status_code == 400
        now = sim.now()
        assert c.get("/oncalls", params={"since": now.isoformat(),
                                         "until": (now - timedelta(hours=1)).isoformat()}).status_code == 400
        assert c.get(f"/schedules/{schedule.id}/overrides", params={
            "since": now.isoformat(), "until": (now + timedelta(days=7)).isoformat()}).status_code == 200
    with client_for(recorder, token_for(demo_dataset, kind="user")) as c:
        assert c.get("/users/me").status_code == 200
    assert_all_match_spec(recorder)


def test_incident_lifecycle_and_errors(recorder, sim, demo_dataset):
    service, open_incident, _ = _ids(sim)
    user = demo_dataset.users[0]
    with client_for(recorder, token_for(demo_dataset), user.email) as c:
        created = c.post("/incidents", json={"incident": {
            "type": "incident", "title": "API Gateway p99 above 2s", "urgency": "high",
            "service": {"id": service.id, "type": "service_reference"}, "incident_key": "contract-1"}})
        assert created.status_code == 201, created.text
        incident_id = created.json()["incident"]["id"]
        duplicate = c.post("/incidents", json={"incident": {
            "type": "incident", "title": "again", "service": {"id": service.id, "type": "service_reference"},
            "incident_key": "contract-1"}})
        assert duplicate.status_code == 400
        for path in ("/incidents", f"/incidents/{incident_id}", f"/incidents/{incident_id}/notes",
                     f"/incidents/{incident_id}/log_entries", f"/incidents/{incident_id}/alerts", "/log_entries",
                     "/change_events"):
            assert c.get(path).status_code == 200, path
        assert c.get("/incidents", params={"statuses[]": "triggered", "limit": 100}).status_code == 200
        entry_id = sim.state.log_entries[-1].id
        assert c.get(f"/log_entries/{entry_id}").status_code == 200
        noted = c.post(f"/incidents/{incident_id}/notes", json={"note": {"content": "looking"}})
        assert noted.status_code in (200, 201)
        assert c.put(f"/incidents/{incident_id}", json={"incident": {
            "type": "incident_reference", "status": "acknowledged"}}).status_code == 200
        assert c.post(f"/incidents/{incident_id}/snooze", json={"duration": 600}).status_code == 201
        assert c.post(f"/incidents/{incident_id}/responder_requests", json={
            "requester_id": user.id, "message": "need a hand",
            "responder_request_targets": [{"responder_request_target": {
                "id": demo_dataset.users[1].id, "type": "user_reference"}}]}).status_code == 200
        assert c.put(f"/incidents/{open_incident.id}/merge", json={"source_incidents": [
            {"id": incident_id, "type": "incident_reference"}]}).status_code == 200
        assert c.put("/incidents", json={"incidents": [
            {"id": open_incident.id, "type": "incident_reference", "status": "resolved"}]}).status_code == 200
        assert c.get("/incidents/PNOPE00").status_code == 404
        assert c.post("/incidents", content=b"{not json").status_code == 400
        assert c.get("/incidents", params={"since": "2020-01-01T00:00:00Z",
                                           "until": "2021-06-01T00:00:00Z"}).status_code == 400
    with client_for(recorder, token_for(demo_dataset)) as c:  # no From with an account token
        assert c.put(f"/incidents/{open_incident.id}", json={"incident": {
            "type": "incident_reference", "status": "acknowledged"}}).status_code == 400
    with client_for(recorder, token_for(demo_dataset, access="read-only")) as c:
        assert c.post("/incidents", json={}).status_code == 403
    with httpx.Client(transport=recorder, base_url="https://api.pagerduty.com") as c:
        assert c.get("/incidents").status_code == 401
    assert_all_match_spec(recorder)


def test_overrides_and_rate_limit(recorder, sim, demo_dataset):
    _, _, schedule = _ids(sim)
    now = sim.now()
    with client_for(recorder, token_for(demo_dataset), demo_dataset.users[0].email) as c:
        made = c.post(f"/schedules/{schedule.id}/overrides", json={"overrides": [
            {"start": now.isoformat(), "end": (now + timedelta(hours=8)).isoformat(),
             "user": {"id": demo_dataset.users[2].id, "type": "user_reference"}}]})
        assert made.status_code == 201, made.text
        override_id = made.json()[0]["override"]["id"]
        assert c.delete(f"/schedules/{schedule.id}/overrides/{override_id}").status_code in (200, 204)
        sim.add_fault(method="GET", path="/incidents", status=429, times=1)
        assert c.get("/incidents").status_code == 429
    assert_all_match_spec(recorder)


def test_events_api(recorder, sim):
    require_spec()
    service, _, _ = _ids(sim)
    key = service.integrations[0].routing_key
    with httpx.Client(transport=recorder, base_url="https://events.pagerduty.com") as c:
        sent = c.post("/v2/enqueue", json={"routing_key": key, "event_action": "trigger", "payload": {
            "summary": "Gateway 5xx", "source": "lb-1", "severity": "critical"}})
        assert sent.status_code == 202
        assert c.post("/v2/enqueue", json={"routing_key": key, "event_action": "resolve",
                                           "dedup_key": sent.json()["dedup_key"]}).status_code == 202
        assert c.post("/v2/enqueue", json={"routing_key": "short", "event_action": "trigger"}).status_code == 400
        assert c.post("/v2/change/enqueue", json={"routing_key": key, "payload": {
            "summary": "Deployed 4.2.1", "source": "ci"}}).status_code == 202
    assert_all_match_spec(recorder)


def test_every_spec_defect_names_real_operations():
    """The exemption list stays honest: each entry points at operations the spec really has."""
    require_spec()
    paths = contract().docs["rest"]["paths"]
    for defect in SPEC_DEFECTS:
        for operation in defect.operations:
            method, path = operation.split(" ", 1)
            assert method.lower() in paths.get(path, {}), f"{operation} is not in the spec ({defect.wrong})"
