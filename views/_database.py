"""The workbench's database: one shared connection per file for the whole server, a cursor per
session, the session defaults, and swapping in a freshly built file (regenerated demo data)."""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

import streamlit as st

from engine.db import connect, default_db_path
from engine.errors import DatabaseBusyError
from engine.io import workbench_queries as q

_open_databases: weakref.WeakSet = weakref.WeakSet()


class SharedDatabase:
    """The server's one connection to a database file (DuckDB lets one process write a file) and every
    cursor handed out from it, so that replacing the file can close them all first."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.con = connect(path)
        self._cursors: weakref.WeakSet = weakref.WeakSet()
        self._lock = threading.Lock()
        self.closed = False
        _open_databases.add(self)

    def cursor(self):
        """A cursor of its own for a session or a cached read (own temp tables, own thread)."""
        with self._lock:
            if self.closed:
                raise DatabaseBusyError(f"the database {self.path} was just replaced; reload the page")
            cur = q.open_cursor(self.con)
            self._cursors.add(cur)
            return cur

    def close(self) -> None:
        with self._lock:
            self.closed = True
            for cur in list(self._cursors):
                cur.close()
            self.con.close()


@st.cache_resource(show_spinner="Opening the workbench database…")
def shared_database(path: str) -> SharedDatabase:
    """Opened once per database file for the whole server; a brand-new, empty database is seeded with
    the demo data on first start."""
    db = SharedDatabase(path)
    with db.cursor() as cur:
        if q.is_empty(cur):
            from engine.ingest.demo import seed_demo

            seed_demo(cur)
    return db


def forget_database(path: str) -> None:
    """Close the shared connection of `path` if one is open (tests; the server keeps it for its life)."""
    for db in list(_open_databases):
        if db.path == path and not db.closed:
            db.close()
    shared_database.clear()


def init_session() -> None:
    """Session defaults (called by app.py before routing)."""
    st.session_state.setdefault("db_path", str(default_db_path()))
    st.session_state.setdefault("contract_id", None)  # chosen on the cycles / preview pages
    st.session_state.setdefault("period_start", None)  # start of the chosen cycle
    st.session_state.setdefault("done_actions", {})  # action token -> what it did (views._actions)
    st.session_state.setdefault("flash", [])  # messages of the last action, shown once


def db_path() -> str:
    return st.session_state.get("db_path") or str(default_db_path())


def cursor():
    """This session's cursor of the shared connection (a new one after the database was replaced)."""
    db = shared_database(db_path())
    held = st.session_state.get("_cursor")
    if held is None or held[0] is not db:
        held = (db, db.cursor())
        st.session_state["_cursor"] = held
    return held[1]


def replace_database(build: Callable[[Any], dict]) -> dict:
    """Build a new database beside the current file with `build(con)`, then swap it in.

    The old database serves every session until the new one is complete; a failed build leaves it
    untouched. The old file is kept as `<stem>.previous<suffix>`. Used to regenerate the demo data:
    imports only add rows, and the engine has no operation that empties a database. The caller
    clears the cached reads (they belong to the old file's contents)."""
    path = Path(db_path())
    fresh = path.with_name(f"{path.stem}.building{path.suffix}")
    previous = path.with_name(f"{path.stem}.previous{path.suffix}")
    for leftover in (fresh, Path(f"{fresh}.wal")):
        leftover.unlink(missing_ok=True)
    con = connect(fresh)
    try:
        counts = build(con)
    except BaseException:
        con.close()
        fresh.unlink(missing_ok=True)
        raise
    con.close()
    shared_database(str(path)).close()
    shared_database.clear()
    Path(f"{previous}.wal").unlink(missing_ok=True)
    if path.exists():
        os.replace(path, previous)
    if Path(f"{path}.wal").exists():
        os.replace(f"{path}.wal", f"{previous}.wal")
    os.replace(fresh, path)
    st.session_state.pop("_cursor", None)
    st.cache_data.clear()
    return counts
