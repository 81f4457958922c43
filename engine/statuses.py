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


def status_check_sql(column: str = "status") -> str:
    """The schema's CHECK over `column` (an engine column name), listing every status."""
    listed = ", ".join(f"'{s}'" for s in STATUSES)
    return f"CHECK ({column} IN ({listed}))"
