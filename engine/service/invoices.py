"""Invoices: made by hand (DayZero create and batch), read one or a page, redrafted, deleted (a draft), rendered.

Every function takes the caller's Session first; an invoice or customer the caller may not see is
`invoice_not_found` / `customer_not_found`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import duckdb

from ..access import idempotency_store
from ..billing.audit import invoice_events
from ..billing.invoice_reads import find_invoices, invoice_extras, load_invoices
from ..billing.invoice_store import load_invoice
from ..billing.invoices import preview_invoice, redraft_invoice_tx
from ..billing.lifecycle import delete_draft_tx
from ..billing.manual_invoices import batch_create, create_invoice_tx
from ..errors import BillsimError, NotFoundError
from ..io.documents import check_format, document_html
from ..models import Invoice, ManualBatchItem, ManualBatchRequest, ManualBatchResult
from ..utc_time import as_utc
from . import faults, idempotency, tenancy
from .credit_available import invoice_with_credit_available, with_credit_available
from .requests import BatchInvoiceRequest, InvoiceCreateRequest, ListInvoicesRequest, parse
from .results import DeletedInvoice, InvoiceDetail, InvoicePage, Payment
from .seed_bodies import create_request
from .session import Session

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)  # an invoice stored without its creation time (older data)

# Runs in the operation's own transaction, after its effect (the HTTP API stores its idempotent response there).
Record = Callable[[duckdb.DuckDBPyConnection, InvoiceDetail], None]


def details(cur: duckdb.DuckDBPyConnection, invoice_ids: list[str]) -> list[InvoiceDetail]:
    """The invoices with their customer, payments and last change, in a constant number of queries."""
    found = with_credit_available(cur, load_invoices(cur, invoice_ids))
    extras = invoice_extras(cur, [i.invoice_id for i in found])
    out = []
    for inv in found:
        extra = extras[inv.invoice_id]
        created = inv.created_at or EPOCH
        last = extra["last_change"] and as_utc(extra["last_change"])
        out.append(
            InvoiceDetail(
                invoice=inv,
                customer_name=extra["customer_name"],
                customer_email=extra["customer_email"],
                payments=[Payment(**p) for p in extra["payments"]],
                updated_at=max(created, last) if last else created,
            )
        )
    return out


def _detail(cur: duckdb.DuckDBPyConnection, invoice_id: str) -> InvoiceDetail:
    found = details(cur, [invoice_id])
    if not found:
        raise NotFoundError.of("invoice", invoice_id)
    full = invoice_with_credit_available(cur, load_invoice(cur, invoice_id))  # with its cycle's pending usage
    return found[0].model_copy(update={"invoice": full})


def resolve(s: Session, refs: list[str]) -> list[str]:
    """The ids of the invoices `refs` name, each by its id or its number (`N-2026-000001`), in order, among those
    the caller may see (tenancy.invoice_ref); the command line takes either. The operations take ids."""
    with s.cursor() as cur:
        return [tenancy.invoice_ref(cur, s.caller, ref) for ref in refs]


def get(s: Session, invoice_id: str) -> InvoiceDetail:
    with s.cursor() as cur:
        tenancy.invoices(cur, s.caller, [invoice_id])
        return _detail(cur, invoice_id)


def get_invoice(s: Session, invoice_id: str) -> Invoice:
    return get(s, invoice_id).invoice


def list_page(s: Session, request: ListInvoicesRequest | dict | None = None) -> InvoicePage:
    """The caller's invoices matching every filter given, newest first, one page (a constant number of queries)."""
    req = parse(ListInvoicesRequest, request or {})
    with s.cursor() as cur:
        ids, total = find_invoices(
            cur,
            s.caller.business_id,
            status=req.status,
            customer_id=req.customer_id,
            contract_id=req.contract_id,
            run_id=req.run_id,
            period_date=req.period_date,
            limit=req.limit,
            offset=req.offset,
        )
        return InvoicePage(invoices=details(cur, ids), total=total, limit=req.limit, offset=req.offset)


CREATE_ADDRESS = ("POST", "/api/v1/invoices")  # create invoice's address in the key store (every front end)


def create(
    s: Session,
    request: InvoiceCreateRequest | dict,
    *,
    idempotency_key: str | None = None,
) -> InvoiceDetail:
    """DayZero POST /invoices: a draft of custom lines (money in minor units), all or nothing. With `recurring`,
    also a template that drafts it every period. An `idempotency_key` (per business, shared by every front end)
    replays the first call's answer: see `create_once`."""
    return create_once(s, request, idempotency_key=idempotency_key).value


def create_once(
    s: Session, request: InvoiceCreateRequest | dict, *, idempotency_key: str | None = None
) -> idempotency.Once[InvoiceDetail]:
    """`create`, telling whether the answer is the replay of an earlier call with the same key and request
    (service/idempotency.py: the one rule of the HTTP API, the CLI and MCP). A request that does not parse is
    refused before the key is claimed; the key is the business of the customer's (the caller's, for a token)."""
    req = parse(InvoiceCreateRequest, request)
    if idempotency_key is None:
        return idempotency.Once(_create(s, req, None))
    idempotency.check_key(idempotency_key)
    business = s.caller.business_id
    if business is None:  # a local user: the key belongs to the business of the customer invoiced
        with s.cursor() as cur:
            business = tenancy.customer(cur, s.caller, req.customer_id)
    return idempotency.run_once(
        s.app,
        business,
        idempotency_key,
        CREATE_ADDRESS,
        req.model_dump(mode="json"),
        lambda record: _create(s, req, record),
        status=201,
        dump=lambda d: d.model_dump_json(),
        load=InvoiceDetail.model_validate_json,
    )


def _create(s: Session, req: InvoiceCreateRequest, record: Record | None) -> InvoiceDetail:
    engine_req = create_request(req.model_dump(mode="json", exclude_none=True))
    with s.cursor() as cur:
        tenancy.customer(cur, s.caller, req.customer_id)

    def work(cur: duckdb.DuckDBPyConnection) -> InvoiceDetail:
        invoice_id, _ = create_invoice_tx(cur, engine_req, actor=s.actor)
        detail = _detail(cur, invoice_id)
        if record is not None:
            record(cur, detail)
        faults.pause("create_invoice:before_commit")
        return detail

    detail = s.transaction(work)
    faults.pause("create_invoice:after_commit")
    return detail


def estimate(s: Session, request: InvoiceCreateRequest | dict) -> Invoice:
    """The draft `create` would make (lines, subtotal, the customer's tax, total), checked the same way, with
    nothing stored: made in a transaction that is rolled back (no number, no template, no audit event kept)."""
    req = parse(InvoiceCreateRequest, request)
    engine_req = create_request(req.model_dump(mode="json", exclude_none=True))
    with s.cursor() as cur:
        tenancy.customer(cur, s.caller, req.customer_id)
        cur.execute("BEGIN TRANSACTION")
        try:
            invoice_id, _ = create_invoice_tx(cur, engine_req, actor=s.actor)
            return invoice_with_credit_available(cur, load_invoice(cur, invoice_id))
        finally:
            cur.execute("ROLLBACK")


def batch(s: Session, request: BatchInvoiceRequest | dict) -> tuple[ManualBatchResult, dict[str, InvoiceDetail]]:
    """DayZero POST /invoices/batch: each item succeeds or fails on its own (committed one by one), with its code.
    Returns the result and the detail of every invoice in it (by id)."""
    req = parse(BatchInvoiceRequest, request)
    errors: dict[int, BillsimError] = {}
    engine_items = []
    with s.cursor() as cur:
        visible = tenancy.visible_customers(cur, s.caller, [i.customer_id for i in req.items])
    for index, item in enumerate(req.items):
        if item.customer_id not in visible:
            errors[index] = NotFoundError.of("customer", item.customer_id)
            continue
        try:
            engine_items.append((index, create_request(item.model_dump(mode="json", exclude_none=True))))
        except BillsimError as exc:
            errors[index] = exc
    done: dict[int, ManualBatchItem] = {}
    if engine_items:
        engine_req = ManualBatchRequest(
            items=[r for _, r in engine_items],
            include_delayed_charges=req.include_delayed_charges,
            finalize=req.finalize,
        )
        with s.cursor() as cur:
            result = batch_create(cur, engine_req, actor=s.actor)
        done = {engine_items[r.index][0]: r for r in result.results}
    results = []
    for index in range(len(req.items)):
        if index in errors:
            exc = errors[index]
            results.append(ManualBatchItem(index=index, ok=False, code=exc.code, error=str(exc)))
            continue
        results.append(done[index].model_copy(update={"index": index}))
    ok = sum(r.ok for r in results)
    with s.cursor() as cur:
        found = details(cur, [r.invoice.invoice_id for r in results if r.invoice is not None])
    return (
        ManualBatchResult(results=results, created=ok, failed=len(results) - ok),
        {d.invoice.invoice_id: d for d in found},
    )


def redraft(s: Session, invoice_id: str) -> Invoice:
    """Re-rate a draft after its data changed (same id; an approved or held one becomes a plain draft)."""
    with s.cursor() as cur:
        tenancy.invoices(cur, s.caller, [invoice_id])

    def work(cur: duckdb.DuckDBPyConnection) -> Invoice:
        redraft_invoice_tx(cur, invoice_id, actor=s.actor)
        return invoice_with_credit_available(cur, load_invoice(cur, invoice_id))

    return s.transaction(work)


def delete(s: Session, invoice_id: str) -> DeletedInvoice:
    """Delete an invoice not finalized yet (draft, approved or held), in one transaction: its lines and cycle claim
    go (the cycle may be drafted again), its swept delayed charges are pending again, a `deleted` event is kept.
    A finalized invoice is `invalid_state` (it never changes); one deleted already, or another business's, is
    `invoice_not_found`."""
    with s.cursor() as cur:
        tenancy.invoices(cur, s.caller, [invoice_id])

    def work(cur: duckdb.DuckDBPyConnection) -> DeletedInvoice:
        inv = load_invoices(cur, [invoice_id])
        if not inv:  # deleted since the check above
            raise NotFoundError.of("invoice", invoice_id)
        released = delete_draft_tx(cur, invoice_id, actor=s.actor)
        idempotency_store.forget_invoice_in(cur, CREATE_ADDRESS[1], invoice_id)  # its key may create anew
        return DeletedInvoice(
            invoice_id=invoice_id,
            status_before=inv[0].status,
            customer_id=inv[0].customer_id,
            contract_id=inv[0].contract_id,
            period_start=inv[0].period_start,
            released_delayed_charges=released,
        )

    return s.transaction(work)


def history(s: Session, invoice_id: str) -> list[dict]:
    """The invoice's audit events, oldest first."""
    with s.cursor() as cur:
        tenancy.invoices(cur, s.caller, [invoice_id])
        return invoice_events(cur, invoice_id)


def document(s: Session, invoice_id: str, fmt: str) -> str | bytes:
    """The invoice as its customer sees it: HTML text or PDF bytes (DRAFT mark until finalized, VOID when void)."""
    check_format(fmt)
    with s.cursor() as cur:
        tenancy.invoices(cur, s.caller, [invoice_id])
        html = document_html(cur, invoice_with_credit_available(cur, load_invoice(cur, invoice_id)))
    return s.app.printer.pdf(html) if fmt == "pdf" else html  # printed with the database free


def preview_document(s: Session, contract_id: str, period_date: dt.date, fmt: str) -> str | bytes:
    """The document of the invoice a draft of the period of `period_date` would be (DRAFT mark)."""
    check_format(fmt)
    with s.cursor() as cur:
        tenancy.contract(cur, s.caller, contract_id)
        html = document_html(cur, invoice_with_credit_available(cur, preview_invoice(cur, contract_id, period_date)))
    return s.app.printer.pdf(html) if fmt == "pdf" else html
