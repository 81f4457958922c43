"""What a front end needs to show the application layer's answers, so it imports nothing below engine.service:
the value types the operations take and return, how money and statuses are written, and the limits a form states.

    money       format_money (minor units) / format_major (major units): '$1,234.50', '¥7,097', 'KWD 1.250';
                format_code / format_code_major: 'AUD 5,496.98', as the review's reasons write an amount (the
                Review page's amounts, beside them);
                exact_minor (major -> minor units, None when only rounding could make it); to_major; minor_units
                (decimals); is_currency
    statuses    InvoiceStatus, STATUSES, UNDER_REVIEW, FINALIZED, PAYABLE; status_text: a status in words ('paid',
                'paid (manual)', 'partially paid'), wherever a person reads one (never the stored name)
    credit      CREDIT_NOTE_REASONS, CreditNote, CreditNoteEstimate, CustomerCredit (spec section 12);
                credit_note_tax_label: a note's tax in words (its rate and base, or what is left of the invoice's)
    values      Invoice, BillingCycle, ReviewResult, ReviewColumns (a review as Arrow columns; exact_major reads
                its money columns as Decimals), ReviewThresholds, ApprovalResult, ManualBatchResult,
                Scope (what a run or a count covers), Scenario (a what-if)
    times       utc_text: a time as every export and JSON output writes it (2026-12-07T04:07:58.034409Z, UTC);
                UtcDatetime: a model's time field written that way (engine/utc_time.py)
    tables      cyclic_gc_paused: build a table of many small answers (a review of 50k drafts) without the
                cyclic collector rescanning them (engine/gc_pause.py)
"""

from __future__ import annotations

from ..billing.credit_note_text import credit_note_tax_label
from ..currencies import is_currency, minor_units
from ..gc_pause import cyclic_gc_paused
from ..limits import FIRST_DATE, LAST_DATE, MAX_RANGE_YEARS, MAX_TEXT
from ..models import (
    CREDIT_NOTE_REASONS,
    ApprovalResult,
    BillingCycle,
    CreditNote,
    CreditNoteEstimate,
    CustomerCredit,
    Invoice,
    ManualBatchResult,
    ReviewResult,
    ReviewThresholds,
)
from ..money import exact_minor, format_code, format_code_major, format_major, format_money, to_major
from ..review import ReviewColumns, exact_major
from ..scope import Scope
from ..statuses import FINALIZED, PAYABLE, STATUSES, UNDER_REVIEW, InvoiceStatus, status_text
from ..utc_time import UtcDatetime, utc_text
from ..whatif.scenarios import Scenario

__all__ = [
    "CREDIT_NOTE_REASONS",
    "FINALIZED",
    "FIRST_DATE",
    "LAST_DATE",
    "MAX_RANGE_YEARS",
    "MAX_TEXT",
    "PAYABLE",
    "STATUSES",
    "UNDER_REVIEW",
    "ApprovalResult",
    "BillingCycle",
    "CreditNote",
    "CreditNoteEstimate",
    "CustomerCredit",
    "Invoice",
    "InvoiceStatus",
    "ManualBatchResult",
    "ReviewColumns",
    "ReviewResult",
    "ReviewThresholds",
    "Scenario",
    "Scope",
    "UtcDatetime",
    "credit_note_tax_label",
    "cyclic_gc_paused",
    "exact_major",
    "exact_minor",
    "format_code",
    "format_code_major",
    "format_major",
    "format_money",
    "is_currency",
    "minor_units",
    "status_text",
    "to_major",
    "utc_text",
]
