"""The layers hold (docs/architecture.md): front ends -> application (engine.service) -> domain -> core.

import-linter checks the contracts declared in pyproject.toml over engine/ and views/; app.py (a script, not a
package) is checked here the same way. No project module is imported inside a function anywhere (an import
inside a function to dodge a cycle is a design problem; PySpark, an optional dependency, is not a project module),
but for DEFERRED: the two CLI commands that start a server load its stack (FastAPI, Streamlit, the MCP SDK) when
they run, so that every other command starts without it (a test below holds that too)."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

from importlinter.cli import lint_imports

ROOT = Path(__file__).resolve().parent.parent
PROJECT = ("engine", "views")
# file -> the project modules it may import inside a function (each a deliberate deferral, never a cycle)
DEFERRED = {"engine/cli/service.py": {"engine.mcp.stdio", "engine.server.run"}}


def _imports(tree: ast.AST) -> list[tuple[ast.AST, str]]:
    """(node, module) of every absolute import under `tree`: `from engine import service` names engine.service."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module in PROJECT:
                found += [(node, f"{node.module}.{alias.name}") for alias in node.names]
            else:
                found.append((node, node.module))
    return found


def test_the_import_contracts_of_pyproject_are_kept():
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        assert lint_imports(no_cache=True) == 0  # its report of what is broken goes to stdout
    finally:
        os.chdir(cwd)


def test_the_workbench_entry_imports_only_the_application_layer_of_the_engine():
    tree = ast.parse((ROOT / "app.py").read_text())
    below = [
        f"app.py:{node.lineno} {module}"
        for node, module in _imports(tree)
        if module.split(".")[0] == "engine" and not (module == "engine.service" or module.startswith("engine.service."))
    ]
    assert below == []


def test_no_project_module_is_imported_inside_a_function():
    files = [ROOT / "app.py", *sorted((ROOT / "engine").rglob("*.py")), *sorted((ROOT / "views").rglob("*.py"))]
    inside = []
    for path in files:
        tree = ast.parse(path.read_text(), str(path))
        for fn in ast.walk(tree):
            if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                continue
            for node in ast.walk(fn):
                relative = isinstance(node, ast.ImportFrom) and node.level > 0
                absolute = [m for n, m in _imports(node) if m.split(".")[0] in PROJECT] if not relative else []
                name = str(path.relative_to(ROOT))
                if relative and _resolved(path, node) in DEFERRED.get(name, ()):
                    continue
                if relative or absolute:
                    inside.append(f"{name}:{node.lineno}")
    assert inside == []


def _resolved(path: Path, node: ast.ImportFrom) -> str:
    """The absolute module of a relative `from ..x import y` in `path`."""
    package = path.relative_to(ROOT).with_suffix("").parts[:-1]
    base = package[: len(package) - (node.level - 1)]
    return ".".join((*base, node.module)) if node.module else ".".join(base)


def test_a_cli_command_starts_without_the_servers_stack():
    """`billsim import`, `pay`, `review`… load neither FastAPI, Streamlit nor the MCP SDK (seconds of start-up)."""
    code = "import sys, engine.cli; print(sorted(m for m in ('fastapi', 'streamlit', 'mcp') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
