"""Names to ids against the demo account: unique, ambiguous and unknown references, caching and big accounts."""

from __future__ import annotations

import pytest
from conftest import client_for

from tools.resolve import Directory, ResolutionError, label, match


@pytest.fixture
def client(sim, demo_dataset):
    with client_for(sim, demo_dataset) as pd:
        yield pd


@pytest.fixture
def directory(client, clock):
    return Directory(client, clock)


@pytest.mark.parametrize(("kind", "ref", "expected"), [
    ("service", "P567AF0", "P567AF0"),  # exact id
    ("service", "p567af0", "P567AF0"),  # an id with its case lost
    ("service", "API Gateway", "P567AF0"),  # exact name
    ("service", "api gateway", "P567AF0"),  # ignoring case
    ("service", "gateway", "P567AF0"),  # a word of the name
    ("service", "pay", "PWUGXPQ"),  # the start of a word
    ("service", "Paymnets API", "PWUGXPQ"),  # a close spelling
    ("user", "dana.whitfield@acme.example", "P5N0NSY"),  # email
    ("user", "DANA.WHITFIELD@acme.example", "P5N0NSY"),
    ("user", "dana.whitfield", "P5N0NSY"),  # the email's local part
    ("user", "Dana", "P5N0NSY"),
    ("user", "liam o'brien", "P7HW6CL"),
    ("escalation_policy", "Payments Escalation", "PU4A9WY"),
    ("schedule", "Payments Primary", "PWR0LWS"),
    ("team", "web & mobile", "P90ZPMT"),
    ("priority", "p1", "PCGSAJ7"),
])
def test_unique_references_resolve(directory, kind, ref, expected):
    assert directory.resolve(kind, ref)["id"] == expected


def test_ambiguous_reference_lists_candidates_with_ids(directory):
    with pytest.raises(ResolutionError) as caught:
        directory.resolve("schedule", "platform")
    error = caught.value
    assert str(error) == ("'platform' matches 2 schedules: Platform Primary (P0302XS), "
                          "Platform Secondary (PJJXE84); pass one id.")
    assert [c["id"] for c in error.candidates] == ["P0302XS", "PJJXE84"]
    assert error.kind == "schedule" and error.ref == "platform"


def test_ambiguous_users_show_their_emails(directory):
    with pytest.raises(ResolutionError, match=r"^'a' matches \d+ users: ") as caught:
        directory.resolve("user", "a")
    assert "<" in str(caught.value) and "@acme.example>" in str(caught.value)


def test_unknown_reference_names_the_lookup_tool_and_the_closest(directory):
    with pytest.raises(ResolutionError) as caught:
        directory.resolve("service", "Paymants")
    assert str(caught.value).startswith("No service matches 'Paymants'. Closest: Payments API (PWUGXPQ).")
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
    for ref in ("API Gateway", "pay", "P567AF0", "Checkout"):
        directory.resolve("service", ref)
    assert [(r.method, r.path) for r in sim.request_log[start:]] == [("GET", "/services")]
    clock.advance(60)
    directory.resolve("service", "Search")
    assert len(sim.request_log) == start + 1
    clock.advance(61)  # past the two-minute TTL: read again
    directory.resolve("service", "Search")
    assert len(sim.request_log) == start + 2
    assert directory.get("service", "PWUGXPQ")["name"] == "Payments API"
    assert directory.get("service", "PNOPE00") is None


def test_big_accounts_fall_back_to_a_search(client, clock, sim):
    small = Directory(client, clock, max_listed=3)  # as if the account had more users than are listed
    start = len(sim.request_log)
    assert small.resolve("user", "Tom Hargreaves")["id"] == "P6CQ71X"  # not among the first 3 listed
    assert [(r.path, r.query.get("query")) for r in sim.request_log[start:]] == [
        ("/users", None), ("/users", ["Tom Hargreaves"])]
    assert small.resolve("user", "PZZZZZZ") == {"id": "PZZZZZZ"}  # beyond the listing: PagerDuty will judge it
    with pytest.raises(ResolutionError, match="No user matches 'nobody at all'"):
        small.resolve("user", "nobody at all")


def test_label():
    assert label({"id": "P1", "name": "Dana", "email": "d@x"}) == "Dana <d@x> (P1)"
    assert label({"id": "P2", "summary": "Core"}) == "Core (P2)"
