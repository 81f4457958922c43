"""Bill run: draft (and optionally finalize) every in-scope contract's invoice for the period of a date.

The button's callback only records the request (once per drawn button); the page body carries it out
with a progress bar fed by the engine. The request stays recorded until the run has finished, so a
run interrupted by a rerun resumes (the engine resumes an unfinished run with the same run id) and a
double click never starts a second one. The engine skips cycles that already have an invoice.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from engine.service import BillsimError, bill_runs
from engine.service.formats import FIRST_DATE, LAST_DATE, status_text, to_major
from engine.service.limits import MAX_NAME
from views import _kept as kept
from views import _reads
from views._actions import data_changed, flash, show_flash
from views._database import db_path, session
from views._format import (
    CHART_CONFIG,
    DATE_FORMAT,
    DATETIME_FORMAT,
    customer,
    fmt_date,
    labelled,
    money,
    money_of_major,
    scope_text,
)
from views._pickers import select_current
from views._routing import PAGES, go_to

SCOPES = ("All contracts", "One business", "Chosen customers")
# the scope and the options as an analyst left them, kept across a visit to another page (views/_kept.py)
KEPT = ("run_scope", "run_business", "run_customers", "run_delayed", "run_finalize", "run_catch_up")
RUN_WHERE = "run_start"  # the run's outcome is shown under its button


def _start_label(period_date: dt.date) -> str:
    """The Start button names the date it runs: what the date field holds, which is not always what it shows (a
    date typed outside the field's range shows in red while the field keeps its last valid date)."""
    return f"Start bill run for {fmt_date(period_date)}" if period_date else "Start bill run (choose the date first)"


def _request_run(params: dict, nonce: int) -> None:
    """The click: the run's parameters as the widgets hold them NOW, but only for the date the clicked button
    named (a date typed and not yet confirmed arrives with the click, after the button was drawn with the old
    one: then nothing starts, and the button, drawn again, names the new date)."""
    if st.session_state.get("run_nonce", 0) != nonce or st.session_state.get("run_request"):
        return  # a replayed click of a button already used, or a run still in progress
    state = st.session_state
    typed = state.get("run_period") or params["period_date"]
    if typed != params["period_date"]:  # the button named another date: run none of the two unasked
        flash(
            "warning",
            f"Not started: the period date became {fmt_date(typed)} as you clicked, and the button said "
            f"{fmt_date(params['period_date'])}. Check the date, then click **{_start_label(typed)}**.",
            RUN_WHERE,
        )
        return
    params = {
        **params,
        "include_delayed_charges": bool(state.get("run_delayed")),
        "finalize": bool(state.get("run_finalize")),
        "catch_up": bool(state.get("run_catch_up")),
    }
    if params["business_id"] is not None:
        params["business_id"] = state.get("run_business") or params["business_id"]
    if params["customer_ids"] is not None:
        params["customer_ids"] = list(state.get("run_customers") or [])
    state["run_nonce"] = nonce + 1
    state["run_period_date"] = params["period_date"]
    state["run_request"] = params


def _carry_out(params: dict) -> None:
    bar = st.progress(0.0, text="starting bill run")

    def progress(fraction: float, label: str) -> None:
        bar.progress(min(1.0, max(0.0, float(fraction))), text=label)

    try:
        report = bill_runs.run(session(), params, progress=progress)
    except BillsimError as exc:
        flash("error", f"Bill run refused: {exc}", RUN_WHERE)
    except Exception:
        st.session_state["run_request"] = None
        raise
    else:
        st.session_state["shown_run"] = report.run_id
        st.session_state.pop("run_report_pick", None)  # show the new run's report
        flash(
            "success",
            f"Bill run `{report.run_id}` for the period of {fmt_date(params['period_date'])} finished in "
            f"{report.duration_s:.1f} s: "
            f"{report.drafted:,} drafted, {report.existing:,} already invoiced, "
            f"{len(report.failed):,} failed"
            + (f"; {report.recurring_drafted:,} recurring invoice(s) drafted" if report.recurring_drafted else "")
            + ".",
            RUN_WHERE,
        )
    st.session_state["run_request"] = None
    data_changed()
    st.rerun()


def _product_chart(run_id: str):
    """Invoiced amount per product, one panel per currency (amounts of two currencies never add up).

    Each bar carries its exact amount as a label outside the bar, in one readable size; products that
    billed 0 are left out; every panel's axis starts at 0 (bars compare lengths)."""
    rows = [r for r in _reads.run_totals_by_product(db_path(), run_id) if r["amount_minor"] != 0]
    if not rows:
        return None
    currencies = sorted({r["currency"] for r in rows})
    cols = min(3, len(currencies))
    panel_rows = -(-len(currencies) // cols)
    fig = make_subplots(
        rows=panel_rows,
        cols=cols,
        subplot_titles=currencies,
        horizontal_spacing=0.16,
        vertical_spacing=0.08 if panel_rows > 1 else 0.0,
    )
    tallest = 0
    for i, cur in enumerate(currencies):
        mine = sorted((r for r in rows if r["currency"] == cur), key=lambda r: r["amount_minor"])
        tallest = max(tallest, len(mine))
        # the bar's length only; its label is the exact formatted amount
        lengths = [float(to_major(r["amount_minor"], cur)) for r in mine]
        fig.add_trace(
            go.Bar(
                x=lengths,
                y=[r["product"] for r in mine],
                orientation="h",
                text=[money(r["amount_minor"], cur) for r in mine],
                textposition="outside",
                cliponaxis=False,
                textfont={"size": 12},
                marker_color="#4C78A8",
                customdata=[r["lines"] for r in mine],
                hovertemplate="%{y}: %{text} (%{customdata} lines)<extra></extra>",
            ),
            row=i // cols + 1,
            col=i % cols + 1,
        )
        low, high = min(0.0, *lengths), max(0.0, *lengths)
        # room for the labels outside the bars
        fig.update_xaxes(range=[low * 1.6, high * 1.6 or 1], row=i // cols + 1, col=i % cols + 1)
    fig.update_xaxes(showticklabels=False, showgrid=False, zeroline=True, zerolinecolor="#999")
    fig.update_yaxes(tickfont={"size": 12})
    fig.update_layout(
        height=80 + panel_rows * (40 + 22 * tallest),
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        showlegend=False,
        bargap=0.25,
    )
    return fig


def _totals_row(totals: dict) -> dict:
    """A currency's totals as the report's table shows them: subtotal, coupon discount (negative, as on an invoice's
    lines), tax and total, so the row adds up (subtotal − discount + tax = total). A report stored before coupons
    existed has no discount: it was 0."""
    cur = totals["currency"]
    discount = Decimal(str(totals.get("discount") or 0))
    return {
        "currency": cur,
        "invoices": totals["invoices"],
        "subtotal": money_of_major(totals["subtotal"], cur),
        "coupon discount": money_of_major(-discount if discount else discount, cur),
        "tax": money_of_major(totals["tax"], cur),
        "total": money_of_major(totals["total"], cur),
    }


def show_report(run: dict) -> None:
    report = run.get("report") or {}
    scope = run.get("scope") or {}
    where = scope_text(scope)
    flags = [
        f
        for f, on in (("with delayed charges", run.get("include_delayed_charges")), ("finalized", run.get("finalize")))
        if on
    ]
    st.markdown(
        f"Run `{run['run_id']}` for the period of **{fmt_date(run['period_date'])}**, {where}"
        + (f", {', '.join(flags)}" if flags else "")
        + f" — {run['status']}, started "
        f"{fmt_date(run['started_at'])} UTC"
    )
    if not report:
        st.info("This run has no report (it did not finish).")
        return
    m = st.columns(7)
    m[0].metric("In scope", f"{report['contracts_in_scope']:,}")
    m[1].metric("Drafted", f"{report['drafted']:,}")
    m[2].metric(
        "Recurring drafted",
        f"{report.get('recurring_drafted') or 0:,}",
        help="periods of recurring templates (manual invoices) due by the run's date, drafted by the run",
    )
    m[3].metric("Already invoiced", f"{report['existing']:,}")
    m[4].metric("Nothing to bill", f"{report['nothing_to_bill']:,}")
    m[5].metric("Failed", f"{len(report['failed']):,}")
    m[6].metric("Finalized", f"{report['finalized']:,}")
    unbilled = report.get("unbilled_cycles_count") or 0
    r1, r2 = st.columns([4, 1], vertical_alignment="center")
    if unbilled:
        r1.warning(
            f"{unbilled:,} earlier cycle(s) of this scope ended with no invoice: start the run again with "
            "**Catch up missed cycles** to draft them."
        )
    r2.button(
        "Review this run",
        key="run_to_review",
        icon=":material/fact_check:",
        on_click=go_to,
        args=(PAGES["review"],),
        kwargs={"rv_run": run["run_id"], "rv_mode": "A bill run"},
    )
    if report["failed"]:
        st.error(f"{len(report['failed'])} contract(s) failed and were left out; the others were billed.")
        st.dataframe(labelled(pd.DataFrame(report["failed"])), hide_index=True, key="run_failed", placeholder="")
    if report["totals"]:
        amounts = ("subtotal", "coupon discount", "tax", "total")
        st.dataframe(
            pd.DataFrame([_totals_row(t) for t in report["totals"]]),
            hide_index=True,
            key="run_totals",
            placeholder="",
            column_config={
                **{c: st.column_config.TextColumn(alignment="right") for c in amounts},
                "coupon discount": st.column_config.TextColumn(
                    alignment="right", help="what the coupons took (spec section 11): subtotal − discount + tax = total"
                ),
            },
        )
    if run.get("include_delayed_charges"):
        st.caption(f"Delayed charges swept onto this run's invoices: {report['delayed_charges_swept']:,}")
        if report["delayed_charges_pending"]:
            st.warning(f"{len(report['delayed_charges_pending'])} delayed charge(s) stay pending:")
            pending = pd.DataFrame(report["delayed_charges_pending"])
            pending["amount"] = [
                money_of_major(a, c) for a, c in zip(pending["amount"], pending["currency"], strict=True)
            ]
            if "customer_id" in pending:
                names = _reads.customer_names(db_path(), tuple(sorted(set(pending["customer_id"]))))
                pending["customer_id"] = [customer(names.get(c), c) for c in pending["customer_id"]]
            st.table(labelled(pending).fillna(""), hide_index=True)  # a static table wraps the long reasons
    fig = _product_chart(run["run_id"])
    if fig is not None:
        st.caption("Totals by product: line amounts of the invoices this run drafted, per currency.")
        st.plotly_chart(fig, key="run_chart", config=CHART_CONFIG)
    with st.expander("Outcome per contract"):
        show_outcomes(run["run_id"])


def _invoice_text(row: dict) -> str:
    if row["invoice_id"] is None:
        return ""
    number = row["invoice_number"] or "draft"
    return f"{number} · {status_text(row['status'], paid_by=True)} · {row['invoice_id']}"


def show_outcomes(run_id: str, limit: int = 1000) -> None:
    """Each contract of the run: its customer, what the run did, and its invoice as stored now, with
    a button that opens the invoice in the Ledger."""
    rows = _reads.run_outcomes(db_path(), run_id, limit)
    if not rows:
        st.info("The run recorded no contract.")
        return
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "contract": r["contract_id"],
                    "customer": customer(r["customer_name"], r["customer_id"]) if r["customer_id"] else "",
                    "outcome": r["outcome"].replace("_", " "),
                    "invoice": _invoice_text(r),
                    "total": money(r["total_minor"], r["currency"]) if r["currency"] else "",
                    "reason": r["reason"] or "",
                }
                for r in rows
            ]
        ),
        hide_index=True,
        key="run_outcomes",
        placeholder="",
        column_config={"total": st.column_config.TextColumn(alignment="right")},
    )
    if len(rows) == limit:
        st.caption(f"The first {limit:,} contracts.")
    invoices = {r["invoice_id"]: r for r in rows if r["invoice_id"]}
    if invoices:
        o1, o2 = st.columns([3, 1], vertical_alignment="bottom")
        chosen = o1.selectbox(
            "Open an invoice of this run",
            list(invoices),
            key="run_open_invoice",
            format_func=lambda i: (
                f"{invoices[i]['contract_id']} · "
                f"{customer(invoices[i]['customer_name'], invoices[i]['customer_id'])} · "
                f"{money(invoices[i]['total_minor'], invoices[i]['currency'])} · {_invoice_text(invoices[i])}"
            ),
        )
        o2.button(
            "Open in the Ledger",
            key="run_open_in_ledger",
            icon=":material/open_in_new:",
            on_click=go_to,
            args=(PAGES["ledger"],),
            kwargs={"ledger_open": chosen},
        )


st.title("Bill run")
st.caption(
    "Draft the invoice of every contract active on a date for that date's cycle; cycles that already "
    "have an invoice are left as they are."
)
show_flash()

db = db_path()
lo, hi = _reads.usage_date_range(db)
period_date = st.date_input(
    "Period date",
    key="run_period",
    format=DATE_FORMAT,
    value=st.session_state.get("run_period_date") or hi or dt.date.today(),
    min_value=FIRST_DATE,
    max_value=LAST_DATE,
    help=(
        f"each contract is billed for its cycle that contains this date; a date from {FIRST_DATE} to {LAST_DATE} "
        "(one outside is not taken: it shows in red and the field keeps its last date, the one the Start button "
        "names)"
    ),
)
st.session_state["run_period_date"] = period_date
kept.restore(KEPT)  # the scope and the options as left on another page's visit (a scope back at "All", unsaid)
scope = st.radio("Scope", SCOPES, horizontal=True, key="run_scope")
business_id, customer_ids = None, None
if scope == "One business":
    options = _reads.businesses(db)
    if st.session_state.get("run_business") not in options:  # kept from a database since replaced
        st.session_state.pop("run_business", None)
    business_id = st.selectbox("Business", options, key="run_business") if options else None
elif scope == "Chosen customers":
    search = st.text_input(
        "Find customers", key="run_customer_search", placeholder="customer id or name", max_chars=MAX_NAME
    )
    chosen = list(st.session_state.get("run_customers") or [])
    found = _reads.search_customers(db, search or "", 200)
    names = {r["customer_id"]: f"{r['customer_id']} · {r['name']} ({r['currency']})" for r in found}
    options = chosen + [c for c in names if c not in chosen]
    customer_ids = (
        st.multiselect("Customers", options, key="run_customers", format_func=lambda c: names.get(c, c)) or []
    )
o1, o2, o3 = st.columns(3)
include = o1.checkbox(
    "Include delayed charges",
    key="run_delayed",
    help="sweep each pending delayed charge onto one of the customer's new invoices",
)
finalize = o2.checkbox(
    "Finalize the drafted invoices",
    key="run_finalize",
    help="number them and make them open; finalized invoices never change",
)
catch_up = o3.checkbox(
    "Catch up missed cycles",
    key="run_catch_up",
    help="also draft every earlier cycle that ended with no invoice (the Review page lists them as unbilled)",
)
kept.remember(KEPT)

if scope != "Chosen customers":
    customer_ids = None
in_scope = _reads.contracts_in_scope(
    db, period_date, None if customer_ids is None else tuple(customer_ids), business_id
)
st.caption(f"{in_scope:,} contract(s) active on {period_date} in this scope.")
today = dt.date.today()
not_due = (
    _reads.cycles_not_due(db, period_date, None if customer_ids is None else tuple(customer_ids), business_id, today)
    if period_date
    else 0
)
if not_due:
    st.warning(
        f"{not_due:,} of the cycles this run would draft are not due yet: their bill-for date is after today "
        f"({fmt_date(today)}), so their invoices would be dated in the future (and the usage of a cycle billed in "
        "arrears may still grow). A run bills the cycle that contains its date, whatever its billing mode; to bill "
        "only cycles that are due, choose an earlier period date."
    )
ready = (
    period_date is not None
    and {
        "All contracts": True,
        "One business": bool(business_id),
        "Chosen customers": bool(customer_ids),
    }[scope]
)
params = {
    "period_date": period_date,
    "business_id": business_id,
    "customer_ids": customer_ids,
    "include_delayed_charges": include,
    "finalize": finalize,
    "catch_up": catch_up,
}
running = bool(st.session_state.get("run_request"))
st.button(
    _start_label(period_date),
    type="primary",
    key="run_start",
    disabled=running or not ready,
    on_click=_request_run,
    args=(params, st.session_state.get("run_nonce", 0)),
)

if running:
    _carry_out(st.session_state["run_request"])
show_flash(RUN_WHERE)

runs = _reads.list_runs(db, 50)
by_id = {r["run_id"]: r for r in runs}
if not runs:
    st.info("No bill run yet.")
    st.stop()

st.subheader("Report")
ids = list(by_id)
current = st.session_state.get("shown_run")
shown = select_current(
    "Run",
    ids,
    key="run_report_pick",
    default=current if current in by_id else ids[0],
    format_func=lambda r: (
        f"{fmt_date(by_id[r]['started_at'])} · {r} · period of "
        f"{fmt_date(by_id[r]['period_date'])} · {by_id[r]['status']}"
    ),
)
st.session_state["shown_run"] = shown
show_report(by_id[shown])

st.subheader("History")
st.dataframe(
    pd.DataFrame(
        [
            {
                "run": r["run_id"],
                "period date": r["period_date"],
                "status": r["status"],
                "scope": (
                    r["scope"].get("business_id")
                    or (f"{len(r['scope']['customer_ids'])} customers" if r["scope"].get("customer_ids") else "all")
                ),
                "delayed charges": r["include_delayed_charges"],
                "finalize": r["finalize"],
                "drafted": (r["report"] or {}).get("drafted"),
                "already invoiced": (r["report"] or {}).get("existing"),
                "failed": len((r["report"] or {}).get("failed") or []),
                "started (UTC)": r["started_at"],
                "seconds": round((r["finished_at"] - r["started_at"]).total_seconds(), 1) if r["finished_at"] else None,
                "by": r["requested_by"] or "",
            }
            for r in runs
        ]
    ),
    hide_index=True,
    key="run_history",
    placeholder="",
    column_config={
        "period date": st.column_config.DateColumn(format=DATE_FORMAT),
        "started (UTC)": st.column_config.DatetimeColumn(format=DATETIME_FORMAT),
    },
)
