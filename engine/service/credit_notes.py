"""Credit notes and customer credit (spec section 12): estimate, issue, list, read and render credit notes of
finalized invoices; the customers' credit balances.

Tenancy as for invoices: an invoice (or a credit note, a customer) the caller may not see is not found, exactly as
if it did not exist. Issuing is ONE transaction (the note, its invoice's totals, the customer's credit, the audit
event, and with `record` the HTTP API's stored answer); a refused request writes nothing.
"""

from __future__ import annotations

from collections.abc import Callable

import duckdb

from ..billing.credit_notes import (
    create_credit_note_tx,
    credit_available_minor,
    credit_balances,
    credit_note_business,
    estimate_credit_note,
    find_credit_notes,
    load_credit_note,
    load_credit_notes,
)
from ..errors import NotFoundError
from ..io.documents import check_format, credit_note_document_html
from ..models import CREDIT_NOTE_REASONS, CreditNote, CreditNoteEstimate, CustomerCredit
from . import faults, tenancy
from .requests import CreditNoteEstimateRequest, CreditNoteRequest, Id, ListCreditNotesRequest, Request, parse
from .results import CreditNotePage
from .session import Session

REASONS = CREDIT_NOTE_REASONS  # why a note is issued (spec section 12)

# Runs in the issue's own transaction, after its effect (the HTTP API stores its idempotent answer there).
RecordNote = Callable[[duckdb.DuckDBPyConnection, CreditNote], None]


def estimate(
    s: Session, invoice_id: str, request: CreditNoteEstimateRequest | dict | None = None
) -> CreditNoteEstimate:
    """What the invoice can still be credited (each line, the most to offset and to refund); with items (or all),
    also the note they would make: its tax, total and split. Changes nothing."""
    req = parse(CreditNoteEstimateRequest, request or {})
    with s.cursor() as cur:
        tenancy.invoices(cur, s.caller, [invoice_id])
        return estimate_credit_note(
            cur,
            invoice_id,
            items=req.lines(),
            everything=req.all,
            refund=req.refund,
            credit=req.credit,
            offset=req.offset,
        )


def create(
    s: Session, invoice_id: str, request: CreditNoteRequest | dict, *, record: RecordNote | None = None
) -> CreditNote:
    """Issue a credit note of a finalized, non-void invoice, all or nothing (a refusal names the limit)."""
    req = parse(CreditNoteRequest, request)
    with s.cursor() as cur:
        tenancy.invoices(cur, s.caller, [invoice_id])

    def work(cur: duckdb.DuckDBPyConnection) -> CreditNote:
        credit_note_id = create_credit_note_tx(
            cur,
            invoice_id,
            reason=req.reason,
            items=req.lines(),
            everything=req.all,
            refund=req.refund,
            credit=req.credit,
            offset=req.offset,
            note=req.note,
            actor=s.actor,
        )
        note = load_credit_note(cur, credit_note_id)
        if record is not None:
            record(cur, note)
        faults.pause("create_credit_note:before_commit")
        return note

    note = s.transaction(work)
    faults.pause("create_credit_note:after_commit")
    return note


def list_page(s: Session, request: ListCreditNotesRequest | dict | None = None) -> CreditNotePage:
    """The caller's credit notes (of one invoice or customer, when given), newest first, one page."""
    req = parse(ListCreditNotesRequest, request or {})
    with s.cursor() as cur:
        if req.invoice_id is not None:
            tenancy.invoices(cur, s.caller, [req.invoice_id])
        if req.customer_id is not None:
            tenancy.customer(cur, s.caller, req.customer_id)
        ids, total = find_credit_notes(
            cur,
            s.caller.business_id,
            invoice_id=req.invoice_id,
            customer_id=req.customer_id,
            limit=req.limit,
            offset=req.offset,
        )
        return CreditNotePage(credit_notes=load_credit_notes(cur, ids), total=total, limit=req.limit, offset=req.offset)


def of_invoice(s: Session, invoice_id: str) -> list[CreditNote]:
    """Every credit note of an invoice, in the order they were issued."""
    page = list_page(s, {"invoice_id": invoice_id, "limit": 500})
    return sorted(page.credit_notes, key=lambda n: n.sequence)


def _visible(cur: duckdb.DuckDBPyConnection, s: Session, credit_note_id: str) -> None:
    business = credit_note_business(cur, credit_note_id)
    if business is None or not s.caller.sees(business):
        raise NotFoundError.of("credit_note", credit_note_id)


def resolve(s: Session, ref: str) -> str:
    """The id of the credit note `ref` names, by its id or its number (tenancy.credit_note_ref). The command line
    takes either; the operations take ids."""
    with s.cursor() as cur:
        return tenancy.credit_note_ref(cur, s.caller, ref)


def get(s: Session, credit_note_id: str) -> CreditNote:
    with s.cursor() as cur:
        _visible(cur, s, credit_note_id)
        return load_credit_note(cur, credit_note_id)


def document(s: Session, credit_note_id: str, fmt: str) -> str | bytes:
    """The credit note as its customer sees it (headed CREDIT NOTE, naming the invoice it corrects): HTML or PDF."""
    check_format(fmt)
    with s.cursor() as cur:
        _visible(cur, s, credit_note_id)
        html = credit_note_document_html(cur, load_credit_note(cur, credit_note_id))
    return s.app.printer.pdf(html) if fmt == "pdf" else html  # printed with the database free


class BalancesRequest(Request):
    customer_id: Id | None = None


def balances(s: Session, customer_id: str | None = None) -> list[CustomerCredit]:
    """The customers' credit per currency (balances above 0) of the caller's business (a local caller: every
    business); of one customer when given."""
    parse(BalancesRequest, {"customer_id": customer_id})
    with s.cursor() as cur:
        if customer_id is not None:
            tenancy.customer(cur, s.caller, customer_id)
        return credit_balances(cur, s.caller.business_id, customer_id=customer_id)


def credit_available(s: Session, customer_id: str, currency: str) -> int:
    """The customer's credit in `currency` now, in minor units: what its next invoice in that currency takes when
    it is finalized (a draft or a preview shows it beside its total)."""
    with s.cursor() as cur:
        tenancy.customer(cur, s.caller, customer_id)
        return credit_available_minor(cur, customer_id, currency)
