"""Data flows one way: no module imports one downstream of it (STYLE.md, 'A shape that fits')."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "profiler"

# loading -> tracing -> costs -> aggregate -> roofline -> report -> api -> tools -> document -> render/export -> cli
RANK = {
    "errors": 0, "events": 0, "units": 0, "dtypes": 0, "yamlfile": 0, "preserve": 0, "vocabulary": 0, "plausible": 0,
    "costs": 1, "tracing": 1, "hardware": 1, "transforms": 1,
    "loading": 2, "aggregate": 2, "realrun": 2, "liveness": 2,
    "fusion": 3, "roofline": 3, "precision": 3, "latency_model": 3, "in_model": 3, "byop": 3,
    "report": 4,
    "api": 5,
    "convtable": 6, "advise": 6, "compare": 6, "crosscheck": 6, "budget": 6, "budgets": 6, "measure": 6, "results": 6, "llm": 6,
    "calibrate": 7, "document": 7,
    "render": 8, "plot": 8,
    "cli": 9, "__main__": 10, "__init__": 10,
}


# The one import that points downstream, deferred to call time: `Report.to_dict()` is the Python
# user's door to the JSON document, which `document` builds for every result type.
# The same for `print(report)`: the table, drawn by `render`.
# `profiler.budget.format_value`, kept for callers of the budgets' first module, now lives in `render`.
# `CheckResult.to_dict()` is the same door for a budget check.
DEFERRED = {("report", "document"), ("report", "render"), ("budget", "render"), ("budgets", "document")}


def _deferred(tree: ast.Module) -> set[int]:
    """ids of import nodes inside function bodies."""
    return {id(n) for f in ast.walk(tree) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
            for n in ast.walk(f) if isinstance(n, ast.ImportFrom)}


def internal_imports(path: Path, *, module_level_only: bool = False) -> set[str]:
    """The top-level profiler modules that `path` imports relatively (`from ..report import X`)."""
    package = ["profiler", *path.relative_to(PACKAGE).parts[:-1]]
    found = set()
    tree = ast.parse(path.read_text())
    inside_functions = _deferred(tree) if module_level_only else set()
    for node in ast.walk(tree):
        if not (isinstance(node, ast.ImportFrom) and node.level) or id(node) in inside_functions:
            continue
        base = package[: len(package) - (node.level - 1)]
        full = base + (node.module.split(".") if node.module else [])
        if len(full) > 1:
            found.add(full[1])
        else:  # from profiler's root: the names are modules
            found.update(alias.name for alias in node.names)
    return found


def module_key(path: Path) -> str:
    return path.relative_to(PACKAGE).parts[0].removesuffix(".py")


FILES = sorted(p for p in PACKAGE.rglob("*.py") if "_configs" not in p.parts)


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_import_points_downstream(path):
    own = module_key(path)
    assert own in RANK, f"{own} has no place in the data flow: add it to RANK"
    deferred = internal_imports(path) - internal_imports(path, module_level_only=True)
    for imported in internal_imports(path) - {own}:
        assert imported in RANK, f"{path.name} imports unknown module {imported}"
        if imported in deferred and (own, imported) in DEFERRED:
            continue
        assert RANK[imported] <= RANK[own], f"{own} (rank {RANK[own]}) imports downstream {imported} (rank {RANK[imported]})"


def test_only_the_json_builder_reads_result_dicts():
    """Results stay typed: no module but `document` calls `to_dict()`; `Report.to_dict` is the user's door."""
    for path in FILES:
        if module_key(path) == "document":
            continue
        tree = ast.parse(path.read_text())
        calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
                 and n.func.attr == "to_dict"]
        assert not calls, f"{path.relative_to(PACKAGE)} calls to_dict() (line {calls[0].lineno}): use the typed result"


@pytest.mark.parametrize("library, allowed", [("typer", {"cli"}), ("rich", {"render", "cli"})])
def test_user_interface_libraries_stay_at_the_edge(library, allowed):
    for path in FILES:
        tree = ast.parse(path.read_text())
        imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        imported |= {(n.module or "").split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and not n.level}
        if library in imported:
            assert module_key(path) in allowed, f"{path.relative_to(PACKAGE)} imports {library}"
