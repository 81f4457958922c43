"""DayZero contract endpoints: draft the period's invoice (generate-period-invoices) and preview it."""

from __future__ import annotations

from fastapi import Request

from ...billing.invoices import draft_period_invoice
from ..auth import Caller, Db
from ..invoice_view import dayzero_invoice, preview_view
from ..schemas import (
    ContractInvoiceResult,
    GeneratePeriodInvoicesRequest,
    InvoicePreview,
    PreviewInvoiceRequest,
    SuccessEnvelope,
)
from ..tenancy import require_contract
from .common import router as new_router

router = new_router("contracts")


@router.post(
    "/api/v1/contracts/{contract_id}/generate-period-invoices",
    status_code=201,
    response_model=SuccessEnvelope[ContractInvoiceResult],
    summary="Draft the next period's invoices",
)
def generate_period_invoices(
    who: Caller,
    con: Db,
    contract_id: str,
    body: GeneratePeriodInvoicesRequest,
    request: Request,
):
    """Draft the invoice of the billing period containing `period_date`. Idempotent per (contract, period):
    a period already drafted returns its invoice with `created: false`; nothing changes."""
    require_contract(con, who.business_id, contract_id)
    result = draft_period_invoice(con, contract_id, body.period_date, actor=who.token_name)
    invoice = dayzero_invoice(con, result.invoice, str(request.base_url))
    period = f"{invoice.period_start} – {invoice.period_end}"
    return SuccessEnvelope[ContractInvoiceResult](
        message=f"invoice drafted for {period}" if result.created else f"the period {period} was already drafted",
        code="invoice_drafted" if result.created else "invoice_exists",
        data=ContractInvoiceResult(created=result.created, invoice=invoice),
    )


@router.post("/api/v1/contracts/{contract_id}/preview-invoice", response_model=InvoicePreview)
def preview_contract_invoice(
    who: Caller,
    con: Db,
    contract_id: str,
    body: PreviewInvoiceRequest,
    request: Request,
):
    """The invoice of the period containing `period_date`, computed exactly as a draft; nothing is stored."""
    require_contract(con, who.business_id, contract_id)
    # rated with the other previews asked meanwhile (engine/api/preview_queue.py): the same invoice
    return preview_view(request.app.state.previews.preview(contract_id, body.period_date))
