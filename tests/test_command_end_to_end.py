"""Command mode through the real product: `Commander`, the graph, the approval gate, the toolkit and
the simulator's demo organisation. Every command of the grammar must reach the right end state in
PagerDuty (the simulator), with every approval approved — or, when rejected, change nothing."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver

from agent.approvals import Verdict
from agent.commander import Commander, Turn
from agent.planners.command import CommandModel
from agent.planners.grammar import mentioned
from agent.settings import Settings
from simulator.models import Incident
from tools.settings import PagerDutySettings

ME = "bilal.khan@acme.example"  # level 1 for API Gateway at the fixed clock; has open incidents
APPROVER = "olivia.grant@acme.example"


def make_commander(sim: Any, clock: Any, *, read_only: bool = False) -> Commander:
    return Commander.from_settings(Settings(checkpoint_db=":memory:", requester=ME), model=CommandModel(),
                                   transport=sim.transport(), checkpointer=InMemorySaver(), clock=clock,
                                   pagerduty_settings=PagerDutySettings(api_key=None, read_only=read_only))


@pytest.fixture
def commander(sim: Any, clock: Any) -> Iterator[Commander]:
    with make_commander(sim, clock) as c:
        yield c


def run(commander: Commander, text: str, thread: str = "t1", verdict: Verdict = "approve",
        ends: str = "answered") -> tuple[Turn, list[str]]:
    """Send a command and decide every approval it asks for; the final turn (of status `ends`) and what was
    asked."""
    turn = commander.send(thread, text, ME)
    asked = []
    while turn.status == "waiting":
        request = turn.pending[0]
        asked.append(request.tool)
        turn = commander.decide(thread, request.id, verdict, APPROVER, nonce=request.nonce,
                                reason="not now" if verdict == "reject" else None)
    assert turn.status == ends, turn.text
    return turn, asked


def calls(commander: Commander, thread: str = "t1") -> list[tuple[str | None, dict[str, Any] | None]]:
    return [(e.tool, e.arguments) for e in commander.audit(thread) if e.action == "tool_call"]


def incidents(sim: Any, status: str, assignee: str | None = ME) -> list[Incident]:
    """The demo's incidents in this status (assigned to `assignee`, if given), oldest first."""
    user = sim.state.users_by_email[assignee].id if assignee else None
    found = [i for i in sim.state.incidents.values()
             if i.status == status and (user is None or user in [a.user_id for a in i.assignments])]
    return sorted(found, key=lambda i: i.number)


def user_id(sim: Any, email: str) -> str:
    return sim.state.users_by_email[email].id


def by_name(entities: dict[str, Any], name: str) -> str:
    return next(key for key, e in entities.items() if e.name == name)


# --- reads ---------------------------------------------------------------------------------------

READS: list[tuple[str, list[str], list[str]]] = [  # text, tools called in order, phrases in the answer
    ("help", [], ["`ack [INCIDENT…|all|all except INCIDENT…]`", "`override SCHEDULE with USER"]),
    ("services gateway", ["find_services"], ["API Gateway"]),
    ("oncall", ["who_is_on_call"], ["Platform Escalation:", "Payments Escalation:", "Level 1: Bilal Khan"]),
    ("oncall API Gateway", ["who_is_on_call"], [f"Level 1: Bilal Khan ({ME}) via Platform Primary from "]),
    ("who is on call for Payments API?", ["who_is_on_call"], ["Level 1: Jonas Becker"]),
    ("oncall Platform Primary", ["who_is_on_call"] * 3, ["Level 1: Bilal Khan"]),
    ("oncall policy Payments Escalation at tomorrow 09:00", ["who_is_on_call"], ["As of 2026-11-21 09:00 UTC:"]),
    ("oncall Nowhere", ["who_is_on_call"] * 4,
     ["No service, escalation policy, schedule or team is called “Nowhere”"]),
    ("incidents", ["list_incidents"], ["[triggered, high]"]),
    ("incidents mine", ["list_incidents"], ["assigned to Bilal Khan"]),
    ("incidents service Database", ["list_incidents"], ["— Database —"]),
    ("frobnicate", [], ["I didn't understand that. Try e.g. `incidents`"]),
]


@pytest.mark.parametrize(("text", "tools", "phrases"), READS, ids=[r[0] for r in READS])
def test_reads_answer_from_pagerduty_without_approval(commander: Commander, text: str, tools: list[str],
                                                      phrases: list[str]) -> None:
    turn, asked = run(commander, text)
    assert asked == [] and [tool for tool, _ in calls(commander)] == tools
    for phrase in phrases:
        assert phrase in turn.text


@pytest.mark.parametrize("command", ["show #{n}", "timeline {n}", "similar {id}"])
def test_incident_reads_name_the_incident(commander: Commander, sim: Any, command: str) -> None:
    incident = incidents(sim, "triggered")[0]
    turn, _ = run(commander, command.format(n=incident.number, id=incident.id))
    assert f"#{incident.number} [triggered, high] {incident.title}" in turn.text


# --- writes --------------------------------------------------------------------------------------

Check = Callable[[Any, list[Incident]], bool]


def status(sim: Any, incident: Incident) -> str:
    return sim.state.incidents[incident.id].status


WRITES: list[tuple[str, Callable[[Any], list[Incident]], list[str], Check]] = [
    # text ({0}, {1}… are the picked incidents' numbers), pick, approvals asked, end state
    ("ack {0}", lambda s: incidents(s, "triggered")[:1], ["update_incident"],
     lambda s, i: status(s, i[0]) == "acknowledged"),
    ("acknowledge #{0} #{1}", lambda s: incidents(s, "triggered")[:2], ["manage_incidents"],
     lambda s, i: {status(s, x) for x in i} == {"acknowledged"}),
    ("ack", lambda s: incidents(s, "triggered"), ["manage_incidents"],
     lambda s, i: len(i) >= 2 and {status(s, x) for x in i} == {"acknowledged"}),
    ("resolve #{0} rolled back the deploy", lambda s: incidents(s, "acknowledged")[:1], ["update_incident"],
     lambda s, i: status(s, i[0]) == "resolved"
     and any(e.note == "rolled back the deploy" for e in s.state.log_entries_by_incident[i[0].id])),
    ("resolve", lambda s: incidents(s, "triggered") + incidents(s, "acknowledged"), ["manage_incidents"],
     lambda s, i: {status(s, x) for x in i} == {"resolved"} and not incidents(s, "triggered")),
    ("reopen {0}", lambda s: incidents(s, "resolved", None)[-1:], ["update_incident"],
     lambda s, i: status(s, i[0]) == "triggered"),
    ('note {0} "Rolled back v2.3; watching p99"', lambda s: incidents(s, "triggered")[:1], [],
     lambda s, i: [n.content for n in s.state.notes_by_incident[i[0].id]][-1] == "Rolled back v2.3; watching p99"),
    ("escalate {0}", lambda s: incidents(s, "triggered")[:1], ["update_incident"],
     lambda s, i: s.state.incidents[i[0].id].escalation_level == 2),
    ("escalate #{0} level 3", lambda s: incidents(s, "triggered")[:1], ["update_incident"],
     lambda s, i: s.state.incidents[i[0].id].escalation_level == 3),
    ("reassign {0} to alice.moreno@acme.example", lambda s: incidents(s, "triggered")[:1], ["update_incident"],
     lambda s, i: [a.user_id for a in s.state.incidents[i[0].id].assignments]
     == [user_id(s, "alice.moreno@acme.example")]),
    ('reassign {0} to policy "Database Escalation"', lambda s: incidents(s, "triggered")[:1], ["update_incident"],
     lambda s, i: s.state.incidents[i[0].id].escalation_policy_id
     == by_name(s.state.escalation_policies, "Database Escalation")),
    ("urgency {0} low", lambda s: incidents(s, "triggered")[:1], ["update_incident"],
     lambda s, i: s.state.incidents[i[0].id].urgency == "low"),
    ("responders {0} add Alice Moreno, Database Escalation", lambda s: incidents(s, "triggered")[:1],
     ["add_responders"],
     lambda s, i: any({t.id for t in r.targets} == {user_id(s, "alice.moreno@acme.example"),
                                                    by_name(s.state.escalation_policies, "Database Escalation")}
                      for r in s.state.responder_requests.values() if r.incident_id == i[0].id)),
    ("snooze {0} for 2 hours", lambda s: incidents(s, "acknowledged")[:1], ["snooze_incident"],
     lambda s, i: s.state.incidents[i[0].id].snoozed_until == s.clock.now() + timedelta(hours=2)),
    ("merge {1}, {2} into {0}", lambda s: incidents(s, "triggered")[:1] + incidents(s, "acknowledged", None)[:2],
     ["merge_incidents"],
     lambda s, i: all(s.state.incidents[x.id].merged_into == i[0].id and status(s, x) == "resolved" for x in i[1:])),
]


@pytest.mark.parametrize(("text", "pick", "asked", "check"), WRITES, ids=[w[0] for w in WRITES])
def test_writes_reach_pagerduty_after_approval(commander: Commander, sim: Any, text: str,
                                               pick: Callable[[Any], list[Incident]], asked: list[str],
                                               check: Check) -> None:
    chosen = pick(sim)
    assert chosen, "the demo organisation has no incident to try this on"
    turn, approvals = run(commander, text.format(*(i.number for i in chosen)))
    assert approvals == asked
    assert check(sim, chosen), turn.text
    assert not turn.text.startswith(("Error", "Not done")), turn.text


@pytest.mark.parametrize("text", ['trigger "Checkout p99 above 3s" on Checkout low assign me',
                                  "page whoever is on call for Checkout: Checkout p99 above 3s"])
def test_trigger_opens_one_incident_on_the_service(commander: Commander, sim: Any, text: str) -> None:
    before = set(sim.state.incidents)
    turn, asked = run(commander, text)
    (new,) = [sim.state.incidents[i] for i in set(sim.state.incidents) - before]
    # Assigned to the person asking, who also creates it: PagerDuty acknowledges it for them at once.
    status = "acknowledged" if "assign me" in text else "triggered"
    assert asked == ["create_incident"] and turn.text.startswith(f"Triggered: #{new.number} [{status}")
    assert (new.title, new.service_id) == ("Checkout p99 above 3s", by_name(sim.state.services, "Checkout"))
    if "assign me" in text:
        assert new.urgency == "low" and [a.user_id for a in new.assignments] == [user_id(sim, ME)]


@pytest.mark.parametrize(("text", "hours"), [("override Platform Primary with alice.moreno@acme.example for 8h", 8),
                                             ('override "Platform Primary" with Alice Moreno from now until +2h', 2)])
def test_override_puts_the_user_on_call(commander: Commander, sim: Any, text: str, hours: int) -> None:
    before = set(sim.state.overrides)
    _, asked = run(commander, text)
    (new,) = [sim.state.overrides[o] for o in set(sim.state.overrides) - before]
    assert asked == ["create_override"] and new.user_id == user_id(sim, "alice.moreno@acme.example")
    assert new.end - new.start == timedelta(hours=hours)
    turn, _ = run(commander, "oncall schedule Platform Primary", thread="t2")
    assert "Level 1: Alice Moreno" in turn.text


def test_a_rejected_command_changes_nothing_and_says_so(commander: Commander, sim: Any) -> None:
    incident = incidents(sim, "triggered")[0]
    turn, asked = run(commander, f"ack {incident.number}", verdict="reject")
    assert asked == ["update_incident"] and status(sim, incident) == "triggered"
    assert turn.text == f"Not done: Rejected by {APPROVER}: not now. Nothing was changed in PagerDuty."


def test_the_two_step_ack_asks_once_and_runs_list_then_manage(commander: Commander, sim: Any) -> None:
    mine = {i.id for i in incidents(sim, "triggered")}
    run(commander, "ack")
    (listing, listed), (managing, managed) = calls(commander)
    assert (listing, listed) == ("list_incidents", {"assigned_to": ME, "statuses": ["triggered"]})
    assert managing == "manage_incidents" and managed is not None
    assert managed["action"] == "acknowledge" and set(managed["incidents"]) == mine


def test_read_only_mode_refuses_writes_in_words(sim: Any, clock: Any) -> None:
    with make_commander(sim, clock, read_only=True) as read_only:
        incident = incidents(sim, "triggered")[0]
        turn, asked = run(read_only, f"ack {incident.number}")
        assert asked == [] and calls(read_only) == [] and status(sim, incident) == "triggered"
        assert "not allowed here (read-only mode)" in turn.text
        assert "Level 1: Bilal Khan" in run(read_only, "oncall API Gateway", thread="t2")[0].text


# --- an alert pasted in: "… — page whoever is on call" ---------------------------------------------

ALERTS = [("API Gateway latency alert — page whoever is on call", "API Gateway latency alert", "API Gateway",
           "Bilal Khan"),
          ("API Gateway latency alert – page the on-call", "API Gateway latency alert", "API Gateway", "Bilal Khan"),
          ("Payments API error rate spike - page whoever is on call", "Payments API error rate spike",
           "Payments API", "Jonas Becker")]


@pytest.mark.parametrize(("text", "title", "service", "on_call"), ALERTS, ids=[a[0] for a in ALERTS])
def test_an_alert_pages_the_on_call_of_the_service_it_names(commander: Commander, sim: Any, text: str, title: str,
                                                            service: str, on_call: str) -> None:
    before = set(sim.state.incidents)

    asked = commander.send("t1", text, ME)

    assert asked.status == "waiting" and set(sim.state.incidents) == before
    [request] = asked.pending
    assert request.tool == "create_incident"
    assert request.arguments == {"service": by_name(sim.state.services, service), "title": title}
    assert request.summary.startswith(f"Create a HIGH-urgency incident {title!r} on {service}")
    assert f"assigned to {on_call} (on call for {service} now)" in request.summary
    done = commander.decide("t1", request.id, "approve", APPROVER, nonce=request.nonce)

    (new,) = [sim.state.incidents[i] for i in set(sim.state.incidents) - before]
    assert (new.title, new.urgency, new.service_id) == (title, "high", by_name(sim.state.services, service))
    assert [sim.state.users[a.user_id].name for a in new.assignments] == [on_call]
    assert done.status == "answered"
    assert done.text.startswith(f"Triggered: #{new.number} [triggered, high] {title} — {service} — "
                                f"assigned to {on_call} — http")
    assert [tool for tool, _ in calls(commander)] == ["find_services", "create_incident"]


@pytest.mark.parametrize(("text", "question"), [
    ("Disk full on db-7 — page whoever is on call", "Which service is this about? No service name appears in"),
    ("Checkout and Database both slow - page the on-call",
     "The alert names more than one service (Checkout, Database)"),
])
def test_an_alert_without_one_clear_service_is_asked_about_not_guessed(commander: Commander, sim: Any, text: str,
                                                                       question: str) -> None:
    turn, asked = run(commander, text)

    assert asked == [] and turn.text.startswith(question)
    assert "Reply with its name" in turn.text
    assert [tool for tool, _ in calls(commander)] == ["find_services"]
    assert [r for r in sim.request_log if r.is_write] == []


def test_the_answer_to_which_service_continues_the_page(commander: Commander, sim: Any) -> None:
    before = set(sim.state.incidents)
    run(commander, "Disk full on db-7 — page whoever is on call")

    turn, asked = run(commander, "the database one")  # not a command: the answer to the question

    (new,) = [sim.state.incidents[i] for i in set(sim.state.incidents) - before]
    assert asked == ["create_incident"] and turn.text.startswith(f"Triggered: #{new.number}")
    assert (new.title, new.service_id) == ("Disk full on db-7", by_name(sim.state.services, "Database"))


def test_it_is_the_incident_the_conversation_showed_last(commander: Commander, sim: Any) -> None:
    incident = incidents(sim, "triggered")[0]
    run(commander, f"show me incident {incident.number} please")

    turn, asked = run(commander, "ack it thx")

    assert asked == ["update_incident"] and status(sim, incident) == "acknowledged", turn.text


def test_covering_someones_shift_finds_their_schedule_then_overrides_it(commander: Commander, sim: Any) -> None:
    before = set(sim.state.overrides)

    _turn, asked = run(commander, "have Chen Wei cover for Bilal for 4h")

    (new,) = [sim.state.overrides[o] for o in set(sim.state.overrides) - before]
    assert asked == ["create_override"] and new.user_id == user_id(sim, "chen.wei@acme.example")
    assert new.schedule_id == by_name(sim.state.schedules, "Platform Primary")
    assert new.end - new.start == timedelta(hours=4)
    assert [tool for tool, _ in calls(commander)] == ["who_is_on_call", "create_override"]


def test_a_name_that_fits_several_things_is_asked_about_with_the_candidates(commander: Commander) -> None:
    turn, _ = run(commander, "who's on call for schedule platform")
    assert turn.text == ("“platform” fits several schedules: Platform Primary, Platform Secondary. Which one? "
                         "Reply with its name.")
    answered, _ = run(commander, "secondary")
    assert "Level" in answered.text and "Platform" in answered.text
    unknown, _ = run(commander, "incidents on Datbase Replicas", thread="t2")
    assert unknown.text.startswith("No service is called “Datbase Replicas”. The closest: Database")
    assert "Call find_services" not in unknown.text and "(P" not in unknown.text
    again, _ = run(commander, "Database", thread="t2")
    assert "— Database —" in again.text


def test_a_service_name_inside_a_longer_one_is_not_a_second_match() -> None:
    services = [{"id": "P1", "name": "API"}, {"id": "P2", "name": "Payments API"}, {"id": "P3", "name": "Search"}]
    assert [s["id"] for s in mentioned("Payments API error rate spike", services)] == ["P2"]
    assert [s["id"] for s in mentioned("API down, payments api fine", services)] == ["P2", "P1"]
    assert mentioned("Researching", services) == []


def test_a_pagerduty_outage_on_an_approved_change_is_said_plainly_and_audited(commander: Commander,
                                                                             sim: Any) -> None:
    incident = incidents(sim, "triggered")[0]
    sim.add_fault(method="PUT", path=f"/incidents/{incident.id}", status=500)

    turn, asked = run(commander, f"ack {incident.number}", ends="failed")

    assert asked == ["update_incident"] and status(sim, incident) == "triggered"
    assert turn.text.startswith("Not confirmed: asked to update the incident, PagerDuty answered 500")
    assert "may have happened" in turn.text and "Resume this conversation" in turn.text
    [entry] = [e for e in commander.audit("t1") if e.action == "tool_call"]
    assert (entry.actor, entry.outcome.split(":")[0]) == (APPROVER, "failed, not confirmed by PagerDuty")


def test_paging_twice_for_the_same_alert_opens_one_incident_and_says_nothing_new(
        commander: Commander, sim: Any) -> None:
    before = len(sim.state.incidents)
    first, _ = run(commander, "API Gateway latency alert — page whoever is on call")
    again, asked = run(commander, "API Gateway latency alert — page whoever is on call", thread="t2")
    assert first.text.startswith("Triggered: #") and asked == []  # nobody asked to approve the repeat
    assert again.text.startswith("Nothing new:\n#" + first.text.split("#")[1].split(" ")[0])
    assert "nobody was paged again" in again.text
    assert len(sim.state.incidents) == before + 1
