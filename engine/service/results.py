"""What the application layer answers, beyond the engine's own models (engine.models): an invoice with what
a reader of it needs (customer, payments, last change), a page of them, a bill run's progress, an error.

Money is Decimal major units next to integer minor units, as in engine.models; each front end formats
these (the HTTP API as the seeds' DayZero shapes in minor units, the MCP tools as JSON, the CLI as JSON, the
workbench as tables).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field

from ..models import BillRunReport, CreditNote, Invoice
from ..utc_time import UtcDatetime


class ErrorInfo(BaseModel):
    """A refusal: a stable machine code and a sentence for a person (engine.errors)."""

    success: Literal[False] = False
    code: str = Field(description="stable code, e.g. contract_not_found, no_matching_cycle, invoice_not_approved")
    message: str


class Payment(BaseModel):
    payment_id: str
    amount: Decimal
    amount_minor: int
    method: str
    paid_at: UtcDatetime


class InvoiceDetail(BaseModel):
    """A stored invoice with its customer's name and e-mail, its payments and the time of its last change."""

    invoice: Invoice
    customer_name: str | None = None
    customer_email: str | None = None
    payments: list[Payment] = []
    updated_at: UtcDatetime


class DeletedInvoice(BaseModel):
    """A draft deleted (spec section 4): which invoice it was, and what the delete freed. The invoice, its lines
    and its cycle claim are gone (its cycle may be drafted again); its audit trail keeps a `deleted` event."""

    invoice_id: str
    deleted: Literal[True] = True
    status_before: str = Field(description="draft, approved or held")
    customer_id: str
    contract_id: str | None = Field(description="null for an invoice made by hand (no contract)")
    period_start: dt.date | None = Field(description="the cycle freed, drafted again by the next draft or bill run")
    released_delayed_charges: list[str] = Field(
        description="the delayed charges it carried, pending again (swept by the next run that includes them)"
    )


class InvoicePage(BaseModel):
    """One page of a list of invoices, newest first, and how many match the filters in all."""

    invoices: list[InvoiceDetail]
    total: int
    limit: int
    offset: int


class BillRunStatus(BaseModel):
    run_id: str
    status: str = Field(description="running, completed, failed, or interrupted (the server stopped during the run)")
    progress: float = Field(description="0..1")
    stage: str | None = None
    error: ErrorInfo | None = None
    report: BillRunReport | None = None


class CreditNotePage(BaseModel):
    """One page of credit notes, newest first, and how many match the filters in all."""

    credit_notes: list[CreditNote]
    total: int
    limit: int
    offset: int
