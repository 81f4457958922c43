"""Opening the workbench database. The connection is always passed in; nothing here is global."""

from __future__ import annotations

import os
import random
import time
import warnings
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import duckdb
import pyarrow as pa

from .errors import DatabaseBusyError
from .schema import migrate

T = TypeVar("T")

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DB = PROJECT_ROOT / "data" / "workbench.duckdb"


def default_db_path() -> Path:
    """`$BILLSIM_DB` if set, else data/workbench.duckdb of the project."""
    env = os.environ.get("BILLSIM_DB")
    return Path(env) if env else DEFAULT_DB


# DuckDB's Python API plans a query twice when its rows are read as Arrow through a relation (`con.sql(q)` binds
# it to describe the relation, reading it plans it again), and warns that reading them from an executed result
# instead costs a copy. For the review's wide rows the second planning costs more than the copy (measured:
# benchmarks/README.md, issue 22), so `arrow_table` reads the executed result and this one warning is silenced.
warnings.filterwarnings("ignore", message="Arrow output on a DB-API result makes an extra copy", category=UserWarning)


def arrow_table(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> pa.Table:
    """The rows of `sql` (values bound from `params`) as an Arrow table, the query planned once."""
    return con.execute(sql, params or []).to_arrow_table()


def _is_lock_error(exc: Exception) -> bool:
    text = str(exc).lower()
    return "could not set lock" in text or "conflicting lock" in text or "resource temporarily unavailable" in text


def connect(
    path: str | Path | None = None, *, read_only: bool = False, wait_seconds: float = 0.0
) -> duckdb.DuckDBPyConnection:
    """Open (creating and migrating if needed) a billsim database; ':memory:' for tests.

    DuckDB lets one process write a database file at a time. When another process holds it, wait up
    to `wait_seconds` for it to be released, then raise DatabaseBusyError naming the file.
    """
    target = ":memory:" if path == ":memory:" else str(Path(path) if path else default_db_path())
    if target != ":memory:":
        Path(target).parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            con = duckdb.connect(target, read_only=read_only)
            break
        except (duckdb.IOException, duckdb.ConnectionException) as exc:
            if not _is_lock_error(exc):
                raise
            if time.monotonic() >= deadline:
                raise DatabaseBusyError(
                    f"the database {target} is in use by another process (a bill run or the workbench); "
                    f"try again when it has finished, or pass --wait SECONDS"
                ) from None
            time.sleep(0.2)
    con.execute("SET TimeZone = 'UTC'")
    if not read_only:
        migrate(con)
    return con


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection):
    """BEGIN … COMMIT, ROLLBACK on any error: all-or-nothing writes."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
    except BaseException:
        con.execute("ROLLBACK")
        raise
    else:
        con.execute("COMMIT")


# --- transient write conflicts ------------------------------------------------------------------
# DuckDB's concurrency is optimistic: two cursors (threads, or a bill run and a draft) that write the
# same row or claim the same key conflict, and the later one's transaction fails whole. Re-running it
# on a fresh snapshot then sees the winner's rows (an existing invoice, a taken number) and does the
# right thing. This is the one place the engine decides what such a conflict is and how to retry it.

# Ten attempts with randomised exponential back-off (at most ~1 s of waiting in all): enough for a handful of threads
# finalizing one business at once on a loaded machine, short enough to report a truly busy database.
CONFLICT_ATTEMPTS = 10


def is_write_conflict(exc: BaseException) -> bool:
    """Another writer changed the same row or key first: a retry on a fresh snapshot can succeed."""
    if not isinstance(exc, duckdb.TransactionException | duckdb.ConstraintException):
        return False
    text = str(exc).lower()
    return "conflict" in text or "failed to commit" in text or "duplicate key" in text


def retry_write_conflicts(attempt: Callable[[], T], *, attempts: int = CONFLICT_ATTEMPTS) -> T:
    """Call `attempt()` (all-or-nothing: it holds its own transaction); again after a write conflict.

    Any other error is raised at once. After `attempts` conflicts the caller gets DatabaseBusyError
    rather than a raw DuckDB error."""
    for n in range(attempts):
        try:
            return attempt()
        except (duckdb.TransactionException, duckdb.ConstraintException) as exc:
            if not is_write_conflict(exc):
                raise
            if n == attempts - 1:
                raise DatabaseBusyError(
                    f"gave up after {attempts} write conflicts with concurrent changes; try again"
                ) from exc
            # Randomised exponential back-off so the writers that collided do not collide again.
            time.sleep(random.uniform(0, 0.002 * 2**n))  # n = 0 … 8: at most 0.5 s at the end
    raise AssertionError("unreachable")


def retry_on_conflict(con: duckdb.DuckDBPyConnection, work: Callable[[duckdb.DuckDBPyConnection], T]) -> T:
    """`work(con)` in its own transaction, re-run on a fresh snapshot after a write conflict."""

    def attempt() -> T:
        with transaction(con):
            return work(con)

    return retry_write_conflicts(attempt)
