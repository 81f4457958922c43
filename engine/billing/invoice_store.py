"""Reading invoices back and keeping their totals right: the one place totals are computed.

subtotal = Σ rounded line amounts; tax = round(subtotal × tax_rate / 100) once, at invoice level;
total = subtotal + tax; balance_due = total − total_paid. All integer minor units.
"""

from __future__ import annotations

import json
import uuid
from decimal import Decimal
from fractions import Fraction

import duckdb

from ..errors import NotFoundError
from ..models import Invoice, InvoiceLine, TierRow
from ..money import TAX_BOUNDS, sql_round_minor, to_major
from ..rating.usage_aggregation import pending_usage
from .numbering import businesses_join, invoice_number


# tax_minor = round(subtotal_minor × tax_rate / 100), tax_rate held at 12 decimals (DECIMAL(38,12)).
def tax_sql(rate_n: str = "(tax_rate * 1000000000000)::HUGEINT", subtotal: str = "subtotal_minor") -> str:
    """round(subtotal × rate_n / 10^14): `rate_n` is the tax rate × 10^12 as a HUGEINT."""
    return sql_round_minor(subtotal, rate_n, "100000000000000::HUGEINT", "1", fast=TAX_BOUNDS)


TAX_SQL = tax_sql()


def new_invoice_id() -> str:
    return "inv_" + uuid.uuid4().hex[:20]


# SQL twin of new_invoice_id() for set-based inserts.
NEW_INVOICE_ID_SQL = "'inv_' || substr(replace(gen_random_uuid()::VARCHAR, '-', ''), 1, 20)"


def refresh_totals(
    con: duckdb.DuckDBPyConnection, *, invoice_ids: list[str] | None = None, run_id: str | None = None
) -> None:
    """Recompute subtotal/tax/total of draft invoices from their lines (after lines changed)."""
    if invoice_ids is None and run_id is None:
        raise ValueError("refresh_totals needs invoice_ids or run_id")
    where = "list_contains(?, i.invoice_id)" if invoice_ids is not None else "i.run_id = ?"
    param = invoice_ids if invoice_ids is not None else run_id
    con.execute(
        f"""UPDATE invoices AS i SET subtotal_minor = s.subtotal
            FROM (SELECT l.invoice_id, coalesce(sum(l.amount_minor), 0)::BIGINT AS subtotal
                  FROM invoices i JOIN invoice_lines l USING (invoice_id)
                  WHERE {where} GROUP BY l.invoice_id) s
            WHERE i.invoice_id = s.invoice_id AND i.status = 'draft'""",  # noqa: S608 (conditions and subqueries built by the engine with ? placeholders; values bound)
        [param],
    )
    con.execute(
        f"""UPDATE invoices AS i SET tax_minor = {TAX_SQL}, total_minor = subtotal_minor + {TAX_SQL}
            WHERE {where} AND i.status = 'draft'""",  # noqa: S608 (conditions and subqueries built by the engine with ? placeholders; values bound)
        [param],
    )


def plain(value) -> Decimal | None:
    """A Decimal without trailing zeros or exponent: 1.500000 -> 1.5, 100.00 -> 100."""
    if value is None:
        return None
    return Decimal(format(Decimal(value).normalize(), "f"))


def _fraction_text(active: int | None, period: int | None) -> str | None:
    if active is None or period is None:
        return None
    f = Fraction(active, period)
    return f"{f.numerator}/{f.denominator}" if f.denominator != 1 else str(f.numerator)


def line_from_row(row: dict, currency: str) -> InvoiceLine:
    """An invoice line from a row of invoice_lines (stored) or of the rating's temp table (preview)."""
    # decimals travel as strings in the JSON breakdown, so nothing is ever parsed as a float
    detail = json.loads(row["breakdown"], parse_float=Decimal) if row.get("breakdown") else {}
    tiers = [
        TierRow(**{k: plain(v) if k not in ("tier_no",) else v for k, v in t.items()})
        for t in detail.get("tiers") or []
    ] or None
    return InvoiceLine(
        line_no=row["line_no"],
        line_id=row.get("line_id"),
        kind=row["kind"],
        product=row.get("product"),
        description=row.get("description"),
        pricing_model=detail.get("pricing_model"),
        quantity=plain(row.get("quantity")),
        unit_price=plain(row.get("unit_price")),
        active_days=row.get("active_days"),
        period_days=row.get("period_days"),
        proration_factor=_fraction_text(row.get("active_days"), row.get("period_days")),
        discount_percent=plain(detail.get("discount_percent")),
        usage_rows=detail.get("usage_rows"),
        amount=to_major(row["amount_minor"], currency),
        amount_minor=row["amount_minor"],
        period_start=row.get("period_start"),
        period_end=row.get("period_end"),
        charge_id=row.get("charge_id"),
        tiers=tiers,
    )


# An invoice's row with its business's invoice number prefix (invoice_from_rows writes the invoice number).
INVOICE_HEADS = f"SELECT i.*, b.invoice_prefix FROM invoices i {businesses_join('i', 'b')}"  # noqa: S608 (the engine's own join)


def invoice_from_rows(head: dict, lines: list[dict], pending_usage: list[dict] | None = None) -> Invoice:
    cur = head["currency"]
    paid = head.get("total_paid_minor") or 0
    return Invoice(
        invoice_id=head.get("invoice_id"),
        business_id=head["business_id"],
        customer_id=head["customer_id"],
        contract_id=head.get("contract_id"),
        number=head.get("number"),
        invoice_number=invoice_number(head.get("invoice_prefix"), head.get("finalized_at"), head.get("number")),
        status=head["status"],
        currency=cur,
        period_start=head.get("period_start"),
        period_end=head.get("period_end"),
        bill_for_date=head.get("bill_for_date"),
        due_date=head.get("due_date"),
        period_days=head.get("period_days"),
        tax_rate=Decimal(head.get("tax_rate") or 0).normalize(),
        subtotal=to_major(head["subtotal_minor"], cur),
        tax=to_major(head["tax_minor"], cur),
        total=to_major(head["total_minor"], cur),
        total_paid=to_major(paid, cur),
        balance_due=to_major(head["total_minor"] - paid, cur),
        subtotal_minor=head["subtotal_minor"],
        tax_minor=head["tax_minor"],
        total_minor=head["total_minor"],
        total_paid_minor=paid,
        balance_due_minor=head["total_minor"] - paid,
        description=head.get("description"),
        run_id=head.get("run_id"),
        recurring_template_id=head.get("recurring_template_id"),
        created_at=head.get("created_at"),
        void_reason=head.get("void_reason"),
        hold_reason=head.get("hold_reason"),
        approved_by=head.get("approved_by"),
        approved_at=head.get("approved_at"),
        lines=[line_from_row(r, cur) for r in lines],
        pending_usage=pending_usage or [],
    )


def rows_as_dicts(cur: duckdb.DuckDBPyConnection) -> list[dict]:
    """Rows of the last executed statement as dicts keyed by column name."""
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


def load_invoice(con: duckdb.DuckDBPyConnection, invoice_id: str) -> Invoice:
    heads = rows_as_dicts(con.execute(f"{INVOICE_HEADS} WHERE i.invoice_id = ?", [invoice_id]))  # noqa: S608 (the engine's own SELECT; values bound)
    if not heads:
        raise NotFoundError(f"no invoice {invoice_id!r}")
    lines = rows_as_dicts(
        con.execute("SELECT * FROM invoice_lines WHERE invoice_id = ? ORDER BY line_no", [invoice_id])
    )
    head = heads[0]
    pending = []
    if head["contract_id"] is not None:
        pending = pending_usage(con, head["contract_id"], head["period_start"], head["period_end"])
    return invoice_from_rows(head, lines, pending)
