"""Pickers shared by the cycles and preview pages: a searchable contract, the cycles around it."""

from __future__ import annotations

import datetime as dt

import streamlit as st

from views._common import fmt_date, read


def contract_label(row: dict) -> str:
    end = fmt_date(row["end_date"]) or "open-ended"
    return (
        f"{row['contract_id']} · {row['customer_name']} ({row['customer_id']}) · {row['currency']} · "
        f"{fmt_date(row['start_date'])} → {end}"
    )


def contract_picker(prefix: str) -> dict | None:
    """Searchable contract choice shared by pages through st.session_state['contract_id']."""
    search = st.text_input(
        "Find a contract", key=f"{prefix}_contract_search", placeholder="contract id, customer id or customer name"
    )
    rows = read("search_contracts", search or "", 200)
    current = st.session_state.get("contract_id")
    if current and current not in {r["contract_id"] for r in rows} and not search:
        chosen = read("contract_details", current)
        if chosen:
            rows = [chosen, *rows]
    if not rows:
        st.info(
            "No contract matches the search." if search else "There are no contracts yet: import data on the Data page."
        )
        return None
    by_id = {r["contract_id"]: r for r in rows}
    options = list(by_id)
    key = f"{prefix}_contract"
    if st.session_state.get(key) not in by_id:
        st.session_state.pop(key, None)
    index = options.index(current) if current in by_id else 0
    caption = f"{len(options)} shown" + (" (first 200: refine the search)" if len(options) >= 200 else "")
    contract_id = st.selectbox(
        "Contract", options, index=index, key=key, format_func=lambda cid: contract_label(by_id[cid]), help=caption
    )
    if contract_id != current:
        st.session_state["contract_id"] = contract_id
        st.session_state["period_start"] = None
    return by_id[contract_id]


def default_window(contract: dict) -> tuple[dt.date, dt.date]:
    """Cycles shown by default: from the contract's start through its end, or for an open-ended
    contract through a quarter after the later of today and the last usage date."""
    start = contract["start_date"]
    if contract["end_date"] is not None:
        return start, contract["end_date"]
    _, last_usage = read("usage_date_range")
    horizon = max(dt.date.today(), last_usage or start, start)
    return start, horizon + dt.timedelta(days=92)


def cycle_label(cycle, invoice: dict | None = None) -> str:
    days = (cycle.end_date - cycle.start_date).days + 1
    text = f"{cycle.start_date} → {cycle.end_date}  ({days}/{cycle.period_days} days"
    text += ", stub)" if cycle.is_stub else ")"
    if invoice:
        number = f" #{invoice['number']}" if invoice.get("number") else ""
        text += f" · invoice{number} {invoice['status']}"
    return text


def default_cycle_index(cycles: list, wanted: dt.date | None) -> int:
    """The chosen cycle if listed, else the last cycle that has ended by today, else the first."""
    for i, c in enumerate(cycles):
        if wanted is not None and c.start_date <= wanted <= c.end_date:
            return i
    ended = [i for i, c in enumerate(cycles) if c.end_date < dt.date.today()]
    return ended[-1] if ended else 0
