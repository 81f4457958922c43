"""Review before approval: the drafts of a run (or of a period) with their flags, and the cycles of that
scope that were never billed; the unflagged drafts of a run, and approving them in one step.

Scope: `run_id` = the drafts under review carrying the run's id, with the run's date and scope for the
unbilled cycles; `period_date` = every contract draft under review whose cycle contains the date, with
every contract for the unbilled cycles.
"""

from __future__ import annotations

import datetime as dt
import json

import duckdb

from ..billing.approval import approve_invoices_tx
from ..db import retry_on_conflict, transaction
from ..errors import NotFoundError, ValidationError
from ..gc_pause import cyclic_gc_paused
from ..models import ApprovalResult, ReviewResult, ReviewRow
from ..money import to_major
from .flags import FLAGS, READ_COLUMNS, any_flag_sql, change_percent, check_flags, compute_review, flags_of
from .thresholds import get_thresholds
from .unbilled import UNBILLED_LISTED, unbilled_cycles


def _scope(con, run_id: str | None, period_date: dt.date | None) -> tuple[str, list, dt.date, dict]:
    """(WHERE fragment over invoices `i`, its parameters, the date, the contract scope of unbilled cycles)."""
    if (run_id is None) == (period_date is None):
        raise ValidationError("review needs either a run id or a period date (not both)")
    if run_id is not None:
        row = con.execute("SELECT period_date, scope FROM bill_runs WHERE run_id = ?", [run_id]).fetchone()
        if row is None:
            raise NotFoundError(f"no bill run {run_id!r}")
        stored = json.loads(row[1])
        scope = {k: stored.get(k) for k in ("contract_ids", "customer_ids", "business_id")}
        return "i.run_id = ?", [run_id], row[0], scope
    return "i.period_start <= ? AND i.period_end >= ?", [period_date, period_date], period_date, {}


def review(
    con: duckdb.DuckDBPyConnection,
    *,
    run_id: str | None = None,
    period_date: dt.date | None = None,
    flags: list[str] | None = None,
    unbilled_limit: int | None = UNBILLED_LISTED,
) -> ReviewResult:
    """Every draft under review in scope, with its flags (only those having any of `flags`, when given),
    ordered by contract and period; the count of drafts per flag; the unbilled cycles of the scope."""
    wanted = check_flags(flags)
    with transaction(con):  # one snapshot: the drafts, their previous invoices and the unbilled cycles agree
        where, params, date, scope = _scope(con, run_id, period_date)
        compute_review(con, where, params)
        counts_sql = ", ".join(f"count(*) FILTER (WHERE f_{f})" for f in FLAGS)
        counts = dict(zip(FLAGS, con.execute(f"SELECT {counts_sql} FROM _review").fetchone(), strict=True))  # noqa: S608 (conditions and subqueries built by the engine with ? placeholders; values bound)
        filt = any_flag_sql(wanted) if wanted else "TRUE"
        cur = con.execute(
            f"SELECT {READ_COLUMNS} FROM _review WHERE {filt} ORDER BY contract_id, period_start, invoice_id"  # noqa: S608 (column names from the engine's allow-lists; values bound)
        )
        cols = [c[0] for c in cur.description]
        rows = [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]
        limits = {b: get_thresholds(con, b) for b in {r["business_id"] for r in rows}}
        unbilled, unbilled_count = unbilled_cycles(con, date, limit=unbilled_limit, **scope)
    with cyclic_gc_paused():  # hundreds of thousands of small acyclic objects (see engine/gc_pause.py)
        drafts = _rows(rows, limits)
    return ReviewResult(
        run_id=run_id,
        period_date=date,
        drafts=drafts,
        flag_counts={k: int(v) for k, v in counts.items()},
        unbilled_cycles=unbilled,
        unbilled_cycles_count=unbilled_count,
    )


def _rows(rows: list[dict], limits: dict) -> list[ReviewRow]:
    """ReviewRow of each row of _review (READ_COLUMNS); `limits` = the thresholds of each business."""
    drafts = []
    for r in rows:
        c = r["currency"]
        prev = r["prev_total_minor"]
        change = None if prev is None else r["total_minor"] - prev
        drafts.append(
            ReviewRow.model_construct(
                invoice_id=r["invoice_id"],
                contract_id=r["contract_id"],
                customer_id=r["customer_id"],
                customer_name=r["customer_name"],
                business_id=r["business_id"],
                currency=c,
                status=r["status"],
                period_start=r["period_start"],
                period_end=r["period_end"],
                total=to_major(r["total_minor"], c),
                previous_invoice_id=r["prev_id"],
                previous_total=None if prev is None else to_major(prev, c),
                change=None if change is None else to_major(change, c),
                change_percent=None if change is None else change_percent(change, prev),
                flags=flags_of(r, limits[r["business_id"]]),
            )
        )
    return drafts


def unflagged_draft_ids(con: duckdb.DuckDBPyConnection, run_id: str) -> list[str]:
    """The run's drafts (status draft: not approved yet, not held) that have no flag at all, in contract order.
    The caller holds the transaction, so the selection and what is done with it see one snapshot."""
    where, params, _, _ = _scope(con, run_id, None)
    compute_review(con, where, params)
    return [
        r[0]
        for r in con.execute(
            f"SELECT invoice_id FROM _review WHERE status = 'draft' AND NOT {any_flag_sql()} "  # noqa: S608 (SQL expressions built by the engine from its own column names and constants; values bound)
            "ORDER BY contract_id, period_start, invoice_id"
        ).fetchall()
    ]


def approve_unflagged(
    con: duckdb.DuckDBPyConnection, run_id: str, *, actor: str | None = None, note: str | None = None
) -> ApprovalResult:
    """Approve every draft of the run that has no flag, all or nothing. The selection and the approval are
    one transaction: a draft redrafted (and perhaps flagged) meanwhile is either seen as it is now or the
    approval is retried on a fresh snapshot."""

    return retry_on_conflict(
        con, lambda c: approve_invoices_tx(c, unflagged_draft_ids(c, run_id), actor=actor, note=note)
    )
