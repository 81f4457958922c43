"""Bill runs over HTTP: started in the background (202 with the run id), followed with progress, and the
review flags of their drafts (a business sees its own runs, and of a run over every business its own part)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Response

from ...service import bill_runs
from ...service.models import ReviewResult
from ...service.requests import BillRunRequest
from ...service.results import BillRunStatus
from ..auth import Sess
from .common import router as new_router

router = new_router("bill-runs")


@router.post("/api/v1/bill-runs", status_code=202, response_model=BillRunStatus, summary="Start a bill run")
def start_bill_run(s: Sess, body: BillRunRequest, response: Response):
    """Draft the invoice of every active contract of the business (or of the given contracts or customers) for
    the period of `period_date`; answers at once with the run id. Follow it at GET /api/v1/bill-runs/{run_id}."""
    started = bill_runs.start(s, body)
    response.headers["Location"] = f"/api/v1/bill-runs/{started.run_id}"
    return started


@router.get("/api/v1/bill-runs/{run_id}", response_model=BillRunStatus, summary="A bill run's progress and report")
def get_bill_run(run_id: str, s: Sess):
    return bill_runs.status(s, run_id)


@router.get("/api/v1/bill-runs/{run_id}/review", response_model=ReviewResult, summary="Review flags of a run's drafts")
def review_bill_run(
    s: Sess,
    run_id: str,
    flag: Annotated[list[str] | None, Query(description="only drafts with one of these flags")] = None,
    limit: Annotated[int | None, Query(ge=1, le=bill_runs.MAX_REVIEW_PAGE, description="drafts per page")] = None,
    offset: Annotated[int, Query(ge=0)] = 0,
):
    """Each draft of the run checked against its contract's previous invoice (spec section 8)."""
    return bill_runs.review_drafts(s, run_id=run_id, flags=flag, limit=limit, offset=offset)
