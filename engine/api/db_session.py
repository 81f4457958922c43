"""The database behind the API: ONE DuckDB connection per server process (DuckDB lets one process
open the file for writing), and a cursor of it for each request or background run.

A cursor is a connection of its own to the same database: its own transaction and temp tables, so
requests run side by side on the threadpool. Writers that collide are retried by the engine
(engine.db.retry_on_conflict / retry_write_conflicts), which re-runs the loser on a fresh snapshot.
"""

from __future__ import annotations

from collections.abc import Iterator

import duckdb
from fastapi import Request


def new_cursor(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    cur = con.cursor()
    cur.execute("SET TimeZone = 'UTC'")  # a cursor does not inherit the connection's setting
    return cur


def cursor(request: Request) -> Iterator[duckdb.DuckDBPyConnection]:
    """Dependency: a fresh cursor for this request, closed when the request is done."""
    cur = new_cursor(request.app.state.con)
    try:
        yield cur
    finally:
        cur.close()
