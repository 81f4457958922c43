"""The review of a run (engine.service.bill_runs.review_drafts) as one table for the Review page: a row per draft
under review with numeric money columns (exact Decimal major units, so header sorting is numeric), the flags in
words, their reasons, and one boolean column per flag for filtering. Built once per cached read (views._reads)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np
import pandas as pd
import pyarrow as pa

from engine.service.formats import ReviewResult, cyclic_gc_paused, minor_units
from engine.service.reads import REVIEW_FLAGS
from views._format import customer

# The columns of the table, in the order shown (the others are for filtering and opening an invoice).
SHOWN = (
    "customer",
    "contract_id",
    "status",
    "currency",
    "total",
    "previous_total",
    "change",
    "change_percent",
    "flags",
    "why",
    "period_start",
    "invoice_id",
)
MONEY = ("total", "previous_total", "change")


def flag_words(flag: str) -> str:
    """'total_change' -> 'total change'."""
    return flag.replace("_", " ")


@dataclass(frozen=True)
class ReviewTable:
    """One review, ready to show. `frame` holds a row per draft (contract order); treat it as read-only:
    it is shared by every session that reads the same review."""

    run_id: str | None
    period_date: dt.date
    frame: pd.DataFrame
    flag_counts: dict[str, int]
    grid: pa.Table  # the SHOWN columns of `frame`, converted once (not on every rerun of the page)
    unbilled: pd.DataFrame
    unbilled_count: int
    decimals: int = 2  # the most decimals any currency of the table has (how the money columns are shown)
    businesses: tuple[str, ...] = field(default=())

    @property
    def drafts(self) -> int:
        return len(self.frame)

    @property
    def flagged(self) -> int:
        return int((~self.frame["unflagged"]).sum()) if len(self.frame) else 0


def build(result: ReviewResult) -> ReviewTable:
    """The review's rows as a frame: Decimal money columns (None where there is no previous invoice).
    Many small acyclic objects: built with the cyclic collector paused (formats.cyclic_gc_paused)."""
    with cyclic_gc_paused():
        return _build(result)


def _build(result: ReviewResult) -> ReviewTable:
    rows = result.drafts
    flag_sets = [{f.flag for f in r.flags} for r in rows]
    data = {
        "invoice_id": [r.invoice_id for r in rows],
        "contract_id": [r.contract_id for r in rows],
        "customer_id": [r.customer_id for r in rows],
        "customer": [customer(r.customer_name, r.customer_id) for r in rows],
        "business_id": [r.business_id for r in rows],
        "status": [r.status for r in rows],
        "currency": [r.currency for r in rows],
        "period_start": [r.period_start for r in rows],
        "period_end": [r.period_end for r in rows],
        "total": [r.total for r in rows],
        "previous_total": [r.previous_total for r in rows],
        "change": [r.change for r in rows],
        "change_percent": [r.change_percent for r in rows],
        "flags": [[flag_words(f.flag) for f in r.flags] for r in rows],
        "reasons": [[f.reason for f in r.flags] for r in rows],
        "why": [" · ".join(f.reason for f in r.flags) for r in rows],
        # object, not pandas' string dtype: a missing previous invoice stays None (not NaN, which is truthy)
        "previous_invoice_id": pd.Series([r.previous_invoice_id for r in rows], dtype=object),
        "unflagged": [not s for s in flag_sets],
    }
    for name in REVIEW_FLAGS:
        data[f"f_{name}"] = [name in s for s in flag_sets]
    frame = pd.DataFrame(data)
    # object columns of Decimal (and None) stay exact; pyarrow sends them as decimal128: numbers in the grid
    for col in (*MONEY, "change_percent"):
        frame[col] = frame[col].astype(object)
    currencies = sorted(frame["currency"].unique()) if len(frame) else []
    unbilled = pd.DataFrame(
        [
            {
                "contract_id": u.contract_id,
                "customer_id": u.customer_id,
                "period_start": u.period_start,
                "period_end": u.period_end,
                "bill_for_date": u.bill_for_date,
            }
            for u in result.unbilled_cycles
        ],
        columns=["contract_id", "customer_id", "period_start", "period_end", "bill_for_date"],
    )
    return ReviewTable(
        run_id=result.run_id,
        period_date=result.period_date,
        frame=frame,
        grid=pa.Table.from_pandas(frame[list(SHOWN)], preserve_index=False),
        flag_counts=dict(result.flag_counts),
        unbilled=unbilled,
        unbilled_count=result.unbilled_cycles_count,
        decimals=max((minor_units(c) for c in currencies), default=2),
        businesses=tuple(sorted(frame["business_id"].unique())) if len(frame) else (),
    )


def view(table: ReviewTable, flags: list[str], statuses: list[str]) -> tuple[pd.DataFrame, pa.Table]:
    """The rows having any of the `flags` (every row when none is given) and one of the `statuses` (any when
    none is given): as rows of the frame, and as the grid's table (the same rows in the same order)."""
    keep = np.ones(len(table.frame), dtype=bool)
    if flags:
        keep &= table.frame[[f"f_{f}" for f in flags]].to_numpy().any(axis=1)
    if statuses:
        keep &= table.frame["status"].isin(statuses).to_numpy()
    if keep.all():
        return table.frame, table.grid
    return table.frame[keep], table.grid.filter(pa.array(keep))


def totals_by_currency(frame: pd.DataFrame) -> dict[str, Decimal]:
    """Sum of the totals per currency, exact (Decimal), currencies in alphabetical order."""
    out: dict[str, Decimal] = {}
    for cur, total in zip(frame["currency"], frame["total"], strict=True):
        out[cur] = out.get(cur, Decimal(0)) + total
    return dict(sorted(out.items()))
