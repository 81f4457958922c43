"""One invoice (previewed or stored): header, lines with their breakdown, tiers, totals, pending usage."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from engine.service.formats import Invoice, status_text
from views import _reads
from views._credit_note import credit_beside_total
from views._database import db_path
from views._format import (
    DATE_FORMAT,
    balance_text,
    business,
    customer,
    fmt_date,
    grouped_number,
    labelled,
    markdown_escaped,
    money,
    money_of_major,
    plain_number,
)
from views._invoice_adjustments import line_adjustments, show_adjustments, tax_label, taxes_text
from views._table_text import row_height_for, table_height

PAYABLE = ("open", "partially_paid")
# the lines' text columns (px), wrapped up to 4 lines
LINE_PX, KIND_PX, EXPLANATION_PX, COMPACT_LINE_PX, COMPACT_PRICE_PX, TEXT_LINES = 200, 130, 240, 130, 170, 4
KIND_NAMES = {
    "minimum_commitment_true_up": "min. commitment true-up",
    "delayed_charge": "delayed charge",
    "one_time": "one-time",
}


def title_of(inv: Invoice) -> str:
    if inv.invoice_id is None:
        return "Preview (nothing stored)"
    number = f"{inv.invoice_number} " if inv.invoice_number else ""
    return f"Invoice {number}· {status_text(inv.status, paid_by=True)}"


def customer_of(inv: Invoice) -> str:
    names = _reads.customer_names(db_path(), (inv.customer_id,))
    return customer(names.get(inv.customer_id), inv.customer_id)


def lines_frame(inv: Invoice) -> pd.DataFrame:
    """One row per line: what was priced (quantity × unit price with its currency, the active days of the period's
    days, discount) and the amount rounded once to the currency, its share of the invoice's coupons (when it took
    any) and the taxes it carries (when the invoice has any). The line's own window is shown only when it differs
    from the invoice period; a column no line fills (line discount %, usage rows, explanation) is left out.

    A line that is not quantity × unit price (package, percentage, minimum-commitment true-up) shows its
    `explanation`, the engine's (docs/RULES.md "What a line shows"), and no unit price: a package's is per pack."""
    cur = inv.currency
    rows = []
    for ln in inv.lines:
        text = ln.product or ""
        if ln.description and ln.description != ln.product:
            text = f"{text} — {ln.description}" if text else ln.description
        window = ""
        if ln.period_start and (ln.period_start, ln.period_end) != (inv.period_start, inv.period_end):
            window = f"{fmt_date(ln.period_start)} → {fmt_date(ln.period_end)}"
        rows.append(
            {
                "#": ln.line_no,
                "line": text,
                "kind": KIND_NAMES.get(ln.kind, ln.kind) + (f" · {ln.pricing_model}" if ln.pricing_model else ""),
                "quantity": grouped_number(ln.quantity),  # '5,710', as the line's explanation writes it
                "unit price": "" if ln.explanation else money_of_major(ln.unit_price, cur),
                "explanation": ln.explanation or "",
                # the proration once, in days: amount = price × active days / period days
                "days": f"{ln.active_days} of {ln.period_days}" if ln.active_days is not None else "",
                "line discount %": plain_number(ln.discount_percent),
                "amount": money(ln.amount_minor, cur),
                **line_adjustments(ln, inv),  # its coupon discount, its taxes
                "usage rows": "" if ln.usage_rows is None else f"{ln.usage_rows:,}",
                "window": window,
                "id": ln.line_id or ln.charge_id or "",
            }
        )
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    # a column no line fills says nothing and pushes the others out of view (the coupon discount stays when
    # the invoice took a coupon, the tax when it has any)
    empty = [c for c in ("window", "line discount %", "usage rows", "explanation") if not frame[c].any()]
    if not inv.coupons and not frame["coupon discount"].any():
        empty.append("coupon discount")
    if not inv.taxes and not frame["tax"].any():
        empty.append("tax")
    return frame.drop(columns=empty)


def compact_lines_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """The lines of `lines_frame` for half a page (the Review page's side by side): the line, quantity × unit
    price (or the line's explanation), the amount, its coupon discount ('coupons') and its taxes when the invoice
    view shows them."""
    explained = frame["explanation"] if "explanation" in frame else [""] * len(frame)
    priced = [
        e or (f"{q} × {p}" if q and p else (p or q))
        for q, p, e in zip(frame["quantity"], frame["unit price"], explained, strict=True)
    ]
    out = pd.DataFrame({"line": frame["line"], "quantity × price": priced, "amount": frame["amount"]})
    if "coupon discount" in frame:
        out["coupons"] = frame["coupon discount"]
    if "tax" in frame:
        out["tax"] = frame["tax"]
    return out


def compact_line_columns() -> dict:
    """The column settings of compact_lines_frame (its row height: compact_row_height)."""
    right = st.column_config.TextColumn(alignment="right")
    return {
        "line": st.column_config.TextColumn(width=COMPACT_LINE_PX),
        "quantity × price": st.column_config.TextColumn(alignment="right", width=COMPACT_PRICE_PX),
        "amount": right,
        "coupons": st.column_config.TextColumn(alignment="right", help="the line's share of the coupons"),
        "tax": st.column_config.TextColumn(help="the tax codes the line carries"),
    }


def compact_row_height(frame: pd.DataFrame) -> int | None:
    """compact_lines_frame's rows: as many lines as its longest line text (or explanation) needs (up to
    TEXT_LINES)."""
    return row_height_for([(frame["line"], COMPACT_LINE_PX), (frame["quantity × price"], COMPACT_PRICE_PX)], TEXT_LINES)


def facts(pairs: list[tuple[str, str]]) -> None:
    """Label/value pairs in a row of columns, in body text (metrics would cut long values off)."""
    for col, (label, value) in zip(st.columns(len(pairs)), pairs, strict=True):
        col.caption(label)
        col.markdown(f"**{value}**")


def tiers_frame(line, currency: str) -> pd.DataFrame:
    """Each tier's share: units in (lower, up_to] × unit price + flat fee (exact, before rounding)."""
    return pd.DataFrame(
        [
            {
                "tier": t.tier_no,
                "above": grouped_number(t.lower),
                "up to": grouped_number(t.up_to) if t.up_to is not None else "∞",
                "units": grouped_number(t.units),
                f"unit price ({currency})": grouped_number(t.unit_price),
                f"flat fee ({currency})": grouped_number(t.flat_fee),
                f"amount ({currency}, exact)": grouped_number(t.amount),
            }
            for t in line.tiers or []
        ]
    )


def show_invoice(inv: Invoice, key: str, pending_usage: list[dict] | None = None) -> None:
    """The whole invoice; `key` keeps the element keys of two invoices on one page apart.

    A stored invoice does not carry its cycle's pending usage; pass the preview's `pending_usage`."""
    cur = inv.currency
    if inv.status == "void":
        st.warning("Voided" + (f": {markdown_escaped(inv.void_reason)}" if inv.void_reason else " (no reason given)"))
    period = f"{fmt_date(inv.period_start)} → {fmt_date(inv.period_end)}" if inv.period_start else "—"
    facts(
        [
            ("Period", period),
            ("Bill-for date", fmt_date(inv.bill_for_date) or "—"),
            ("Due date", fmt_date(inv.due_date) or "—"),
            ("Customer", customer_of(inv)),
            ("Seller", business(_reads.business_names(db_path()), inv.business_id)),
            ("Contract", inv.contract_id or "manual invoice"),
        ]
    )
    if inv.description:  # the invoice's own (a manual invoice's, typed on its form), as its document shows it
        st.markdown(f"**Description:** {markdown_escaped(inv.description)}")
    details = [f"currency {cur}", taxes_text(inv)]
    if inv.period_days:
        details.append(f"full period {inv.period_days} days")
    if inv.invoice_id:
        details.append(f"invoice id `{inv.invoice_id}`")
    if inv.run_id:
        details.append(f"bill run `{inv.run_id}`")
    st.caption(" · ".join(details))

    frame = lines_frame(inv)
    if frame.empty:
        st.info("No lines.")
    else:

        def right(width: int, help_text: str | None = None):
            return st.column_config.TextColumn(alignment="right", width=width, help=help_text)

        # a long line text (a manual invoice's description, a product's name) wraps in its column, never cut off
        texts = [(frame["line"], LINE_PX), (frame["kind"], KIND_PX)]
        if "explanation" in frame:
            texts.append((frame["explanation"], EXPLANATION_PX))
        row_height = row_height_for(texts, TEXT_LINES)
        st.dataframe(
            frame,
            hide_index=True,
            key=f"{key}_lines",
            placeholder="",
            row_height=row_height,
            height=table_height(len(frame), row_height),
            column_config={
                "#": st.column_config.NumberColumn(width=32),
                "line": st.column_config.TextColumn(width=LINE_PX),
                "kind": st.column_config.TextColumn(width=KIND_PX),
                "quantity": right(80),
                "unit price": right(95, "exact (more decimals than the currency has are kept)"),
                "explanation": st.column_config.TextColumn(
                    width=EXPLANATION_PX, help="how the amount is made, for a line that is not quantity × unit price"
                ),
                "days": right(
                    80,
                    "active days of the period's days: recurring lines and the minimum commitment are "
                    "prorated by this fraction",
                ),
                "line discount %": right(
                    95, "the order line's own discount_percent, already in its amount (coupons are apart)"
                ),
                "amount": right(110, f"rounded once to {cur}'s minor unit"),
                "coupon discount": right(110, "the line's share of the invoice's coupons"),
                "tax": st.column_config.TextColumn(
                    width=110, help="the tax codes the line carries ('exempt': none; 'Tax r %': the customer's rate)"
                ),
                "usage rows": right(80, "approved usage rows aggregated"),
            },
        )
    for ln in inv.lines:
        if ln.tiers:
            with st.expander(
                f"Tiers of line {ln.line_no}: {ln.product} ({ln.pricing_model}, quantity {grouped_number(ln.quantity)})"
            ):
                st.dataframe(tiers_frame(ln, cur), hide_index=True, key=f"{key}_tiers_{ln.line_no}", placeholder="")

    show_adjustments(inv, key)  # the coupons, the taxes per code, subtotal − discount + tax = total
    # two rows of wide columns: in five narrow ones a metric cuts a long amount off ('A$12,478…')
    t1, t2, t3 = st.columns(3)
    t1.metric("Subtotal", money(inv.subtotal_minor, cur))
    t2.metric("Coupon discount", money(inv.discount_minor, cur), help="what the coupons took (subtracted)")
    t3.metric(tax_label(inv), money(inv.tax_minor, cur), help="the sum of the taxes (added)")
    t4, t5, t6 = st.columns(3)
    t4.metric("Total", money(inv.total_minor, cur))
    t5.metric("Paid", money(inv.total_paid_minor, cur))
    t6.metric("Balance due", balance_text(inv.balance_due_minor, cur, inv.status))
    credit_beside_total(inv)  # a draft's or a preview's: the customer's credit and what is asked once finalized

    pending = inv.pending_usage if pending_usage is None else pending_usage
    if pending:
        st.warning(f"{len(pending)} pending usage row(s) in this cycle are NOT billed (only approved usage is).")
        shown = pd.DataFrame(pending)
        shown["quantity"] = shown["quantity"].map(grouped_number)
        st.dataframe(
            labelled(shown),
            hide_index=True,
            key=f"{key}_pending",
            placeholder="",
            column_config={"usage date": st.column_config.DateColumn(format=DATE_FORMAT)},
        )


def order_lines_signature(inv: Invoice) -> list[tuple]:
    """What a re-rating can change (delayed charges are swept by runs, never by a preview)."""
    return sorted(
        (ln.kind, ln.line_id or "", ln.amount_minor, str(ln.quantity))
        for ln in inv.lines
        if ln.kind != "delayed_charge"
    )
