"""Invoice preview: the chosen cycle's invoice before it exists; draft, redraft, delete a draft, finalize, void.

Every button is guarded by a token of the state it was drawn for (`run_action`), and the engine's
drafting is idempotent per (contract, cycle): a double click or a rerun never bills twice.
"""

from __future__ import annotations

import datetime as dt

import streamlit as st

from engine.service import BillsimError, contracts, invoices
from engine.service.formats import status_text
from views import _reads
from views._actions import run_action, show_flash
from views._database import db_path, session
from views._format import money
from views._invoice_actions import history_panel, place, review_controls, void_control
from views._invoice_document import show_document
from views._invoice_view import PAYABLE, order_lines_signature, show_invoice, title_of
from views._pickers import contract_picker, cycle_label, default_cycle, default_window, select_current


def _draft(contract_id: str, period_start: dt.date, seen: int) -> None:
    def work() -> str:
        res = contracts.draft(session(), contract_id, period_start)
        inv = res.invoice
        if res.created:
            return f"Drafted invoice `{inv.invoice_id}` for {money(inv.total_minor, inv.currency)}."
        held = status_text(inv.status, paid_by=True)
        return f"The cycle already had invoice `{inv.invoice_id}` ({held}); nothing changed."

    run_action(("draft", contract_id, period_start, seen), "Draft", work, where=place("preview"))


def _redraft(invoice_id: str, created_at) -> None:
    def work() -> str:
        inv = invoices.redraft(session(), invoice_id)
        return f"Redrafted invoice `{invoice_id}`: total now {money(inv.total_minor, inv.currency)}."

    run_action(("redraft", invoice_id, created_at), "Redraft", work, where=place("preview"))


st.title("Invoice preview")
st.caption("The invoice of a contract's cycle, computed exactly as a draft would be, before anything is stored.")
show_flash()

contract = contract_picker("preview")
if contract is None:
    st.stop()
cid = contract["contract_id"]
db = db_path()
lo, hi = default_window(contract)
try:
    cycles = _reads.billing_cycles(db, cid, lo, hi)
except BillsimError as exc:
    st.error(str(exc))
    st.stop()
if not cycles:
    st.info("The contract has no billing cycle.")
    st.stop()

of_contract = _reads.contract_invoices(db, cid)
holder = {i["period_start"]: i for i in of_contract if i["status"] != "void"}
starts = [c.start_date for c in cycles]
start = select_current(
    "Cycle",
    starts,
    key=f"preview_cycle_{cid}",
    default=default_cycle(cycles, st.session_state.get("period_start")),
    format_func=lambda s: cycle_label(cycles[starts.index(s)], holder.get(s)),
)
st.session_state["period_start"] = start

preview, preview_error = None, None
try:
    preview = _reads.preview_invoice(db, cid, start)
except BillsimError as exc:  # NothingToBill included: a cycle without any line gets no invoice
    preview_error = exc

held = holder.get(start)
stored = _reads.load_invoice(db, held["invoice_id"]) if held else None
voided = [i for i in of_contract if i["period_start"] == start and i["status"] == "void"]

if stored is not None:
    st.subheader(title_of(stored))
    if stored.status in ("draft", "approved", "held"):  # under review: may still change
        if preview is not None and order_lines_signature(preview) != order_lines_signature(stored):
            st.warning(
                "The data changed since this draft was made: rating the cycle again gives a subtotal "
                f"of {money(preview.subtotal_minor, preview.currency)} (draft: "
                f"{money(stored.subtotal_minor, stored.currency)}). Redraft to bring the draft up to "
                "date" + (" (it then needs approving again)." if stored.status != "draft" else ".")
            )
        review_controls(stored, "preview")
        st.button(
            "Redraft",
            key=f"redraft_{stored.invoice_id}",
            on_click=_redraft,
            args=(stored.invoice_id, stored.created_at),
            help="rate the cycle again and replace the draft (an approval or hold is reset: it is a plain draft)",
        )
    elif stored.status in PAYABLE:
        void_control(stored, "preview")
    else:
        st.caption("Paid in full: nothing more to do with this invoice.")
    show_flash(place("preview"))  # what the buttons above just did
    show_invoice(stored, key="stored", pending_usage=preview.pending_usage if preview else [])
    history_panel(stored, key="preview")
    show_document(stored, key="stored")
else:
    st.subheader(title_of(preview) if preview else "Nothing to bill")
    if preview is None:
        st.info(str(preview_error))
        show_flash(place("preview"))  # e.g. its draft just deleted
    else:
        st.button(
            "Draft invoice",
            type="primary",
            key=f"draft_{cid}_{start}",
            on_click=_draft,
            args=(cid, start, len(voided)),
            help="store this invoice as a draft (once per cycle)",
        )
        show_flash(place("preview"))
        show_invoice(preview, key="preview")
        show_document(preview, key="preview", period_date=start)

if voided:
    st.caption(
        "Voided invoices of this cycle: "
        + ", ".join(
            f"{i['invoice_number']} `{i['invoice_id']}` ({money(i['total_minor'], i['currency'])}"
            + (f", {i['void_reason']}" if i.get("void_reason") else "")
            + ")"
            for i in voided
        )
    )
