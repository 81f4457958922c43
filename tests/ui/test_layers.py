"""The workbench is an adapter of the application layer: app.py and views/ import engine.service (and its
submodules) and nothing else of the engine, and no project module is imported inside a function."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FILES = [ROOT / "app.py", *sorted((ROOT / "views").glob("*.py"))]


def _imports(tree: ast.AST) -> list[tuple[ast.AST, str]]:
    """(node, module) of every import: `from engine import service` names engine.service."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "engine":
                found += [(node, f"engine.{alias.name}") for alias in node.names]
            else:
                found.append((node, node.module))
    return found


def _is_service(module: str) -> bool:
    return module == "engine.service" or module.startswith("engine.service.")


def test_the_workbench_imports_only_the_application_layer_of_the_engine():
    below = [
        f"{path.relative_to(ROOT)}:{node.lineno} {module}"
        for path in FILES
        for node, module in _imports(ast.parse(path.read_text(), str(path)))
        if module.split(".")[0] == "engine" and not _is_service(module)
    ]
    assert below == []


def test_no_project_module_is_imported_inside_a_function():
    inside = []
    for path in FILES:
        for fn in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                for node, module in _imports(fn):
                    if module.split(".")[0] in ("engine", "views"):
                        inside.append(f"{path.relative_to(ROOT)}:{node.lineno} {module}")
    assert inside == []
