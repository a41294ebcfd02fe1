"""Expected values match actual ones the way the tools resolve names: per kind of entity, never a guess."""

from __future__ import annotations

import pytest

from evals.decisions import Human
from evals.matching import Names, matches, same_call, subset
from evals.scenario import Approval, World
from evals.world import build_world


@pytest.fixture(scope="module")
def names() -> Names:
    return Names.of(build_world(World()).sim.state)


def test_a_name_is_read_as_its_kind_so_a_team_never_shadows_a_service(names: Names) -> None:
    payments_api = names.resolve("service", "Payments API")
    assert subset({"service": payments_api}, {"service": "payments"}, names)  # a team is named "Payments" too
    assert subset({"service": "Payments API"}, {"service": payments_api}, names)
    assert not subset({"service": payments_api}, {"service": "Checkout"}, names)


def test_a_schedule_and_a_policy_of_one_name_are_told_apart(names: Names) -> None:
    schedule, policy = names.resolve("schedule", "SRE Follow the Sun"), names.resolve("escalation_policy",
                                                                                        "SRE Follow the Sun")
    assert schedule != policy
    assert subset({"schedule": schedule}, {"schedule": "sre follow the sun"}, names)
    assert subset({"escalation_policy": policy}, {"escalation_policy": "SRE Follow the Sun"}, names)
    assert not subset({"schedule": policy}, {"schedule": "SRE Follow the Sun"}, names)
    assert subset({"schedule": "Web & Mobile"}, {"schedule": names.resolve("schedule", "web & mobile")}, names)


def test_people_match_by_id_name_email_and_login(names: Names) -> None:
    chen = names.resolve("user", "chen.wei@acme.example")
    for other in ("Chen Wei", "chen wei", "chen.wei", "CHEN.WEI@ACME.EXAMPLE", chen):
        assert subset({"assignee": chen}, {"assignee": other}, names), other
    assert matches(["Chen Wei", "Mei Lin"], ["mei.lin@acme.example", chen], names, "user")
    assert not matches(["Chen Wei"], ["Chen Wei", "Mei Lin"], names, "user")


def test_a_name_that_fits_several_entities_matches_nothing_not_even_itself(names: Names) -> None:
    assert not subset({"service": "Data"}, {"service": "Data"}, names)  # Database and Data Pipeline
    assert subset({"service": "Data Pipeline"}, {"service": "data pipeline"}, names)


def test_incidents_match_by_number_or_id_and_responders_by_user_or_policy(names: Names) -> None:
    number, incident_id = next(iter(names.incidents.items()))
    assert subset({"incident": number}, {"incident": incident_id}, names)
    assert subset({"incidents": [f"#{number}"]}, {"incidents": [incident_id.lower()]}, names)
    policy = names.resolve("escalation_policy", "Payments Escalation")
    assert subset({"responders": ["Payments Escalation", "Chen Wei"]},
                  {"responders": ["chen.wei@acme.example", policy]}, names)


def test_values_of_no_entity_compare_as_text(names: Names) -> None:
    assert subset({"title": " #Disk Full "}, {"title": "disk full"}, names)
    assert subset({"service": "PZZZZ99"}, {"service": "pzzzz99"}, names)  # made up, but the same made-up id
    assert subset({"title": {"contains": "disk"}, "urgency": {"any": ["high", "low"]}},
                  {"title": "Disk full on db-2", "urgency": "low"}, names)
    assert same_call({"incident": "PQ1", "action": "resolve"}, {"action": "resolve", "incident": "pq1"}, names)
    assert not same_call({"incident": "PQ1"}, {"incident": "PQ1", "resolution": "x"}, names)


def test_the_robustness_human_approves_only_what_a_rule_describes(names: Names) -> None:
    rules = [Approval(tool="create_incident", match={"service": "API Gateway", "urgency": "high"})]
    human = Human(rules, names, reuse=True)
    gateway = names.resolve("service", "API Gateway")
    assert human.decide("create_incident", {"service": gateway, "urgency": "high"}).verdict == "approve"
    assert human.decide("create_incident", {"service": "api gateway", "urgency": "high"}).rule == 0  # again
    refused = human.decide("create_incident", {"service": "Search", "urgency": "high"})
    assert (refused.verdict, refused.rule) == ("reject", None)
