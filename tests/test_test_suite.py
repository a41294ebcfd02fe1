"""The test suite's own rules: fixtures are shared through conftest.py only, demo entities are named rather
than copied by id, and CI runs the slow tiers that the everyday command leaves out."""

from __future__ import annotations

import ast
import re
import shlex
from functools import cache
from pathlib import Path

from demo_org import dataset, snapshot

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
HELPERS_WITH_IDS = {"demo_org.py"}  # where the lookups live


@cache
def fixtures_of(path: Path) -> set[str]:
    """The names a module declares fixtures under (`@pytest.fixture`, with or without `name=`)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.FunctionDef):
            for decorator in node.decorator_list:
                call = decorator if isinstance(decorator, ast.Call) else None
                target = call.func if call else decorator
                if ast.unparse(target) in ("pytest.fixture", "fixture"):
                    named = [k.value for k in (call.keywords if call else []) if k.arg == "name"]
                    names |= {node.name, *(ast.literal_eval(n) for n in named)}
    return names


def test_no_module_imports_fixtures_from_another_or_anything_from_conftest():
    offending = []
    for path in sorted(TESTS.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and not node.level:
                source = TESTS / f"{node.module}.py"
                if node.module == "conftest":
                    offending.append(f"{path.name} imports from conftest")
                elif source.is_file() and (taken := fixtures_of(source) & {a.name for a in node.names}):
                    offending.append(f"{path.name} imports fixtures {sorted(taken)} from {source.name}")
    assert offending == [], "share fixtures through conftest.py: " + "; ".join(offending)


def demo_ids() -> dict[str, str]:
    """Every id of the demo organisation, with what it names."""
    data = dataset()
    ids = {e.id: e.name for kind in (data.users, data.teams, data.services, data.schedules,
                                     data.escalation_policies, data.priorities) for e in kind}
    return ids | {incident: f"incident #{n}" for n, incident in snapshot().incidents_by_number.items()}


def test_tests_name_demo_entities_instead_of_copying_their_ids():
    ids = demo_ids()
    pattern = re.compile(r"\b(?:" + "|".join(map(re.escape, ids)) + r")\b")
    copied = {f"{path.name}: {found} ({ids[found]})" for path in sorted(TESTS.glob("*.py"))
              if path.name not in HELPERS_WITH_IDS for found in pattern.findall(path.read_text(encoding="utf-8"))}
    assert sorted(copied) == [], "look them up with demo_org's service_id(…), user_id(…), incident_id(…)"


def test_ci_runs_the_slow_tiers_the_everyday_command_leaves_out():
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert re.search(r'addopts = \[.*"-m", "not slow"', pyproject)
    runs = [shlex.split(line) for line in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
            if line.startswith("python -m pytest")]
    options = [run[run.index("pytest") + 1:] for run in runs]
    markers = [given[given.index("-m") + 1] if "-m" in given else "not slow" for given in options]
    assert sorted(markers) == ["not slow", "slow"]
