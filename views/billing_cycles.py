"""Billing cycles: a contract's cycles on a timeline (stubs, anchor clamping, invoices), pick one."""

from __future__ import annotations

import calendar
import datetime as dt

import pandas as pd
import plotly.express as px
import streamlit as st

from engine.service import BillsimError
from engine.service.formats import status_text
from views import _reads
from views._actions import show_flash
from views._database import db_path
from views._format import CHART_CONFIG, DATE_FORMAT, fmt_date, money
from views._pickers import contract_picker, cycle_label, default_cycle, default_window, select_current
from views._routing import PAGES, go_to

MAX_CYCLES = 240  # 20 years of monthly cycles; a longer window shows its latest cycles

COLORS = {  # by what the legend shows: a cycle's kind, an invoice's status in words (status_text)
    "full cycle": "#4C78A8",
    "stub": "#9ecae9",
    "anchor clamped": "#F58518",
    "draft": "#EECA3B",
    "approved": "#B279A2",
    "held": "#E45756",
    "open": "#54A24B",
    "partially paid": "#88D27A",
    "paid (manual)": "#2E7D32",
    "paid (Stripe)": "#1B5E20",
    "void": "#BAB0AC",
}


def invoice_text(inv: dict | None) -> str:
    if inv is None:
        return ""
    return (f"{inv['invoice_number']} " if inv["invoice_number"] else "") + status_text(inv["status"], paid_by=True)


def anchor_clamped(cycle) -> bool:
    """The cycle starts on a boundary that fell on a month's last day because the anchor day is
    later than the month is long (anchor 31 -> Feb 28, Apr 30)."""
    last = calendar.monthrange(cycle.start_date.year, cycle.start_date.month)[1]
    return cycle.billing_cycle_start_day > last == cycle.start_date.day


def cycle_kind(cycle) -> str:
    if cycle.is_stub:
        return "stub"
    return "anchor clamped" if anchor_clamped(cycle) else "full cycle"


def timeline(cycles, invoices: list[dict], pending: dict, chosen_start: dt.date | None):
    rows = []
    for c in cycles:
        rows.append(
            {
                "lane": "Cycles",
                "what": cycle_kind(c),
                "start": c.start_date,
                "end": c.end_date + dt.timedelta(days=1),
                "key": c.start_date.isoformat(),
                "detail": (
                    f"{c.start_date} → {c.end_date}<br>"
                    f"{(c.end_date - c.start_date).days + 1}/{c.period_days} days, anchor day "
                    f"{c.billing_cycle_start_day}<br>bill for {c.bill_for_date}, due {c.due_date}<br>"
                    f"pending usage rows: {pending.get(c.start_date, 0)}"
                ),
            }
        )
    first, last = cycles[0].start_date, cycles[-1].end_date
    for inv in invoices:
        if inv["period_end"] < first or inv["period_start"] > last:
            continue
        number = f"{inv['invoice_number']} " if inv["invoice_number"] else ""
        rows.append(
            {
                "lane": "Invoices",
                "what": status_text(inv["status"], paid_by=True),
                "start": inv["period_start"],
                "end": inv["period_end"] + dt.timedelta(days=1),
                "key": inv["period_start"].isoformat(),
                "detail": (
                    f"invoice {number}{inv['invoice_id']}<br>{status_text(inv['status'], paid_by=True)}, total "
                    f"{money(inv['total_minor'], inv['currency'])}"
                ),
            }
        )
    frame = pd.DataFrame(rows)
    fig = px.timeline(
        frame,
        x_start="start",
        x_end="end",
        y="lane",
        color="what",
        color_discrete_map=COLORS,
        custom_data=["key", "detail"],
        category_orders={"lane": ["Cycles", "Invoices"]},
        labels={"what": ""},
    )
    fig.update_traces(marker_line_color="white", marker_line_width=2, hovertemplate="%{customdata[1]}<extra></extra>")
    clamped = [c for c in cycles if anchor_clamped(c)]
    if clamped:
        fig.add_scatter(
            x=[c.start_date for c in clamped],
            y=["Cycles"] * len(clamped),
            mode="markers",
            marker={"symbol": "triangle-down", "size": 12, "color": "#E45756"},
            name="boundary clamped to month end",
            hovertext=[f"anchor {c.billing_cycle_start_day} → {c.start_date}" for c in clamped],
            hoverinfo="text",
        )
    fig.add_scatter(
        x=[c.bill_for_date for c in cycles],
        y=["Cycles"] * len(cycles),
        mode="markers",
        marker={"symbol": "line-ns-open", "size": 18, "color": "#333"},
        name="bill-for date",
        hovertext=[f"bill for {c.bill_for_date}" for c in cycles],
        hoverinfo="text",
    )
    if chosen_start is not None:
        chosen = next((c for c in cycles if c.start_date == chosen_start), None)
        if chosen is not None:
            fig.add_vrect(
                x0=chosen.start_date,
                x1=chosen.end_date + dt.timedelta(days=1),
                fillcolor="#E45756",
                opacity=0.12,
                line_width=0,
            )
            # above the plot area: inside it, the bars would cover the word
            fig.add_annotation(
                x=chosen.start_date + (chosen.end_date - chosen.start_date) / 2,
                y=1.0,
                yref="paper",
                yanchor="bottom",
                text="chosen",
                showarrow=False,
                font={"color": "#B03A3A", "size": 12},
            )
    today = dt.date.today()
    if first <= today <= last:
        fig.add_vline(x=today, line_dash="dot", line_color="#888")
    fig.update_layout(
        height=260,
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        legend_orientation="h",
        legend_y=-0.25,
        yaxis_title=None,
        xaxis_title=None,
    )
    return fig


st.title("Billing cycles")
st.caption(
    "A contract's billing cycles: stubs, anchor days clamped to short months, and the invoices "
    "already made. Pick a cycle to preview its invoice."
)
show_flash()

contract = contract_picker("cycles")
if contract is None:
    st.stop()
cid = contract["contract_id"]
db = db_path()
st.markdown(
    f"**{contract['billing_period']}ly**, anchor day **{contract['billing_cycle_start_day']}**, billed in "
    f"**{contract['billing_timing']}**, payment terms {contract['payment_terms_days']} days, proration "
    f"{contract['proration']}, currency {contract['currency']}; contract "
    f"{fmt_date(contract['start_date'])} → {fmt_date(contract['end_date']) or 'open-ended'}"
)

lo, hi = default_window(contract)
w1, w2 = st.columns(2)
from_date = w1.date_input("Cycles from", value=lo, key=f"cycles_from_{cid}", format=DATE_FORMAT)
to_date = w2.date_input("Cycles to", value=hi, key=f"cycles_to_{cid}", format=DATE_FORMAT)
try:
    cycles = _reads.billing_cycles(db, cid, from_date, to_date)
except BillsimError as exc:
    st.error(str(exc))
    st.stop()
if not cycles:
    st.info("The contract has no cycle in this window.")
    st.stop()
if len(cycles) > MAX_CYCLES:
    st.warning(
        f"{len(cycles):,} cycles in the window: showing the latest {MAX_CYCLES}. Narrow the window to see earlier ones."
    )
    cycles = cycles[-MAX_CYCLES:]

invoices = _reads.contract_invoices(db, cid)
holder = {i["period_start"]: i for i in invoices if i["status"] != "void"}  # the invoice holding each cycle
pending = _reads.pending_usage_by_cycle(db, cid, tuple((c.start_date, c.end_date) for c in cycles))
starts = [c.start_date for c in cycles]

# A bar clicked on the chart chooses its cycle (before the select box below is drawn).
chart_key = f"cycles_chart_{cid}"
picked = st.session_state.get(chart_key)
points = getattr(getattr(picked, "selection", None), "points", None) or []
if points:
    try:
        clicked = dt.date.fromisoformat(points[0]["customdata"][0])
    except (KeyError, IndexError, TypeError, ValueError):
        clicked = None
    if clicked in starts and clicked != st.session_state.get("_cycles_last_click"):
        st.session_state["_cycles_last_click"] = clicked
        st.session_state["period_start"] = clicked
        st.session_state[f"cycles_pick_{cid}"] = clicked

chosen_default = default_cycle(cycles, st.session_state.get("period_start"))
pick_key = f"cycles_pick_{cid}"
marked = st.session_state.get(pick_key)

st.plotly_chart(
    timeline(cycles, invoices, pending, marked if marked in starts else chosen_default),
    key=chart_key,
    on_select="rerun",
    selection_mode="points",
    config=CHART_CONFIG,
)

chosen_start = select_current(
    "Cycle",
    starts,
    key=pick_key,
    default=chosen_default,
    format_func=lambda s: cycle_label(cycles[starts.index(s)], holder.get(s)),
)
st.session_state["period_start"] = chosen_start
cycle = cycles[starts.index(chosen_start)]

c1, c2, c3, c4 = st.columns(4)
c1.metric(
    "Days billed",
    f"{(cycle.end_date - cycle.start_date).days + 1} / {cycle.period_days}",
    help="active days of this cycle / days of its full boundary-to-boundary period",
)
c2.metric("Bill-for date", fmt_date(cycle.bill_for_date))
c3.metric("Due date", fmt_date(cycle.due_date))
c4.metric("Pending usage rows", f"{pending.get(cycle.start_date, 0):,}", help="pending usage is never billed")
kind = cycle_kind(cycle)
if kind == "stub":
    st.markdown(
        "**Stub**: the cycle is shorter than its full period (the contract starts or ends inside "
        "it); recurring lines are prorated by days billed / period days."
    )
elif kind == "anchor clamped":
    st.markdown(
        f"**Anchor clamped**: anchor day {cycle.billing_cycle_start_day} is past the end of "
        f"{cycle.start_date:%B}, so the boundary falls on {cycle.start_date}, the month's last day."
    )
else:
    st.markdown(f"**Full cycle** of {cycle.period_days} days.")
inv = holder.get(cycle.start_date)
if inv:
    number = f" {inv['invoice_number']}" if inv["invoice_number"] else ""
    st.info(
        f"Invoice{number} `{inv['invoice_id']}` ({status_text(inv['status'], paid_by=True)}, "
        f"{money(inv['total_minor'], inv['currency'])}) holds this cycle."
    )
st.button(
    "Preview this cycle's invoice",
    type="primary",
    key="cycles_to_preview",
    on_click=go_to,
    args=(PAGES["preview"],),
    kwargs={"contract_id": cid, "period_start": cycle.start_date},
)

with st.expander(f"All {len(cycles)} cycles in the window", expanded=False):
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "start": c.start_date,
                    "end": c.end_date,
                    "bill for": c.bill_for_date,
                    "due": c.due_date,
                    "anchor day": c.billing_cycle_start_day,
                    "days": (c.end_date - c.start_date).days + 1,
                    "period days": c.period_days,
                    "kind": cycle_kind(c),
                    "invoice": invoice_text(holder.get(c.start_date)),
                    "pending usage rows": pending.get(c.start_date, 0),
                }
                for c in cycles
            ]
        ),
        hide_index=True,
        key="cycles_table",
        placeholder="",
        column_config={c: st.column_config.DateColumn(format=DATE_FORMAT) for c in ("start", "end", "bill for", "due")},
    )
