"""How an invoice number is written: the one rule, for credit notes (spec section 12) and whatever shows it.

    invoice number = <prefix>-<year finalized>-<number, 6 digits at least>        e.g. INV-2026-000012
    credit note    = <invoice number>-CN<its sequence on that invoice>             e.g. INV-2026-000012-CN1

The stored `number` stays the integer of spec section 4 (sequential and gapless per business, never reused); the
prefix is DEFAULT_PREFIX (a business's own prefix, once businesses have one, is passed as `prefix`); the year is
the one the invoice was finalized in (UTC). A number above 999,999 keeps all its digits. An invoice that was never
finalized has no number.
"""

from __future__ import annotations

import datetime as dt

DEFAULT_PREFIX = "INV"
DIGITS = 6


def invoice_number(prefix: str | None, finalized_at: dt.date | None, number: int | None) -> str | None:
    """'INV-2026-000012'; None when there is no number (a draft) or no finalization date."""
    if number is None or finalized_at is None:
        return None
    return f"{prefix or DEFAULT_PREFIX}-{finalized_at.year}-{int(number):0{DIGITS}d}"


def credit_note_number(invoice_number_text: str, sequence: int) -> str:
    """'INV-2026-000012-CN1': the invoice's number and the note's sequence on that invoice (1, 2, …)."""
    return f"{invoice_number_text}-CN{int(sequence)}"
