"""Contract invoices: preview, draft the period's invoice, generate for an exact cycle, redraft.

All of them rate through `rating.rate_targets` (the bulk path restricted to one contract), so a
preview and the draft made from the same data are identical. Drafts are idempotent per
(contract, cycle): the primary key of invoice_cycle_claims makes a second non-void invoice for a
cycle impossible, also when several threads or runs race; the loser re-reads the winner's invoice.
"""

from __future__ import annotations

import datetime as dt

import duckdb

from ..db import retry_on_conflict
from ..errors import (
    CycleMismatchError,
    InvalidStateError,
    InvoiceAlreadyGeneratedForThisBillingPeriod,
    NotFoundError,
    NothingToBill,
    ValidationError,
)
from ..models import DraftResult, GenerateInvoiceRequest, Invoice
from ..rating.adjustments import COUPON_COLUMNS, TAX_COLUMNS, RatedAdjustments
from ..rating.cycles import billing_cycles, check_date_in_contract, check_period_date, cycle_of_date
from ..rating.pipeline import rate_targets
from ..rating.targets import targets_for_date
from ..rating.usage_aggregation import pending_usage
from ..scope import Scope
from ..statuses import GENERATED, UNDER_REVIEW
from .audit import record_events
from .invoice_store import (
    NEW_INVOICE_ID_SQL,
    TAX_ORDER,
    invoice_from_rows,
    load_invoice,
    refresh_totals,
    rows_as_dicts,
)
from .run_dates import check_cycle_dates


def _rate_one(con: duckdb.DuckDBPyConnection, contract_id: str, source: str = "main") -> RatedAdjustments:
    """rate_targets for one contract's target, with a rating failure (an amount beyond exact 128-bit
    arithmetic) turned into a typed error naming the contract."""
    try:
        return rate_targets(con, source, contract_ids=[contract_id])
    except (duckdb.OutOfRangeException, duckdb.ConversionException) as exc:
        raise ValidationError(f"contract {contract_id} cannot be rated: {str(exc).splitlines()[0]}") from None


def persist_rated(
    con: duckdb.DuckDBPyConnection,
    rated: RatedAdjustments,
    *,
    run_id: str | None = None,
    invoice_id: str | None = None,
) -> int:
    """Store `_rated_invoices`/`_rated_lines` and the taxes and coupons of `rated` (what rate_targets returned)
    as draft invoices (caller holds the transaction).

    `invoice_id` fixes the id of a single redrafted invoice; `run_id` marks the run that drafted them
    (callers read a run's drafts back by it). Returns the number of invoices stored."""
    id_sql = "?" if invoice_id else NEW_INVOICE_ID_SQL
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _new_ids AS
                    SELECT contract_id, period_start, {id_sql} AS invoice_id FROM _rated_invoices""",  # noqa: S608 (conditions and subqueries built by the engine with ? placeholders; values bound)
        [invoice_id] if invoice_id else [],
    )
    con.execute("""INSERT INTO invoice_cycle_claims (contract_id, period_start, invoice_id)
                   SELECT contract_id, period_start, invoice_id FROM _new_ids""")
    con.execute(
        """INSERT INTO invoices (invoice_id, business_id, customer_id, contract_id, status, currency,
               period_start, period_end, bill_for_date, due_date, period_days, tax_rate,
               subtotal_minor, discount_minor, tax_minor, total_minor, total_paid_minor, run_id, created_at)
           SELECT n.invoice_id, r.business_id, r.customer_id, r.contract_id, 'draft', r.currency,
               r.period_start, r.period_end, r.bill_for_date, r.due_date, r.period_days, r.tax_rate,
               r.subtotal_minor, r.discount_minor, r.tax_minor, r.total_minor, 0, ?, current_timestamp
           FROM _rated_invoices r JOIN _new_ids n USING (contract_id, period_start)""",
        [run_id],
    )
    con.execute(
        """INSERT INTO invoice_lines (invoice_id, line_no, line_id, kind, product, description, quantity,
               unit_price, active_days, period_days, amount_minor, period_start, period_end, charge_id,
               breakdown, discount_minor, tax_codes)
           SELECT n.invoice_id, l.line_no, l.line_id, l.kind, l.product, l.description, l.quantity,
               l.unit_price, l.active_days, l.period_days, l.amount_minor, l.line_start, l.line_end, NULL,
               l.breakdown, l.discount_minor, l.tax_codes
           FROM _rated_lines l JOIN _new_ids n USING (contract_id, period_start)"""
    )
    con.execute(
        f"""INSERT INTO invoice_taxes (invoice_id, {TAX_COLUMNS})
            SELECT n.invoice_id, {TAX_COLUMNS}
            FROM ({rated.taxes_sql}) JOIN _new_ids n USING (contract_id, period_start)"""  # noqa: S608 (SQL built by the engine from its own names)
    )
    con.execute(
        f"""INSERT INTO invoice_coupons (invoice_id, {COUPON_COLUMNS})
            SELECT n.invoice_id, {COUPON_COLUMNS}
            FROM ({rated.coupons_sql}) JOIN _new_ids n USING (contract_id, period_start)"""  # noqa: S608 (SQL built by the engine from its own names)
    )
    return con.execute("SELECT count(*) FROM _new_ids").fetchone()[0]


def record_drafted(con: duckdb.DuckDBPyConnection, ids_sql: str, params: list, actor: str | None) -> int:
    """`drafted` events for the new drafts whose ids `ids_sql` selects (caller's transaction), each with
    its total and the delayed charges swept onto it: one INSERT for a whole run."""
    return record_events(
        con,
        action="drafted",
        actor=actor,
        from_sql=f"""SELECT i.invoice_id, NULL AS status_before, 'draft' AS status_after,
                            json_object('total_minor', i.total_minor, 'currency', i.currency,
                                        'run_id', i.run_id, 'delayed_charges', coalesce(s.n, 0))::VARCHAR AS changes
                     FROM invoices i
                     LEFT JOIN (SELECT invoice_id, count(*) AS n FROM delayed_charge_sweeps
                                WHERE invoice_id IN ({ids_sql}) GROUP BY ALL) s USING (invoice_id)
                     WHERE i.invoice_id IN ({ids_sql})
                     ORDER BY i.contract_id, i.period_start""",  # noqa: S608 (conditions and subqueries built by the engine with ? placeholders; values bound)
        params=[*params, *params],
    )


def _claim(con: duckdb.DuckDBPyConnection, contract_id: str, period_start: dt.date) -> str | None:
    row = con.execute(
        "SELECT invoice_id FROM invoice_cycle_claims WHERE contract_id = ? AND period_start = ?",
        [contract_id, period_start],
    ).fetchone()
    return row[0] if row else None


def rated_adjustments(con: duckdb.DuckDBPyConnection, rated: RatedAdjustments) -> tuple[dict, dict]:
    """The rated invoices' taxes (by code) and coupons (in order) as rows, by contract (a preview's targets
    are one cycle per contract)."""
    taxes: dict[str, list[dict]] = {}
    for row in rows_as_dicts(con.execute(f"SELECT * FROM ({rated.taxes_sql}) ORDER BY contract_id, {TAX_ORDER}")):  # noqa: S608 (SQL built by the engine from its own names)
        taxes.setdefault(row["contract_id"], []).append(row)
    coupons: dict[str, list[dict]] = {}
    for row in rows_as_dicts(con.execute(f"SELECT * FROM ({rated.coupons_sql}) ORDER BY contract_id, position")):  # noqa: S608 (SQL built by the engine from its own names)
        coupons.setdefault(row["contract_id"], []).append(row)
    return taxes, coupons


def _rated_preview(con: duckdb.DuckDBPyConnection, contract_id: str, src: str, rated: RatedAdjustments) -> Invoice:
    heads = rows_as_dicts(con.execute("SELECT *, 'preview' AS status FROM _rated_invoices"))
    if not heads:
        cycle = con.execute("SELECT period_start, period_end FROM _targets").fetchone()
        raise NothingToBill(f"contract {contract_id} has nothing to bill in the cycle {cycle[0]} – {cycle[1]}")
    lines = rows_as_dicts(
        con.execute("SELECT *, line_start AS period_start, line_end AS period_end FROM _rated_lines ORDER BY line_no")
    )
    head = heads[0]
    pending = pending_usage(con, contract_id, head["period_start"], head["period_end"], src)
    taxes, coupons = rated_adjustments(con, rated)
    return invoice_from_rows(head, lines, pending, taxes.get(contract_id), coupons.get(contract_id))


def preview_invoice(
    con: duckdb.DuckDBPyConnection, contract_id: str, period_date: dt.date, source: str = "main"
) -> Invoice:
    """The invoice of the period of `period_date`, computed exactly as a draft would be; nothing stored.

    An unknown contract or a date outside it is told by the empty target (checked only then: DuckDB
    plans every statement afresh, and a preview is a handful of statements)."""
    check_period_date(period_date)
    if targets_for_date(con, period_date, Scope.of([contract_id]), source=source) == 0:
        check_date_in_contract(con, contract_id, period_date, source)  # raises: which of the two it is
        raise NotFoundError(f"contract {contract_id} has no cycle on {period_date}")  # not reached
    rated = _rate_one(con, contract_id, source)
    return _rated_preview(con, contract_id, source, rated)


def draft_period_invoice_tx(
    con: duckdb.DuckDBPyConnection,
    contract_id: str,
    period_date: dt.date,
    *,
    check_duplicate: bool = False,
    actor: str | None = None,
) -> DraftResult:
    """`draft_period_invoice` in the caller's transaction. With `check_duplicate`, an existing invoice of the
    cycle that is approved or finalized is InvoiceAlreadyGeneratedForThisBillingPeriod (Zenskar)."""
    cycle = cycle_of_date(con, contract_id, period_date)
    existing = _claim(con, contract_id, cycle.start_date)
    if existing is not None:
        if check_duplicate:
            status = con.execute("SELECT status FROM invoices WHERE invoice_id = ?", [existing]).fetchone()[0]
            if status in GENERATED:
                raise InvoiceAlreadyGeneratedForThisBillingPeriod(
                    f"contract {contract_id} already has invoice {existing} ({status}) for the cycle "
                    f"{cycle.start_date} – {cycle.end_date}"
                )
        return DraftResult(created=False, invoice=load_invoice(con, existing))
    check_cycle_dates(cycle)  # a new draft carries no date beyond the bound (run_dates.py)
    targets_for_date(con, period_date, Scope.of([contract_id]))
    rated = _rate_one(con, contract_id)
    if persist_rated(con, rated) == 0:
        raise NothingToBill(
            f"contract {contract_id} has nothing to bill in the cycle {cycle.start_date} – {cycle.end_date}"
        )
    new_id = _claim(con, contract_id, cycle.start_date)
    record_drafted(con, "SELECT invoice_id FROM _new_ids", [], actor)
    return DraftResult(created=True, invoice=load_invoice(con, new_id))


def draft_period_invoice(
    con: duckdb.DuckDBPyConnection, contract_id: str, period_date: dt.date, *, actor: str | None = None
) -> DraftResult:
    """Draft the invoice of the period of a date (DayZero generate-period-invoices); idempotent:
    an existing non-void invoice for the cycle is returned with created=False, nothing changes."""
    # After a write conflict the retry sees the winner's invoice and returns it.
    return retry_on_conflict(con, lambda c: draft_period_invoice_tx(c, contract_id, period_date, actor=actor))


def _nearest_cycles_text(con, contract_id: str, near: dt.date) -> str:
    window = billing_cycles(con, contract_id, near - dt.timedelta(days=800), near + dt.timedelta(days=800))
    best = sorted(window, key=lambda c: abs((c.start_date - near).days))[:2]
    if not best:
        return "the contract has no cycle near that date"
    return "; ".join(
        f"from_date={c.start_date} to_date={c.end_date} bill_for_date={c.bill_for_date} "
        f"billing_cycle_start_day={c.billing_cycle_start_day}"
        for c in sorted(best, key=lambda c: c.start_date)
    )


def generate_invoice_tx(
    con: duckdb.DuckDBPyConnection, req: GenerateInvoiceRequest, *, actor: str | None = None
) -> DraftResult:
    """`generate_invoice` in the caller's transaction."""
    owner = con.execute("SELECT customer_id FROM contracts WHERE contract_id = ?", [req.contract_id]).fetchone()
    if owner is None:
        raise NotFoundError(f"unknown contract {req.contract_id!r}")
    if owner[0] != req.customer_id:
        raise ValidationError(f"customer {req.customer_id} does not own contract {req.contract_id}")
    matches = [
        c
        for c in billing_cycles(con, req.contract_id, req.from_date, req.to_date)
        if (c.start_date, c.end_date, c.bill_for_date) == (req.from_date, req.to_date, req.bill_for_date)
        and req.billing_cycle_start_day in (None, c.billing_cycle_start_day)
    ]
    if not matches:
        asked = f"from_date={req.from_date} to_date={req.to_date} bill_for_date={req.bill_for_date}"
        if req.billing_cycle_start_day is not None:
            asked += f" billing_cycle_start_day={req.billing_cycle_start_day}"
        raise CycleMismatchError(
            f"{asked} is not a billing cycle of contract {req.contract_id}; nearest valid cycles: "
            f"{_nearest_cycles_text(con, req.contract_id, req.from_date)}"
        )
    return draft_period_invoice_tx(
        con, req.contract_id, req.from_date, check_duplicate=req.check_duplicate_invoice, actor=actor
    )


def generate_invoice(
    con: duckdb.DuckDBPyConnection, req: GenerateInvoiceRequest, *, actor: str | None = None
) -> DraftResult:
    """Zenskar generate_invoice: the request's dates must be exactly one listed cycle of the contract.
    With check_duplicate_invoice, the cycle's invoice being approved or finalized is the error
    InvoiceAlreadyGeneratedForThisBillingPeriod; a draft or held one is returned (created = False)."""
    return retry_on_conflict(con, lambda c: generate_invoice_tx(c, req, actor=actor))


def redraft_invoice_tx(con: duckdb.DuckDBPyConnection, invoice_id: str, *, actor: str | None = None) -> None:
    """`redraft_invoice` in the caller's transaction."""
    head = con.execute(
        "SELECT status, contract_id, period_start, run_id, total_minor FROM invoices WHERE invoice_id = ?",
        [invoice_id],
    ).fetchone()
    if head is None:
        raise NotFoundError(f"no invoice {invoice_id!r}")
    status, contract_id, period_start, run_id, total_before = head
    if status not in UNDER_REVIEW:
        raise InvalidStateError(
            f"invoice {invoice_id} is {status}: only drafts under review (draft, approved, held) can be redrafted"
        )
    if contract_id is None:
        raise InvalidStateError(f"invoice {invoice_id} is a manual invoice: nothing to re-rate")
    con.execute(
        """CREATE OR REPLACE TEMP TABLE _kept_charges AS
                   SELECT * FROM invoice_lines WHERE invoice_id = ? AND kind = 'delayed_charge'""",
        [invoice_id],
    )
    for table in ("invoice_lines", "invoice_taxes", "invoice_coupons", "invoice_cycle_claims", "invoices"):
        con.execute(f"DELETE FROM {table} WHERE invoice_id = ?", [invoice_id])  # noqa: S608 (table names from the engine's allow-lists (schema.INPUT_TABLES, import_rules.TABLES); values bound)
    targets_for_date(con, period_start, Scope.of([contract_id]))
    rated = _rate_one(con, contract_id)
    if persist_rated(con, rated, run_id=run_id, invoice_id=invoice_id) == 0:
        raise NothingToBill(
            f"contract {contract_id} has nothing to bill any more in the cycle of "
            f"{period_start}; the draft is left as it was"
        )
    con.execute(
        """INSERT INTO invoice_lines
                   SELECT * REPLACE ((SELECT max(line_no) FROM invoice_lines WHERE invoice_id = ?)
                                     + row_number() OVER (ORDER BY line_no) AS line_no)
                   FROM _kept_charges""",
        [invoice_id],
    )
    refresh_totals(con, invoice_ids=[invoice_id])
    record_events(
        con,
        action="redrafted",
        actor=actor,
        from_sql="""SELECT invoice_id, ? AS status_before, status AS status_after,
                           json_object('total_minor_before', ?::BIGINT,
                                       'total_minor', total_minor)::VARCHAR AS changes
                    FROM invoices WHERE invoice_id = ?""",
        params=[status, total_before, invoice_id],
    )


def redraft_invoice(con: duckdb.DuckDBPyConnection, invoice_id: str, *, actor: str | None = None) -> Invoice:
    """Replace a draft contract invoice by a fresh rating of its cycle, atomically, keeping its id and
    its swept delayed charges. Finalized invoices cannot be redrafted. An approved or held invoice
    becomes a plain draft (its figures changed: the approval no longer covers them; the hold reason
    stays in the audit trail)."""
    retry_on_conflict(con, lambda c: redraft_invoice_tx(c, invoice_id, actor=actor))
    return load_invoice(con, invoice_id)
