"""The one retry rule for transient write conflicts (engine.db): re-run on a conflict, raise anything
else at once, give up with DatabaseBusyError; each attempt is all-or-nothing."""

from __future__ import annotations

import duckdb
import pytest

from engine.db import is_write_conflict, retry_on_conflict, retry_write_conflicts
from engine.errors import DatabaseBusyError

CONFLICT = duckdb.TransactionException("TransactionContext Error: Catalog write-write conflict on update")
DUPLICATE = duckdb.ConstraintException('Constraint Error: Duplicate key "k: 1" violates primary key constraint')


class Flaky:
    """Fails with the given errors, in order, then returns 'done'."""

    def __init__(self, *errors: Exception):
        self.errors = list(errors)
        self.calls = 0

    def __call__(self):
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "done"


def test_conflicts_and_duplicate_keys_are_retried_until_the_attempt_succeeds():
    flaky = Flaky(CONFLICT, DUPLICATE)
    assert retry_write_conflicts(flaky) == "done"
    assert flaky.calls == 3


def test_an_error_that_is_not_a_conflict_is_raised_at_once():
    flaky = Flaky(duckdb.TransactionException("Current transaction is aborted (please ROLLBACK)"))
    with pytest.raises(duckdb.TransactionException):
        retry_write_conflicts(flaky)
    assert flaky.calls == 1
    flaky = Flaky(duckdb.OutOfRangeException("Overflow in multiplication"))
    with pytest.raises(duckdb.OutOfRangeException):
        retry_write_conflicts(flaky)
    assert flaky.calls == 1


def test_endless_conflicts_end_as_database_busy_after_the_attempts():
    flaky = Flaky(*[CONFLICT] * 10)
    with pytest.raises(DatabaseBusyError):
        retry_write_conflicts(flaky, attempts=4)
    assert flaky.calls == 4


def test_what_counts_as_a_conflict():
    assert is_write_conflict(CONFLICT) and is_write_conflict(DUPLICATE)
    assert not is_write_conflict(duckdb.ConstraintException("CHECK constraint failed: amount >= 0"))
    assert not is_write_conflict(ValueError("conflict"))


def test_a_conflicting_attempt_leaves_no_trace_and_the_retry_writes_once(con):
    con.execute("CREATE TABLE t (k INTEGER)")
    failures = [CONFLICT]

    def work(c):
        c.execute("INSERT INTO t VALUES (1)")
        if failures:
            raise failures.pop()
        return c.execute("SELECT count(*) FROM t").fetchone()[0]

    assert retry_on_conflict(con, work) == 1
    assert con.execute("SELECT count(*) FROM t").fetchone()[0] == 1
