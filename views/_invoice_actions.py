"""Finalize and void, each behind a confirmation: a popover that says what the action does, and for a
void the reason (kept with the invoice). Shared by the Invoice preview and the Ledger."""

from __future__ import annotations

import streamlit as st

from engine.models import InvoiceResponse
from views._actions import flash, run_action
from views._database import cursor
from views._format import money


def _finalize(invoice_id: str) -> None:
    def work() -> str:
        from engine.billing.lifecycle import finalize_invoice

        inv = finalize_invoice(cursor(), invoice_id)
        return f"Finalized: invoice #{inv.number} is open, due {inv.due_date}."

    run_action(("finalize", invoice_id), "Finalize", work)


def _void(invoice_id: str, reason_key: str) -> None:
    reason = (st.session_state.get(reason_key) or "").strip()
    if not reason:
        flash("error", "Void: give the reason first (it is kept with the invoice).")
        return

    def work() -> str:
        from engine.billing.lifecycle import void_invoice

        inv = void_invoice(cursor(), invoice_id, reason=reason)
        return f"Voided invoice #{inv.number} ({reason}); its cycle can be drafted again."

    run_action(("void", invoice_id), "Void", work)


def finalize_control(inv: InvoiceResponse, prefix: str) -> None:
    """'Finalize…' opens a confirmation; the button inside finalizes."""
    with st.popover("Finalize…", type="primary", help="assign the next invoice number; the invoice can never change"):
        st.markdown(
            f"Finalize this draft of **{money(inv.total_minor, inv.currency)}**? It gets the next invoice "
            f"number of business {inv.business_id} and can never change again (only be voided)."
        )
        st.button(
            "Finalize the invoice",
            type="primary",
            key=f"{prefix}_finalize_{inv.invoice_id}",
            on_click=_finalize,
            args=(inv.invoice_id,),
        )


def void_control(inv: InvoiceResponse, prefix: str) -> None:
    """'Void…' opens a confirmation asking for the reason; voiding needs one. A form, so the reason
    typed is sent with the click (a plain text box would only commit it when it loses focus)."""
    reason_key = f"{prefix}_void_reason_{inv.invoice_id}"
    with st.popover("Void…", help="the invoice keeps its number; its cycle may be drafted again"):
        with st.form(f"{prefix}_void_{inv.invoice_id}", border=False):
            st.markdown(
                f"Void invoice **#{inv.number}** of {money(inv.total_minor, inv.currency)}? It keeps its number "
                "and collects nothing more; its cycle may be drafted again."
            )
            st.text_input("Reason (kept with the invoice)", key=reason_key, placeholder="e.g. billed twice")
            st.form_submit_button("Void the invoice", on_click=_void, args=(inv.invoice_id, reason_key))
