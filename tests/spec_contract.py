"""Checks simulator responses against PagerDuty's official OpenAPI response schemas.

The spec is read at test time from `../shared/pagerduty-api/` beside the repository; it is
never copied into the project. Tests that need it skip, saying why, when it is absent. Where the
spec contradicts the real API, `SPEC_DEFECTS` lists each correction and why; nothing else is relaxed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import httpx
import pytest
from openapi_schema_validator import OAS30ReadValidator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

SPEC_DIR = Path(__file__).resolve().parents[2] / "shared" / "pagerduty-api"
REST_SPEC = SPEC_DIR / "openapiv3.json"
EVENTS_SPEC = SPEC_DIR / "events-v2" / "openapiv3.json"


def require_spec() -> None:
    if not REST_SPEC.exists() or not EVENTS_SPEC.exists():
        pytest.skip(f"PagerDuty's OpenAPI spec is not at {SPEC_DIR}; contract checks need it")


def _schema(doc: dict, name: str) -> dict:
    return doc["components"]["schemas"][name]


def _responses(doc: dict, method: str, path: str) -> dict:
    return doc["paths"][path][method.lower()]["responses"]


def _overrides_list_is_200(doc: dict) -> None:
    responses = _responses(doc, "GET", "/schedules/{id}/overrides")
    assert "200" not in responses and "201" in responses
    responses["200"] = responses.pop("201")


def _update_documents_400(doc: dict) -> None:
    responses = _responses(doc, "PUT", "/incidents/{id}")
    assert "400" not in responses
    responses["400"] = {"$ref": "#/components/responses/ArgumentError"}


def _channel_is_any_of(doc: dict) -> None:
    channel = _schema(doc, "Channel")
    assert "oneOf" in channel and "anyOf" not in channel
    channel["anyOf"] = channel.pop("oneOf")


def _acknowledge_type_name(doc: dict) -> None:
    kind = _schema(doc, "AcknowledgeLogEntry")["allOf"][1]["properties"]["type"]
    assert kind["enum"] == ["acknowledgement_log_entry"]
    kind["enum"] = ["acknowledge_log_entry"]


def _properties(doc: dict, name: str) -> dict:
    """The `properties` of a named schema, inside its allOf when it extends another."""
    schema = _schema(doc, name)
    return next(part["properties"] for part in [schema, *schema.get("allOf", [])] if "properties" in part)


def _nullable(name: str, *fields: str) -> Callable[[dict], None]:
    """Let these properties of a schema be null, keeping every other rule of theirs."""
    def correct(doc: dict) -> None:
        properties = _properties(doc, name)
        for field in fields:
            spec = properties[field]
            assert not spec.get("nullable")
            properties[field] = {"anyOf": [spec, {"nullable": True, "enum": [None]}]}
    return correct


def _content_grouping_aggregate(doc: dict) -> None:
    aggregate = _schema(doc, "ContentBasedAlertGroupingConfiguration")["properties"]["aggregate"]
    assert aggregate["enum"] == ["all, any"]
    aggregate["enum"] = ["all", "any"]


@dataclass(frozen=True)
class SpecDefect:
    """A place where the published spec contradicts what api.pagerduty.com answers.

    The simulator follows the real API, because the agent talks to the real API; the contract check
    validates against the spec with exactly these corrections and nothing else. Each correction first
    asserts the defect is still in the spec, so a fixed spec makes its exemption fail loudly instead of
    lingering.
    """

    operations: tuple[str, ...]  # "METHOD /path" as the spec writes the path
    wrong: str
    why: str
    correct: Callable[[dict], None]


LOG_ENTRY_READS = ("GET /log_entries", "GET /log_entries/{id}", "GET /incidents/{id}/log_entries")

SPEC_DEFECTS = (
    SpecDefect(("GET /schedules/{id}/overrides",),
               "documents its success as 201 Created, though listing creates nothing",
               "the real API answers this list with 200, as it does every other list",
               _overrides_list_is_200),
    SpecDefect(("PUT /incidents/{id}",),
               "documents no 400, yet an account-level token without a `From` header is refused with 400, "
               "as on every other incident write",
               "the real API answers 400 with its usual error body; we validate that body like any other 400",
               _update_documents_400),
    SpecDefect(LOG_ENTRY_READS,
               "`Channel` is a `oneOf` of channel shapes that all accept any object, so every real channel "
               "matches several of them and `oneOf` can never pass",
               "the real API sends one channel shape per entry; `anyOf` keeps each shape's field types checked",
               _channel_is_any_of),
    SpecDefect(LOG_ENTRY_READS,
               "`AcknowledgeLogEntry` names its type `acknowledgement_log_entry`, while `LogEntry` itself lists "
               "`acknowledge_log_entry`",
               "the real API sends `acknowledge_log_entry`, the name LogEntry's own enum uses",
               _acknowledge_type_name),
    SpecDefect(("GET /incidents", "GET /incidents/{id}", "POST /incidents", "PUT /incidents/{id}", "PUT /incidents",
                "POST /incidents/{id}/snooze", "GET /incidents/{id}/related_incidents",
                "GET /incidents/{id}/outlier_incident"),
               "`Incident.resolved_at` and `Incident.priority` are not nullable",
               "the real API sends both on every incident, as null while it is open or has no priority (the "
               "spec's own description of resolved_at says so), and clients index them directly",
               _nullable("Incident", "resolved_at", "priority")),
    SpecDefect(("GET /oncalls",),
               "`Oncall.schedule`, `start` and `end` are not nullable",
               "for a user an escalation rule names directly the real API sends all three as null: that user is "
               "on call always, from no schedule",
               _nullable("Oncall", "schedule", "start", "end")),
    SpecDefect(("GET /services", "GET /services/{id}"),
               "content-based grouping's `aggregate` enum is the single string \"all, any\"",
               "the real API takes and sends `all` or `any`",
               _content_grouping_aggregate),
)


@dataclass(frozen=True)
class SpecOperation:
    method: str
    path: str
    regex: re.Pattern
    responses: dict
    document: str  # "rest" or "events"


class Contract:
    """Finds the spec operation for a request and validates a response body against its schema."""

    def __init__(self) -> None:
        self.docs = {"rest": json.loads(REST_SPEC.read_text()), "events": json.loads(EVENTS_SPEC.read_text())}
        for defect in SPEC_DEFECTS:
            try:
                defect.correct(self.docs["rest"])
            except (AssertionError, KeyError) as exc:
                raise AssertionError(f"the spec no longer has this defect, so drop its SPEC_DEFECTS entry: "
                                     f"{' and '.join(defect.operations)} {defect.wrong}") from exc
        self.registry = Registry().with_resources(
            (f"urn:pagerduty:{name}", Resource.from_contents(doc, default_specification=DRAFT4))
            for name, doc in self.docs.items())
        self.operations: list[SpecOperation] = []
        for name, doc in self.docs.items():
            prefix = "/v2" if name == "events" else ""
            for path, item in doc["paths"].items():
                regex = re.compile("^" + prefix + re.sub(r"\{[^}]+\}", "[^/]+", path) + "$")
                for method, op in item.items():
                    if method in ("get", "post", "put", "delete", "patch"):
                        self.operations.append(SpecOperation(method.upper(), prefix + path, regex,
                                                             op.get("responses", {}), name))
        # Static paths first, so /users/me is not taken for /users/{id}.
        self.operations.sort(key=lambda o: o.path.count("{"))

    def operation(self, method: str, path: str) -> SpecOperation:
        for op in self.operations:
            if op.method == method and op.regex.match(path):
                return op
        raise AssertionError(f"the spec has no operation {method} {path}")

    def _resolve(self, document: str, node: dict) -> dict:
        while "$ref" in node:
            target: object = self.docs[document]
            for part in node["$ref"].lstrip("#/").split("/"):
                part = part.replace("~1", "/").replace("~0", "~")
                target = target[int(part)] if isinstance(target, list) else target[part]  # type: ignore[index]
            node = target  # type: ignore[assignment]
        return node

    def schema_for(self, op: SpecOperation, status: int) -> dict | None:
        responses = op.responses
        spec_response = responses.get(str(status)) or responses.get(f"{str(status)[0]}XX") or responses.get("default")
        if spec_response is None:
            raise AssertionError(f"{op.method} {op.path} does not document status {status} "
                                 f"(documented: {sorted(responses)})")
        spec_response = self._resolve(op.document, spec_response)
        content = spec_response.get("content", {})
        media = content.get("application/json") or next(iter(content.values()), None)
        return None if media is None else media.get("schema")

    def check(self, method: str, path: str, response: httpx.Response) -> None:
        op = self.operation(method, path)
        schema = self.schema_for(op, response.status_code)
        if schema is None:
            return
        body = response.json()
        validator = OAS30ReadValidator(self._anchor(op.document, schema), registry=self.registry)
        problems = sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path))
        if problems:
            details = "; ".join(f"{'/'.join(map(str, p.absolute_path)) or '<root>'}: {p.message[:200]}"
                                for p in problems[:5])
            raise AssertionError(f"{method} {path} → {response.status_code} breaks the spec: {details}")

    def _anchor(self, document: str, schema: dict) -> dict:
        """Point relative `#/components/...` refs in an inline schema at the right spec document."""
        text = json.dumps(schema).replace('"$ref": "#/', f'"$ref": "urn:pagerduty:{document}#/')
        return json.loads(text)


@cache
def contract() -> Contract:
    return Contract()


class RecordingTransport(httpx.BaseTransport):
    """Wraps a transport and keeps every exchange so a test can validate them all afterwards."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.exchanges: list[tuple[str, str, httpx.Response]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        response.read()
        self.exchanges.append((request.method, request.url.path, response))
        return response
