"""The demo organisation is big and varied enough to rehearse real incidents, and broken datasets say what is wrong."""

from __future__ import annotations

import json
import re
from zoneinfo import ZoneInfo

import pytest
import yaml

from simulator.account import Account
from simulator.datasets import BUNDLED_DIR, DatasetError, load_dataset

REQUIRED_SERVICES = {"API Gateway", "Payments API", "Checkout", "Database", "Frontend Cache"}


def test_demo_loads_and_its_references_hold(demo_dataset):
    state = Account.from_dataset(demo_dataset)  # raises on any dangling id
    assert demo_dataset.name == "Acme Cloud"
    assert demo_dataset.now is None, "the demo follows the real clock unless a test pins one"
    assert len(state.routing_keys) == sum(len(s.integrations) for s in demo_dataset.services)


def test_demo_directory_is_big_enough(demo_dataset):
    names = {s.name for s in demo_dataset.services}
    assert len(demo_dataset.services) >= 10 and names >= REQUIRED_SERVICES
    assert len(demo_dataset.users) >= 15
    assert len(demo_dataset.teams) >= 4
    assert len(demo_dataset.schedules) >= 6
    assert len(demo_dataset.escalation_policies) >= 6
    assert [p.name for p in demo_dataset.priorities] == ["P1", "P2", "P3", "P4", "P5"]


def test_every_service_has_a_deterministic_events_v2_key(demo_dataset):
    keys = [i.routing_key for s in demo_dataset.services for i in s.integrations]
    assert all(s.integrations for s in demo_dataset.services)
    assert all(re.fullmatch(r"[A-Za-z0-9]{32}", k) for k in keys)
    assert len(set(keys)) == len(keys)
    assert keys == [i.routing_key for s in load_dataset("demo").services for i in s.integrations]


def test_users_are_spread_over_time_zones(demo_dataset):
    zones = {u.time_zone for u in demo_dataset.users}
    assert {"America/New_York", "Europe/Berlin", "America/Los_Angeles"} <= zones
    assert zones & {"Asia/Kolkata", "Australia/Sydney"}
    assert all(u.email.endswith("@acme.example") for u in demo_dataset.users)
    assert len({u.email for u in demo_dataset.users}) == len(demo_dataset.users)
    for zone in zones:
        ZoneInfo(zone)


def test_schedules_mix_rotations_restrictions_and_zones(demo_dataset):
    schedules = demo_dataset.schedules
    layers = [layer for s in schedules for layer in s.layers]
    assert sum(len(s.layers) >= 2 for s in schedules) >= 5
    assert len({s.time_zone for s in schedules}) >= 3
    assert {86400, 604800} <= {layer.rotation_turn_length_seconds for layer in layers}
    restriction_types = {r.type for layer in layers for r in layer.restrictions}
    assert restriction_types == {"daily_restriction", "weekly_restriction"}
    assert any(not layer.restrictions for layer in layers), "a 24/7 layer under the restricted ones"
    assert all(layer.start.year == 2025 for layer in layers)


def test_escalation_policies_have_levels_targets_and_loops(demo_dataset):
    policies = demo_dataset.escalation_policies
    assert all(2 <= len(p.rules) <= 3 for p in policies)
    target_types = {t.type for p in policies for r in p.rules for t in r.targets}
    assert target_types == {"user_reference", "schedule_reference"}
    assert {p.num_loops for p in policies} > {0}
    assert all(s.escalation_policy_id in {p.id for p in policies} for s in demo_dataset.services)


def test_tokens_cover_every_kind_a_client_meets(demo_dataset):
    tokens = demo_dataset.tokens
    assert all(len(t.token) == 20 for t in tokens)
    kinds = {(t.kind, t.access, t.bearer, t.scopes is None) for t in tokens}
    assert ("account", "full", False, True) in kinds
    assert ("account", "read-only", False, True) in kinds
    assert ("user", "full", False, True) in kinds
    read_scoped = [t for t in tokens if t.bearer and t.scopes is not None]
    assert read_scoped and all(s.endswith(".read") for s in read_scoped[0].scopes)
    assert any(t.bearer and t.scopes is None for t in tokens), "a full-scope OAuth token"
    assert all(t.user_id for t in tokens if t.kind == "user")


def test_history_spec(demo_dataset):
    history = demo_dataset.history
    assert history is not None
    assert (history.days, history.incidents, history.open_incidents) == (90, 270, 6)


def test_a_path_to_yaml_or_json_loads(tmp_path):
    data = yaml.safe_load((BUNDLED_DIR / "demo.yaml").read_text())
    path = tmp_path / "copy.json"
    path.write_text(json.dumps(data, default=str))
    assert load_dataset(path).name == "Acme Cloud"
    assert load_dataset(str(BUNDLED_DIR / "demo.yaml")).name == "Acme Cloud"


def _broken(tmp_path, mutate) -> str:
    data = yaml.safe_load((BUNDLED_DIR / "demo.yaml").read_text())
    mutate(data)
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(DatasetError) as caught:
        load_dataset(path)
    return str(caught.value)


def test_an_invalid_field_is_named_with_its_file_and_place(tmp_path):
    def bad_key(data):
        data["services"][2]["integrations"][0]["routing_key"] = "too-short"

    message = _broken(tmp_path, bad_key)
    assert "broken.yaml" in message
    assert "services[2] (Checkout).integrations[0]" in message and "routing_key" in message


def test_a_typo_in_a_key_is_an_error(tmp_path):
    def typo(data):
        data["users"][0]["emial"] = data["users"][0].pop("email")

    message = _broken(tmp_path, typo)
    assert "users[0] (Alice Moreno).emial" in message and "users[0] (Alice Moreno).email" in message


def test_a_dangling_reference_is_named(tmp_path):
    data = yaml.safe_load((BUNDLED_DIR / "demo.yaml").read_text())
    data["services"][0]["escalation_policy_id"] = "PNOPE00"
    path = tmp_path / "dangling.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ValueError, match="unknown escalation policy PNOPE00"):
        Account.from_dataset(load_dataset(path))


def test_unreadable_and_unknown_datasets(tmp_path):
    path = tmp_path / "garbled.yaml"
    path.write_text("users: [unclosed\n")
    with pytest.raises(DatasetError, match=r"garbled\.yaml: cannot read"):
        load_dataset(path)
    with pytest.raises(DatasetError, match=r"no bundled dataset named 'nope'.*demo"):
        load_dataset("nope")
    with pytest.raises(DatasetError, match="does not exist"):
        load_dataset(tmp_path / "missing.yaml")
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    with pytest.raises(DatasetError, match="mapping at the top level"):
        load_dataset(tmp_path / "list.yaml")
