"""Review: the drafts of a bill run (or of the period of a date) against each contract's previous invoice,
with the review flags and their reasons (spec section 8); approve, hold, release and finalize them; the
business's review thresholds; the cycles of the scope that were never billed.

The review is read once (views._reads.review_table, cached per database, scope and data version) and shown
in one virtualized st.dataframe with numeric money columns; every action is a button callback (carried out
once, views._actions.run_action) after which the review is read again.
"""

from __future__ import annotations

import hashlib
from decimal import Decimal

import pandas as pd
import streamlit as st

from engine.service import BillsimError, ValidationError, bill_runs, lifecycle
from engine.service.formats import MAX_TEXT, format_code, format_code_major
from engine.service.reads import REVIEW_FLAGS
from views import _kept as kept
from views import _reads
from views._actions import action_popover, close_popover, flash, run_action, show_flash
from views._credit_note import credit_beside_total
from views._database import db_path, session
from views._format import DATE_FORMAT, business, customer, fmt_date, labelled, plain_number, scope_text
from views._invoice_adjustments import show_adjustments
from views._invoice_document import show_document
from views._invoice_view import (
    compact_line_columns,
    compact_lines_frame,
    compact_row_height,
    lines_frame,
    title_of,
)
from views._pickers import select_current
from views._review_table import ORDERS, flag_words, totals_by_currency, view
from views._table_text import row_height_for, table_height

MODES = ("A bill run", "A period date")
# what the analyst chose to review and how, kept across a visit to another page (views/_kept.py): back from the
# Ledger, the same run with the same flags picked, not the newest run with every draft
KEPT_SCOPE = ("rv_mode", "rv_run")
KEPT_VIEW = ("rv_flags", "rv_statuses", "rv_order")
WHERE = "rv_actions"  # the action buttons' place: their outcome is shown right under them
HOLD_WHERE, HOLD_POPOVER, FINALIZE_POPOVER = "rv_hold", "rv_hold_popover", "rv_finalize_popover"
STATUSES = ("draft", "approved", "held")
# The engine's names of the thresholds, in the words of the form's fields (for its validation messages).
THRESHOLD_WORDS = {
    "total_change_percent": "Total change above (%)",
    "total_change_min": "Total change above (amount)",
    "usage_spike_factor": "Usage spike factor (×)",
    "large_invoice": "Large invoice amount",
}


def per_currency(totals: dict[str, Decimal]) -> str:
    """'EUR 12,345.00 · JPY 568,013 · USD 1,234,567.89' (exact; written as the reasons write an amount)."""
    return " · ".join(format_code_major(total, cur) for cur, total in totals.items())


# --- actions (button callbacks) ----------------------------------------------------------------------


def _approve(ids: list[str], token: tuple, what: str) -> None:
    def work() -> str:
        result = lifecycle.approve(session(), ids)
        return (
            f"Approved {len(result.approved):,} {what} by {result.actor}; "
            f"{len(result.already_approved):,} were already approved."
        )

    run_action(("rv_approve", *token), "Approve", work, where=WHERE)


def _approve_unflagged(run_id: str, token: tuple) -> None:
    def work() -> str:
        result = bill_runs.approve_unflagged(session(), run_id)
        return (
            f"Approved {len(result.approved):,} unflagged drafts of run {run_id} by {result.actor}; "
            f"{len(result.already_approved):,} were already approved."
        )

    run_action(("rv_approve_unflagged", run_id, *token), "Approve all unflagged", work, where=WHERE)


def _hold(ids: list[str], reason_key: str, token: tuple) -> None:
    reason = (st.session_state.get(reason_key) or "").strip()
    if not reason:  # said inside the popover, under the button pressed; the popover stays open
        flash("error", "Hold: give the reason first (it is kept with each invoice).", where=HOLD_WHERE)
        return

    def work() -> str:
        lifecycle.hold(session(), ids, reason)  # all or nothing: one that cannot be held refuses the selection
        return f"Put {len(ids):,} invoice(s) on hold ({reason}): release them before they can be approved."

    if run_action(("rv_hold", *token), "Hold", work, where=WHERE, refused_where=HOLD_WHERE, close=HOLD_POPOVER):
        st.session_state[reason_key] = ""  # the next hold starts with an empty reason


def _release(ids: list[str], token: tuple) -> None:
    def work() -> str:
        lifecycle.release(session(), ids)  # all or nothing
        return f"Released {len(ids):,} invoice(s): drafts again, to be reviewed and approved."

    run_action(("rv_release", *token), "Release", work, where=WHERE)


def _finalize(ids: list[str], token: tuple) -> None:
    def work() -> str:
        done = lifecycle.finalize(session(), ids)
        ranges = _reads.invoice_number_ranges(db_path(), ids)
        names = _reads.business_names(db_path())
        numbers = "; ".join(
            f"{business(names, r['business_id'])}: {r['first']}"
            + (f" to {r['last']}" if r["last"] != r["first"] else "")
            for r in ranges
        )
        return f"Finalized {len(done):,} invoice(s): open, numbered ({numbers})."

    run_action(
        ("rv_finalize", *token), "Finalize", work, where=WHERE, refused_where=FINALIZE_POPOVER, close=FINALIZE_POPOVER
    )


def _in_words(text: str) -> str:
    for name, words in THRESHOLD_WORDS.items():
        text = text.replace(name, words)
    return text


def _save_thresholds(business_id: str, currencies: list[str], keys: dict[str, str], token: tuple) -> None:
    s = st.session_state
    values = {name: (s.get(key) or "").strip() for name, key in keys.items() if name in THRESHOLD_WORDS}
    large = {cur: (s.get(keys[cur]) or "").strip() or None for cur in currencies}

    def work() -> str:
        try:
            t = bill_runs.change_thresholds(
                session(),
                business_id,
                total_change_percent=values["total_change_percent"],
                total_change_min=values["total_change_min"],
                usage_spike_factor=values["usage_spike_factor"],
                large_invoice=large,
            )
        except ValidationError as exc:
            raise ValidationError(_in_words(str(exc))) from None
        seller = business(_reads.business_names(db_path()), business_id)
        large_text = ", ".join(f"{c} above {plain_number(a)}" for c, a in t.large_invoice.items()) or "none"
        return (
            f"Saved the review thresholds of {seller}: a total that changes by more than "
            f"{plain_number(t.total_change_percent)} % and more than {plain_number(t.total_change_min)}, usage "
            f"above {plain_number(t.usage_spike_factor)}× last time; large invoices: {large_text}. "
            "The review was computed again."
        )

    token = ("rv_thresholds", business_id, *token, tuple(values.items()), tuple(large.items()))
    run_action(token, "Save", work, where="rv_thresholds")


# --- page sections ------------------------------------------------------------------------------------


def pick_scope(db: str):
    """(run id, period date): a bill run (the newest by default) or the period of a date."""
    mode = st.radio("Review", MODES, horizontal=True, key="rv_mode")
    if mode == MODES[1]:
        _, last_usage = _reads.usage_date_range(db)
        date = st.date_input(
            "Period date",
            key="rv_period",
            value=st.session_state.get("run_period_date") or last_usage,
            format=DATE_FORMAT,
            help="every contract's draft under review whose cycle contains this date",
        )
        return None, date
    runs = _reads.list_runs(db, 50)
    if not runs:
        st.info("No bill run yet: start one on the Bill run page, or review the drafts of a period date.")
        st.stop()
    by_id = {r["run_id"]: r for r in runs}

    def label(run_id: str) -> str:
        r = by_id[run_id]
        extra = " with catch-up" if (r["scope"] or {}).get("catch_up") else ""
        return (
            f"period of {fmt_date(r['period_date'])} · {scope_text(r['scope'] or {})}{extra} · "
            f"started {fmt_date(r['started_at'])} UTC · {r['status']} · {run_id}"
        )

    run_id = select_current("Bill run", list(by_id), key="rv_run", default=next(iter(by_id)), format_func=label)
    return run_id, None


def summary(table, frame: pd.DataFrame) -> None:
    status = frame["status"].value_counts()
    ready = int(((frame["status"] == "draft") & frame["unflagged"]).sum())
    m = st.columns(6)
    m[0].metric("Drafts under review", f"{table.drafts:,}")
    m[1].metric("Flagged", f"{table.flagged:,}", help="drafts with at least one review flag")
    m[2].metric("Unflagged drafts", f"{ready:,}", help="drafts (not approved yet, not held) with no flag")
    m[3].metric("Approved", f"{int(status.get('approved', 0)):,}", help="to be finalized")
    m[4].metric("Held", f"{int(status.get('held', 0)):,}", help="to be released before approval")
    m[5].metric("Unbilled cycles", f"{table.unbilled_count:,}", help="cycles of the scope that ended with no invoice")


def unbilled_panel(db: str, table) -> None:
    if not table.unbilled_count:
        return
    with st.expander(
        f"Unbilled cycles: {table.unbilled_count:,} cycle(s) ended before {fmt_date(table.period_date)} with no invoice"
    ):
        st.caption(
            "A bill run bills the cycle that contains its date; earlier cycles that were never billed are "
            "listed here. Run with catch-up (Bill run page: **Catch up missed cycles**) to draft them."
        )
        shown = table.unbilled.copy()
        names = _reads.customer_names(db, tuple(sorted(set(shown["customer_id"]))))
        shown["customer_id"] = [customer(names.get(c), c) for c in shown["customer_id"]]
        st.dataframe(
            labelled(shown),
            hide_index=True,
            key="rv_unbilled",
            placeholder="",
            column_config={
                c: st.column_config.DateColumn(format=DATE_FORMAT)
                for c in ("period start", "period end", "bill for date")
            },
        )
        if len(shown) < table.unbilled_count:
            st.caption(f"The first {len(shown):,} of {table.unbilled_count:,}, by contract and period.")


def thresholds_panel(db: str, table, version: tuple) -> None:
    businesses = list(table.businesses) or _reads.businesses(db)
    if not businesses:
        return
    names = _reads.business_names(db)
    title = business(names, businesses[0]) if len(businesses) == 1 else f"{len(businesses)} businesses"
    with st.expander(f"Review thresholds for {title}"):
        business_id = (
            st.selectbox("Business", businesses, key="rv_thr_business", format_func=lambda b: business(names, b))
            if len(businesses) > 1
            else businesses[0]
        )
        t = _reads.review_thresholds(db, business_id)
        currencies = sorted(set(_reads.invoice_currencies(db)) | set(t.large_invoice))
        keys = {
            name: f"rv_thr_{name}_{business_id}"
            for name in ("total_change_percent", "total_change_min", "usage_spike_factor", *currencies)
        }
        with st.form(f"rv_thresholds_{business_id}", border=False):
            c1, c2, c3 = st.columns(3)
            c1.text_input(
                THRESHOLD_WORDS["total_change_percent"],
                value=plain_number(t.total_change_percent),
                key=keys["total_change_percent"],
                help="total change: |total − previous total| above this % of the previous total …",
            )
            c2.text_input(
                THRESHOLD_WORDS["total_change_min"],
                value=plain_number(t.total_change_min),
                key=keys["total_change_min"],
                help="… and above this amount (major units of the invoice's currency)",
            )
            c3.text_input(
                THRESHOLD_WORDS["usage_spike_factor"],
                value=plain_number(t.usage_spike_factor),
                key=keys["usage_spike_factor"],
                help="usage spike: a usage line's quantity above this many times its quantity last time",
            )
            st.caption("Large invoice: a total above this amount is flagged (blank: no large-invoice flag).")
            for col, cur in zip(st.columns(max(1, len(currencies))), currencies, strict=False):
                col.text_input(cur, value=plain_number(t.large_invoice.get(cur)), key=keys[cur])
            st.form_submit_button(
                "Save thresholds", on_click=_save_thresholds, args=(business_id, currencies, keys, version)
            )
        show_flash("rv_thresholds")
        if t.updated_by:
            st.caption(f"Last changed by {t.updated_by} at {t.updated_at:%Y-%m-%d %H:%M} UTC.")
        else:
            st.caption("The defaults (never changed for this business).")


CUSTOMER_PX, WHY_PX, WHY_LINES = 190, 380, 3


def review_grid(grid, key: str) -> list[int]:
    """The drafts, one virtualized grid (`grid`: the table's shown columns, pyarrow, in the page's order): each
    amount with its currency; returns the positions of the selected rows."""
    right = {"alignment": "right"}
    # long reasons and names wrap in their columns (rows of up to WHY_LINES lines); longer ones are listed in full
    # under the table when the row is ticked
    row_height = row_height_for([(grid.column("customer"), CUSTOMER_PX), (grid.column("why"), WHY_PX)], WHY_LINES)
    event = st.dataframe(
        grid,
        hide_index=True,
        key=key,
        on_select="rerun",
        selection_mode="multi-row",
        placeholder="–",
        row_height=row_height,
        height=table_height(grid.num_rows, row_height),
        column_config={
            "customer": st.column_config.TextColumn("Customer", width=CUSTOMER_PX),
            "status": st.column_config.TextColumn("Status", width=70),
            "why": st.column_config.TextColumn(
                "Why flagged",
                width=WHY_PX,
                help="each flag's reason (wrapped; in full under the table when the row is ticked)",
            ),
            "change_percent": st.column_config.NumberColumn(
                "Change %", format="%.1f", width=70, help="change ÷ previous total × 100"
            ),
            "change": st.column_config.TextColumn("Change", width=105, help="total − previous total", **right),
            "total": st.column_config.TextColumn("Total", width=110, **right),
            "previous_total": st.column_config.TextColumn(
                "Previous total", width=120, help="the contract's previous invoice", **right
            ),
            "hold_reason": st.column_config.TextColumn("Hold reason", width=200),
            "flags": st.column_config.ListColumn("Flags", width=200),
            "contract_id": st.column_config.TextColumn("Contract", width=90),
            "period_start": st.column_config.DateColumn("Period start", format=DATE_FORMAT, width=100),
            "invoice_id": st.column_config.TextColumn("Invoice id", width=190),
        },
    )
    return list(event.selection.rows)


def actions(table, shown: pd.DataFrame, selected: pd.DataFrame, version: tuple) -> None:
    frame = table.frame
    status = selected["status"]
    drafts = selected[status == "draft"]["invoice_id"].tolist()
    approved_sel = selected[status == "approved"]["invoice_id"].tolist()
    holdable = selected[status != "held"]["invoice_id"].tolist()
    held = selected[status == "held"]["invoice_id"].tolist()
    unflagged = frame[(frame["status"] == "draft") & frame["unflagged"]]
    token = (table.run_id, str(table.period_date), version)

    if len(selected):
        st.caption(
            f"{len(selected):,} selected: {len(drafts):,} draft(s), {len(approved_sel):,} approved, {len(held):,} held."
        )
    else:
        st.caption("Select rows (the boxes at the left of the table) to act on them and to open them.")
    c = st.columns([1.2, 1.2, 1.2, 1.6, 1.6])
    sel_ids = tuple(selected["invoice_id"])
    c[0].button(
        f"Approve {len(drafts):,} selected",
        key="rv_approve",
        disabled=not drafts,
        on_click=_approve,
        args=(drafts, (sel_ids, *token), "selected draft(s)"),
        help="reviewed: they may be finalized",
    )
    if not holdable:
        close_popover(HOLD_POPOVER)  # nothing to hold any more: never left open over stale rows
    with c[1], action_popover(f"Hold {len(holdable):,} selected…", HOLD_POPOVER, disabled=not holdable):
        with st.form("rv_hold_form", border=False):
            st.text_input(
                "Reason (kept with each invoice)",
                key="rv_hold_reason",
                placeholder="e.g. usage looks doubled",
                max_chars=MAX_TEXT,  # the application layer's bound: the box stops there
            )
            st.form_submit_button("Put on hold", on_click=_hold, args=(holdable, "rv_hold_reason", (sel_ids, *token)))
        show_flash(HOLD_WHERE)
    c[2].button(
        f"Release {len(held):,} selected",
        key="rv_release",
        disabled=not held,
        on_click=_release,
        args=(held, (sel_ids, *token)),
        help="the held drafts among the selected rows: drafts again, to be reviewed and approved",
    )
    if table.run_id is not None:
        c[3].button(
            f"Approve all {len(unflagged):,} unflagged",
            key="rv_approve_unflagged",
            type="primary",
            disabled=unflagged.empty,
            on_click=_approve_unflagged,
            args=(table.run_id, token),
            help="every draft of the run with no review flag, in one step",
        )
    else:
        ids = unflagged["invoice_id"].tolist()
        c[3].button(
            f"Approve all {len(ids):,} unflagged",
            key="rv_approve_unflagged",
            type="primary",
            disabled=not ids,
            on_click=_approve,
            args=(ids, ("unflagged", *token), "unflagged draft(s)"),
            help="every draft of the period with no review flag, in one step",
        )
    with c[4]:
        finalize_control(frame, approved_sel, token)
    show_flash(WHERE)  # the outcome of the buttons just above, where the user is looking


def finalize_control(frame: pd.DataFrame, approved_selected: list[str], token: tuple) -> None:
    """The selected approved invoices, or (none selected) every approved one of the review, behind a
    confirmation that says how many and what total per currency."""
    if approved_selected:
        todo = frame[frame["invoice_id"].isin(approved_selected)]
        which = "selected approved"
    else:
        todo = frame[frame["status"] == "approved"]
        which = "approved"
    if todo.empty:
        close_popover(FINALIZE_POPOVER)  # after a finalize, or when nothing is approved: closed, not stale
    invoices = f"invoice{'s' if len(todo) != 1 else ''}"
    with action_popover(
        f"Finalize {len(todo):,} {which}…",
        FINALIZE_POPOVER,
        disabled=todo.empty,
        type="primary" if len(todo) else "secondary",
    ):
        if todo.empty:
            st.caption("Nothing approved to finalize.")
            return
        st.markdown(f"**Finalize {len(todo):,} {which} {invoices}:** {per_currency(totals_by_currency(todo))}")
        st.caption("Each gets the next number of its business and can never change again (only be voided).")
        ids = todo["invoice_id"].tolist()
        st.button(
            f"Finalize {len(todo):,} {invoices}",
            type="primary",
            key="rv_finalize",
            on_click=_finalize,
            args=(ids, (tuple(ids), *token)),
        )
        show_flash(FINALIZE_POPOVER)  # a refusal, inside the popover that stays open


def invoice_panel(db: str, invoice_id: str, heading: str, key: str) -> None:
    inv = _reads.load_invoice(db, invoice_id)
    st.markdown(f"**{heading}** — {title_of(inv)}")
    period = f"{fmt_date(inv.period_start)} → {fmt_date(inv.period_end)}" if inv.period_start else "—"
    st.caption(f"Period {period} · total **{format_code(inv.total_minor, inv.currency)}** · invoice id `{invoice_id}`")
    credit_beside_total(inv)  # a draft: the customer's credit, applied once it is finalized
    frame = lines_frame(inv)
    if frame.empty:
        st.info("No lines.")
    else:
        compact = compact_lines_frame(frame)
        row_height = compact_row_height(compact)
        st.dataframe(  # half a page: quantity × price in one column, the line's coupon discount and taxes beside
            compact,
            hide_index=True,
            key=f"{key}_lines",
            placeholder="",
            row_height=row_height,
            height=table_height(len(compact), row_height),
            column_config=compact_line_columns(),
        )
    show_adjustments(inv, key, compact=True)  # its coupons, its taxes per code, subtotal − discount + tax = total
    show_document(inv, key)


def compare(db: str, selected: pd.DataFrame) -> None:
    """One selected draft beside the contract's previous invoice: lines and document of each."""
    rows = selected.to_dict("records")
    if len(rows) > 1:
        by_id = {r["invoice_id"]: r for r in rows}
        chosen = select_current(
            "Open",
            list(by_id),
            key="rv_open",
            default=rows[0]["invoice_id"],
            format_func=lambda i: f"{by_id[i]['customer']} · {by_id[i]['contract_id']} · {by_id[i]['status']} · {i}",
        )
        row = by_id[chosen]
    else:
        row = rows[0]
    st.subheader(f"{row['customer']} · contract {row['contract_id']}")
    for flag, reason in zip(row["flags"], row["reasons"], strict=True):
        st.markdown(f"- **{flag}**: {reason}")
    if not row["flags"]:
        st.caption("No review flag.")
    left, right = st.columns(2)
    with left:
        invoice_panel(db, row["invoice_id"], "This draft", "rv_cur")
    with right:
        if row["previous_invoice_id"]:
            invoice_panel(db, row["previous_invoice_id"], "Previous invoice", "rv_prev")
        else:
            st.info("The contract's first invoice: there is no earlier invoice to compare with.")


# --- the page -----------------------------------------------------------------------------------------

st.title("Review")
st.caption(
    "Every draft of a bill run against the contract's previous invoice, with the review flags and why; "
    "approve, hold or release them, then finalize the approved ones. Actions are recorded under 'Your name'."
)
show_flash()

db = db_path()
kept.restore((*KEPT_SCOPE, *KEPT_VIEW))  # a run picked on the Bill run page (go_to) wins over the one kept
run_id, period_date = pick_scope(db)
kept.remember(KEPT_SCOPE)
version = _reads.review_version(db)
try:
    table = _reads.review_table(db, run_id, period_date, version)
except BillsimError as exc:  # a run that did not complete (interrupted): nothing to review
    st.error(str(exc))
    st.stop()
frame = table.frame
summary(table, frame)
unbilled_panel(db, table)
thresholds_panel(db, table, version)

if frame.empty:
    show_flash(WHERE)  # e.g. the last ones were just finalized
    st.info("No draft under review in this scope (every invoice of it is finalized, void, or not drafted yet).")
    st.stop()

wanted = st.pills(
    "Show drafts with flag…",
    list(REVIEW_FLAGS),
    selection_mode="multi",
    key="rv_flags",
    format_func=lambda f: f"{flag_words(f)} · {table.flag_counts.get(f, 0):,}",
    help="drafts having any of the chosen flags (none chosen: every draft); the number is how many drafts have it",
)
statuses = st.pills(
    "Status",
    list(STATUSES),
    selection_mode="multi",
    key="rv_statuses",
    format_func=lambda s: f"{s} · {int((frame['status'] == s).sum()):,}",
)

order = st.selectbox(
    "Sort by",
    list(ORDERS),
    key="rv_order",
    format_func=lambda o: ORDERS[o][0],
    help="amounts of two currencies are never compared: an amount sorts within each currency (currencies in "
    "alphabetical order); the change % sorts every draft at once. Kept after every action.",
)
kept.remember(KEPT_VIEW)


@st.fragment
def drafts_section(table, wanted: list[str], statuses: list[str], order: str, version: tuple) -> None:
    """The grid, the actions and the opened draft: ticking a row reruns only this part of the page. An action
    changes data the summary above shows too: then the whole page is drawn again."""
    if st.session_state.pop("data_changed", False):
        st.rerun(scope="app")
    shown, grid = view(table, wanted, statuses, order)
    st.caption(
        f"{len(shown):,} of {len(table.frame):,} drafts shown, by {ORDERS[order][0]}. Tick rows to act on them; "
        "sort with 'Sort by' above (a header click sorts amounts as text)."
    )
    # The key names what the rows are: another filter or order, or any change of the data, starts a fresh
    # selection (a selection is a list of row positions, which would otherwise point at other rows).
    rows = repr((table.run_id, str(table.period_date), sorted(wanted), sorted(statuses), order, version))
    picked = review_grid(grid, "rv_table_" + hashlib.sha1(rows.encode()).hexdigest()[:12])
    selected = shown.iloc[[p for p in picked if p < len(shown)]]
    actions(table, shown, selected, version)
    if len(selected):
        compare(db, selected)


drafts_section(table, list(wanted or []), list(statuses or []), order, version)
