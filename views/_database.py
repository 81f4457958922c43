"""The workbench's application: one `Billsim` per database file for the whole server, a `Session` per unit of
work (the sidebar's "Your name" as its actor), the session defaults, and swapping in a freshly built file
(regenerated demo data)."""

from __future__ import annotations

import threading
from collections.abc import Callable

import streamlit as st

from engine.service import Billsim, BillsimError, Caller, Session, ledger
from engine.service.application import default_path
from views import _whatif_steps as steps

_opened: dict[str, Billsim] = {}  # path -> the application opened for it, so it can be closed (tests, a new file)
_opened_lock = threading.Lock()
READER = Caller.local()  # reads change nothing: the OS user, every business


@st.cache_resource(show_spinner="Opening the workbench database…")
def application(path: str) -> Billsim:
    """Opened once per database file for the whole server (created and migrated if needed); a brand-new,
    empty database is seeded with the demo data on first start. Served by `billsim serve`, the workbench uses the
    server's own application (one connection for the workbench, the API and the CLI beside them)."""
    served = Billsim.shared_for(path)
    if served is not None:
        return served
    app = Billsim.open(path)
    try:
        ledger.seed_if_empty(app.session(Caller.local()))
    except BaseException:
        app.close()
        raise
    with _opened_lock:
        _opened[path] = app
    return app


def forget_database(path: str) -> None:
    """Close the application of `path` if one is open (tests, a replaced file; the server keeps it for its life),
    once no What-if waterfall is being worked out on one of its cursors."""
    steps.wait_idle()
    with _opened_lock:
        app = _opened.pop(path, None)
    if app is not None:
        app.close()
    application.clear(path)


def init_session() -> None:
    """Session defaults (called by app.py before routing)."""
    st.session_state.setdefault("db_path", default_path())
    st.session_state.setdefault("contract_id", None)  # chosen on the cycles / preview pages
    st.session_state.setdefault("period_start", None)  # start of the chosen cycle
    st.session_state.setdefault("done_actions", {})  # action token -> what it did (views._actions)
    st.session_state.setdefault("feedback", {"where": None, "messages": []})  # the last action's outcome (_actions)


def db_path() -> str:
    return st.session_state.get("db_path") or default_path()


def actor_name() -> str | None:
    """The name set in the sidebar ("Your name"); None: the OS user (Caller.local decides)."""
    return (st.session_state.get("actor") or "").strip() or None


def reader() -> Session:
    """A session that only reads (what a page draws), of every business: no actor is recorded, so it holds whatever
    is typed in "Your name" (a name the application layer refuses refuses the actions, never the page)."""
    return application(db_path()).session(READER)


def actor_problem() -> str | None:
    """Why the application layer refuses the sidebar's name as the actor of a change, or None."""
    try:
        Caller.local(actor_name())
    except BillsimError as exc:
        return str(exc)
    return None


def session() -> Session:
    """A session of this browser tab's user over the workbench database: every business, the sidebar's name as
    the actor of every change. Cheap: one per action or read (each operation takes a cursor of its own)."""
    return application(db_path()).session(Caller.local(actor_name()))


def replace_database(build: Callable[[Session], dict]) -> dict:
    """Build a new database beside the current file with `build(session)`, then swap it in
    (engine.service.ledger.replace_database: the old file serves until the new one is complete, and is kept as
    `<stem>.previous<suffix>`). The application of the old file is closed and the next read opens the new one.
    The caller clears the cached reads (they belong to the old file's contents)."""
    path = db_path()
    counts = ledger.replace_database(application(path), build, actor_name())
    forget_database(path)
    return counts
