"""The database: every table of the schema, exact money types, versioning, a clear error when busy."""

from __future__ import annotations

import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from helpers_data import held_by_another_process

from engine import schema
from engine.db import connect
from engine.errors import DatabaseBusyError

ROOT = Path(__file__).resolve().parent.parent
_DDL = "\n".join(schema.MIGRATIONS)
# every table created, under the name it has after the migrations that rebuild a table and rename it
SCHEMA_TABLES = sorted(
    set(re.findall(r"CREATE TABLE (\w+)", _DDL)) - set(re.findall(r"ALTER TABLE (\w+) RENAME TO", _DDL))
)
# Money and quantities of the input tables: exact decimals in major units.
DECIMAL_COLUMNS = {
    "customers": ["tax_rate"],
    "contracts": ["minimum_commitment"],
    "order_lines": [
        "unit_price",
        "quantity",
        "package_size",
        "free_units",
        "percentage_rate",
        "fixed_fee",
        "discount_percent",
    ],
    "price_tiers": ["up_to", "unit_price", "flat_fee"],
    "usage": ["quantity"],
    "delayed_charges": ["amount"],
}


def columns(con) -> list[tuple[str, str, str]]:
    return con.execute(
        "SELECT table_name, column_name, data_type FROM information_schema.columns WHERE table_schema = 'main'"
    ).fetchall()


def test_a_fresh_database_has_every_table_of_the_schema(con):
    tables = {
        r[0]
        for r in con.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'").fetchall()
    }
    assert set(SCHEMA_TABLES) | {"schema_version"} <= tables
    assert set(schema.INPUT_TABLES) <= tables
    assert len(SCHEMA_TABLES) >= 15


def test_an_invoice_status_outside_the_one_enumeration_is_refused_by_the_schema(con):
    from engine.statuses import STATUSES

    insert = """INSERT INTO invoices (invoice_id, business_id, customer_id, status, currency, subtotal_minor,
                tax_minor, total_minor, created_at) VALUES (?, 'b', 'c', ?, 'USD', 0, 0, 0, current_timestamp)"""
    for n, status in enumerate(STATUSES):
        con.execute(insert, [f"ok-{n}", status])
    with pytest.raises(duckdb.ConstraintException, match="CHECK"):
        con.execute(insert, ["bad", "paid"])
    assert con.execute("SELECT count(*) FROM invoices").fetchone()[0] == len(STATUSES)


def test_no_column_anywhere_is_a_float(con):
    floats = [c for c in columns(con) if re.match(r"(DOUBLE|FLOAT|REAL)", c[2])]
    assert floats == []


def test_money_and_quantities_are_decimal_and_invoice_money_is_integer_minor_units(con):
    types = {(t, c): d for t, c, d in columns(con)}
    for table, names in DECIMAL_COLUMNS.items():
        for name in names:
            assert types[(table, name)].startswith("DECIMAL("), (table, name, types[(table, name)])
    minor = {k: v for k, v in types.items() if k[1].endswith("_minor")}
    assert minor and set(minor.values()) == {"BIGINT"}
    assert types[("price_tiers", "unit_price")] == "DECIMAL(38,12)"
    assert types[("usage", "quantity")] == "DECIMAL(18,6)"


def test_schema_version_is_the_current_one(con):
    assert schema.current_version(con) == schema.SCHEMA_VERSION
    assert con.execute("SELECT max(version), count(*) FROM schema_version").fetchall() == [
        (schema.SCHEMA_VERSION, schema.SCHEMA_VERSION)
    ]


def test_connecting_again_to_an_existing_database_changes_nothing(db_path):
    first = connect(db_path)
    first.execute("INSERT INTO customers (customer_id, name) VALUES ('C1', 'Acme')")
    first.close()
    again = connect(db_path)
    assert again.execute("SELECT count(*) FROM schema_version").fetchall() == [(schema.SCHEMA_VERSION,)]
    assert again.execute("SELECT customer_id FROM customers").fetchall() == [("C1",)]
    assert schema.migrate(again) == schema.SCHEMA_VERSION
    again.close()


@pytest.fixture
def held_db(db_path):
    """The database file held open by another process until the test is over."""
    with held_by_another_process(db_path):
        yield db_path


def test_a_database_held_by_another_process_is_busy_and_the_error_names_the_file(held_db):
    with pytest.raises(DatabaseBusyError) as caught:
        connect(held_db)
    assert str(held_db) in str(caught.value)


def test_cli_on_a_busy_database_prints_one_clean_line_and_exits_3(held_db, basics_folder):
    run = subprocess.run(
        [sys.executable, "-m", "engine", "--db", str(held_db), "import", str(basics_folder)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert run.returncode == 3
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    assert lines[0].startswith("billsim: ") and str(held_db) in lines[0]
    assert "Traceback" not in run.stderr


def test_the_taxes_migration_keeps_earlier_invoices_taxes_as_their_single_rate(tmp_path):
    """A ledger made before taxes.csv (spec section 11): after the migration its invoices read as before, their
    tax listed as the one tax of their tax_rate (no code), on the subtotal; an invoice at rate 0 lists none."""
    from engine.billing.invoice_store import load_invoice

    taxes_at = next(n for n, sql in enumerate(schema.MIGRATIONS, start=1) if "CREATE TABLE taxes" in sql)
    path = tmp_path / "old.duckdb"
    raw = duckdb.connect(str(path))
    raw.execute("CREATE TABLE schema_version (version INTEGER NOT NULL, applied_at TIMESTAMP)")
    for version in range(1, taxes_at):
        raw.execute(schema.MIGRATIONS[version - 1])
        raw.execute("INSERT INTO schema_version VALUES (?, current_timestamp)", [version])
    for invoice_id, rate, tax in (("inv-taxed", "8.25", 928), ("inv-free", "0", 0)):
        raw.execute(
            """INSERT INTO invoices (invoice_id, business_id, customer_id, status, currency, tax_rate, subtotal_minor,
                   tax_minor, total_minor, created_at) VALUES (?, 'b', 'C1', 'open', 'USD', ?, 11250, ?, ?, now())""",
            [invoice_id, rate, tax, 11250 + tax],
        )
    raw.close()
    con = connect(path)
    assert schema.current_version(con) == schema.SCHEMA_VERSION
    taxed = load_invoice(con, "inv-taxed")
    assert [(t.code, t.name, t.rate, t.base_minor, t.amount_minor) for t in taxed.taxes] == [
        (None, "Tax", Decimal("8.25"), 11250, 928)
    ]
    assert (taxed.discount_minor, taxed.total_minor, load_invoice(con, "inv-free").taxes) == (0, 12178, [])
    con.close()
