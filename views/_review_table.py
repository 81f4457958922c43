"""The review of a run (engine.service.bill_runs.review_columns) as one table for the Review page: a row per
draft under review, money exact (Decimal major units in the frame) and shown with its currency as the flags'
reasons beside it write it (format_code_major: 'AUD 5,496.98', 'JPY 568,013'), why each draft is flagged next to
whom it bills, the hold reason, and one boolean column per flag for filtering. Built once per cached read
(views._reads), column by column from the engine's Arrow table.

Sorting is the page's (ORDERS, kept across actions), never the grid header's: amounts of two currencies are never
compared, so an amount sorts within each currency (currencies in alphabetical order), and only the change % sorts
every row at once."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from engine.service.formats import ReviewColumns, cyclic_gc_paused, exact_major, format_code_major
from engine.service.reads import REVIEW_FLAGS as FLAGS

# The columns of the table, in the order shown (the others are for filtering and opening an invoice): what
# matters first (who, where it stands, why it is flagged), the figures, then the references.
SHOWN = (
    "customer",
    "status",
    "why",
    "change_percent",
    "change",
    "total",
    "previous_total",
    "hold_reason",
    "flags",
    "contract_id",
    "period_start",
    "invoice_id",
)
MONEY = ("total", "previous_total", "change")
REASON_SEPARATOR = " · "
# How the rows can be ordered: (words, sort keys over ReviewTable.numbers); None keeps the contract order.
ORDERS: dict[str, tuple[str, list[tuple[str, str]] | None]] = {
    "contract": ("contract", None),
    "change_percent_desc": ("change %, largest rise first", [("change_percent", "descending")]),
    "change_percent_asc": ("change %, largest fall first", [("change_percent", "ascending")]),
    "change_desc": (
        "change, largest rise first (within each currency)",
        [("currency", "ascending"), ("change", "descending")],
    ),
    "change_asc": (
        "change, largest fall first (within each currency)",
        [("currency", "ascending"), ("change", "ascending")],
    ),
    "total_desc": ("total, highest first (within each currency)", [("currency", "ascending"), ("total", "descending")]),
    "customer": ("customer", [("customer", "ascending"), ("contract_id", "ascending")]),
}


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
    numbers: pa.Table | None = None  # what ORDERS sort by: customer, contract, currency, exact money, change %
    decimals: int = 2  # the most decimals any currency of the table has (how the money columns are shown)
    businesses: tuple[str, ...] = field(default=())

    @property
    def drafts(self) -> int:
        return len(self.frame)

    @property
    def flagged(self) -> int:
        return int((~self.frame["unflagged"]).sum()) if len(self.frame) else 0


def _customer(names: pa.ChunkedArray, ids: pa.ChunkedArray) -> pa.ChunkedArray:
    """'Boreal Media Pty Ltd (CUS-000001)', or the id alone when there is no name (views._format.customer)."""
    named = pc.fill_null(pc.not_equal(names, ""), False)
    return pc.if_else(named, pc.binary_join_element_wise(names, " (", ids, ")", ""), ids)


def _flag_words(flags: pa.ChunkedArray) -> pa.ChunkedArray:
    """Each row's list of flag names with the words of flag_words ('total change')."""
    chunks = []
    for chunk in flags.chunks:
        words = pc.replace_substring(chunk.values, "_", " ")
        chunks.append(pa.ListArray.from_arrays(chunk.offsets, words))
    return pa.chunked_array(chunks, type=pa.list_(pa.string()))


def build(result: ReviewColumns) -> ReviewTable:
    """The review's rows as a frame: Decimal money columns with the currency's decimals (None where there is
    no previous invoice), and the grid's Arrow table of the SHOWN columns, both from the engine's columns.
    The Decimals and the rows' lists of flags and reasons are many small acyclic objects: made with the cyclic
    collector paused (engine/gc_pause.py)."""
    with cyclic_gc_paused():
        return _build(result)


def _build(result: ReviewColumns) -> ReviewTable:
    d = result.drafts
    n = d.num_rows
    decimals = d.column("decimals").to_numpy()
    customer = _customer(d.column("customer_name"), d.column("customer_id"))
    words = _flag_words(d.column("flags"))
    why = pc.binary_join(d.column("reasons"), REASON_SEPARATOR)
    flagged = np.zeros(n, dtype=bool)
    for name in FLAGS:
        flagged |= d.column(f"f_{name}").to_numpy()
    frame = d.select(["invoice_id", "contract_id", "customer_id"]).to_pandas()
    frame["customer"] = customer.to_pandas()
    plain = d.select(["business_id", "status", "currency", "hold_reason", "period_start", "period_end"]).to_pandas()
    for col in plain.columns:
        frame[col] = plain[col]
    # object columns of Decimal (and None) stay exact; the grid shows them as text with their currency
    for col in MONEY:
        frame[col] = exact_major(d.column(col), decimals)
    currencies = d.column("currency").to_pylist()
    shown_money = {
        col: pa.array(
            [None if v is None else format_code_major(v, c) for v, c in zip(frame[col], currencies, strict=True)],
            pa.string(),
        )
        for col in MONEY
    }
    frame["change_percent"] = d.column("change_percent").to_numpy(zero_copy_only=False) if n else []
    # lists kept in Arrow (no copy): a row's value is a Python list of its flags' words, of their reasons
    frame["flags"] = pd.arrays.ArrowExtensionArray(words)
    frame["reasons"] = pd.arrays.ArrowExtensionArray(d.column("reasons"))
    frame["why"] = why.to_pandas()
    # object, not pandas' string dtype: a missing previous invoice stays None (not NaN, which is truthy)
    frame["previous_invoice_id"] = pd.Series(
        d.column("previous_invoice_id").to_numpy(zero_copy_only=False), dtype=object
    )
    frame["unflagged"] = ~flagged
    for name in FLAGS:
        frame[f"f_{name}"] = d.column(f"f_{name}").to_numpy()
    grid = pa.table(
        {
            "customer": customer,
            "status": d.column("status"),
            "why": why,
            "change_percent": d.column("change_percent"),
            **shown_money,
            "hold_reason": d.column("hold_reason"),
            "flags": words,
            "contract_id": d.column("contract_id"),
            "period_start": d.column("period_start"),
            "invoice_id": d.column("invoice_id"),
        }
    ).select(list(SHOWN))
    numbers = pa.table(
        {
            "customer": customer,
            "contract_id": d.column("contract_id"),
            "currency": d.column("currency"),
            **{col: d.column(col) for col in (*MONEY, "change_percent")},
        }
    )
    return ReviewTable(
        run_id=result.run_id,
        period_date=result.period_date,
        frame=frame,
        grid=grid,
        flag_counts=dict(result.flag_counts),
        unbilled=result.unbilled.to_pandas(),
        unbilled_count=result.unbilled_count,
        numbers=numbers,
        decimals=int(decimals.max()) if n else 2,
        businesses=tuple(sorted(set(d.column("business_id").to_pylist()))),
    )


def view(
    table: ReviewTable, flags: list[str], statuses: list[str], order: str = "contract"
) -> tuple[pd.DataFrame, pa.Table]:
    """The rows having any of the `flags` (every row when none is given) and one of the `statuses` (any when
    none is given), in the `order` of ORDERS: as rows of the frame, and as the grid's table (the same rows in
    the same order)."""
    keep = np.ones(len(table.frame), dtype=bool)
    if flags:
        keep &= table.frame[[f"f_{f}" for f in flags]].to_numpy().any(axis=1)
    if statuses:
        keep &= table.frame["status"].isin(statuses).to_numpy()
    keys = ORDERS[order][1]
    if keep.all() and keys is None:
        return table.frame, table.grid
    rows = np.flatnonzero(keep)
    if keys is not None and len(rows):
        # stable: rows that tie (no previous invoice: no change) keep the contract order
        sorted_positions = pc.sort_indices(table.numbers.take(rows), sort_keys=keys, null_placement="at_end")
        rows = rows[sorted_positions.to_numpy()]
    return table.frame.iloc[rows], table.grid.take(pa.array(rows, pa.int64()))


def totals_by_currency(frame: pd.DataFrame) -> dict[str, Decimal]:
    """Sum of the totals per currency, exact (Decimal), currencies in alphabetical order."""
    out: dict[str, Decimal] = {}
    for cur, total in zip(frame["currency"], frame["total"], strict=True):
        out[cur] = out.get(cur, Decimal(0)) + total
    return dict(sorted(out.items()))
