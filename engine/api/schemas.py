"""The HTTP answers of spec section 9, named and shaped as the seeds document them.

DayZero endpoints carry money as integer MINOR units (`total`, `unit_price`, `amount`); the application's
results (engine.service.results, engine models) carry Decimal major units and are converted at this edge, in
invoice_view.py. The requests are the application layer's own models (engine.service.requests), so the HTTP
API, the MCP tools, the CLI and the workbench check the same input the same way.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Generic, Literal, TypeVar

from pydantic import BaseModel, Field

from ..service.formats import UtcDatetime
from ..service.models import CreditNote, CustomerCredit, TierRow
from ..service.results import ErrorInfo

T = TypeVar("T")


# --- envelopes and errors ----------------------------------------------------------------------------


ErrorResponse = ErrorInfo  # every error but 422: a stable machine code and a sentence for a person


class SuccessEnvelope(BaseModel, Generic[T]):
    success: bool = True
    message: str
    code: str
    data: T


# --- DayZero invoices --------------------------------------------------------------------------------


class LineItemResponse(BaseModel):
    """One invoice line. `amount` is exact integer minor units; `unit_price` is minor units when the
    price is a whole number of them (a usage price like 0.0005 USD is not: then see unit_price_decimal); `quantity`
    is an integer, as DayZero's line item gives it (seed 004), when the quantity is whole (a usage quantity like
    715.61 is not: then see quantity_decimal)."""

    id: str = Field(description="invoice id and line number")
    line_no: int
    line_id: str | None = Field(None, description="the contract's order line (None for custom and true-up lines)")
    kind: str = Field(description="recurring, usage, one_time, minimum_commitment_true_up, delayed_charge or custom")
    product: str | None = None
    description: str | None = None
    quantity: int | None = Field(None, description="the quantity, when a whole number (else null: quantity_decimal)")
    quantity_decimal: Decimal | None = Field(None, description="the quantity, exact, as a decimal string")
    unit_price: int | None = Field(None, description="price per unit in minor units, when whole")
    unit_price_decimal: Decimal | None = Field(None, description="price per unit in major units, exact")
    amount: int = Field(description="line amount in minor units (rounded once)")
    discount_amount: int = Field(0, description="the line's share of the invoice's coupons, minor units")
    tax_codes: list[str] | None = Field(None, description="the line's tax codes ([] exempt; null: the single rate)")
    period_start: dt.date | None = None
    period_end: dt.date | None = None
    # how the amount is made (docs/RULES.md "What a line shows"), for a line that is not quantity × unit price
    pricing_model: str | None = Field(None, description="flat, per_unit, graduated, volume, package or percentage")
    explanation: str | None = Field(
        None,
        description="the amount's arithmetic in words, for a package, percentage or minimum-commitment true-up "
        "line: '5,710 units − 500 free = 5,210 → 6 packs of 1,000 × £39.50'",
    )
    package_size: Decimal | None = Field(
        None, description="package lines: units in one package (unit_price: its price)"
    )
    free_units: Decimal | None = Field(None, description="package lines: units not billed")
    packages: int | None = Field(None, description="package lines: packages billed")
    percentage_rate: Decimal | None = Field(None, description="percentage lines: percent of the quantity")
    fixed_fee_decimal: Decimal | None = Field(None, description="percentage lines: fee per usage row, major units")
    usage_rows: int | None = Field(None, description="usage lines: approved usage rows aggregated")
    minimum_commitment_decimal: Decimal | None = Field(
        None, description="true-up: the contract's commitment per full cycle, major units"
    )
    committed: int | None = Field(None, description="true-up: the commitment for this cycle (prorated), minor units")
    order_lines_total: int | None = Field(None, description="true-up: Σ the order-line amounts, minor units")
    # proration, the line's discount and its tiers: what the document and the CLI show beside a line
    active_days: int | None = Field(None, description="recurring lines: the days of the cycle the line was active")
    period_days: int | None = Field(None, description="recurring lines: the cycle's days")
    proration_factor: str | None = Field(None, description="active_days/period_days as an exact fraction")
    discount_percent: Decimal | None = Field(None, description="the order line's discount, percent")
    tiers: list[TierRow] | None = Field(None, description="graduated and volume lines: each applying tier")


class InvoiceTaxResponse(BaseModel):
    """One tax of an invoice (spec section 11): amount = round(base × rate / 100), in minor units."""

    code: str | None = Field(None, description="the tax code; null: the customer's single tax_rate")
    name: str
    rate: str = Field(description="percent, exact decimal")
    base: int = Field(description="Σ (line amount − line discount) of the lines carrying the code, minor units")
    amount: int = Field(description="minor units")


class InvoiceCouponResponse(BaseModel):
    """A coupon an invoice took, in the order they apply (spec section 11)."""

    coupon_id: str
    name: str
    kind: str = Field(description="fixed or percentage")
    percent: str | None = None
    amount: int = Field(description="what it took, minor units")


class InvoicePaymentResponse(BaseModel):
    id: str
    amount: int = Field(description="minor units")
    method: str
    paid_at: UtcDatetime


class InvoiceResponse(BaseModel):
    """DayZero InvoiceResponse (every documented field), plus Billsim's contract, cycle and review fields."""

    id: str = Field(description="Invoice id.")
    business_id: str
    created_at: UtcDatetime
    updated_at: UtcDatetime = Field(description="time of the invoice's last change (its last audit event)")
    status: str = Field(description="draft, approved, held, open, partially_paid, manual_paid, stripe_paid, void")
    currency: str
    stripe_invoice_id: str | None = None
    total: int = Field(description="Total amount in minor units.")
    total_paid: int
    balance_due: int
    description: str | None = None
    customer_id: str
    customer_name: str | None = None
    customer_email: str | None = None
    due_date: dt.date | None = None
    line_items: list[LineItemResponse] = []
    pdf_url: str
    number: str | None = Field(
        None, description="Invoice number as the customer sees it, assigned on finalize: <prefix>-<year>-<6 digits>."
    )
    delivered: bool = False
    delivered_on: UtcDatetime | None = None
    hosted_invoice_url: str
    paid_on: UtcDatetime | None = None
    journal_entries: list[dict] = []
    payments: list[InvoicePaymentResponse] = []
    recurring_template_id: str | None = None
    # Billsim
    contract_id: str | None = None
    period_start: dt.date | None = None
    period_end: dt.date | None = None
    bill_for_date: dt.date | None = None
    subtotal: int
    discount_amount: int = Field(0, description="Σ coupons, minor units: total = subtotal − discount_amount + tax")
    tax: int
    tax_rate: str = Field(description="percent, exact decimal: the customer's single rate (0 with tax codes)")
    taxes: list[InvoiceTaxResponse] = Field(default_factory=list, description="per tax code; they sum to `tax`")
    coupons: list[InvoiceCouponResponse] = Field(default_factory=list, description="they sum to discount_amount")
    run_id: str | None = None
    approved_by: str | None = None
    approved_at: UtcDatetime | None = None
    hold_reason: str | None = None
    void_reason: str | None = None
    # spec section 12: balance_due = total − credits_applied − total_paid − the offsets of its credit notes
    credits_applied: int = Field(0, description="the customer's credit applied at finalize, minor units")
    credit_notes_total: int = Field(0, description="Σ totals of its credit notes, minor units")
    credits_returned: int = Field(0, description="the customer credit given back when it was voided, minor units")
    credit_available: int | None = Field(
        None,
        description="a draft's: the customer's credit in its currency that finalizing it now would apply, "
        "min(credit, max(total, 0)), minor units; null once finalized (see credits_applied)",
    )


class InvoicePreview(BaseModel):
    """The invoice a draft would be; nothing stored (no id, no number)."""

    status: Literal["preview"] = "preview"
    business_id: str
    customer_id: str
    contract_id: str
    currency: str
    period_start: dt.date
    period_end: dt.date
    bill_for_date: dt.date
    due_date: dt.date
    subtotal: int
    discount_amount: int = Field(0, description="Σ coupons, minor units: total = subtotal − discount_amount + tax")
    tax: int
    tax_rate: str = Field(description="percent, exact decimal: the customer's single rate (0 with tax codes)")
    taxes: list[InvoiceTaxResponse] = Field(default_factory=list, description="per tax code; they sum to `tax`")
    coupons: list[InvoiceCouponResponse] = Field(default_factory=list, description="they sum to discount_amount")
    total: int
    line_items: list[LineItemResponse]
    pending_usage: list[dict] = Field(default_factory=list, description="pending usage in the cycle, never billed")
    credit_available: int = Field(
        0,
        description="the customer's credit in its currency that finalizing the invoice now would apply, "
        "min(credit, max(total, 0)), minor units",
    )


class InvoiceList(BaseModel):
    data: list[InvoiceResponse]
    total: int = Field(description="invoices matching the filters")
    limit: int
    offset: int


class ContractInvoiceResult(BaseModel):
    created: bool = Field(description="false when the cycle already had this invoice")
    invoice: InvoiceResponse


class BatchItemResult(BaseModel):
    index: int
    ok: bool
    invoice: InvoiceResponse | None = None
    code: str | None = None
    error: str | None = None


class BatchInvoiceResponse(BaseModel):
    results: list[BatchItemResult]
    created: int
    failed: int


# --- Zenskar -----------------------------------------------------------------------------------------


class GenerateInvoiceResponse(BaseModel):
    invoice_ids: list[str]
    created: bool
    invoice: InvoiceResponse


class BillingCycleResponse(BaseModel):
    name: str
    start_date: dt.date
    end_date: dt.date
    bill_for_date: dt.date
    billing_cycle_start_day: int
    period_days: int


# --- credit notes (spec section 12) ------------------------------------------------------------------------------


class CreditNoteResponse(CreditNote):
    """A credit note as the service answers it (money as decimal strings in major units next to integer minor
    units), with its document on this server."""

    pdf_url: str
    hosted_url: str = Field(description="the credit note as HTML")


class CreditNoteList(BaseModel):
    data: list[CreditNoteResponse]
    total: int = Field(description="credit notes matching the filters")
    limit: int
    offset: int


class CustomerCreditList(BaseModel):
    data: list[CustomerCredit] = Field(description="customers' credit per currency (balances above 0)")
