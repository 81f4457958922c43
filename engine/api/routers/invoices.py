"""DayZero invoices: create, batch create, list, read (JSON, HTML, PDF), and the review and lifecycle
actions (approve, hold, release, finalize, void, payments). The actor of every change is the token's name."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import Query, Request
from fastapi.responses import HTMLResponse, Response

from ... import models
from ...billing.approval import approve_invoice, hold_invoice, release_invoice
from ...billing.invoice_store import load_invoice
from ...billing.lifecycle import finalize_invoice, record_payment_tx, void_invoice
from ...billing.manual_invoices import batch_create, create_invoice_tx
from ...errors import BillsimError
from ...io.documents import render_invoice
from ...money import to_major
from ..auth import Caller, Db
from ..idempotency import atomic_response
from ..invoice_list import DEFAULT_LIMIT, MAX_LIMIT, STATUSES
from ..invoice_list import list_invoices as business_invoices
from ..invoice_view import dayzero_invoice
from ..schemas import (
    ApproveRequest,
    BatchInvoiceItem,
    BatchInvoiceRequest,
    BatchInvoiceResponse,
    BatchItemResult,
    HoldRequest,
    InvoiceCreateRequest,
    InvoiceList,
    InvoiceResponse,
    PaymentRequest,
    ReleaseRequest,
    VoidRequest,
)
from ..seed_bodies import create_request
from ..tenancy import customer_of_business, require_customer, require_invoice
from .common import router as new_router

router = new_router("invoices")


def engine_request(item: InvoiceCreateRequest | BatchInvoiceItem) -> models.ManualInvoiceRequest:
    """The DayZero body as the engine's request (seed_bodies: custom lines, `amount` as `unit_price`)."""
    return create_request(item.model_dump(mode="json", exclude_none=True))


def _view(con, request: Request, invoice_id: str) -> InvoiceResponse:
    return dayzero_invoice(con, load_invoice(con, invoice_id), str(request.base_url))


@router.post("/api/v1/invoices", status_code=201, response_model=InvoiceResponse, summary="Create invoice")
def create_invoice(
    who: Caller,
    con: Db,
    body: InvoiceCreateRequest,
    request: Request,
):
    """Create a draft invoice of custom line items (prices in minor units). With `recurring`, also a
    recurring template that drafts an invoice every period."""
    require_customer(con, who.business_id, body.customer_id)
    req = engine_request(body)

    def work(c) -> InvoiceResponse:
        invoice_id, _ = create_invoice_tx(c, req, actor=who.token_name)
        return _view(c, request, invoice_id)

    return atomic_response(request, con, 201, "create_invoice", work)


@router.post(
    "/api/v1/invoices/batch", status_code=201, response_model=BatchInvoiceResponse, summary="Batch create invoices"
)
def create_batch_invoices(
    who: Caller,
    con: Db,
    body: BatchInvoiceRequest,
    request: Request,
):
    """Create invoices for several customers in one action; each item succeeds or fails on its own, with its
    error. `include_delayed_charges`: a customer's first new invoice takes their pending charges in its currency.
    `finalize`: the new invoices are approved and finalized in one step."""
    errors: dict[int, tuple[str, str]] = {}
    engine_items: list[tuple[int, models.ManualInvoiceRequest]] = []
    for index, item in enumerate(body.items):
        if not customer_of_business(con, who.business_id, item.customer_id):
            errors[index] = ("customer_not_found", f"no customer {item.customer_id!r}")
            continue
        try:
            engine_items.append((index, engine_request(item)))
        except BillsimError as exc:
            errors[index] = (exc.code, str(exc))
    done: dict[int, models.ManualBatchItem] = {}
    if engine_items:
        result = batch_create(
            con,
            models.ManualBatchRequest(
                items=[r for _, r in engine_items],
                include_delayed_charges=body.include_delayed_charges,
                finalize=body.finalize,
            ),
            actor=who.token_name,
        )
        done = {engine_items[r.index][0]: r for r in result.results}
    base = str(request.base_url)
    results = []
    for index in range(len(body.items)):
        if index in errors:
            code, message = errors[index]
            results.append(BatchItemResult(index=index, ok=False, code=code, error=message))
            continue
        r = done[index]
        results.append(
            BatchItemResult(
                index=index,
                ok=r.ok,
                invoice=dayzero_invoice(con, r.invoice, base) if r.invoice else None,
                code=None if r.ok and not r.error else ("not_finalized" if r.ok else "invoice_not_created"),
                error=r.error,
            )
        )
    ok = sum(r.ok for r in results)
    return BatchInvoiceResponse(results=results, created=ok, failed=len(results) - ok)


@router.get("/api/v1/invoices", response_model=InvoiceList, summary="List invoices")
def list_invoices(
    who: Caller,
    con: Db,
    request: Request,
    status: Annotated[str | None, Query(description="one of " + ", ".join(STATUSES))] = None,
    customer_id: str | None = None,
    contract_id: str | None = None,
    run_id: str | None = None,
    period_date: Annotated[dt.date | None, Query(description="the invoice's period contains this date")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
):
    """The business's invoices, newest first, filtered and paged."""
    page = business_invoices(
        con,
        who.business_id,
        status=status,
        customer_id=customer_id,
        contract_id=contract_id,
        run_id=run_id,
        period_date=period_date,
        limit=limit,
        offset=offset,
    )
    return InvoiceList(
        data=[_view(con, request, r["invoice_id"]) for r in page["invoices"]],
        total=page["total_count"],
        limit=limit,
        offset=offset,
    )


@router.get("/api/v1/invoices/{invoice_id}.html", response_class=HTMLResponse, summary="Invoice document (HTML)")
def invoice_html(invoice_id: str, who: Caller, con: Db):
    require_invoice(con, who.business_id, invoice_id)
    return HTMLResponse(render_invoice(con, invoice_id, "html"))


@router.get(
    "/api/v1/invoices/{invoice_id}.pdf",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}, "description": "the invoice as PDF"}},
    summary="Invoice document (PDF)",
)
def invoice_pdf(invoice_id: str, who: Caller, con: Db):
    require_invoice(con, who.business_id, invoice_id)
    pdf = render_invoice(con, invoice_id, "pdf")
    return Response(
        pdf, media_type="application/pdf", headers={"Content-Disposition": f'inline; filename="{invoice_id}.pdf"'}
    )


@router.get("/api/v1/invoices/{invoice_id}", response_model=InvoiceResponse, summary="Read an invoice")
def get_invoice(invoice_id: str, request: Request, who: Caller, con: Db):
    require_invoice(con, who.business_id, invoice_id)
    return _view(con, request, invoice_id)


@router.post("/api/v1/invoices/{invoice_id}/approve", response_model=InvoiceResponse, summary="Approve a draft")
def approve(
    who: Caller,
    con: Db,
    invoice_id: str,
    request: Request,
    body: ApproveRequest | None = None,
):
    """draft -> approved (an approved invoice stays as it is)."""
    require_invoice(con, who.business_id, invoice_id)
    approve_invoice(con, invoice_id, actor=who.token_name, note=body.note if body else None)
    return _view(con, request, invoice_id)


@router.post("/api/v1/invoices/{invoice_id}/hold", response_model=InvoiceResponse, summary="Put an invoice on hold")
def hold(
    who: Caller,
    con: Db,
    invoice_id: str,
    body: HoldRequest,
    request: Request,
):
    """draft or approved -> held, with the reason (required)."""
    require_invoice(con, who.business_id, invoice_id)
    hold_invoice(con, invoice_id, reason=body.reason, actor=who.token_name)
    return _view(con, request, invoice_id)


@router.post("/api/v1/invoices/{invoice_id}/release", response_model=InvoiceResponse, summary="Release a held invoice")
def release(
    who: Caller,
    con: Db,
    invoice_id: str,
    request: Request,
    body: ReleaseRequest | None = None,
):
    """held -> draft (to be approved again)."""
    require_invoice(con, who.business_id, invoice_id)
    release_invoice(con, invoice_id, actor=who.token_name, note=body.note if body else None)
    return _view(con, request, invoice_id)


@router.post("/api/v1/invoices/{invoice_id}/finalize", response_model=InvoiceResponse, summary="Finalize")
def finalize(invoice_id: str, request: Request, who: Caller, con: Db):
    """approved -> open, with the business's next invoice number. A draft or held one: 409 invoice_not_approved."""
    require_invoice(con, who.business_id, invoice_id)
    finalize_invoice(con, invoice_id, actor=who.token_name)
    return _view(con, request, invoice_id)


@router.post("/api/v1/invoices/{invoice_id}/void", response_model=InvoiceResponse, summary="Void")
def void(
    who: Caller,
    con: Db,
    invoice_id: str,
    request: Request,
    body: VoidRequest | None = None,
):
    """open or partially paid -> void (keeps its number; its cycle may be drafted again)."""
    require_invoice(con, who.business_id, invoice_id)
    void_invoice(con, invoice_id, body.reason if body else None, actor=who.token_name)
    return _view(con, request, invoice_id)


@router.post(
    "/api/v1/invoices/{invoice_id}/payments",
    status_code=201,
    response_model=InvoiceResponse,
    summary="Record a payment",
)
def record_invoice_payment(
    who: Caller,
    con: Db,
    invoice_id: str,
    body: PaymentRequest,
    request: Request,
):
    """A payment in minor units, at most the balance due. Send an Idempotency-Key: a retried payment is
    then never recorded twice."""
    require_invoice(con, who.business_id, invoice_id)
    currency = con.execute("SELECT currency FROM invoices WHERE invoice_id = ?", [invoice_id]).fetchone()[0]

    def work(c) -> InvoiceResponse:
        record_payment_tx(c, invoice_id, to_major(body.amount, currency), body.method, actor=who.token_name)
        return _view(c, request, invoice_id)

    return atomic_response(request, con, 201, "record_payment", work)
