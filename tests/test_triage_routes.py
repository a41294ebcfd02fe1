"""The reads an agent makes during triage: team members, a schedule's users, one alert, past, related and
outlier incidents, and the cursor-paginated audit trail."""

from __future__ import annotations

from datetime import timedelta

from demo_org import NOW, make_client, token_for

from simulator import oncall
from simulator.http import parse_time


def iso(value) -> str:
    return value.isoformat().replace("+00:00", "Z")


def named(sim, collection: str, name: str):
    return next(r for r in getattr(sim.state, collection).values() if r.name == name)


def create(api, sim, service_name: str, title: str) -> dict:
    service = named(sim, "services", service_name)
    response = api.post("/incidents", json={"incident": {
        "type": "incident", "title": title, "service": {"id": service.id, "type": "service_reference"}}})
    assert response.status_code == 201, response.text
    return response.json()["incident"]


def test_team_members_are_its_users_with_their_role(api, sim):
    team = named(sim, "teams", "Payments")
    body = api.get(f"/teams/{team.id}/members", params={"total": "true"}).json()
    expected = sorted((u for u in sim.state.users.values() if team.id in u.team_ids), key=lambda u: u.name)
    assert [m["user"]["id"] for m in body["members"]] == [u.id for u in expected]
    assert body["total"] == len(expected) and body["more"] is False
    roles = {m["user"]["summary"]: m["role"] for m in body["members"]}
    assert roles["Gustavo Ramos"] == "manager" and roles["Freya Lindqvist"] == "responder"
    assert body["members"][0]["user"]["type"] == "user_reference"
    full = api.get(f"/teams/{team.id}/members", params={"include[]": "users", "limit": 1}).json()
    assert full["members"][0]["user"]["email"] == expected[0].email and full["more"] is True
    assert api.get("/teams/PNOPE00/members").status_code == 404


def test_schedule_users_are_whoever_the_final_schedule_puts_on_call_in_the_window(api, sim):
    schedule = named(sim, "schedules", "Payments Primary")
    since, until = NOW, NOW + timedelta(days=3)
    body = api.get(f"/schedules/{schedule.id}/users", params={"since": iso(since), "until": iso(until)}).json()
    expected = list(dict.fromkeys(s.user_id for s in oncall.final_spans(schedule, [], since, until)))
    assert [u["id"] for u in body["users"]] == expected and len(expected) > 1
    assert body["users"][0]["type"] == "user" and "@" in body["users"][0]["email"]
    backwards = {"since": iso(until), "until": iso(since)}
    assert api.get(f"/schedules/{schedule.id}/users", params=backwards).status_code == 400
    assert api.get("/schedules/PNOPE00/users").status_code == 404


def test_one_alert_of_an_incident(api, sim):
    alert = next(a for a in sim.state.alerts.values())
    body = api.get(f"/incidents/{alert.incident_id}/alerts/{alert.id}").json()["alert"]
    assert body["id"] == alert.id and body["incident"]["id"] == alert.incident_id and body["alert_key"]
    other = next(i for i in sim.state.incidents if i != alert.incident_id)
    assert api.get(f"/incidents/{other}/alerts/{alert.id}").status_code == 404
    assert api.get(f"/incidents/{alert.incident_id}/alerts/PNOPE00").status_code == 404


def test_past_incidents_are_the_same_services_similar_earlier_ones_best_first(api, sim):
    incident = create(api, sim, "Payments API", "Payments API 5xx rate above 9%")
    body = api.get(f"/incidents/{incident['id']}/past_incidents", params={"limit": 3, "total": "true"}).json()
    assert body["limit"] == 3 and len(body["past_incidents"]) == 3 and body["total"] >= 3
    scores = [p["score"] for p in body["past_incidents"]]
    assert scores == sorted(scores, reverse=True) and all(0 < s <= 1 for s in scores)
    for past in body["past_incidents"]:
        stored = sim.state.incidents[past["incident"]["id"]]
        assert stored.service_id == sim.state.incidents[incident["id"]].service_id
        assert stored.created_at < NOW and past["incident"]["title"] == stored.title
    # The same title with another number is the best match there is.
    assert body["past_incidents"][0]["incident"]["title"].startswith("Payments API 5xx rate above")
    assert body["past_incidents"][0]["score"] == 1
    assert api.get(f"/incidents/{incident['id']}/past_incidents", params={"limit": 0}).status_code == 400


def test_related_incidents_are_on_other_services_at_the_same_time_and_alike(api, sim):
    mine = create(api, sim, "Payments API", "Card authorization latency p95 above 3s")
    theirs = create(api, sim, "Checkout", "Checkout latency p95 above 3s")
    unlike = create(api, sim, "Checkout", "Orders stuck in queue")
    body = api.get(f"/incidents/{mine['id']}/related_incidents").json()
    related = [r["incident"]["id"] for r in body["related_incidents"]]
    assert theirs["id"] in related and unlike["id"] not in related and mine["id"] not in related
    first = body["related_incidents"][related.index(theirs["id"])]
    assert first["relationships"][0]["type"] == "machine_learning_inferred"
    assert first["relationships"][0]["metadata"]["grouping_classification"] == "similar_contents"
    detailed = api.get(f"/incidents/{mine['id']}/related_incidents",
                       params={"additional_details[]": "incident"}).json()["related_incidents"]
    assert {"status", "service", "incident_number"} <= set(detailed[0]["incident"])
    assert api.get(f"/incidents/{mine['id']}/related_incidents",
                   params={"additional_details[]": "everything"}).status_code == 400


def test_an_incident_never_seen_before_on_its_service_is_an_outlier(api, sim):
    strange = create(api, sim, "Payments API", "Ledger checksum mismatch in shard 7")
    body = api.get(f"/incidents/{strange['id']}/outlier_incident").json()["outlier_incident"]
    assert body["incident_template"]["mined_text"] == "Ledger checksum mismatch in shard <*>"
    assert body["incident"]["occurrence"]["category"] == "outlier"
    assert body["incident"]["occurrence"]["count"] == 1
    again = create(api, sim, "Payments API", "Ledger checksum mismatch in shard 9")
    body = api.get(f"/incidents/{again['id']}/outlier_incident").json()["outlier_incident"]
    assert body["incident"]["occurrence"]["category"] == "rare" and body["incident"]["occurrence"]["count"] == 2
    common = max((i for i in sim.state.incidents.values() if i.title == "Payments API 5xx rate above 1%"),
                 key=lambda i: i.number)
    body = api.get(f"/incidents/{common.id}/outlier_incident",
                   params={"since": iso(NOW - timedelta(days=90))}).json()["outlier_incident"]
    assert body["incident"]["occurrence"]["category"] == "frequent"
    assert api.get(f"/incidents/{common.id}/outlier_incident",
                   params={"since": iso(NOW + timedelta(days=1))}).status_code == 400


def test_override_writes_are_audited_and_paged_by_cursor(sim, demo_dataset, clock):
    schedule = named(sim, "schedules", "Payments Primary")
    user = demo_dataset.users[1]
    with make_client(sim, token_for(demo_dataset), demo_dataset.users[0].email) as api:
        made = []
        for hour in range(5):
            start = NOW + timedelta(days=1, hours=hour)
            response = api.post(f"/schedules/{schedule.id}/overrides", json={"overrides": [
                {"start": iso(start), "end": iso(start + timedelta(minutes=30)),
                 "user": {"id": user.id, "type": "user_reference"}}]})
            made.append(response.json()[0]["override"]["id"])
            clock.advance(60)
        assert api.delete(f"/schedules/{schedule.id}/overrides/{made[0]}").status_code == 204
        pages, cursor = [], None
        while True:
            body = api.get("/audit/records", params={"limit": 2, **({"cursor": cursor} if cursor else {})}).json()
            pages.append(body["records"])
            cursor = body["next_cursor"]
            if cursor is None:
                break
        records = [r for page in pages for r in page]
        assert [len(p) for p in pages] == [2, 2, 2]
        assert [r["action"] for r in records] == ["delete"] + ["create"] * 5
        assert [r["details"]["resource"]["id"] for r in records] == [made[0], *made[::-1]]
        times = [parse_time(r["execution_time"], "t") for r in records]
        assert times == sorted(times, reverse=True)
        assert records[0]["root_resource"]["id"] == schedule.id
        assert records[0]["actors"][0]["id"] == demo_dataset.users[0].id
        assert records[0]["method"]["truncated_token"] == token_for(demo_dataset).token[-4:]
        assert api.get("/audit/records", params={"actions[]": "delete"}).json()["records"][0]["action"] == "delete"
        assert len(api.get(f"/schedules/{schedule.id}/audit/records").json()["records"]) == 6
        other = named(sim, "schedules", "Platform Primary")
        assert api.get(f"/schedules/{other.id}/audit/records").json()["records"] == []
        assert api.get("/audit/records", params={"cursor": "not-a-cursor"}).status_code == 400
        assert api.get("/audit/records", params={"since": iso(NOW - timedelta(days=40)),
                                                 "until": iso(NOW)}).status_code == 400
