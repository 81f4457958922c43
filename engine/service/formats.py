"""How money and statuses are written for people, re-exported for the front ends (one formatter everywhere):
`format_money(3548, "USD")` -> '$35.48', `format_major(Decimal("7097"), "JPY")` -> '¥7,097'."""

from ..currencies import is_currency, minor_units
from ..money import exact_minor, format_major, format_money, to_major
from ..statuses import FINALIZED, PAYABLE, STATUSES, UNDER_REVIEW, InvoiceStatus

__all__ = [
    "FINALIZED",
    "PAYABLE",
    "STATUSES",
    "UNDER_REVIEW",
    "InvoiceStatus",
    "exact_minor",
    "format_major",
    "format_money",
    "is_currency",
    "minor_units",
    "to_major",
]
