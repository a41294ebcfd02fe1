"""PagerDuty's own Python client (PyPI `pagerduty`) runs real flows against the simulator over HTTPS.

The official client refuses plain http, so the simulator is served with a certificate from a
throwaway CA made by trustme. If PagerDuty's client can do its job here, so can anyone's.
"""

from __future__ import annotations

import pagerduty
import pytest
import trustme

from simulator.asgi import SimulatorApp

from conftest import token_for
from servers import running_server

pytestmark = pytest.mark.network


@pytest.fixture
def https_sim(sim, tmp_path):
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.private_key_and_cert_chain_pem.write_to_path(str(cert_path))
    cert.private_key_pem.write_to_path(str(key_path))
    with running_server(SimulatorApp(sim), ssl_certfile=str(cert_path), ssl_keyfile=str(key_path)) as url:
        yield url, _ssl_context(ca)


def _ssl_context(ca: trustme.CA):
    import ssl

    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


@pytest.fixture
def official(https_sim, demo_dataset):
    url, context = https_sim
    token = token_for(demo_dataset)
    client = pagerduty.RestApiV2Client(token.token, default_from=demo_dataset.users[0].email,
                                       base_url=url, verify=context)
    client.max_network_attempts = 1
    return client


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
    with pytest.raises(pagerduty.HttpError) as caught:
        client.rpost("incidents", json={"incident": {"type": "incident", "title": "x",
                                                     "service": {"id": service.id, "type": "service_reference"}}})
    assert caught.value.response.status_code == 400
    assert "From" in caught.value.response.json()["error"]["message"]
