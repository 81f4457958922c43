"""Review before approval: the drafts of a run (or of a period) with their flags, and the cycles of that
scope that were never billed; the unflagged drafts of a run, and approving them in one step.

`review` is the ReviewResult of the CLI, HTTP and MCP, made from the columns of `review_table` (table.py:
flags, figures and reasons all computed in SQL): each row and flag is put together from values already
computed, without validating them again (they are the engine's own, of the declared types).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import duckdb

from ..billing.approval import approve_invoices_tx
from ..db import retry_on_conflict
from ..gc_pause import cyclic_gc_paused
from ..models import ApprovalResult, ReviewFlag, ReviewResult, ReviewRow
from .built import fields_of, made
from .flags import any_flag_sql, compute_review
from .table import ORDER, ReviewColumns, exact_major, review_scope, review_table
from .unbilled import UNBILLED_LISTED, dates, unbilled_list


def review(
    con: duckdb.DuckDBPyConnection,
    *,
    run_id: str | None = None,
    period_date: dt.date | None = None,
    flags: list[str] | None = None,
    unbilled_limit: int | None = UNBILLED_LISTED,
    business_id: str | None = None,
) -> ReviewResult:
    """Every draft under review in scope, with its flags (only those having any of `flags`, when given),
    ordered by contract and period; the count of drafts per flag; the unbilled cycles of the scope. With
    `business_id`, only that business's drafts and unbilled cycles."""
    columns = review_table(
        con,
        run_id=run_id,
        period_date=period_date,
        flags=flags,
        unbilled_limit=unbilled_limit,
        business_id=business_id,
    )
    with cyclic_gc_paused():  # tens of thousands of small acyclic objects (see engine/gc_pause.py)
        drafts = _rows(columns)
    return ReviewResult.model_construct(
        run_id=columns.run_id,
        period_date=columns.period_date,
        drafts=drafts,
        flag_counts=dict(columns.flag_counts),
        unbilled_cycles=unbilled_list(columns.unbilled),
        unbilled_cycles_count=columns.unbilled_count,
    )


_ROW_SET = fields_of(ReviewRow)
_FLAG_SET = fields_of(ReviewFlag)


def _rows(columns: ReviewColumns) -> list[ReviewRow]:
    """ReviewRow of each row of the columns: the figures of each flag from the row's figure columns and its
    business's thresholds, as the flag was decided on."""
    t = columns.drafts
    if not t.num_rows:
        return []
    decimals = t.column("decimals").to_numpy()
    total, previous, change = (exact_major(t.column(c), decimals).tolist() for c in _MONEY_FIELDS)
    percent = t.column("change_percent").to_numpy(zero_copy_only=False).tolist()
    figures = _Figures(t, decimals, total, previous, change, percent, columns.thresholds)
    text = [t.column(c).to_pylist() for c in _TEXT_FIELDS]
    starts, ends = dates(t.column("period_start")), dates(t.column("period_end"))
    flag_lists, reasons = t.column("flags").to_pylist(), t.column("reasons").to_pylist()
    of = figures.of
    drafts = []
    for i, row in enumerate(
        zip(*text, starts, ends, total, previous, change, percent, flag_lists, reasons, strict=True)
    ):
        values = dict(zip(_ROW_FIELDS, row[:-2], strict=True))
        values["flags"] = [
            made(ReviewFlag, _FLAG_SET, {"flag": f, "reason": r, "figures": of(f, i)})
            for f, r in zip(row[-2], row[-1], strict=True)
        ]
        drafts.append(made(ReviewRow, _ROW_SET, values))
    return drafts


# ReviewRow's fields read as text columns of ReviewColumns.drafts, then the others in _rows' order.
_TEXT_FIELDS = (
    "invoice_id",
    "contract_id",
    "customer_id",
    "customer_name",
    "business_id",
    "currency",
    "status",
    "previous_invoice_id",
)
_MONEY_FIELDS = ("total", "previous_total", "change")
_ROW_FIELDS = (*_TEXT_FIELDS, "period_start", "period_end", "total", "previous_total", "change", "change_percent")


class _Figures:
    """The figures of a flag of row i, read from the columns (a column is converted when a flag needs it)."""

    def __init__(self, t, decimals, total, previous, change, percent, thresholds: dict) -> None:
        self.t, self.decimals, self.thresholds = t, decimals, thresholds
        self.total, self.previous, self.change, self.percent = total, previous, change, percent
        self.business = t.column("business_id").to_pylist()
        self.currency = t.column("currency").to_pylist()
        self._columns: dict[str, object] = {}

    def _column(self, name: str):
        if name not in self._columns:
            col = self.t.column(name)
            money = name in ("true_up", "charges_amount")
            self._columns[name] = exact_major(col, self.decimals) if money else col.to_pylist()
        return self._columns[name]

    def of(self, flag: str, i: int) -> dict:
        limits = self.thresholds[self.business[i]]
        if flag == "total_change":
            return {
                "previous_total": self.previous[i],
                "total": self.total[i],
                "change": self.change[i],
                "change_percent": self.percent[i],
                "threshold_percent": limits.total_change_percent,
                "threshold_min": limits.total_change_min,
            }
        if flag in ("first_invoice", "zero_total", "negative_total"):
            return {"total": self.total[i]}
        if flag == "line_added":
            return {"lines": self._column("added")[i]}
        if flag == "line_removed":
            return {"lines": self._column("removed")[i]}
        if flag == "usage_spike":
            lines = [
                {
                    "line_id": s["line_id"],
                    "product": s["product"],
                    "quantity": Decimal(s["quantity"]),
                    "previous_quantity": Decimal(s["previous_quantity"]),
                    "times": Decimal(s["times"]),
                }
                for s in self._column("spikes")[i]
            ]
            return {"lines": lines, "threshold_factor": limits.usage_spike_factor}
        if flag == "pending_usage":
            return {"pending_rows": self._column("pending_rows")[i]}
        if flag == "true_up":
            return {"true_up": self._column("true_up")[i]}
        if flag == "delayed_charges":
            return {"charges": self._column("charges")[i], "amount": self._column("charges_amount")[i]}
        if flag == "large_invoice":
            return {"total": self.total[i], "threshold": limits.large_invoice[self.currency[i]]}
        if flag == "coupon_ended":
            return {"coupons": self._column("coupons_ended")[i]}
        raise AssertionError(f"no figures for flag {flag!r}")


def unflagged_draft_ids(con: duckdb.DuckDBPyConnection, run_id: str) -> list[str]:
    """The run's drafts (status draft: not approved yet, not held) that have no flag at all, in contract order.
    The caller holds the transaction, so the selection and what is done with it see one snapshot."""
    where, params, _, _ = review_scope(con, run_id, None)
    compute_review(con, where, params)
    return [
        r[0]
        for r in con.execute(
            f"SELECT invoice_id FROM _review WHERE status = 'draft' AND NOT {any_flag_sql()} {ORDER}"  # noqa: S608 (SQL expressions built by the engine from its own column names and constants; values bound)
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
