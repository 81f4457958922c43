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
import numpy as np
from pydantic import BaseModel

from ..db import retry_on_conflict
from ..gc_pause import cyclic_gc_paused
from ..models import ApprovalResult, ReviewFlag, ReviewResult, ReviewRow
from .flags import any_flag_sql, compute_review
from .table import ORDER, ReviewColumns, exact_major, review_scope, review_table
from .unbilled import UNBILLED_LISTED, unbilled_list

# ReviewRow's fields, in the order of the columns they are read from (ReviewColumns.drafts).
_ROW_FIELDS = (
    "invoice_id",
    "contract_id",
    "customer_id",
    "customer_name",
    "business_id",
    "currency",
    "status",
    "period_start",
    "period_end",
    "previous_invoice_id",
)


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
    columns = review_table(con, run_id=run_id, period_date=period_date, flags=flags, unbilled_limit=unbilled_limit)
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


def _made(cls: type[BaseModel], fields: frozenset, values: dict) -> BaseModel:
    """An instance of `cls` with exactly these field values (every field given), as model_construct makes
    it but without its per-field loop: the values are the engine's own, already of the declared types."""
    obj = cls.__new__(cls)
    object.__setattr__(obj, "__dict__", values)
    object.__setattr__(obj, "__pydantic_fields_set__", fields)
    object.__setattr__(obj, "__pydantic_extra__", None)
    object.__setattr__(obj, "__pydantic_private__", None)
    return obj


_ROW_SET = frozenset(ReviewRow.model_fields)
_FLAG_SET = frozenset(ReviewFlag.model_fields)


def _rows(columns: ReviewColumns) -> list[ReviewRow]:
    """ReviewRow of each row of the columns: the figures of each flag from the row's figure columns and its
    business's thresholds, as the flag was decided on."""
    t = columns.drafts
    if not t.num_rows:
        return []
    decimals = t.column("decimals").to_numpy()
    money = {c: exact_major(t.column(c), decimals) for c in ("total", "previous_total", "change", "true_up")}
    money["charges_amount"] = exact_major(t.column("charges_amount"), decimals)
    plain = [t.column(c).to_pylist() for c in _ROW_FIELDS]
    percent = t.column("change_percent").to_pylist()
    flag_lists, reasons = t.column("flags").to_pylist(), t.column("reasons").to_pylist()
    figures = _Figures(t, money, percent, columns.thresholds)
    drafts = []
    for i, values in enumerate(zip(*plain, strict=True)):
        row = dict(zip(_ROW_FIELDS, values, strict=True))
        row["total"] = money["total"][i]
        row["previous_total"] = money["previous_total"][i]
        row["change"] = money["change"][i]
        row["change_percent"] = percent[i]
        row["flags"] = [
            _made(ReviewFlag, _FLAG_SET, {"flag": f, "reason": r, "figures": figures.of(f, i)})
            for f, r in zip(flag_lists[i], reasons[i], strict=True)
        ]
        drafts.append(_made(ReviewRow, _ROW_SET, row))
    return drafts


class _Figures:
    """The figures of a flag of row i, read from the columns (only the rows that have the flag need them)."""

    def __init__(self, t, money: dict[str, np.ndarray], percent: list, thresholds: dict) -> None:
        self.t, self.money, self.percent, self.thresholds = t, money, percent, thresholds
        self.business = t.column("business_id").to_pylist()
        self.currency = t.column("currency").to_pylist()
        self._lists: dict[str, list] = {}

    def _column(self, name: str) -> list:
        if name not in self._lists:
            self._lists[name] = self.t.column(name).to_pylist()
        return self._lists[name]

    def of(self, flag: str, i: int) -> dict:
        m = self.money
        limits = self.thresholds[self.business[i]]
        if flag == "total_change":
            return {
                "previous_total": m["previous_total"][i],
                "total": m["total"][i],
                "change": m["change"][i],
                "change_percent": self.percent[i],
                "threshold_percent": limits.total_change_percent,
                "threshold_min": limits.total_change_min,
            }
        if flag in ("first_invoice", "zero_total", "negative_total"):
            return {"total": m["total"][i]}
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
            return {"true_up": m["true_up"][i]}
        if flag == "delayed_charges":
            return {"charges": self._column("charges")[i], "amount": m["charges_amount"][i]}
        if flag == "large_invoice":
            return {"total": m["total"][i], "threshold": limits.large_invoice[self.currency[i]]}
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
    from ..billing.approval import approve_invoices_tx

    return retry_on_conflict(
        con, lambda c: approve_invoices_tx(c, unflagged_draft_ids(c, run_id), actor=actor, note=note)
    )
