"""`sim import`: copy an account from a served simulator, serve the copy, and find the same account there."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from demo_org import ACCEPT, NOW, auth_header, make_client, token_for
from servers import running_server

from simulator import Account, Simulator
from simulator.asgi import SimulatorApp
from simulator.datasets import load_dataset
from simulator.importer import AccountReader, ImportFailed, anonymise, build_dataset, read_account, write_dataset

pytestmark = pytest.mark.network


def iso(value) -> str:
    return value.isoformat().replace("+00:00", "Z")


def imported(sim, clock, demo_dataset, tmp_path, *, days: int, rename: bool = False):
    """Import from `sim` served over HTTP with its read-only key, write the file, and serve that file
    in-process on the same clock. Waiting out a 429 moves that clock, so the import honours the rate limit
    without the test sleeping."""
    waits: list[float] = []

    def wait(seconds: float) -> None:
        waits.append(seconds)
        clock.advance(seconds)

    headers = {"Authorization": auth_header(token_for(demo_dataset, access="read-only")), "Accept": ACCEPT}
    with running_server(SimulatorApp(sim)) as url, httpx.Client(base_url=url, headers=headers) as client:
        reader = AccountReader(client, wait)
        data = read_account(reader, clock.now(), days)
    path = tmp_path / "org.yaml"
    write_dataset(build_dataset(anonymise(data) if rename else data), path)
    return Simulator(Account.from_dataset(load_dataset(path)), clock), waits, reader.requests


def same(original, copy, path: str, params: dict | None = None) -> dict:
    mine, theirs = original.get(path, params=params), copy.get(path, params=params)
    assert mine.status_code == theirs.status_code == 200, (path, mine.text[:200], theirs.text[:200])
    assert theirs.json() == mine.json(), (path, first_difference(mine.json(), theirs.json()))
    return mine.json()


def first_difference(mine, theirs, where: str = "") -> str:
    """Where two JSON values first differ, to make a failed comparison readable."""
    if isinstance(mine, dict) and isinstance(theirs, dict):
        for key in sorted(set(mine) | set(theirs)):
            if mine.get(key, "<absent>") != theirs.get(key, "<absent>"):
                return first_difference(mine.get(key, "<absent>"), theirs.get(key, "<absent>"), f"{where}.{key}")
    if isinstance(mine, list) and isinstance(theirs, list) and len(mine) == len(theirs):
        for n, (left, right) in enumerate(zip(mine, theirs, strict=True)):
            if left != right:
                return first_difference(left, right, f"{where}[{n}]")
    return f"{where}: {str(mine)[:150]} != {str(theirs)[:150]}"


@pytest.mark.slow
def test_an_imported_account_serves_every_object_and_the_same_on_call(sim, clock, demo_dataset, tmp_path):
    schedule = next(iter(sim.state.schedules.values()))
    with make_client(sim, token_for(demo_dataset), demo_dataset.users[0].email) as api:  # an override to carry over
        api.post(f"/schedules/{schedule.id}/overrides", json={"overrides": [{
            "start": iso(NOW + timedelta(hours=2)), "end": iso(NOW + timedelta(days=2)),
            "user": {"id": demo_dataset.users[4].id, "type": "user_reference"}}]})
    sim.state.dataset.rate_limits = sim.state.dataset.rate_limits.model_copy(update={"requests_per_minute": 400})
    copy, waits, requests = imported(sim, clock, demo_dataset, tmp_path, days=100)
    assert waits and requests > 400  # it was rate limited, waited as told, and carried on
    for account in (sim, copy):  # compare without 429s
        account.state.dataset.rate_limits = account.state.dataset.rate_limits.model_copy(
            update={"requests_per_minute": 100_000})
    assert len(copy.state.incidents) == len(sim.state.incidents) == 270
    with make_client(sim, token_for(demo_dataset)) as original, make_client(copy, copy.state.dataset.tokens[0]) as new:
        for root in ("users", "teams", "priorities", "escalation_policies", "services", "schedules"):
            listed = same(original, new, f"/{root}", {"limit": 100})[root]
            assert listed
            for item in listed if root != "priorities" else ():  # priorities have no GET by id
                query = {"include[]": "integrations"} if root == "services" else {}
                same(original, new, f"/{root}/{item['id']}", query)
        window = {"since": iso(NOW - timedelta(days=3)), "until": iso(NOW + timedelta(days=30))}
        for item in sim.state.schedules.values():
            same(original, new, f"/schedules/{item.id}", window)
            same(original, new, f"/schedules/{item.id}/overrides", window)
        incidents = []
        for offset in range(0, 300, 100):
            incidents += same(original, new, "/incidents", {"date_range": "all", "limit": 100, "offset": offset})[
                "incidents"]
        assert len(incidents) == 270
        for item in incidents:
            same(original, new, f"/incidents/{item['id']}")
            same(original, new, f"/incidents/{item['id']}/log_entries", {"limit": 100})
            same(original, new, f"/incidents/{item['id']}/notes")
            same(original, new, f"/incidents/{item['id']}/alerts", {"limit": 100})
        for n in range(20):  # who is on call, for every policy and level (policies may come in another order)
            at = {"since": iso(clock.now() - timedelta(days=10) + n * timedelta(hours=61, minutes=7))}
            at["until"] = at["since"]
            rows = [sorted(client.get("/oncalls", params={**at, "limit": 100}).json()["oncalls"],
                           key=lambda o: (o["escalation_policy"]["id"], o["escalation_level"], o["user"]["id"]))
                    for client in (original, new)]
            assert rows[0] == rows[1] and rows[0], first_difference(*rows)
    # The copy is an account of its own: it takes writes, and its new ids do not repeat imported ones.
    with make_client(copy, copy.state.dataset.tokens[0], copy.state.dataset.users[0].email) as new:
        made = new.post("/incidents", json={"incident": {"type": "incident", "title": "after import", "service": {
            "id": next(iter(copy.state.services)), "type": "service_reference"}}})
        assert made.status_code == 201 and made.json()["incident"]["incident_number"] == 271
        assert made.json()["incident"]["id"] not in sim.state.incidents


def test_anonymising_renames_people_everywhere_and_consistently(sim, clock, demo_dataset, tmp_path):
    copy, _, _ = imported(sim, clock, demo_dataset, tmp_path, days=3, rename=True)
    text = (tmp_path / "org.yaml").read_text()
    for user in demo_dataset.users:
        assert user.name not in text and user.email not in text, user.name
    by_id = {u.id: u for u in copy.state.users.values()}
    assert sorted(u.name for u in by_id.values())[:2] == ["User 01", "User 02"]
    first = min(by_id)
    assert by_id[first].name == "User 01" and by_id[first].email == "user01@example.invalid"
    # The same person keeps one pseudonym in what the log says about them.
    entry = next(e for e in copy.state.log_entries if e.type == "notify_log_entry")
    assert entry.summary == f"Notified {by_id[entry.user_id].name}."
    assert copy.state.incidents and all(t.token not in text for t in demo_dataset.tokens)


def test_a_refused_key_or_an_unreachable_account_fails_clearly(sim, demo_dataset):
    refused = {"Authorization": "Token token=not-a-real-key-at-all"}
    with (httpx.Client(transport=sim.transport(), base_url="https://api.pagerduty.com", headers=refused) as client,
          pytest.raises(ImportFailed, match="refused the key")):
        read_account(AccountReader(client, lambda _: None), NOW)
    with (httpx.Client(base_url="http://127.0.0.1:9", timeout=1) as client,
          pytest.raises(ImportFailed, match="cannot reach") as caught):
        read_account(AccountReader(client, lambda _: None), NOW)
    assert "not-a-real-key" not in str(caught.value)


def test_the_import_command_writes_a_dataset_the_simulator_serves(sim, demo_dataset, tmp_path):
    from typer.testing import CliRunner

    from simulator.__main__ import app

    out = tmp_path / "mine.yaml"
    with running_server(SimulatorApp(sim)) as url:
        result = CliRunner().invoke(app, ["import", "--out", str(out), "--api-url", url, "--anonymise"],
                                    env={"PAGERDUTY_API_KEY": token_for(demo_dataset, access="read-only").token})
    assert result.exit_code == 0, result.output
    dataset = load_dataset(out)
    assert len(dataset.users) == len(demo_dataset.users) and dataset.incidents == []
    assert token_for(demo_dataset, access="read-only").token not in out.read_text() + result.output
