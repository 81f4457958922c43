"""`python3 tasks.py test` runs most tests on pytest-xdist workers, which drop the failures of subtests: every
schemathesis test (its operations are subtests) must be marked `single_process` so it runs in the second pass."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def _decorator_names(fn: ast.FunctionDef) -> list[str]:
    return [ast.unparse(d) for d in fn.decorator_list]


def _schemathesis_tests() -> list[tuple[str, list[str]]]:
    found = []
    for path in TESTS.rglob("test_*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef):
                names = _decorator_names(node)
                if any(name.endswith(".parametrize()") and not name.startswith("pytest.") for name in names):
                    found.append((f"{path.relative_to(TESTS)}::{node.name}", names))
    return found


def test_every_schemathesis_test_runs_outside_the_xdist_workers():
    found = _schemathesis_tests()
    assert found, "the schemathesis fuzz of the HTTP API is found"
    unmarked = [name for name, decorators in found if "pytest.mark.single_process" not in decorators]
    assert not unmarked, f"mark these @pytest.mark.single_process: {unmarked}"
