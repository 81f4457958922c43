"""Billsim workbench entry: sets the session defaults, opens the database, routes to the pages."""

import streamlit as st

from engine.service import BillsimError, Caller
from engine.service.limits import MAX_NAME
from views import _reads
from views._actions import clear_feedback, count_run
from views._database import actor_problem, application, db_path, init_session
from views._routing import PAGES

st.set_page_config(page_icon=":material/receipt_long:", layout="wide")
init_session()
count_run()  # views._actions.refusal_until_next_action: a refusal lasts until the next thing the analyst does
st.session_state.pop("data_changed", None)  # this run draws the whole page: no fragment needs to (views._actions)
try:
    application(db_path())  # created, migrated and (when empty) seeded with the demo on first start
    _reads.refresh_if_changed(db_path())  # a change made elsewhere (the API, the CLI) shows on this rerun
except BillsimError as exc:
    st.error(f"Cannot open the workbench database: {exc}")
    st.stop()

billing = [
    st.Page(PAGES["cycles"], title="Billing cycles", icon=":material/date_range:"),
    st.Page(PAGES["preview"], title="Invoice preview", icon=":material/request_quote:"),
    st.Page(PAGES["run"], title="Bill run", icon=":material/play_circle:"),
    st.Page(PAGES["review"], title="Review", icon=":material/fact_check:"),
    st.Page(PAGES["manual"], title="Manual invoices", icon=":material/edit_document:"),
    st.Page(PAGES["scenarios"], title="What-if scenarios", icon=":material/science:"),
]
pages = st.navigation(
    {
        "Data": [st.Page(PAGES["data"], title="Data", icon=":material/database:", default=True)],
        "Billing": billing,
        "Ledger": [st.Page(PAGES["ledger"], title="Ledger & export", icon=":material/account_balance:")],
        "Service": [st.Page(PAGES["api"], title="API", icon=":material/key:")],
    }
)
# Who acts, for the audit trail of every change (approve, hold, finalize, …); the OS user until changed.
st.session_state.setdefault("actor", Caller.local().actor)
st.sidebar.text_input(
    "Your name", key="actor", help="recorded with every change you make to an invoice", max_chars=MAX_NAME
)
if problem := actor_problem():  # e.g. a pasted control character: every change would be refused, say why here
    st.sidebar.error(f"Your name cannot be recorded with a change: {problem}")
st.sidebar.caption(f"Database: `{db_path()}`")
if goto := st.session_state.pop("goto", None):  # set by a button's callback (views._routing.go_to)
    st.switch_page(goto)
if st.session_state.get("feedback_page") != pages.url_path:  # an action's outcome belongs to its page
    clear_feedback()
    st.session_state["feedback_page"] = pages.url_path
pages.run()
