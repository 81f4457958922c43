"""Target cycles to rate: the `_targets` temp table that every rating starts from.

A target is one (contract, cycle). A bill run targets the cycle containing a date for every
contract in scope; a what-if re-rating targets every cycle starting in a date range.
"""
from __future__ import annotations

import datetime as dt

import duckdb

from .cycles import cycle_index_sql, cycle_rows_sql
from .rating import check_source

_COLUMNS = ("contract_id, period_start, period_end, bill_for_date, due_date, billing_cycle_start_day, "
            "period_days")


def scope_filter_sql(c: str, src: str) -> str:
    """WHERE fragment for an optional scope; binds 3 parameters (contract ids, customer ids, business).

    NULL lists mean "no restriction"."""
    return (f"(?::VARCHAR[] IS NULL OR list_contains(?::VARCHAR[], {c}.contract_id)) "
            f"AND (?::VARCHAR[] IS NULL OR list_contains(?::VARCHAR[], {c}.customer_id)) "
            f"AND (?::VARCHAR IS NULL OR {c}.customer_id IN "
            f"(SELECT customer_id FROM {src}.customers WHERE business_id = ?))")


def scope_params(contract_ids, customer_ids, business_id) -> list:
    return [contract_ids, contract_ids, customer_ids, customer_ids, business_id, business_id]


def targets_for_date(con: duckdb.DuckDBPyConnection, period_date: dt.date, *, contract_ids=None,
                     customer_ids=None, business_id=None, source: str = "main") -> int:
    """_targets := the cycle containing `period_date` of every contract active on it (in scope)."""
    src = check_source(source)
    active = f"""SELECT c.*, {cycle_index_sql("c", "p.d")} AS k FROM (SELECT ?::DATE AS d) p, {src}.contracts c
                 WHERE c.start_date <= p.d AND (c.end_date IS NULL OR c.end_date >= p.d)
                   AND {scope_filter_sql('c', src)}"""
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _targets AS {cycle_rows_sql(active)}",
        [period_date, *scope_params(contract_ids, customer_ids, business_id)],
    )
    return con.execute("SELECT count(*) FROM _targets").fetchone()[0]


def targets_for_range(con: duckdb.DuckDBPyConnection, from_date: dt.date, to_date: dt.date, *,
                      contract_ids=None, customer_ids=None, business_id=None, source: str = "main") -> int:
    """_targets := every cycle whose start_date lies in [from_date, to_date] (what-if re-rating)."""
    src = check_source(source)
    lo = "greatest(p.lo, c.start_date)"
    hi = "least(p.hi, coalesce(c.end_date, p.hi))"
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _targets AS
            WITH p AS (SELECT ?::DATE AS lo, ?::DATE AS hi),
            spans AS (
                SELECT c.*, {cycle_index_sql('c', lo)} AS k_lo, {cycle_index_sql('c', hi)} AS k_hi
                FROM p, {src}.contracts c
                WHERE c.start_date <= p.hi AND (c.end_date IS NULL OR c.end_date >= p.lo)
                  AND {scope_filter_sql('c', src)}),
            cycles AS ({cycle_rows_sql(
                "SELECT c.*, k.k FROM spans c, LATERAL (SELECT unnest(range(c.k_lo, c.k_hi + 1)) AS k) k")})
            SELECT {_COLUMNS}, full_start FROM cycles, p
            WHERE period_start BETWEEN p.lo AND p.hi AND period_start <= period_end""",
        [from_date, to_date, *scope_params(contract_ids, customer_ids, business_id)],
    )
    return con.execute("SELECT count(*) FROM _targets").fetchone()[0]
