"""How an invoice number is written: the one rule, for the documents, the exports, the pages and the API.

    invoice number = <prefix>-<year>-<number, 6 digits at least>        e.g. N-2026-000001, INV-2026-000012

The stored `number` stays the integer of spec section 4 (sequential and gapless per business, never reused); the
prefix is the business's (businesses.csv `invoice_prefix`, DEFAULT_PREFIX when it has none or no row); the year
is the one the invoice was finalized in (UTC). A number above 999,999 keeps all its digits. A credit note
(spec section 12) is numbered `<invoice number>-CN<n>`, e.g. INV-2026-000012-CN1. An invoice that was never
finalized has no number.
"""

from __future__ import annotations

import datetime as dt

import duckdb

DEFAULT_PREFIX = "INV"
DIGITS = 6


def invoice_number(prefix: str | None, finalized_at: dt.date | None, number: int | None) -> str | None:
    """'N-2026-000001'; None when there is no number (a draft) or no finalization date."""
    if number is None or finalized_at is None:
        return None
    return f"{prefix or DEFAULT_PREFIX}-{finalized_at.year}-{int(number):0{DIGITS}d}"


def invoice_number_sql(invoice: str = "i", business: str = "b") -> str:
    """SQL of invoice_number over `invoices` alias `invoice` LEFT JOINed with `businesses` alias `business`
    (aliases are the engine's own)."""
    return (
        f"CASE WHEN {invoice}.number IS NULL OR {invoice}.finalized_at IS NULL THEN NULL ELSE "
        f"printf('%s-%d-%0{DIGITS}d', coalesce({business}.invoice_prefix, '{DEFAULT_PREFIX}'), "
        f"year({invoice}.finalized_at), {invoice}.number) END"
    )


def businesses_join(invoice: str = "i", business: str = "b") -> str:
    """SQL: the LEFT JOIN that invoice_number_sql reads the prefix from."""
    return f"LEFT JOIN businesses {business} ON {business}.business_id = {invoice}.business_id"


def invoice_named(con: duckdb.DuckDBPyConnection, invoice_id: str) -> str:
    """How a message names an invoice: its number when it has one (what a finance user sees on it, e.g.
    N-2026-000001), else its id in quotes (a draft)."""
    row = con.execute(
        f"SELECT {invoice_number_sql()} FROM invoices i {businesses_join()} WHERE i.invoice_id = ?",  # noqa: S608 (SQL of this module; the value bound)
        [invoice_id],
    ).fetchone()
    return row[0] if row and row[0] else repr(invoice_id)


def credit_note_number(invoice_number_text: str, sequence: int) -> str:
    """'INV-2026-000012-CN1': the invoice's number and the note's sequence on that invoice (1, 2, …)."""
    return f"{invoice_number_text}-CN{int(sequence)}"
