"""Services, escalation policies, users, teams and priorities answer as PagerDuty does."""

from __future__ import annotations

from demo_org import make_client, token_for

from simulator.models import Token


def names(body: dict, root: str) -> list[str]:
    return [item["name"] for item in body[root]]


def by_name(sim, collection: str, name: str):
    return next(r for r in getattr(sim.state, collection).values() if r.name == name)


# --- services ---


def test_services_list_is_sorted_paginated_and_totalled(api, demo_dataset):
    body = api.get("/services", params={"total": "true"}).json()
    assert body["total"] == len(demo_dataset.services) and body["more"] is False
    assert names(body, "services") == sorted(names(body, "services"), key=str.lower)
    page = api.get("/services", params={"limit": 3, "offset": 9}).json()
    assert (page["limit"], page["offset"], page["more"], page["total"]) == (3, 9, False, None)
    assert len(page["services"]) == len(demo_dataset.services) - 9
    assert api.get("/services", params={"limit": 3}).json()["more"] is True
    descending = api.get("/services", params={"sort_by": "name:desc"}).json()
    assert names(descending, "services") == sorted(names(body, "services"), key=str.lower, reverse=True)
    bad = api.get("/services", params={"sort_by": "created_at"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == 2001


def test_services_query_name_and_team_filters(api, sim):
    assert names(api.get("/services", params={"query": "PAY"}).json(), "services") == ["Payments API"]
    assert names(api.get("/services", params={"name": "checkout"}).json(), "services") == ["Checkout"]
    payments_team = by_name(sim, "teams", "Payments").id
    body = api.get("/services", params={"team_ids[]": payments_team}).json()
    assert set(names(body, "services")) == {"Payments API", "Checkout"}
    assert api.get("/services", params={"query": "no such service"}).json()["services"] == []


def test_service_shape_and_references(api, sim):
    gateway = by_name(sim, "services", "API Gateway")
    body = api.get(f"/services/{gateway.id}").json()["service"]
    assert body["type"] == "service" and body["summary"] == "API Gateway"
    assert body["self"] == f"https://api.pagerduty.com/services/{gateway.id}"
    assert body["html_url"] == f"https://acme.pagerduty.com/service-directory/{gateway.id}"
    policy = body["escalation_policy"]
    assert policy["type"] == "escalation_policy_reference" and policy["id"] == gateway.escalation_policy_id
    assert [t["type"] for t in body["teams"]] == ["team_reference"]
    assert body["integrations"][0]["type"] == "events_api_v2_inbound_integration_reference"
    assert "integration_key" not in body["integrations"][0]
    assert body["incident_urgency_rule"] == {"type": "constant", "urgency": "high"}


def test_service_includes_expand_references(api, sim):
    gateway = by_name(sim, "services", "API Gateway")
    body = api.get(f"/services/{gateway.id}", params={
        "include[]": ["integrations", "escalation_policies", "teams"]}).json()["service"]
    assert body["integrations"][0]["integration_key"] == gateway.integrations[0].routing_key
    assert body["escalation_policy"]["type"] == "escalation_policy" and body["escalation_policy"]["escalation_rules"]
    assert body["teams"][0]["type"] == "team" and "description" in body["teams"][0]


def test_service_status_follows_its_open_incidents(api, sim):
    search = by_name(sim, "services", "Search")
    for incident in sim.state.incidents.values():  # start from a quiet service
        if incident.service_id == search.id:
            incident.status = "resolved"
    assert api.get(f"/services/{search.id}").json()["service"]["status"] == "active"
    created = api.post("/incidents", json={"incident": {
        "type": "incident", "title": "Search latency", "service": {"id": search.id, "type": "service_reference"}}})
    assert created.status_code == 201, created.text
    incident = created.json()["incident"]
    service = api.get(f"/services/{search.id}").json()["service"]
    assert service["status"] == "critical" and service["last_incident_timestamp"] == incident["created_at"]
    api.put(f"/incidents/{incident['id']}", json={"incident": {"type": "incident_reference",
                                                               "status": "acknowledged"}})
    assert api.get(f"/services/{search.id}").json()["service"]["status"] == "warning"


def test_unknown_ids_are_pagerduty_404s(api):
    for path in ("/services/PNOPE00", "/escalation_policies/PNOPE00", "/users/PNOPE00", "/teams/PNOPE00"):
        response = api.get(path)
        assert response.status_code == 404, path
        assert response.json()["error"]["message"] == "Not Found" and response.json()["error"]["code"] == 2100


# --- escalation policies ---


def test_escalation_policy_shape(api, sim):
    policy = by_name(sim, "escalation_policies", "Platform Escalation")
    body = api.get(f"/escalation_policies/{policy.id}").json()["escalation_policy"]
    assert body["type"] == "escalation_policy" and body["num_loops"] == policy.num_loops
    assert [r["id"] for r in body["escalation_rules"]] == [r.id for r in policy.rules]
    first_target = body["escalation_rules"][0]["targets"][0]
    assert first_target["type"] == "schedule_reference" and first_target["summary"] == "Platform Primary"
    assert body["escalation_rules"][2]["targets"][0]["type"] == "user_reference"
    assert {s["summary"] for s in body["services"]} == {"API Gateway", "Notifications"}
    assert body["teams"][0]["summary"] == "Platform"


def test_escalation_policy_filters_and_includes(api, sim):
    gustavo = by_name(sim, "users", "Gustavo Ramos").id  # direct target of two policies
    direct = names(api.get("/escalation_policies", params={"user_ids[]": gustavo}).json(), "escalation_policies")
    assert direct == ["Checkout Escalation", "Payments Escalation"]
    kavya = by_name(sim, "users", "Kavya Iyer").id  # only ever on call through a schedule
    assert names(api.get("/escalation_policies", params={"user_ids[]": kavya}).json(),
                 "escalation_policies") == ["Data Escalation"]
    security = by_name(sim, "teams", "Security").id
    assert names(api.get("/escalation_policies", params={"team_ids[]": security}).json(),
                 "escalation_policies") == ["Security Escalation"]
    assert names(api.get("/escalation_policies", params={"query": "sun"}).json(),
                 "escalation_policies") == ["SRE Follow the Sun"]
    full = api.get("/escalation_policies", params={"query": "security", "include[]": ["targets", "services"]}).json()
    policy = full["escalation_policies"][0]
    assert policy["escalation_rules"][0]["targets"][0]["type"] == "schedule"
    assert policy["escalation_rules"][1]["targets"][0]["email"].endswith("@acme.example")
    assert policy["services"][0]["type"] == "service" and policy["services"][0]["name"] == "Auth Service"


# --- users ---


def test_users_query_matches_name_or_email_and_teams_filter(api, sim):
    assert names(api.get("/users", params={"query": "olivia"}).json(), "users") == ["Olivia Grant"]
    assert names(api.get("/users", params={"query": "obrien@acme"}).json(), "users") == ["Liam O'Brien"]
    payments = by_name(sim, "teams", "Payments").id
    body = api.get("/users", params={"team_ids[]": payments, "total": "true"}).json()
    assert body["total"] == 4 and all(u["teams"][0]["id"] == payments for u in body["users"])


def test_user_shape(api, demo_dataset):
    user = demo_dataset.users[0]
    body = api.get(f"/users/{user.id}").json()["user"]
    assert (body["id"], body["type"], body["name"], body["email"]) == (user.id, "user", user.name, user.email)
    assert body["time_zone"] == user.time_zone and body["role"] == user.role
    assert body["html_url"] == f"https://acme.pagerduty.com/users/{user.id}"
    with_teams = api.get(f"/users/{user.id}", params={"include[]": "teams"}).json()["user"]
    assert with_teams["teams"][0]["type"] == "team"


def test_users_me_needs_a_user_token(sim, demo_dataset, api):
    answer = api.get("/users/me")
    assert answer.status_code == 400
    assert "account-level access token" in answer.json()["error"]  # what python-pagerduty looks for
    user_token = token_for(demo_dataset, kind="user")
    with make_client(sim, user_token) as client:
        assert client.get("/users/me").json()["user"]["id"] == user_token.user_id
    oauth = token_for(demo_dataset, kind="user", bearer=True, scoped=True)
    with make_client(sim, oauth) as client:
        assert client.get("/users/me").json()["user"]["id"] == oauth.user_id


# --- teams, priorities, scopes ---


def test_teams_and_priorities(api, demo_dataset):
    teams = api.get("/teams").json()
    assert names(teams, "teams") == sorted(t.name for t in demo_dataset.teams)
    assert names(api.get("/teams", params={"query": "mob"}).json(), "teams") == ["Web & Mobile"]
    team = demo_dataset.teams[0]
    assert api.get(f"/teams/{team.id}").json()["team"] == teams["teams"][names(teams, "teams").index(team.name)]
    priorities = api.get("/priorities").json()
    assert names(priorities, "priorities") == ["P1", "P2", "P3", "P4", "P5"]
    assert priorities["priorities"][0]["type"] == "priority"


def test_oauth_scopes_are_enforced_per_operation(sim, demo_dataset):
    read_only = token_for(demo_dataset, kind="user", bearer=True, scoped=True)
    with make_client(sim, read_only) as client:
        for path in ("/services", "/escalation_policies", "/users", "/teams", "/priorities"):
            assert client.get(path).status_code == 200, path
    narrow = Token(token="narrowscopetoken0001", kind="user", user_id=demo_dataset.users[0].id, bearer=True,
                   scopes=["services.read"])
    sim.state.tokens[narrow.token] = narrow
    with make_client(sim, narrow) as client:
        assert client.get("/services").status_code == 200
        denied = client.get("/teams")
        assert denied.status_code == 403 and "teams.read" in denied.json()["error"]["errors"][0]

