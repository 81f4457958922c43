"""Ledger & export: filter and page through invoices, open one, finalize / void / delete a draft / record a payment,
download every file `billsim export` writes (invoices, lines, adjustments, credit notes and their items; CSV or
Parquet), byte for byte, one by one or all together in one zip."""

from __future__ import annotations

import datetime as dt
import tempfile
import zipfile
from pathlib import Path

import pandas as pd
import streamlit as st

from engine.service import BillsimError, ledger, lifecycle, requests
from engine.service.formats import status_text
from engine.service.ledger import LEDGER_ORDERS
from engine.service.reads import INVOICE_STATUSES
from views import _kept as kept
from views import _reads
from views._actions import drop_stale_refusal, flash, refusal_until_next_action, run_action, show_flash
from views._credit_note import credit_section
from views._database import db_path, session
from views._format import (
    DATE_FORMAT,
    DATETIME_FORMAT,
    business,
    customer,
    dates_as_dates,
    fmt_date,
    invoice_number_text,
    money,
    money_of_major,
)
from views._invoice_actions import history_panel, place, review_controls, void_control
from views._invoice_document import show_document
from views._invoice_view import PAYABLE, show_invoice, title_of
from views._pickers import select_current

PAGE_SIZES = (25, 50, 100, 250)
# the filters, the order and the page size as an analyst left them, kept across a visit to another page
# (views/_kept.py): back from an invoice's preview, the ledger still shows what it showed
KEPT = (
    "ledger_business",
    "ledger_status",
    "ledger_currency",
    "ledger_customer",
    "ledger_from",
    "ledger_to",
    "ledger_sort",
    "ledger_page_size",
)
ORDER_NAMES = {
    "newest": "newest first",
    "total_desc": "total, highest first",
    "total_asc": "total, lowest first",
    "balance_desc": "balance due, highest first",
    "period_desc": "period start, latest first",
    "period_asc": "period start, earliest first",
    "due_asc": "due date, soonest first",
    "number": "business and number",
    "customer": "customer",
}
DATES = ("period start", "period end", "due date")
NUMBER_WIDTH = 150  # px: the invoice number column
STATUS_WIDTH = 120  # px: the status column, wide enough for its longest words ('partially paid', 'paid (Stripe)')
EXPORT_WHERE = "ledger_export"


METHOD_WORDS = {"manual": "manual", "stripe": "Stripe"}  # a payment method as a person reads it (a name: Stripe)


def _pay(invoice_id: str, paid_seen: str) -> None:
    text = (st.session_state.get(f"pay_amount_{invoice_id}_{paid_seen}") or "").strip()
    method = st.session_state.get(f"pay_method_{invoice_id}", "manual")

    def work() -> str:
        amount = requests.typed_amount(text, "payment")
        inv = lifecycle.pay(session(), invoice_id, amount=amount, method=method)
        return (
            f"Recorded a {METHOD_WORDS[method]} payment of {money_of_major(amount, inv.currency)}: invoice is "
            f"{status_text(inv.status)}, balance due {money(inv.balance_due_minor, inv.currency)}."
        )

    # The amount paid when the form was drawn: the same click replayed finds its token done. The
    # amount box is keyed by it too, so after a payment it is a new box holding the new balance.
    run_action(("pay", invoice_id, paid_seen, text, method), "Payment", work, where=place("ledger"))
    refusal_until_next_action(place("ledger"))  # e.g. not through the credit-note steps that follow


def _prepare_export(fmt: str, filters: dict | None) -> None:
    folder = Path(st.session_state.get("export_dir") or tempfile.mkdtemp(prefix="billsim-export-"))
    st.session_state["export_dir"] = str(folder)
    try:
        paths = ledger.export(session(), folder / fmt, fmt, filters=filters)
    except BillsimError as exc:
        flash("error", f"Export refused: {exc}", EXPORT_WHERE)
        return
    at = dt.datetime.now(dt.UTC)
    st.session_state["export_paths"] = {
        "fmt": fmt,
        "at": at,
        "filtered": bool(filters),
        "files": {k: str(v) for k, v in paths.items()},
        "zip": str(_zip(paths, folder / f"{fmt}.zip")),  # rewritten by the next export of this format
    }


def _zip(paths: dict[str, Path], target: Path) -> Path:
    """Every file of one export (one snapshot of the ledger) in one zip, each stored as written."""
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in paths.values():
            archive.write(path, arcname=path.name)
    return target


def _balance(balance, currency: str, status: str) -> str:
    """What is still due: nothing on a void invoice (it collects nothing more, whatever was unpaid)."""
    return "none (void)" if status == "void" else money_of_major(balance, currency)


def _statuses(chosen: list[str]) -> list[str]:
    """The filter's statuses as stored: 'open' means every invoice still to be paid, a partly paid one included
    (after a first payment an invoice is still open to the customer)."""
    return sorted({*chosen, *(["partially_paid"] if "open" in chosen else [])}, key=INVOICE_STATUSES.index)


def _table(frame: pd.DataFrame, names: dict[str, str], sellers: dict[str, str]) -> pd.DataFrame:
    """The page of the ledger as shown: customers by name, amounts with their currency (the one money formatter),
    dates as dates, no number for drafts (numbers are given at finalization). The columns an analyst scans first
    come first (number, customer, status, total, balance due, due date): they stay in view on a laptop's width."""
    return pd.DataFrame(
        {
            "number": [invoice_number_text(n) for n in frame["invoice_number"]],
            "customer": [customer(names.get(c), c) for c in frame["customer_id"]],
            "status": [status_text(s, paid_by=True) for s in frame["status"]],
            "total": [money_of_major(v, c) for v, c in zip(frame["total"], frame["currency"], strict=True)],
            "balance due": [
                _balance(v, c, s)
                for v, c, s in zip(frame["balance_due"], frame["currency"], frame["status"], strict=True)
            ],
            "due date": frame["due_date"],
            "period start": frame["period_start"],
            "period end": frame["period_end"],
            "contract": frame["contract_id"].fillna("manual"),
            "business": [business(sellers, b) for b in frame["business_id"]],
            "currency": frame["currency"],
            "invoice": frame["invoice_id"],
            "bill run": frame["run_id"].fillna(""),
            "created (UTC)": frame["created_at"],
        }
    )


def _open_invoice(db: str, pick: str) -> None:
    """The opened invoice: its actions for its status, the invoice, its credit notes, history, document and
    payments."""
    try:
        inv = _reads.load_invoice(db, pick)
    except BillsimError as exc:
        st.error(str(exc))
    else:
        st.markdown(f"**{title_of(inv)}** · `{inv.invoice_id}`")
        if inv.status in ("draft", "approved", "held"):
            review_controls(inv, "ledger")
        elif inv.status in PAYABLE:
            if inv.balance_due_minor > 0:  # credit notes or customer credit may leave nothing to pay
                with st.form(f"pay_{pick}", border=True):
                    p1, p2, p3 = st.columns([2, 1, 1], vertical_alignment="bottom")
                    seen = f"{inv.total_paid_minor}_{inv.balance_due_minor}"  # a credit note changes the balance too
                    p1.text_input(
                        f"Payment amount ({inv.currency})", value=str(inv.balance_due), key=f"pay_amount_{pick}_{seen}"
                    )
                    p2.selectbox("Method", ["manual", "stripe"], key=f"pay_method_{pick}", format_func=METHOD_WORDS.get)
                    p3.form_submit_button("Record payment", type="primary", on_click=_pay, args=(pick, seen))
            void_control(inv, "ledger")
        drop_stale_refusal(place("ledger"))  # a refusal of a payment goes once the analyst did something else
        show_flash(place("ledger"))  # what the buttons above just did
        show_invoice(inv, key="ledger")
        credit_section(inv, key="ledger")  # credit notes, balance, "Credit note…"; the customer's credit
        history_panel(inv, key="ledger")
        show_document(inv, key="ledger")
        payments = _reads.invoice_payments(db, pick)
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
                placeholder="",
                column_config={
                    "paid at (UTC)": st.column_config.DatetimeColumn(format=DATETIME_FORMAT),
                    "amount": st.column_config.TextColumn(alignment="right"),
                },
            )


def _label(
    invoice_id: str, number, customer_text: str, contract_id, period_start, total, currency: str, status: str
) -> str:
    """What tells invoices apart: the number, or the invoice's id before it has one (two drafts of one customer and
    amount differ by it), then customer, contract, period, total and the status in words; no empty field (a
    manual invoice has no period), nothing said twice."""
    contract = contract_id if isinstance(contract_id, str) and contract_id else "manual"  # NaN in a mixed frame
    fields = (
        invoice_number_text(number) or invoice_id,
        customer_text,
        contract,
        fmt_date(period_start),
        money_of_major(total, currency),
        status_text(status, paid_by=True),
    )
    return " · ".join(f for f in fields if f)


st.title("Ledger & export")
st.caption("Every stored invoice. Filters narrow the table and the export; the table is read one page at a time.")
show_flash()

db = db_path()
kept.restore(KEPT)
for key, known in (("ledger_business", _reads.businesses(db)), ("ledger_currency", _reads.invoice_currencies(db))):
    if key in st.session_state:  # kept from a database since replaced: only what the data still holds
        st.session_state[key] = [v for v in st.session_state[key] if v in known]
with st.container(border=True):
    f1, f2, f3 = st.columns(3)
    sellers = _reads.business_names(db)
    biz = f1.multiselect(
        "Business", _reads.businesses(db), key="ledger_business", format_func=lambda b: business(sellers, b)
    )
    status = f2.multiselect(
        "Status",
        INVOICE_STATUSES,
        key="ledger_status",
        format_func=lambda s: "open (partly paid included)" if s == "open" else status_text(s, paid_by=True),
        help="'open': every invoice still to be paid, also after a first payment",
    )
    currency = f3.multiselect("Currency", _reads.invoice_currencies(db), key="ledger_currency")
    f4, f5, f6 = st.columns(3)
    customers = f4.text_input("Customer id(s)", key="ledger_customer", placeholder="CUS-1, CUS-2")
    start_from = f5.date_input(
        "Period start from", key="ledger_from", format=DATE_FORMAT, **kept.initial("ledger_from", None)
    )
    start_to = f6.date_input("Period start to", key="ledger_to", format=DATE_FORMAT, **kept.initial("ledger_to", None))
filters = {
    k: v
    for k, v in {
        "business_id": biz,
        "status": _statuses(status),
        "currency": currency,
        "customer_id": [c.strip() for c in customers.split(",") if c.strip()],
        "period_start_from": start_from,
        "period_start_to": start_to,
    }.items()
    if v
}

size = st.session_state.get("ledger_page_size", PAGE_SIZES[1])
order = st.session_state.get("ledger_sort", "newest")
page_key = "ledger_page_" + repr(sorted((k, str(v)) for k, v in filters.items())) + f"_{size}_{order}"
kept.restore([page_key])  # the page of these filters shown before a visit to another page
page = max(1, int(st.session_state.get(page_key) or 1))
try:
    frame, total = _reads.ledger_page(db, filters, order, size, (page - 1) * size)
except BillsimError as exc:
    st.error(str(exc))
    st.stop()
pages = max(1, -(-total // size))
if page > pages:  # fewer invoices than when this page was chosen
    st.session_state.pop(page_key, None)
    page = pages
    frame, total = _reads.ledger_page(db, filters, order, size, (page - 1) * size)
frame = dates_as_dates(frame)
names = _reads.customer_names(db, tuple(sorted(set(frame["customer_id"]))))
top_l, top_m, top_r = st.columns([3, 2, 1])
top_m.selectbox(
    "Sort by",
    list(LEDGER_ORDERS),
    key="ledger_sort",
    format_func=ORDER_NAMES.get,
    help="sorts every matching invoice, then shows one page",
)
top_r.selectbox(
    "Per page", PAGE_SIZES, key="ledger_page_size", **kept.initial("ledger_page_size", PAGE_SIZES.index(size), "index")
)
kept.remember(KEPT)  # every widget of KEPT is drawn by now
if pages > 1:
    st.pagination(pages, key=page_key, **kept.initial(page_key, page, "default"))
    kept.remember([page_key])
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
    amount = "in the invoice's currency, exact"
    st.dataframe(
        _table(frame, names, sellers),
        hide_index=True,
        key="ledger_table",
        placeholder="",
        column_config={
            **{c: st.column_config.DateColumn(format=DATE_FORMAT) for c in DATES},
            # wide enough for a whole number (N-2026-000001, a longer prefix too): cut, it reads as another number
            "number": st.column_config.TextColumn(width=NUMBER_WIDTH),
            "status": st.column_config.TextColumn(width=STATUS_WIDTH),  # cut, 'paid (manual)' read 'paid'
            "total": st.column_config.TextColumn(help=amount, alignment="right"),
            "balance due": st.column_config.TextColumn(help=amount, alignment="right"),
            "created (UTC)": st.column_config.DatetimeColumn(format=DATETIME_FORMAT),
        },
    )

# --- one invoice ------------------------------------------------------------------------------------
labels = {
    r.invoice_id: _label(
        r.invoice_id,
        r.invoice_number,
        customer(names.get(r.customer_id), r.customer_id),
        r.contract_id,
        r.period_start,
        r.total,
        r.currency,
        r.status,
    )
    for r in frame.itertuples()
}
opened = st.session_state.get("ledger_open")
if opened and opened not in labels:  # opened from another page, or on another page of the ledger
    try:
        other = _reads.load_invoice(db, opened)
    except BillsimError:
        opened = None
    else:
        other_customer = customer(
            _reads.customer_names(db, (other.customer_id,)).get(other.customer_id), other.customer_id
        )
        labels = {
            opened: _label(
                other.invoice_id,
                other.invoice_number,
                other_customer,
                other.contract_id,
                other.period_start,
                other.total,
                other.currency,
                other.status,
            ),
            **labels,
        }
pick = None
if labels:  # nothing to open when no invoice matches and none was opened from another page
    st.subheader("Invoice")
    pick = select_current(
        "Open an invoice of this page",
        list(labels),
        key="ledger_pick",
        default=opened,
        placeholder="choose an invoice",
        format_func=lambda i: labels.get(i, i),
    )
    st.session_state["ledger_open"] = pick
    if pick:
        _open_invoice(db, pick)
if not pick:  # the invoice just deleted: what its buttons did is said where it was
    show_flash(place("ledger"))

# --- export -----------------------------------------------------------------------------------------
if not total:
    st.stop()  # nothing to export: the message above says why
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
show_flash(EXPORT_WHERE)
made = st.session_state.get("export_paths")
if made:
    st.caption(
        f"{made['fmt'].upper()} files written {made['at']:%Y-%m-%d %H:%M:%S} UTC"
        + (" (filtered)" if made["filtered"] else " (all invoices)")
    )
    mime = "text/csv" if made["fmt"] == "csv" else "application/vnd.apache.parquet"
    files = {name: Path(path) for name, path in made["files"].items()}
    archive, archive_name = Path(made["zip"]), f"ledger-export-{made['fmt']}-{made['at']:%Y%m%d-%H%M%S}.zip"
    st.download_button(
        f"Download all {len(files)} files ({archive_name}, {archive.stat().st_size:,} bytes)",
        data=archive.read_bytes,
        file_name=archive_name,
        mime="application/zip",
        key="download_all",
        type="primary",
        icon=":material/folder_zip:",
        on_click="ignore",
        help="; ".join(p.name for p in files.values()) + ": the same files as below, in one zip",
    )
    st.caption("Or one file at a time:")
    for name, path in files.items():
        st.download_button(
            f"{path.name} ({path.stat().st_size:,} bytes)",
            data=path.read_bytes,
            file_name=path.name,
            mime=mime,
            key=f"download_{name}",
            icon=":material/download:",
            on_click="ignore",
        )
