"""Billsim, the application: one per database file per process, shared by every caller of that process.

    app = Billsim.open(path)                       # the CLI (per command), the workbench (per file), a server
    session = app.session(Caller.local("ana"))     # one per request / command / rerun
    invoices.preview(session, "K-1", date(2026, 3, 15))

It holds what outlives one request: the database (one connection, cursors per unit of work), the bill runs
working in the background (a server's), the queue that rates previews asked at the same time together (a
server's), the slots documents are printed to PDF in, the last what-if baseline (for the next simulation of the same
data), and the bounds of one request (a deadline; DuckDB's
memory_limit for the process).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from ..db import default_db_path
from ..whatif.kept_baseline import KeptBaseline
from .bill_run_jobs import BillRunJobs
from .caller import Caller
from .database import Database
from .preview_queue import PreviewQueue
from .printing import Printer
from .session import Session


def default_path() -> str:
    """The database a local front end opens when none is named: $BILLSIM_DB, else data/workbench.duckdb."""
    return str(default_db_path())


_SHARED: dict[str, Billsim] = {}  # resolved path -> the process's application for that file (a server's)
_SHARED_LOCK = threading.Lock()


def _key(path: str | Path) -> str:
    return path if str(path) == ":memory:" else str(Path(path).resolve())


class Billsim:
    def __init__(
        self,
        database: Database,
        *,
        deadline_s: float | None = None,
        batch_previews: bool = False,
        keep_baselines: bool = True,
    ) -> None:
        self.database = database
        self.deadline_s = deadline_s
        self.jobs = BillRunJobs(database)
        self.previews = PreviewQueue(database) if batch_previews else None
        self.printer = Printer()  # PDF printing: a few documents at a time in the process
        # the last what-if baseline, for the next simulation of the same data, range and contracts (None: the CLI's
        # application, which lives for one command)
        self.kept_baseline = KeptBaseline() if keep_baselines else None

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
        create: bool = True,
        keep_baselines: bool = True,
    ) -> Billsim:
        """Open (migrating if needed) the database at `path` (default: the workbench's); create it when there is none,
        or, with `create=False`, refuse a path where no database file exists (database_not_found)."""
        database = Database(
            path, wait_seconds=wait_seconds, read_only=read_only, memory_limit=memory_limit, create=create
        )
        return cls(database, deadline_s=deadline_s, batch_previews=batch_previews, keep_baselines=keep_baselines)

    @property
    def path(self) -> str:
        return self.database.path

    def session(self, caller: Caller, *, deadline_s: float | None = None) -> Session:
        return Session(self, caller, deadline_s=self.deadline_s if deadline_s is None else deadline_s)

    # --- one application per file per process: a server shares its own with the workbench it serves ---------

    def share(self) -> Billsim:
        """Make this the process's application for its file: `Billsim.shared(path)` answers it."""
        with _SHARED_LOCK:
            _SHARED[_key(self.path)] = self
        return self

    def unshare(self) -> None:
        with _SHARED_LOCK:
            if _SHARED.get(_key(self.path)) is self:
                del _SHARED[_key(self.path)]

    @classmethod
    def shared_for(cls, path: str | Path) -> Billsim | None:
        """The application this process shares for the file at `path` (a server's), if any."""
        with _SHARED_LOCK:
            return _SHARED.get(_key(path))

    @property
    def is_shared(self) -> bool:
        return self.shared_for(self.path) is self

    def stop(self, within_s: float = 6.0) -> None:
        """Shut down within `within_s`: hand out no new cursor, interrupt what runs (a bill run in progress rolls
        back whole: its stored run stays 'running' and resumes when started again) until it has ended, close."""
        deadline = time.monotonic() + within_s
        self.database.interrupt(stop=True)
        while self.jobs.running() and time.monotonic() < deadline:
            self.database.interrupt(stop=True)  # DuckDB ignores an interrupt between two statements: again
            for job in self.jobs.running():
                if job.thread is not None:
                    job.thread.join(0.05)
        self.close(wait_s=0)

    def close(self, *, wait_s: float = 5.0) -> None:
        """Finish what is running (bill runs up to `wait_s`, queued previews), then close the database."""
        self.unshare()
        self.jobs.wait_all(wait_s)
        if self.previews is not None:
            self.previews.stop()
        self.database.close()

    def __enter__(self) -> Billsim:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
