"""DayZero invoices: create, batch create, list, read (JSON, HTML, PDF), and the review and lifecycle actions
(approve, hold, release, finalize, void, payments, delete a draft). The actor of every change is the token's name."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request
from fastapi.responses import HTMLResponse, Response

from ...service import invoices, lifecycle
from ...service.formats import STATUSES
from ...service.idempotency import ReplayedRefusal
from ...service.requests import (
    ApproveRequest,
    BatchInvoiceRequest,
    Day,
    FinalizeRequest,
    HoldRequest,
    InvoiceCreateRequest,
    PaymentRequest,
    ReleaseRequest,
    VoidRequest,
)
from ...service.results import DeletedInvoice, InvoiceDetail
from ..auth import Sess
from ..idempotency import HEADER, REPLAYED, recorder, replayed_refusal, service_keyed
from ..invoice_view import dayzero_invoice
from ..schemas import BatchInvoiceResponse, BatchItemResult, InvoiceList, InvoiceResponse
from .common import pdf_response
from .common import router as new_router

router = new_router("invoices")


def _view(request: Request, detail: InvoiceDetail) -> InvoiceResponse:
    return dayzero_invoice(detail, str(request.base_url))


def _detail(s, request: Request, invoice_id: str) -> InvoiceResponse:
    return _view(request, invoices.get(s, invoice_id))


@router.post("/api/v1/invoices", status_code=201, response_model=InvoiceResponse, summary="Create invoice")
@service_keyed
def create_invoice(s: Sess, body: InvoiceCreateRequest, request: Request, response: Response):
    """Create a draft invoice of custom line items (prices in minor units). With `recurring`, also a
    recurring template that drafts an invoice every period. An Idempotency-Key is the same key as the CLI's
    `--idempotency-key` and the MCP tool's `idempotency_key`: one key, one invoice."""
    # with an Idempotency-Key, the invoice and the stored answer are one transaction (the service keeps it)
    try:
        once = invoices.create_once(s, body, idempotency_key=request.headers.get(HEADER))
    except ReplayedRefusal as exc:
        raise replayed_refusal(exc) from None
    if once.replayed:
        response.headers[REPLAYED] = "true"
    return _view(request, once.value)


@router.post(
    "/api/v1/invoices/batch", status_code=201, response_model=BatchInvoiceResponse, summary="Batch create invoices"
)
def create_batch_invoices(s: Sess, body: BatchInvoiceRequest, request: Request):
    """Create invoices for several customers in one action; each item succeeds or fails on its own, with its
    error. `include_delayed_charges`: a customer's first new invoice takes their pending charges in its currency.
    `finalize`: the new invoices are approved and finalized in one step."""
    result, found = invoices.batch(s, body)
    results = [
        BatchItemResult(
            index=r.index,
            ok=r.ok,
            invoice=_view(request, found[r.invoice.invoice_id]) if r.invoice is not None else None,
            code=r.code,
            error=r.error,
        )
        for r in result.results
    ]
    return BatchInvoiceResponse(results=results, created=result.created, failed=result.failed)


@router.get("/api/v1/invoices", response_model=InvoiceList, summary="List invoices")
def list_invoices(
    s: Sess,
    request: Request,
    status: Annotated[str | None, Query(max_length=40, description="one of " + ", ".join(STATUSES))] = None,
    customer_id: Annotated[str | None, Query(max_length=200)] = None,
    contract_id: Annotated[str | None, Query(max_length=200)] = None,
    run_id: Annotated[str | None, Query(max_length=200)] = None,
    # the service's Day (YYYY-MM-DD only): a plain date query also took UNIX seconds (?period_date=1772323200)
    period_date: Annotated[
        Day | None, Query(description="the invoice's period contains this date (YYYY-MM-DD)")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
):
    """The business's invoices, newest first, filtered and paged (one page is a constant number of queries)."""
    query = {
        "status": status,
        "customer_id": customer_id,
        "contract_id": contract_id,
        "run_id": run_id,
        "period_date": period_date,
        "limit": limit,
        "offset": offset,
    }
    page = invoices.list_page(s, {k: v for k, v in query.items() if v is not None})
    return InvoiceList(
        data=[_view(request, d) for d in page.invoices], total=page.total, limit=page.limit, offset=page.offset
    )


@router.get("/api/v1/invoices/{invoice_id}.html", response_class=HTMLResponse, summary="Invoice document (HTML)")
def invoice_html(invoice_id: str, s: Sess):
    return HTMLResponse(invoices.document(s, invoice_id, "html"))


@router.get(
    "/api/v1/invoices/{invoice_id}.pdf",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}, "description": "the invoice as PDF"}},
    summary="Invoice document (PDF)",
)
def invoice_pdf(invoice_id: str, s: Sess):
    return pdf_response(invoices.document(s, invoice_id, "pdf"), invoice_id)


@router.get("/api/v1/invoices/{invoice_id}", response_model=InvoiceResponse, summary="Read an invoice")
def get_invoice(invoice_id: str, request: Request, s: Sess):
    return _detail(s, request, invoice_id)


@router.delete("/api/v1/invoices/{invoice_id}", response_model=DeletedInvoice, summary="Delete a draft")
def delete_invoice(invoice_id: str, s: Sess):
    """Delete an invoice not finalized yet (draft, approved or held), all in one transaction: its lines and its
    cycle claim go (the cycle may be drafted again), the delayed charges it carried are pending again
    (`released_delayed_charges`), and the audit trail keeps a `deleted` event. A finalized invoice never changes:
    409 `invalid_state` (void it or issue a credit note). An invoice of another business, or one deleted already
    (a second DELETE of the same id), is 404 `invoice_not_found`."""
    return invoices.delete(s, invoice_id)


@router.post("/api/v1/invoices/{invoice_id}/approve", response_model=InvoiceResponse, summary="Approve a draft")
def approve(s: Sess, invoice_id: str, request: Request, body: ApproveRequest | None = None):
    """draft -> approved (an approved invoice stays as it is)."""
    lifecycle.approve(s, [invoice_id], note=body.note if body else None)
    return _detail(s, request, invoice_id)


@router.post("/api/v1/invoices/{invoice_id}/hold", response_model=InvoiceResponse, summary="Put an invoice on hold")
def hold(s: Sess, invoice_id: str, body: HoldRequest, request: Request):
    """draft or approved -> held, with the reason (required)."""
    lifecycle.hold(s, [invoice_id], body.reason)
    return _detail(s, request, invoice_id)


@router.post("/api/v1/invoices/{invoice_id}/release", response_model=InvoiceResponse, summary="Release a held invoice")
def release(s: Sess, invoice_id: str, request: Request, body: ReleaseRequest | None = None):
    """held -> draft (to be approved again)."""
    lifecycle.release(s, [invoice_id], note=body.note if body else None)
    return _detail(s, request, invoice_id)


@router.post("/api/v1/invoices/{invoice_id}/finalize", response_model=InvoiceResponse, summary="Finalize")
def finalize(invoice_id: str, request: Request, s: Sess, body: FinalizeRequest | None = None):
    """approved -> open, with the business's next invoice number. A draft or held one: 409 invoice_not_approved.
    No body, or an empty object: finalize has no option, and a field sent (`note`, `force`) is a 422."""
    lifecycle.finalize(s, [invoice_id])
    return _detail(s, request, invoice_id)


@router.post("/api/v1/invoices/{invoice_id}/void", response_model=InvoiceResponse, summary="Void")
def void(s: Sess, invoice_id: str, request: Request, body: VoidRequest | None = None):
    """open or partially paid -> void (keeps its number; its cycle may be drafted again)."""
    lifecycle.void(s, invoice_id, body.reason if body else None)
    return _detail(s, request, invoice_id)


@router.post(
    "/api/v1/invoices/{invoice_id}/payments",
    status_code=201,
    response_model=InvoiceResponse,
    summary="Record a payment",
)
def record_invoice_payment(s: Sess, invoice_id: str, body: PaymentRequest, request: Request):
    """A payment in minor units, at most the balance due. Send an Idempotency-Key: a retried payment is
    then never recorded twice (the payment and the stored answer are one transaction)."""
    lifecycle.pay(
        s,
        invoice_id,
        amount_minor=body.amount,
        method=body.method,
        record=recorder(request, 201, lambda d: _view(request, d)),
    )
    return _detail(s, request, invoice_id)
