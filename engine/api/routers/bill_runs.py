"""Bill runs over HTTP: started in the background (202 with the run id), followed with progress, and the
review flags of their drafts."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request, Response

from ...models import ReviewResult
from ...rating.cycles import check_period_date
from ...review import review
from ..auth import Caller, Db, Principal
from ..bill_run_jobs import stored_run
from ..errors import ApiError, not_found
from ..schemas import BillRunRequest, BillRunStatus
from ..tenancy import foreign_ids, run_business
from .common import router as new_router

router = new_router("bill-runs")


@router.post("/api/v1/bill-runs", status_code=202, response_model=BillRunStatus, summary="Start a bill run")
def start_bill_run(
    who: Caller,
    con: Db,
    body: BillRunRequest,
    request: Request,
    response: Response,
):
    """Draft the invoice of every active contract of the business (or of the given contracts or customers) for
    the period of `period_date`; answers at once with the run id. Follow it at GET /api/v1/bill-runs/{run_id}."""
    check_period_date(body.period_date, "period_date")
    for table, ids in (("contracts", body.contract_ids), ("customers", body.customer_ids)):
        foreign = foreign_ids(con, who.business_id, table, ids) if ids else []
        if foreign:
            raise not_found(table[:-1], foreign[0])
    job = request.app.state.jobs.start(
        who.business_id,
        who.token_name,
        period_date=body.period_date,
        contract_ids=body.contract_ids,
        customer_ids=body.customer_ids,
        include_delayed_charges=body.include_delayed_charges,
        finalize=body.finalize,
        catch_up=body.catch_up,
    )
    response.headers["Location"] = f"/api/v1/bill-runs/{job.run_id}"
    return job.view()


def _require_run(request: Request, con, who: Principal, run_id: str) -> BillRunStatus:
    job = request.app.state.jobs.get(run_id)
    if job is not None:
        if job.business_id != who.business_id:
            raise not_found("bill_run", run_id)
        if job.status != "completed" or job.report is not None:
            return job.view()
    if run_business(con, run_id) != who.business_id:
        raise not_found("bill_run", run_id)
    found = stored_run(con, run_id, live=job is not None)
    if found is None:
        raise not_found("bill_run", run_id)
    return found


@router.get("/api/v1/bill-runs/{run_id}", response_model=BillRunStatus, summary="A bill run's progress and report")
def get_bill_run(run_id: str, request: Request, who: Caller, con: Db):
    return _require_run(request, con, who, run_id)


@router.get("/api/v1/bill-runs/{run_id}/review", response_model=ReviewResult, summary="Review flags of a run's drafts")
def review_bill_run(
    who: Caller,
    con: Db,
    run_id: str,
    request: Request,
    flag: Annotated[list[str] | None, Query(description="only drafts with one of these flags")] = None,
):
    """Each draft of the run checked against its contract's previous invoice (spec section 8)."""
    status = _require_run(request, con, who, run_id)
    if status.status != "completed":
        raise ApiError(409, "bill_run_not_completed", f"bill run {run_id} is {status.status}; review it when completed")
    return review(con, run_id=run_id, flags=flag)
