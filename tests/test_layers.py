"""Imports between items, deadlines, workflow and plans go one way.

The item core (its tables, schemas, scope, queries, history, the writer, the
item's JSON text and the 外部编号's written form) is what deadlines, workflow and
plans build on; the item use cases (service, transitions, evidence, router)
build on them in turn. Nothing in the core
reaches up, and no module of these packages imports itself back round a cycle
(a lazy import inside a function counts: it only hides the cycle).
"""

import ast
import subprocess
import sys
from pathlib import Path

import app

APP = Path(app.__file__).parent
PACKAGES = ("items", "deadlines", "workflow", "plans")
ITEM_CORE = {
    "app.items.models",
    "app.items.schemas",
    "app.items.scope",
    "app.items.queries",
    "app.items.history",
    "app.items.anchor",
    "app.items.writer",
    "app.items.fast_json",
    "app.items.refs",
}


def _module(path: Path) -> str:
    return ".".join(("app", *path.relative_to(APP).with_suffix("").parts))


def _imports(path: Path, known: set[str]) -> set[str]:
    """The modules of ``known`` that ``path`` imports, at any depth of its code."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                found.add(full if full in known else node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found & known


def _graph() -> dict[str, set[str]]:
    paths = [p for pkg in PACKAGES for p in (APP / pkg).glob("*.py") if p.name != "__init__.py"]
    known = {_module(p) for p in paths}
    return {_module(p): _imports(p, known) for p in paths}


def _package(module: str) -> str:
    return module.split(".")[1]


def test_the_item_core_imports_no_rule_built_on_it():
    graph = _graph()
    reaching_up = {
        f"{m} -> {dep}"
        for m in ITEM_CORE
        for dep in graph[m]
        if _package(dep) in ("deadlines", "workflow")
        or (_package(dep) == "items" and dep not in ITEM_CORE)
        or (_package(dep) == "plans" and dep != "app.plans.models")
    }
    assert not reaching_up


def test_deadlines_workflow_and_plans_import_only_the_item_core():
    graph = _graph()
    found = {
        f"{m} -> {dep}"
        for m, deps in graph.items()
        if _package(m) in ("deadlines", "workflow", "plans")
        for dep in deps
        if _package(dep) == "items" and dep not in ITEM_CORE
    }
    assert not found


def test_no_import_cycles():
    graph = _graph()
    done: set[str] = set()

    def walk(module: str, trail: list[str]) -> None:
        if module in trail:
            raise AssertionError(" -> ".join([*trail[trail.index(module) :], module]))
        if module in done:
            return
        for dep in sorted(graph[module]):
            walk(dep, [*trail, module])
        done.add(module)

    for module in sorted(graph):
        walk(module, [])


def test_each_side_imports_first_in_a_fresh_interpreter():
    """The modules that change items from outside app.items load before anything else."""
    first = [
        "app.deadlines.ladder",
        "app.deadlines.extensions",
        "app.workflow.effects",
        "app.items.writer",
    ]
    for module in first:
        code = f"import {module}; import app.items.transitions, app.main"
        result = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 0, f"{module} first: {result.stderr[-2000:]}"
