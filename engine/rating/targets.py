"""Target cycles to rate: the `_targets` temp table that every rating starts from.

A target is one (contract, cycle). A bill run targets the cycle containing a date for every
contract in scope; a what-if re-rating targets every cycle starting in a date range.
"""

from __future__ import annotations

import datetime as dt

import duckdb

from .cycles import cycle_index_sql, cycle_rows_sql
from .id_filters import ids_filter
from .sources import check_source

_COLUMNS = "contract_id, period_start, period_end, bill_for_date, due_date, billing_cycle_start_day, period_days"


def scope_filter(c: str, src: str, contract_ids=None, customer_ids=None, business_id=None) -> tuple[str, list]:
    """(WHERE fragment, its parameters) for an optional scope over contracts alias `c`.

    None means "no restriction"; only the restrictions given are written, so a one-contract preview
    plans a small query and its scan reads only that contract."""
    clauses, params = ["TRUE"], []
    if contract_ids is not None:
        sql, p = ids_filter(f"{c}.contract_id", contract_ids)
        clauses.append(sql)
        params += p
    if customer_ids is not None:
        sql, p = ids_filter(f"{c}.customer_id", customer_ids)
        clauses.append(sql)
        params += p
    if business_id is not None:
        clauses.append(f"{c}.customer_id IN (SELECT customer_id FROM {src}.customers WHERE business_id = ?)")
        params.append(business_id)
    return " AND ".join(clauses), params


def active_contracts_sql(
    period_date: dt.date, *, contract_ids=None, customer_ids=None, business_id=None, source: str = "main"
) -> tuple[str, list]:
    """THE contracts a bill run of `period_date` rates: active on it (start_date ≤ date ≤ end_date, blank
    end = open) and in scope. (SELECT of contract columns plus the date `d`, its parameters.)

    Bill runs, previews and drafts target these (`targets_for_date`); the workbench counts them before a
    run (`count_active_contracts`), so the count shown is the run's own."""
    src = check_source(source)
    scope, scope_params = scope_filter("c", src, contract_ids, customer_ids, business_id)
    sql = f"""SELECT c.*, p.d FROM (SELECT ?::DATE AS d) p, {src}.contracts c
              WHERE c.start_date <= p.d AND (c.end_date IS NULL OR c.end_date >= p.d) AND {scope}"""
    return sql, [period_date, *scope_params]


def count_active_contracts(con: duckdb.DuckDBPyConnection, period_date: dt.date, **scope) -> int:
    """How many contracts a bill run of `period_date` with this scope targets (see active_contracts_sql)."""
    sql, params = active_contracts_sql(period_date, **scope)
    return con.execute(f"SELECT count(*) FROM ({sql})", params).fetchone()[0]


def targets_for_date(
    con: duckdb.DuckDBPyConnection,
    period_date: dt.date,
    *,
    contract_ids=None,
    customer_ids=None,
    business_id=None,
    source: str = "main",
) -> int:
    """_targets := the cycle containing `period_date` of every contract active on it (in scope)."""
    active, params = active_contracts_sql(
        period_date, contract_ids=contract_ids, customer_ids=customer_ids, business_id=business_id, source=source
    )
    with_k = f"SELECT c.*, {cycle_index_sql('c', 'c.d')} AS k FROM ({active}) c"
    con.execute(f"CREATE OR REPLACE TEMP TABLE _targets AS {cycle_rows_sql(with_k)}", params)
    return con.execute("SELECT count(*) FROM _targets").fetchone()[0]


def targets_for_range(
    con: duckdb.DuckDBPyConnection,
    from_date: dt.date,
    to_date: dt.date,
    *,
    contract_ids=None,
    customer_ids=None,
    business_id=None,
    source: str = "main",
) -> int:
    """_targets := every cycle whose start_date lies in [from_date, to_date] (what-if re-rating)."""
    src = check_source(source)
    scope, scope_params = scope_filter("c", src, contract_ids, customer_ids, business_id)
    lo = "greatest(p.lo, c.start_date)"
    hi = "least(p.hi, coalesce(c.end_date, p.hi))"
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _targets AS
            WITH p AS (SELECT ?::DATE AS lo, ?::DATE AS hi),
            spans AS (
                SELECT c.*, {cycle_index_sql("c", lo)} AS k_lo, {cycle_index_sql("c", hi)} AS k_hi
                FROM p, {src}.contracts c
                WHERE c.start_date <= p.hi AND (c.end_date IS NULL OR c.end_date >= p.lo)
                  AND {scope}),
            cycles AS ({
            cycle_rows_sql("SELECT c.*, k.k FROM spans c, LATERAL (SELECT unnest(range(c.k_lo, c.k_hi + 1)) AS k) k")
        })
            SELECT {_COLUMNS}, full_start FROM cycles, p
            WHERE period_start BETWEEN p.lo AND p.hi AND period_start <= period_end""",
        [from_date, to_date, *scope_params],
    )
    return con.execute("SELECT count(*) FROM _targets").fetchone()[0]
