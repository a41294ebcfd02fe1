"""Generate `tools/catalog.json`: the facts of every PagerDuty operation we expose, from the official spec.

The spec has no license, so only facts cross over: operationIds, methods, paths, parameter names,
locations, types, enums and limits, request-body structure, success statuses, response root keys,
the `From` rule, OAuth scopes and operation-specific rate limits. No description, summary, title or
example reaches the output; the words the model reads are ours, in `tools/overlay.yaml`.

    python -m tools.generate --spec ../shared/pagerduty-api/openapiv3.json \
        [--events-spec ../shared/pagerduty-api/events-v2/openapiv3.json] [--out tools/catalog.json]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

PACKAGE_DIR = Path(__file__).resolve().parent
OPERATIONS_FILE = PACKAGE_DIR / "operations.yaml"
CATALOG_FILE = PACKAGE_DIR / "catalog.json"

# JSON-schema keywords that carry facts; everything else (prose, examples, titles) is dropped.
FACT_KEYWORDS = ("type", "format", "enum", "default", "minimum", "maximum", "minLength", "maxLength",
                 "minItems", "maxItems", "nullable")
CONSTANT_HEADERS = {"accept", "content-type"}  # declared on every operation, always the same value
MAX_DEPTH = 16  # request schemas nest about 6 deep; deeper means a recursive schema
PAGINATION_KEYS = frozenset({"limit", "offset", "more", "total"})
SCOPE_TEXT = re.compile(r"Scoped OAuth requires: `([^`]+)`")
OPERATION_LIMIT_TEXT = "operation specific rate limits"


class SpecError(ValueError):
    """The spec lacks an operation we expose, or says something the catalogue cannot represent."""


def infer_type(schema: dict) -> str | None:
    """The declared type, or the one implied by `properties`, `items` or a string enum (the spec omits some)."""
    if "type" in schema:
        return schema["type"]
    if "properties" in schema:
        return "object"
    if "items" in schema:
        return "array"
    if schema.get("enum") and all(isinstance(value, str) for value in schema["enum"]):
        return "string"
    return None


def merge_all_of(parts: list[dict]) -> dict:
    """Merges `allOf` parts: properties named twice become an `allOf` of both, `required` is the union."""
    merged: dict = {}
    for part in parts:
        for key, value in part.items():
            if key == "properties":
                properties = merged.setdefault("properties", {})
                for name, schema in value.items():
                    properties[name] = {"allOf": [properties[name], schema]} if name in properties else schema
            elif key == "required":
                merged["required"] = list(dict.fromkeys([*merged.get("required", []), *value]))
            else:
                merged[key] = value
    return merged


def wrapper_key(types: dict[str, str | None], ignore: frozenset[str] = frozenset()) -> str | None:
    """The root key of a wrapped body: its only property (pagination aside), holding an object or array."""
    names = [name for name in types if name not in ignore]
    if len(names) == 1 and types[names[0]] in ("object", "array"):
        return names[0]
    return None


class Document:
    """One OpenAPI document: `$ref` resolution (chains, `~0`/`~1` escapes, list indices) and fact extraction."""

    def __init__(self, name: str, doc: dict) -> None:
        self.name = name
        self.doc = doc

    def pointer(self, ref: str) -> Any:
        if not ref.startswith("#/"):
            raise SpecError(f"{self.name} spec: only local $refs are supported, got {ref!r}")
        node: Any = self.doc
        for token in ref[2:].split("/"):
            token = token.replace("~1", "/").replace("~0", "~")
            try:
                node = node[int(token)] if isinstance(node, list) else node[token]
            except (KeyError, IndexError, ValueError) as exc:
                raise SpecError(f"{self.name} spec: $ref {ref!r} does not resolve") from exc
        return node

    def resolve(self, node: Any, chain: tuple[str, ...] = ()) -> tuple[Any, tuple[str, ...]]:
        """Follows `$ref`s to the node they end at; returns it with the refs followed (loops are errors)."""
        while isinstance(node, dict) and "$ref" in node:
            ref = node["$ref"]
            if ref in chain:
                raise SpecError(f"{self.name} spec: $ref loop through {ref!r}")
            chain += (ref,)
            node = self.pointer(ref)
        return node, chain

    def flatten(self, node: Any, chain: tuple[str, ...] = ()) -> dict:
        """Resolves a schema and merges its `allOf` parts, however nested; property schemas stay as they are."""
        node, chain = self.resolve(node, chain)
        if "allOf" not in node:
            return node
        parts = [self.flatten(part, chain) for part in node["allOf"]]
        return merge_all_of([*parts, {key: value for key, value in node.items() if key != "allOf"}])

    def schema_type(self, node: Any) -> str | None:
        """A schema's type, also when it is only given by a `oneOf`/`anyOf` whose choices all agree."""
        flat = self.flatten(node)
        if (kind := infer_type(flat)) is not None:
            return kind
        kinds = {self.schema_type(choice) for choice in flat.get("oneOf", flat.get("anyOf", []))}
        return kinds.pop() if len(kinds) == 1 else None

    def request_schema(self, node: Any, where: tuple[str, ...] = ()) -> dict:
        """A request schema as a compact, prose-free JSON-schema subset with every reference inlined.

        Read-only properties are left out (a client must not send them) unless the spec also lists
        them as required: PagerDuty's reference objects mark `id` and `type` read-only and required.
        """
        if len(where) > MAX_DEPTH:
            raise SpecError(f"{self.name} spec: schema nests deeper than {MAX_DEPTH} levels at "
                            f"{'.'.join(where)}; is it recursive?")
        flat = self.flatten(node)
        out = {key: flat[key] for key in FACT_KEYWORDS if key in flat}
        required = flat.get("required", [])
        if "properties" in flat:
            out["properties"] = {
                name: self.request_schema(schema, (*where, name))
                for name, schema in flat["properties"].items()
                if name in required or not self.flatten(schema).get("readOnly", False)}
        if required:
            out["required"] = list(required)
        if "items" in flat:
            out["items"] = self.request_schema(flat["items"], (*where, "items"))
        for keyword in ("oneOf", "anyOf"):
            if keyword in flat:
                out[keyword] = [self.request_schema(choice, (*where, keyword)) for choice in flat[keyword]]
        if (kind := infer_type(out)) is not None:
            out["type"] = kind
        return out

    def parameter(self, param: dict) -> dict:
        """A query or path parameter's facts; PagerDuty's repeated `name[]` parameters become arrays."""
        schema = self.request_schema(param.get("schema", {}))
        if param["name"].endswith("[]") and schema.get("type") != "array":
            # Several `…[]` parameters are declared as one string with an enum, though they repeat.
            bounds = {key: schema.pop(key) for key in ("minItems", "maxItems") if key in schema}
            schema = {"type": "array", "items": schema, **bounds}
        facts = {"name": param["name"], "location": param["in"], "required": bool(param.get("required", False))}
        if param.get("explode") is False:
            facts["explode"] = False  # sent comma-separated, not repeated
        return facts | schema

    def parameters(self, path_item: dict, operation: dict) -> tuple[list[dict], bool]:
        """The operation's path and query parameters (path-level ones included), and whether `From` is required."""
        declared: dict[tuple[str, str], dict] = {}
        for raw in [*path_item.get("parameters", []), *operation.get("parameters", [])]:
            param, _ = self.resolve(raw)
            declared[(param["in"], param["name"])] = param
        facts, from_required = [], False
        for (location, name), param in declared.items():
            if location == "header" and name.lower() in CONSTANT_HEADERS:
                continue
            if location == "header" and name.lower() == "from":
                from_required = bool(param.get("required", False))
                continue
            facts.append(self.parameter(param))
        return facts, from_required

    def request_body(self, operation: dict) -> dict | None:
        if "requestBody" not in operation:
            return None
        body, _ = self.resolve(operation["requestBody"])
        schema = body.get("content", {}).get("application/json", {}).get("schema")
        if schema is None:
            raise SpecError(f"{self.name} spec: {operation['operationId']} has a request body but no JSON schema")
        compact = self.request_schema(schema)
        return {"required": bool(body.get("required", False)),
                "root_key": wrapper_key({name: self.schema_type(sub)
                                         for name, sub in compact.get("properties", {}).items()}),
                "schema": compact}

    def response(self, operation: dict) -> dict:
        """Success statuses and the first one's shape: root key, array or object, paginated or not."""
        statuses = sorted(int(code) for code in operation.get("responses", {})
                          if code.isdigit() and 200 <= int(code) < 300)
        if not statuses:
            raise SpecError(f"{self.name} spec: {operation['operationId']} declares no 2xx response")
        facts: dict[str, Any] = {"success_statuses": statuses, "shape": "empty", "root_key": None,
                                 "paginated": False}
        response, _ = self.resolve(operation["responses"][str(statuses[0])])
        schema = response.get("content", {}).get("application/json", {}).get("schema")
        if schema is None:
            return facts
        flat = self.flatten(schema)
        if infer_type(flat) == "array":
            return facts | {"shape": "array"}
        types = {name: self.schema_type(sub) for name, sub in flat.get("properties", {}).items()}
        return facts | {"shape": "object",
                        "root_key": wrapper_key(types, PAGINATION_KEYS),
                        "paginated": {"limit", "offset", "more"} <= types.keys()}

    def operation(self, method: str, path: str) -> dict:
        path_item = self.doc["paths"][path]
        operation = path_item[method.lower()]
        text = operation.get("description", "")
        scopes = SCOPE_TEXT.findall(text)
        scope = scopes[0] if scopes else None
        if len(scopes) > 1 or scope != operation.get("x-pd-requires-scope"):
            raise SpecError(f"{self.name} spec: {method} {path}: the scope in the text {scopes} disagrees with "
                            f"x-pd-requires-scope {operation.get('x-pd-requires-scope')!r}")
        parameters, from_required = self.parameters(path_item, operation)
        return {
            "api": self.name,
            "operation_id": operation["operationId"],
            "method": method.upper(),
            "path": path,
            "kind": "read" if method.upper() == "GET" else "write",
            "scope": scope,
            "from_required": from_required,
            "operation_rate_limited": bool(operation.get("x-pd-operation-limit")) or OPERATION_LIMIT_TEXT in text,
            "parameters": parameters,
            "request_body": self.request_body(operation),
            "response": self.response(operation),
        }


def build_catalog(spec: dict, events_spec: dict | None, operations: list[str]) -> dict:
    """The catalogue for `operations` ("METHOD /path"), each found in exactly one of the two specs."""
    documents = [Document("rest", spec)] + ([Document("events", events_spec)] if events_spec else [])
    facts: dict[str, dict] = {}
    for entry in operations:
        method, _, path = entry.strip().partition(" ")
        holders = [doc for doc in documents if method.lower() in doc.doc.get("paths", {}).get(path, {})]
        if len(holders) != 1:
            where = "both specs" if holders else "no spec given"
            raise SpecError(f"{entry!r} is in {where}; each exposed operation must be in exactly one")
        operation = holders[0].operation(method, path)
        if operation["operation_id"] in facts:
            raise SpecError(f"{entry!r}: operationId {operation['operation_id']} is listed twice")
        facts[operation["operation_id"]] = operation
    return {
        "generated_by": "tools.generate",
        "apis": {doc.name: {"base_url": doc.doc["servers"][0]["url"], "version": doc.doc["info"]["version"]}
                 for doc in documents},
        "operations": facts,
    }


def render(catalog: dict) -> str:
    """Deterministic text, so the committed file can be diffed against a fresh run."""
    return json.dumps(catalog, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def load_operations(path: Path = OPERATIONS_FILE) -> list[str]:
    entries = yaml.safe_load(path.read_text())
    if not isinstance(entries, list) or not all(isinstance(entry, str) for entry in entries):
        raise SpecError(f"{path} must be a YAML list of 'METHOD /path' strings")
    return entries


def main(argv: Sequence[str] | None = None) -> int:
    """Regenerate the catalogue; 1 with a one-line reason when a spec is missing, not JSON or not PagerDuty's,
    2 for a wrong command line (argparse's own)."""
    parser = argparse.ArgumentParser(prog="python -m tools.generate",
                                     description="Regenerate tools/catalog.json from PagerDuty's OpenAPI specs.")
    parser.add_argument("--spec", type=Path, required=True, help="REST v2 openapiv3.json")
    parser.add_argument("--events-spec", type=Path,
                        help="Events v2 openapiv3.json (default: events-v2/openapiv3.json beside --spec)")
    parser.add_argument("--operations", type=Path, default=OPERATIONS_FILE)
    parser.add_argument("--out", type=Path, default=CATALOG_FILE)
    args = parser.parse_args(argv)
    events_path = args.events_spec or args.spec.parent / "events-v2" / "openapiv3.json"
    try:
        events_spec = json.loads(events_path.read_text()) if args.events_spec or events_path.exists() else None
        catalog = build_catalog(json.loads(args.spec.read_text()), events_spec, load_operations(args.operations))
    except OSError as error:
        return _failed(f"cannot read {error.filename}: {error.strerror}")
    except json.JSONDecodeError as error:
        return _failed(f"a spec is not JSON ({error.msg} at line {error.lineno}); pass PagerDuty's openapiv3.json")
    except SpecError as error:
        return _failed(f"cannot build the catalogue: {error}")
    args.out.write_text(render(catalog))
    print(f"wrote {len(catalog['operations'])} operations to {args.out}", file=sys.stderr)
    return 0


def _failed(reason: str) -> int:
    print(f"python -m tools.generate: {reason}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
