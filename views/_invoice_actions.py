"""Review and lifecycle actions of one invoice, shared by the Invoice preview and the Ledger:
approve / hold (with a reason) / release / delete a draft, finalize an approved invoice and void an open one (not
one paid in part: a credit note corrects that).
Finalize, void and delete sit behind a confirmation: a popover that says what the action does, and for a void
or a hold the reason (kept with the invoice). Every action is recorded under the sidebar's name.

Each action's outcome is shown where its buttons are: the page draws `show_flash(place(prefix))` right under
them (a missing reason is said inside its popover, under the button pressed); a popover closes after its action."""

from __future__ import annotations

import streamlit as st

from engine.service import invoices, lifecycle
from engine.service.formats import MAX_TEXT, Invoice, status_text
from views import _reads
from views._actions import action_popover, flash, run_action, show_flash
from views._database import db_path, session
from views._format import business, invoice_number, money


def place(prefix: str) -> str:
    """Where the outcome of an invoice's actions is shown on page `prefix` (under its buttons)."""
    return f"{prefix}_invoice_actions"


def _popover(prefix: str, what: str, invoice_id: str) -> str:
    return f"{prefix}_{what}_popover_{invoice_id}"


def _finalize(invoice_id: str, prefix: str) -> None:
    def work() -> str:
        (inv,) = lifecycle.finalize(session(), [invoice_id])
        return f"Finalized: invoice {invoice_number(inv)} is open, due {inv.due_date}."

    run_action(
        ("finalize", invoice_id),
        "Finalize",
        work,
        where=place(prefix),
        refused_where=_popover(prefix, "finalize", invoice_id),  # inside the popover, which stays open
        close=_popover(prefix, "finalize", invoice_id),
    )


def _void(invoice_id: str, reason_key: str, prefix: str) -> None:
    reason = (st.session_state.get(reason_key) or "").strip()
    if not reason:
        flash("error", "Void: give the reason first (it is kept with the invoice).", f"{reason_key}_where")
        return

    def work() -> str:
        inv = lifecycle.void(session(), invoice_id, reason)
        return f"Voided invoice {invoice_number(inv)} ({reason}); its cycle can be drafted again."

    if run_action(
        ("void", invoice_id),
        "Void",
        work,
        where=place(prefix),
        refused_where=f"{reason_key}_where",  # inside the popover, which stays open
        close=_popover(prefix, "void", invoice_id),
    ):
        st.session_state[reason_key] = ""


def _delete(invoice_id: str, prefix: str) -> None:
    def work() -> str:
        done = invoices.delete(session(), invoice_id)
        charges = done.released_delayed_charges
        freed = (
            f" {len(charges)} delayed charge{'s' if len(charges) != 1 else ''} ({', '.join(charges)}) "
            f"{'are' if len(charges) != 1 else 'is'} pending again."
            if charges
            else ""
        )
        cycle = " Its cycle can be drafted again." if done.contract_id else ""
        return f"Deleted the {done.status_before} invoice `{invoice_id}`.{cycle}{freed}"

    run_action(
        ("delete", invoice_id),
        "Delete",
        work,
        where=place(prefix),
        close=_popover(prefix, "delete", invoice_id),
    )


def _approve(invoice_id: str, seen: int, prefix: str) -> None:
    def work() -> str:
        result = lifecycle.approve(session(), [invoice_id])
        if not result.approved:
            return "The invoice was already approved; nothing changed."
        return f"Approved by {result.actor}: the invoice can now be finalized."

    run_action(("approve", invoice_id, seen), "Approve", work, where=place(prefix))


def _hold(invoice_id: str, reason_key: str, seen: int, prefix: str) -> None:
    reason = (st.session_state.get(reason_key) or "").strip()
    if not reason:
        flash("error", "Hold: give the reason first (it is kept with the invoice).", f"{reason_key}_where")
        return

    def work() -> str:
        lifecycle.hold(session(), [invoice_id], reason)
        return f"On hold ({reason}): release it before it can be approved."

    token = ("hold", invoice_id, seen)
    if run_action(
        token,
        "Hold",
        work,
        where=place(prefix),
        refused_where=f"{reason_key}_where",  # inside the popover, which stays open
        close=_popover(prefix, "hold", invoice_id),
    ):
        st.session_state[reason_key] = ""


def _release(invoice_id: str, seen: int, prefix: str) -> None:
    def work() -> str:
        lifecycle.release(session(), [invoice_id])
        return "Released: the invoice is a draft again, to be approved."

    run_action(("release", invoice_id, seen), "Release", work, where=place(prefix))


def _events_seen(inv: Invoice) -> int:
    """How many audit events the invoice had when its buttons were drawn: part of each button's token, so a
    replayed click is carried out once while a later hold or release of the same invoice is a new action."""
    return len(_reads.invoice_history(db_path(), inv.invoice_id))


def review_controls(inv: Invoice, prefix: str) -> None:
    """The buttons of an invoice under review: a draft can be approved or held, an approved one finalized
    (or held), a held one released; any of them deleted. Nothing for a finalized invoice."""
    seen = _events_seen(inv)
    if inv.status == "held":
        st.warning(f"On hold: {inv.hold_reason}")
        c1, c2, _ = st.columns([1, 1, 4])
        c1.button(
            "Release",
            key=f"{prefix}_release_{inv.invoice_id}",
            on_click=_release,
            args=(inv.invoice_id, seen, prefix),
            help="make it a draft again, to be reviewed and approved",
        )
        with c2:
            delete_control(inv, prefix)
        return
    if inv.status not in ("draft", "approved"):
        return
    c1, c2, c3, _ = st.columns([1, 1, 1, 3])
    with c1:
        if inv.status == "draft":
            st.button(
                "Approve",
                type="primary",
                key=f"{prefix}_approve_{inv.invoice_id}",
                on_click=_approve,
                args=(inv.invoice_id, seen, prefix),
                help="reviewed: it may be finalized",
            )
        else:
            finalize_control(inv, prefix)
    with c2:
        hold_control(inv, prefix, seen)
    with c3:
        delete_control(inv, prefix)
    if inv.status == "approved":
        st.caption(f"Approved by {inv.approved_by} at {inv.approved_at:%Y-%m-%d %H:%M} UTC.")


def hold_control(inv: Invoice, prefix: str, seen: int) -> None:
    """'Hold…' asks for the reason (required); a held draft cannot be approved or finalized."""
    reason_key = f"{prefix}_hold_reason_{inv.invoice_id}"
    with action_popover(
        "Hold…",
        _popover(prefix, "hold", inv.invoice_id),
        help="keep it from being approved or finalized until it is released",
    ):
        with st.form(f"{prefix}_hold_{inv.invoice_id}", border=False):
            st.text_input(
                "Reason (kept with the invoice)",
                key=reason_key,
                placeholder="e.g. usage looks doubled",
                max_chars=MAX_TEXT,  # the application layer's bound: the box stops there
            )
            st.form_submit_button("Put on hold", on_click=_hold, args=(inv.invoice_id, reason_key, seen, prefix))
        show_flash(f"{reason_key}_where")


def finalize_control(inv: Invoice, prefix: str) -> None:
    """'Finalize…' (approved invoices only) opens a confirmation; the button inside finalizes."""
    with action_popover(
        "Finalize…",
        _popover(prefix, "finalize", inv.invoice_id),
        type="primary",
        help="assign the next invoice number; the invoice can never change",
    ):
        seller = business(_reads.business_names(db_path()), inv.business_id)
        st.markdown(
            f"Finalize this approved invoice of **{money(inv.total_minor, inv.currency)}**? It gets the next "
            f"invoice number of {seller} and can never change again (only be voided)."
        )
        st.button(
            "Finalize the invoice",
            type="primary",
            key=f"{prefix}_finalize_{inv.invoice_id}",
            on_click=_finalize,
            args=(inv.invoice_id, prefix),
        )
        show_flash(_popover(prefix, "finalize", inv.invoice_id))  # a refusal, under the button pressed


def delete_control(inv: Invoice, prefix: str) -> None:
    """'Delete draft…' (not finalized yet) opens a confirmation saying what goes and what is freed; the button inside
    deletes. The delete itself refuses a finalized invoice (it never changes), whatever the page showed."""
    with action_popover(
        "Delete draft…",
        _popover(prefix, "delete", inv.invoice_id),
        help="remove this invoice, not finalized yet; its cycle may be drafted again",
    ):
        what = "draft" if inv.status == "draft" else f"{inv.status} draft"
        cycle = " Its cycle can be drafted again." if inv.contract_id else ""
        charges = [ln.description or "no description" for ln in inv.lines if ln.kind == "delayed_charge"]
        freed = (
            f" Its delayed charge{'s' if len(charges) != 1 else ''} ({', '.join(charges)}) "
            f"{'become' if len(charges) != 1 else 'becomes'} pending again."
            if charges
            else ""
        )
        st.markdown(
            f"Delete this {what} of **{money(inv.total_minor, inv.currency)}** (`{inv.invoice_id}`)? It is removed "
            f"with its lines and cannot be brought back.{cycle}{freed} The audit trail keeps a *deleted* event."
        )
        st.button(
            "Delete the draft",
            type="primary",
            key=f"{prefix}_delete_{inv.invoice_id}",
            on_click=_delete,
            args=(inv.invoice_id, prefix),
        )


def void_control(inv: Invoice, prefix: str) -> None:
    """'Void…' opens a confirmation asking for the reason; voiding needs one. A form, so the reason
    typed is sent with the click (a plain text box would only commit it when it loses focus)."""
    if inv.credit_notes_total_minor:  # spec section 12: corrected by credit notes, it is credited, never voided
        st.caption("Credit notes corrected this invoice: it cannot be voided; credit what is left instead.")
        return
    if inv.total_paid_minor:  # spec section 4: open -> void; the money received would be left on nothing
        st.caption(
            f"{money(inv.total_paid_minor, inv.currency)} was paid on this invoice: it cannot be voided; correct it "
            "with a credit note of everything left (refunding the payment or keeping it as the customer's credit)."
        )
        return
    reason_key = f"{prefix}_void_reason_{inv.invoice_id}"
    with action_popover(
        "Void…",
        _popover(prefix, "void", inv.invoice_id),
        help="the invoice keeps its number; its cycle may be drafted again",
    ):
        with st.form(f"{prefix}_void_{inv.invoice_id}", border=False):
            st.markdown(
                f"Void invoice **{invoice_number(inv)}** of {money(inv.total_minor, inv.currency)}? It keeps its "
                "number and collects nothing more; its cycle may be drafted again."
            )
            st.text_input(
                "Reason (kept with the invoice)", key=reason_key, placeholder="e.g. billed twice", max_chars=MAX_TEXT
            )
            st.form_submit_button("Void the invoice", on_click=_void, args=(inv.invoice_id, reason_key, prefix))
        show_flash(f"{reason_key}_where")


def history_panel(inv: Invoice, key: str) -> None:
    """The invoice's audit trail (who did what, when), newest last."""
    events = _reads.invoice_history(db_path(), inv.invoice_id)
    with st.expander(f"History ({len(events)} event{'s' if len(events) != 1 else ''})"):
        st.dataframe(
            [
                {
                    "when (UTC)": e["occurred_at"],
                    "who": e["actor"],
                    "action": e["action"].replace("_", " "),
                    "status": (
                        f"{status_text(e['status_before'], paid_by=True) if e['status_before'] else '–'} → "
                        f"{status_text(e['status_after'], paid_by=True) if e['status_after'] else 'deleted'}"
                    ),
                    "note": e["note"] or "",
                }
                for e in events
            ],
            hide_index=True,
            key=f"{key}_history_{inv.invoice_id}",
        )
