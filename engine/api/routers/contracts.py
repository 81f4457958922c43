"""DayZero contract endpoints: draft the period's invoice (generate-period-invoices) and preview it."""

from __future__ import annotations

from fastapi import Request

from ...service import contracts
from ...service.invoices import get
from ...service.requests import GeneratePeriodInvoicesRequest, PreviewInvoiceRequest
from ..auth import Sess
from ..invoice_view import dayzero_invoice, preview_view
from ..schemas import ContractInvoiceResult, InvoicePreview, SuccessEnvelope
from .common import router as new_router

router = new_router("contracts")


@router.post(
    "/api/v1/contracts/{contract_id}/generate-period-invoices",
    status_code=201,
    response_model=SuccessEnvelope[ContractInvoiceResult],
    summary="Draft the next period's invoices",
)
def generate_period_invoices(s: Sess, contract_id: str, body: GeneratePeriodInvoicesRequest, request: Request):
    """Draft the invoice of the billing period containing `period_date`. Idempotent per (contract, period):
    a period already drafted returns its invoice with `created: false`; nothing changes."""
    result = contracts.draft(s, contract_id, body.period_date)
    invoice = dayzero_invoice(get(s, result.invoice.invoice_id), str(request.base_url))
    period = f"{invoice.period_start} – {invoice.period_end}"
    return SuccessEnvelope[ContractInvoiceResult](
        message=f"invoice drafted for {period}" if result.created else f"the period {period} was already drafted",
        code="invoice_drafted" if result.created else "invoice_exists",
        data=ContractInvoiceResult(created=result.created, invoice=invoice),
    )


@router.post("/api/v1/contracts/{contract_id}/preview-invoice", response_model=InvoicePreview)
def preview_contract_invoice(s: Sess, contract_id: str, body: PreviewInvoiceRequest):
    """The invoice of the period containing `period_date`, computed exactly as a draft; nothing is stored."""
    return preview_view(contracts.preview(s, contract_id, body.period_date))
