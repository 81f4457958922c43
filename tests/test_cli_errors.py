"""Every `billsim` error is ONE line on stderr and an exit code (docs/cli.md): 2 bad input, 3 database busy,
4 a database or file that cannot be read or written. Never a Python traceback.

Each case runs the real command in a subprocess against a small database: customer C1 (USD) with
contract K1 (monthly from 2026-01-01, 10.00 flat) and one open invoice of March.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import pytest
from helpers_data import add_contract, add_customer, add_line

from engine.billing.approval import approve_invoices
from engine.billing.invoices import draft_period_invoice
from engine.billing.lifecycle import finalize_invoice
from engine.db import connect
from engine.errors import MAX_MESSAGE, ValidationError
from engine.service.requests import CreditNoteItemRequest, parse

ROOT = Path(__file__).resolve().parent.parent
VENV_PY = ROOT / ".venv" / "bin" / "python"
CLI = [str(VENV_PY if VENV_PY.exists() else Path(sys.executable)), "-m", "engine"]


@pytest.fixture(scope="module")
def ledger(tmp_path_factory) -> tuple[Path, str]:
    """(database path, id of an open invoice of 10.00 USD)."""
    path = tmp_path_factory.mktemp("cli") / "cli.duckdb"
    con = connect(path)
    add_customer(con, "C1")
    add_contract(con, "K1", "C1", "2026-01-01")
    add_line(con, "L1", "K1", unit_price="10.00")
    invoice_id = draft_period_invoice(con, "K1", dt.date(2026, 3, 15)).invoice.invoice_id
    approve_invoices(con, [invoice_id])  # finalize takes only approved invoices
    finalize_invoice(con, invoice_id)
    con.close()
    return path, invoice_id


def billsim(db: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*CLI, "--db", str(db), *args], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )


def assert_one_line_error(proc: subprocess.CompletedProcess, code: int, *words: str) -> None:
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("billsim"), proc.stderr
    assert proc.returncode == code, proc.stderr
    for word in words:
        assert word in lines[0]


@pytest.mark.parametrize(
    "amount, words",
    [
        ("abc", ["not a plain decimal amount"]),
        ("1,5", ["not a plain decimal amount"]),  # a decimal comma is never read as 15
        ("12,50", ["not a plain decimal amount"]),  # nor as 1250
        ("0x10", ["not a plain decimal amount"]),
        ("", ["not a plain decimal amount"]),
        ("-5", ["positive"]),
        ("0", ["positive"]),
        ("nan", ["not a plain decimal amount"]),
        ("1e2", ["not a plain decimal amount"]),  # the rule of every front end's amounts: no exponent
        ("1e999", ["not a plain decimal amount"]),
        ("1" + "0" * 30, ["beyond the largest amount"]),
        ("1,000", ["exceeds the balance due"]),  # thousands grouped by commas: 1000
        ("١٢", ["not a plain decimal amount"]),  # Arabic-Indic digits are never read as 12
        ("５", ["not a plain decimal amount"]),  # nor fullwidth ones as 5
        ("10.001", ["decimals"]),
        ("10.01", ["exceeds the balance due"]),
    ],
)
def test_a_bad_payment_amount_is_one_line_and_exit_2(ledger, amount, words):
    db, invoice_id = ledger
    assert_one_line_error(billsim(db, "pay", invoice_id, amount), 2, *words)


@pytest.mark.parametrize(
    "args, words",
    [
        (["pay", "INV-NOPE", "abc"], ["not a plain decimal amount"]),
        (["pay", "INV-NOPE", "5"], ["no invoice"]),
        (["finalize", "INV-NOPE"], ["no invoice"]),
        (["void", "INV-NOPE"], ["no invoice"]),
        (["preview", "K-NOPE", "--period-date", "2026-03-01"], ["unknown contract"]),
        (["draft", "K1", "--period-date", "2026-02-30"], ["not a date"]),
        (["run", "--period-date", "yesterday"], ["not a date"]),
        (["draft", "K1", "--period-date", "2026-W01-1"], ["--period-date: not a date (YYYY-MM-DD)"]),  # 2025-12-29
        (["cycles", "K1", "--from", "20260101", "--to", "2026-03-01"], ["--from: not a date (YYYY-MM-DD)"]),
        (["cycles", "K1", "--from", "2026-03-01", "--to", "2026-01-01"], ["before"]),
        (["cycles", "K1", "--from", "2026-01-01"], ["--to"]),
        (["preview", "K1", "--period-date", "9999-12-31"], ["9999"]),
        (["draft", "K1", "--period-date", "9999-12-31"], ["9999"]),
        (["cycles", "K1", "--from", "2026-01-01", "--to", "9999-12-31"], ["9999"]),
        (["run", "--period-date", "9999-12-31", "--quiet"], ["9999"]),
        (["demo", "--out", "unused", "--contracts", "-1"], ["negative"]),
        (["init", "--demo", "--usage-rows", "-5"], ["negative"]),
        (["init", "--contracts", "many"], ["whole number"]),
        (["--wait", "soon", "init"], ["number"]),
        (["simulate", "no-such-scenario.json", "--from", "2026-01-01", "--to", "2026-02-01"], ["scenario"]),
        (["import", "no-such-folder"], ["no-such-folder"]),
        (["run", "--period-date", "2026-03-15", "--business", "NOPE"], ["unknown business 'NOPE'"]),
        (["thresholds", "--business", "nope", "--total-change-percent", "5"], ["unknown business 'nope'"]),
        (["frobnicate"], ["invalid choice"]),
        ([], ["command"]),
    ],
)
def test_bad_input_to_any_command_is_one_line_and_exit_2(ledger, args, words):
    assert_one_line_error(billsim(ledger[0], *args), 2, *words)


def test_an_unwritable_export_folder_is_one_line_and_exit_4(ledger, tmp_path):
    a_file = tmp_path / "a-file"
    a_file.write_text("not a folder")
    assert_one_line_error(billsim(ledger[0], "export", "--out", str(a_file / "out")), 4)


def test_an_audit_file_that_cannot_be_written_is_one_line_and_exit_4(ledger):
    """The engine logs a storage error too: that log went to stderr as a second line before `billsim: …` (a file
    under /proc cannot be created, even by root)."""
    assert_one_line_error(billsim(ledger[0], "audit", "--out", "/proc/billsim-audit.csv"), 4)


def test_a_file_that_is_not_a_database_is_one_line_and_exit_4(tmp_path):
    not_db = tmp_path / "notes.duckdb"
    not_db.write_text("hello")
    assert_one_line_error(billsim(not_db, "init"), 4)


def test_a_message_beyond_the_bound_is_cut_and_says_how_much_was_left_out():
    err = ValidationError("x" * (MAX_MESSAGE + 500))
    assert len(err.message) < MAX_MESSAGE + 40 and err.message.endswith("… (500 more characters)")
    assert ValidationError("short").message == "short"


def test_a_demo_beyond_the_largest_measured_is_refused_before_anything_is_written(tmp_path):
    """A typo (`--contracts 100000000`) ran for minutes and filled the disk's temp space: refused at once."""
    out = tmp_path / "demo"
    assert_one_line_error(billsim(tmp_path / "x.duckdb", "demo", "--out", str(out), "--contracts", "1000001"), 2)
    assert not out.exists()
    proc = billsim(tmp_path / "x.duckdb", "init", "--demo", "--usage-rows", "100000001")
    assert_one_line_error(proc, 2, "usage_rows: must be from 0 to 100,000,000")
    assert list(tmp_path.iterdir()) == []  # no database file made for a demo refused


@pytest.mark.parametrize(("value", "words"), [(True, "not true"), (12.5, "inexact"), ("1e2", "plain decimal")])
def test_an_amount_given_as_a_boolean_is_told_so(value, words):
    """The request models' amount rule names what is wrong: a boolean is not a number (it was told "a JSON number
    with a fraction is inexact")."""
    with pytest.raises(ValidationError, match=words):
        parse(CreditNoteItemRequest, {"line_no": 1, "amount": value})


@pytest.mark.parametrize(
    "args",
    [
        ["--actor", "a" * 201, "pay", "{invoice}", "1.00"],
        ["pay", "{invoice}", "1.00", "--actor", "a" * 201],
        ["--actor", "ana\x07", "run", "--period-date", "2026-04-15", "--quiet"],
    ],
)
def test_an_actor_past_the_name_bound_is_one_line_and_exit_2_and_nothing_is_written(ledger, args):
    """--actor is a name like every other (limits.MAX_NAME, storable): refused before the command writes anything."""
    db, invoice_id = ledger
    proc = billsim(db, *[a.replace("{invoice}", invoice_id) for a in args])
    assert_one_line_error(proc, 2, "invalid request: actor: ")
    con = connect(db)
    try:
        assert con.execute("SELECT count(*) FROM payments").fetchone()[0] == 0
        assert con.execute("SELECT count(*) FROM bill_runs").fetchone()[0] == 0
    finally:
        con.close()
