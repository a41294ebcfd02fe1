"""Schedules, overrides and `/oncalls`: computed from the layers, agreeing with each other, following PagerDuty."""

from __future__ import annotations

from datetime import datetime, timedelta

from demo_org import NOW, make_client, token_for

from simulator import oncall
from simulator.http import parse_time

WEEK = timedelta(days=7)


def iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def named(sim, collection: str, name: str):
    return next(r for r in getattr(sim.state, collection).values() if r.name == name)


def as_spans(entries: list[dict]) -> list[tuple[str, datetime, datetime]]:
    return [(e["user"]["id"], parse_time(e["start"], "start"), parse_time(e["end"], "end")) for e in entries]


def spans(computed) -> list[tuple[str, datetime, datetime]]:
    return [(s.user_id, s.start, s.end) for s in computed]


def override_item(user_id: str, start: datetime, end: datetime) -> dict:
    return {"start": iso(start), "end": iso(end), "user": {"id": user_id, "type": "user_reference"}}


def level_one(api, policy_id: str) -> list[str]:
    rows = api.get("/oncalls", params={"escalation_policy_ids[]": policy_id}).json()["oncalls"]
    return [r["user"]["id"] for r in rows if r["escalation_level"] == 1]


# --- schedules ---


def test_schedule_renders_layers_and_final_schedule_from_the_oncall_rules(api, sim):
    schedule = named(sim, "schedules", "Platform Primary")
    since, until = NOW - timedelta(days=3), NOW + timedelta(days=4)
    body = api.get(f"/schedules/{schedule.id}", params={"since": iso(since), "until": iso(until)}).json()["schedule"]
    final = body["final_schedule"]
    assert final["name"] == "Final Schedule"
    assert as_spans(final["rendered_schedule_entries"]) == spans(oncall.final_spans(schedule, [], since, until))
    assert final["rendered_coverage_percentage"] == 100
    assert [layer["id"] for layer in body["schedule_layers"]] == [layer.id for layer in reversed(schedule.layers)]
    for rendered, layer in zip(body["schedule_layers"], reversed(schedule.layers), strict=True):
        assert as_spans(rendered["rendered_schedule_entries"]) == spans(
            oncall.layer_spans(layer, schedule.time_zone, since, until))
        assert [u["user"]["id"] for u in rendered["users"]] == layer.user_ids
        assert "end" not in rendered  # the layers never end
    business_hours = body["schedule_layers"][0]
    assert 0 < business_hours["rendered_coverage_percentage"] < 50
    assert business_hours["restrictions"][0] == {"type": "weekly_restriction", "start_time_of_day": "09:00:00",
                                                 "duration_seconds": 28800, "start_day_of_week": 1}
    assert body["overrides_subschedule"] == {"name": "Overrides", "rendered_schedule_entries": [],
                                             "rendered_coverage_percentage": 0}
    assert body["escalation_policies"][0]["summary"] == "Platform Escalation"


def test_schedule_times_are_in_its_zone_unless_asked_otherwise(api, sim):
    schedule = named(sim, "schedules", "Platform Primary")  # America/New_York
    window = {"since": iso(NOW), "until": iso(NOW + timedelta(days=1))}
    local = api.get(f"/schedules/{schedule.id}", params=window).json()["schedule"]
    assert local["final_schedule"]["rendered_schedule_entries"][0]["start"].endswith("-05:00")
    utc = api.get(f"/schedules/{schedule.id}", params={**window, "time_zone": "UTC"}).json()["schedule"]
    assert utc["final_schedule"]["rendered_schedule_entries"][0]["start"] == iso(NOW)
    for zone in ("Mars/Olympus", "P" * 300, "../etc"):
        assert api.get(f"/schedules/{schedule.id}", params={**window, "time_zone": zone}).status_code == 400
        assert api.get("/schedules", params={"time_zone": zone}).status_code == 400


def test_schedule_window_defaults_to_two_weeks(api, sim):
    schedule = named(sim, "schedules", "Platform Primary")
    params = {"time_zone": "UTC"}
    entries = api.get(f"/schedules/{schedule.id}", params=params).json()["schedule"]["final_schedule"][
        "rendered_schedule_entries"]
    assert (entries[0]["start"], entries[-1]["end"]) == (iso(NOW), iso(NOW + 2 * WEEK))
    entries = api.get(f"/schedules/{schedule.id}", params={**params, "until": iso(NOW)}).json()["schedule"][
        "final_schedule"]["rendered_schedule_entries"]
    assert (entries[0]["start"], entries[-1]["end"]) == (iso(NOW - 2 * WEEK), iso(NOW))


def test_overflow_shows_whole_shifts(api, sim):
    schedule = named(sim, "schedules", "Security On-Call")  # weekly turns, one layer
    window = {"since": iso(NOW), "until": iso(NOW + timedelta(hours=1)), "time_zone": "UTC"}
    clipped = api.get(f"/schedules/{schedule.id}", params=window).json()["schedule"]
    [entry] = clipped["final_schedule"]["rendered_schedule_entries"]
    assert (entry["start"], entry["end"]) == (iso(NOW), iso(NOW + timedelta(hours=1)))
    whole = api.get(f"/schedules/{schedule.id}", params={**window, "overflow": "true"}).json()["schedule"]
    [entry] = whole["final_schedule"]["rendered_schedule_entries"]
    start, end = parse_time(entry["start"], "start"), parse_time(entry["end"], "end")
    assert end - start == WEEK and start < NOW < end


def test_schedule_errors(api, sim):
    schedule = named(sim, "schedules", "Platform Primary")
    backwards = api.get(f"/schedules/{schedule.id}", params={"since": iso(NOW), "until": iso(NOW - WEEK)})
    assert backwards.status_code == 400 and backwards.json()["error"]["code"] == 2005
    assert api.get("/schedules/PNOPE00").status_code == 404


def test_schedule_list_filters_and_includes(api, sim):
    body = api.get("/schedules", params={"query": "platform", "total": "true"}).json()
    assert [s["name"] for s in body["schedules"]] == ["Platform Primary", "Platform Secondary"]
    assert body["total"] == 2 and "schedule_layers" not in body["schedules"][0]
    data_team = named(sim, "teams", "Data").id
    body = api.get("/schedules", params={"team_ids[]": data_team}).json()
    assert {s["name"] for s in body["schedules"]} == {"Data Engineering", "Database Reliability"}
    body = api.get("/schedules", params={"query": "security", "include[]": "final_schedule",
                                         "since": iso(NOW), "until": iso(NOW + WEEK)}).json()
    schedule = body["schedules"][0]
    assert schedule["final_schedule"]["rendered_coverage_percentage"] == 100 and "schedule_layers" not in schedule


# --- overrides ---


def test_override_batch_fails_item_by_item(api, sim, demo_dataset):
    schedule = named(sim, "schedules", "Platform Primary")
    stand_in = named(sim, "users", "Tom Hargreaves").id
    start, end = NOW + timedelta(hours=1), NOW + timedelta(hours=9)
    response = api.post(f"/schedules/{schedule.id}/overrides", json={"overrides": [
        override_item(stand_in, start, end),
        override_item(stand_in, end, start),
        override_item("PNOPE00", start, end),
        {"end": iso(end), "user": {"id": stand_in, "type": "user_reference"}},
        override_item(stand_in, end, end + timedelta(hours=2)),
    ]})
    assert response.status_code == 201
    results = response.json()
    assert isinstance(results, list)
    assert [r["status"] for r in results] == [201, 400, 400, 400, 201]
    assert results[1]["errors"] == ["Override must end after its start"]
    assert any("PNOPE00" in e for e in results[2]["errors"])
    assert any("start" in e for e in results[3]["errors"])
    assert "id" not in results[1]["override"] and "errors" not in results[0]
    made = results[0]["override"]
    assert (made["start"], made["end"], made["user"]["id"]) == (iso(start), iso(end), stand_in)
    listed = api.get(f"/schedules/{schedule.id}/overrides",
                     params={"since": iso(NOW), "until": iso(NOW + timedelta(days=1))}).json()["overrides"]
    assert [o["id"] for o in listed] == [made["id"], results[4]["override"]["id"]]


def test_override_changes_oncalls_and_final_schedule(api, sim):
    schedule = named(sim, "schedules", "Platform Primary")
    policy = named(sim, "escalation_policies", "Platform Escalation")
    stand_in = named(sim, "users", "Tom Hargreaves").id
    assert level_one(api, policy.id) != [stand_in]
    made = api.post(f"/schedules/{schedule.id}/overrides", json={"overrides": [
        override_item(stand_in, NOW - timedelta(hours=1), NOW + timedelta(hours=3))]}).json()[0]["override"]
    assert level_one(api, policy.id) == [stand_in]
    row = api.get("/oncalls", params={"escalation_policy_ids[]": policy.id}).json()["oncalls"][0]
    assert (row["start"], row["end"]) == (made["start"], made["end"])
    final = api.get(f"/schedules/{schedule.id}", params={"since": iso(NOW), "until": iso(NOW + timedelta(hours=6)),
                                                         "time_zone": "UTC"}).json()["schedule"]
    assert final["final_schedule"]["rendered_schedule_entries"][0]["user"]["id"] == stand_in
    assert final["overrides_subschedule"]["rendered_schedule_entries"][0]["end"] == made["end"]


def test_later_override_wins_where_they_overlap(api, sim):
    schedule = named(sim, "schedules", "Platform Primary")
    policy = named(sim, "escalation_policies", "Platform Escalation")
    first, second = named(sim, "users", "Tom Hargreaves").id, named(sim, "users", "Mei Lin").id
    for user in (first, second):
        api.post(f"/schedules/{schedule.id}/overrides", json={"overrides": [
            override_item(user, NOW - timedelta(hours=1), NOW + timedelta(hours=1))]})
    assert level_one(api, policy.id) == [second]


def test_legacy_single_override_form(api, sim):
    schedule = named(sim, "schedules", "Security On-Call")
    user = named(sim, "users", "Noah Fischer").id
    made = api.post(f"/schedules/{schedule.id}/overrides", json={"override": {
        "start": "2026-11-21T09:00:00", "end": "2026-11-21T17:00:00", "time_zone": "Europe/Berlin",
        "user": {"id": user, "type": "user_reference"}}})
    assert made.status_code == 201
    assert made.json()["override"]["start"] == "2026-11-21T08:00:00Z"  # read in the item's time zone
    bad = api.post(f"/schedules/{schedule.id}/overrides", json={"override": override_item(user, NOW, NOW)})
    assert bad.status_code == 400 and "Override must end after its start" in bad.json()["error"]["errors"]
    assert api.post(f"/schedules/{schedule.id}/overrides", json={"overrides": []}).status_code == 400
    assert api.post("/schedules/PNOPE00/overrides", json={"overrides": [
        override_item(user, NOW, NOW + WEEK)]}).status_code == 404


def test_listing_overrides_needs_a_window(api, sim):
    schedule = named(sim, "schedules", "Security On-Call")
    user = named(sim, "users", "Noah Fischer").id
    api.post(f"/schedules/{schedule.id}/overrides", json={"overrides": [
        override_item(user, NOW - timedelta(hours=2), NOW + timedelta(hours=2)),
        override_item(user, NOW + timedelta(days=1), NOW + timedelta(days=2))]})
    assert api.get(f"/schedules/{schedule.id}/overrides", params={"since": iso(NOW)}).status_code == 400
    window = {"since": iso(NOW), "until": iso(NOW + timedelta(days=3))}
    listed = api.get(f"/schedules/{schedule.id}/overrides", params=window).json()["overrides"]
    assert listed[0]["start"] == iso(NOW)  # truncated at the window unless overflow=true
    overflowing = api.get(f"/schedules/{schedule.id}/overrides", params={**window, "overflow": "true"}).json()
    assert overflowing["overrides"][0]["start"] == iso(NOW - timedelta(hours=2))
    editable = api.get(f"/schedules/{schedule.id}/overrides", params={**window, "editable": "true"}).json()
    assert editable["overrides"] == [{"id": listed[1]["id"]}]


def test_deleting_overrides(api, sim, clock):
    schedule = named(sim, "schedules", "Security On-Call")
    user = named(sim, "users", "Noah Fischer").id
    future, ongoing = (r["override"] for r in api.post(f"/schedules/{schedule.id}/overrides", json={"overrides": [
        override_item(user, NOW + timedelta(days=1), NOW + timedelta(days=2)),
        override_item(user, NOW - timedelta(hours=1), NOW + timedelta(hours=1))]}).json())
    assert api.delete(f"/schedules/{schedule.id}/overrides/{future['id']}").status_code == 204
    assert future["id"] not in sim.state.overrides
    truncated = api.delete(f"/schedules/{schedule.id}/overrides/{ongoing['id']}")
    assert truncated.status_code == 200 and truncated.json()["override"]["end"] == iso(NOW)
    clock.advance(60)
    assert api.delete(f"/schedules/{schedule.id}/overrides/{ongoing['id']}").status_code == 400  # in the past now
    assert api.delete(f"/schedules/{schedule.id}/overrides/{future['id']}").status_code == 404
    other = named(sim, "schedules", "Platform Primary")
    assert api.delete(f"/schedules/{other.id}/overrides/{ongoing['id']}").status_code == 404


def test_override_writes_need_write_access(sim, demo_dataset):
    schedule = named(sim, "schedules", "Security On-Call")
    body = {"overrides": [override_item(demo_dataset.users[0].id, NOW, NOW + WEEK)]}
    for token in (token_for(demo_dataset, access="read-only"),
                  token_for(demo_dataset, kind="user", bearer=True, scoped=True)):
        with make_client(sim, token) as client:
            assert client.get(f"/schedules/{schedule.id}").status_code == 200
            assert client.post(f"/schedules/{schedule.id}/overrides", json=body).status_code == 403
    with make_client(sim, token_for(demo_dataset, kind="user", bearer=True)) as client:  # full-scope OAuth
        assert client.post(f"/schedules/{schedule.id}/overrides", json=body).status_code == 201


# --- /oncalls ---


def test_oncalls_now_match_the_escalation_rules(api, sim):
    body = api.get("/oncalls", params={"limit": 100, "total": "true"}).json()
    expected = [e for p in sim.state.escalation_policies.values()
                for e in oncall.oncalls([p], sim.state.schedules, {}, NOW, NOW)]
    assert body["total"] == len(expected) == len(body["oncalls"])
    for row, entry in zip(body["oncalls"], expected, strict=True):
        assert (row["escalation_policy"]["id"], row["escalation_level"], row["user"]["id"]) == (
            entry.escalation_policy_id, entry.escalation_level, entry.user_id)
        if entry.schedule_id is None:
            assert row["schedule"] is row["start"] is row["end"] is None  # a permanent on-call
        else:
            assert row["schedule"]["id"] == entry.schedule_id
            assert parse_time(row["start"], "start") <= NOW < parse_time(row["end"], "end")


def test_oncalls_agree_with_the_final_schedule(api, sim):
    for schedule in sim.state.schedules.values():
        final = api.get(f"/schedules/{schedule.id}", params={
            "since": iso(NOW), "until": iso(NOW + timedelta(minutes=1))}).json()["schedule"]["final_schedule"]
        rows = api.get("/oncalls", params={"schedule_ids[]": schedule.id}).json()["oncalls"]
        assert rows and {r["user"]["id"] for r in rows} == {
            e["user"]["id"] for e in final["rendered_schedule_entries"]}, schedule.name


def test_oncall_filters_and_includes(api, sim):
    policy = named(sim, "escalation_policies", "Security Escalation")
    tom = named(sim, "users", "Tom Hargreaves").id
    rows = api.get("/oncalls", params={"user_ids[]": tom}).json()["oncalls"]
    assert rows and all(r["user"]["id"] == tom for r in rows)
    schedule = named(sim, "schedules", "Security On-Call")
    only_schedule = api.get("/oncalls", params={"escalation_policy_ids[]": policy.id,
                                                "schedule_ids[]": schedule.id}).json()["oncalls"]
    assert [r["escalation_level"] for r in only_schedule] == [1]
    with_permanent = api.get("/oncalls", params={"escalation_policy_ids[]": policy.id,
                                                 "schedule_ids[]": [schedule.id, "null"]}).json()["oncalls"]
    assert [r["escalation_level"] for r in with_permanent] == [1, 2, 2]
    full = api.get("/oncalls", params={"escalation_policy_ids[]": policy.id,
                                       "include[]": ["users", "schedules", "escalation_policies"]}).json()
    first = full["oncalls"][0]
    assert first["user"]["email"].endswith("@acme.example") and first["schedule"]["type"] == "schedule"
    assert first["escalation_policy"]["escalation_rules"]
    page = api.get("/oncalls", params={"limit": 2}).json()
    assert len(page["oncalls"]) == 2 and page["more"] is True


def test_oncalls_over_a_window_and_earliest(api, sim):
    policy = named(sim, "escalation_policies", "Payments Escalation")  # daily turns at level 1
    window = {"escalation_policy_ids[]": policy.id, "since": iso(NOW), "until": iso(NOW + WEEK)}
    rows = api.get("/oncalls", params={**window, "limit": 100}).json()["oncalls"]
    level_one_rows = [r for r in rows if r["escalation_level"] == 1]
    assert len(level_one_rows) > len({r["user"]["id"] for r in level_one_rows})
    earliest = api.get("/oncalls", params={**window, "earliest": "true", "limit": 100}).json()["oncalls"]
    keys = [(r["escalation_level"], r["user"]["id"]) for r in earliest]
    assert len(keys) == len(set(keys)) == len(set((r["escalation_level"], r["user"]["id"]) for r in rows))



def test_earliest_applies_after_the_schedule_and_user_filters(api, sim):
    """Gustavo's level-2 Checkout rows come from Payments Primary; his earlier level-1 row is Payments'."""
    policy = named(sim, "escalation_policies", "Checkout Escalation")
    schedule = named(sim, "schedules", "Payments Primary")
    gustavo = named(sim, "users", "Gustavo Ramos").id
    query = {"escalation_policy_ids[]": policy.id, "schedule_ids[]": schedule.id, "user_ids[]": gustavo,
             "since": iso(NOW), "until": iso(NOW + WEEK), "limit": 100}
    rows = api.get("/oncalls", params=query).json()["oncalls"]
    assert len(rows) > 1
    earliest = api.get("/oncalls", params={**query, "earliest": "true"}).json()["oncalls"]
    assert earliest == [min(rows, key=lambda r: parse_time(r["start"], "start"))]


def test_oncalls_over_a_window_report_whole_shifts_while_the_schedule_is_clipped(api, sim):
    """A shift crossing `since` or `until` keeps its real start and end, as an instant query reports it."""
    schedule = named(sim, "schedules", "Payments Primary")
    since, until = NOW, NOW + timedelta(days=2)
    window = {"schedule_ids[]": schedule.id, "since": iso(since), "until": iso(until), "limit": 100}
    shifts = {(r["escalation_policy"]["id"], r["escalation_level"], r["user"]["id"],
               parse_time(r["start"], "start"), parse_time(r["end"], "end"))
              for r in api.get("/oncalls", params=window).json()["oncalls"]}
    assert all(start < until and end > since for *_, start, end in shifts)
    for bound in (since, until - timedelta(seconds=1)):
        at = {"schedule_ids[]": schedule.id, "since": iso(bound), "until": iso(bound), "limit": 100}
        instant = {(r["escalation_policy"]["id"], r["escalation_level"], r["user"]["id"],
                    parse_time(r["start"], "start"), parse_time(r["end"], "end"))
                   for r in api.get("/oncalls", params=at).json()["oncalls"]}
        assert instant and instant <= shifts
    assert min(start for *_, start, _ in shifts) < since and max(end for *_, end in shifts) > until
    final = api.get(f"/schedules/{schedule.id}", params={"since": iso(since), "until": iso(until)}).json()
    entries = as_spans(final["schedule"]["final_schedule"]["rendered_schedule_entries"])
    assert entries[0][1] == since and entries[-1][2] == until

def test_oncall_window_rules(api):
    backwards = api.get("/oncalls", params={"since": iso(NOW), "until": iso(NOW - timedelta(hours=1))})
    assert backwards.status_code == 400 and backwards.json()["error"]["code"] == 2005
    too_far = api.get("/oncalls", params={"since": iso(NOW), "until": iso(NOW + timedelta(days=91))})
    assert too_far.status_code == 400 and "90 days" in too_far.json()["error"]["errors"][0]
    assert api.get("/oncalls", params={"until": iso(NOW + timedelta(days=89))}).status_code == 200
    future = api.get("/oncalls", params={"since": iso(NOW + timedelta(days=3))})  # until follows since
    assert future.status_code == 200 and future.json()["oncalls"]
    assert api.get("/oncalls", params={"since": "yesterday"}).status_code == 400


def test_windows_are_bounded_so_no_request_can_hold_the_server(api, sim):
    """Rendering costs a span per turn: a window of centuries was minutes of work for one request."""
    schedule = named(sim, "schedules", "Payments Primary")
    centuries = {"since": "0001-01-01T00:00:00Z", "until": "9999-01-01T00:00:00Z"}
    for path in (f"/schedules/{schedule.id}", f"/schedules/{schedule.id}/users", "/schedules"):
        response = api.get(path, params=centuries)
        assert response.status_code == 400 and response.json()["error"]["code"] == 2005, path
    assert api.get(f"/schedules/{schedule.id}", params={
        "since": iso(NOW), "until": iso(NOW + timedelta(days=366))}).status_code == 200
    assert api.get("/oncalls", params={"since": "0001-01-01T00:00:00Z", "until": iso(NOW)}).status_code == 400
    assert api.get("/oncalls", params={"since": iso(NOW - timedelta(days=91)), "until": iso(NOW)}).status_code == 400
    assert api.get("/oncalls", params={"since": iso(NOW - timedelta(days=90)), "until": iso(NOW)}).status_code == 200

