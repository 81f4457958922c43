"""Manual invoices (the API's POST /invoices and /invoices/batch): one invoice of custom lines, optionally with
a recurring template (each bill run drafts its later periods); or a batch from an uploaded JSON (the seed's batch body)
or CSV file, each item created or refused on its own, with its result.

Prices are typed in major units (12.50) and converted exactly to minor units; an amount with more decimals
than the currency has is refused, never rounded.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pandas as pd
import streamlit as st

from engine.service import BillsimError, ValidationError, invoices, requests
from engine.service.formats import exact_minor, status_text
from engine.service.limits import MAX_NAME, MAX_TEXT
from engine.service.seed_bodies import batch_from_csv
from views import _reads
from views._actions import drop_refusal, flash, run_action, show_flash
from views._database import db_path, session
from views._format import DATE_FORMAT, customer, markdown_text, money
from views._invoice_adjustments import taxes_text
from views._pickers import select_current

BATCH_RESULT = "manual_batch_result"
CREATED = "manual_created"
LINES_KEY = "manual_lines"
CREATE_WHERE, BATCH_WHERE = "manual_create", "manual_batch"  # where each button's outcome is shown
COUNT = "manual_created_count"  # invoices created on this page in this session: part of the button's token
CLICKED = "manual_clicked_with"  # what the form held when Create was last clicked (views: _form_now)
# A line as the editor starts it, and as its "+" adds one (each column's `default`; without one the new row's cells
# are None, which the editor shows as the text "None"): no description or price yet, quantity 1.
NEW_LINE = {"description": "", "unit_price": "", "quantity": "1"}
START_LINES = [NEW_LINE]
CSV_HELP = (
    "One row per line item; rows with the same `invoice` make one invoice. Columns: `invoice` (any key), "
    "`customer_id`, `currency` (optional), `due_date` (YYYY-MM-DD), `description` (optional, of the invoice), "
    "`line_description`, `unit_price` (integer minor units: 1250 = 12.50), `quantity` (whole number, default 1)."
)


def _minor(text: str, currency: str, row: int) -> int:
    """A line's unit price, typed in major units by the rule of every typed amount (requests.typed_amount: ASCII
    digits, thousands grouped by commas, no exponent, within the money bound), exactly in the currency's minor
    units: more decimals than the currency has is refused, never rounded."""
    amount = requests.typed_amount(text, f"line {row}: unit price")
    minor = exact_minor(amount, currency)
    if minor is None:
        raise ValidationError(f"line {row}: unit price {text} has more decimals than {currency} has")
    return minor


def _editor_rows(edits: dict | None) -> list[dict]:
    """The line-item editor's rows now: its starting rows with the edit state applied (the state a button's
    callback sees, also when the last cell edit arrives together with the click)."""
    rows = [dict(r) for r in START_LINES]
    edits = edits or {}
    for index, changes in (edits.get("edited_rows") or {}).items():
        if int(index) < len(rows):
            rows[int(index)].update(changes)
    deleted = {int(i) for i in edits.get("deleted_rows") or []}
    rows = [r for i, r in enumerate(rows) if i not in deleted]
    return rows + [dict(r) for r in edits.get("added_rows") or []]


def _quantity(text: str, row: int) -> int:
    """A line's quantity: a whole number by the rule of every typed whole number (requests.whole_number: ASCII
    digits; int() alone would read '١٢' as 12 and '1_000' as 1000), 1 or more (a DayZero line item's quantity)."""
    quantity = requests.whole_number(text)
    if quantity is None:
        raise ValidationError(f"line {row}: quantity {text!r} is not a whole number (write e.g. 3)")
    if quantity < 1:
        raise ValidationError(f"line {row}: quantity must be 1 or more")
    return quantity


def _line_items(rows: list[dict], currency: str) -> list[dict]:
    """The editor's rows as DayZero line items: description, unit_price in integer minor units, quantity."""
    items = []
    for n, row in enumerate(rows, start=1):
        description = str(row.get("description") or "").strip()
        price = str(row.get("unit_price") or "").strip()
        quantity = str(row.get("quantity") or "").strip() or "1"
        if not description and not price:
            continue  # an empty row of the editor
        if not description:
            raise ValidationError(f"line {n}: a description is required")
        if not price:
            raise ValidationError(f"line {n}: a unit price is required")
        items.append(
            {"description": description, "unit_price": _minor(price, currency, n), "quantity": _quantity(quantity, n)}
        )
    if not items:
        raise ValidationError("add at least one line item (description and unit price)")
    return items


def _body(chosen: dict, currency: str, seen: int) -> dict:
    """The invoice the form describes, as the API's request body (ValidationError for a bad line)."""
    state = st.session_state
    body = {
        "customer_id": chosen["customer_id"],
        "currency": currency,
        "line_items": _line_items(_editor_rows(state.get(f"{LINES_KEY}_{seen}")), currency),
        "due_date": state["manual_due"].isoformat(),
        "description": (state.get("manual_description") or "").strip() or None,
    }
    if state.get("manual_recurring"):
        body["recurring"] = {
            "billing_period": state["manual_period"],
            "start_date": state["manual_start"].isoformat(),
            "payment_terms_days": int(state["manual_terms"]),
        }
    return body


def _form_now(currency_key: str, seen: int) -> str:
    """What the one-invoice form holds now (customer, currency, lines, due date, description, recurring): a refusal
    of Create is about the form as it was clicked, and goes once the form has changed."""
    state = st.session_state
    names = ("manual_customer", currency_key, f"{LINES_KEY}_{seen}", "manual_due", "manual_description")
    recurring = ("manual_recurring", "manual_period", "manual_start", "manual_terms")
    return repr([state.get(name) for name in (*names, *recurring)])


def _create_one(chosen: dict | None, currency_key: str, seen: int) -> None:
    state = st.session_state
    state[CLICKED] = _form_now(currency_key, seen)
    if chosen is None:
        flash("error", "Create invoice: choose the customer first.", CREATE_WHERE)
        return
    currency = state.get(currency_key) or chosen["currency"]

    def work() -> str:
        inv = invoices.create(session(), _body(chosen, currency, seen)).invoice
        state[CREATED] = inv.invoice_id
        state[COUNT] = seen + 1
        template = f" and recurring template `{inv.recurring_template_id}`" if inv.recurring_template_id else ""
        return f"Created draft `{inv.invoice_id}` for {money(inv.total_minor, inv.currency)}{template}."

    run_action(("manual_create", chosen["customer_id"], seen), "Create invoice", work, where=CREATE_WHERE)


def _batch_body(name: str, data: bytes, include: bool, finalize: bool) -> dict:
    """The uploaded file as a DayZero batch body: a CSV file's rows (seed_bodies.batch_from_csv), or the JSON
    body itself (numbers read exactly: a float is refused as an amount, never rounded)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ValidationError(f"{name} is not UTF-8 text") from None
    if name.lower().endswith(".csv"):
        return batch_from_csv(text, include_delayed_charges=include, finalize=finalize)
    try:
        return json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as exc:
        raise ValidationError(f"{name} is not valid JSON: {exc}") from None


def _create_batch(name: str, data: bytes, include: bool, finalize: bool) -> None:
    def work() -> str:
        result, _ = invoices.batch(session(), _batch_body(name, data, include, finalize))
        st.session_state[BATCH_RESULT] = result
        return f"Batch: {result.created} invoice(s) created, {result.failed} refused."

    run_action(("manual_batch", name, hash(data), include, finalize), "Create batch", work, where=BATCH_WHERE)


def estimate_panel(chosen: dict | None, currency: str | None, seen: int) -> None:
    """What 'Create invoice' will make, before it is made: subtotal, the customer's tax, total (the engine's own
    computation, nothing stored); or what is still missing."""
    if chosen is None or currency is None:
        st.caption("Choose the customer to see the invoice's total before creating it.")
        return
    try:
        inv = invoices.estimate(session(), _body(chosen, currency, seen))
    except BillsimError as exc:
        st.caption(f"Total before creating: not yet ({exc}).")
        return
    st.markdown(
        markdown_text(
            f"**Total {money(inv.total_minor, inv.currency)}**: subtotal {money(inv.subtotal_minor, inv.currency)} + "
            f"tax {money(inv.tax_minor, inv.currency)} ({taxes_text(inv)}, the customer's)"
        )
    )


st.title("Manual invoices")
st.caption(
    "Invoices of custom lines, outside any contract, one at a time or in a batch from a file. "
    "They are drafts: review, approve and finalize them on the Ledger."
)
show_flash()
db = db_path()
one, batch = st.tabs(["One invoice", "Batch from a file"])

with one:
    search = st.text_input(
        "Find a customer", key="manual_customer_search", placeholder="customer id or name", max_chars=MAX_NAME
    )
    customers = _reads.search_customers(db, search or "", 200)
    by_id = {c["customer_id"]: c for c in customers}
    chosen_id = select_current(
        "Customer",
        list(by_id),
        key="manual_customer",
        default=None,
        format_func=lambda cid: f"{customer(by_id[cid]['name'], cid)} · {by_id[cid]['currency']}",
        index=None,
        placeholder="choose a customer",
    )
    chosen = by_id.get(chosen_id)
    c1, c2, c3 = st.columns(3)
    currencies = sorted({c["currency"] for c in customers} | set(_reads.invoice_currencies(db)))
    default_currency = chosen["currency"] if chosen else None
    currency_key = f"manual_currency_{chosen_id}"  # follows the customer until changed for this customer
    c1.selectbox(
        "Currency",
        currencies,
        key=currency_key,
        index=currencies.index(default_currency) if default_currency in currencies else None,
        help="default: the customer's",
    )
    c2.date_input("Due date", key="manual_due", value=dt.date.today() + dt.timedelta(days=30), format=DATE_FORMAT)
    c3.text_input(
        "Description", key="manual_description", placeholder="optional, shown on the invoice", max_chars=MAX_TEXT
    )
    st.markdown("**Line items** (unit price in major units, e.g. 12.50)")
    st.data_editor(
        pd.DataFrame(START_LINES),
        key=f"{LINES_KEY}_{st.session_state.get(COUNT, 0)}",  # a fresh, empty editor after each invoice
        num_rows="dynamic",
        hide_index=True,
        width="stretch",
        column_config={
            "description": st.column_config.TextColumn(
                "Description", required=True, max_chars=MAX_TEXT, default=NEW_LINE["description"]
            ),
            "unit_price": st.column_config.TextColumn(
                "Unit price",
                help="major units, exact: 12.50 (thousands may be grouped: 1,250.00)",
                default=NEW_LINE["unit_price"],
            ),
            "quantity": st.column_config.TextColumn(
                "Quantity", help="a whole number, 1 or more", default=NEW_LINE["quantity"]
            ),
        },
    )
    recurring = st.checkbox(
        "Also create a recurring template",
        key="manual_recurring",
        help="this invoice is its first period; each bill run drafts the later periods due by its date",
    )
    if recurring:
        r1, r2, r3 = st.columns(3)
        r1.selectbox("Every", ["month", "quarter", "year"], key="manual_period")
        r2.date_input("From", key="manual_start", value=dt.date.today(), format=DATE_FORMAT)
        r3.number_input("Payment terms (days)", key="manual_terms", min_value=0, max_value=3650, value=30, step=1)
    seen = st.session_state.get(COUNT, 0)
    estimate_panel(chosen, st.session_state.get(currency_key) or (chosen or {}).get("currency"), seen)
    st.button(
        "Create invoice",
        key="manual_create",
        type="primary",
        on_click=_create_one,
        args=(chosen, currency_key, seen),
    )
    if st.session_state.get(CLICKED) != _form_now(currency_key, seen):  # the form was changed after the refusal
        drop_refusal(CREATE_WHERE)
    show_flash(CREATE_WHERE)
    if invoice_id := st.session_state.get(CREATED):
        inv = _reads.load_invoice(db, invoice_id)
        st.caption(
            f"Last created: `{inv.invoice_id}` · {status_text(inv.status)} · {money(inv.total_minor, inv.currency)} · "
            f"due {inv.due_date}" + (f" · template `{inv.recurring_template_id}`" if inv.recurring_template_id else "")
        )

with batch:
    st.markdown(
        "Upload a CSV file of line items (columns below), or a JSON batch file as the HTTP API takes it "
        "(`items`, `include_delayed_charges`, `finalize`; money in integer minor units)."
    )
    st.caption(CSV_HELP)
    upload = st.file_uploader("Batch file", type=["json", "csv"], key="manual_batch_file")
    b1, b2 = st.columns(2)
    include = b1.checkbox("Include delayed charges (CSV)", key="manual_include", help="a JSON body says it itself")
    finalize = b2.checkbox("Finalize (CSV)", key="manual_finalize", help="approve and finalize the new invoices")
    if upload is not None:
        st.button(
            f"Create the invoices of {upload.name}",
            key="manual_batch_create",
            type="primary",
            on_click=_create_batch,
            args=(upload.name, upload.getvalue(), include, finalize),
        )
    show_flash(BATCH_WHERE)
    if (result := st.session_state.get(BATCH_RESULT)) is not None:
        st.metric("Created", result.created)
        rows = [
            {
                "Item": r.index + 1,
                "Result": "created" if r.ok else "refused",
                "Invoice": r.invoice.invoice_id if r.invoice else "",
                "Customer": r.invoice.customer_id if r.invoice else "",
                "Status": status_text(r.invoice.status) if r.invoice else "",
                "Total": money(r.invoice.total_minor, r.invoice.currency) if r.invoice else "",
                "Error": r.error or "",
            }
            for r in result.results
        ]
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", key="manual_batch_results")
