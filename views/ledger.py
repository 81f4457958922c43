"""Ledger & export: filter and page through invoices, open one, finalize / void / record a payment,
download invoices and lines exactly as `billsim export` writes them (CSV or Parquet)."""

from __future__ import annotations

import datetime as dt
import tempfile
from decimal import Decimal, InvalidOperation
from pathlib import Path

import pandas as pd
import streamlit as st

from engine.errors import BillsimError, ValidationError
from engine.io.workbench_queries import INVOICE_STATUSES
from views._common import (
    cursor,
    dates_as_dates,
    flash,
    fmt_date,
    money,
    money_of_major,
    read,
    run_action,
    show_flash,
)
from views._invoice_view import PAYABLE, show_invoice, title_of

PAGE_SIZES = (25, 50, 100, 250)
SHOWN = [
    "business_id",
    "number",
    "status",
    "customer_id",
    "contract_id",
    "currency",
    "period_start",
    "period_end",
    "due_date",
    "total",
    "balance_due",
    "invoice_id",
    "run_id",
    "created_at",
]
DATES = ("period_start", "period_end", "due_date")


def _finalize(invoice_id: str) -> None:
    def work() -> str:
        from engine.billing.lifecycle import finalize_invoice

        return f"Finalized: invoice #{finalize_invoice(cursor(), invoice_id).number} is open."

    run_action(("finalize", invoice_id), "Finalize", work)


def _void(invoice_id: str) -> None:
    def work() -> str:
        from engine.billing.lifecycle import void_invoice

        return f"Voided invoice #{void_invoice(cursor(), invoice_id).number}."

    run_action(("void", invoice_id), "Void", work)


def _pay(invoice_id: str, paid_seen: int) -> None:
    text = (st.session_state.get(f"pay_amount_{invoice_id}") or "").strip()
    method = st.session_state.get(f"pay_method_{invoice_id}", "manual")

    def work() -> str:
        from engine.billing.lifecycle import record_payment

        try:
            amount = Decimal(text.replace(",", ""))
        except InvalidOperation:
            raise ValidationError(f"{text!r} is not an amount") from None
        inv = record_payment(cursor(), invoice_id, amount, method=method)
        return (
            f"Recorded a {method} payment of {money_of_major(amount, inv.currency)}: invoice is "
            f"{inv.status.replace('_', ' ')}, balance due {money(inv.balance_due_minor, inv.currency)}."
        )

    # The balance the form was drawn for: the same click replayed finds its token done.
    run_action(("pay", invoice_id, paid_seen, text, method), "Payment", work)


def _prepare_export(fmt: str, filters: dict | None) -> None:
    from engine.io.export import export_ledger

    folder = Path(st.session_state.get("export_dir") or tempfile.mkdtemp(prefix="billsim-export-"))
    st.session_state["export_dir"] = str(folder)
    try:
        paths = export_ledger(cursor(), folder / fmt, fmt=fmt, filters=filters)
    except BillsimError as exc:
        flash("error", f"Export refused: {exc}")
        return
    st.session_state["export_paths"] = {
        "fmt": fmt,
        "at": dt.datetime.now(dt.UTC),
        "filtered": bool(filters),
        **{k: str(v) for k, v in paths.items()},
    }


def _table(frame: pd.DataFrame) -> pd.DataFrame:
    """The page of the ledger as shown: money with its currency's symbol and decimals, dates as dates,
    no number for drafts (numbers are given at finalization)."""
    out = frame[SHOWN].copy()
    for col in ("total", "balance_due"):
        out[col] = [money_of_major(v, c) for v, c in zip(frame[col], frame["currency"], strict=True)]
    out["number"] = ["" if pd.isna(n) else f"{int(n)}" for n in frame["number"]]
    return out


st.title("Ledger & export")
st.caption("Every stored invoice. Filters narrow the table and the export; the table is read one page at a time.")
show_flash()

with st.container(border=True):
    f1, f2, f3 = st.columns(3)
    biz = f1.multiselect("Business", read("businesses"), key="ledger_business")
    status = f2.multiselect("Status", INVOICE_STATUSES, key="ledger_status")
    currency = f3.multiselect("Currency", read("invoice_currencies"), key="ledger_currency")
    f4, f5, f6 = st.columns(3)
    customers = f4.text_input("Customer id(s)", key="ledger_customer", placeholder="CUS-1, CUS-2")
    start_from = f5.date_input("Period start from", value=None, key="ledger_from", format="YYYY-MM-DD")
    start_to = f6.date_input("Period start to", value=None, key="ledger_to", format="YYYY-MM-DD")
filters = {
    k: v
    for k, v in {
        "business_id": biz,
        "status": status,
        "currency": currency,
        "customer_id": [c.strip() for c in customers.split(",") if c.strip()],
        "period_start_from": start_from,
        "period_start_to": start_to,
    }.items()
    if v
}

size = st.session_state.get("ledger_page_size", PAGE_SIZES[1])
page_key = "ledger_page_" + repr(sorted((k, str(v)) for k, v in filters.items())) + f"_{size}"
page = max(1, int(st.session_state.get(page_key) or 1))
try:
    frame, total = read("ledger_frames", filters, size, (page - 1) * size)
except BillsimError as exc:
    st.error(str(exc))
    st.stop()
pages = max(1, -(-total // size))
if page > pages:  # fewer invoices than when this page was chosen
    st.session_state.pop(page_key, None)
    page = pages
    frame, total = read("ledger_frames", filters, size, (page - 1) * size)
frame = dates_as_dates(frame)
top_l, top_r = st.columns([4, 1])
top_r.selectbox("Per page", PAGE_SIZES, index=PAGE_SIZES.index(size), key="ledger_page_size")
if pages > 1:
    st.pagination(pages, default=page, key=page_key)
top_l.markdown(
    f"**{total:,}** invoice(s)"
    + (" matching the filters" if filters else "")
    + (f" · page {page} of {pages:,}" if pages > 1 else "")
)
if frame.empty:
    st.info(
        "No invoice matches." if filters else "No invoices yet: draft some on the Invoice preview or Bill run pages."
    )
else:
    dates = {c: st.column_config.DateColumn(format="YYYY-MM-DD") for c in DATES}
    money_cols = {c: st.column_config.TextColumn(alignment="right") for c in ("number", "total", "balance_due")}
    st.dataframe(_table(frame), hide_index=True, key="ledger_table", column_config=dates | money_cols)

# --- one invoice ------------------------------------------------------------------------------------
st.subheader("Invoice")
labels = {
    r.invoice_id: f"{'#' + str(int(r.number)) if pd.notna(r.number) else 'draft'} · {r.customer_id} · "
    f"{r.contract_id or 'manual'} · {fmt_date(r.period_start)} · "
    f"{money_of_major(r.total, r.currency)} · {r.status}"
    for r in frame.itertuples()
}
opened = st.session_state.get("ledger_open")
options = ([opened] if opened and opened not in labels else []) + list(labels)
if st.session_state.get("ledger_pick") not in options:
    st.session_state.pop("ledger_pick", None)
pick = st.selectbox(
    "Open an invoice of this page",
    options,
    key="ledger_pick",
    index=options.index(opened) if opened in options else None,
    placeholder="choose an invoice",
    format_func=lambda i: labels.get(i, i),
)
st.session_state["ledger_open"] = pick
if pick:
    try:
        inv = read("load_invoice", pick)
    except BillsimError as exc:
        st.error(str(exc))
    else:
        st.markdown(f"**{title_of(inv)}** · `{inv.invoice_id}`")
        if inv.status == "draft":
            st.button("Finalize", type="primary", key=f"ledger_finalize_{pick}", on_click=_finalize, args=(pick,))
        elif inv.status in PAYABLE:
            with st.form(f"pay_{pick}", border=True):
                p1, p2, p3 = st.columns([2, 1, 1])
                p1.text_input(f"Payment amount ({inv.currency})", value=str(inv.balance_due), key=f"pay_amount_{pick}")
                p2.selectbox("Method", ["manual", "stripe"], key=f"pay_method_{pick}")
                p3.form_submit_button(
                    "Record payment", type="primary", on_click=_pay, args=(pick, inv.total_paid_minor)
                )
            st.button(
                "Void",
                key=f"ledger_void_{pick}",
                on_click=_void,
                args=(pick,),
                help="the invoice keeps its number; its cycle may be drafted again",
            )
        show_invoice(inv, key="ledger")
        payments = read("invoice_payments", pick)
        if payments:
            st.caption("Payments")
            st.dataframe(
                pd.DataFrame(
                    [
                        {
                            "paid at (UTC)": p["paid_at"],
                            "method": p["method"],
                            "amount": money(p["amount_minor"], p["currency"]),
                            "payment": p["payment_id"],
                        }
                        for p in payments
                    ]
                ),
                hide_index=True,
                key="ledger_payments",
            )

# --- export -----------------------------------------------------------------------------------------
st.subheader("Export")
e1, e2 = st.columns([1, 3])
fmt = e1.radio("Format", ["csv", "parquet"], horizontal=True, key="export_format")
only_filtered = e2.checkbox(
    "Only the invoices matching the filters", value=True, key="export_filtered", disabled=not filters
)
st.button(
    f"Prepare the {fmt.upper()} files",
    key="export_prepare",
    on_click=_prepare_export,
    args=(fmt, filters if (filters and only_filtered) else None),
    help="written by the engine's export, exactly as `billsim export` writes them",
)
made = st.session_state.get("export_paths")
if made:
    st.caption(
        f"{made['fmt'].upper()} files written {made['at']:%Y-%m-%d %H:%M:%S} UTC"
        + (" (filtered)" if made["filtered"] else " (all invoices)")
    )
    mime = "text/csv" if made["fmt"] == "csv" else "application/vnd.apache.parquet"
    d1, d2 = st.columns(2)
    for col, name in ((d1, "invoices"), (d2, "invoice_lines")):
        path = Path(made[name])
        col.download_button(
            f"Download {path.name} ({path.stat().st_size:,} bytes)",
            data=path.read_bytes,
            file_name=path.name,
            mime=mime,
            key=f"download_{name}",
            on_click="ignore",
        )
