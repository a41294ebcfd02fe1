"""Messages as on-call engineers type them in Slack, each with what command mode must do: the exact tool
calls, or the question it must ask. `python tests/command_corpus.py` prints the figures; the test in
test_command_corpus.py holds them to the bar (>= 90% understood, the rest a useful question, no wrong write).

Outcomes: understood (the expected calls, or the expected question), asked (no call, a reply that shows
a way forward), wrong read, wrong write (any write call other than the expected one; the worst).
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from dataclasses import dataclass
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage

from agent.planners.command import CommandModel
from tools.registry import TOOLS

ME = "kavya.iyer@acme.example"
NOW = "2026-11-20 12:00"  # a Friday, as the graph says it: "Current time: … UTC"
ALIASES = {"db": "Database", "gw": "API Gateway", "gateway": "API Gateway", "pay": "Payments API",
           "primary": "Platform Primary"}
WRITES = frozenset(t.name for t in TOOLS.values() if t.kind == "write")


@dataclass(frozen=True)
class Case:
    text: str
    expect: list[tuple[str, dict[str, Any]]] | str  # the calls, or a phrase of the question asked
    intent: str
    shown: tuple[int, ...] = ()  # incidents the conversation showed before (for "it")
    tz: str | None = None  # the requester's zone setting


def c(text: str, intent: str, *calls: tuple[str, dict[str, Any]], shown: tuple[int, ...] = (),
      tz: str | None = None) -> Case:
    return Case(text, list(calls), intent, shown, tz)


def q(text: str, intent: str, question: str, shown: tuple[int, ...] = ()) -> Case:
    return Case(text, question, intent, shown)


def upd(incident: str, action: str, **more: Any) -> tuple[str, dict[str, Any]]:
    return ("update_incident", {"incident": incident, "action": action, **more})


def oncall(**args: Any) -> tuple[str, dict[str, Any]]:
    return ("who_is_on_call", args)


def page(service: str, title: str) -> tuple[str, dict[str, Any]]:
    return ("create_incident", {"service": service, "title": title})


def listing(**args: Any) -> tuple[str, dict[str, Any]]:
    return ("list_incidents", args)


MINE_TRIGGERED = listing(assigned_to=ME, statuses=["triggered"])
MINE_OPEN = listing(assigned_to=ME, statuses=["triggered", "acknowledged"])

CORPUS: list[Case] = [
    # --- services
    c("services", "services", ("find_services", {})),
    c("what services do we have?", "services", ("find_services", {})),
    c("list services pls", "services", ("find_services", {})),
    c("find service checkout", "services", ("find_services", {"query": "checkout"})),
    c("search services for gateway", "services", ("find_services", {"query": "API Gateway"})),
    c("which services match 'pay'", "services", ("find_services", {"query": "pay"})),
    c("show me all the services", "services", ("find_services", {})),
    # --- who is on call
    c("who's on call", "oncall", oncall()),
    c("whos oncall rn?", "oncall", oncall()),
    c("who is on call for Payments API?", "oncall", oncall(service="Payments API")),
    c("who's on call for Platform Primary in 2h", "oncall", oncall(service="Platform Primary", at="in 2h")),
    c("who's got the pager for search", "oncall", oncall(service="search")),
    c("am I on call", "oncall", oncall(user=ME)),
    q("am i on call this weekend?", "oncall", "but not “this weekend”"),
    c("when am I next on call", "oncall", oncall(user=ME)),
    c("when's my next shift", "oncall", oncall(user=ME)),
    c("when is Chen on call next?", "oncall", oncall(user="Chen")),
    c("is bilal on call tomorrow 9am", "oncall", oncall(user="bilal", at="tomorrow 9am")),
    c("who is on call for the gateway at 3am PST", "oncall", oncall(service="API Gateway", at="3am PST")),
    c("who's on call for db tonight", "oncall", oncall(service="Database", at="tonight")),
    c("oncall schedule Platform Secondary at 9am tomorrow", "oncall",
      oncall(schedule="Platform Secondary", at="9am tomorrow")),
    c("who is on call for the data team", "oncall", oncall(team="data")),
    c("who's primary for checkout next monday 10:00", "oncall", oncall(service="checkout", at="next monday 10:00")),
    c("who's on call for search at 09:00 Europe/Berlin", "oncall", oncall(service="search", at="09:00 Europe/Berlin")),
    c("who is on call tomorrow at 9", "oncall", oncall(at="tomorrow at 9", time_zone="Europe/Berlin"),
      tz="Europe/Berlin"),
    c("who do I page for payments", "oncall", oncall(service="payments")),
    q("who is on call for payments during the holidays", "oncall", "but not “during the holidays”"),
    c("@ic whos on call for Auth Service 🙏", "oncall", oncall(service="Auth Service")),
    # --- incidents
    c("incidents", "incidents", listing()),
    c("my incidents pls", "incidents", listing(assigned_to=ME)),
    c("what's open on API Gateway?", "incidents", listing(service="API Gateway")),
    c("list triggered incidents", "incidents", listing(statuses=["triggered"])),
    c("show me acked incidents", "incidents", listing(statuses=["acknowledged"])),
    c("what's open?", "incidents", listing()),
    c("anything open for db?", "incidents", listing(service="Database")),
    c("whats on fire right now", "incidents", listing()),
    c("any open incidents", "incidents", listing()),
    c("incidents for the payments team", "incidents", listing(team="payments")),
    c("high urgency incidents", "incidents", listing(urgency="high")),
    c("what's assigned to me", "incidents", listing(assigned_to=ME)),
    c("show resolved incidents", "incidents", listing(statuses=["resolved"])),
    c("incidents assigned to Chen Wei", "incidents", listing(assigned_to="Chen Wei")),
    c("Incidents on Checkout", "incidents", listing(service="Checkout")),
    # --- one incident
    c("show me incident 268 please", "show", ("get_incident", {"incident": "268"})),
    c("show #268", "show", ("get_incident", {"incident": "268"})),
    c("details on 268", "show", ("get_incident", {"incident": "268"})),
    c("what's going on with #271?", "show", ("get_incident", {"incident": "271"})),
    c("pull up px001zp", "show", ("get_incident", {"incident": "PX001ZP"})),
    c("#268?", "show", ("get_incident", {"incident": "268"})),
    c("tell me about incident 273", "show", ("get_incident", {"incident": "273"})),
    c("status of 268", "show", ("get_incident", {"incident": "268"})),
    q("show it again", "show", "Did you mean `show INCIDENT`", shown=(273,)),
    # --- page / trigger
    c("pls page the on-call for Database: replica lag 90s thanks", "trigger",
      page("Database", "replica lag 90s")),
    c("page db: replica lag 90s", "trigger", page("Database", "replica lag 90s")),
    c("page whoever is on call for Search - heap above 95%", "trigger",
      page("Search", "heap above 95%")),
    c("Checkout p99 above 3s — page whoever is on call", "trigger", ("find_services", {})),
    c("open an incident on Payments API: card declines spiking", "trigger",
      page("Payments API", "card declines spiking")),
    c('trigger "Login errors" on Auth Service high', "trigger",
      ("create_incident", {"title": "Login errors", "service": "Auth Service", "urgency": "high"})),
    c("wake up the on-call for notifications about push delays", "trigger",
      page("notifications", "push delays")),
    c("page the db team about replica lag", "trigger",
      page("Database", "replica lag")),
    q("page the db team", "trigger", "What should the page for Database say?"),
    c("declare an incident for Data Pipeline: nightly job stuck", "trigger",
      page("Data Pipeline", "nightly job stuck")),
    c("create incident 'cache stampede' on Frontend Cache low", "trigger",
      ("create_incident", {"title": "cache stampede", "service": "Frontend Cache", "urgency": "low"})),
    # --- acknowledge
    c("ack 268", "ack", upd("268", "acknowledge")),
    c("ack #268 pls", "ack", upd("268", "acknowledge")),
    c("acknowledge 268, 271 and 273", "ack", ("manage_incidents", {"incidents": ["268", "271", "273"],
                                                                   "action": "acknowledge"})),
    c("ack it", "ack", upd("PQ00273", "acknowledge"), shown=(273,)),
    c("ack that one thx", "ack", upd("PQ00273", "acknowledge"), shown=(273,)),
    q("ack it", "ack", "Which one?", shown=(268, 271)),
    q("ack it", "ack", "Which incident?"),
    c("ack all mine", "ack", MINE_TRIGGERED),
    c("ack everything", "ack", MINE_TRIGGERED),
    c("ack all except #268", "ack", MINE_TRIGGERED),
    c("I'm on 271", "ack", upd("271", "acknowledge")),
    c("can you ack 268 please 🙏", "ack", upd("268", "acknowledge")),
    c("<@U024BE7LH> ack PX001ZP", "ack", upd("PX001ZP", "acknowledge")),
    q("ack 268 for 2h", "ack", "but not “for 2h”"),
    c("Acknowledge #271!", "ack", upd("271", "acknowledge")),
    # --- resolve
    c("resolve 269", "resolve", upd("269", "resolve")),
    c("Resolve #269 thanks", "resolve", upd("269", "resolve")),
    c("resolve 269 pls", "resolve", upd("269", "resolve")),
    c("close out #269", "resolve", upd("269", "resolve")),
    c("mark 269 resolved", "resolve", upd("269", "resolve")),
    c("mark 269 as fixed: bad config rolled back", "resolve",
      upd("269", "resolve", resolution="bad config rolled back")),
    c("close it", "resolve", upd("PQ00269", "resolve"), shown=(269,)),
    c("269 is fixed", "resolve", upd("269", "resolve")),
    c("resolve #269: restarted the consumer", "resolve", upd("269", "resolve", resolution="restarted the consumer")),
    c("resolve 269 rolled back v2.3", "resolve", upd("269", "resolve", resolution="rolled back v2.3")),
    c("resolve all except #268", "resolve", MINE_OPEN),
    c("resolve all mine but 268 and 270", "resolve", MINE_OPEN),
    c("resolve everything of mine", "resolve", MINE_OPEN),
    q("resolve 269 in 2h", "resolve", "but not “in 2h”"),
    q("resolve 269 tomorrow", "resolve", "but not “tomorrow”"),
    q("close the gateway one", "resolve", "Did you mean"),
    c("resolve 269 and 270 – duplicate alerts", "resolve",
      ("manage_incidents", {"incidents": ["269", "270"], "action": "resolve", "resolution": "duplicate alerts"})),
    c("close 269 with note: cert renewed", "resolve", upd("269", "resolve", resolution="cert renewed")),
    # --- reopen
    c("reopen 266", "reopen", upd("266", "reopen")),
    c("re-open #266 pls", "reopen", upd("266", "reopen")),
    c("retrigger 266", "reopen", upd("266", "reopen")),
    c("reopen it", "reopen", upd("PQ00266", "reopen"), shown=(266,)),
    c("unresolve incident 266", "reopen", upd("266", "reopen")),
    # --- notes
    c("add a note to 268: failover done", "note", ("add_note", {"incident": "268", "content": "failover done"})),
    c("note 268 - replica promoted", "note", ("add_note", {"incident": "268", "content": "replica promoted"})),
    c("comment on #268 saying customer comms sent", "note",
      ("add_note", {"incident": "268", "content": "customer comms sent"})),
    c('note it: "waiting on AWS support"', "note",
      ("add_note", {"incident": "PQ00268", "content": "waiting on AWS support"}), shown=(268,)),
    c("post an update on 271: mitigation in place, monitoring", "note",
      ("add_note", {"incident": "271", "content": "mitigation in place, monitoring"})),
    c("add note to 268 looking at the slow query log", "note",
      ("add_note", {"incident": "268", "content": "looking at the slow query log"})),
    q("add a note to 268", "note", "Did you mean"),
    # --- escalate
    c("escalate 268", "escalate", upd("268", "escalate")),
    c("escalate #268 to level 2", "escalate", upd("268", "escalate", escalation_level=2)),
    c("escalate it", "escalate", upd("PQ00268", "escalate"), shown=(268,)),
    c("bump 268 to the next level", "escalate", upd("268", "escalate")),
    c("pls escalate 271 to lvl 3", "escalate", upd("271", "escalate", escalation_level=3)),
    c("send 268 up", "escalate", upd("268", "escalate")),
    # --- reassign
    c("reassign 268 to Chen", "reassign", upd("268", "reassign", assignee="Chen")),
    c("hand 268 over to Chen Wei", "reassign", upd("268", "reassign", assignee="Chen Wei")),
    c("hand over #271 to mei.lin@acme.example", "reassign", upd("271", "reassign", assignee="mei.lin@acme.example")),
    c("assign 268 to me", "reassign", upd("268", "reassign", assignee=ME)),
    c("give it to bilal", "reassign", upd("PQ00268", "reassign", assignee="bilal"), shown=(268,)),
    c("reassign 268 to the db team", "reassign", upd("268", "reassign", escalation_policy="Database")),
    c("transfer #271 to policy Payments Escalation", "reassign",
      upd("271", "reassign", escalation_policy="Payments Escalation")),
    # --- urgency
    c("set urgency of #268 to low pls", "urgency", upd("268", "set_urgency", urgency="low")),
    c("urgency 268 high", "urgency", upd("268", "set_urgency", urgency="high")),
    c("make 268 low urgency", "urgency", upd("268", "set_urgency", urgency="low")),
    c("lower the urgency of 271", "urgency", upd("271", "set_urgency", urgency="low")),
    c("downgrade 271 to low", "urgency", upd("271", "set_urgency", urgency="low")),
    c("bump 268 to high urgency", "urgency", upd("268", "set_urgency", urgency="high")),
    q("set urgency of 268 to medium", "urgency", "Did you mean"),
    # --- responders
    c("loop in Chen on 268", "responders", ("add_responders", {"incident": "268", "responders": ["Chen"]})),
    c("add Mei Lin and Bilal to #268", "responders", ("add_responders", {"incident": "268",
                                                                        "responders": ["Mei Lin", "Bilal"]})),
    c("pull in the db team on 271", "responders", ("add_responders", {"incident": "271", "responders": ["Database"]})),
    c("responders 268 add Security Escalation", "responders",
      ("add_responders", {"incident": "268", "responders": ["Security Escalation"]})),
    c("get jonas in on it", "responders", ("add_responders", {"incident": "PQ00268", "responders": ["jonas"]}),
      shown=(268,)),
    c("page alice for 271", "responders", ("add_responders", {"incident": "271", "responders": ["alice"]})),
    # --- snooze
    c("snooze 268 2h", "snooze", ("snooze_incident", {"incident": "268", "duration": "2h"})),
    c("snooze it for 30 min", "snooze", ("snooze_incident", {"incident": "PQ00268", "duration": "30m"}), shown=(268,)),
    c("snooze #268 for an hour", "snooze", ("snooze_incident", {"incident": "268", "duration": "1h"})),
    c("mute 271 for 45 minutes", "snooze", ("snooze_incident", {"incident": "271", "duration": "45m"})),
    c("snooze 268 until 5pm", "snooze", ("snooze_incident", {"incident": "268", "duration": "300m"})),
    q("snooze 268", "snooze", "For how long?"),
    q("snooze 268 30", "snooze", "say e.g. `30m`"),
    # --- merge
    c("merge 269 into 268", "merge", ("merge_incidents", {"sources": ["269"], "target": "268"})),
    c("merge #269, #270 into #268", "merge", ("merge_incidents", {"sources": ["269", "270"], "target": "268"})),
    c("269 is a dup of 268", "merge", ("merge_incidents", {"sources": ["269"], "target": "268"})),
    c("fold 270 into 268 pls", "merge", ("merge_incidents", {"sources": ["270"], "target": "268"})),
    c("merge it into 268", "merge", ("merge_incidents", {"sources": ["PQ00270"], "target": "268"}), shown=(270,)),
    c("269 and 270 are duplicates of 268", "merge", ("merge_incidents", {"sources": ["269", "270"], "target": "268"})),
    # --- override / cover / swap
    c("override Platform Primary with Chen Wei for 8h", "override",
      ("create_override", {"schedule": "Platform Primary", "user": "Chen Wei", "end": "+8h"})),
    c("put Chen on call for Platform Primary until 9am tomorrow", "override",
      ("create_override", {"schedule": "Platform Primary", "user": "Chen", "end": "9am tomorrow"})),
    c("have bilal cover Payments Primary from 22:00 tonight for 4h", "override",
      ("create_override", {"schedule": "Payments Primary", "user": "bilal", "start": "22:00 tonight", "end": "+4h"})),
    c("I'll cover primary tonight till 9am tomorrow", "override",
      ("create_override", {"schedule": "Platform Primary", "user": ME, "start": "tonight", "end": "9am tomorrow"})),
    q("I'll cover Platform Primary tonight", "override", "Until when?"),
    c("swap alice's shift with bob tomorrow 9-17", "override",
      oncall(user="alice", at="tomorrow 09:00")),
    c("i'll cover for mei until 18:00", "override", oncall(user="mei", at="now")),
    c("cover Security On-Call with Olivia from 3am PST for 6h", "override",
      ("create_override", {"schedule": "Security On-Call", "user": "Olivia", "start": "3am PST", "end": "+6h"})),
    c("override \"Web & Mobile\" with Sofia Russo until friday 17:00", "override",
      ("create_override", {"schedule": "Web & Mobile", "user": "Sofia Russo", "end": "friday 17:00",
                           "time_zone": "America/New_York"}), tz="America/New_York"),
    q("override Platform Primary with Chen until someday", "override", "but not “until someday”"),
    # --- timeline / post-mortem
    c("timeline 26", "timeline", ("incident_timeline", {"incident": "26"})),
    c("postmortem 26", "timeline", ("incident_timeline", {"incident": "26"})),
    c("what happened in incident 26?", "timeline", ("incident_timeline", {"incident": "26"})),
    c("post-mortem for #268", "timeline", ("incident_timeline", {"incident": "268"})),
    c("show the timeline of it", "timeline", ("incident_timeline", {"incident": "PQ00268"}), shown=(268,)),
    c("history of 268 pls", "timeline", ("incident_timeline", {"incident": "268"})),
    c("what happened with 271", "timeline", ("incident_timeline", {"incident": "271"})),
    # --- similar
    c("similar 268", "similar", ("similar_incidents", {"incident": "268"})),
    c("has 268 happened before?", "similar", ("similar_incidents", {"incident": "268"})),
    c("anything like #271 before", "similar", ("similar_incidents", {"incident": "271"})),
    c("seen this before?", "similar", ("similar_incidents", {"incident": "PQ00268"}), shown=(268,)),
    c("similar incidents to 268", "similar", ("similar_incidents", {"incident": "268"})),
    c("past incidents like it", "similar", ("similar_incidents", {"incident": "PQ00271"}), shown=(271,)),
    # --- written without looking at the grammar, kept as they came out
    c("hey, who's covering payments tonight?", "oncall", oncall(service="payments", at="tonight")),
    c("is anyone on call for checkout rn", "oncall", oncall(service="checkout")),
    c("who's the on-call for the auth service", "oncall", oncall(service="auth service")),
    c("what incidents are open", "incidents", listing()),
    c("list my open incidents please", "incidents", listing(assigned_to=ME)),
    c("show all triggered incidents on Search", "incidents", listing(statuses=["triggered"], service="Search")),
    c("give me the details of 271", "show", ("get_incident", {"incident": "271"})),
    c("can you show me 268", "show", ("get_incident", {"incident": "268"})),
    c("whats the status of #271", "show", ("get_incident", {"incident": "271"})),
    c("ack 271 and 273 pls", "ack", ("manage_incidents", {"incidents": ["271", "273"], "action": "acknowledge"})),
    c("acking 273", "ack", upd("273", "acknowledge")),
    c("ok ack all my stuff", "ack", MINE_TRIGGERED),
    c("resolve 273, root cause was a bad deploy", "resolve",
      upd("273", "resolve", resolution="root cause was a bad deploy")),
    c("please close #273 - fixed by rollback", "resolve", upd("273", "resolve", resolution="fixed by rollback")),
    c("mark #273 as resolved", "resolve", upd("273", "resolve")),
    c("closing 273", "resolve", upd("273", "resolve")),
    q("resolved 273", "resolve", "Did you mean `resolve 273`? Reply `yes`"),
    q("re-open 266 it came back", "reopen", "but not “it came back”"),
    q("reopen #266 pls, it's back", "reopen", "but not “pls, it's back”"),
    c('add note to 271 "db failover complete"', "note",
      ("add_note", {"incident": "271", "content": "db failover complete"})),
    c("leave a comment on 271: waiting on vendor", "note",
      ("add_note", {"incident": "271", "content": "waiting on vendor"})),
    q("escalate 271 pls its getting worse", "escalate", "but not “pls its getting worse”"),
    q("escalate this to level 2", "escalate", "Which incident?"),
    c("reassign #271 to Mei", "reassign", upd("271", "reassign", assignee="Mei")),
    c("give 271 to the payments team", "reassign", upd("271", "reassign", escalation_policy="payments")),
    c("hand off 273 to Alice Moreno", "reassign", upd("273", "reassign", assignee="Alice Moreno")),
    c("make #271 high urgency", "urgency", upd("271", "set_urgency", urgency="high")),
    c("urgency low for 273", "urgency", upd("273", "set_urgency", urgency="low")),
    c("set 273 to low", "urgency", upd("273", "set_urgency", urgency="low")),
    c("bring Olivia in on 271", "responders", ("add_responders", {"incident": "271", "responders": ["Olivia"]})),
    c("add the db team to #271", "responders", ("add_responders", {"incident": "271", "responders": ["Database"]})),
    c("snooze #271 1h", "snooze", ("snooze_incident", {"incident": "271", "duration": "1h"})),
    c("snooze 271 for 2 hours please", "snooze", ("snooze_incident", {"incident": "271", "duration": "2h"})),
    c("merge 273 into 271", "merge", ("merge_incidents", {"sources": ["273"], "target": "271"})),
    c("273 is the same as 271", "merge", ("merge_incidents", {"sources": ["273"], "target": "271"})),
    c("Bilal will cover Platform Primary until 9am tomorrow", "override",
      ("create_override", {"schedule": "Platform Primary", "user": "Bilal", "end": "9am tomorrow"})),
    c("can you put me on call for Payments Primary for 4h", "override",
      ("create_override", {"schedule": "Payments Primary", "user": ME, "end": "+4h"})),
    q("swap my shift with Chen tomorrow", "override", "Until when?"),
    c("postmortem for incident 271 please", "timeline", ("incident_timeline", {"incident": "271"})),
    c("what happened during 271", "timeline", ("incident_timeline", {"incident": "271"})),
    c("have we seen 271 before?", "similar", ("similar_incidents", {"incident": "271"})),
    c("anything similar to 271?", "similar", ("similar_incidents", {"incident": "271"})),
    c("page payments: checkout failing for EU customers", "trigger",
      page("payments", "checkout failing for EU customers")),
    c("Search is down, page whoever is on call", "trigger", ("find_services", {})),
    c("need to page someone for Database, replication broken", "trigger",
      page("Database", "replication broken")),
    c("trigger an incident on Checkout: 502s from the LB", "trigger",
      page("Checkout", "502s from the LB")),
    c("who is on call", "oncall", oncall()),
    # --- a second batch written without looking at the grammar
    q("note that 268 is fixed", "note", "Did you mean `note INCIDENT: TEXT`"),
    c("yo who has the pager for api gateway", "oncall", oncall(service="api gateway")),
    c("pls list all incidents for payments api", "incidents", listing(service="payments api")),
    c("what's triggered right now", "incidents", listing(statuses=["triggered"])),
    c("anything assigned to me?", "incidents", listing(assigned_to=ME)),
    c("gimme 268", "show", ("get_incident", {"incident": "268"})),
    c("268 status?", "show", ("get_incident", {"incident": "268"})),
    c("PAGE DATABASE: disk 95% on db-3", "trigger", page("DATABASE", "disk 95% on db-3")),
    c("open incident for Search - indexing lag 20m, high urgency", "trigger",
      ("create_incident", {"service": "Search", "title": "indexing lag 20m", "urgency": "high"})),
    c("ack them all", "ack", ("manage_incidents", {"incidents": ["PQ00268", "PQ00271"], "action": "acknowledge"}),
      shown=(268, 271)),
    q("resolve both", "resolve", "Which incidents? I haven't shown any"),
    c("ack 268 & 271", "ack", ("manage_incidents", {"incidents": ["268", "271"], "action": "acknowledge"})),
    c("resolve 268 — false alarm", "resolve", upd("268", "resolve", resolution="false alarm")),
    c("268 resolved", "resolve", upd("268", "resolve")),
    c("fixed 271, was a bad cert", "resolve", upd("271", "resolve", resolution="was a bad cert")),
    c("close #271 please, duplicate of 268", "resolve", upd("271", "resolve", resolution="duplicate of 268")),
    c("note on 268 - customer impact confirmed", "note",
      ("add_note", {"incident": "268", "content": "customer impact confirmed"})),
    q("escalate #273 it's been 20 min", "escalate", "but not “it's been 20 min”"),
    c("reassign 273 to chen.wei@acme.example pls", "reassign",
      upd("273", "reassign", assignee="chen.wei@acme.example")),
    c("handover 273 to Mei", "reassign", upd("273", "reassign", assignee="Mei")),
    c("set 273 urgency low", "urgency", upd("273", "set_urgency", urgency="low")),
    c("pull in security on 273", "responders", ("add_responders", {"incident": "273", "responders": ["security"]})),
    c("snooze 273 for 90m", "snooze", ("snooze_incident", {"incident": "273", "duration": "90m"})),
    c("snooze 273 till tomorrow 9am", "snooze", ("snooze_incident", {"incident": "273", "duration": "1260m"})),
    c("merge 274 273 into 271", "merge", ("merge_incidents", {"sources": ["274", "273"], "target": "271"})),
    c("cover Platform Primary with Gustavo from 18:00 to 23:00", "override",
      ("create_override", {"schedule": "Platform Primary", "user": "Gustavo", "start": "18:00", "end": "23:00"})),
    q("I can take Platform Primary tonight from 22:00 for 6h", "override", "but not “tonight”"),
    c("who was on call yesterday at 3am for Database", "oncall", oncall(at="yesterday at 3am", service="Database")),
    c("timeline for #271", "timeline", ("incident_timeline", {"incident": "271"})),
    c("similar to 271?", "similar", ("similar_incidents", {"incident": "271"})),
    # --- a third batch written without looking at the grammar (the last incident shown: 273)
    c("whos on call for payments api right now pls", "oncall", oncall(service="payments api")),
    c("who's on call next tuesday for Security On-Call", "oncall",
      oncall(at="next tuesday", service="Security On-Call")),
    c("is jonas on call this week", "oncall", oncall(user="jonas", at="this week")),
    c("show me open incidents for checkout", "incidents", listing(service="checkout")),
    c("list high urgency open incidents", "incidents", listing(urgency="high")),
    c("any new incidents?", "incidents", listing()),
    c("what's the latest on 273", "show", ("get_incident", {"incident": "273"})),
    c("details for incident #271 thx", "show", ("get_incident", {"incident": "271"})),
    c("page the checkout on-call: payment page 500s", "trigger", page("checkout", "payment page 500s")),
    c('Trigger incident "Kafka lag" on Data Pipeline', "trigger",
      ("create_incident", {"title": "Kafka lag", "service": "Data Pipeline"})),
    c("someone page database, primary is down!!", "trigger", page("database", "primary is down")),
    q("ack 273 pls, looking", "ack", "but not “pls, looking”"),
    c("acknowledge my incidents", "ack", MINE_TRIGGERED),
    c("I've got 273", "ack", upd("273", "acknowledge")),
    c("close 271 and 273", "resolve", ("manage_incidents", {"incidents": ["271", "273"], "action": "resolve"})),
    c("resolve 271: upstream provider fixed it", "resolve",
      upd("271", "resolve", resolution="upstream provider fixed it")),
    c("resolve it, false positive", "resolve", upd("PQ00273", "resolve", resolution="false positive"), shown=(273,)),
    c("reopen 271 please", "reopen", upd("271", "reopen")),
    c("add note to #273: rollback started 14:02", "note",
      ("add_note", {"incident": "273", "content": "rollback started 14:02"})),
    c("note: 273 root cause identified", "note", ("add_note", {"incident": "273", "content": "root cause identified"})),
    c("escalate 273 now", "escalate", upd("273", "escalate")),
    c("escalate 273 to level two", "escalate", upd("273", "escalate", escalation_level=2)),
    c("reassign 273 to Noah", "reassign", upd("273", "reassign", assignee="Noah")),
    c("assign #273 to priya.sharma@acme.example", "reassign",
      upd("273", "reassign", assignee="priya.sharma@acme.example")),
    c("urgency high on 271", "urgency", upd("271", "set_urgency", urgency="high")),
    c("lower urgency 273", "urgency", upd("273", "set_urgency", urgency="low")),
    c("add Freya as responder to 273", "responders", ("add_responders", {"incident": "273", "responders": ["Freya"]})),
    c("snooze 273 for 1 hour", "snooze", ("snooze_incident", {"incident": "273", "duration": "1h"})),
    c("snooze it 45m", "snooze", ("snooze_incident", {"incident": "PQ00273", "duration": "45m"}), shown=(273,)),
    c("merge 271 into 273 please", "merge", ("merge_incidents", {"sources": ["271"], "target": "273"})),
    c("override Data Engineering with Ravi until monday 9am", "override",
      ("create_override", {"schedule": "Data Engineering", "user": "Ravi", "end": "monday 9am"})),
    c("Liam covers Security On-Call tonight until 7am", "override",
      ("create_override", {"schedule": "Security On-Call", "user": "Liam", "start": "tonight", "end": "7am"})),
    q("swap shifts with Tom tomorrow", "override", "Until when?"),
    c("what happened on 271", "timeline", ("incident_timeline", {"incident": "271"})),
    c("postmortem timeline for 273", "timeline", ("incident_timeline", {"incident": "273"})),
    c("similar past incidents for 273", "similar", ("similar_incidents", {"incident": "273"})),
    # --- Events API alerts and change events (a summary in quotes, by design)
    c('alert Search "Heap above 95%" critical source idx-3', "alert",
      ("send_event", {"service": "Search", "summary": "Heap above 95%", "severity": "critical", "source": "idx-3",
                      "action": "trigger"})),
    c('@ic alert "API Gateway" "5xx above 3%" pls', "alert",
      ("send_event", {"service": "API Gateway", "summary": "5xx above 3%", "action": "trigger",
                      "source": "API Gateway"})),
    c("alert resolve Search k-81", "alert",
      ("send_event", {"service": "Search", "dedup_key": "k-81", "action": "resolve"})),
    c("alert ack API Gateway Key-9aB thanks", "alert",
      ("send_event", {"service": "API Gateway", "dedup_key": "Key-9aB", "action": "acknowledge"})),
    q("alert Search heap above 95%", "alert", '`alert SERVICE "SUMMARY"'),
    c('change Payments API "Deployed v2.14.0"', "change",
      ("send_change_event", {"service": "Payments API", "summary": "Deployed v2.14.0"})),
    c('pls change Search "Raised the heap to 32 GB" source deploy-bot', "change",
      ("send_change_event", {"service": "Search", "summary": "Raised the heap to 32 GB", "source": "deploy-bot"})),
    c("change Checkout 'feature flag new-cart on' thx", "change",
      ("send_change_event", {"service": "Checkout", "summary": "feature flag new-cart on"})),
    c("change 'Data Pipeline' 'Backfill started'", "change",
      ("send_change_event", {"service": "Data Pipeline", "summary": "Backfill started"})),
    q("change Payments API Deployed v2.14.0", "change", '`change SERVICE "SUMMARY"'),
    # --- typos and the unknown
    q("acknowlege 268", "ack", "Did you mean `acknowledge 268`? Reply `yes`"),
    q("resovle 269", "resolve", "`resolve 269`"),
    c("incidnets", "incidents", listing()),
    c("oncal payments", "oncall", oncall(service="payments")),
    q("frobnicate the widgets", "unknown", "Try e.g. `incidents`"),
    q("can you shift my pager to tomorrow", "unknown", "`override"),
    q("hello?", "unknown", "What should I do?"),
    # --- near misses that must not become a change
    c("raise urgency on 268 to high", "urgency", upd("268", "set_urgency", urgency="high")),
    q("create a note on 268", "note", "`note INCIDENT: TEXT`"),
    q("resolve 269 as duplicate of 268", "resolve", "but not “as duplicate of 268”"),
    q("ack 268 269 and resolve 270", "ack", "but not “and resolve 270”"),
    q("resolve all the payments ones", "resolve", "Did you mean `resolve"),
    q("start a timeline for 268", "timeline", "Did you mean"),
    c("open 268 for me", "show", ("get_incident", {"incident": "268"})),
    c("note 268:\n- restarted pods\n- cleared cache", "note",
      ("add_note", {"incident": "268", "content": "- restarted pods\n- cleared cache"})),
]


def incident(number: int) -> dict[str, Any]:
    return {"id": f"PQ{number:05d}", "number": number, "title": f"Incident {number}", "status": "triggered",
            "urgency": "high", "service": {"id": "PS1", "name": "Database"}}


def history(shown: tuple[int, ...]) -> list[BaseMessage]:
    """An earlier turn whose answer showed these incidents."""
    if not shown:
        return []
    asked = AIMessage("", tool_calls=[{"name": "list_incidents", "args": {}, "id": "earlier-1", "type": "tool_call"}])
    data = incident(shown[0]) if len(shown) == 1 else {"incidents": [incident(n) for n in shown]}
    return [HumanMessage("incidents"), asked, ToolMessage(json.dumps(data), tool_call_id="earlier-1",
                                                          name="list_incidents"), AIMessage("(the incidents)")]


@dataclass(frozen=True)
class Outcome:
    case: Case
    kind: str  # understood | asked | wrong read | wrong write
    calls: list[tuple[str, dict[str, Any]]]
    reply: str


def reply_to(text: str, shown: tuple[int, ...] = (), tz: str | None = None) -> AIMessage:
    """Command mode's first reply to `text`, said by ME after a turn that showed `shown`."""
    model = CommandModel(time_zone=tz, aliases=ALIASES)
    system = SystemMessage(f"Incident commander.\n\nRequester: {ME}\nCurrent time: {NOW} UTC")
    reply = model.invoke([system, *history(shown), HumanMessage(text)])
    assert isinstance(reply, AIMessage)
    return reply


def run(case: Case) -> Outcome:
    reply = reply_to(case.text, case.shown, case.tz)
    calls = [(tc["name"], tc["args"]) for tc in reply.tool_calls]
    if (isinstance(case.expect, list) and calls == case.expect) or (
            isinstance(case.expect, str) and not calls and case.expect in reply.text):
        kind = "understood"
    elif not calls:
        kind = "asked"
    elif any(name in WRITES for name, _ in calls):
        kind = "wrong write"
    else:
        kind = "wrong read"
    return Outcome(case, kind, calls, reply.text)


def score() -> tuple[Counter[str], list[Outcome]]:
    outcomes = [run(case) for case in CORPUS]
    return Counter(o.kind for o in outcomes), outcomes


def useful(outcome: Outcome) -> bool:
    """A reply that shows the way forward: an example command, or a question to answer."""
    return "`" in outcome.reply or outcome.reply.rstrip().endswith("?")


if __name__ == "__main__":
    counts, outcomes = score()
    total = len(outcomes)
    for o in outcomes:
        if o.kind != "understood" or "-v" in sys.argv:
            print(f"[{o.kind}] {o.case.text!r}\n    expected {o.case.expect}\n    got {o.calls or o.reply[:300]!r}")
    questions = sum(o.kind == "understood" and isinstance(o.case.expect, str) for o in outcomes)
    print(f"{total} phrasings: {counts['understood']} understood ({counts['understood'] / total:.1%}; "
          f"{counts['understood'] - questions} as the expected calls, {questions} as the expected question), "
          f"{counts['asked']} asked a question, {counts['wrong read']} wrong reads, "
          f"{counts['wrong write']} wrong writes")
