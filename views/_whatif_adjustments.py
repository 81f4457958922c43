"""The What-if page's coupon and tax changes (spec section 11): their fields as widgets and the change they make.

    coupon  a NEW coupon (coupons.csv's fields: id, name, kind fixed / percentage with amount + currency or
            percent, frequency once / recurring (cycles) / forever, optional products it is limited to, optional
            business) applied on a date to chosen contracts, to the contracts with a line of chosen products, or
            to every contract
    tax     an existing tax code and its new rate

The engine checks everything (engine/whatif/adjustment_changes.py): the page only gathers the fields. Amounts and
percents are typed as text, so they stay exact decimals.
"""

from __future__ import annotations

import datetime as dt

import streamlit as st

from engine.service.limits import MAX_NAME
from views._format import DATE_FORMAT, business, plain_number

ss = st.session_state
KINDS = {"percentage": "Percentage", "fixed": "Fixed amount"}
FREQUENCIES = {"once": "Once", "recurring": "Recurring", "forever": "Forever"}
TARGETS = {
    "contracts": "Chosen contracts",
    "products": "Contracts with a product",
    "every": "Every contract",
}
ANY_BUSINESS = ""


def ids_of(text: str) -> list[str]:
    """'K-1, K-2' or one per line -> ['K-1', 'K-2'] (blanks dropped)."""
    return [c.strip() for c in (text or "").replace("\n", ",").split(",") if c.strip()]


def coupon_form(choices: dict[str, list[str]], applied_on: dt.date) -> None:
    """The coupon's fields (keys scn_coupon_*); `applied_on` the date shown until one is chosen."""
    ss.setdefault("scn_coupon_id", next_coupon_id(ss.get("scn_changes", [])))  # and after each coupon added
    c1, c2 = st.columns(2)
    c1.text_input(
        "Coupon id (a new one)", key="scn_coupon_id", help="not the id of a stored coupon", max_chars=MAX_NAME
    )
    c2.text_input("Name (as the invoice shows it)", value="What-if coupon", key="scn_coupon_name", max_chars=MAX_NAME)
    kind = st.radio("Kind", list(KINDS), format_func=KINDS.get, horizontal=True, key="scn_coupon_kind")
    if kind == "percentage":
        st.text_input("Percent off (more than 0, at most 100)", value="10", key="scn_coupon_percent")
    else:
        c1, c2 = st.columns(2)
        c1.text_input("Amount off each invoice (major units)", value="10", key="scn_coupon_amount")
        c2.selectbox(
            "Currency",
            choices["currencies"],
            key="scn_coupon_currency",
            help="a fixed coupon covers only the invoices in its currency",
        )
    c1, c2 = st.columns(2)
    with c1:
        frequency = st.radio(
            "Frequency",
            list(FREQUENCIES),
            format_func=FREQUENCIES.get,
            horizontal=True,
            key="scn_coupon_frequency",
            help="once: the first cycle it covers; recurring: that many cycles; forever: every cycle",
        )
    if frequency == "recurring":
        c2.number_input("Cycles", min_value=1, value=3, step=1, key="scn_coupon_periods")
    st.multiselect(
        "Discounts only lines of these products (none chosen: every order line)",
        choices["products"],
        key="scn_coupon_limited_to",
    )
    target = st.radio("Applied to", list(TARGETS), format_func=TARGETS.get, horizontal=True, key="scn_coupon_target")
    if target == "contracts":
        st.text_area("Contract ids (comma or line separated)", key="scn_coupon_contracts")
    elif target == "products":
        st.multiselect("Contracts with a line of", choices["products"], key="scn_coupon_products")
    c1, c2 = st.columns(2)
    c1.date_input(
        "Applied on",
        value=applied_on,
        key="scn_coupon_applied_on",
        format=DATE_FORMAT,
        help="it covers each contract's cycles that start on or after this date",
    )
    if len(choices["businesses"]) > 1:
        c2.selectbox(
            "Only contracts of business",
            [ANY_BUSINESS, *choices["businesses"]],
            format_func=lambda b: b or "any business",
            key="scn_coupon_business",
        )


def coupon_change() -> dict:
    """The coupon change the form shows (the engine checks it)."""
    kind = ss.get("scn_coupon_kind", "percentage")
    frequency = ss.get("scn_coupon_frequency", "once")
    coupon: dict = {
        "coupon_id": (ss.get("scn_coupon_id") or "").strip(),
        "name": (ss.get("scn_coupon_name") or "").strip(),
        "kind": kind,
        "frequency": frequency,
    }
    if kind == "percentage":
        coupon["percent"] = (ss.get("scn_coupon_percent") or "").strip() or None
    else:
        coupon["amount"] = (ss.get("scn_coupon_amount") or "").strip() or None
        coupon["currency"] = ss.get("scn_coupon_currency")
    if frequency == "recurring":
        coupon["periods"] = int(ss.get("scn_coupon_periods") or 1)
    if ss.get("scn_coupon_limited_to"):
        coupon["products"] = list(ss["scn_coupon_limited_to"])
    if ss.get("scn_coupon_business"):
        coupon["business_id"] = ss["scn_coupon_business"]
    change: dict = {"type": "coupon", "coupon": coupon, "applied_on": _date_text(ss.get("scn_coupon_applied_on"))}
    target = ss.get("scn_coupon_target", "contracts")
    if target == "contracts":
        change["contract_ids"] = ids_of(ss.get("scn_coupon_contracts", ""))
    elif target == "products":
        change["products"] = list(ss.get("scn_coupon_products") or [])
    return change


def missing_in_coupon(change: dict) -> str | None:
    """What the form still lacks, in its own words (an empty list of contracts or products); None: complete."""
    if change.get("contract_ids") == []:
        return "Coupon: list the contracts it is applied to (or choose 'Every contract')."
    if change.get("products") == []:
        return "Coupon: choose the products whose contracts get it (or choose 'Every contract')."
    return None


def next_coupon_id(changes: list[dict]) -> str:
    """A coupon id that none of the scenario's coupons has yet: WHATIF-1, WHATIF-2, …"""
    taken = {c["coupon"]["coupon_id"] for c in changes if c.get("type") == "coupon"}
    n = 1
    while f"WHATIF-{n}" in taken:
        n += 1
    return f"WHATIF-{n}"


def tax_form(taxes: list[dict], business_names: dict[str, str]) -> None:
    """The tax code (with its name, rate now and business) and its new rate (keys scn_tax_*)."""
    if not taxes:
        st.info("The data has no tax code (taxes.csv): there is no rate to change.")
        return
    by_code = {t["tax_code"]: t for t in taxes}
    code = st.selectbox(
        "Tax code",
        list(by_code),
        key="scn_tax_code",
        format_func=lambda c: (
            f"{c} · {by_code[c]['name']} · {plain_number(by_code[c]['rate'])} % · "
            f"{business(business_names, by_code[c]['business_id'])}"
        ),
    )
    st.text_input(
        f"New rate (%; now {plain_number(by_code[code]['rate'])} %)",
        value=plain_number(by_code[code]["rate"]),
        key=f"scn_tax_rate_{code}",
        help="a percent from 0 to 100, at most 4 decimals",
    )


def tax_change() -> dict:
    code = ss.get("scn_tax_code") or ""
    return {"type": "tax", "tax_code": code, "rate": (ss.get(f"scn_tax_rate_{code}") or "").strip() or None}


def _date_text(value) -> str | None:
    return value.isoformat() if isinstance(value, dt.date) else None
