"""The customer credit a draft or a preview shows (spec section 12: drafts and previews "show the credit available"):
what finalizing it now would apply, `credit_available = min(the customer's credit in its currency, max(total, 0))`.

The one place every front end's invoice passes through (the CLI's JSON, the HTTP API's invoice and preview, the MCP
tools, the draft's document): a draft, approved, held or preview invoice gets `credit_available` (0 when the customer
holds none); a finalized one keeps null there and shows `credits_applied`, what it took.
"""

from __future__ import annotations

import duckdb

from ..billing.credit_notes import credit_to_apply, credits_held
from ..models import Invoice
from ..money import to_major
from ..statuses import UNDER_REVIEW

SHOWS_CREDIT_AVAILABLE = (*UNDER_REVIEW, "preview")  # not finalized: no credit taken yet


def with_credit_available(cur: duckdb.DuckDBPyConnection, invoices: list[Invoice]) -> list[Invoice]:
    """`invoices` (in order), each not finalized with its credit available (one query for all)."""
    pending = [inv for inv in invoices if inv.status in SHOWS_CREDIT_AVAILABLE]
    if not pending:
        return invoices
    held = credits_held(cur, [inv.customer_id for inv in pending])
    out = []
    for inv in invoices:
        if inv.status in SHOWS_CREDIT_AVAILABLE:
            minor = credit_to_apply(held.get((inv.customer_id, inv.currency), 0), inv.total_minor)
            inv = inv.model_copy(
                update={"credit_available": to_major(minor, inv.currency), "credit_available_minor": minor}
            )
        out.append(inv)
    return out


def invoice_with_credit_available(cur: duckdb.DuckDBPyConnection, invoice: Invoice) -> Invoice:
    """One invoice with its credit available (see with_credit_available)."""
    return with_credit_available(cur, [invoice])[0]
