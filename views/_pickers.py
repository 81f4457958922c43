"""Pickers shared by the pages: select boxes whose labels show what is stored now, a searchable
contract, the cycles around it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

import streamlit as st

from engine.service.formats import MAX_RANGE_YEARS, status_text
from engine.service.limits import MAX_NAME
from views import _reads
from views._database import db_path
from views._format import customer, fmt_date


def select_current(
    label: str, options: Sequence, *, key: str, default: Any, format_func: Callable[[Any], str], **kwargs
):
    """A select box (keyed) whose shown label is the label of its value now.

    The browser keeps showing the label it holds for a keyed select box until the server sends it a
    value, even when the option's label has changed since (an invoice finalized, a search that
    replaced the chosen contract). So whenever the label of the value differs from the one last
    shown, the value is assigned again, which sends the current label. `default` is chosen when the
    box has no value among `options` (None: no choice, the placeholder shows)."""
    shown_key = f"_shown_{key}"
    value = st.session_state.get(key)
    if value not in options:
        value = default if default in options else None
    label_now = None if value is None else format_func(value)
    if (
        key not in st.session_state
        or st.session_state.get(key) != value
        or label_now != st.session_state.get(shown_key)
    ):
        st.session_state[key] = value
    chosen = st.selectbox(label, options, key=key, format_func=format_func, **kwargs)
    st.session_state[shown_key] = None if chosen is None else format_func(chosen)
    return chosen


def contract_label(row: dict) -> str:
    end = fmt_date(row["end_date"]) or "open-ended"
    return (
        f"{row['contract_id']} · {customer(row['customer_name'], row['customer_id'])} · {row['currency']} · "
        f"{fmt_date(row['start_date'])} → {end}"
    )


def contract_picker(prefix: str) -> dict | None:
    """Searchable contract choice shared by pages through st.session_state['contract_id']."""
    db = db_path()
    search = st.text_input(
        "Find a contract",
        key=f"{prefix}_contract_search",
        placeholder="contract id, customer id or customer name",
        max_chars=MAX_NAME,
    )
    rows = _reads.search_contracts(db, search or "", 200)
    current = st.session_state.get("contract_id")
    if current and current not in {r["contract_id"] for r in rows} and not search:
        chosen = _reads.contract_details(db, current)
        if chosen:
            rows = [chosen, *rows]
    if not rows:
        st.info(
            "No contract matches the search." if search else "There are no contracts yet: import data on the Data page."
        )
        return None
    by_id = {r["contract_id"]: r for r in rows}
    options = list(by_id)
    caption = f"{len(options)} shown" + (" (first 200: refine the search)" if len(options) >= 200 else "")
    contract_id = select_current(
        "Contract",
        options,
        key=f"{prefix}_contract",
        default=current if current in by_id else options[0],
        format_func=lambda cid: contract_label(by_id[cid]),
        help=caption,
    )
    if contract_id != current:
        st.session_state["contract_id"] = contract_id
        st.session_state["period_start"] = None
    return by_id[contract_id]


def default_window(contract: dict) -> tuple[dt.date, dt.date]:
    """Cycles shown by default: from the contract's start through its end, or for an open-ended
    contract through a quarter after the later of today and the last usage date; the latest
    MAX_RANGE_YEARS of that (the most one read of cycles covers)."""
    start = contract["start_date"]
    if contract["end_date"] is not None:
        end = contract["end_date"]
    else:
        _, last_usage = _reads.usage_date_range(db_path())
        end = max(dt.date.today(), last_usage or start, start) + dt.timedelta(days=92)
    return max(start, _first_day_within_range_of(end)), end


def _first_day_within_range_of(end: dt.date) -> dt.date:
    """The earliest day from which `end` is less than MAX_RANGE_YEARS away (a 29 February counts as the 28th)."""
    day = 28 if (end.month, end.day) == (2, 29) else end.day
    first = end.replace(year=end.year - MAX_RANGE_YEARS, day=day) + dt.timedelta(days=1)
    return first + dt.timedelta(days=1) if (first.month, first.day) == (2, 29) else first


def cycle_label(cycle, invoice: dict | None = None) -> str:
    days = (cycle.end_date - cycle.start_date).days + 1
    text = f"{cycle.start_date} → {cycle.end_date}  ({days}/{cycle.period_days} days"
    text += ", stub)" if cycle.is_stub else ")"
    if invoice:
        number = f" {invoice['invoice_number']}" if invoice.get("invoice_number") else ""
        text += f" · invoice{number} {status_text(invoice['status'], paid_by=True)}"
    return text


def default_cycle(cycles: list, wanted: dt.date | None) -> dt.date:
    """The start of the chosen cycle if listed, else of the last cycle that has ended by today, else
    of the first."""
    for c in cycles:
        if wanted is not None and c.start_date <= wanted <= c.end_date:
            return c.start_date
    ended = [c for c in cycles if c.end_date < dt.date.today()]
    return (ended[-1] if ended else cycles[0]).start_date
