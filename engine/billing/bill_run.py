"""Bill runs: draft the invoices of every contract in scope for the period of a date, set-based.

    targets (cycle of D per active contract) − already invoiced cycles
      -> rate (one SQL pipeline for all) -> store drafts -> sweep delayed charges -> finalize -> report

Crash safety: the whole run is ONE transaction, so a run killed at any moment leaves either nothing
or everything; its `bill_runs` row (committed first, status 'running') lets the same run resume
with the same run_id, and the resumed run makes exactly the invoices a clean run makes.
Isolation: if rating fails (e.g. an amount overflows), the run rolls back, finds the failing contracts
by bisection outside the transaction, and re-runs without them; they are reported with the reason.
Concurrency: a write-write conflict with another run (same process) is retried; the retry then sees
the other run's invoices as already existing. Another process gets DatabaseBusyError at connect.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import time
import uuid
from dataclasses import dataclass, replace

import duckdb
import pydantic

from ..db import retry_write_conflicts, transaction
from ..errors import BillsimError
from ..models import BillRunReport, CurrencyTotals, FailedContract
from ..money import to_major
from ..progress import Progress, no_progress
from ..rating.adjustments import RESULTS as ADJUSTMENT_RESULTS
from ..rating.cycles import check_period_date
from ..rating.pipeline import drop_temp_tables, rate_targets
from ..rating.targets import targets_for_run
from ..review.unbilled import UNBILLED_LISTED, unbilled_cycles
from ..scope import Scope
from .audit import resolve_actor
from .delayed_charges import sweep_delayed_charges
from .invoice_store import rows_as_dicts
from .invoices import persist_rated, record_drafted
from .lifecycle import finalize_invoices_tx
from .manual_invoices import draft_recurring_tx
from .run_dates import check_run_drafts, refused_for_dates

log = logging.getLogger("billsim.engine")

# Runs this process is executing now. A 'running' row that is not live here was left by a crash:
# no other process can be writing, because DuckDB lets one process at a time open the file.
_LIVE_RUNS: set[str] = set()
_LIVE_LOCK = threading.Lock()


def new_bill_run_id() -> str:
    return "run_" + uuid.uuid4().hex[:16]


def stored_scope(scope: Scope, catch_up: bool = False) -> dict:
    """The run's scope as stored (ids sorted, so the same scope always reads the same and a run resumes). An
    empty list is an empty scope (nothing is billed); only None means all. `catch_up` is kept only when set, so a
    catch-up run resumes as one and other runs' scopes read as before."""
    stored = {
        "contract_ids": None if scope.contract_ids is None else sorted(scope.contract_ids),
        "customer_ids": None if scope.customer_ids is None else sorted(scope.customer_ids),
        "business_id": scope.business_id,
    }
    return {**stored, "catch_up": True} if catch_up else stored


@dataclass(frozen=True)
class RunClaim:
    """The run a start works under: a new one (recorded, committed) or the unfinished one it resumes."""

    run_id: str
    resumed: bool
    started_at: dt.datetime


def claim_run(
    con: duckdb.DuckDBPyConnection,
    period_date: dt.date,
    *,
    contract_ids: list[str] | None = None,
    customer_ids: list[str] | None = None,
    business_id: str | None = None,
    include_delayed_charges: bool = False,
    finalize: bool = False,
    catch_up: bool = False,
    requested_by: str | None = None,
    run_id: str | None = None,
) -> RunClaim:
    """The run `bill_run` with these arguments works under, claimed now: the same unfinished run (crashed or
    killed) is resumed under ITS id, else a new run is recorded (committed now) with `run_id` when the caller
    chose one. A background start claims first, so it answers with the id the work runs under.

    Pass the claim to `bill_run(…, claimed=)`; one never given to it is let go with `release_run`."""
    check_period_date(period_date, "period date")
    scope = Scope.of(contract_ids, customer_ids, business_id)
    scope_json = json.dumps(stored_scope(scope, catch_up), sort_keys=True)
    return _start_run(
        con, period_date, scope_json, include_delayed_charges, finalize, resolve_actor(requested_by), run_id
    )


def release_run(run_id: str) -> None:
    """The run is no longer worked on by this process (done, failed, or never started): a later start of the same
    run resumes it while it is still unfinished."""
    with _LIVE_LOCK:
        _LIVE_RUNS.discard(run_id)


def _start_run(
    con, period_date, scope_json, include, finalize, requested_by, new_run_id: str | None = None
) -> RunClaim:
    """Resume the same unfinished run (crashed or killed), else record a new one (committed now), with
    `new_run_id` when the caller chose the id.

    The caller must release the returned run_id from _LIVE_RUNS when it is done."""
    with _LIVE_LOCK:
        rows = con.execute(
            """SELECT run_id, started_at FROM bill_runs WHERE status = 'running' AND period_date = ?
               AND scope = ? AND include_delayed_charges = ? AND finalize = ? ORDER BY started_at DESC""",
            [period_date, scope_json, include, finalize],
        ).fetchall()
        crashed = [r for r in rows if r[0] not in _LIVE_RUNS]
        if crashed:
            _LIVE_RUNS.add(crashed[0][0])
            return RunClaim(crashed[0][0], True, crashed[0][1])
        run_id = new_run_id or new_bill_run_id()
        _LIVE_RUNS.add(run_id)
    started = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    try:
        con.execute(
            """INSERT INTO bill_runs (run_id, period_date, scope, include_delayed_charges, finalize, status,
                   requested_by, started_at) VALUES (?, ?, ?, ?, ?, 'running', ?, ?)""",
            [run_id, period_date, scope_json, include, finalize, requested_by, started],
        )
    except BaseException:
        release_run(run_id)
        raise
    return RunClaim(run_id, False, started)


def _isolate_failures(con, period_date, scope: Scope, catch_up: bool) -> dict[str, str]:
    """Bisect the scope's contracts to find those whose rating fails; returns {contract_id: reason}."""
    targets_for_run(con, period_date, scope, catch_up=catch_up)
    ids = [r[0] for r in con.execute("SELECT DISTINCT contract_id FROM _targets ORDER BY 1").fetchall()]
    failed: dict[str, str] = {}

    def rates(chunk: list[str]) -> bool:
        targets_for_run(con, period_date, replace(scope, contract_ids=tuple(chunk)), catch_up=catch_up)
        try:
            rate_targets(con)
            return True
        except duckdb.InterruptException:
            raise  # stopped (a deadline, a server shutting down): not the contracts' fault
        except duckdb.Error as exc:
            if len(chunk) == 1:
                failed[chunk[0]] = f"rating failed: {str(exc).splitlines()[0]}"
            return False

    stack = [ids]
    while stack:
        chunk = stack.pop()
        if chunk and not rates(chunk) and len(chunk) > 1:
            mid = len(chunk) // 2
            stack += [chunk[:mid], chunk[mid:]]
    return failed


def _unknown_or_inactive(con, period_date, contract_ids) -> dict[str, str]:
    if not contract_ids:
        return {}
    rows = dict(
        con.execute(
            "SELECT contract_id, start_date || ' – ' || coalesce(end_date::VARCHAR, 'open') "
            "FROM contracts WHERE list_contains(?, contract_id)",
            [contract_ids],
        ).fetchall()
    )
    active = {r[0] for r in con.execute("SELECT contract_id FROM _run_scope").fetchall()}
    out = {}
    for cid in contract_ids:
        if cid not in rows:
            out[cid] = "unknown contract"
        elif cid not in active:
            out[cid] = f"not active on {period_date} (contract {rows[cid]})"
    return out


def _run_once(
    con,
    run_id,
    period_date,
    scope: Scope,
    catch_up: bool,
    include,
    finalize,
    exclude: dict[str, str],
    progress: Progress,
    actor: str,
    resumed: bool,
) -> dict:
    with transaction(con):
        # with catch-up, _targets also holds every missed cycle before the date (several per contract)
        in_scope = targets_for_run(con, period_date, scope, catch_up=catch_up)
        con.execute("""CREATE OR REPLACE TEMP TABLE _run_scope AS
                       SELECT DISTINCT t.contract_id, c.customer_id
                       FROM _targets t JOIN contracts c USING (contract_id)""")
        named = None if scope.contract_ids is None else sorted(scope.contract_ids)
        failed = {**_unknown_or_inactive(con, period_date, named), **exclude}
        con.execute("DELETE FROM _targets WHERE list_contains(?, contract_id)", [list(exclude)])
        con.execute("""CREATE OR REPLACE TEMP TABLE _existing AS
                       SELECT t.contract_id, t.period_start, cl.invoice_id FROM _targets t
                       JOIN invoice_cycle_claims cl USING (contract_id, period_start)""")
        con.execute("""DELETE FROM _targets t USING _existing e
                       WHERE t.contract_id = e.contract_id AND t.period_start = e.period_start""")
        progress(0.15, f"rating {in_scope:,} contracts")
        rated = rate_targets(con)
        progress(0.55, "storing drafts")

        drafted = persist_rated(con, rated, run_id=run_id)
        # The run's drafts are read back by run_id: the run is one transaction, so every invoice
        # carrying its id was drafted just now (a crashed or conflicting attempt left none).
        con.execute(
            """INSERT INTO bill_run_items (run_id, contract_id, outcome, invoice_id, reason)
               WITH drafted AS (SELECT contract_id, period_start, invoice_id FROM invoices
                                WHERE run_id = ? AND contract_id IS NOT NULL)
               SELECT ?, contract_id, 'drafted', invoice_id, NULL FROM drafted
               UNION ALL SELECT ?, contract_id, 'existing', invoice_id, NULL FROM _existing
               UNION ALL SELECT ?, contract_id, 'nothing_to_bill', NULL, 'no line in the cycle' FROM _targets t
                         WHERE NOT EXISTS (SELECT 1 FROM drafted d
                                           WHERE d.contract_id = t.contract_id AND d.period_start = t.period_start)
               UNION ALL SELECT ?, unnest(?::VARCHAR[]), 'failed', NULL, unnest(?::VARCHAR[])""",
            [run_id, run_id, run_id, run_id, run_id, list(failed), list(failed.values())],
        )
        # the recurring templates' periods due by the date, of the scope's customers (none for named contracts)
        recurring = draft_recurring_tx(con, period_date, scope=scope, run_id=run_id)
        # no draft dated after 2199-12-31, of the drafts just made (in this transaction: rolled back if refused)
        check_run_drafts(con, run_id, period_date)
        swept, pending = 0, []
        if include:
            progress(0.75, "sweeping delayed charges")
            customers = [r[0] for r in con.execute("SELECT DISTINCT customer_id FROM _run_scope").fetchall()]
            swept, pending = sweep_delayed_charges(con, run_id, customers)
        # one `drafted` event per new draft, recurring ones too (after the sweep: it carries the charges swept onto it)
        record_drafted(con, "SELECT invoice_id FROM invoices WHERE run_id = ?", [run_id], actor)
        finalized = 0
        if finalize:
            progress(0.85, "finalizing")

            ids = [
                r[0]
                for r in con.execute(
                    "SELECT invoice_id FROM invoices WHERE run_id = ? AND status = 'draft' ORDER BY contract_id, "
                    "period_start",
                    [run_id],
                ).fetchall()
            ]
            # the auto-finalize path: approved and finalized in one step, recorded as such
            finalized = finalize_invoices_tx(con, ids, actor=actor, approve=True)
        existing = con.execute("SELECT count(*) FROM _existing").fetchone()[0]
        nothing = con.execute("SELECT count(*) FROM _targets").fetchone()[0] - drafted
        totals = run_totals(con, run_id)
        # what is still missed after the run (with catch-up: only cycles that failed or had nothing to bill)
        unbilled, unbilled_count = unbilled_cycles(con, period_date, scope, limit=UNBILLED_LISTED)
        result = dict(
            contracts_in_scope=in_scope,
            resumed=resumed,
            drafted=drafted,
            recurring_drafted=len(recurring),
            existing=existing,
            nothing_to_bill=nothing,
            failed=[FailedContract(contract_id=k, reason=v) for k, v in sorted(failed.items())],
            finalized=finalized,
            delayed_charges_swept=swept,
            delayed_charges_pending=pending,
            totals=totals,
            unbilled_cycles_count=unbilled_count,
            unbilled_cycles=unbilled,
        )
        finished = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        con.execute(
            "UPDATE bill_runs SET status = 'completed', finished_at = ?, report = ? WHERE run_id = ?",
            [finished, json.dumps({k: _jsonable(v) for k, v in result.items()}, default=str), run_id],
        )
        # stored now: free their memory
        drop_temp_tables(con, ("_rated_lines", "_rated_invoices", *ADJUSTMENT_RESULTS, "_new_ids"))
        # every write is done, the COMMIT is next: a named stage, so a crash test can stop the run right here
        progress(0.95, "committing")
    return {**result, "finished_at": finished}


def _jsonable(v):
    if isinstance(v, list):
        return [x.model_dump(mode="json") if hasattr(x, "model_dump") else x for x in v]
    return v


def run_totals(con, run_id: str, business_id: str | None = None) -> list[CurrencyTotals]:
    """Totals per currency of the invoices a run drafted (of one business's: `business_id`)."""
    rows = rows_as_dicts(
        con.execute(
            """SELECT currency, count(*) AS invoices, sum(subtotal_minor) AS s, sum(tax_minor) AS t,
                  sum(total_minor) AS tot, sum(discount_minor) AS d
           FROM invoices WHERE run_id = ? AND (?::VARCHAR IS NULL OR business_id = ?)
           GROUP BY currency ORDER BY currency""",
            [run_id, business_id, business_id],
        )
    )
    return [
        CurrencyTotals(
            currency=r["currency"],
            invoices=r["invoices"],
            subtotal=to_major(int(r["s"]), r["currency"]),
            tax=to_major(int(r["t"]), r["currency"]),
            total=to_major(int(r["tot"]), r["currency"]),
            discount=to_major(int(r["d"]), r["currency"]),
        )
        for r in rows
    ]


def _run_with_retries(
    con,
    run_id,
    period_date,
    scope: Scope,
    catch_up: bool,
    include,
    finalize,
    progress: Progress,
    actor: str,
    resumed: bool,
) -> dict:
    """Retry after write conflicts (another run won: its invoices are then 'existing'); after a
    rating failure, isolate the failing contracts and run again without them."""

    def run(exclude: dict[str, str]) -> dict:
        return retry_write_conflicts(
            lambda: _run_once(
                con, run_id, period_date, scope, catch_up, include, finalize, exclude, progress, actor, resumed
            )
        )

    try:
        return run({})
    except duckdb.InterruptException:
        raise  # stopped (a deadline, a server shutting down): the transaction is rolled back whole
    except duckdb.Error:
        progress(0.1, "isolating failing contracts")
        exclude = _isolate_failures(con, period_date, scope, catch_up)
        if not exclude:
            raise
        return run(exclude)


def bill_run(
    con: duckdb.DuckDBPyConnection,
    period_date: dt.date,
    *,
    contract_ids: list[str] | None = None,
    customer_ids: list[str] | None = None,
    business_id: str | None = None,
    include_delayed_charges: bool = False,
    finalize: bool = False,
    progress: Progress | None = None,
    requested_by: str | None = None,
    run_id: str | None = None,
    catch_up: bool = False,
    claimed: RunClaim | None = None,
) -> BillRunReport:
    """Draft every in-scope contract's invoice for the period of `period_date` (see module doc).
    `requested_by` is the actor of the run's audit events (default: the OS user). `run_id` (from
    new_bill_run_id) names a new run; an unfinished run of the same scope is resumed under its own id.
    With `catch_up`, also every missed cycle before the date (engine.rating.targets), each once, in the same
    transaction. The report counts (and lists the first of) the missed cycles still unbilled after the run.
    `claimed`: the run `claim_run` claimed with these same arguments (a background start); else it is claimed here.
    The run also drafts the recurring templates' periods due by the date (manual_invoices.draft_recurring_tx),
    counted apart in `recurring_drafted`."""
    progress = progress or no_progress
    requested_by = resolve_actor(requested_by)
    t0 = time.perf_counter()
    check_period_date(period_date, "period date")
    scope = Scope.of(contract_ids, customer_ids, business_id)  # the one place a run's scope is spelled out
    stored = stored_scope(scope, catch_up)
    scope_json = json.dumps(stored, sort_keys=True)
    progress(0.0, "starting bill run")
    claim = claimed or _start_run(con, period_date, scope_json, include_delayed_charges, finalize, requested_by, run_id)
    run_id, started = claim.run_id, claim.started_at
    try:
        result = _run_with_retries(
            con,
            run_id,
            period_date,
            scope,
            catch_up,
            include_delayed_charges,
            finalize,
            progress,
            requested_by,
            claim.resumed,
        )
    except BillsimError as exc:
        if refused_for_dates(exc):  # refused whole: its transaction rolled back, and no run is left 'running'
            con.execute("DELETE FROM bill_runs WHERE run_id = ? AND status = 'running'", [run_id])
        raise
    finally:
        release_run(run_id)
    progress(1.0, "done")
    return BillRunReport(
        run_id=run_id,
        period_date=period_date,
        status="completed",
        scope=stored,
        include_delayed_charges=include_delayed_charges,
        finalize=finalize,
        catch_up=catch_up,
        requested_by=requested_by,
        started_at=started,
        duration_s=round(time.perf_counter() - t0, 3),
        **result,
    )


def list_runs(con: duckdb.DuckDBPyConnection, limit: int = 50) -> list[dict]:
    """History of bill runs, newest first, with their stored report."""
    rows = rows_as_dicts(
        con.execute(
            """SELECT run_id, period_date, scope, include_delayed_charges, finalize, status, requested_by,
                  started_at, finished_at, report FROM bill_runs ORDER BY started_at DESC LIMIT ?""",
            [limit],
        )
    )
    for r in rows:
        r["report"] = json.loads(r["report"]) if r["report"] else None
        r["scope"] = json.loads(r["scope"])
    return rows


def stored_run(con: duckdb.DuckDBPyConnection, run_id: str) -> tuple[str, BillRunReport | None] | None:
    """(status, report) of a stored run (None: no such run). The report is None while the run is running (or
    was cut off by a crash) and when its stored text cannot be read."""
    row = con.execute(
        """SELECT run_id, period_date, scope, include_delayed_charges, finalize, status, requested_by,
                  started_at, finished_at, report FROM bill_runs WHERE run_id = ?""",
        [run_id],
    ).fetchone()
    if row is None:
        return None
    run_id, period_date, scope, include, finalize, status, requested_by, started, finished, report = row
    if status == "running" or not report:
        return status, None
    try:
        stored = json.loads(report)
        parsed = BillRunReport.model_validate(
            {
                **stored,
                "run_id": run_id,
                "period_date": period_date,
                "status": status,
                "scope": json.loads(scope),
                "include_delayed_charges": include,
                "finalize": finalize,
                "catch_up": bool(json.loads(scope).get("catch_up")),
                "requested_by": requested_by,
                "started_at": started,
                "finished_at": finished,
                "duration_s": (finished - started).total_seconds() if finished and started else None,
            }
        )
    except (pydantic.ValidationError, ValueError, TypeError):
        log.warning("bill run %s: stored report not readable", run_id)
        return status, None
    return status, parsed
