"""Bill runs: run now (with progress) or start in the background and follow, report, review, approve the
unflagged drafts, the history; the review thresholds of a business.

A business's caller sees its own runs, and of a run over every business only its own part (tenancy.py).
"""

from __future__ import annotations

import datetime as dt

import duckdb

from ..billing import ownership
from ..billing.approval import approve_invoices_tx
from ..billing.bill_run import RunClaim, bill_run, claim_run, list_runs, new_bill_run_id, release_run, stored_run
from ..billing.ledger_queries import run_outcomes, run_totals_by_product
from ..billing.run_part import business_part
from ..errors import InvalidStateError, NotFoundError, ValidationError
from ..models import ApprovalResult, BillRunReport, ReviewResult, ReviewThresholds
from ..progress import Progress
from ..rating.targets import count_active_contracts, count_not_due
from ..review import ReviewColumns, get_thresholds, review, review_table, set_thresholds, unflagged_draft_ids
from ..review.flags import check_flags
from ..scope import Scope
from . import tenancy
from .requests import ApproveRequest, BillRunRequest, PeriodDateRequest, parse
from .results import BillRunStatus
from .session import Session

MAX_REVIEW_PAGE = 5000  # drafts in one page of a review (the MCP tool pages by default: see engine/mcp)


def _scope(s: Session, req: BillRunRequest) -> Scope:
    with s.cursor() as cur:
        return tenancy.scope(cur, s.caller, Scope.of(req.contract_ids, req.customer_ids, req.business_id))


def _arguments(s: Session, req: BillRunRequest, scope: Scope) -> dict:
    """The run's arguments, the same for claiming it and for running it (so the claim is the run's own)."""
    return dict(
        contract_ids=None if scope.contract_ids is None else list(scope.contract_ids),
        customer_ids=None if scope.customer_ids is None else list(scope.customer_ids),
        business_id=scope.business_id,
        include_delayed_charges=req.include_delayed_charges,
        finalize=req.finalize,
        catch_up=req.catch_up,
        requested_by=s.actor,
    )


def _bill(cur: duckdb.DuckDBPyConnection, s: Session, req: BillRunRequest, scope: Scope, progress, claimed=None):
    return bill_run(cur, req.period_date, **_arguments(s, req, scope), claimed=claimed, progress=progress)


def run(s: Session, request: BillRunRequest | dict, *, progress: Progress | None = None) -> BillRunReport:
    """Draft the invoice of every active contract in scope for the period of `period_date`, now (one
    crash-safe transaction; an unfinished run of the same scope is resumed)."""
    req = parse(BillRunRequest, request)
    scope = _scope(s, req)
    with s.cursor() as cur:
        return _bill(cur, s, req, scope, progress)


def start(s: Session, request: BillRunRequest | dict) -> BillRunStatus:
    """The same run, in the background: answers at once with the id it works under (an unfinished run of the same
    scope, e.g. one a stop of the server cut off, is resumed under ITS id); follow it with `status`."""
    req = parse(BillRunRequest, request)
    scope = _scope(s, req)
    with s.cursor() as cur:
        claim = claim_run(cur, req.period_date, **_arguments(s, req, scope), run_id=new_bill_run_id())

    def work(cur: duckdb.DuckDBPyConnection, run_id: str, progress: Progress, claimed: RunClaim = claim):
        try:
            return _bill(cur, s, req, scope, progress, claimed)
        finally:
            release_run(run_id)  # also when the run never got to start (bill_run releases it itself otherwise)

    stage = "resuming the interrupted run" if claim.resumed else "queued"
    return s.app.jobs.start(claim.run_id, s.caller.business_id, work, stage=stage).view()


def run_to_status(s: Session, request: BillRunRequest | dict) -> BillRunStatus:
    """`run` now, answered as `start` and `status` answer (status completed, with the report): for a front end
    whose process does not outlive the call (`billsim mcp` over stdio opens the database for one call), where a
    run in the background would be interrupted when the call ends."""
    report = run(s, request)
    return BillRunStatus(run_id=report.run_id, status="completed", progress=1.0, stage="done", report=report)


def status(s: Session, run_id: str) -> BillRunStatus:
    """A run's progress while it works here; its report once done (only the caller's part of it)."""
    job = s.app.jobs.get(run_id)
    if job is not None and job.status != "completed":  # working (or failed) in this process
        if job.business_id is not None:
            if not s.caller.sees(job.business_id):
                raise NotFoundError.of("bill_run", run_id)
        elif not s.caller.every_business:
            with s.cursor() as cur:
                tenancy.run(cur, s.caller, run_id)  # a local run: visible once it billed the caller's contracts
        return job.view()
    with s.cursor() as cur:
        part = tenancy.run(cur, s.caller, run_id)
        stored = stored_run(cur, run_id)
        if stored is None:
            raise NotFoundError.of("bill_run", run_id)
        state, report = stored
        if state == "running":
            live = job is not None
            return BillRunStatus(
                run_id=run_id,
                status="running" if live else "interrupted",
                progress=0.0,
                stage="running" if live else "the server stopped during the run; start the same run again to resume it",
            )
        if report is not None and part is not None:
            report = business_part(cur, report, part)
        return BillRunStatus(run_id=run_id, status=state, progress=1.0, stage="done", report=report)


def review_drafts(
    s: Session,
    *,
    run_id: str | None = None,
    period_date: dt.date | None = None,
    flags: list[str] | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> ReviewResult:
    """The drafts under review of a run (or whose cycle contains `period_date`) with their review flags, the
    count per flag and the cycles never billed; only the caller's. `limit`/`offset` page the drafts."""
    if (run_id is None) == (period_date is None):
        raise ValidationError("review needs either a run id or a period date (not both)")
    if period_date is not None:
        period_date = parse(PeriodDateRequest, {"period_date": period_date}).period_date
    check_flags(flags)
    if (limit is not None and not 1 <= limit <= MAX_REVIEW_PAGE) or offset < 0:
        raise ValidationError(f"limit must be 1..{MAX_REVIEW_PAGE} and offset not negative")
    if run_id is not None:
        state = status(s, run_id).status  # not found, or another business's: bill_run_not_found
        if state != "completed":
            raise InvalidStateError(
                f"bill run {run_id} is {state}; review it when completed", code="bill_run_not_completed"
            )
    business = None if s.caller.every_business else s.caller.business_id  # a business sees its own part
    with s.cursor() as cur:
        result = review(cur, run_id=run_id, period_date=period_date, flags=flags, business_id=business)
    return _page(result, limit, offset)


def review_columns(s: Session, *, run_id: str | None = None, period_date: dt.date | None = None) -> ReviewColumns:
    """The same review as one Arrow table (a row per draft) with the flag counts and the unbilled cycles: what the
    Review page draws, without a Python object per draft. A local user's (every business)."""
    tenancy.local_only(s.caller, "the review as columns")
    if (run_id is None) == (period_date is None):
        raise ValidationError("review needs either a run id or a period date (not both)")
    if period_date is not None:
        period_date = parse(PeriodDateRequest, {"period_date": period_date}).period_date
    if run_id is not None:
        state = status(s, run_id).status
        if state != "completed":
            raise InvalidStateError(
                f"bill run {run_id} is {state}; review it when completed", code="bill_run_not_completed"
            )
    with s.cursor() as cur:
        return review_table(cur, run_id=run_id, period_date=period_date)


def _page(result: ReviewResult, limit: int | None, offset: int) -> ReviewResult:
    if limit is None and offset == 0:
        return result
    drafts = result.drafts[offset : None if limit is None else offset + limit]
    return result.model_copy(update={"drafts": drafts, "drafts_total": len(result.drafts), "offset": offset})


def approve_unflagged(s: Session, run_id: str, note: str | None = None) -> ApprovalResult:
    """Approve every draft of the run (the caller's part) that has no review flag, in one transaction."""
    parse(ApproveRequest, {"note": note})
    with s.cursor() as cur:
        part = tenancy.run(cur, s.caller, run_id) or s.caller.business_id

    def work(cur: duckdb.DuckDBPyConnection) -> ApprovalResult:
        ids = unflagged_draft_ids(cur, run_id)
        if part is not None:
            owners = ownership.invoice_businesses(cur, ids)
            ids = [i for i in ids if owners.get(i) == part]
        return approve_invoices_tx(cur, ids, actor=s.actor, note=note)

    return s.transaction(work)


def history(s: Session, limit: int = 50) -> list[dict]:
    """The caller's bill runs, newest first, with their stored report."""
    with s.cursor() as cur:
        runs = list_runs(cur, limit=limit if s.caller.every_business else 10_000)
        if s.caller.every_business:
            return runs
        mine = []
        for r in runs:
            try:
                tenancy.run(cur, s.caller, r["run_id"])
            except NotFoundError:
                continue
            mine.append(r)
        return mine[:limit]


def outcomes(s: Session, run_id: str, *, outcome: str | None = None, limit: int = 500) -> list[dict]:
    """Per-contract outcomes of a run (drafted / existing / nothing_to_bill / failed), with the invoice as now."""
    with s.cursor() as cur:
        tenancy.run(cur, s.caller, run_id)
        tenancy.local_only(s.caller, "a run's per-contract outcomes")
        return run_outcomes(cur, run_id, outcome, limit)


def totals_by_product(s: Session, run_id: str) -> list[dict]:
    with s.cursor() as cur:
        tenancy.run(cur, s.caller, run_id)
        tenancy.local_only(s.caller, "a run's totals per product")
        return run_totals_by_product(cur, run_id)


def contracts_in_scope(s: Session, period_date: dt.date, scope: Scope) -> int:
    """How many contracts a run of `period_date` with this scope will rate (the run's own definition)."""
    with s.cursor() as cur:
        checked = tenancy.scope(cur, s.caller, scope)
        return count_active_contracts(cur, period_date, checked)


def cycles_not_due(s: Session, period_date: dt.date, scope: Scope, today: dt.date) -> int:
    """How many cycles a run of `period_date` with this scope would draft before they are due on `today`: their
    bill-for date is after it, in arrears or in advance (engine.rating.targets.count_not_due)."""
    with s.cursor() as cur:
        checked = tenancy.scope(cur, s.caller, scope)
        return count_not_due(cur, period_date, today, checked)


def _business(s: Session, business_id: str | None) -> str:
    business = business_id or s.caller.business_id or "default"
    if not s.caller.sees(business):
        raise NotFoundError.of("business", business)
    with s.cursor() as cur:
        if not ownership.business_exists(cur, business):  # thresholds of a typo were stored and never used
            raise NotFoundError.of("business", business)
    return business


def thresholds(s: Session, business_id: str | None = None) -> ReviewThresholds:
    """A business's review thresholds (the defaults when it set none)."""
    with s.cursor() as cur:
        return get_thresholds(cur, _business(s, business_id))


def change_thresholds(s: Session, business_id: str | None = None, **changes) -> ReviewThresholds:
    """Change some of a business's review thresholds (those not given stay as they are)."""
    business = _business(s, business_id)
    with s.cursor() as cur:
        return set_thresholds(cur, business, actor=s.actor, **changes)
