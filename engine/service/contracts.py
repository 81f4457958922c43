"""A contract's cycles, and its invoice of one cycle: preview (nothing stored), draft, Zenskar generate.

Every function takes the caller's Session first; a contract the caller may not see is `contract_not_found`.
"""

from __future__ import annotations

import datetime as dt

import duckdb

from ..billing.invoices import draft_period_invoice_tx, preview_invoice
from ..models import BillingCycle, DraftResult, Invoice
from ..rating.cycles import billing_cycles
from . import tenancy
from .credit_available import invoice_with_credit_available
from .requests import ContractCyclesRequest, CyclesRequest, GenerateInvoiceRequestSchema, PeriodDateRequest, parse
from .session import Session
from .zenskar import contract_cycles, cycle_date, generate_from_fields


def cycles(s: Session, contract_id: str, from_date: dt.date, to_date: dt.date) -> list[BillingCycle]:
    """The contract's billing cycles overlapping [from_date, to_date] (spec section 2)."""
    req = parse(CyclesRequest, {"from_date": from_date, "to_date": to_date})
    with s.cursor() as cur:
        tenancy.contract(cur, s.caller, contract_id)
        return billing_cycles(cur, contract_id, req.from_date, req.to_date)


def zenskar_cycles(s: Session, contract_id: str, request: ContractCyclesRequest | dict | None = None) -> list[dict]:
    """Zenskar getContractBillingCycles: {name, start_date, end_date, bill_for_date, billing_cycle_start_day,
    period_days}, oldest first, the latest `limit` of them."""
    req = parse(ContractCyclesRequest, request or {})
    with s.cursor() as cur:
        tenancy.contract(cur, s.caller, contract_id)
        return contract_cycles(
            cur,
            contract_id,
            limit=req.limit,
            from_date=cycle_date(req.from_date, "from_date"),
            to_date=cycle_date(req.to_date, "to_date"),
        )


def _period_date(period_date: dt.date) -> dt.date:
    return parse(PeriodDateRequest, {"period_date": period_date}).period_date


def preview(s: Session, contract_id: str, period_date: dt.date) -> Invoice:
    """The invoice of the period of `period_date`, computed exactly as a draft would be; nothing stored.
    A server rates the previews asked at the same time together (each gets what it alone would)."""
    date = _period_date(period_date)
    with s.cursor() as cur:
        tenancy.contract(cur, s.caller, contract_id)
        if s.app.previews is None:
            return invoice_with_credit_available(cur, preview_invoice(cur, contract_id, date))
    invoice = s.app.previews.preview(contract_id, date)
    with s.cursor() as cur:
        return invoice_with_credit_available(cur, invoice)


def draft(s: Session, contract_id: str, period_date: dt.date) -> DraftResult:
    """Draft the invoice of the period of `period_date` (DayZero generate-period-invoices). Idempotent per
    (contract, cycle): an existing invoice of the cycle is returned with created=False, nothing changes."""
    date = _period_date(period_date)
    with s.cursor() as cur:
        tenancy.contract(cur, s.caller, contract_id)
    return s.transaction(lambda cur: _shown(cur, draft_period_invoice_tx(cur, contract_id, date, actor=s.actor)))


def generate(s: Session, request: GenerateInvoiceRequestSchema | dict) -> DraftResult:
    """Zenskar generate_invoice: the dates must be exactly one cycle of the contract (else no_matching_cycle
    naming the valid cycles); with check_duplicate_invoice (default true) an approved or finalized invoice of the
    cycle is InvoiceAlreadyGeneratedForThisBillingPeriod."""
    req = parse(GenerateInvoiceRequestSchema, request)
    with s.cursor() as cur:
        tenancy.contract(cur, s.caller, req.contract_id)
    return s.transaction(lambda cur: _shown(cur, generate_from_fields(cur, **req.model_dump(), actor=s.actor)))


def _shown(cur: duckdb.DuckDBPyConnection, result: DraftResult) -> DraftResult:
    """A draft as every answer shows it: with the customer's credit available."""
    return result.model_copy(update={"invoice": invoice_with_credit_available(cur, result.invoice)})
