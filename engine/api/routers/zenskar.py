"""Zenskar endpoints: generate_invoice (the exact-cycle rules of spec section 4) and a contract's billing cycles."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request

from ...service import contracts
from ...service.invoices import get
from ...service.requests import GenerateInvoiceRequestSchema
from ..auth import Sess
from ..invoice_view import dayzero_invoice
from ..schemas import BillingCycleResponse, GenerateInvoiceResponse
from .common import router as new_router

router = new_router("zenskar")


@router.post(
    "/invoices/generate_invoice",
    response_model=GenerateInvoiceResponse,
    operation_id="Generate-an-invoice",
    summary="Generate an invoice",
)
def generate_an_invoice(s: Sess, body: GenerateInvoiceRequestSchema, request: Request):
    """Generate the invoice of one billing cycle of a contract: from_date, to_date and bill_for_date must be
    exactly one cycle of GET /contracts/{contract_id}/billing_cycles (else 400 no_matching_cycle naming the
    valid cycles; a missing bill_for_date too). With check_duplicate_invoice (default true), a cycle whose
    invoice is approved or finalized is 409 InvoiceAlreadyGeneratedForThisBillingPeriod; a draft is returned
    with created false."""
    result = contracts.generate(s, body)
    invoice = dayzero_invoice(get(s, result.invoice.invoice_id), str(request.base_url))
    return GenerateInvoiceResponse(invoice_ids=[invoice.id], created=result.created, invoice=invoice)


@router.get(
    "/contracts/{contract_id}/billing_cycles",
    response_model=list[BillingCycleResponse],
    operation_id="getContractBillingCycles",
    summary="A contract's billing cycles",
)
def get_contract_billing_cycles(
    s: Sess,
    contract_id: str,
    limit: Annotated[int, Query(ge=1, le=500, description="at most this many: the latest")] = 12,
):
    """The contract's cycles, oldest first: from its start to its end (an open-ended one: up to the cycle after
    today's). Copy a cycle's values verbatim into generate_invoice."""
    return contracts.zenskar_cycles(s, contract_id, {"limit": limit})
