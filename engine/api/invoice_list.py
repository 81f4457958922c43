"""One business's invoices, filtered and paged: what `listInvoices` (MCP) shows.

Every value is a bound parameter. Money leaves as integer minor units AND Decimal major units of the
invoice's currency, never a float. Ordered newest first (created_at, then id), so paging is stable.
"""

from __future__ import annotations

import datetime as dt

import duckdb

from ..billing.invoice_store import rows_as_dicts
from ..errors import ValidationError
from ..money import to_major
from ..statuses import STATUSES

DEFAULT_LIMIT = 50
MAX_LIMIT = 500


def list_invoices(
    con: duckdb.DuckDBPyConnection,
    business_id: str,
    *,
    status: str | None = None,
    customer_id: str | None = None,
    contract_id: str | None = None,
    run_id: str | None = None,
    period_date: dt.date | None = None,
    limit: int = DEFAULT_LIMIT,
    offset: int = 0,
) -> dict:
    """{"invoices": [...], "total_count", "limit", "offset"}: the business's invoices matching every filter
    given (period_date: the invoice's period contains it)."""
    if status is not None and status not in STATUSES:
        raise ValidationError(f"unknown status {status!r}; one of: {', '.join(STATUSES)}")
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationError(f"limit must be between 1 and {MAX_LIMIT} (got {limit})")
    if offset < 0:
        raise ValidationError(f"offset cannot be negative (got {offset})")
    where = """business_id = ? AND (?::VARCHAR IS NULL OR status = ?) AND (?::VARCHAR IS NULL OR customer_id = ?)
               AND (?::VARCHAR IS NULL OR contract_id = ?) AND (?::VARCHAR IS NULL OR run_id = ?)
               AND (?::DATE IS NULL OR (period_start <= ? AND period_end >= ?))"""
    params = [
        business_id,
        status,
        status,
        customer_id,
        customer_id,
        contract_id,
        contract_id,
        run_id,
        run_id,
        period_date,
        period_date,
        period_date,
    ]
    total = con.execute(f"SELECT count(*) FROM invoices WHERE {where}", params).fetchone()[0]  # noqa: S608 (conditions and subqueries built by the engine with ? placeholders; values bound)
    rows = rows_as_dicts(
        con.execute(
            f"""SELECT invoice_id, number, status, customer_id, contract_id, currency, period_start, period_end,
                       bill_for_date, due_date, total_minor, total_paid_minor, run_id, created_at
                FROM invoices WHERE {where}
                ORDER BY created_at DESC, invoice_id LIMIT ? OFFSET ?""",  # noqa: S608 (conditions and subqueries built by the engine with ? placeholders; values bound)
            [*params, limit, offset],
        )
    )
    invoices = []
    for r in rows:
        cur, total_minor, paid = r["currency"], r.pop("total_minor"), r.pop("total_paid_minor")
        invoices.append(
            {
                **r,
                "total": to_major(total_minor, cur),
                "balance_due": to_major(total_minor - paid, cur),
                "total_minor": total_minor,
                "balance_due_minor": total_minor - paid,
            }
        )
    return {"invoices": invoices, "total_count": int(total), "limit": limit, "offset": offset}
