"""A simulation's baseline kept for the next simulation over the same data, range and contracts (issue 22): an
analyst who changes a percent and runs again waits for the scenario's rating only.

    key      sha256 of the range, the contracts simulated and, per input table the rating reads (the overlay's
             copied tables, customers, usage), count(*) and sum(hash(row)) over every row
    restore  the kept targets, baseline rows and baseline taxes copied into the cursor's temp tables
             (ALL_TARGETS, BASELINE, BASELINE_TAX): exactly what rating the baseline leaves there
    keep     after a baseline was rated: those temp tables copied into the store, under its key, when the key
             read again after the rating is the same (the data did not change while it was rated)

The key reads every row of the inputs (≈ 0.2 s for 10M usage rows, against ≈ 3 s to rate a year of 100k contracts),
so a change of the data made by any means (an import, a usage row added, a database replaced, a notebook's UPDATE)
is another key: nothing has to remember to forget a baseline. Rating code and currency rules are the process's
own, so a store lives no longer than its process.

The store is an in-memory catalog ATTACHed to the database instance (`kept_<hex>`), so every cursor of one
application sees it (temp tables are per cursor). It holds one baseline, the latest kept, of at most
KEPT_BASELINE_MAX_ROWS rows (a larger one is rated each time); a lock makes a copy in or out whole. Its memory counts
against DuckDB's `memory_limit` like any table's (spilled past it).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
import uuid
from collections.abc import Callable

import duckdb

from ..limits import KEPT_BASELINE_MAX_ROWS
from .compare import ALL_TARGETS, BASELINE, BASELINE_TAX
from .overlay import COPIED

INPUTS = (*COPIED, "customers", "usage")  # every stored table the baseline's targets and rating read
# the temp tables a baseline's rating leaves -> their names in the store
KEPT = {ALL_TARGETS: "targets", BASELINE: "baseline", BASELINE_TAX: "baseline_tax"}


def baseline_key(
    con: duckdb.DuckDBPyConnection,
    stored: str,
    from_date: dt.date,
    to_date: dt.date,
    contract_ids: list[str] | None,
) -> str:
    """What a baseline depends on: the range, the contracts (None: all) and every row of every input table."""
    h = hashlib.sha256()
    scope = None if contract_ids is None else sorted(set(contract_ids))  # as JSON: null is never a list of ids
    h.update(json.dumps([from_date.isoformat(), to_date.isoformat(), scope]).encode())
    h.update(b"\x1e")
    for table in INPUTS:
        rows, digest = con.execute(f"SELECT count(*), sum(hash(t))::HUGEINT FROM {stored}.{table} t").fetchone()  # noqa: S608 (the engine's own schema and table names)
        h.update(f"{table}:{rows}:{digest}".encode())
        h.update(b"\x1e")
    return h.hexdigest()


class KeptBaseline:
    """One application's kept baseline (at most one at a time), shared by its cursors."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._catalog: str | None = None
        self._key: str | None = None
        self._cycles = 0

    def restore(self, con: duckdb.DuckDBPyConnection, key: str) -> int | None:
        """Copy the baseline kept under `key` into `con`'s temp tables; its number of cycles, or None when none is
        kept under that key."""
        with self._lock:
            if self._key != key or not self._attached(con):
                return None
            for temp, kept in KEPT.items():
                con.execute(f"CREATE OR REPLACE TEMP TABLE {temp} AS SELECT * FROM {self._catalog}.{kept}")  # noqa: S608 (engine names)
            return self._cycles

    def keep(
        self, con: duckdb.DuckDBPyConnection, key: str, cycles: int, unchanged: Callable[[], bool] = lambda: True
    ) -> bool:
        """Keep the baseline `con`'s temp tables hold under `key`, replacing the one kept before, unless it has more
        than KEPT_BASELINE_MAX_ROWS rows or `unchanged()` (asked only when it fits: it reads the data again) says the
        data changed while it was rated; then the one kept before stays. Whether it was kept."""
        if con.execute(f"SELECT count(*) FROM {BASELINE}").fetchone()[0] > KEPT_BASELINE_MAX_ROWS:  # noqa: S608 (engine name)
            return False
        if not unchanged():
            return False
        with self._lock:
            if not self._attached(con):
                self._catalog = f"kept_{uuid.uuid4().hex[:12]}"
                con.execute(f"ATTACH ':memory:' AS {self._catalog} (READ_WRITE)")  # also from a read-only connection
            self._key = None  # until every table is copied: a copy cut short keeps nothing
            for temp, kept in KEPT.items():
                con.execute(f"CREATE OR REPLACE TABLE {self._catalog}.{kept} AS SELECT * FROM {temp}")  # noqa: S608 (engine names)
            self._key, self._cycles = key, cycles
        return True

    def forget(self, con: duckdb.DuckDBPyConnection) -> None:
        """Drop what is kept (its memory too)."""
        with self._lock:
            if self._attached(con):
                con.execute(f"DETACH {self._catalog}")
            self._catalog, self._key, self._cycles = None, None, 0

    def _attached(self, con: duckdb.DuckDBPyConnection) -> bool:
        """The store's catalog is attached to `con`'s database instance (a store used with another instance, e.g. a
        database replaced under the same application, has nothing kept there)."""
        if self._catalog is None:
            return False
        found = con.execute("SELECT count(*) FROM duckdb_databases() WHERE database_name = ?", [self._catalog])
        return found.fetchone()[0] == 1
