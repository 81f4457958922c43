"""A caller's session: every operation of the application layer runs in one, as ONE unit of work.

    with session.cursor() as cur: ...          a read: one cursor, one snapshot per statement
    session.transaction(lambda cur: ...)       a write: one transaction, re-run whole after a write conflict

Both hold the session's deadline (a timer interrupts the query: `deadline_exceeded`), and translate what
the database says into the engine's typed errors, so no database text ever reaches a caller:

    interrupted by the deadline      TooMuchWorkError   deadline_exceeded   413
    out of the memory_limit          TooMuchWorkError   memory_exceeded     413
    a value beyond a column's type   ValidationError    amount_out_of_range 400
    the file cannot be read/written  StorageError       database_error      500
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, TypeVar

import duckdb

from ..db import retry_on_conflict
from ..errors import DatabaseBusyError, StorageError, TooMuchWorkError, out_of_range
from .caller import Caller

if TYPE_CHECKING:  # the application owns sessions; a session only reads its settings
    from .application import Billsim

T = TypeVar("T")
log = logging.getLogger("billsim.service")


class _Deadline:
    """Interrupts `cur`'s query after `seconds` (None: never), and every query after it until the unit of work
    ends (DuckDB ignores an interrupt while no query runs, so one between two statements would be lost)."""

    AGAIN_S = 0.05

    def __init__(self, cur: duckdb.DuckDBPyConnection, seconds: float | None) -> None:
        self.fired = False
        self._cur, self._seconds = cur, seconds
        self._timer: threading.Timer | None = None
        self._done = threading.Event()

    def _arm(self, delay: float) -> None:
        self._timer = threading.Timer(delay, self._fire)
        self._timer.daemon = True
        self._timer.start()

    def _fire(self) -> None:
        if self._done.is_set():
            return
        self.fired = True
        try:
            self._cur.interrupt()
        except duckdb.Error:
            pass  # the cursor was closed meanwhile
        self._arm(self.AGAIN_S)

    def __enter__(self) -> _Deadline:
        if self._seconds is not None:
            self._arm(self._seconds)
        return self

    def __exit__(self, *exc) -> None:
        self._done.set()
        if self._timer is not None:
            self._timer.cancel()


@contextmanager
def database_errors(deadline: _Deadline | None = None, seconds: float | None = None) -> Iterator[None]:
    """What the database says, as the engine's typed errors (see module doc); anything else propagates."""
    try:
        yield
    except duckdb.InterruptException:
        if deadline is not None and deadline.fired:
            raise TooMuchWorkError(
                f"the request took longer than {seconds:g} s, the most one request may take; narrow it "
                "(fewer contracts, a shorter range)"
            ) from None
        raise DatabaseBusyError("the request was interrupted (the server is stopping); try again") from None
    except duckdb.OutOfMemoryException:
        raise TooMuchWorkError(
            "the request needs more memory than the server allows; narrow it (fewer contracts, a shorter range)",
            code="memory_exceeded",
        ) from None
    except (duckdb.ConversionException, duckdb.OutOfRangeException) as exc:
        log.info("value out of range: %s", str(exc).splitlines()[0])
        raise out_of_range() from None
    except (duckdb.IOException, duckdb.FatalException, duckdb.InternalException) as exc:
        log.error("database error: %s", exc)
        raise StorageError(f"database error: {str(exc).splitlines()[0]}") from None


class Session:
    """One caller of one application (see module doc). Cheap: make one per request, command or rerun."""

    def __init__(self, app: Billsim, caller: Caller, *, deadline_s: float | None = None) -> None:
        self.app = app
        self.caller = caller
        self.deadline_s = deadline_s

    @property
    def actor(self) -> str:
        return self.caller.actor

    @contextmanager
    def cursor(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with self.app.database.cursor() as cur, _Deadline(cur, self.deadline_s) as deadline:
            with database_errors(deadline, self.deadline_s):
                yield cur

    def transaction(self, work: Callable[[duckdb.DuckDBPyConnection], T]) -> T:
        """`work(cur)` as one transaction: committed whole or not at all, re-run after a write conflict."""
        with self.cursor() as cur:
            return retry_on_conflict(cur, work)
