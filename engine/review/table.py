"""The review as columns: one Arrow table of every draft in scope with its flags, their reasons and the figures
they were decided on, all computed in DuckDB (flags.py, reasons.py), for bulk consumers (the Review page) and
as the source of the ReviewResult of the CLI, HTTP and MCP (review.py).

Scope: `run_id` = the drafts under review carrying the run's id, with the run's date and scope for the
unbilled cycles; `period_date` = every contract draft under review whose cycle contains the date, with
every contract for the unbilled cycles.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, replace

import duckdb
import numpy as np
import pyarrow as pa

from ..db import arrow_table, transaction
from ..errors import NotFoundError, ValidationError
from ..models import ReviewThresholds
from ..scope import EVERYTHING, Scope
from .flags import FLAGS, any_flag_sql, check_flags, compute_review
from .reasons import THRESHOLD_TEXTS, flags_sql, reasons_sql
from .thresholds import get_thresholds
from .unbilled import UNBILLED_LISTED, unbilled_cycles_table

# The columns of ReviewColumns.drafts, in order (money: exact major units, decimal128(38, s) with s the most
# decimals of the table's currencies; `decimals` is each row's currency's):
#   invoice_id, contract_id, customer_id, customer_name, business_id, currency, decimals, status, hold_reason,
#   period_start, period_end, total, previous_invoice_id, previous_total, change, change_percent (1 decimal,
#   null when there is no previous invoice or its total is 0),
#   flags (list of flag names, in FLAGS order), reasons (their one-line reasons, same order),
#   f_<flag> (a boolean per flag),
#   the figures: added, removed (lists of {line_id, product}), spikes (lists of {line_id, product, quantity,
#   previous_quantity, times}, exact decimal texts), pending_rows, true_up, charges, charges_amount,
#   coupons_ended (lists of {coupon_id, name})
ORDER = "ORDER BY contract_id, period_start, invoice_id"


@dataclass(frozen=True)
class ReviewColumns:
    """A review as columns: `drafts` one row per draft (contract order), `flag_counts` the drafts per flag
    (before the flag filter), the first unbilled cycles of the scope (`unbilled`: contract_id, customer_id,
    period_start, period_end, bill_for_date) and how many there are, the thresholds of each business."""

    run_id: str | None
    period_date: dt.date
    drafts: pa.Table
    flag_counts: dict[str, int]
    unbilled: pa.Table
    unbilled_count: int
    thresholds: dict[str, ReviewThresholds]


def review_scope(
    con, run_id: str | None, period_date: dt.date | None, business_id: str | None = None
) -> tuple[str, list, dt.date, Scope]:
    """(WHERE fragment over invoices `i`, its parameters, the date, the contract scope of unbilled cycles); with
    `business_id`, only that business's drafts and unbilled cycles."""
    if (run_id is None) == (period_date is None):
        raise ValidationError("review needs either a run id or a period date (not both)")
    if run_id is not None:
        row = con.execute("SELECT period_date, scope FROM bill_runs WHERE run_id = ?", [run_id]).fetchone()
        if row is None:
            raise NotFoundError(f"no bill run {run_id!r}")
        where, params, date, scope = "i.run_id = ?", [run_id], row[0], Scope.from_dict(json.loads(row[1]))
    else:
        where, params = "i.period_start <= ? AND i.period_end >= ?", [period_date, period_date]
        date, scope = period_date, EVERYTHING
    if business_id is None:
        return where, params, date, scope
    if scope.business_id not in (None, business_id):  # a run of another business: none of its cycles
        scope = replace(scope, contract_ids=())
    return f"{where} AND i.business_id = ?", [*params, business_id], date, replace(scope, business_id=business_id)


def _major(minor: str, decimals: int) -> str:
    """SQL: integer `minor` of the row's currency (_review's `scale` = 10^exp) as an exact DECIMAL(38, decimals),
    decimals ≥ every exp of the table."""
    scaled = f"(({minor})::HUGEINT * ({10**decimals}::HUGEINT // scale))::DECIMAL(38,0)"
    return scaled if decimals == 0 else f"({scaled} * 0.{'0' * (decimals - 1)}1)"


def _select(decimals: int, where: str) -> str:
    """SQL: the rows of _review matching `where` as ReviewColumns.drafts (money with `decimals` decimals); the
    thresholds' texts are written once per business and currency."""
    flag_columns = ", ".join(f"f_{f}" for f in FLAGS)
    texts = ", ".join(f"{sql} AS {name}" for name, sql in THRESHOLD_TEXTS.items())
    # `r`, the rows of _review shown, MATERIALIZED: read from the temp table (one row group) the reasons would be
    # written on one thread, read from a CTE on every thread.
    return f"""
        WITH r AS MATERIALIZED (SELECT * FROM _review WHERE {where}),
        shown AS (
            SELECT business_id, currency, {texts}
            FROM (SELECT DISTINCT business_id, currency, exp, scale, per_minor_12, pct, min_change, factor, large_above
                  FROM r))
        SELECT invoice_id, contract_id, customer_id, customer_name, business_id, currency, exp AS decimals, status,
            hold_reason, period_start, period_end, {_major("total_minor", decimals)} AS total,
            prev_id AS previous_invoice_id,
            {_major("prev_total_minor", decimals)} AS previous_total, {_major("change_minor", decimals)} AS change,
            (change_tenths::DECIMAL(38,0) * 0.1) AS change_percent,
            {flags_sql()} AS flags, {reasons_sql()} AS reasons, {flag_columns},
            added, removed, spikes, pending_rows, {_major("true_up_minor", decimals)} AS true_up, charges,
            {_major("charges_minor", decimals)} AS charges_amount, coupons_ended
        FROM r JOIN shown USING (business_id, currency)
        {ORDER}"""  # noqa: S608 (SQL expressions built by the engine from its own column names and constants)


def review_table(
    con: duckdb.DuckDBPyConnection,
    *,
    run_id: str | None = None,
    period_date: dt.date | None = None,
    flags: list[str] | None = None,
    unbilled_limit: int | None = UNBILLED_LISTED,
    business_id: str | None = None,
) -> ReviewColumns:
    """Every draft under review in scope, with its flags, their reasons and figures (only the drafts having
    any of `flags`, when given), ordered by contract and period; the count of drafts per flag; the unbilled
    cycles of the scope (the first `unbilled_limit`, all when None). One snapshot. With `business_id`, only
    that business's drafts and unbilled cycles (a business's caller: engine.service)."""
    wanted = check_flags(flags)
    with transaction(con):  # one snapshot: the drafts, their previous invoices and the unbilled cycles agree
        where, params, date, scope = review_scope(con, run_id, period_date, business_id)
        compute_review(con, where, params)
        counts_sql = ", ".join(f"count(*) FILTER (WHERE f_{f})" for f in FLAGS)
        summary = f"SELECT coalesce(max(exp), 2), list(DISTINCT business_id), {counts_sql} FROM _review"  # noqa: S608 (column names from the engine's allow-list)
        row = con.execute(summary).fetchall()[0]
        decimals, businesses, counts = int(row[0]), row[1] or [], row[2:]
        filt = any_flag_sql(wanted) if wanted else "TRUE"
        drafts = arrow_table(con, _select(decimals, filt))
        thresholds = {b: get_thresholds(con, b) for b in sorted(businesses)}
        unbilled, unbilled_count = unbilled_cycles_table(con, date, scope, limit=unbilled_limit)
    return ReviewColumns(
        run_id=run_id,
        period_date=date,
        drafts=drafts,
        flag_counts={f: int(n) for f, n in zip(FLAGS, counts, strict=True)},
        unbilled=unbilled,
        unbilled_count=unbilled_count,
        thresholds=thresholds,
    )


def exact_major(column: pa.ChunkedArray | pa.Array, decimals: np.ndarray) -> np.ndarray:
    """A money column of ReviewColumns.drafts as Decimals with exactly their currency's decimals (`decimals`,
    per row; what to_major gives: USD 100.00, JPY 7097), None where null. Column-wise: one cast per currency
    exponent present, no loop over rows."""
    out = np.empty(len(column), dtype=object)
    for exp in np.unique(decimals):
        rows = np.flatnonzero(decimals == exp)
        out[rows] = column.take(rows).cast(pa.decimal128(38, int(exp))).to_numpy(zero_copy_only=False)
    return out
