"""Which commands create a database (docs/cli.md): `init` and `import` make the file when the path holds none; every
other command reads or changes an existing ledger, so a path without a database (a typo in --db or $BILLSIM_DB) is
refused in one line (exit 2, saying how to create one) and nothing is left behind: no file, no folder, no server
lock. `init --demo` seeds only a database that holds no data yet, and checks the demo's size before the file is
made."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from engine.billing.ledger_queries import table_counts
from engine.cli import main as cli_main
from engine.db import connect
from engine.limits import MAX_DEMO_CONTRACTS

ROOT = Path(__file__).resolve().parent.parent
VENV_PY = ROOT / ".venv" / "bin" / "python"
PYTHON = str(VENV_PY if VENV_PY.exists() else Path(sys.executable))


def cli(db: Path, *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli_main(["--db", str(db), *argv], stdout=out, stderr=err, tty=False)
    return code, out.getvalue(), err.getvalue()


def missing(db: Path) -> str:
    return (
        f"billsim: no database at {db}: create one with `billsim --db {db} init` (--demo for the demo data), "
        "or check --db / $BILLSIM_DB\n"
    )


@pytest.mark.parametrize(
    "argv",
    [
        ["review", "--period-date", "2026-03-15"],
        ["void", "N-2026-000001"],
        ["run", "--period-date", "2026-03-15", "--quiet"],
        ["export", "--out", "{tmp}/out"],
        ["audit", "--out", "{tmp}/audit.csv"],
        ["render", "N-2026-000001", "--out", "{tmp}/n.html"],
        ["token", "list"],
        ["thresholds"],
        ["credit-note", "list"],
        ["export-inputs", "--out", "{tmp}/inputs"],
    ],
)
def test_a_path_without_a_database_is_refused_in_one_line_and_nothing_is_created(tmp_path, argv):
    db = tmp_path / "typo" / "ledgr.duckdb"  # its folder does not exist either
    code, out, err = cli(db, *(a.replace("{tmp}", str(tmp_path)) for a in argv))
    assert (code, out, err) == (2, "", missing(db))
    assert list(tmp_path.iterdir()) == []


def test_serve_and_mcp_refuse_a_path_without_a_database_before_writing_beside_it(tmp_path):
    """`billsim serve` writes its lock and socket beside the database: a typo must not leave them (nor a file)."""
    db = tmp_path / "ledgr.duckdb"
    for argv in (["serve", "--port", "1"], ["mcp", "--business", "biz-north"]):
        proc = subprocess.run(
            [PYTHON, "-m", "engine", "--db", str(db), *argv],
            cwd=ROOT,
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=120,
            check=False,
        )
        assert (proc.returncode, proc.stdout, proc.stderr) == (2, "", missing(db)), argv
        assert list(tmp_path.iterdir()) == []


def test_init_and_import_create_the_database(tmp_path):
    code, out, err = cli(tmp_path / "new" / "a.duckdb", "init")
    assert (code, json.loads(out)) == (0, {"initialized": True}), err
    code, out, err = cli(tmp_path / "b.duckdb", "import", str(ROOT / "data" / "sample"))
    assert code == 0 and json.loads(out)["imported"]["contracts"] == 20, err
    code, out, err = cli(tmp_path / "b.duckdb", "review", "--period-date", "2026-03-15")
    assert code == 0, err


def counts(db: Path) -> dict[str, int]:
    con = connect(db, read_only=True)
    try:
        return table_counts(con)
    finally:
        con.close()


def test_init_demo_on_a_database_that_holds_data_is_refused_in_one_line_changing_nothing(tmp_path):
    db = tmp_path / "demo.duckdb"
    code, _, err = cli(db, "init", "--demo", "--contracts", "3", "--usage-rows", "30")
    assert code == 0, err
    before = counts(db)
    held = sum(1 for n in before.values() if n)
    assert held > 3
    for size in (["--contracts", "3", "--usage-rows", "30"], []):  # the same demo again, or another size
        code, out, err = cli(db, "init", "--demo", *size)
        assert (code, out) == (2, "")
        assert err == (
            f"billsim: the database {db} already holds data (customers, contracts, order_lines and {held - 3} more "
            "tables): the demo goes into a new database; use a new path (`billsim --db NEW.duckdb init --demo`), or "
            "regenerate the demo on the workbench's Data page\n"
        )
        assert counts(db) == before
    # a database made by `init` alone holds nothing yet: the demo goes in
    code, _, err = cli(tmp_path / "empty.duckdb", "init")
    assert code == 0, err
    code, out, err = cli(tmp_path / "empty.duckdb", "init", "--demo", "--contracts", "3", "--usage-rows", "30")
    assert code == 0 and json.loads(out)["demo"]["contracts"] == 3, err


@pytest.mark.parametrize(
    "size, words",
    [
        (["--contracts", str(MAX_DEMO_CONTRACTS + 1)], "contracts: must be from 0 to 1,000,000, got 1,000,001"),
        (["--usage-rows", "100000001"], "usage_rows: must be from 0 to 100,000,000, got 100,000,001"),
    ],
)
def test_init_demo_beyond_the_bounds_creates_no_file(tmp_path, size, words):
    db = tmp_path / "new" / "big.duckdb"
    code, out, err = cli(db, "init", "--demo", *size)
    assert (code, out, err) == (2, "", f"billsim: invalid request: {words}\n")
    assert list(tmp_path.iterdir()) == []
