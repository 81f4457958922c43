"""Reading many invoices at once: a page of a list is a constant number of queries, whatever its size.

find_invoices    the ids of a business's invoices matching filters, newest first, one page, and the count
load_invoices    those invoices with their lines (one query for the heads, one for every line)
invoice_extras   their customers' names and e-mails, payments and last change (one query each)
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

import duckdb

from ..models import Invoice
from ..money import to_major
from .invoice_store import INVOICE_HEADS, TAX_ORDER, invoice_from_rows, rows_as_dicts

# The page's ids as a hash semi join (`list_contains` compares every row of a table with every id of the list:
# 500 ids cost twice the time of this on the invoices of a 100k-contract run).
_IDS = "(SELECT unnest(?::VARCHAR[]))"


def find_invoices(
    con: duckdb.DuckDBPyConnection,
    business_id: str | None,
    *,
    status: str | None = None,
    customer_id: str | None = None,
    contract_id: str | None = None,
    run_id: str | None = None,
    period_date: dt.date | None = None,
    limit: int,
    offset: int = 0,
) -> tuple[list[str], int]:
    """(the page's invoice ids, newest first (created_at, then id: stable paging), the count of all that match
    every filter given). `business_id` None: every business; period_date: the invoice's period contains it."""
    where = """(?::VARCHAR IS NULL OR business_id = ?) AND (?::VARCHAR IS NULL OR status = ?)
               AND (?::VARCHAR IS NULL OR customer_id = ?) AND (?::VARCHAR IS NULL OR contract_id = ?)
               AND (?::VARCHAR IS NULL OR run_id = ?)
               AND (?::DATE IS NULL OR (period_start <= ? AND period_end >= ?))"""
    params = [business_id, business_id, status, status, customer_id, customer_id, contract_id, contract_id]
    params += [run_id, run_id, period_date, period_date, period_date]
    rows = con.execute(
        f"""SELECT invoice_id, count(*) OVER () AS total FROM invoices WHERE {where}
            ORDER BY created_at DESC, invoice_id LIMIT ? OFFSET ?""",  # noqa: S608 (a constant condition with ? placeholders; values bound)
        [*params, limit, offset],
    ).fetchall()
    if rows:
        return [r[0] for r in rows], int(rows[0][1])
    total = con.execute(f"SELECT count(*) FROM invoices WHERE {where}", params).fetchone()[0]  # noqa: S608 (a constant condition with ? placeholders; values bound)
    return [], int(total)


def load_invoices(con: duckdb.DuckDBPyConnection, invoice_ids: list[str]) -> list[Invoice]:
    """The invoices (in the order of `invoice_ids`; unknown ids left out) with their lines, taxes and coupons, as
    load_invoice gives them. Pending usage is left out (load_invoice shows it for one invoice)."""
    ids = list(dict.fromkeys(invoice_ids))
    if not ids:
        return []
    heads = {
        h["invoice_id"]: h
        for h in rows_as_dicts(
            con.execute(f"{INVOICE_HEADS} WHERE i.invoice_id IN {_IDS}", [ids])  # noqa: S608 (the engine's own SELECT; values bound)
        )
    }
    by_invoice: dict[str, dict[str, list[dict]]] = {name: defaultdict(list) for name in ("lines", "taxes", "coupons")}
    for name, table, order in (
        ("lines", "invoice_lines", "line_no"),
        ("taxes", "invoice_taxes", TAX_ORDER),
        ("coupons", "invoice_coupons", "position"),
    ):
        for row in rows_as_dicts(
            con.execute(
                f"""SELECT * FROM {table} WHERE invoice_id IN {_IDS}
                    ORDER BY invoice_id, {order}""",  # noqa: S608 (the engine's own table names and orders)
                [ids],
            )
        ):
            by_invoice[name][row["invoice_id"]].append(row)
    return [
        invoice_from_rows(
            heads[i],
            by_invoice["lines"][i],
            taxes=by_invoice["taxes"][i],
            coupons=by_invoice["coupons"][i],
        )
        for i in ids
        if i in heads
    ]


def invoice_extras(con: duckdb.DuckDBPyConnection, invoice_ids: list[str]) -> dict[str, dict]:
    """invoice_id -> {customer_name, customer_email, payments: [{payment_id, amount, amount_minor, method,
    paid_at}], last_change}: what a reader of the invoice needs beyond its own rows."""
    ids = list(dict.fromkeys(invoice_ids))
    out: dict[str, dict] = {
        r[0]: {"customer_name": r[1], "customer_email": r[2], "payments": [], "last_change": r[3], "currency": r[4]}
        for r in con.execute(
            """WITH page AS (SELECT unnest(?::VARCHAR[]) AS invoice_id)
               SELECT i.invoice_id, c.name, c.email, e.last_change, i.currency
               FROM invoices i SEMI JOIN page USING (invoice_id)
               LEFT JOIN customers c USING (customer_id)
               LEFT JOIN (SELECT invoice_id, max(occurred_at) AS last_change
                          FROM invoice_events SEMI JOIN page USING (invoice_id)
                          GROUP BY invoice_id) e USING (invoice_id)""",
            [ids],
        ).fetchall()
    }
    for payment_id, invoice_id, minor, method, paid_at in con.execute(
        """SELECT payment_id, invoice_id, amount_minor, method, paid_at FROM payments
           WHERE invoice_id IN (SELECT unnest(?::VARCHAR[])) ORDER BY invoice_id, paid_at, payment_id""",
        [ids],
    ).fetchall():
        extra = out[invoice_id]
        extra["payments"].append(
            {
                "payment_id": payment_id,
                "amount": to_major(minor, extra["currency"]),
                "amount_minor": minor,
                "method": method,
                "paid_at": paid_at,
            }
        )
    return out
