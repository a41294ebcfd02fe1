"""Every implemented REST operation, called once on its happy path, answers in the spec's shape: each field the
spec requires is there, nothing is null that the spec does not let be null (except the declared defects), and
the keys PagerDuty sends as null are sent, not left out."""

from __future__ import annotations

from datetime import timedelta

import httpx
from demo_org import ACCEPT, NOW, auth_header, token_for
from spec_contract import RecordingTransport, contract, require_spec

from simulator.models import AlertGrouping


def iso(value) -> str:
    return value.isoformat().replace("+00:00", "Z")


def walk(sim, dataset) -> list[tuple[str, str, httpx.Response]]:
    """Call every REST route once, reads before writes, each with ids that exist; return the exchanges."""
    recorder = RecordingTransport(sim.transport())
    user = dataset.users[0]
    service = next(s for s in sim.state.services.values() if s.name == "API Gateway")
    service.alert_grouping = AlertGrouping(type="content_based", aggregate="any", fields=["source"])
    schedule = next(iter(sim.state.schedules.values()))
    team = dataset.teams[0]
    incident = next(i for i in sim.state.incidents.values() if i.status != "resolved")
    alert = next(iter(sim.state.alerts.values()))
    entry = sim.state.log_entries[-1]
    headers = {"Authorization": auth_header(token_for(dataset)), "Accept": ACCEPT, "From": user.email}
    with httpx.Client(transport=recorder, base_url="https://api.pagerduty.com", headers=headers) as api:
        for path in ("/services", f"/services/{service.id}", "/escalation_policies",
                     f"/escalation_policies/{service.escalation_policy_id}", "/users", f"/users/{user.id}",
                     "/teams", f"/teams/{team.id}", f"/teams/{team.id}/members", "/priorities", "/schedules",
                     f"/schedules/{schedule.id}", f"/schedules/{schedule.id}/users", "/oncalls", "/incidents",
                     f"/incidents/{incident.id}", f"/incidents/{incident.id}/notes",
                     f"/incidents/{incident.id}/log_entries", "/log_entries", f"/log_entries/{entry.id}",
                     f"/incidents/{alert.incident_id}/alerts", f"/incidents/{alert.incident_id}/alerts/{alert.id}",
                     f"/incidents/{incident.id}/past_incidents", f"/incidents/{incident.id}/related_incidents",
                     f"/incidents/{incident.id}/outlier_incident", "/change_events"):
            assert api.get(path).status_code == 200, path
        window = {"since": iso(NOW), "until": iso(NOW + timedelta(days=7))}
        assert api.get(f"/schedules/{schedule.id}/overrides", params=window).status_code == 200
        made = api.post(f"/schedules/{schedule.id}/overrides", json={"overrides": [{
            "start": iso(NOW + timedelta(hours=1)), "end": iso(NOW + timedelta(hours=2)),
            "user": {"id": dataset.users[2].id, "type": "user_reference"}}]}).json()[0]["override"]
        assert api.delete(f"/schedules/{schedule.id}/overrides/{made['id']}").status_code == 204
        assert api.get("/audit/records").status_code == 200
        assert api.get(f"/schedules/{schedule.id}/audit/records").status_code == 200
        created = api.post("/incidents", json={"incident": {
            "type": "incident", "title": "Gateway TLS handshake failures",
            "service": {"id": service.id, "type": "service_reference"}}}).json()["incident"]
        target = created["id"]
        for method, path, body in (
                ("POST", f"/incidents/{target}/notes", {"note": {"content": "looking"}}),
                ("POST", f"/incidents/{target}/responder_requests", {
                    "requester_id": user.id, "message": "a hand please", "responder_request_targets": [
                        {"responder_request_target": {"id": dataset.users[1].id, "type": "user_reference"}}]}),
                ("PUT", f"/incidents/{target}", {"incident": {"type": "incident_reference", "status": "acknowledged"}}),
                ("POST", f"/incidents/{target}/snooze", {"duration": 600}),
                ("PUT", f"/incidents/{incident.id}/merge", {"source_incidents": [
                    {"id": target, "type": "incident_reference"}]}),
                ("PUT", "/incidents", {"incidents": [{"id": incident.id, "type": "incident_reference",
                                                       "status": "resolved"}]})):
            response = api.request(method, path, json=body)
            assert response.status_code < 300, (method, path, response.text)
    with httpx.Client(transport=recorder, base_url="https://api.pagerduty.com",
                      headers={"Authorization": auth_header(token_for(dataset, kind="user")), "Accept": ACCEPT}) as me:
        assert me.get("/users/me").status_code == 200
    return recorder.exchanges


def test_every_rest_route_answers_in_the_spec_shape(sim, demo_dataset):
    require_spec()
    exchanges = walk(sim, demo_dataset)
    walked = {(route.method, route.pattern) for route in (sim.router.match(m, p)[0] for m, p, _ in exchanges)}
    every = {(route.method, route.pattern) for route in sim.router.routes if route.api == "rest"}
    assert walked == every, f"not walked: {sorted(every - walked)}"
    failures = []
    for method, path, response in exchanges:
        try:
            contract().check(method, path, response)
        except AssertionError as exc:
            failures.append(str(exc))
    assert not failures, "\n".join(failures)


def test_keys_pagerduty_sends_as_null_are_sent(sim, api):
    incident = next(i for i in sim.state.incidents.values() if i.status != "resolved" and i.priority_id is None)
    shown = api.get(f"/incidents/{incident.id}").json()["incident"]
    assert shown["resolved_at"] is None and shown["priority"] is None
    permanent = [o for o in api.get("/oncalls", params={"limit": 100}).json()["oncalls"] if o["schedule"] is None]
    assert permanent, "the demo account names users directly in some escalation rules"
    assert all(o["start"] is None and o["end"] is None for o in permanent)
    assert all(set(o) >= {"schedule", "start", "end"} for o in api.get("/oncalls").json()["oncalls"])
