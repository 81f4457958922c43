"""Which business owns what: the lookups behind the one tenancy rule (engine/service/tenancy.py).

Each takes a list of ids and answers in one query; an id that does not exist is absent from the answer.
"""

from __future__ import annotations

import json
import re

import duckdb

from .numbering import businesses_join, invoice_number_sql

_NUMBER = re.compile(r"^[A-Za-z0-9]{1,12}-\d{4}-(\d{1,18})$")  # <prefix>-<year>-<number> (engine/billing/numbering.py)


def contract_owners(con: duckdb.DuckDBPyConnection, contract_ids: list[str]) -> dict[str, tuple[str, str]]:
    """contract_id -> (customer_id, business_id)."""
    rows = con.execute(
        """SELECT k.contract_id, k.customer_id, c.business_id
           FROM contracts k JOIN customers c USING (customer_id)
           WHERE list_contains(?::VARCHAR[], k.contract_id)""",
        [list(dict.fromkeys(contract_ids))],
    ).fetchall()
    return {r[0]: (r[1], r[2]) for r in rows}


def customer_businesses(con: duckdb.DuckDBPyConnection, customer_ids: list[str]) -> dict[str, str]:
    rows = con.execute(
        "SELECT customer_id, business_id FROM customers WHERE list_contains(?::VARCHAR[], customer_id)",
        [list(dict.fromkeys(customer_ids))],
    ).fetchall()
    return dict(rows)


def invoice_businesses(con: duckdb.DuckDBPyConnection, invoice_ids: list[str]) -> dict[str, str]:
    rows = con.execute(
        "SELECT invoice_id, business_id FROM invoices WHERE list_contains(?::VARCHAR[], invoice_id)",
        [list(dict.fromkeys(invoice_ids))],
    ).fetchall()
    return dict(rows)


def numbered_invoices(con: duckdb.DuckDBPyConnection, number: str) -> dict[str, tuple[str, str]]:
    """invoice_id -> (business_id, its number as written) of the invoices whose number is `number` whatever its
    letter case (`n-2026-000001` names N-2026-000001): one per business at most (numbers are unique per business),
    but two businesses may share a prefix, or have prefixes that differ only in case (`N` and `n`)."""
    found = _NUMBER.match(number)
    if found is None:
        return {}
    rows = con.execute(
        f"""SELECT i.invoice_id, i.business_id, {invoice_number_sql()} FROM invoices i {businesses_join()}
            WHERE i.number = ? AND lower({invoice_number_sql()}) = lower(?)""",  # noqa: S608 (SQL of engine/billing/numbering.py; values bound)
        [int(found.group(1)), number],
    ).fetchall()
    return {r[0]: (r[1], r[2]) for r in rows}


def run_businesses(con: duckdb.DuckDBPyConnection, run_id: str) -> tuple[bool, str | None, set[str]]:
    """(the run exists, the business its scope names (None: every business), the businesses it billed a
    contract of — any outcome: drafted, existing, nothing to bill, failed — or drafted a recurring template of)."""
    row = con.execute("SELECT scope FROM bill_runs WHERE run_id = ?", [run_id]).fetchone()
    if row is None:
        return False, None, set()
    try:
        scoped = json.loads(row[0]).get("business_id")
    except (ValueError, AttributeError):
        scoped = None
    billed = {
        r[0]
        for r in con.execute(
            """SELECT DISTINCT cu.business_id FROM bill_run_items b
               JOIN contracts k USING (contract_id) JOIN customers cu USING (customer_id)
               WHERE b.run_id = ?
               UNION SELECT DISTINCT business_id FROM invoices
               WHERE run_id = ? AND recurring_template_id IS NOT NULL""",
            [run_id, run_id],
        ).fetchall()
    }
    return True, scoped, billed


def business_contract_ids(con: duckdb.DuckDBPyConnection, business_id: str | None) -> list[str]:
    """Every contract of the business (of every business: None), ordered."""
    return [
        r[0]
        for r in con.execute(
            """SELECT k.contract_id FROM contracts k JOIN customers c USING (customer_id)
               WHERE ?::VARCHAR IS NULL OR c.business_id = ? ORDER BY 1""",
            [business_id, business_id],
        ).fetchall()
    ]


def business_customer_ids(con: duckdb.DuckDBPyConnection, business_id: str) -> list[str]:
    return [
        r[0]
        for r in con.execute(
            "SELECT customer_id FROM customers WHERE business_id = ? ORDER BY 1", [business_id]
        ).fetchall()
    ]


def business_exists(con: duckdb.DuckDBPyConnection, business_id: str) -> bool:
    """A business is known by its customers, or by its row of businesses.csv."""
    return bool(
        con.execute(
            """SELECT EXISTS (SELECT 1 FROM customers WHERE business_id = ?)
                      OR EXISTS (SELECT 1 FROM businesses WHERE business_id = ?)""",
            [business_id, business_id],
        ).fetchone()[0]
    )
