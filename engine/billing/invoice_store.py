"""Reading invoices back and keeping their totals right after their lines change.

subtotal = Σ rounded line amounts; discount = Σ coupons (each line's share stored with it); per tax code
tax = round(base × rate / 100) once, base = Σ (amount − discount) of the lines carrying the code (a customer
with the single tax_rate: round(subtotal × tax_rate / 100)); total = subtotal − discount + Σ taxes;
balance_due = total − credits_applied − total_paid − credit offsets (spec section 12). All integer minor
units. The rating computes the same for new invoices (rating/adjustments.py); `refresh_totals` recomputes
stored drafts with the same tax SQL.
"""

from __future__ import annotations

import json
import uuid
from decimal import Decimal
from fractions import Fraction

import duckdb

from ..errors import NotFoundError
from ..models import Invoice, InvoiceCoupon, InvoiceLine, InvoiceTax, TierRow
from ..money import sql_price_scaled, sql_tax_minor, to_major
from ..rating.adjustments import NO_TAX, tax_rows_sql
from ..rating.usage_aggregation import pending_usage
from .line_explanation import explain_line
from .numbering import businesses_join, invoice_number


# tax_minor = round(subtotal_minor × tax_rate / 100), tax_rate held at 12 decimals (DECIMAL(38,12)).
def tax_sql(rate_n: str = sql_price_scaled("tax_rate"), subtotal: str = "subtotal_minor") -> str:
    """round(subtotal × rate_n / 10^14): `rate_n` is the tax rate × 10^12 as a HUGEINT."""
    return sql_tax_minor(subtotal, rate_n)


TAX_SQL = tax_sql()


TAX_ORDER = "tax_code NULLS FIRST"  # an invoice's taxes: its single tax_rate first, then by code

# What the customer still owes (spec section 12), the one definition, over `invoices` aliased `i`:
#     balance_due = total − credits_applied − total_paid − offsets of its credit notes
BALANCE_DUE_TERMS = ("total_minor", "credits_applied_minor", "total_paid_minor", "credit_offset_minor")


def balance_due_sql(alias: str = "i") -> str:
    """SQL of balance_due over invoices aliased `alias` (an engine alias)."""
    total, applied, paid, offset = (f"{alias}.{c}" for c in BALANCE_DUE_TERMS)
    return f"({total} - {applied} - {paid} - {offset})"


def balance_due_minor(head: dict) -> int:
    """balance_due of an invoice row (a dict of its columns; a preview's has no credit: 0)."""
    total, applied, paid, offset = (int(head.get(c) or 0) for c in BALANCE_DUE_TERMS)
    return total - applied - paid - offset


# What a void gave back (spec section 12; docs/RULES.md): voiding returns ALL the customer credit the invoice took at
# finalize (an entry `void_returned`), so a void invoice's credits_returned is its credits_applied; any other's is 0.
def credits_returned_sql(alias: str = "i") -> str:
    """SQL of credits_returned over invoices aliased `alias` (an engine alias)."""
    return f"(CASE WHEN {alias}.status = 'void' THEN {alias}.credits_applied_minor ELSE 0 END)"


def credits_returned_minor(head: dict) -> int:
    """credits_returned of an invoice row (a dict of its columns)."""
    return int(head.get("credits_applied_minor") or 0) if head.get("status") == "void" else 0


def new_invoice_id() -> str:
    return "inv_" + uuid.uuid4().hex[:20]


# SQL twin of new_invoice_id() for set-based inserts.
NEW_INVOICE_ID_SQL = "'inv_' || substr(replace(gen_random_uuid()::VARCHAR, '-', ''), 1, 20)"


def refresh_totals(
    con: duckdb.DuckDBPyConnection,
    *,
    invoice_ids: list[str] | None = None,
    run_id: str | None = None,
    ids_sql: str | None = None,
) -> None:
    """Recompute subtotal, discount, taxes and total of draft invoices from their stored lines (after lines
    changed: delayed charges swept onto them, custom lines). The drafts are `invoice_ids`, those of the run
    `run_id`, or those `ids_sql` selects (engine-built SQL).

        subtotal = Σ amount    discount = Σ line discount (kept as rated: coupons never take swept or custom lines)
        per tax: base = Σ (amount − discount) of the lines carrying its code, amount = round(base × rate / 100)
        total = subtotal − discount + Σ taxes
    """
    if invoice_ids is None and run_id is None and ids_sql is None:
        raise ValueError("refresh_totals needs invoice_ids, run_id or ids_sql")
    if ids_sql is not None:
        where, params = f"i.invoice_id IN ({ids_sql})", []
    elif invoice_ids is not None:
        where, params = "list_contains(?, i.invoice_id)", [invoice_ids]
    else:
        where, params = "i.run_id = ?", [run_id]
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _refresh AS
            SELECT i.invoice_id, i.tax_rate FROM invoices i WHERE i.status = 'draft' AND {where}""",  # noqa: S608 (conditions and subqueries built by the engine with ? placeholders; values bound)
        params,
    )
    con.execute("DELETE FROM invoice_taxes WHERE invoice_id IN (SELECT invoice_id FROM _refresh)")
    nets = """(SELECT l.invoice_id, l.tax_codes, sum(l.amount_minor - l.discount_minor) AS net
              FROM invoice_lines l JOIN _refresh USING (invoice_id) GROUP BY ALL)"""
    con.execute(
        f"""INSERT INTO invoice_taxes (invoice_id, tax_code, name, rate, base_minor, amount_minor)
            SELECT invoice_id, tax_code, name, rate, base_minor, amount_minor
            FROM ({tax_rows_sql(nets, "_refresh", "main.taxes", "invoice_id")})"""  # noqa: S608 (SQL built by the engine from its own names)
    )
    con.execute(
        """UPDATE invoices AS i
           SET subtotal_minor = s.subtotal, discount_minor = s.discount, tax_minor = s.tax,
               total_minor = s.subtotal - s.discount + s.tax
           FROM (SELECT invoice_id, coalesce(l.subtotal, 0)::BIGINT AS subtotal,
                        coalesce(l.discount, 0)::BIGINT AS discount, coalesce(t.tax, 0)::BIGINT AS tax
                 FROM _refresh
                 LEFT JOIN (SELECT invoice_id, sum(amount_minor) AS subtotal, sum(discount_minor) AS discount
                            FROM invoice_lines JOIN _refresh USING (invoice_id) GROUP BY ALL) l USING (invoice_id)
                 LEFT JOIN (SELECT invoice_id, sum(amount_minor) AS tax
                            FROM invoice_taxes JOIN _refresh USING (invoice_id) GROUP BY ALL) t USING (invoice_id)) s
           WHERE i.invoice_id = s.invoice_id"""
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


# decimals in the JSON breakdown are read as Decimal, never as a float; one decoder for every line (json.loads
# with parse_float builds a new one per call)
_BREAKDOWN = json.JSONDecoder(parse_float=Decimal)


def line_from_row(row: dict, currency: str) -> InvoiceLine:
    """An invoice line from a row of invoice_lines (stored) or of the rating's temp table (preview)."""
    detail = _BREAKDOWN.decode(row["breakdown"]) if row.get("breakdown") else {}
    tiers = [
        TierRow(**{k: plain(v) if k not in ("tier_no",) else v for k, v in t.items()})
        for t in detail.get("tiers") or []
    ] or None
    quantity, unit_price = plain(row.get("quantity")), plain(row.get("unit_price"))
    return InvoiceLine(
        line_no=row["line_no"],
        line_id=row.get("line_id"),
        kind=row["kind"],
        product=row.get("product"),
        description=row.get("description"),
        pricing_model=detail.get("pricing_model"),
        quantity=quantity,
        unit_price=unit_price,
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
        discount=to_major(row.get("discount_minor") or 0, currency),
        discount_minor=row.get("discount_minor") or 0,
        tax_codes=tax_code_list(row.get("tax_codes")),
        **explain_line(
            row["kind"],
            quantity,
            unit_price,
            row.get("active_days"),
            row.get("period_days"),
            detail,
            currency,
        ),
    )


# An invoice's row with its business's invoice number prefix (invoice_from_rows writes the invoice number).
INVOICE_HEADS = f"SELECT i.*, b.invoice_prefix FROM invoices i {businesses_join('i', 'b')}"  # noqa: S608 (the engine's own join)


def tax_code_list(stored: str | None) -> list[str] | None:
    """A line's stored tax codes as a list: 'T10;T12' -> ['T10', 'T12'], 'none' -> [] (exempt), NULL -> None."""
    if stored is None:
        return None
    return [] if stored == NO_TAX else stored.split(";")


def _tax_from_row(row: dict, currency: str) -> InvoiceTax:
    return InvoiceTax(
        code=row["tax_code"],
        name=row["name"],
        rate=plain(row["rate"]),
        base=to_major(row["base_minor"], currency),
        amount=to_major(row["amount_minor"], currency),
        base_minor=row["base_minor"],
        amount_minor=row["amount_minor"],
    )


def _coupon_from_row(row: dict, currency: str) -> InvoiceCoupon:
    face = row.get("face_minor")
    return InvoiceCoupon(
        coupon_id=row["coupon_id"],
        name=row["name"],
        kind=row["kind"],
        applied_on=row["applied_on"],
        percent=plain(row.get("percent")),
        fixed_amount=None if face is None else to_major(face, currency),
        base=to_major(row["base_minor"], currency),
        amount=to_major(row["amount_minor"], currency),
        base_minor=row["base_minor"],
        amount_minor=row["amount_minor"],
    )


def invoice_from_rows(
    head: dict,
    lines: list[dict],
    pending_usage: list[dict] | None = None,
    taxes: list[dict] | None = None,
    coupons: list[dict] | None = None,
) -> Invoice:
    """An invoice from its stored rows (or the rating's): head, lines, taxes (by code), coupons (in order)."""
    cur = head["currency"]
    paid = head.get("total_paid_minor") or 0
    discount = head.get("discount_minor") or 0
    balance = balance_due_minor(head)
    credit = {c: int(head.get(f"{c}_minor") or 0) for c in ("credits_applied", "credit_notes_total", "credit_offset")}
    credit["refunded"] = int(head.get("refunded_minor") or 0)
    credit["credits_returned"] = credits_returned_minor(head)
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
        balance_due=to_major(balance, cur),
        subtotal_minor=head["subtotal_minor"],
        tax_minor=head["tax_minor"],
        total_minor=head["total_minor"],
        total_paid_minor=paid,
        balance_due_minor=balance,
        description=head.get("description"),
        run_id=head.get("run_id"),
        recurring_template_id=head.get("recurring_template_id"),
        created_at=head.get("created_at"),
        void_reason=head.get("void_reason"),
        hold_reason=head.get("hold_reason"),
        approved_by=head.get("approved_by"),
        approved_at=head.get("approved_at"),
        lines=[line_from_row(r, cur) for r in lines],
        discount=to_major(discount, cur),
        discount_minor=discount,
        taxes=[_tax_from_row(r, cur) for r in taxes or []],
        coupons=[_coupon_from_row(r, cur) for r in coupons or []],
        pending_usage=pending_usage or [],
        **{name: to_major(minor, cur) for name, minor in credit.items()},
        **{f"{name}_minor": minor for name, minor in credit.items()},
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
    taxes = rows_as_dicts(
        con.execute(f"SELECT * FROM invoice_taxes WHERE invoice_id = ? ORDER BY {TAX_ORDER}", [invoice_id])  # noqa: S608 (engine constant; values bound)
    )
    coupons = rows_as_dicts(
        con.execute("SELECT * FROM invoice_coupons WHERE invoice_id = ? ORDER BY position", [invoice_id])
    )
    return invoice_from_rows(head, lines, pending, taxes, coupons)
