"""Billing cycles (spec section 2), computed in SQL so the bulk path and one contract share them.

Boundaries fall on day min(anchor, last day of month) of every L-th month (L = 1, 3, 12), counted
from the month of start_date. Boundary k is in month index m0 + k·L (m0 = month index of
start_date). The cycle of a date D is [boundary(k), boundary(k+1) − 1] for the largest k with
boundary(k) ≤ D, clipped to the contract: it starts no earlier than start_date (a stub) and ends
no later than end_date. period_days is the length of the FULL unclipped period
boundary(k+1) − boundary(k). bill_for_date = end + 1 (arrears) or start (advance).

    anchor 31, monthly, from 2026-01-31:   Jan31 | Feb28 | Mar31 | Apr30 | May31
    cycles:  [Jan31, Feb27] [Feb28, Mar30] [Mar31, Apr29] [Apr30, May30]

The functions returning SQL build expressions from column names only (never values).
"""

from __future__ import annotations

import datetime as dt

import duckdb

from ..errors import NotFoundError, ValidationError
from ..models import BillingCycle
from .sources import check_source

# The last date whose cycle the workbench bills. A cycle ends less than a year after a date it contains,
# the bill_for_date is at most the day after, and the due date at most 3650 days later (payment_terms_days,
# import rule): 9988-12-31 + 366 + 1 + 3650 days stays before 9999-12-31, the last date Python (and so
# every report) can hold. Later dates are refused where they enter, not met as an unreadable invoice.
LAST_PERIOD_DATE = dt.date(9988, 12, 31)

PERIOD_MONTHS_SQL = "(CASE {c}.billing_period WHEN 'month' THEN 1 WHEN 'quarter' THEN 3 ELSE 12 END)"


def check_period_date(date: dt.date, what: str = "date") -> dt.date:
    """`date` itself if its cycle's dates can all be held (see LAST_PERIOD_DATE), else ValidationError."""
    if date > LAST_PERIOD_DATE:
        raise ValidationError(
            f"{what} {date} is after {LAST_PERIOD_DATE}, the last date billed: its cycle and due date "
            f"must end by 9999-12-31"
        )
    return date


def _months(c: str) -> str:
    return PERIOD_MONTHS_SQL.format(c=c)


def month_index_sql(date_expr: str) -> str:
    """Months since year 0: 2026-03-xx -> 2026·12 + 2."""
    return f"(year({date_expr}) * 12 + month({date_expr}) - 1)"


def boundary_sql(c: str, k: str) -> str:
    """Date of boundary k of contract alias `c`: day min(anchor, month end) of month m0 + k·L.

    Kept small on purpose (each `k` is written twice): DuckDB plans every statement afresh, and the
    size of these expressions is most of the time of a one-contract preview."""
    first = f"(date_trunc('month', {c}.start_date) + to_months((({k}) * {_months(c)})::INTEGER))::DATE"
    return f"least({first} + ({c}.billing_cycle_start_day - 1)::INTEGER, last_day({first}))"


def cycle_index_sql(c: str, date_expr: str) -> str:
    """k of the cycle containing `date_expr` (a date on or after start_date): the largest k with
    boundary(k) ≤ date. k = months since start ÷ L, one less if that boundary is still ahead."""
    k0 = f"(({month_index_sql(date_expr)} - {month_index_sql(f'{c}.start_date')}) // {_months(c)})"
    return f"(CASE WHEN {boundary_sql(c, k0)} > {date_expr} THEN {k0} - 1 ELSE {k0} END)"


def cycle_rows_sql(inner: str, carry: tuple[str, ...] = ()) -> str:
    """SELECT of cycles from `inner`, a query yielding contract columns and `k` (the cycle index); `carry`
    names more columns of `inner` to keep (the engine's own column names).

    Staged so each boundary is computed once: k -> (b0, b1) -> clipped dates -> bill_for/due dates."""
    b0, b1 = boundary_sql("x", "x.k"), boundary_sql("x", "x.k + 1")
    kept = "".join(f", {c}" for c in carry)
    return f"""
        SELECT contract_id, period_start, period_end, bill_for_date,
               (bill_for_date + payment_terms_days)::DATE AS due_date,
               billing_cycle_start_day, period_days, full_start{kept}
        FROM (SELECT *, CASE WHEN billing_timing = 'advance' THEN period_start
                             ELSE (period_end + 1)::DATE END AS bill_for_date
              FROM (SELECT *, greatest(b0, start_date) AS period_start,
                           least((b1 - 1)::DATE, coalesce(end_date, (b1 - 1)::DATE)) AS period_end,
                           (b1 - b0)::INTEGER AS period_days, b0 AS full_start
                    FROM (SELECT x.*, {b0} AS b0, {b1} AS b1 FROM ({inner}) x)))"""  # noqa: S608 (conditions and subqueries built by the engine with ? placeholders; values bound)


def _cycles(
    con: duckdb.DuckDBPyConnection, contract_id: str, lo: dt.date, hi: dt.date, source: str = "main"
) -> list[BillingCycle]:
    """Cycles k(lo) .. k(hi) of one contract."""
    source = check_source(source)
    k_lo, k_hi = cycle_index_sql("c", "p.lo"), cycle_index_sql("c", "p.hi")
    inner = f"""SELECT c.*, k.k FROM (SELECT ?::DATE AS lo, ?::DATE AS hi) p, {source}.contracts c,
                       LATERAL (SELECT unnest(range({k_lo}, {k_hi} + 1)) AS k) k
                WHERE c.contract_id = ?"""  # noqa: S608 (schema name checked by rating.sources.check_source; values bound)
    rows = con.execute(
        f"SELECT * FROM ({cycle_rows_sql(inner)}) ORDER BY period_start",  # noqa: S608 (cycle SQL built by this module; values bound)
        [lo, hi, contract_id],
    ).fetchall()
    out = []
    for cid, start, end, bill_for, due, anchor, pdays, full_start in rows:
        if end < start:
            continue
        full_end = full_start + dt.timedelta(days=pdays - 1)
        out.append(
            BillingCycle(
                contract_id=cid,
                start_date=start,
                end_date=end,
                bill_for_date=bill_for,
                due_date=due,
                billing_cycle_start_day=anchor,
                period_days=pdays,
                is_stub=(start, end) != (full_start, full_end),
            )
        )
    return out


def contract_window(
    con: duckdb.DuckDBPyConnection, contract_id: str, source: str = "main"
) -> tuple[dt.date, dt.date | None]:
    source = check_source(source)
    row = con.execute(
        f"SELECT start_date, end_date FROM {source}.contracts WHERE contract_id = ?",  # noqa: S608 (schema name checked by check_source)
        [contract_id],
    ).fetchone()
    if row is None:
        raise NotFoundError(f"unknown contract {contract_id!r}")
    return row[0], row[1]


def billing_cycles(
    con: duckdb.DuckDBPyConnection, contract_id: str, from_date: dt.date, to_date: dt.date, source: str = "main"
) -> list[BillingCycle]:
    """The contract's cycles overlapping [from_date, to_date] (Zenskar getContractBillingCycles)."""
    if to_date < from_date:
        raise ValidationError(f"--to {to_date} is before --from {from_date}")
    check_period_date(to_date, "--to")
    start, end = contract_window(con, contract_id, source)
    lo = max(from_date, start)
    hi = min(to_date, end) if end else to_date
    if hi < lo:
        return []
    return _cycles(con, contract_id, lo, hi, source)


def check_date_in_contract(
    con: duckdb.DuckDBPyConnection, contract_id: str, date: dt.date, source: str = "main"
) -> None:
    """An unknown contract, a date outside the contract's [start, end] or after LAST_PERIOD_DATE is an error."""
    check_period_date(date)
    start, end = contract_window(con, contract_id, source)
    if date < start or (end is not None and date > end):
        window = f"{start} – {end}" if end else f"from {start}, open-ended"
        raise ValidationError(f"{date} is outside contract {contract_id} ({window})")


def cycle_of_date(
    con: duckdb.DuckDBPyConnection, contract_id: str, date: dt.date, source: str = "main"
) -> BillingCycle:
    """The cycle that contains `date` ("the period of a date"); a date outside the contract is an error."""
    check_date_in_contract(con, contract_id, date, source)
    found = billing_cycles(con, contract_id, date, date, source)
    return found[0]
