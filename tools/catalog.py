"""The tool catalogue as typed objects: spec facts from `catalog.json`, our words from `overlay.yaml`.

Both files ship as package data. Loading checks that every overlay entry names a real operation and
real parameters, so a typo fails at start-up instead of reaching the model; `tools.registry` checks the
tools' descriptions and operations against it the same way.
"""

from __future__ import annotations

import json
import re
from functools import cache
from importlib.resources import files
from importlib.resources.abc import Traversable
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError


class OverlayError(ValueError):
    """overlay.yaml does not fit catalog.json; the message names the offending entry."""


class Fact(BaseModel):
    """Base for catalogue models: immutable, and unknown keys fail so a generator change is noticed."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class Parameter(Fact):
    name: str
    location: Literal["path", "query", "header"]
    required: bool
    type: str | None = None
    format: str | None = None
    enum: tuple[Any, ...] | None = None
    default: Any = None
    minimum: float | None = None
    maximum: float | None = None
    min_length: int | None = Field(None, alias="minLength")
    max_length: int | None = Field(None, alias="maxLength")
    min_items: int | None = Field(None, alias="minItems")
    max_items: int | None = Field(None, alias="maxItems")
    nullable: bool | None = None
    items: dict[str, Any] | None = None
    explode: bool = True
    description: str | None = None  # ours, from the overlay


class RequestBody(Fact):
    required: bool
    root_key: str | None
    json_schema: dict[str, Any] = Field(alias="schema")


class Response(Fact):
    success_statuses: tuple[int, ...]
    shape: Literal["object", "array", "empty"]
    root_key: str | None
    paginated: bool

    @property
    def status(self) -> int:
        return self.success_statuses[0]


class Operation(Fact):
    operation_id: str
    api: Literal["rest", "events"]
    method: str
    path: str
    kind: Literal["read", "write"]
    scope: str | None
    from_required: bool
    operation_rate_limited: bool
    parameters: tuple[Parameter, ...]
    request_body: RequestBody | None
    response: Response
    description: str  # ours, from the overlay

    def parameter(self, name: str) -> Parameter:
        for parameter in self.parameters:
            if parameter.name == name:
                return parameter
        raise KeyError(f"{self.operation_id} has no parameter {name!r}")


class OperationWords(Fact):
    description: str = Field(min_length=1)
    parameters: dict[str, str] = {}


class Overlay(Fact):
    operations: dict[str, OperationWords]
    tools: dict[str, Annotated[str, Field(min_length=1)]]
    """Tool name → what the planner reads about it; `tools.registry` checks the names against its tools."""


class Catalog:
    """The exposed PagerDuty operations and the tools built on them, with lookups by id, route and name."""

    def __init__(self, catalog: dict, overlay: dict) -> None:
        try:
            words = Overlay.model_validate(overlay)
        except ValidationError as exc:
            raise OverlayError(f"overlay.yaml is malformed: {exc}") from exc
        facts = catalog["operations"]
        if unknown := sorted(words.operations.keys() - facts.keys()):
            raise OverlayError(f"overlay.yaml: {_entries('operations', unknown)}: no such operation in catalog.json")
        if missing := sorted(facts.keys() - words.operations.keys()):
            raise OverlayError(f"overlay.yaml: {_entries('operations', missing)}: missing; "
                               "every operation needs a description")
        self._operations = {op_id: _operation(op_id, facts[op_id], words.operations[op_id]) for op_id in facts}
        self._tool_descriptions = dict(words.tools)
        self._routes = sorted(((op.method, _route(op.path), op) for op in self._operations.values()),
                              key=lambda route: route[2].path.count("{"))  # /users/me before /users/{id}

    def operation(self, operation_id: str) -> Operation:
        try:
            return self._operations[operation_id]
        except KeyError:
            raise KeyError(f"no operation {operation_id!r} in the catalogue") from None

    def operations(self) -> list[Operation]:
        return list(self._operations.values())

    def operation_for(self, method: str, path: str) -> Operation:
        """The operation for a method and a path, given as the spec's template or as a concrete URL path."""
        for route_method, pattern, operation in self._routes:
            if route_method == method.upper() and pattern.fullmatch(path):
                return operation
        raise KeyError(f"no operation for {method.upper()} {path} in the catalogue")

    def tool_descriptions(self) -> dict[str, str]:
        """What the planner reads about each tool, by tool name."""
        return dict(self._tool_descriptions)


def _operation(operation_id: str, facts: dict, words: OperationWords) -> Operation:
    known = {parameter["name"] for parameter in facts["parameters"]}
    if unknown := sorted(words.parameters.keys() - known):
        raise OverlayError(f"overlay.yaml: {_entries(f'operations.{operation_id}.parameters', unknown)}: "
                           f"no such parameter (it has: {', '.join(sorted(known)) or 'none'})")
    parameters = [parameter | {"description": words.parameters.get(parameter["name"])}
                  for parameter in facts["parameters"]]
    return Operation.model_validate(facts | {"parameters": parameters, "description": words.description})


def _entries(section: str, names: list[str]) -> str:
    return ", ".join(f"{section}.{name}" for name in names)


def _route(template: str) -> re.Pattern[str]:
    return re.compile("/".join("[^/]+" if part.startswith("{") else re.escape(part)
                               for part in template.split("/")))


def package_data() -> Traversable:
    """The folder of package data shipped with `tools` (catalogue, overlay, operation list)."""
    return files("tools")


@cache
def load_catalog() -> Catalog:
    """The catalogue shipped with the package."""
    data = package_data()
    return Catalog(json.loads(data.joinpath("catalog.json").read_text(encoding="utf-8")),
                   yaml.load(data.joinpath("overlay.yaml").read_text(encoding="utf-8"),  # libyaml when installed
                             Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)))
