"""The process's handle on one database file: ONE DuckDB connection (DuckDB lets one process write a file)
and the cursors handed out from it, one per unit of work.

A cursor is a connection of its own to the same database (its own transaction and temp tables), so
requests, sessions and background runs work side by side. Closing the database closes every cursor still
open (the workbench swapping in a freshly built file; a server shutting down).
"""

from __future__ import annotations

import re
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from ..db import connect, default_db_path
from ..errors import DatabaseBusyError, NotFoundError, StorageError, ValidationError

_MEMORY = re.compile(r"^\d{1,6}(\.\d{1,3})?\s?(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$")


def require_database(path: str | Path) -> None:
    """Refuse a database path where no file exists, before anything is created there (a file, a folder, a server's
    lock): a mistyped --db or $BILLSIM_DB must not become a new, empty ledger. `billsim init` (and `import`) create
    one; every other command reads or changes an existing ledger."""
    if str(path) != ":memory:" and not Path(path).exists():
        raise NotFoundError(
            f"no database at {path}: create one with `billsim --db {path} init` (--demo for the demo data), "
            "or check --db / $BILLSIM_DB",
            code="database_not_found",
        )


class Database:
    """One database file opened by this process (see module doc)."""

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        wait_seconds: float = 0.0,
        read_only: bool = False,
        memory_limit: str | None = None,
        create: bool = True,
    ) -> None:
        """`create`: make the file (and its folder) when it does not exist; else refuse (require_database)."""
        self.path = ":memory:" if path == ":memory:" else str(Path(path) if path else default_db_path())
        if not create:
            require_database(self.path)
        try:
            self._con = connect(self.path, read_only=read_only, wait_seconds=wait_seconds)
        except duckdb.Error as exc:  # not a database, corrupt, unreadable: no retry or input fixes it
            raise StorageError(f"database error: {str(exc).splitlines()[0]}") from None
        if memory_limit is not None:
            if not _MEMORY.match(memory_limit):
                self._con.close()
                raise ValidationError(f"not a memory size: {memory_limit!r} (e.g. 2GB, 512MB)")
            self._con.execute(f"SET memory_limit = '{memory_limit}'")  # checked against the pattern above
        self._cursors: weakref.WeakSet = weakref.WeakSet()
        self._lock = threading.Lock()
        self.closed = False
        self.stopping = False

    @classmethod
    def over(cls, con: duckdb.DuckDBPyConnection, path: str = ":memory:") -> Database:
        """A Database over a connection opened elsewhere (a notebook's, a test's in-memory one); closing it
        closes the connection."""
        db = cls.__new__(cls)
        db.path, db._con = path, con
        db._cursors, db._lock, db.closed, db.stopping = weakref.WeakSet(), threading.Lock(), False, False
        return db

    def open_cursor(self) -> duckdb.DuckDBPyConnection:
        """A cursor of its own (own transaction, temp tables, thread); the caller closes it."""
        with self._lock:
            if self.closed or self.stopping:
                raise DatabaseBusyError(f"the database {self.path} was closed (replaced or shut down); try again")
            cur = self._con.cursor()
            self._cursors.add(cur)
        # cursors do not inherit the connection's setting; fetched, so no unfinished result stays behind
        cur.execute("SET TimeZone = 'UTC'").fetchall()
        return cur

    @contextmanager
    def cursor(self) -> Iterator[duckdb.DuckDBPyConnection]:
        cur = self.open_cursor()
        try:
            yield cur
        finally:
            cur.close()

    def interrupt(self, *, stop: bool = False) -> None:
        """Interrupt every query running on a cursor of this database; with `stop`, hand out no new cursor (a
        server shutting down)."""
        with self._lock:
            self.stopping = self.stopping or stop
            cursors = list(self._cursors)
        for cur in cursors:
            try:
                cur.interrupt()
            except duckdb.Error:
                pass  # already closed

    def close(self) -> None:
        with self._lock:
            if self.closed:
                return
            self.closed = True
            cursors = list(self._cursors)
        for cur in cursors:
            try:
                cur.close()
            except duckdb.Error:
                pass
        self._con.close()
