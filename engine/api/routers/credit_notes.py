"""Credit notes (spec section 12): issue one for a finalized invoice (Idempotency-Key honoured: the note and the
stored answer are one transaction), estimate one first, list and read them (JSON, HTML, PDF), and the customers'
credit balances. The actor of every note is the token's name."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request
from fastapi.responses import HTMLResponse, Response

from ...service import credit_notes
from ...service.models import CreditNote, CreditNoteEstimate
from ...service.requests import CreditNoteEstimateRequest, CreditNoteRequest
from ..auth import Sess
from ..idempotency import recorder
from ..schemas import CreditNoteList, CreditNoteResponse, CustomerCreditList
from .common import pdf_response
from .common import router as new_router

router = new_router("credit notes")


def _view(request: Request, note: CreditNote) -> CreditNoteResponse:
    base = str(request.base_url).rstrip("/")
    url = f"{base}/api/v1/credit-notes/{note.credit_note_id}"
    return CreditNoteResponse(**note.model_dump(), pdf_url=f"{url}.pdf", hosted_url=f"{url}.html")


@router.post(
    "/api/v1/invoices/{invoice_id}/credit-notes",
    status_code=201,
    response_model=CreditNoteResponse,
    summary="Issue a credit note",
)
def create_credit_note(s: Sess, invoice_id: str, body: CreditNoteRequest, request: Request):
    """Credit a finalized, non-void invoice line by line (`items`: line_no and amount in major units as decimal
    strings, before tax) or `all` (everything left), with a `reason`. The total is split into `offset` (off the
    balance due), `refund` and `credit` (the customer's credit); without offset and credit: off the balance as far
    as it goes, the rest credit. A limit broken is a 400 naming it; nothing is written. Send an Idempotency-Key: a
    retried request then never issues a second note."""
    note = credit_notes.create(s, invoice_id, body, record=recorder(request, 201, lambda n: _view(request, n)))
    return _view(request, note)


@router.post(
    "/api/v1/invoices/{invoice_id}/credit-notes/estimate",
    response_model=CreditNoteEstimate,
    summary="Estimate a credit note (changes nothing)",
)
def estimate_credit_note(s: Sess, invoice_id: str, body: CreditNoteEstimateRequest | None = None):
    """Each line's creditable amount, the most the notes may still total, the most to offset (the balance due)
    and to refund (the payments less refunds); with `items` (or `all`), the note they would make: tax, total and
    split. Changes nothing."""
    return credit_notes.estimate(s, invoice_id, body)


@router.get("/api/v1/credit-notes", response_model=CreditNoteList, summary="List credit notes")
def list_credit_notes(
    s: Sess,
    request: Request,
    invoice_id: Annotated[str | None, Query(max_length=200)] = None,
    customer_id: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
):
    """The business's credit notes, newest first (of one invoice or customer when given), paged."""
    query = {"invoice_id": invoice_id, "customer_id": customer_id, "limit": limit, "offset": offset}
    page = credit_notes.list_page(s, {k: v for k, v in query.items() if v is not None})
    return CreditNoteList(
        data=[_view(request, n) for n in page.credit_notes], total=page.total, limit=page.limit, offset=page.offset
    )


@router.get("/api/v1/credit-balances", response_model=CustomerCreditList, summary="Customers' credit balances")
def credit_balances(s: Sess, customer_id: Annotated[str | None, Query(max_length=200)] = None):
    """Each customer's credit per currency (above 0): taken off its next invoices in that currency when they are
    finalized."""
    return CustomerCreditList(data=credit_notes.balances(s, customer_id))


@router.get(
    "/api/v1/credit-notes/{credit_note_id}.html", response_class=HTMLResponse, summary="Credit note document (HTML)"
)
def credit_note_html(credit_note_id: str, s: Sess):
    return HTMLResponse(credit_notes.document(s, credit_note_id, "html"))


@router.get(
    "/api/v1/credit-notes/{credit_note_id}.pdf",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}, "description": "the credit note as PDF"}},
    summary="Credit note document (PDF)",
)
def credit_note_pdf(credit_note_id: str, s: Sess):
    return pdf_response(credit_notes.document(s, credit_note_id, "pdf"), credit_note_id)


@router.get("/api/v1/credit-notes/{credit_note_id}", response_model=CreditNoteResponse, summary="Read a credit note")
def get_credit_note(credit_note_id: str, request: Request, s: Sess):
    return _view(request, credit_notes.get(s, credit_note_id))
