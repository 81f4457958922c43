"""What every workbench page shares: the connection, cached reads, guarded actions and formatting.

Pages call the engine's operations and `engine.io.workbench_queries` through these helpers; they never
write SQL and never import duckdb. Reads are cached per database file (`st.cache_data`) and the
cache is cleared after every write, so a page always shows what is stored.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
import weakref
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from engine.currencies import minor_units
from engine.db import connect, default_db_path
from engine.errors import BillsimError, DatabaseBusyError
from engine.io import workbench_queries as q
from engine.money import format_money

PAGES = {
    "data": "views/data.py",
    "cycles": "views/billing_cycles.py",
    "preview": "views/invoice_preview.py",
    "run": "views/bill_run.py",
    "ledger": "views/ledger.py",
    "scenarios": "views/scenarios.py",
}


# --- routing ------------------------------------------------------------------------------------------


def go_to(page: str, **state) -> None:
    """A button's on_click: remember `state`, then app.py switches to `page` on the rerun.

    Callbacks run before the script, so the click is never lost (a plain `if st.button(...)` is
    lost when the run restarts), and st.switch_page cannot be called from a callback."""
    st.session_state.update(state)
    st.session_state["goto"] = page


# --- the database ---------------------------------------------------------------------------------

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
    st.session_state.setdefault("done_actions", set())  # tokens of actions already carried out
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
    imports only add rows, and the engine has no operation that empties a database."""
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
    data_changed()
    return counts


@st.cache_data(show_spinner=False, max_entries=512)
def _cached(name: str, path: str, args: tuple, kwargs: tuple) -> Any:
    with shared_database(path).cursor() as cur:
        return _READERS[name](cur, *args, **dict(kwargs))


def _preview(cur, contract_id: str, period_date: dt.date):
    from engine.billing.invoices import preview_invoice

    return preview_invoice(cur, contract_id, period_date)


def _cycles(cur, contract_id: str, from_date: dt.date, to_date: dt.date):
    from engine.rating.cycles import billing_cycles

    return billing_cycles(cur, contract_id, from_date, to_date)


def _invoice(cur, invoice_id: str):
    from engine.billing.invoice_store import load_invoice

    return load_invoice(cur, invoice_id)


def _ledger(cur, filters: dict, limit: int, offset: int):
    from engine.io.export import ledger_frames

    return ledger_frames(cur, filters=filters, limit=limit, offset=offset)


def _runs(cur, limit: int):
    from engine.billing.bill_run import list_runs

    return list_runs(cur, limit=limit)


_READERS: dict[str, Callable] = {
    **{
        name: getattr(q, name)
        for name in (
            "table_counts",
            "customer_counts",
            "invoice_counts",
            "usage_counts",
            "browse_table",
            "search_contracts",
            "contract_details",
            "search_customers",
            "businesses",
            "invoice_currencies",
            "contracts_in_scope",
            "usage_date_range",
            "contract_invoices",
            "cycle_invoice_id",
            "pending_usage_by_cycle",
            "invoice_payments",
            "run_totals_by_product",
            "run_outcomes",
        )
    },
    "preview_invoice": _preview,
    "billing_cycles": _cycles,
    "load_invoice": _invoice,
    "ledger_frames": _ledger,
    "list_runs": _runs,
}


def read(name: str, *args, **kwargs) -> Any:
    """A cached read-only query by name (see `_READERS`), keyed by database file and arguments."""
    if name not in _READERS:
        raise KeyError(name)
    return _cached(name, db_path(), args, tuple(sorted(kwargs.items())))


def data_changed() -> None:
    """After any write: every cached read may be stale."""
    st.cache_data.clear()


# --- guarded actions --------------------------------------------------------------------------------


def flash(kind: str, text: str) -> None:
    st.session_state.setdefault("flash", []).append((kind, text))


def show_flash() -> None:
    """Messages of the action just carried out (by a button callback), shown once."""
    for kind, text in st.session_state.get("flash", []):
        {"error": st.error, "warning": st.warning, "info": st.info}.get(kind, st.success)(text)
    st.session_state["flash"] = []


def run_action(token: tuple, label: str, work: Callable[[], str | None], *, show_refusal: bool = True) -> None:
    """Carry out a write once per token (a button's on_click callback).

    The token names the action and the state the button was drawn for (e.g. ('finalize', invoice_id)),
    so a double click, or a rerun that replays the click, finds the token done and does nothing.
    A refused action (BillsimError) is shown as an error (unless the page shows it itself:
    `show_refusal=False`) and leaves its token free for a retry.
    """
    done: set = st.session_state.setdefault("done_actions", set())
    if token in done:
        flash("info", f"{label}: already done, nothing changed.")
        return
    done.add(token)
    try:
        with st.spinner(f"{label}…"):
            message = work()
    except BillsimError as exc:
        done.discard(token)
        if show_refusal:
            flash("error", f"{label} refused: {exc}")
    else:
        if message:
            flash("success", message)
    finally:
        data_changed()


# --- formatting -------------------------------------------------------------------------------------


def money(minor: int | None, currency: str) -> str:
    return "" if minor is None else format_money(int(minor), currency)


def money_of_major(amount: Decimal | str | None, currency: str) -> str:
    """An amount in major units ('35.48') -> '$35.48'; one with more decimals than the currency has
    (not rounded yet, e.g. a pending delayed charge) is shown exactly, with its currency code."""
    if amount is None or amount == "" or (isinstance(amount, float) and pd.isna(amount)):
        return ""
    minor = Decimal(str(amount)).scaleb(minor_units(currency))
    if minor != minor.to_integral_value():
        return f"{plain_number(amount)} {currency}"
    return format_money(int(minor), currency)


def fmt_date(value) -> str:
    if value is None or (not isinstance(value, dt.date) and pd.isna(value)):
        return ""
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def dates_as_dates(frame: pd.DataFrame) -> pd.DataFrame:
    """DuckDB DATE columns arrive as datetime64: show them as dates, not midnight timestamps."""
    out = frame.copy()
    for col in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[col]):
            ser = out[col]
            is_midnight = ser.dropna().eq(ser.dropna().dt.normalize()).all()
            out[col] = ser.dt.date if is_midnight and not col.endswith("_at") else ser.dt.floor("s")
    return out


def plain_number(value) -> str:
    """An exact decimal without trailing zeros, as text ('' for none)."""
    if value is None:
        return ""
    return format(Decimal(str(value)).normalize(), "f")
