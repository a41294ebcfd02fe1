"""The tool catalogue: generated facts match PagerDuty's spec, our words fit them, nothing is copied from it."""

from __future__ import annotations

import copy
import json
import re
from functools import cache
from pathlib import Path

import pytest
import yaml

from tools.catalog import Catalog, OverlayError, load_catalog, package_data
from tools.generate import CATALOG_FILE, SpecError, build_catalog, load_operations, main, render
from tools.registry import TOOLS

SPEC_DIR = Path(__file__).resolve().parents[2] / "shared" / "pagerduty-api"
REST_SPEC = SPEC_DIR / "openapiv3.json"
EVENTS_SPEC = SPEC_DIR / "events-v2" / "openapiv3.json"
RUN = 12  # words in a row that count as copied prose


@cache
def _specs() -> tuple[dict, dict]:
    return json.loads(REST_SPEC.read_text()), json.loads(EVENTS_SPEC.read_text())


@pytest.fixture
def specs() -> tuple[dict, dict]:
    if not REST_SPEC.exists() or not EVENTS_SPEC.exists():
        pytest.skip(f"PagerDuty's OpenAPI specs are not at {SPEC_DIR} (a sibling of the repository); "
                    "regeneration and copy checks need them")
    return _specs()


def overlay_data() -> dict:
    return yaml.safe_load(package_data().joinpath("overlay.yaml").read_text())


def catalog_data() -> dict:
    return json.loads(package_data().joinpath("catalog.json").read_text())


# --- the committed catalogue is exactly what the generator makes from the spec --------------------

def test_committed_catalog_is_what_the_generator_makes(specs):
    rest, events = specs
    regenerated = render(build_catalog(rest, events, load_operations()))
    assert regenerated == CATALOG_FILE.read_text(), "catalog.json is stale: run python -m tools.generate --spec …"


def test_cli_writes_the_same_catalog(specs, tmp_path):
    out = tmp_path / "catalog.json"
    assert main(["--spec", str(REST_SPEC), "--out", str(out)]) == 0  # finds events-v2/ beside --spec
    assert out.read_text() == CATALOG_FILE.read_text()


def test_a_spec_that_is_not_json_or_missing_is_a_one_line_reason_and_nothing_is_written(tmp_path, capsys):
    spec, out = tmp_path / "openapiv3.json", tmp_path / "catalog.json"
    spec.write_text("openapi: 3.0.0\n")
    assert main(["--spec", str(spec), "--out", str(out)]) == 1
    assert "a spec is not JSON" in capsys.readouterr().err
    assert main(["--spec", str(tmp_path / "nope.json"), "--out", str(out)]) == 1
    missing = capsys.readouterr().err
    assert "cannot read" in missing and "nope.json" in missing
    assert not out.exists()


def test_every_listed_operation_is_catalogued_once():
    catalogue = load_catalog()
    listed = [tuple(entry.split(" ", 1)) for entry in load_operations()]
    catalogued = [(op.method, op.path) for op in catalogue.operations()]
    assert sorted(listed) == sorted(catalogued)
    assert len(set(listed)) == len(listed)


# --- facts the spec gives, spot-checked ------------------------------------------------------------

def test_create_incident_facts():
    op = load_catalog().operation_for("POST", "/incidents")
    assert (op.operation_id, op.kind, op.scope) == ("createIncident", "write", "incidents.write")
    assert op.from_required and op.operation_rate_limited
    assert op.request_body is not None and op.request_body.root_key == "incident"
    incident = op.request_body.json_schema["properties"]["incident"]
    assert incident["required"] == ["type", "title", "service"]
    assert incident["properties"]["service"]["properties"]["type"]["enum"] == ["service_reference"]
    assert set(incident["properties"]["service"]["required"]) == {"id", "type"}
    assert (op.response.status, op.response.root_key, op.response.shape) == (201, "incident", "object")


def test_override_creation_answers_with_a_bare_array():
    op = load_catalog().operation_for("POST", "/schedules/{id}/overrides")
    assert (op.response.status, op.response.shape, op.response.root_key) == (201, "array", None)
    assert op.request_body is not None and op.request_body.root_key == "overrides"
    assert not op.from_required


def test_merge_is_a_put():
    catalogue = load_catalog()
    assert catalogue.operation("mergeIncidents").method == "PUT"
    assert catalogue.operation_for("PUT", "/incidents/{id}/merge").operation_id == "mergeIncidents"
    with pytest.raises(KeyError):
        catalogue.operation_for("POST", "/incidents/{id}/merge")


def test_list_incidents_statuses_are_a_repeated_enum():
    statuses = load_catalog().operation("listIncidents").parameter("statuses[]")
    assert (statuses.location, statuses.type, statuses.required) == ("query", "array", False)
    assert statuses.items == {"type": "string", "enum": ["triggered", "acknowledged", "resolved"]}


def test_from_rate_limits_reads_and_pagination():
    operations = load_catalog().operations()
    assert {op.operation_id for op in operations if op.operation_rate_limited} == {
        "createIncident", "updateIncidents", "listOnCalls"}
    assert {op.operation_id for op in operations if op.from_required} == {
        "createIncident", "updateIncident", "updateIncidents", "mergeIncidents", "createIncidentSnooze",
        "createIncidentNote"}
    assert all((op.kind == "read") == (op.method == "GET") for op in operations)
    assert load_catalog().operation("listIncidents").response.paginated
    assert not load_catalog().operation("listIncidentNotes").response.paginated


def test_events_operations_come_from_the_events_spec():
    catalogue = load_catalog()
    for operation_id in ("createV2Event", "createChangeEvent"):
        op = catalogue.operation(operation_id)
        assert (op.api, op.response.status, op.response.root_key) == ("events", 202, None)
    event = catalogue.operation_for("POST", "/enqueue").request_body
    assert event is not None and set(event.json_schema["required"]) == {"routing_key", "event_action"}
    assert event.json_schema["properties"]["payload"]["properties"]["severity"]["enum"] == [
        "critical", "warning", "error", "info"]


def test_operation_for_takes_templates_and_concrete_paths():
    catalogue = load_catalog()
    assert catalogue.operation_for("get", "/users/me").operation_id == "getCurrentUser"
    assert catalogue.operation_for("GET", "/users/PXPGF42").operation_id == "getUser"
    assert catalogue.operation_for("DELETE", "/schedules/P1/overrides/Q2").operation_id == "deleteScheduleOverride"
    with pytest.raises(KeyError, match="no operation for GET /nowhere"):
        catalogue.operation_for("GET", "/nowhere")


# --- the overlay: our words, fitted to real operations and parameters -----------------------------

def test_every_operation_and_tool_has_our_words():
    catalogue = load_catalog()
    assert all(op.description for op in catalogue.operations())
    assert catalogue.operation("listIncidents").parameter("statuses[]").description
    assert set(catalogue.tool_descriptions()) == set(TOOLS)


def test_tool_descriptions_fit_the_prompt_budget():
    descriptions = list(load_catalog().tool_descriptions().values())
    assert all(60 <= len(text) <= 250 for text in descriptions), [t for t in descriptions if not 60 <= len(t) <= 250]
    assert sum(map(len, descriptions)) < 5_000


@pytest.mark.parametrize(("edit", "message"), [
    (lambda o: o["operations"].__setitem__("listIncidentz", {"description": "x"}),
     r"operations\.listIncidentz: no such operation"),
    (lambda o: o["operations"]["listIncidents"]["parameters"].__setitem__("status", "x"),
     r"operations\.listIncidents\.parameters\.status: no such parameter"),
    (lambda o: o["operations"].pop("getTeam"),
     r"operations\.getTeam: missing"),
    (lambda o: o["tools"].__setitem__("list_teams", ""), r"tools\.list_teams[\s\S]*at least 1 character"),
])
def test_a_bad_overlay_is_rejected_by_name(edit, message):
    overlay = copy.deepcopy(overlay_data())
    edit(overlay)
    with pytest.raises(OverlayError, match=message):
        Catalog(catalog_data(), overlay)


# --- nothing copied from the unlicensed spec -------------------------------------------------------

def _prose(node: object) -> list[str]:
    """Every description, summary and title string in a spec."""
    if isinstance(node, dict):
        found = [value for key, value in node.items()
                 if key in ("description", "summary", "title") and isinstance(value, str)]
        return found + [text for value in node.values() for text in _prose(value)]
    if isinstance(node, list):
        return [text for value in node for text in _prose(value)]
    return []


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def _runs(words: list[str]) -> set[tuple[str, ...]]:
    return {tuple(words[i:i + RUN]) for i in range(len(words) - RUN + 1)}


def _overlay_texts() -> list[str]:
    overlay = overlay_data()
    texts = list(overlay["tools"].values())
    for words in overlay["operations"].values():
        texts += [words["description"], *words.get("parameters", {}).values()]
    return texts


def test_overlay_words_are_not_copied_from_the_spec(specs):
    prose = [text for spec in specs for text in _prose(spec)]
    spec_texts = {" ".join(_words(text)) for text in prose}
    spec_runs = set().union(*(_runs(_words(text)) for text in prose))
    for text in _overlay_texts():
        assert " ".join(_words(text)) not in spec_texts, f"copied from the spec: {text!r}"
        assert not _runs(_words(text)) & spec_runs, f"shares {RUN} words in a row with the spec: {text!r}"


def test_catalog_json_holds_facts_not_prose():
    def walk(node: object, where: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if not where.endswith(".properties"):  # property names are fields, not keywords
                    assert key not in ("description", "summary", "title", "example", "examples"), f"{where}.{key}"
                walk(value, f"{where}.{key}")
        elif isinstance(node, list):
            for index, value in enumerate(node):
                walk(value, f"{where}[{index}]")
        elif isinstance(node, str):
            assert not re.search(r"\s", node), f"{where} holds text, not a fact: {node!r}"

    walk(catalog_data(), "catalog")


# --- the generator on a small spec: $ref chains, allOf, list indices, ~1 escapes ------------------

MINI_SPEC = {
    "info": {"version": "1"},
    "servers": [{"url": "https://api.example.test"}],
    "paths": {
        "/things/{id}": {
            "parameters": [{"$ref": "#/components/parameters/id"}],
            "put": {
                "operationId": "updateThing",
                "description": "Words.\n\nScoped OAuth requires: `things.write`\n",
                "x-pd-requires-scope": "things.write",
                "parameters": [
                    {"name": "From", "in": "header", "required": True, "schema": {"type": "string"}},
                    {"name": "Accept", "in": "header", "required": True, "schema": {"type": "string"}},
                    {"name": "kinds[]", "in": "query", "schema": {"type": "string", "enum": ["a", "b"]}},
                ],
                "requestBody": {"required": True,
                                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Alias"}}}},
                "responses": {
                    "200": {"description": "Words.", "content": {"application/json": {"schema": {
                        "$ref": "#/components/responses/Wrapped/content/application~1json/schema"}}}},
                    "404": {"description": "Words."},
                },
            },
        },
    },
    "components": {
        "parameters": {"id": {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}},
        "schemas": {
            "Alias": {"$ref": "#/components/schemas/Body"},
            "Body": {"type": "object", "properties": {"thing": {"$ref": "#/components/schemas/Thing"}},
                     "required": ["thing"]},
            "Base": {"allOf": [
                {"type": "object", "properties": {"id": {"type": "string", "readOnly": True},
                                                  "self": {"type": "string", "readOnly": True}}},
                {"type": "object", "required": ["label"]}]},
            "Thing": {"allOf": [
                {"$ref": "#/components/schemas/Base/allOf/0"},
                {"type": "object", "description": "Words.", "required": ["id"],
                 "properties": {"size": {"type": "integer", "minimum": 1, "description": "Words."},
                                "kind": {"enum": ["a/b"]}}}]},
            "Node": {"type": "object", "properties": {"child": {"$ref": "#/components/schemas/Node"}}},
            "Loop": {"$ref": "#/components/schemas/Pool"},
            "Pool": {"$ref": "#/components/schemas/Loop"},
        },
        "responses": {"Wrapped": {"description": "Words.", "content": {"application/json": {"schema": {
            "type": "object", "properties": {"thing": {"$ref": "#/components/schemas/Thing"}}}}}}},
    },
}


def mini_with_body(ref: str) -> dict:
    spec = copy.deepcopy(MINI_SPEC)
    spec["paths"]["/things/{id}"]["put"]["requestBody"]["content"]["application/json"]["schema"] = {"$ref": ref}
    return spec


def test_generator_resolves_refs_merges_all_of_and_keeps_only_facts():
    op = build_catalog(MINI_SPEC, None, ["PUT /things/{id}"])["operations"]["updateThing"]
    assert op["parameters"] == [
        {"name": "id", "location": "path", "required": True, "type": "string"},
        {"name": "kinds[]", "location": "query", "required": False, "type": "array",
         "items": {"type": "string", "enum": ["a", "b"]}},
    ]
    assert (op["from_required"], op["scope"], op["kind"], op["operation_rate_limited"]) == (
        True, "things.write", "write", False)
    thing = {"type": "object", "required": ["id"], "properties": {
        "id": {"type": "string"}, "size": {"type": "integer", "minimum": 1},
        "kind": {"type": "string", "enum": ["a/b"]}}}  # read-only `self` dropped, required `id` kept
    assert op["request_body"] == {"required": True, "root_key": "thing", "schema": {
        "type": "object", "required": ["thing"], "properties": {"thing": thing}}}
    assert op["response"] == {"success_statuses": [200], "shape": "object", "root_key": "thing", "paginated": False}


@pytest.mark.parametrize(("spec", "events", "entry", "message"), [
    (MINI_SPEC, None, "GET /things/{id}", r"'GET /things/\{id\}' is in no spec given"),
    (MINI_SPEC, MINI_SPEC, "PUT /things/{id}", r"is in both specs"),
    (mini_with_body("#/components/schemas/Node"), None, "PUT /things/{id}", r"deeper than 16 levels at child\.child"),
    (mini_with_body("#/components/schemas/Loop"), None, "PUT /things/{id}", r"\$ref loop"),
    (mini_with_body("#/components/schemas/Nowhere"), None, "PUT /things/{id}", r"does not resolve"),
])
def test_generator_refuses_what_it_cannot_represent(spec, events, entry, message):
    with pytest.raises(SpecError, match=message):
        build_catalog(spec, events, [entry])
