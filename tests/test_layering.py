"""The arrows of DESIGN.md's "The parts and how data flows", checked on every import in the tree.

simulator and tools import nothing of ours; agent imports tools and prompts, and the simulator only where
the embedded default is wired; the surfaces (command line, Slack, notebook) use agent's public API;
evals and tests may use everything; the packages form no cycle; the surfaces and the simulator import
nothing of LangChain or LangGraph, the tools nothing of LangGraph and LangChain only where they are
adapted to it. Imports inside functions and under
TYPE_CHECKING count too: a lazy import is still a dependency.

The console script's entry, `command_line.main`, is not a surface but the composition root: each package
keeps its own commands (the command line's in `command_line.cli`, the simulator's in `simulator.__main__`,
the Slack app's in `slack_app.cli`, the eval runner's in `evals.cli`) and this one module mounts them side
by side. It may import those command modules and nothing else, so no surface reaches another's internals
through it.

An import the rules forbid but the tree still has is listed in KNOWN with its reason, so a new one fails
here; an entry that no longer happens fails too, so the list only shrinks.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("simulator", "tools", "prompts", "agent", "evals", "command_line", "slack_app", "notebook_chat")
SURFACES = ("command_line", "slack_app", "notebook_chat")

# What each package may import of ours, beyond itself (evals: everything).
MAY_IMPORT: dict[str, set[str]] = {
    "simulator": set(),
    "tools": set(),
    "prompts": set(),
    "agent": {"tools", "prompts", "simulator"},
    "evals": set(PACKAGES),
    **{surface: {"agent"} for surface in SURFACES},
}
# agent wires the embedded default (a simulator in process) here, and nowhere else.
AGENT_USES_THE_SIMULATOR = {"agent.embedded", "agent.embedded_state", "agent.doctor"}
# agent's public API: what a surface may import.
AGENT_PUBLIC = {"agent.commander", "agent.approvals", "agent.settings", "agent.audit", "agent.wording",
                "agent.doctor", "agent.redaction", "agent.failures", "agent.tool_list", "agent.reads"}
# The console script's entry mounts each package's commands, and imports nothing else.
COMPOSITION_ROOT = "command_line.main"
COMMAND_MODULES = {"command_line.cli", "simulator.__main__", "slack_app.cli", "evals.cli"}

# (importer, imported): why the rule does not hold yet.
KNOWN: dict[tuple[str, str], str] = {
}


def modules() -> Iterator[tuple[str, Path]]:
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            yield ".".join(parts[:-1] if parts[-1] == "__init__" else parts), path


def imported(name: str, path: Path) -> set[str]:
    """The modules of ours that `name` imports, relative imports made absolute."""
    return {m for m in every_import(name, path) if m.split(".")[0] in PACKAGES}


def every_import(name: str, path: Path) -> set[str]:
    """Every module `name` imports, ours or not, relative imports made absolute."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            module = ".".join(part for part in (base, node.module) if part)
            # `from tools import generate` imports the module tools.generate; `from agent.x import y`, agent.x
            submodules = {f"{module}.{alias.name}" for alias in node.names if _is_module(f"{module}.{alias.name}")}
            found |= submodules if len(submodules) == len(node.names) else {module, *submodules}
    return found


def _is_module(name: str) -> bool:
    base = ROOT.joinpath(*name.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def violation(importer: str, target: str) -> bool:
    if importer == COMPOSITION_ROOT:
        return target not in COMMAND_MODULES
    source, destination = importer.split(".")[0], target.split(".")[0]
    if source == destination or source == "evals":
        return False
    if destination not in MAY_IMPORT[source]:
        return True
    if source == "agent" and destination == "simulator":
        return importer not in AGENT_USES_THE_SIMULATOR
    if source in SURFACES:
        return target not in AGENT_PUBLIC
    return False


EDGES = {(name, target) for name, path in modules() for target in imported(name, path)}
VIOLATIONS = {edge for edge in EDGES if violation(*edge)}


def test_every_package_is_scanned():
    names = {name for name, _ in modules()}
    assert {"simulator.core", "tools.client", "agent.graph", "command_line.cli", "slack_app.app"} <= names


def test_no_import_breaks_the_layering_beyond_the_known_exceptions():
    new = sorted(VIOLATIONS - KNOWN.keys())
    assert not new, "imports against DESIGN.md's layering:\n" + "\n".join(f"{a} imports {b}" for a, b in new)


def test_every_known_exception_still_happens():
    gone = sorted(KNOWN.keys() - VIOLATIONS)
    assert not gone, "no longer imported, remove from KNOWN: " + ", ".join(f"{a} -> {b}" for a, b in gone)


@pytest.mark.parametrize("package", ["simulator", "tools", "prompts"])
def test_the_lower_layers_import_nothing_of_ours(package):
    assert not {(a, b) for a, b in EDGES if a.split(".")[0] == package and b.split(".")[0] != package}


def test_agent_imports_no_surface_and_not_evals():
    assert not {(a, b) for a, b in EDGES
                if a.split(".")[0] == "agent" and b.split(".")[0] in {*SURFACES, "evals"}}


@pytest.mark.parametrize(("packages", "foreign"), [
    (SURFACES, {"langgraph", "langchain_core", "langchain_openai"}),  # the surfaces know nothing of LangGraph
    (("simulator",), {"langgraph", "langchain_core", "langchain_openai"}),  # the simulator is only PagerDuty
    (("tools",), {"langgraph"}),  # the tools know nothing of the graph
])
def test_what_a_layer_does_not_know(packages, foreign):
    known = {(name, m) for name, path in modules() if name.split(".")[0] in packages
             for m in every_import(name, path) if m.split(".")[0] in foreign}
    assert not known


def test_the_tools_reach_langchain_through_one_adapter():
    """Everything else in tools (declarations, client, bodies) loads without LangChain, for quick reads; the
    toolkit asks for it only when a LangChain tool is wanted or raises its error."""
    users = {name for name, path in modules() if name.split(".")[0] == "tools"
             for m in every_import(name, path) if m.split(".")[0] in {"langchain_core", "langchain_openai"}}
    assert users <= {"tools.toolkit", "tools.langchain_tools"}


def in_a_cycle(edges: set[tuple[str, str]]) -> set[str]:
    """The nodes from which the edges lead back to themselves."""
    graph: dict[str, set[str]] = defaultdict(set)
    for a, b in edges:
        graph[a].add(b)

    def reachable(start: str) -> set[str]:
        seen, todo = set(), [start]
        while todo:
            for n in graph[todo.pop()] - seen:
                seen.add(n)
                todo.append(n)
        return seen

    return {node for node in list(graph) if node in reachable(node)}


def test_the_packages_form_no_cycle():
    assert not in_a_cycle({(a.split(".")[0], b.split(".")[0]) for a, b in EDGES if a.split(".")[0] != b.split(".")[0]})


@pytest.mark.parametrize("package", PACKAGES)
def test_the_modules_of_a_package_form_no_cycle(package):
    """Inside a package too the arrows point one way: e.g. the simulator's routes and engine take an account and a
    clock and never import the `Simulator` that calls them, so no import has to hide inside a function."""
    assert not in_a_cycle({(a, b) for a, b in EDGES if a.split(".")[0] == package == b.split(".")[0] and a != b})


def test_the_cycle_finder_sees_a_cycle():
    assert in_a_cycle({("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")}) == {"a", "b", "c"}
    assert not in_a_cycle({("a", "b"), ("b", "c"), ("a", "c")})


def test_the_checker_sees_a_forbidden_import():
    """A grader that cannot fail is a defect: a made-up import from the simulator into agent is caught."""
    assert violation("simulator.core", "agent.commander")
    assert violation("slack_app.app", "agent.graph")
    assert violation("agent.graph", "simulator.core")
    assert not violation("agent.embedded", "simulator")
    assert not violation("notebook_chat.chat", "agent.commander")
    assert not violation("command_line.main", "slack_app.cli")
    assert violation("command_line.main", "slack_app.app")
    assert violation("command_line.cli", "slack_app.cli")
