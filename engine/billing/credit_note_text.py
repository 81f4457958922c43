"""How a credit note's tax is said, on its document and on the workbench's review (one wording, spec section 12).

A tax of a credit note is `round(base × rate / 100)`, except that it never takes more than what earlier notes left
of the invoice's tax of that code, and the last note (every line carrying the code fully credited) takes exactly
what is left. Written as "rate % of base" when the amount IS that rounding; otherwise as what is left of the
invoice's tax, so the words never state an arithmetic that does not hold ("10 % of $3,703.45" beside $370.34).
"""

from __future__ import annotations

from decimal import Decimal

from ..models import CreditNoteTax
from ..money import format_money, tax_minor


def _rate(value: Decimal) -> str:
    return format(Decimal(value).normalize(), "f")


def takes_what_is_left(tax: CreditNoteTax) -> bool:
    """Whether the note's tax is what was left of the invoice's tax, not round(base × rate / 100)."""
    return tax.amount_minor != tax_minor(tax.base_minor, tax.rate)


def credit_note_tax_label(tax: CreditNoteTax, currency: str) -> str:
    """'VAT (T10) 10 % of $15.00'; 'Tax (8.25 %) of $40.00' for the customer's single rate (no code); and when the
    note takes what was left: 'VAT (T10) 10 %, what is left of the invoice's tax' (its amount beside it)."""
    head = f"Tax ({_rate(tax.rate)} %)" if tax.code is None else f"{tax.name} ({tax.code}) {_rate(tax.rate)} %"
    if takes_what_is_left(tax):
        return f"{head}, what is left of the invoice's tax"
    return f"{head} of {format_money(tax.base_minor, currency)}"
