"""An invoice's status: ONE enumeration, read by the schema's CHECK, the engine, the API and the pages.

draft ──approve──▶ approved ──finalize──▶ open ──payment──▶ partially_paid ──▶ manual_paid | stripe_paid
  ▲  ◀─release── held ◀─hold─┘               │                 │
                                            void ◀─────────────┘
"""

from __future__ import annotations

from enum import StrEnum


class InvoiceStatus(StrEnum):
    DRAFT = "draft"
    APPROVED = "approved"
    HELD = "held"
    OPEN = "open"
    PARTIALLY_PAID = "partially_paid"
    MANUAL_PAID = "manual_paid"
    STRIPE_PAID = "stripe_paid"
    VOID = "void"


STATUSES: tuple[str, ...] = tuple(s.value for s in InvoiceStatus)
# Not finalized yet: no number, may still change (redraft, delete); what the review shows.
UNDER_REVIEW: tuple[str, ...] = (InvoiceStatus.DRAFT, InvoiceStatus.APPROVED, InvoiceStatus.HELD)
# Finalized and not void: numbered, never changes again.
FINALIZED: tuple[str, ...] = (
    InvoiceStatus.OPEN,
    InvoiceStatus.PARTIALLY_PAID,
    InvoiceStatus.MANUAL_PAID,
    InvoiceStatus.STRIPE_PAID,
)
PAYABLE: tuple[str, ...] = (InvoiceStatus.OPEN, InvoiceStatus.PARTIALLY_PAID)
PAID: tuple[str, ...] = (InvoiceStatus.MANUAL_PAID, InvoiceStatus.STRIPE_PAID)
# Zenskar's "already generated" (spec section 8): an invoice of the cycle that is approved or finalized.
GENERATED: tuple[str, ...] = (InvoiceStatus.APPROVED, *FINALIZED)


# How a person reads a status (documents, the workbench's messages and tables): words a finance user reads,
# never the stored name. Data, exports and the API keep the spec's names (`manual_paid`, `stripe_paid`).
_WORDS: dict[str, str] = {
    InvoiceStatus.DRAFT: "draft",
    InvoiceStatus.APPROVED: "approved",
    InvoiceStatus.HELD: "held",
    InvoiceStatus.OPEN: "open",
    InvoiceStatus.PARTIALLY_PAID: "partially paid",
    InvoiceStatus.MANUAL_PAID: "paid",
    InvoiceStatus.STRIPE_PAID: "paid",
    InvoiceStatus.VOID: "void",
    "preview": "not drafted (preview)",  # a document of a draft not made yet
}
# How it was paid, where that detail helps (the workbench); a customer's document says "Paid" alone.
_PAID_BY: dict[str, str] = {InvoiceStatus.MANUAL_PAID: "manual", InvoiceStatus.STRIPE_PAID: "Stripe"}


def status_text(status: str, *, paid_by: bool = False, capital: bool = False) -> str:
    """A status as a person reads it: 'paid' for manual_paid and stripe_paid ('paid (manual)' / 'paid (Stripe)'
    with `paid_by`), 'partially paid', 'draft', ...; `capital` for a heading or a cell of its own ('Paid'). The one
    place a status becomes words; a name it does not know is shown with its underscores as spaces."""
    words = _WORDS.get(status) or str(status).replace("_", " ")
    if paid_by and status in _PAID_BY:
        words = f"{words} ({_PAID_BY[status]})"
    return words[:1].upper() + words[1:] if capital else words


def status_check_sql(column: str = "status") -> str:
    """The schema's CHECK over `column` (an engine column name), listing every status."""
    listed = ", ".join(f"'{s}'" for s in STATUSES)
    return f"CHECK ({column} IN ({listed}))"
