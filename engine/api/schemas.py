"""The HTTP shapes of spec section 9, named and shaped as the seeds document them.

DayZero endpoints carry money as integer MINOR units (`total`, `unit_price`, `amount`); the engine's own
models (engine.models) carry Decimal major units and are converted at this edge, in invoice_view.py.
Requests are converted to the engine's request models (engine.models.InvoiceCreateRequest, …) so the
engine checks them once, the same for the CLI, the workbench and the API.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from ..models import BillRunReport, RecurringConfig

T = TypeVar("T")

# Sizes that keep a request inside what the engine stores (BIGINT minor units, DECIMAL(38,6) quantities)
# and what one request may ask for.
MINOR_MAX = 2**63 - 1
MAX_ITEMS = 1000
MAX_TEXT = 2000


class _Request(BaseModel):
    """Unknown fields are refused (422), so a misspelt field is never silently ignored."""

    model_config = ConfigDict(extra="forbid")


# --- envelopes and errors ----------------------------------------------------------------------------


class ErrorResponse(BaseModel):
    """Every error but 422: a stable machine code and a sentence for a person."""

    success: Literal[False] = False
    code: str = Field(description="stable code, e.g. contract_not_found, no_matching_cycle, invoice_not_approved")
    message: str


class SuccessEnvelope(BaseModel, Generic[T]):
    success: bool = True
    message: str
    code: str
    data: T


# --- DayZero invoices --------------------------------------------------------------------------------


class LineItemResponse(BaseModel):
    """One invoice line. `amount` is exact integer minor units; `unit_price` is minor units when the
    price is a whole number of them (a usage price like 0.0005 USD is not: then see unit_price_decimal)."""

    id: str = Field(description="invoice id and line number")
    line_no: int
    line_id: str | None = Field(None, description="the contract's order line (None for custom and true-up lines)")
    kind: str = Field(description="recurring, usage, one_time, minimum_commitment_true_up, delayed_charge or custom")
    product: str | None = None
    description: str | None = None
    quantity: Decimal | None = Field(None, description="exact decimal, as a string")
    unit_price: int | None = Field(None, description="price per unit in minor units, when whole")
    unit_price_decimal: Decimal | None = Field(None, description="price per unit in major units, exact")
    amount: int = Field(description="line amount in minor units (rounded once)")
    period_start: dt.date | None = None
    period_end: dt.date | None = None


class InvoicePaymentResponse(BaseModel):
    id: str
    amount: int = Field(description="minor units")
    method: str
    paid_at: dt.datetime


class InvoiceResponse(BaseModel):
    """DayZero InvoiceResponse (every documented field), plus Billsim's contract, cycle and review fields."""

    id: str = Field(description="Invoice id.")
    business_id: str
    created_at: dt.datetime
    updated_at: dt.datetime = Field(description="time of the invoice's last change (its last audit event)")
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
    number: str | None = Field(None, description="Invoice number (assigned on finalize).")
    delivered: bool = False
    delivered_on: dt.datetime | None = None
    hosted_invoice_url: str
    paid_on: dt.datetime | None = None
    journal_entries: list[dict] = []
    payments: list[InvoicePaymentResponse] = []
    recurring_template_id: str | None = None
    # Billsim
    contract_id: str | None = None
    period_start: dt.date | None = None
    period_end: dt.date | None = None
    bill_for_date: dt.date | None = None
    subtotal: int
    tax: int
    tax_rate: str = Field(description="percent, exact decimal")
    run_id: str | None = None
    approved_by: str | None = None
    approved_at: dt.datetime | None = None
    hold_reason: str | None = None
    void_reason: str | None = None


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
    tax: int
    tax_rate: str = Field(description="percent, exact decimal")
    total: int
    line_items: list[LineItemResponse]
    pending_usage: list[dict] = Field(default_factory=list, description="pending usage in the cycle, never billed")


class InvoiceList(BaseModel):
    data: list[InvoiceResponse]
    total: int = Field(description="invoices matching the filters")
    limit: int
    offset: int


class ContractInvoiceResult(BaseModel):
    created: bool = Field(description="false when the cycle already had this invoice")
    invoice: InvoiceResponse


class GeneratePeriodInvoicesRequest(_Request):
    period_date: dt.date = Field(description="Any date within the billing period to draft (YYYY-MM-DD).")


class PreviewInvoiceRequest(_Request):
    period_date: dt.date = Field(description="Any date within the billing period to preview (YYYY-MM-DD).")


class LineItemRequest(_Request):
    variant_id: str | None = Field(None, description="Product variant; omit or 'custom' for a custom item.")
    quantity: int = Field(1, ge=1, le=10**15, description="Quantity ordered. Defaults to 1.")
    description: str | None = Field(None, max_length=MAX_TEXT, description="Required for custom items.")
    unit_price: int | None = Field(None, ge=-MINOR_MAX, le=MINOR_MAX, description="Price per unit in minor units.")
    amount: int | None = Field(
        None, ge=-MINOR_MAX, le=MINOR_MAX, description="Deprecated: taken as unit_price when unit_price is not set."
    )


class InvoiceRecurringConfig(RecurringConfig):
    pass


class InvoiceCreateRequest(_Request):
    customer_id: str = Field(max_length=MAX_TEXT, description="Customer to invoice.")
    currency: str | None = Field(None, description="ISO 4217 currency; defaults to the customer's.")
    line_items: list[LineItemRequest] = Field(min_length=1, max_length=MAX_ITEMS)
    due_date: dt.date = Field(description="Payment due date in YYYY-MM-DD format.")
    description: str | None = Field(None, max_length=MAX_TEXT)
    recurring: InvoiceRecurringConfig | None = None


class BatchInvoiceItem(_Request):
    customer_id: str = Field(max_length=MAX_TEXT)
    currency: str | None = None
    line_items: list[LineItemRequest] = Field(min_length=1, max_length=MAX_ITEMS)
    due_date: dt.date
    description: str | None = Field(None, max_length=MAX_TEXT)


class BatchInvoiceRequest(_Request):
    items: list[BatchInvoiceItem] = Field(max_length=MAX_ITEMS, description="List of invoices to create")
    include_delayed_charges: bool = False
    finalize: bool = False


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


# --- review and lifecycle ----------------------------------------------------------------------------


class ApproveRequest(_Request):
    note: str | None = Field(None, max_length=MAX_TEXT)


class HoldRequest(_Request):
    reason: str = Field(min_length=1, max_length=MAX_TEXT)


class ReleaseRequest(_Request):
    note: str | None = Field(None, max_length=MAX_TEXT)


class VoidRequest(_Request):
    reason: str | None = Field(None, max_length=MAX_TEXT)


class PaymentRequest(_Request):
    amount: int = Field(gt=0, le=MINOR_MAX, description="minor units, at most the balance due")
    method: Literal["manual", "stripe"] = "manual"


# --- bill runs and scenarios -------------------------------------------------------------------------


class BillRunRequest(_Request):
    period_date: dt.date
    contract_ids: list[str] | None = Field(None, max_length=100_000)
    customer_ids: list[str] | None = Field(None, max_length=100_000)
    include_delayed_charges: bool = False
    finalize: bool = False
    catch_up: bool = Field(False, description="also draft every missed cycle before the period date")


class BillRunStatus(BaseModel):
    run_id: str
    status: str = Field(description="running, completed, failed, or interrupted (the server stopped during the run)")
    progress: float = Field(description="0..1")
    stage: str | None = None
    error: ErrorResponse | None = None
    report: BillRunReport | None = None


class SimulateRequest(_Request):
    scenario: dict = Field(description="a scenario as in spec section 7: {name, changes: [...]}")
    from_date: dt.date
    to_date: dt.date
    contract_ids: list[str] | None = Field(None, max_length=100_000)


# --- Zenskar -----------------------------------------------------------------------------------------

_ZDATE = "YYYY-MM-DD, ISO-8601 date-time (its UTC day, e.g. 2026-04-28T00:00:00Z) or UNIX seconds"


class GenerateInvoiceRequestSchema(_Request):
    """Zenskar generate_invoice: the dates must be exactly one cycle of getContractBillingCycles."""

    customer_id: str = Field(max_length=MAX_TEXT)
    contract_id: str = Field(max_length=MAX_TEXT)
    from_date: str | int = Field(description=_ZDATE)
    to_date: str | int = Field(description=_ZDATE)
    check_duplicate_invoice: bool | None = None
    bill_for_date: str | int | None = Field(None, description=_ZDATE + "; required: it names the cycle")
    billing_cycle_start_day: int | None = None


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
