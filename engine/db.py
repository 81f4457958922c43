"""Opening the workbench database. The connection is always passed in; nothing here is global."""

from __future__ import annotations

import os
import time
from contextlib import contextmanager
from pathlib import Path

import duckdb

from .errors import DatabaseBusyError
from .schema import migrate

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DB = PROJECT_ROOT / "data" / "workbench.duckdb"


def default_db_path() -> Path:
    """`$BILLSIM_DB` if set, else data/workbench.duckdb of the project."""
    env = os.environ.get("BILLSIM_DB")
    return Path(env) if env else DEFAULT_DB


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
