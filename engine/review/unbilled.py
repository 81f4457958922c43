"""Unbilled cycles: the missed cycles of a date (engine.rating.targets.missed_cycles_sql), listed.

A bill run bills the cycle containing its date; a cycle that ended before it with no invoice would be
silently missed. Every bill run and every review reports them (how many, and the first ones by contract
and period); `bill_run(…, catch_up=True)` drafts them.
"""

from __future__ import annotations

import datetime as dt

import duckdb
import pyarrow as pa

from ..db import arrow_table
from ..models import UnbilledCycle
from ..rating.targets import missed_cycles_sql
from ..scope import EVERYTHING, Scope
from .built import fields_of, made

# How many unbilled cycles a report lists (all are counted): enough to act on, small enough to print.
UNBILLED_LISTED = 1000
COLUMNS = ("contract_id", "customer_id", "period_start", "period_end", "bill_for_date")


def unbilled_cycles_table(
    con: duckdb.DuckDBPyConnection,
    period_date: dt.date,
    scope: Scope = EVERYTHING,
    *,
    limit: int | None = UNBILLED_LISTED,
) -> tuple[pa.Table, int]:
    """(the first `limit` missed cycles of `period_date` in scope, ordered by contract and period, as an Arrow
    table of COLUMNS; how many there are in all). `limit=None` lists every one."""
    sql, params = missed_cycles_sql(period_date, scope)
    lim = "" if limit is None else f"LIMIT {int(limit)}"
    # The cycles once (MATERIALIZED), counted by an aggregate and listed by a top-N, both on every thread (a
    # window count over all of them runs on one).
    rows = arrow_table(
        con,
        f"""WITH m AS MATERIALIZED ({sql})
            SELECT {", ".join(COLUMNS)}, (SELECT count(*) FROM m) AS n
            FROM m ORDER BY contract_id, period_start {lim}""",  # noqa: S608 (conditions and subqueries built by the engine with ? placeholders; values bound)
        params,
    )
    total = rows.column("n")[0].as_py() if rows.num_rows else 0
    return rows.drop_columns(["n"]), total


def unbilled_cycles(
    con: duckdb.DuckDBPyConnection,
    period_date: dt.date,
    scope: Scope = EVERYTHING,
    *,
    limit: int | None = UNBILLED_LISTED,
) -> tuple[list[UnbilledCycle], int]:
    """(the first `limit` missed cycles of `period_date` in scope, ordered by contract and period; how many
    there are in all). `limit=None` lists every one."""
    rows, total = unbilled_cycles_table(con, period_date, scope, limit=limit)
    return unbilled_list(rows), total


def dates(column: pa.ChunkedArray) -> list:
    """A DATE column as datetime.date objects (through numpy: many times faster than Arrow's to_pylist)."""
    return column.to_numpy().astype(object).tolist()


_CYCLE_SET = fields_of(UnbilledCycle)


def unbilled_list(rows: pa.Table) -> list[UnbilledCycle]:
    """The cycles of an unbilled_cycles_table as UnbilledCycle models (made from the engine's own values, not
    validated again: a review of every contract can list hundreds of thousands)."""
    contracts, customers = rows.column("contract_id").to_pylist(), rows.column("customer_id").to_pylist()
    columns = zip(contracts, customers, *(dates(rows.column(c)) for c in COLUMNS[2:]), strict=True)
    return [made(UnbilledCycle, _CYCLE_SET, dict(zip(COLUMNS, values, strict=True))) for values in columns]
