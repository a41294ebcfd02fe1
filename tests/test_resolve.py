"""Names to ids against the demo account: unique, ambiguous and unknown references, caching and big accounts."""

from __future__ import annotations

import pytest
from demo_org import client_for, policy_id, priority_id, schedule_id, service_id, team_id, user_id

from tools.resolve import Directory, ResolutionError, label, match

API_GATEWAY = service_id("API Gateway")
DANA_ID = user_id("Dana Whitfield")
LIAM_ID = user_id("Liam O'Brien")
P1_PRIORITY = priority_id("P1")
PAYMENTS_API = service_id("Payments API")
PAYMENTS_ESCALATION = policy_id("Payments Escalation")
PAYMENTS_PRIMARY = schedule_id("Payments Primary")
PLATFORM_PRIMARY = schedule_id("Platform Primary")
PLATFORM_SECONDARY = schedule_id("Platform Secondary")
TOM_ID = user_id("Tom Hargreaves")
WEB_MOBILE_TEAM = team_id("Web & Mobile")


@pytest.fixture
def client(sim, demo_dataset):
    with client_for(sim, demo_dataset) as pd:
        yield pd


@pytest.fixture
def directory(client, clock):
    return Directory(client, clock)


@pytest.mark.parametrize(("kind", "ref", "expected"), [
    ("service", API_GATEWAY, API_GATEWAY),  # exact id
    ("service", API_GATEWAY.lower(), API_GATEWAY),  # an id with its case lost
    ("service", "API Gateway", API_GATEWAY),  # exact name
    ("service", "api gateway", API_GATEWAY),  # ignoring case
    ("service", "gateway", API_GATEWAY),  # a word of the name
    ("service", "pay", PAYMENTS_API),  # the start of a word
    ("service", "Paymnets API", PAYMENTS_API),  # a close spelling
    ("user", "dana.whitfield@acme.example", DANA_ID),  # email
    ("user", "DANA.WHITFIELD@acme.example", DANA_ID),
    ("user", "dana.whitfield", DANA_ID),  # the email's local part
    ("user", "Dana", DANA_ID),
    ("user", "liam o'brien", LIAM_ID),
    ("escalation_policy", "Payments Escalation", PAYMENTS_ESCALATION),
    ("schedule", "Payments Primary", PAYMENTS_PRIMARY),
    ("team", "web & mobile", WEB_MOBILE_TEAM),
    ("priority", "p1", P1_PRIORITY),
    ("user", f"Dana Whitfield <dana.whitfield@acme.example> ({DANA_ID})", DANA_ID),  # as `label` names it
    ("schedule", f"Platform Primary ({PLATFORM_PRIMARY})", PLATFORM_PRIMARY),
])
def test_unique_references_resolve(directory, kind, ref, expected):
    assert directory.resolve(kind, ref)["id"] == expected


def test_ambiguous_reference_lists_candidates_with_ids(directory):
    with pytest.raises(ResolutionError) as caught:
        directory.resolve("schedule", "platform")
    error = caught.value
    assert str(error) == (f"'platform' matches 2 schedules: Platform Primary ({PLATFORM_PRIMARY}), "
                          f"Platform Secondary ({PLATFORM_SECONDARY}); pass one id.")
    assert [c["id"] for c in error.candidates] == [PLATFORM_PRIMARY, PLATFORM_SECONDARY]
    assert error.kind == "schedule" and error.ref == "platform"


def test_ambiguous_users_show_their_emails(directory):
    with pytest.raises(ResolutionError, match=r"^'a' matches \d+ users: ") as caught:
        directory.resolve("user", "a")
    assert "<" in str(caught.value) and "@acme.example>" in str(caught.value)


def test_unknown_reference_names_the_lookup_tool_and_the_closest(directory):
    with pytest.raises(ResolutionError) as caught:
        directory.resolve("service", "Paymants")
    assert str(caught.value).startswith(f"No service matches 'Paymants'. Closest: Payments API ({PAYMENTS_API}).")
    assert "Call find_services" in str(caught.value)
    with pytest.raises(ResolutionError, match=r"No escalation policy matches 'zzz'\. Call list_escalation_policies"):
        directory.resolve("escalation_policy", "zzz")


def test_exact_match_beats_a_fuzzy_one():
    entries = [{"id": "P1", "name": "API"}, {"id": "P2", "name": "API Gateway"}, {"id": "P3", "name": "Payments API"}]
    assert [e["id"] for e in match("API", entries)] == ["P1"]
    assert [e["id"] for e in match("api", entries)] == ["P1"]
    assert [e["id"] for e in match("ap", entries)] == ["P1", "P2", "P3"]
    twins = [{"id": "P1", "name": "Core"}, {"id": "P2", "name": "core"}]
    assert [e["id"] for e in match("Core", twins)] == ["P1"]
    assert [e["id"] for e in match("CORE", twins)] == ["P1", "P2"]


def test_one_listing_per_kind_answers_every_lookup_until_the_ttl(directory, sim, clock):
    start = len(sim.request_log)
    for ref in ("API Gateway", "pay", API_GATEWAY, "Checkout"):
        directory.resolve("service", ref)
    assert [(r.method, r.path) for r in sim.request_log[start:]] == [("GET", "/services")]
    clock.advance(60)
    directory.resolve("service", "Search")
    assert len(sim.request_log) == start + 1
    clock.advance(61)  # past the two-minute TTL: read again
    directory.resolve("service", "Search")
    assert len(sim.request_log) == start + 2
    assert directory.get("service", PAYMENTS_API)["name"] == "Payments API"
    assert directory.get("service", "PNOPE00") is None


def test_big_accounts_fall_back_to_a_search(client, clock, sim):
    small = Directory(client, clock, max_listed=3)  # as if the account had more users than are listed
    start = len(sim.request_log)
    assert small.resolve("user", "Tom Hargreaves")["id"] == TOM_ID  # not among the first 3 listed
    assert [(r.path, r.query.get("query")) for r in sim.request_log[start:]] == [
        ("/users", None), ("/users", ["Tom Hargreaves"])]
    assert small.resolve("user", "PZZZZZZ") == {"id": "PZZZZZZ"}  # beyond the listing: PagerDuty will judge it
    with pytest.raises(ResolutionError, match="No user matches 'nobody at all'"):
        small.resolve("user", "nobody at all")


def test_label():
    assert label({"id": "P1", "name": "Dana", "email": "d@x"}) == "Dana <d@x> (P1)"
    assert label({"id": "P2", "summary": "Core"}) == "Core (P2)"
