"""Every tool is one declaration in `tools/registry.py`; this holds every part of every tool to what the rest
of the agent relies on, and the registry to refusing a declaration that does not fit. CONTRIBUTING.md's
"Add a tool" lists the same parts."""

from __future__ import annotations

import ast
import copy
import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import get_args, get_type_hints

import pytest
import yaml

from agent.toolsets import CORE, cues
from tools.catalog import Catalog, OverlayError, load_catalog, package_data
from tools.registry import DECLARED, TOOLS, RegistryError, Tool, _checked
from tools.schemas import ToolArgs
from tools.toolkit import step

TOOLS_DIR = Path(__file__).resolve().parents[1] / "tools"
EVERY = pytest.mark.parametrize("tool", list(TOOLS.values()), ids=list(TOOLS))
WRITES = [tool for tool in TOOLS.values() if tool.kind == "write"]


def _catalog(edit=lambda overlay: None) -> Catalog:
    overlay = copy.deepcopy(yaml.safe_load(package_data().joinpath("overlay.yaml").read_text()))
    edit(overlay)
    return Catalog(json.loads(package_data().joinpath("catalog.json").read_text()), overlay)


@EVERY
def test_every_tool_has_its_words_arguments_and_operations(tool: Tool):
    catalog = load_catalog()
    assert tool.description, "overlay.yaml: what the planner reads about it"
    assert issubclass(tool.args, ToolArgs)
    assert tool.doing and step(tool.name) != "Running a step"
    assert tool.operations
    kinds = {catalog.operation(op).kind for op in tool.operations}
    assert ("write" in kinds) == (tool.kind == "write"), "a write calls a write operation; a read never does"
    assert tool.toolsets and set(tool.toolsets) <= {CORE, *cues()}, "toolsets.yaml has a group for each toolset"


@EVERY
def test_every_part_takes_the_tools_own_arguments(tool: Tool):
    """run, sentence, check and pin each take the declared argument model, so none can read another tool's."""
    parts = [part for part in (tool.run, tool.sentence, tool.check, tool.pin) if part is not None]
    assert all(get_type_hints(part)["a"] is tool.args for part in parts), tool.name


@pytest.mark.parametrize("tool", WRITES, ids=[tool.name for tool in WRITES])
def test_every_write_has_its_approval_parts(tool: Tool):
    assert tool.sentence is not None, "the sentence a person approves"
    assert tool.check is not None, "its precondition: would PagerDuty refuse it as things stand?"
    assert tool.idempotency is not None and tool.idempotency.how, "how it stays exactly-once when run again"
    assert tool.risk in ("low", "medium", "high")
    action = tool.args.model_fields.get("action")
    assert set(tool.risk_by_action) <= set(get_args(action.annotation) if action else ())


def test_reads_have_no_approval_parts_and_only_writes_destroy():
    reads = [tool for tool in TOOLS.values() if tool.kind == "read"]
    assert reads and all((t.sentence, t.check, t.pin, t.idempotency, t.destructive, t.risk)
                         == (None, None, None, None, False, "low") for t in reads)
    assert {t.name for t in WRITES if not t.destructive} == {"add_note"}
    assert {t.name for t in WRITES if t.idempotency and t.idempotency.keyed} == {"create_incident", "send_event"}
    assert {t.name for t in WRITES if t.pin} == {"update_incident", "create_override"}


def test_the_registry_holds_every_declaration_in_order():
    assert list(TOOLS) == [tool.name for tool in DECLARED]
    assert set(load_catalog().tool_descriptions()) == set(TOOLS)


@pytest.mark.parametrize(("edit", "message"), [
    (lambda o: o["tools"].pop("list_teams"), r"tools\.list_teams: missing"),
    (lambda o: o["tools"].__setitem__("list_teamz", "Lists the teams."), r"tools\.list_teamz: no such tool"),
])
def test_a_description_without_a_tool_or_a_tool_without_one_fails(edit, message):
    with pytest.raises(OverlayError, match=message):
        _checked(DECLARED, _catalog(edit))


@pytest.mark.parametrize(("change", "message"), [
    ({"operations": ("listTeamz",)}, r"list_teams: no operation 'listTeamz'"),
    ({"operations": ("listTeams", "createIncident")}, r"list_teams: a read tool may not call createIncident"),
    ({"verbs": ("teams",)}, r"list_teams: command verbs run `VERB INCIDENT`, so it must take one incident"),
])
def test_a_declaration_that_does_not_fit_the_catalogue_fails(change, message):
    declared = tuple(replace(t, **change) if t.name == "list_teams" else t for t in DECLARED)
    with pytest.raises(RegistryError, match=message):
        _checked(declared, load_catalog())


def test_a_tool_declared_twice_fails():
    with pytest.raises(RegistryError, match="find_services is declared twice"):
        _checked((*DECLARED, DECLARED[0]), load_catalog())


def test_no_part_is_looked_up_by_name():
    """`getattr` with a computed name hides a tool's parts from "find usages" and fails only when called."""
    found = [f"{path.name}:{node.lineno}" for path in sorted(TOOLS_DIR.glob("*.py"))
             for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
             if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "getattr"
             and not isinstance(node.args[1], ast.Constant)]  # a fixed name (a feature check) hides nothing
    assert not found


def test_the_tools_load_without_langchain():
    """The command line's quick paths list and run tools without paying for LangChain's import."""
    script = ("import sys; import tools.registry, tools.toolkit, tools.client, tools.events; "
              "print(sorted({m.split('.')[0] for m in sys.modules} & {'langchain_core', 'langgraph'}))")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
