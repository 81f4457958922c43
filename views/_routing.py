"""Where the pages are and how a button takes the user to another page."""

from __future__ import annotations

import streamlit as st

PAGES = {
    "data": "views/data.py",
    "cycles": "views/billing_cycles.py",
    "preview": "views/invoice_preview.py",
    "run": "views/bill_run.py",
    "review": "views/review.py",
    "ledger": "views/ledger.py",
    "scenarios": "views/scenarios.py",
    "manual": "views/manual_invoices.py",
    "api": "views/api.py",
}


def go_to(page: str, **state) -> None:
    """A button's on_click: remember `state`, then app.py switches to `page` on the rerun.

    Callbacks run before the script, so the click is never lost (a plain `if st.button(...)` is
    lost when the run restarts), and st.switch_page cannot be called from a callback."""
    st.session_state.update(state)
    st.session_state["goto"] = page
