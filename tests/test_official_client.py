"""PagerDuty's own Python client (PyPI `pagerduty`) runs real flows against the simulator over HTTPS.

The official client refuses plain http, so the simulator is served with a certificate from a
throwaway CA made by trustme. If PagerDuty's client can do its job here, so can anyone's.
"""

from __future__ import annotations

from datetime import timedelta

import pagerduty
import pytest
from demo_org import token_for

pytestmark = pytest.mark.network


def test_iterates_every_incident_exactly_once(official, sim):
    seen = [i["id"] for i in official.iter_all("incidents", params={"date_range": "all"})]
    assert len(seen) == len(set(seen)) == len(sim.state.incidents)


def test_gets_a_service_by_id(official, sim):
    service = next(s for s in sim.state.services.values() if s.name == "API Gateway")
    fetched = official.rget(f"services/{service.id}")
    assert fetched["id"] == service.id and fetched["name"] == "API Gateway"


def test_create_acknowledge_note_and_resolve(official, sim):
    service = next(s for s in sim.state.services.values() if s.name == "Payments API")
    created = official.rpost("incidents", json={"incident": {
        "type": "incident", "title": "Payments API 5xx above 2%",
        "service": {"id": service.id, "type": "service_reference"}, "urgency": "high"}})
    assert created["status"] == "triggered" and created["assignments"], created
    acked = official.rput(f"incidents/{created['id']}", json={"incident": {
        "type": "incident_reference", "status": "acknowledged"}})
    assert acked["status"] == "acknowledged"
    note = official.rpost(f"incidents/{created['id']}/notes", json={"note": {"content": "Rolled back 4.2.1"}})
    assert note["content"] == "Rolled back 4.2.1"
    resolved = official.rput(f"incidents/{created['id']}", json={"incident": {
        "type": "incident_reference", "status": "resolved"}})
    assert resolved["status"] == "resolved" and resolved["assignments"] == []
    stored = sim.state.incidents[created["id"]]
    assert stored.status == "resolved"
    kinds = [e.type for e in sim.state.log_entries_by_incident[created["id"]]]
    assert kinds[0] == "trigger_log_entry" and "acknowledge_log_entry" in kinds and kinds[-1] == "resolve_log_entry"


def test_lists_oncalls_for_every_policy(official, sim):
    oncalls = list(official.iter_all("oncalls"))
    policies_with_someone = {o["escalation_policy"]["id"] for o in oncalls}
    assert policies_with_someone == set(sim.state.escalation_policies)
    assert all(o["escalation_level"] >= 1 and o["user"]["id"] in sim.state.users for o in oncalls)


def test_missing_from_header_is_refused_as_pagerduty_refuses_it(https_sim, demo_dataset, sim):
    url, context = https_sim
    client = pagerduty.RestApiV2Client(token_for(demo_dataset).token, base_url=url, verify=context)
    service = next(iter(sim.state.services.values()))
    with client, pytest.raises(pagerduty.HttpError) as caught:
        client.rpost("incidents", json={"incident": {"type": "incident", "title": "x",
                                                     "service": {"id": service.id, "type": "service_reference"}}})
    assert caught.value.response.status_code == 400
    assert "From" in caught.value.response.json()["error"]["message"]


def test_reads_the_official_mcp_server_makes_during_triage(official, sim, demo_dataset):
    incident = next(i for i in sim.state.incidents.values() if i.status != "resolved")
    past = official.jget(f"incidents/{incident.id}/past_incidents", params={"limit": 3})
    assert past["limit"] == 3 and all(p["incident"]["id"] in sim.state.incidents for p in past["past_incidents"])
    related = official.jget(f"incidents/{incident.id}/related_incidents")
    assert isinstance(related["related_incidents"], list)
    outlier = official.jget(f"incidents/{incident.id}/outlier_incident")["outlier_incident"]
    assert outlier["incident"]["id"] == incident.id and outlier["incident_template"]["mined_text"]
    schedule = next(iter(sim.state.schedules.values()))
    users = official.rget(f"schedules/{schedule.id}/users")
    assert users and all(u["id"] in sim.state.users for u in users)
    team = demo_dataset.teams[0]
    members = list(official.iter_all(f"teams/{team.id}/members", page_size=2))
    assert {m["user"]["id"] for m in members} == {u.id for u in demo_dataset.users if team.id in u.team_ids}
    alert = next(iter(sim.state.alerts.values()))
    assert official.rget(f"incidents/{alert.incident_id}/alerts/{alert.id}")["id"] == alert.id


def test_iterates_the_audit_trail_by_cursor(official, sim, demo_dataset):
    schedule = next(iter(sim.state.schedules.values()))
    now = sim.now()
    for hour in range(1, 6):
        official.rpost(f"schedules/{schedule.id}/overrides", json={"overrides": [{
            "start": (now + timedelta(hours=hour)).isoformat(),
            "end": (now + timedelta(hours=hour, minutes=30)).isoformat(),
            "user": {"id": demo_dataset.users[1].id, "type": "user_reference"}}]})
    records = list(official.iter_cursor("audit/records", page_size=2))
    assert len(records) == len({r["id"] for r in records}) == 5
    assert all(r["action"] == "create" and r["root_resource"]["id"] == schedule.id for r in records)
