"""Bill runs working in the background (a server's): each in a thread with its own cursor, so the server keeps
answering; its progress (the engine's progress callback) is kept here while it runs, and its report in the
bill_runs table when it is done (readable after a restart too).

A run is claimed before it starts (engine.billing.bill_run.claim_run: a new id, or the id of the unfinished run it
resumes), so a start answers at once with the id the work runs under. A stored run that is 'running' but not in
this process was cut off by a stop of the server: it is reported as interrupted (the engine resumes it, under its
id, when the same run is started again).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import duckdb

from ..errors import BillsimError
from ..models import BillRunReport
from ..progress import Progress
from . import faults
from .database import Database
from .results import BillRunStatus, ErrorInfo
from .session import database_errors

log = logging.getLogger("billsim.service")

# What a job runs: (a cursor of its own, the run id, its progress callback) -> the run's report
RunWork = Callable[[duckdb.DuckDBPyConnection, str, Progress], BillRunReport]


@dataclass
class Job:
    run_id: str
    business_id: str | None  # the business that started it (None: a local caller, every business)
    status: str = "running"
    progress: float = 0.0
    stage: str | None = "queued"
    error: ErrorInfo | None = None
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
    """The runs this process started in the background (every business; readers check the business)."""

    def __init__(self, database: Database):
        self._database = database
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()

    def start(self, run_id: str, business_id: str | None, work: RunWork, *, stage: str = "queued") -> Job:
        job = Job(run_id=run_id, business_id=business_id, stage=stage)
        job.thread = threading.Thread(target=self._work, args=(job, work), name=run_id, daemon=True)
        with self._lock:
            self._jobs[run_id] = job
        job.thread.start()
        return job

    def _work(self, job: Job, work: RunWork) -> None:
        def progress(done: float, label: str) -> None:
            job.progress, job.stage = round(max(0.0, min(1.0, done)), 4), label
            faults.pause(f"bill_run:{label}")  # a test's named stop (engine/service/faults.py); else nothing

        try:
            with self._database.cursor() as cur, database_errors():
                report = work(cur, job.run_id, progress)
            job.report, job.status, job.progress, job.stage = report, "completed", 1.0, "done"
        except BillsimError as exc:
            job.error, job.status = ErrorInfo(code=exc.code, message=str(exc)), "failed"
        except Exception as exc:  # reported on the run and logged; the server goes on
            log.error("bill run %s failed", job.run_id, exc_info=exc)
            job.error = ErrorInfo(code="internal_error", message="the run failed; see the server log")
            job.status = "failed"

    def get(self, run_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(run_id)

    def running(self) -> list[Job]:
        with self._lock:
            return [j for j in self._jobs.values() if j.status == "running"]

    def wait_all(self, timeout: float = 5.0) -> None:
        for job in list(self._jobs.values()):
            if job.thread is not None:
                job.thread.join(timeout)
