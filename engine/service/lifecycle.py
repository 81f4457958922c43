"""Review and lifecycle of invoices (spec sections 4 and 8): approve, hold, release, finalize, void, pay.

Each acts on a list all or nothing, in ONE transaction (a refused list changes nothing), recorded in the audit
trail under the session's actor. An invoice the caller may not see is `invoice_not_found`.
"""

from __future__ import annotations

from decimal import Decimal

import duckdb

from ..billing.approval import approve_invoices_tx, hold_invoices_tx, release_invoices_tx
from ..billing.invoice_reads import load_invoices
from ..billing.invoice_store import load_invoice
from ..billing.lifecycle import finalize_invoice_tx, finalize_invoices_tx, record_payment_tx, void_invoice_tx
from ..errors import ValidationError
from ..models import ApprovalResult, Invoice
from ..money import to_major
from . import faults, tenancy
from .credit_available import with_credit_available
from .invoices import Record, _detail
from .requests import ApproveRequest, HoldRequest, ReleaseRequest, VoidRequest, parse
from .session import Session


def _ids(invoice_ids: list[str]) -> list[str]:
    ids = list(dict.fromkeys(invoice_ids))
    if not ids:
        raise ValidationError("name at least one invoice")
    return ids


def _check(s: Session, ids: list[str]) -> None:
    with s.cursor() as cur:
        tenancy.invoices(cur, s.caller, ids)


def approve(s: Session, invoice_ids: list[str], note: str | None = None) -> ApprovalResult:
    """draft -> approved for every id; ids already approved are reported, unchanged."""
    ids = _ids(invoice_ids)
    parse(ApproveRequest, {"note": note})
    _check(s, ids)
    return s.transaction(lambda cur: approve_invoices_tx(cur, ids, actor=s.actor, note=note))


def hold(s: Session, invoice_ids: list[str], reason: str) -> list[Invoice]:
    """draft or approved -> held with the reason (required); a hold withdraws an approval."""
    ids = _ids(invoice_ids)
    parse(HoldRequest, {"reason": reason})
    _check(s, ids)

    def work(cur: duckdb.DuckDBPyConnection) -> list[Invoice]:
        hold_invoices_tx(cur, ids, reason=reason, actor=s.actor)
        return with_credit_available(cur, load_invoices(cur, ids))

    return s.transaction(work)


def release(s: Session, invoice_ids: list[str], note: str | None = None) -> list[Invoice]:
    """held -> draft (to be reviewed and approved again)."""
    ids = _ids(invoice_ids)
    parse(ReleaseRequest, {"note": note})
    _check(s, ids)

    def work(cur: duckdb.DuckDBPyConnection) -> list[Invoice]:
        release_invoices_tx(cur, ids, actor=s.actor, note=note)
        return with_credit_available(cur, load_invoices(cur, ids))

    return s.transaction(work)


def finalize(s: Session, invoice_ids: list[str]) -> list[Invoice]:
    """approved -> open, numbered per business in the order given. One id: a draft or held one is
    `invoice_not_approved` with what to do first."""
    ids = _ids(invoice_ids)
    _check(s, ids)

    def work(cur: duckdb.DuckDBPyConnection) -> list[Invoice]:
        if len(ids) == 1:
            finalize_invoice_tx(cur, ids[0], actor=s.actor)
        else:
            finalize_invoices_tx(cur, ids, actor=s.actor)
        return load_invoices(cur, ids)

    return s.transaction(work)


def void(s: Session, invoice_id: str, reason: str | None = None) -> Invoice:
    """open / partially_paid -> void (keeps its number; its cycle may be drafted again)."""
    parse(VoidRequest, {"reason": reason})
    _check(s, [invoice_id])

    def work(cur: duckdb.DuckDBPyConnection) -> Invoice:
        void_invoice_tx(cur, invoice_id, reason, actor=s.actor)
        return load_invoice(cur, invoice_id)

    return s.transaction(work)


def pay(
    s: Session,
    invoice_id: str,
    *,
    amount: Decimal | None = None,
    amount_minor: int | None = None,
    method: str = "manual",
    record: Record | None = None,
) -> Invoice:
    """Record a payment of `amount` (major units) or `amount_minor` (integer minor units), at most the balance
    due. `record` runs in the same transaction (the HTTP API's idempotent response)."""
    if (amount is None) == (amount_minor is None):
        raise ValidationError("give the payment's amount (major units) or amount_minor, not both")
    _check(s, [invoice_id])

    def work(cur: duckdb.DuckDBPyConnection) -> Invoice:
        value = amount
        if amount_minor is not None:
            currency = load_invoice(cur, invoice_id).currency
            value = to_major(amount_minor, currency)
        record_payment_tx(cur, invoice_id, value, method, actor=s.actor)
        if record is not None:
            record(cur, _detail(cur, invoice_id))
        faults.pause("record_payment:before_commit")
        return load_invoice(cur, invoice_id)

    invoice = s.transaction(work)
    faults.pause("record_payment:after_commit")
    return invoice
