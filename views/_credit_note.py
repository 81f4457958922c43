"""Credit notes and customer credit on the pages (spec section 12), one call from each page:

    credit_section(inv, key)   Ledger: a finalized invoice's credit notes, balance and "Credit note…" (its lines with
                               what each can still be credited, amounts or everything left, the reason, the split, the
                               resulting tax and total shown before the confirmation)
    credit_beside_total(inv)   the invoice view (Invoice preview, Ledger) and Review: the customer's credit beside a
                               draft's (or preview's) total, and what the customer is asked to pay once it is finalized
    customer_credit_caption    the customer's credit balance, where the customer is shown

Every read is one call of engine.service.credit_notes (cached, cleared after every write); issuing is a button
callback carried out once (views._actions.run_action). Every text of the data (a product's name, an id, a tax's
label, a refusal quoting what was typed) goes into markdown through `md` (views._format.markdown_escaped), every
amount through `cash` ('$' escaped): shown as it is, never read as emphasis, a link, a heading or a formula.
"""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
import streamlit as st

from engine.service import BillsimError, Caller, InvalidStateError, ValidationError, credit_notes, requests
from engine.service.formats import (
    CREDIT_NOTE_REASONS,
    FINALIZED,
    MAX_TEXT,
    UNDER_REVIEW,
    CreditNote,
    Invoice,
    credit_note_tax_label,
)
from views._actions import has_flash, run_action, show_flash
from views._database import application, db_path, session
from views._document_download import document_download
from views._format import DATETIME_FORMAT, markdown_text, money
from views._format import markdown_escaped as md

_cached = st.cache_data(show_spinner=False, max_entries=256)  # cleared with every cached read after a write
READER = Caller.local()  # reads change nothing: a local reader (every business), as views._reads


def cash(minor: int, currency: str) -> str:
    """An amount for markdown: its '$' escaped (views._format.markdown_text), never the start of a formula."""
    return markdown_text(money(minor, currency))


# --- cached reads ------------------------------------------------------------------------------------------------


@_cached
def _notes(db: str, invoice_id: str) -> list[CreditNote]:
    return credit_notes.of_invoice(application(db).session(READER), invoice_id)


@_cached
def _balances(db: str, customer_id: str) -> list:
    return credit_notes.balances(application(db).session(READER), customer_id)


@_cached
def _available(db: str, customer_id: str, currency: str) -> int:
    return credit_notes.credit_available(application(db).session(READER), customer_id, currency)


@_cached
def _estimate(db: str, invoice_id: str):
    return credit_notes.estimate(application(db).session(READER), invoice_id)


@_cached
def _document_html(db: str, credit_note_id: str) -> str:
    return credit_notes.document(application(db).session(READER), credit_note_id, "html")


def _pdf_later(db: str, credit_note_id: str):
    """Makes the PDF when Make PDF is clicked (views._document_download; holds the application taken here)."""
    app = application(db)

    def make() -> bytes:
        return credit_notes.document(app.session(READER), credit_note_id, "pdf")

    return make


# --- shown beside a customer, a draft, a finalized invoice -----------------------------------------------------


def customer_credit_caption(customer_id: str) -> None:
    """'Customer credit: $12.00 · €5.00' when the customer holds credit (nothing otherwise)."""
    held = _balances(db_path(), customer_id)
    if held:
        text = " · ".join(cash(b.balance_minor, b.currency) for b in held)
        st.caption(f"Customer credit of {md(customer_id)}: **{text}** (taken off its next invoices in that currency).")


def credit_beside_total(inv: Invoice) -> None:
    """A draft's (or a preview's) total beside the customer's credit in its currency and what the customer is asked
    to pay once it is finalized: total − min(credit, total). Nothing when the customer holds no credit."""
    if inv.status not in (*UNDER_REVIEW, "preview"):
        return
    available = _available(db_path(), inv.customer_id, inv.currency)
    if not available:
        return
    applied = min(available, max(inv.total_minor, 0))
    cur = inv.currency
    st.info(
        f"Total {cash(inv.total_minor, cur)} · customer credit available **{cash(available, cur)}** · "
        f"once finalized the customer is asked for **{cash(inv.total_minor - applied, cur)}** (the credit is "
        "applied at finalize, to the invoices finalized first)."
    )


def _summary(inv: Invoice, notes: list[CreditNote]) -> None:
    cur = inv.currency
    c = st.columns(4)
    c[0].metric("Total", money(inv.total_minor, cur))
    c[1].metric("Customer credit applied", money(inv.credits_applied_minor, cur), help="at finalize")
    c[2].metric(
        f"Credit notes ({len(notes)})",
        money(inv.credit_notes_total_minor, cur),
        help=f"off the balance {cash(inv.credit_offset_minor, cur)} · refunded {cash(inv.refunded_minor, cur)}",
    )
    balance = "none (void)" if inv.status == "void" else money(inv.balance_due_minor, cur)
    c[3].metric("Balance due", balance, help="total − credit applied − paid − credit notes' offsets")


def credited_lines(note: CreditNote) -> str:
    """The invoice lines a note credits, named as lines ('line 2', 'lines 1, 3'): a bare '2' reads as a count."""
    numbers = sorted({i.line_no for i in note.items})
    return ("line " if len(numbers) == 1 else "lines ") + ", ".join(map(str, numbers)) if numbers else ""


def _notes_table(inv: Invoice, notes: list[CreditNote], key: str) -> None:
    cur = inv.currency
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "credit note": n.number,
                    "issued (UTC)": n.created_at.replace(tzinfo=None) if n.created_at else None,
                    "by": n.actor,
                    "reason": (n.reason or "").replace("_", " "),
                    "credited lines": credited_lines(n),
                    "tax": money(n.tax_minor, cur),
                    "total": money(n.total_minor, cur),
                    "off the balance": money(n.offset_minor, cur),
                    "refunded": money(n.refund_minor, cur),
                    "to credit": money(n.credit_minor, cur),
                }
                for n in notes
            ]
        ),
        hide_index=True,
        key=f"{key}_credit_notes",
        placeholder="",
        column_config={
            "issued (UTC)": st.column_config.DatetimeColumn(format=DATETIME_FORMAT),
            **{
                c: st.column_config.TextColumn(alignment="right")
                for c in ("tax", "total", "off the balance", "refunded", "to credit")
            },
        },
    )
    by_id = {n.credit_note_id: n for n in notes}
    with st.expander("Credit note document, as the customer sees it"):
        chosen = st.selectbox(
            "Credit note", list(by_id), key=f"{key}_cn_doc", format_func=lambda i: by_id[i].number or i
        )
        if chosen:
            db = db_path()
            html = _document_html(db, chosen)
            stem = f"credit-note-{by_id[chosen].number}"
            document_download(db, html, _pdf_later(db, chosen), stem, f"{key}_cn_{chosen}")
            # the engine's template output: every text from the data is escaped there and it has no script
            st.iframe(html, height=700)


# --- "Credit note…": the form, the note it would make, the confirmation ----------------------------------------

NOTHING_TO_CREDIT = "enter an amount for at least one line (or tick 'Everything left on every line')"
CHANGED = (
    "the form was changed after the review, so the note reviewed is not what the form holds now: review the credit "
    "note again, then issue it"
)


def _place(key: str) -> str:
    """Where the outcome of "Issue credit note …" is shown: under the form's buttons (views._actions)."""
    return f"{key}_credit_note"


def _field_keys(invoice_id: str, lines: list[int]) -> dict[str, object]:
    """Every field of the form (its session key) and the value it starts with."""
    return {
        f"cn_all_{invoice_id}": False,
        **{f"cn_line_{invoice_id}_{n}": "" for n in lines},
        f"cn_reason_{invoice_id}": CREDIT_NOTE_REASONS[0],
        f"cn_note_{invoice_id}": "",
        f"cn_refund_{invoice_id}": "",
        f"cn_credit_{invoice_id}": "",
    }


def _fields(invoice_id: str, lines: list[int]) -> dict:
    """What the form holds now, as typed: a review is of these values and is void once any of them changes."""
    s = st.session_state
    return {k: s.get(k, start) for k, start in _field_keys(invoice_id, lines).items()}


def _start_fresh(invoice_id: str, lines: list[int]) -> None:
    """After a note is issued the form is empty again: no amount, split, reason or note of the last note is
    carried into the next one."""
    s = st.session_state
    for k, start in _field_keys(invoice_id, lines).items():
        s[k] = start
    s.pop(f"cn_kept_{invoice_id}", None)
    s.pop(f"cn_plan_{invoice_id}", None)


def _amount(text: str, what: str) -> Decimal | None:
    """An amount typed in a box (requests.typed_amount: the rule of every typed amount); None when empty."""
    text = (text or "").strip()
    return None if not text else requests.typed_amount(text, what)


def _form_body(invoice_id: str, lines: list[int]) -> dict:
    """The request the form's widgets hold (the service checks it, in the words of every front end)."""
    s = st.session_state
    body: dict = {}
    if s.get(f"cn_all_{invoice_id}"):
        body["all"] = True
    else:
        items = []
        for n in lines:
            amount = _amount(s.get(f"cn_line_{invoice_id}_{n}", ""), f"line {n}")
            if amount is not None:
                items.append({"line_no": n, "amount": amount})
        if not items:
            raise ValidationError(NOTHING_TO_CREDIT)
        body["items"] = items
    for name, words in (("refund", "Refund"), ("credit", "To the customer's credit")):
        value = _amount(s.get(f"cn_{name}_{invoice_id}", ""), words)
        if value is not None:
            body[name] = value
    return body


def _note_text(invoice_id: str) -> str | None:
    """The note typed, or None; one longer than a credit note keeps is refused (the box keeps what was typed)."""
    note = (st.session_state.get(f"cn_note_{invoice_id}") or "").strip() or None
    if note is not None and len(note) > MAX_TEXT:
        raise ValidationError(
            f"the note is {len(note):,} characters long; a credit note keeps at most {MAX_TEXT:,}: shorten it "
            "(what you typed is still in the box)"
        )
    return note


def _everything_toggled(invoice_id: str, lines: list[int]) -> None:
    """Ticking 'Everything left on every line' puts the amounts typed in the lines' boxes aside (the boxes, disabled,
    read 'everything left'); unticking it puts them back, as they were typed."""
    s = st.session_state
    kept_key = f"cn_kept_{invoice_id}"
    boxes = {n: f"cn_line_{invoice_id}_{n}" for n in lines}
    if s.get(f"cn_all_{invoice_id}"):
        s[kept_key] = {n: s.get(box, "") for n, box in boxes.items()}
        for box in boxes.values():
            s[box] = ""
    else:
        kept = s.pop(kept_key, {})
        for n, box in boxes.items():
            s[box] = kept.get(n, s.get(box, ""))


def _review(invoice_id: str, lines: list[int]) -> None:
    """'Review the credit note': the note the form's request makes (tax, total, split), nothing stored. The review
    keeps the fields it was made of: it is void once one of them changes."""
    plan_key = f"cn_plan_{invoice_id}"
    fields = _fields(invoice_id, lines)
    st.session_state.pop(plan_key, None)
    try:
        body = _form_body(invoice_id, lines)
        note = _note_text(invoice_id)
        estimate = credit_notes.estimate(session(), invoice_id, body)
        if estimate.credit_note is None:
            raise ValidationError(NOTHING_TO_CREDIT)
    except BillsimError as exc:
        st.session_state[plan_key] = {"error": str(exc), "fields": fields}
        return
    reason = st.session_state.get(f"cn_reason_{invoice_id}")
    st.session_state[plan_key] = {
        "body": body,
        "reason": reason,
        "note": note,
        "note_plan": estimate.credit_note,
        "fields": fields,
    }


def _issue(invoice_id: str, lines: list[int], key: str, token: tuple) -> None:
    """Issue exactly the note reviewed and shown: refused when the form changed since (the click carries what was
    typed), and issued with the reviewed split, so a ledger changed meanwhile refuses it rather than issue another
    note."""
    s = st.session_state
    plan_key = f"cn_plan_{invoice_id}"
    plan = s.get(plan_key) or {}

    def work() -> str:
        if "note_plan" not in plan or plan["fields"] != _fields(invoice_id, lines):
            s.pop(plan_key, None)
            raise ValidationError(CHANGED)
        shown: CreditNote = plan["note_plan"]
        split = {"offset": shown.offset, "refund": shown.refund, "credit": shown.credit}
        if credit_notes.estimate(session(), invoice_id, plan["body"] | split).credit_note != shown:
            s.pop(plan_key, None)
            raise InvalidStateError(
                "the invoice changed since the review (another credit note or a payment): review the credit note "
                "again, then issue it"
            )
        request = plan["body"] | split | {"reason": plan["reason"]}
        if plan.get("note"):
            request["note"] = plan["note"]
        note = credit_notes.create(session(), invoice_id, request)
        _start_fresh(invoice_id, lines)
        cur = note.currency
        return (  # shown as markdown (views._actions): four amounts in dollars would make two formulas
            f"Issued credit note {md(note.number)} of {cash(note.total_minor, cur)}: "
            f"{cash(note.offset_minor, cur)} off the balance due, {cash(note.refund_minor, cur)} refunded, "
            f"{cash(note.credit_minor, cur)} to the customer's credit."
        )

    # a click replayed after the note was issued finds its token done (run_action): "carried out once", not a refusal
    run_action(token, "Credit note", work, where=_place(key))


def _plan_view(plan: dict, cur: str) -> None:
    note: CreditNote = plan["note_plan"]
    st.markdown(f"**The credit note {md(f'{note.invoice_number}-CN{note.sequence}')} would be:**")
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "line": i.line_no,
                    "credited": " — ".join(x for x in (i.product, i.description) if x),
                    "amount": money(i.amount_minor, cur),
                    "tax": money(i.tax_minor, cur),
                }
                for i in note.items
            ]
        ),
        hide_index=True,
        placeholder="",
        column_config={c: st.column_config.TextColumn(alignment="right") for c in ("amount", "tax")},
    )
    # the engine's wording (the credit note's document says the same): a tax that is what is left of the
    # invoice's tax is said so, never as a rate of a base it is not
    taxes = " · ".join(f"{md(credit_note_tax_label(t, cur))}: {cash(t.amount_minor, cur)}" for t in note.taxes)
    st.markdown(
        f"Subtotal {cash(note.subtotal_minor, cur)} · tax {cash(note.tax_minor, cur)}"
        + (f" ({taxes})" if taxes else "")
        + f" · **total {cash(note.total_minor, cur)}**"
    )
    st.markdown(
        f"Split: **{cash(note.offset_minor, cur)}** off the balance due · "
        f"**{cash(note.refund_minor, cur)}** refunded · **{cash(note.credit_minor, cur)}** to the "
        f"customer's credit. Reason: {md((plan['reason'] or '').replace('_', ' '))}."
    )
    if plan.get("note"):
        st.text(f"Note: {plan['note']}")  # as typed: st.text reads no markdown


def credit_note_form(inv: Invoice, key: str) -> None:
    """'Credit note…' of a finalized invoice: the estimate per line, the request, then the note it makes and the
    confirmation that issues it."""
    invoice_id, cur = inv.invoice_id, inv.currency
    estimate = _estimate(db_path(), invoice_id)
    open_lines = [ln for ln in estimate.lines if ln.creditable_minor > 0]
    line_nos = [ln.line_no for ln in open_lines]
    plan_key = f"cn_plan_{invoice_id}"
    plan = st.session_state.get(plan_key)
    changed = plan is not None and plan["fields"] != _fields(invoice_id, line_nos)
    if changed:  # a review (or a refusal) is of the form as it was: void once a field changes
        st.session_state.pop(plan_key, None)
        plan = None
    with st.expander("Credit note…", expanded=plan is not None or changed or has_flash(_place(key))):
        if estimate.creditable_total_minor <= 0 or not open_lines:
            st.caption("Everything on this invoice has been credited: nothing is left to credit.")
            show_flash(_place(key))
            return
        most, offset, refund, paid = (
            cash(m, cur)
            for m in (
                estimate.creditable_total_minor,
                estimate.max_offset_minor,
                estimate.max_refund_minor,
                estimate.paid_less_refunds_minor,
            )
        )
        # each part of a note is at most what can still be credited: the estimate's limits are the next note's
        paid_words = "paid, less refunds" if inv.refunded_minor else "paid"
        if estimate.paid_less_refunds_minor:
            refunds = f"up to {refund} refunded (of {paid} {paid_words})"
        else:
            refunds = "nothing to refund (" + ("every payment refunded)" if inv.total_paid_minor else "nothing paid)")
        st.caption(
            f"At most {most} (tax included) can still be credited; up to {offset} off the balance due, {refunds}. "
            f"Amounts are before tax, in {cur}."
        )
        # No st.form: a form's boxes keep what is typed in the browser until it is submitted, so ticking the box
        # below (a rerun) lost it. Until a review is shown, the fields commit without a rerun (on_change="ignore":
        # the page does not rerun per field) and the values typed travel with the next rerun: the tick, or
        # "Review the credit note". Once a review is shown, a change reruns, and the review it voids goes at once.
        change = "ignore" if plan is None else "rerun"
        everything = st.checkbox(
            "Everything left on every line",
            key=f"cn_all_{invoice_id}",
            on_change=_everything_toggled,
            args=(invoice_id, line_nos),
        )
        for ln in open_lines:
            label = " — ".join(x for x in (ln.product, ln.description) if x) or ln.kind.replace("_", " ")
            c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
            c1.markdown(  # the product's name as it is: no '$' starts a formula, no '*' or '_' emphasis, no link
                f"Line {ln.line_no}: {md(label)} · amount {cash(ln.amount_minor, cur)}"
                + (f" − discount {cash(ln.discount_minor, cur)}" if ln.discount_minor else "")
                + (f" − credited {cash(ln.credited_minor, cur)}" if ln.credited_minor else "")
                + f" · **can still be credited {cash(ln.creditable_minor, cur)}**"
            )
            c2.text_input(
                f"Credit line {ln.line_no}",
                key=f"cn_line_{invoice_id}_{ln.line_no}",
                placeholder="everything left" if everything else "0.00",
                disabled=everything,
                help="untick 'Everything left on every line' to credit an amount (what you typed comes back)"
                if everything
                else None,
                on_change=change,
            )
        r1, r2 = st.columns(2)
        r1.selectbox(
            "Reason",
            CREDIT_NOTE_REASONS,
            key=f"cn_reason_{invoice_id}",
            format_func=lambda r: r.replace("_", " "),
            on_change=change,
        )
        # No max_chars: the browser drops a paste longer than the box's bound, and the note typed before with it;
        # a longer note is kept in the box and refused by the review, with its length
        r2.text_input(
            "Note (kept with the credit note)",
            key=f"cn_note_{invoice_id}",
            help=f"at most {MAX_TEXT:,} characters",
            on_change=change,
        )
        s1, s2 = st.columns(2)
        s1.text_input(f"Refund ({cur})", key=f"cn_refund_{invoice_id}", placeholder="0.00", on_change=change)
        s2.text_input(
            f"To the customer's credit ({cur})",
            key=f"cn_credit_{invoice_id}",
            placeholder="what the balance due cannot take",
            on_change=change,
        )
        st.button(
            "Review the credit note", key=f"{key}_cn_review_{invoice_id}", on_click=_review, args=(invoice_id, line_nos)
        )
        if changed:
            st.info("The form was changed after the review: review the credit note again to issue it.")
        if plan is not None and "error" in plan:
            st.error(f"Credit note refused: {md(plan['error'])}")  # it may quote what was typed
        elif plan is not None:
            _plan_view(plan, cur)
            token = ("credit_note", invoice_id, inv.credit_notes_total_minor, inv.total_paid_minor, repr(plan["body"]))
            st.button(
                f"Issue credit note {plan['note_plan'].invoice_number}-CN{plan['note_plan'].sequence}",
                type="primary",
                key=f"{key}_cn_issue_{invoice_id}",
                on_click=_issue,
                args=(invoice_id, line_nos, key, token),
                help="a credit note is final: never changed or deleted",
            )
        show_flash(_place(key))  # what "Issue credit note …" just did, under it


def credit_section(inv: Invoice, key: str) -> None:
    """What the Ledger shows of credit for an opened invoice (module doc)."""
    customer_credit_caption(inv.customer_id)
    if inv.status in (*UNDER_REVIEW, "preview"):
        return  # its credit available is shown beside its total (views._invoice_view.show_invoice)
    notes = _notes(db_path(), inv.invoice_id)
    if not notes and not inv.credits_applied_minor and inv.status not in FINALIZED:
        return
    st.markdown("**Credit**")
    _summary(inv, notes)
    if notes:
        _notes_table(inv, notes, key)
    if inv.status in FINALIZED:
        credit_note_form(inv, key)
