"""Bill runs started over HTTP: each works in a thread with its own cursor, so the server keeps
answering; its progress (the engine's progress callback) is kept here while it runs, and its report
in the bill_runs table when it is done (readable after a restart too).

A run's id is chosen before it starts (engine.billing.bill_run.new_bill_run_id), so POST answers 202
with it at once. A stored run that is 'running' but not in this process was cut off by a stop of the
server: it is reported as interrupted (the engine resumes it when the same run is started again).
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass, field

import duckdb
import pydantic

from ..billing.bill_run import bill_run, new_bill_run_id
from ..errors import BillsimError
from ..models import BillRunReport
from . import faults
from .db_session import new_cursor
from .errors import engine_error_status
from .schemas import BillRunStatus, ErrorResponse

log = logging.getLogger("billsim.api")


@dataclass
class Job:
    run_id: str
    business_id: str
    status: str = "running"
    progress: float = 0.0
    stage: str | None = "queued"
    error: ErrorResponse | None = None
    report: BillRunReport | None = None
    thread: threading.Thread | None = field(default=None, repr=False)

    def view(self) -> BillRunStatus:
        return BillRunStatus(
            run_id=self.run_id,
            status=self.status,
            progress=self.progress,
            stage=self.stage,
            error=self.error,
            report=self.report,
        )


class BillRunJobs:
    """The runs this server process started (all businesses; callers check the business)."""

    def __init__(self, con: duckdb.DuckDBPyConnection):
        self._con = con
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()

    def start(self, business_id: str, actor: str, **run_args) -> Job:
        job = Job(run_id=new_bill_run_id(), business_id=business_id)
        job.thread = threading.Thread(target=self._work, args=(job, actor, run_args), name=job.run_id, daemon=True)
        with self._lock:
            self._jobs[job.run_id] = job
        job.thread.start()
        return job

    def _work(self, job: Job, actor: str, run_args: dict) -> None:
        def progress(done: float, label: str) -> None:
            job.progress, job.stage = round(max(0.0, min(1.0, done)), 4), label
            faults.pause(f"bill_run:{label}")  # a test's named stop (engine/api/faults.py); else nothing

        cur = new_cursor(self._con)
        try:
            report = bill_run(
                cur, business_id=job.business_id, requested_by=actor, run_id=job.run_id, progress=progress, **run_args
            )
            job.report, job.status, job.progress, job.stage = report, "completed", 1.0, "done"
        except BillsimError as exc:
            status, code = engine_error_status(exc)
            job.error, job.status = ErrorResponse(code=code, message=str(exc)), "failed"
        except Exception as exc:  # reported on the run and logged; the server goes on
            log.error("bill run %s failed", job.run_id, exc_info=exc)
            job.error, job.status = (
                ErrorResponse(code="internal_error", message="the run failed; see the server log"),
                "failed",
            )
        finally:
            cur.close()

    def get(self, run_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(run_id)

    def wait_all(self, timeout: float = 5.0) -> None:
        for job in list(self._jobs.values()):
            if job.thread is not None:
                job.thread.join(timeout)


def stored_run(con: duckdb.DuckDBPyConnection, run_id: str, live: bool) -> BillRunStatus | None:
    """A run from the bill_runs table (a run of an earlier server process, or one this process finished)."""
    row = con.execute(
        """SELECT run_id, period_date, scope, include_delayed_charges, finalize, status, requested_by,
                  started_at, finished_at, report FROM bill_runs WHERE run_id = ?""",
        [run_id],
    ).fetchone()
    if row is None:
        return None
    run_id, period_date, scope, include, finalize, status, requested_by, started, finished, report = row
    if status == "running":
        return BillRunStatus(
            run_id=run_id,
            status="running" if live else "interrupted",
            progress=0.0,
            stage="running" if live else "the server stopped during the run; start the same run again to resume it",
        )
    parsed = None
    if report:
        try:
            parsed = BillRunReport.model_validate(
                {
                    **json.loads(report),
                    "run_id": run_id,
                    "period_date": period_date,
                    "status": status,
                    "scope": json.loads(scope),
                    "include_delayed_charges": include,
                    "finalize": finalize,
                    "requested_by": requested_by,
                    "started_at": started,
                    "finished_at": finished,
                    "duration_s": (finished - started).total_seconds() if finished and started else None,
                }
            )
        except (pydantic.ValidationError, ValueError, TypeError):
            log.warning("bill run %s: stored report not readable", run_id)
    return BillRunStatus(run_id=run_id, status=status, progress=1.0, stage="done", report=parsed)
