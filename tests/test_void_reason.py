"""Voiding keeps a reason with the invoice (engine, schema migration, command line)."""

from __future__ import annotations

import datetime as dt
import json

import duckdb
import pytest

from engine import schema
from engine.billing.approval import approve_invoices
from engine.billing.invoice_store import load_invoice
from engine.billing.lifecycle import finalize_invoice, void_invoice
from engine.cli import main as cli_main
from engine.db import connect


def _open_invoice(con, invoice_id: str = "a") -> str:
    """A finalized one-line invoice of 10.00 USD."""
    con.execute("INSERT INTO customers (customer_id, name, business_id, currency) VALUES ('C-1', 'One', 'biz', 'USD')")
    con.execute(
        """INSERT INTO invoices (invoice_id, business_id, customer_id, contract_id, status, currency,
               period_start, period_end, subtotal_minor, tax_minor, total_minor, created_at)
           VALUES (?, 'biz', 'C-1', 'K-1', 'draft', 'USD', ?, ?, 1000, 0, 1000, now()::TIMESTAMP)""",
        [invoice_id, dt.date(2026, 3, 1), dt.date(2026, 3, 31)],
    )
    con.execute("INSERT INTO invoice_cycle_claims VALUES ('K-1', ?, ?)", [dt.date(2026, 3, 1), invoice_id])
    approve_invoices(con, [invoice_id])  # finalize takes only approved invoices
    finalize_invoice(con, invoice_id)
    return invoice_id


@pytest.fixture
def db_path(tmp_path):
    return tmp_path / "void.duckdb"


def test_void_keeps_the_reason_with_the_invoice(db_path):
    con = connect(db_path)
    _open_invoice(con)
    voided = void_invoice(con, "a", reason="billed twice by mistake")
    assert (voided.status, voided.void_reason) == ("void", "billed twice by mistake")
    assert load_invoice(con, "a").void_reason == "billed twice by mistake"
    stored = con.execute("SELECT void_reason FROM invoices WHERE invoice_id = 'a'").fetchone()[0]
    assert stored == "billed twice by mistake"


def test_void_without_a_reason_stores_none_and_a_blank_reason_counts_as_none(db_path):
    con = connect(db_path)
    _open_invoice(con)
    assert void_invoice(con, "a", reason="   ").void_reason is None


def test_an_older_database_gains_the_void_reason_column(tmp_path):
    """A database made by the first schema version is migrated: its invoices get void_reason NULL."""
    path = tmp_path / "old.duckdb"
    raw = duckdb.connect(str(path))
    raw.execute("CREATE TABLE schema_version (version INTEGER NOT NULL, applied_at TIMESTAMP)")
    raw.execute(schema.MIGRATIONS[0])
    raw.execute("INSERT INTO schema_version VALUES (1, current_timestamp)")
    raw.close()
    con = connect(path)
    assert schema.current_version(con) == schema.SCHEMA_VERSION >= 2
    columns = [r[0] for r in con.execute("DESCRIBE invoices").fetchall()]
    assert "void_reason" in columns


def test_cli_void_takes_a_reason(db_path, capsys):
    con = connect(db_path)
    _open_invoice(con)
    con.close()
    assert cli_main(["--db", str(db_path), "void", "a", "--reason", "customer cancelled"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert (printed["status"], printed["void_reason"]) == ("void", "customer cancelled")
