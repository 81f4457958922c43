"""Billsim, the application: one per database file per process, shared by every caller of that process.

    app = Billsim.open(path)                       # the CLI (per command), the workbench (per file), a server
    session = app.session(Caller.local("ana"))     # one per request / command / rerun
    invoices.preview(session, "K-1", date(2026, 3, 15))

It holds what outlives one request: the database (one connection, cursors per unit of work), the bill runs
working in the background (a server's), the queue that rates previews asked at the same time together (a
server's), and the bounds of one request (a deadline; DuckDB's memory_limit for the process).
"""

from __future__ import annotations

from pathlib import Path

from ..db import default_db_path
from .bill_run_jobs import BillRunJobs
from .caller import Caller
from .database import Database
from .preview_queue import PreviewQueue
from .session import Session


def default_path() -> str:
    """The database a local front end opens when none is named: $BILLSIM_DB, else data/workbench.duckdb."""
    return str(default_db_path())


class Billsim:
    def __init__(self, database: Database, *, deadline_s: float | None = None, batch_previews: bool = False) -> None:
        self.database = database
        self.deadline_s = deadline_s
        self.jobs = BillRunJobs(database)
        self.previews = PreviewQueue(database) if batch_previews else None

    @classmethod
    def open(
        cls,
        path: str | Path | None = None,
        *,
        wait_seconds: float = 0.0,
        read_only: bool = False,
        memory_limit: str | None = None,
        deadline_s: float | None = None,
        batch_previews: bool = False,
    ) -> Billsim:
        """Open (creating and migrating if needed) the database at `path` (default: the workbench's)."""
        database = Database(path, wait_seconds=wait_seconds, read_only=read_only, memory_limit=memory_limit)
        return cls(database, deadline_s=deadline_s, batch_previews=batch_previews)

    @property
    def path(self) -> str:
        return self.database.path

    def session(self, caller: Caller, *, deadline_s: float | None = None) -> Session:
        return Session(self, caller, deadline_s=self.deadline_s if deadline_s is None else deadline_s)

    def close(self, *, wait_s: float = 5.0) -> None:
        """Finish what is running (bill runs up to `wait_s`, queued previews), then close the database."""
        self.jobs.wait_all(wait_s)
        if self.previews is not None:
            self.previews.stop()
        self.database.close()

    def __enter__(self) -> Billsim:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
