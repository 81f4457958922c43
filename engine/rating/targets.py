"""Target cycles to rate: the `_targets` temp table that every rating starts from.

A target is one (contract, cycle). A bill run targets the cycle containing a date for every
contract in scope (with catch-up, also every missed cycle before it); a what-if re-rating targets
every cycle starting in a date range.

A MISSED cycle of a date D (what review reports as "unbilled" and catch-up drafts) is a cycle of a
contract in scope that
  - ended before D and is due (period_end < D, bill_for_date ≤ D),
  - has no non-void invoice (no row in invoice_cycle_claims), and
  - has something to bill: an order line with a line in it (pipeline.line_in_cycle_sql) or a minimum
    commitment (the true-up line); a cycle with neither never gets an invoice, so it is not missed.
The look-back starts at each contract's start_date (its first cycle) and ends at its end_date: nothing
before a contract exists is billed, and a contract that ended before D still has its last cycles missed.
"""

from __future__ import annotations

import datetime as dt

import duckdb

from ..scope import EVERYTHING, Scope
from .cycles import cycle_index_sql, cycle_rows_sql
from .id_filters import ids_filter
from .pipeline import line_in_cycle_sql
from .sources import check_source

_COLUMNS = "contract_id, period_start, period_end, bill_for_date, due_date, billing_cycle_start_day, period_days"


def scope_filter(c: str, src: str, scope: Scope = EVERYTHING) -> tuple[str, list]:
    """(WHERE fragment, its parameters) for a scope over contracts alias `c`.

    None means "no restriction"; only the restrictions given are written, so a one-contract preview
    plans a small query and its scan reads only that contract."""
    clauses, params = ["TRUE"], []
    if scope.contract_ids is not None:
        sql, p = ids_filter(f"{c}.contract_id", list(scope.contract_ids))
        clauses.append(sql)
        params += p
    if scope.customer_ids is not None:
        sql, p = ids_filter(f"{c}.customer_id", list(scope.customer_ids))
        clauses.append(sql)
        params += p
    if scope.business_id is not None:
        clauses.append(f"{c}.customer_id IN (SELECT customer_id FROM {src}.customers WHERE business_id = ?)")  # noqa: S608 (schema name checked by rating.sources.check_source; values bound)
        params.append(scope.business_id)
    return " AND ".join(clauses), params


def active_contracts_sql(period_date: dt.date, scope: Scope = EVERYTHING, *, source: str = "main") -> tuple[str, list]:
    """THE contracts a bill run of `period_date` rates: active on it (start_date ≤ date ≤ end_date, blank
    end = open) and in scope. (SELECT of contract columns plus the date `d`, its parameters.)

    Bill runs, previews and drafts target these (`targets_for_date`); the workbench counts them before a
    run (`count_active_contracts`), so the count shown is the run's own."""
    src = check_source(source)
    where, scope_params = scope_filter("c", src, scope)
    # `(…) IS TRUE` keeps the date test a plain filter: pushed into the scan as a join-derived filter it
    # would turn a one-contract lookup by the primary key into a scan of every contract.
    sql = f"""SELECT c.*, p.d FROM (SELECT ?::DATE AS d) p, {src}.contracts c
              WHERE (c.start_date <= p.d AND (c.end_date IS NULL OR c.end_date >= p.d)) IS TRUE AND {where}"""  # noqa: S608 (schema name checked by rating.sources.check_source; values bound)
    return sql, [period_date, *scope_params]


def count_active_contracts(con: duckdb.DuckDBPyConnection, period_date: dt.date, scope: Scope = EVERYTHING) -> int:
    """How many contracts a bill run of `period_date` with this scope targets (see active_contracts_sql)."""
    sql, params = active_contracts_sql(period_date, scope)
    return con.execute(f"SELECT count(*) FROM ({sql})", params).fetchone()[0]  # noqa: S608 (schema name checked by rating.sources.check_source; values bound)


def cycles_of_date_sql(period_date: dt.date, scope: Scope = EVERYTHING, *, source: str = "main") -> tuple[str, list]:
    """SELECT of the cycle containing `period_date` of every contract active on it (in scope), with the target
    columns, and its parameters: what a bill run of the date targets (one definition for the run and its count)."""
    active, params = active_contracts_sql(period_date, scope, source=source)
    with_k = f"SELECT c.*, {cycle_index_sql('c', 'c.d')} AS k FROM ({active}) c"  # noqa: S608 (conditions and subqueries built by the engine with ? placeholders; values bound)
    return cycle_rows_sql(with_k), params


def count_not_due(
    con: duckdb.DuckDBPyConnection, period_date: dt.date, today: dt.date, scope: Scope = EVERYTHING
) -> int:
    """How many of the cycles a bill run of `period_date` would draft (active contracts in scope, cycles with no
    invoice yet) are not due on `today`: their bill_for_date is after it, whatever the billing mode (a cycle billed
    in arrears that has not ended, one billed in advance that has not started). The run drafts them all the same
    (spec section 2: the period of a date), dated in the future; the workbench says so before a run starts."""
    cycles, params = cycles_of_date_sql(period_date, scope)
    return con.execute(
        f"""SELECT count(*) FROM ({cycles}) t
            ANTI JOIN main.invoice_cycle_claims cl
                   ON cl.contract_id = t.contract_id AND cl.period_start = t.period_start
            WHERE t.bill_for_date > ?""",  # noqa: S608 (cycle SQL built by the engine; values bound)
        [*params, today],
    ).fetchone()[0]


def targets_for_date(
    con: duckdb.DuckDBPyConnection, period_date: dt.date, scope: Scope = EVERYTHING, *, source: str = "main"
) -> int:
    """_targets := the cycle containing `period_date` of every contract active on it (in scope)."""
    cycles, params = cycles_of_date_sql(period_date, scope, source=source)
    # CREATE … AS returns the number of rows it stored
    return con.execute(f"CREATE OR REPLACE TEMP TABLE _targets AS {cycles}", params).fetchone()[0]  # noqa: S608 (cycle SQL built by the engine; values bound)


def targets_for_range(
    con: duckdb.DuckDBPyConnection,
    from_date: dt.date,
    to_date: dt.date,
    scope: Scope = EVERYTHING,
    *,
    source: str = "main",
) -> int:
    """_targets := every cycle whose start_date lies in [from_date, to_date] (what-if re-rating)."""
    src = check_source(source)
    where, scope_params = scope_filter("c", src, scope)
    lo = "greatest(p.lo, c.start_date)"
    hi = "least(p.hi, coalesce(c.end_date, p.hi))"
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _targets AS
            WITH p AS (SELECT ?::DATE AS lo, ?::DATE AS hi),
            spans AS (
                SELECT c.*, {cycle_index_sql("c", lo)} AS k_lo, {cycle_index_sql("c", hi)} AS k_hi
                FROM p, {src}.contracts c
                WHERE c.start_date <= p.hi AND (c.end_date IS NULL OR c.end_date >= p.lo)
                  AND {where}),
            cycles AS ({
            cycle_rows_sql("SELECT c.*, k.k FROM spans c, LATERAL (SELECT unnest(range(c.k_lo, c.k_hi + 1)) AS k) k")
        })
            SELECT {_COLUMNS}, full_start FROM cycles, p
            WHERE period_start BETWEEN p.lo AND p.hi AND period_start <= period_end""",  # noqa: S608 (schema name checked by rating.sources.check_source; values bound)
        [from_date, to_date, *scope_params],
    )
    return con.execute("SELECT count(*) FROM _targets").fetchone()[0]


def missed_cycles_sql(period_date: dt.date, scope: Scope = EVERYTHING) -> tuple[str, list]:
    """SELECT of the missed cycles of `period_date` (see the module doc) with the target columns plus
    `customer_id`, and its parameters. Reads the stored data (main) only: catch-up and review are about
    real invoices."""
    where, scope_params = scope_filter("c", "main", scope)
    # cycles k(start_date) .. k(hi), hi = the day before D, or the contract's end when that is earlier
    hi = "least((p.d - 1)::DATE, coalesce(c.end_date, (p.d - 1)::DATE))"
    # `spans` is MATERIALIZED so that the cycles are enumerated, dated and anti-joined on every thread: read
    # straight from `contracts` (100k rows, one row group) that whole pipeline runs on one (benchmarks/README.md,
    # issue 22, 2026-12-07 afternoon: 0.14 -> 0.10 s for the 100k demo's 254,433 missed cycles).
    sql = f"""
        WITH p AS (SELECT ?::DATE AS d),
        spans AS MATERIALIZED (
            SELECT c.*, {cycle_index_sql("c", "c.start_date")} AS k_lo, {cycle_index_sql("c", hi)} AS k_hi,
                   -- a contract with a minimum commitment, or with a non-one-time line open at both ends, has
                   -- something to bill in every cycle: only the others are tested line by line (most are the former)
                   (c.minimum_commitment IS NOT NULL
                    OR c.contract_id IN (SELECT contract_id FROM main.order_lines
                                         WHERE kind <> 'one_time' AND start_date IS NULL AND end_date IS NULL))
                   AS always_billed
            FROM p, main.contracts c
            WHERE c.start_date < p.d AND {where}),
        cycles AS ({
        cycle_rows_sql(
            "SELECT *, unnest(range(k_lo, k_hi + 1)) AS k FROM spans",
            ("customer_id", "always_billed"),
        )
    }),
        -- ended, due and not claimed (an anti join: the claims' primary key, probed once per cycle)
        due AS MATERIALIZED (
            SELECT t.* FROM p, cycles t
            ANTI JOIN main.invoice_cycle_claims cl
                   ON cl.contract_id = t.contract_id AND cl.period_start = t.period_start
            WHERE t.period_start <= t.period_end AND t.period_end < p.d AND t.bill_for_date <= p.d)
        SELECT * EXCLUDE (always_billed) FROM due WHERE always_billed
        UNION ALL
        SELECT * EXCLUDE (always_billed) FROM due t
        WHERE NOT always_billed
          AND EXISTS (SELECT 1 FROM main.order_lines ol, main.contracts c
                      WHERE ol.contract_id = t.contract_id AND c.contract_id = t.contract_id
                        AND {line_in_cycle_sql("ol", "c", "t")})"""  # noqa: S608 (conditions and subqueries built by the engine with ? placeholders; values bound)
    return sql, [period_date, *scope_params]


def targets_for_run(
    con: duckdb.DuckDBPyConnection,
    period_date: dt.date,
    scope: Scope = EVERYTHING,
    *,
    catch_up: bool = False,
) -> int:
    """_targets of a bill run: the cycle containing `period_date` of every active contract in scope and,
    with `catch_up`, every missed cycle before it. Returns the number of ACTIVE contracts in scope (what
    the run reports as in scope, with or without catch-up)."""
    active = targets_for_date(con, period_date, scope)
    if catch_up:
        missed, params = missed_cycles_sql(period_date, scope)
        con.execute(f"INSERT INTO _targets BY NAME SELECT * EXCLUDE (customer_id) FROM ({missed})", params)  # noqa: S608 (conditions and subqueries built by the engine with ? placeholders; values bound)
    return active
