"""Request and response models of the engine's API, named after the billing APIs they mirror.

Money crosses the API as `Decimal` in major units (serialized as strings in JSON, so never a float)
next to the integer minor units it was computed in.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .currencies import is_currency
from .utc_time import UtcDatetime


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BillingCycle(_Model):
    """One billing cycle of a contract (spec section 2)."""

    contract_id: str
    start_date: dt.date
    end_date: dt.date
    bill_for_date: dt.date
    due_date: dt.date
    billing_cycle_start_day: int
    period_days: int
    is_stub: bool = Field(description="shorter than its full boundary-to-boundary period")


class TierRow(_Model):
    """One tier's share of a tiered price: units in the tier × unit price + flat fee."""

    tier_no: int
    lower: Decimal
    up_to: Decimal | None
    units: Decimal
    unit_price: Decimal
    flat_fee: Decimal
    amount: Decimal


class InvoiceLine(_Model):
    line_no: int
    line_id: str | None = None
    kind: str
    product: str | None = None
    description: str | None = None
    pricing_model: str | None = None
    quantity: Decimal | None = None
    unit_price: Decimal | None = None
    active_days: int | None = None
    period_days: int | None = None
    proration_factor: str | None = Field(None, description="exact fraction active_days/period_days")
    discount_percent: Decimal | None = None
    usage_rows: int | None = None
    amount: Decimal
    amount_minor: int
    period_start: dt.date | None = None
    period_end: dt.date | None = None
    charge_id: str | None = None
    tiers: list[TierRow] | None = None
    discount: Decimal = Field(Decimal(0), description="the line's share of the invoice's coupons (spec section 11)")
    discount_minor: int = 0
    tax_codes: list[str] | None = Field(
        None,
        description="the tax codes the line carries; [] = exempt; None = its customer's single tax_rate applies",
    )
    # What the line's amount is made of, from its breakdown (engine/billing/line_explanation.py, docs/RULES.md
    # "What a line shows"): the figures of a line that is not quantity × unit price, and the arithmetic in words.
    package_size: Decimal | None = Field(None, description="package lines: units in one package")
    free_units: Decimal | None = Field(None, description="package lines: units not billed")
    packages: int | None = Field(
        None, description="package lines: packages billed, ceil(max(0, quantity − free_units) / package_size)"
    )
    percentage_rate: Decimal | None = Field(None, description="percentage lines: percent of the quantity")
    fixed_fee: Decimal | None = Field(None, description="percentage lines: fee per approved usage row (usage_rows)")
    minimum_commitment: Decimal | None = Field(None, description="true-up: the contract's commitment per full cycle")
    committed: Decimal | None = Field(None, description="true-up: the commitment for this cycle (prorated, rounded)")
    committed_minor: int | None = None
    order_lines_total: Decimal | None = Field(None, description="true-up: Σ the invoice's order-line amounts")
    order_lines_total_minor: int | None = None
    explanation: str | None = Field(
        None,
        description="how the amount is made, in words, for a line that is not quantity × unit price: "
        "'5,710 units − 500 free = 5,210 → 6 packs of 1,000 × £39.50' (package), '715.61 × 2.9 % + fixed fee "
        "CA$0.40 × 1 usage row' (percentage), 'commitment $500.00 − order lines $239.15 = $260.85' (true-up)",
    )


class InvoiceTax(_Model):
    """One tax of an invoice (spec section 11): amount = round(base × rate / 100), base = Σ (amount − discount)
    of the lines carrying the code. `code` None is the customer's single `tax_rate` (spec section 3)."""

    code: str | None
    name: str
    rate: Decimal
    base: Decimal
    amount: Decimal
    base_minor: int
    amount_minor: int


class InvoiceCoupon(_Model):
    """One coupon an invoice takes, in the order they apply: `base` is what its eligible lines had left
    (before it), `amount` what it took (min(fixed amount, base), or round(base × percent / 100))."""

    coupon_id: str
    name: str
    kind: Literal["fixed", "percentage"]
    applied_on: dt.date
    percent: Decimal | None = None
    fixed_amount: Decimal | None = Field(None, description="a fixed coupon's amount, in the invoice currency")
    base: Decimal
    amount: Decimal
    base_minor: int
    amount_minor: int


class Invoice(_Model):
    """An invoice, stored or previewed (then `invoice_id` is None and status is 'preview')."""

    invoice_id: str | None
    business_id: str
    customer_id: str
    contract_id: str | None = None
    number: int | None = None
    invoice_number: str | None = Field(None, description="the number as the customer sees it: N-2026-000001")
    status: str
    currency: str
    period_start: dt.date | None = None
    period_end: dt.date | None = None
    bill_for_date: dt.date | None = None
    due_date: dt.date | None = None
    period_days: int | None = None
    tax_rate: Decimal = Field(
        description="the customer's single tax_rate (spec section 3), 0 when it has tax codes: `taxes` lists every tax"
    )
    subtotal: Decimal
    tax: Decimal
    total: Decimal
    total_paid: Decimal
    balance_due: Decimal
    subtotal_minor: int
    tax_minor: int
    total_minor: int
    total_paid_minor: int
    balance_due_minor: int
    description: str | None = None
    run_id: str | None = None
    recurring_template_id: str | None = None
    created_at: UtcDatetime | None = None
    void_reason: str | None = None
    hold_reason: str | None = None
    approved_by: str | None = None
    approved_at: UtcDatetime | None = None
    lines: list[InvoiceLine] = []
    discount: Decimal = Field(Decimal(0), description="Σ coupons: total = subtotal − discount + tax")
    discount_minor: int = 0
    taxes: list[InvoiceTax] = Field(default_factory=list, description="per tax code; they sum to `tax`")
    coupons: list[InvoiceCoupon] = Field(default_factory=list, description="in the order they apply; sum to `discount`")
    pending_usage: list[dict] = Field(
        default_factory=list, description="pending usage in the cycle, shown but never billed"
    )
    # spec section 12: balance_due = total − credits_applied − total_paid − credit_offset
    credits_applied: Decimal = Field(Decimal(0), description="the customer's credit applied when it was finalized")
    credits_applied_minor: int = 0
    credit_notes_total: Decimal = Field(Decimal(0), description="Σ totals of its credit notes")
    credit_notes_total_minor: int = 0
    credit_offset: Decimal = Field(Decimal(0), description="Σ offsets of its credit notes (off the balance due)")
    credit_offset_minor: int = 0
    refunded: Decimal = Field(Decimal(0), description="Σ refunds of its credit notes (money paid back)")
    refunded_minor: int = 0
    credits_returned: Decimal = Field(
        Decimal(0), description="the customer credit given back when it was voided (all of credits_applied)"
    )
    credits_returned_minor: int = 0
    # drafts and previews (spec section 12: they show the credit available, engine/service/credit_available.py)
    credit_available: Decimal | None = Field(
        None,
        description="a draft's or preview's: the customer's credit in its currency that finalizing it now would apply, "
        "min(credit, max(total, 0)); null once finalized (see credits_applied)",
    )
    credit_available_minor: int | None = None


class ApprovalResult(_Model):
    """Result of approving a list of drafts: those approved now, and those that already were."""

    approved: list[str]
    already_approved: list[str] = []
    actor: str


class DraftResult(_Model):
    """Result of drafting a period invoice (DayZero generate-period-invoices)."""

    created: bool
    invoice: Invoice


class GenerateInvoiceRequest(_Model):
    """Zenskar generate_invoice: the dates must be exactly one of the contract's cycles."""

    contract_id: str
    customer_id: str
    from_date: dt.date
    to_date: dt.date
    bill_for_date: dt.date
    billing_cycle_start_day: int | None = None
    check_duplicate_invoice: bool = True


class LineItem(_Model):
    """A custom line item: price in integer MINOR units of the invoice currency."""

    description: str = Field(min_length=1)
    unit_price: int
    quantity: Decimal = Decimal(1)
    product: str | None = None

    @field_validator("quantity")
    @classmethod
    def _positive(cls, v: Decimal) -> Decimal:
        if v <= 0:
            raise ValueError("quantity must be positive")
        return v


class RecurringConfig(_Model):
    billing_period: Literal["month", "quarter", "year"] = "month"
    start_date: dt.date
    payment_terms_days: int = 30


class ManualInvoiceRequest(_Model):
    """DayZero POST /invoices."""

    customer_id: str
    currency: str | None = None
    line_items: list[LineItem] = Field(min_length=1)
    due_date: dt.date | None = None
    description: str | None = None
    recurring: RecurringConfig | None = None
    idempotency_key: str | None = None

    @field_validator("currency")
    @classmethod
    def _iso(cls, v: str | None) -> str | None:
        if v is not None and not is_currency(v):
            raise ValueError(f"unknown currency {v!r}: not an ISO 4217 code")
        return v


class ManualBatchRequest(_Model):
    """DayZero POST /invoices/batch."""

    items: list[ManualInvoiceRequest] = Field(min_length=1)
    include_delayed_charges: bool = False
    finalize: bool = False


class ManualBatchItem(_Model):
    index: int
    ok: bool
    invoice: Invoice | None = None
    code: str | None = Field(None, description="the error's stable code (not_finalized: created, not finalized)")
    error: str | None = None


class ManualBatchResult(_Model):
    results: list[ManualBatchItem]
    created: int
    failed: int


class CurrencyTotals(_Model):
    currency: str
    invoices: int
    subtotal: Decimal
    tax: Decimal
    total: Decimal
    discount: Decimal = Field(Decimal(0), description="Σ coupons (spec section 11): total = subtotal − discount + tax")


class FailedContract(_Model):
    contract_id: str
    reason: str


class PendingCharge(_Model):
    charge_id: str
    customer_id: str
    currency: str
    amount: Decimal
    charge_date: dt.date
    reason: str


class UnbilledCycle(_Model):
    """A cycle that ended before a date, is due and has something to bill, but has no invoice
    (engine.rating.targets: a missed cycle). A bill run with catch-up drafts these."""

    contract_id: str
    customer_id: str
    period_start: dt.date
    period_end: dt.date
    bill_for_date: dt.date


class BillRunReport(_Model):
    """What a bill run did: who/when/what, counts, failures with reasons, totals per currency."""

    run_id: str
    period_date: dt.date
    status: str
    scope: dict
    include_delayed_charges: bool
    finalize: bool
    requested_by: str | None = None
    resumed: bool = False
    contracts_in_scope: int
    drafted: int
    recurring_drafted: int = Field(
        0, description="periods of recurring templates (manual invoices) the run drafted, apart from `drafted`"
    )
    existing: int
    nothing_to_bill: int
    failed: list[FailedContract]
    finalized: int
    delayed_charges_swept: int
    delayed_charges_pending: list[PendingCharge]
    totals: list[CurrencyTotals]
    started_at: UtcDatetime
    finished_at: UtcDatetime | None = None
    duration_s: float | None = None
    catch_up: bool = Field(False, description="also drafted every missed cycle before the period date")
    unbilled_cycles_count: int = Field(0, description="missed cycles of the scope still without invoice after the run")
    unbilled_cycles: list[UnbilledCycle] = Field(
        default_factory=list, description="the first of them (by contract, period), at most UNBILLED_LISTED"
    )


class ReviewFlag(_Model):
    """One review rule a draft trips (spec section 8): its name, the figures it was decided on, the reason."""

    flag: str
    reason: str
    figures: dict = Field(default_factory=dict, description="amounts as Decimal major units, counts as integers")


class ReviewRow(_Model):
    """A draft under review (draft, approved or held) against its contract's previous non-void invoice."""

    invoice_id: str
    contract_id: str
    customer_id: str
    customer_name: str
    business_id: str
    currency: str
    status: str
    period_start: dt.date
    period_end: dt.date
    total: Decimal
    previous_invoice_id: str | None = None
    previous_total: Decimal | None = None
    change: Decimal | None = None
    change_percent: Decimal | None = Field(None, description="change ÷ |previous total| × 100, 1 decimal")
    flags: list[ReviewFlag] = []


class ReviewResult(_Model):
    """The review of a run's (or a period's) drafts, and the cycles of its scope that were never billed."""

    run_id: str | None = None
    period_date: dt.date
    drafts: list[ReviewRow]
    flag_counts: dict[str, int] = Field(description="drafts per flag (before the --flag filter), every flag listed")
    unbilled_cycles: list[UnbilledCycle]
    unbilled_cycles_count: int
    drafts_total: int | None = Field(None, description="drafts matching (after the flag filter), when paged")
    offset: int = Field(0, description="drafts skipped before this page, when paged")


class ReviewThresholds(_Model):
    """A business's review thresholds (spec section 8); a business with no stored row has the defaults."""

    business_id: str
    total_change_percent: Decimal = Decimal(25)
    total_change_min: Decimal = Decimal(10)
    usage_spike_factor: Decimal = Decimal(3)
    large_invoice: dict[str, Decimal] = Field(
        default_factory=dict, description="currency -> total above which a draft is flagged large_invoice"
    )
    updated_by: str | None = None
    updated_at: UtcDatetime | None = None


# --- credit notes and customer credit (spec section 12) ---------------------------------------------------------

CREDIT_NOTE_REASONS: tuple[str, ...] = ("duplicate", "product_unsatisfactory", "order_change", "fraudulent", "other")


class CreditNoteItem(_Model):
    """One credited line: `amount` (before tax) and its share of the note's tax (per code, by largest remainder)."""

    line_no: int
    line_id: str | None = None
    kind: str | None = None
    product: str | None = None
    description: str | None = None
    amount: Decimal
    amount_minor: int
    tax: Decimal
    tax_minor: int


class CreditNoteTax(_Model):
    """One tax of a credit note: `base` = Σ credited amounts of the lines carrying the code; `amount` =
    round(base × rate / 100), at most what earlier notes left of the invoice's tax of the code, and exactly that
    once every line carrying the code is fully credited. `code` None: the customer's single tax_rate."""

    code: str | None
    name: str
    rate: Decimal
    base: Decimal
    amount: Decimal
    base_minor: int
    amount_minor: int


class CreditNote(_Model):
    """A credit note of a finalized invoice (issued: `credit_note_id` and `number` set), or the one a request
    would make (an estimate: nothing stored, no id or number). total = subtotal + tax = offset + refund + credit."""

    credit_note_id: str | None = None
    number: str | None = Field(None, description="<invoice number>-CN<n>, e.g. INV-2026-000012-CN1")
    sequence: int
    invoice_id: str
    invoice_number: str
    business_id: str
    customer_id: str
    currency: str
    reason: str | None = None
    note: str | None = None
    subtotal: Decimal
    tax: Decimal
    total: Decimal
    offset: Decimal = Field(description="lowers the invoice's balance due")
    refund: Decimal = Field(description="money paid back to the customer")
    credit: Decimal = Field(description="added to the customer's credit balance in the invoice's currency")
    subtotal_minor: int
    tax_minor: int
    total_minor: int
    offset_minor: int
    refund_minor: int
    credit_minor: int
    items: list[CreditNoteItem]
    taxes: list[CreditNoteTax]
    created_at: UtcDatetime | None = None
    actor: str | None = None


class CreditableLine(_Model):
    """A line of a finalized invoice and what it can still be credited: amount − discount − earlier notes."""

    line_no: int
    line_id: str | None = None
    kind: str
    product: str | None = None
    description: str | None = None
    amount: Decimal
    discount: Decimal
    credited: Decimal
    creditable: Decimal
    amount_minor: int
    discount_minor: int
    credited_minor: int
    creditable_minor: int
    tax_codes: list[str] | None = None


class CreditNoteEstimate(_Model):
    """What an invoice can still be credited (nothing changes): each line's creditable amount, the most the
    next notes may total (`creditable_total`), the most the next note may offset (`max_offset`: the balance due, at
    most `creditable_total`) and refund (`max_refund`: the payments less earlier refunds, `paid_less_refunds`, at
    most `creditable_total`); with a request, the note it would make (`credit_note`)."""

    invoice_id: str
    invoice_number: str | None
    status: str
    currency: str
    total: Decimal
    credit_notes_total: Decimal
    creditable_total: Decimal
    balance_due: Decimal
    max_offset: Decimal
    max_refund: Decimal
    paid_less_refunds: Decimal
    total_minor: int
    credit_notes_total_minor: int
    creditable_total_minor: int
    balance_due_minor: int
    max_offset_minor: int
    max_refund_minor: int
    paid_less_refunds_minor: int
    lines: list[CreditableLine]
    credit_note: CreditNote | None = None


class CustomerCredit(_Model):
    """A customer's credit balance in one currency (applied to its next invoices in that currency)."""

    customer_id: str
    customer_name: str | None = None
    business_id: str
    currency: str
    balance: Decimal
    balance_minor: int
