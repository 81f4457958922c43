"""What a scenario does to the invoices as the customers see them (spec section 11): besides the amounts before tax
(lines − coupons: the comparison rows), what the coupons take, the tax, and the total with tax, per currency, per
month and per customer. Every figure comes from the Simulation (engine.service.whatif.simulation): its
invoice_totals, totals_by_month and by_customer; the page only shows them, by the one money formatter."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
import streamlit as st

from engine.service import whatif
from views._format import customer, money_of_major

# What the month chart and the customers' chart show: (words, the Simulation's columns of baseline, scenario, change)
MEASURES: dict[str, tuple[str, tuple[str, str, str]]] = {
    "before_tax": ("before tax", ("baseline", "scenario", "delta")),
    "tax": ("tax", ("tax_baseline", "tax_scenario", "tax_delta")),
    "total": ("total with tax", ("total_baseline", "total_scenario", "total_delta")),
}
# The rows of the invoice totals: (words, column prefix in the Simulation's frames)
PARTS = (
    ("Before tax (lines − coupons)", ""),
    ("Coupons (what they took)", "discount_"),
    ("Tax", "tax_"),
    ("Total with tax", "total_"),
)
# a measure in the customers table's caption ("the 200 whose tax moves most", "largest change of the tax first")
ORDER_WORDS = {"before_tax": "amount before tax", "tax": "tax", "total": "total with tax"}
CUSTOMERS_SHOWN = 200  # the customers that move most; comparison.csv has every row


def effects_of(result: dict) -> dict:
    """The figures of a result beyond its lines, computed once per result (kept in it: every rerun of the page
    reads them): invoice totals per currency, per month, by product, the customers that move most and the ten top
    movers, each by every measure, and how many move. By product was computed at every rerun (a click on the page:
    ≈ 0.25 s at 100k contracts × a year)."""
    if "effects" not in result:
        sim = result["sim"]
        result["effects"] = {
            "totals": sim.invoice_totals(),
            "products": sim.by_product(),
            "months": sim.totals_by_month(),
            "customers": {m: sim.by_customer(CUSTOMERS_SHOWN, by=m) for m in MEASURES},
            "changed": sim.customers_changed(),
            "movers": {m: sim.by_customer(10, by=m) for m in MEASURES},
        }
    return result["effects"]


def product_steps(result: dict) -> pd.DataFrame:
    """The waterfall by product of a result, worked out once per result when it is first shown (it was at every
    rerun: ≈ 0.25 s at 100k contracts × a year)."""
    effects = effects_of(result)
    if "product_steps" not in effects:
        effects["product_steps"] = whatif.waterfall_by_product(result["sim"].rows)
    return effects["product_steps"]


def default_measure(summary: dict) -> str:
    """'total' when the scenario moves some tax (a tax rate, a coupon on taxed lines), else 'before_tax'."""
    moved = any(Decimal(t["delta"]) != 0 for t in summary.get("tax_totals", []))
    return "total" if moved else "before_tax"


def measure_picker(summary: dict) -> str:
    """The measure of the tiles, the month chart and the customers' chart and table (a new result starts from
    default_measure)."""
    options = list(MEASURES)
    return st.radio(
        "Amounts shown",
        options,
        index=options.index(default_measure(summary)),
        format_func=lambda m: MEASURES[m][0],
        horizontal=True,
        key="scn_measure",
        help="before tax: the invoice lines less the coupons (as comparison.csv); tax: the invoices' tax; total "
        "with tax: what the customers are invoiced",
    )


def for_measure(frame: pd.DataFrame, measure: str) -> pd.DataFrame:
    """The frame with the measure's columns as baseline, scenario, delta (what the charts read)."""
    b, s, d = MEASURES[measure][1]
    rest = [c for c in frame.columns if c not in ("baseline", "scenario", "delta") and c not in (b, s, d)]
    return frame[rest].assign(baseline=frame[b], scenario=frame[s], delta=frame[d])


def invoice_totals_table(totals: pd.DataFrame, cur: str) -> None:
    """Before tax, coupons, tax and the total with tax of every compared invoice in `cur`: baseline, scenario,
    change."""
    row = totals[totals["currency"] == cur]
    if row.empty:
        return
    r = row.iloc[0]
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "invoices": words,
                    "baseline": money_of_major(r[f"{prefix}baseline"], cur),
                    "scenario": money_of_major(r[f"{prefix}scenario"], cur),
                    "change": money_of_major(r[f"{prefix}delta"], cur),
                }
                for words, prefix in PARTS
            ]
        ),
        hide_index=True,
        key="scn_invoice_totals",
        placeholder="",
        column_config={c: st.column_config.TextColumn(alignment="right") for c in ("baseline", "scenario", "change")},
    )


def customers_table(customers: pd.DataFrame, changed: int, cur: str, measure: str = "total") -> None:
    """Every customer whose invoices change (the CUSTOMERS_SHOWN that move most by `measure`, the amounts shown: a
    trial chose "tax" and read a table still ordered by the total), largest change of the measure first: the total
    with tax, then before tax, coupons and tax, baseline and scenario."""
    st.subheader("Per customer")
    if customers.empty:
        st.caption(f"No customer's invoices change in {cur}.")
        return
    shown, words = len(customers), ORDER_WORDS[measure]
    st.caption(
        f"{changed:,} customer(s) whose invoices change in {cur}"
        + (f"; the {shown:,} whose {words} moves most are shown" if shown < changed else "")
        + f", largest change of the {words} first."
    )

    def m(col: str) -> list[str]:
        return [money_of_major(v, cur) for v in customers[col]]

    # the change the rows are ordered by, beside the customer (a trial read "total change" out of order under "tax")
    ordered_by = {} if measure == "total" else {f"{MEASURES[measure][0]} change": m(MEASURES[measure][1][2])}
    frame = pd.DataFrame(
        {
            "customer": [
                customer(n, c) for n, c in zip(customers["customer_name"], customers["customer_id"], strict=True)
            ],
            **ordered_by,
            "total, baseline": m("total_baseline"),
            "total, scenario": m("total_scenario"),
            "total change": m("total_delta"),
            "change %": ["" if p is None else f"{p}%" for p in customers["total_delta_percent"]],
            "before tax, baseline": m("baseline"),
            "before tax, scenario": m("scenario"),
            "coupons, baseline": m("discount_baseline"),
            "coupons, scenario": m("discount_scenario"),
            "tax, baseline": m("tax_baseline"),
            "tax, scenario": m("tax_scenario"),
        }
    )
    right = {c: st.column_config.TextColumn(alignment="right") for c in frame.columns if c != "customer"}
    st.dataframe(frame, hide_index=True, key="scn_customers", placeholder="", column_config=right)


def months_table(months: pd.DataFrame, cur: str) -> pd.DataFrame:
    """Per month: before tax, coupons, tax and total with tax, baseline and scenario, and the total's change."""
    part = months[months["currency"] == cur]

    def m(col: str) -> list[str]:
        return [money_of_major(v, cur) for v in part[col]]

    return pd.DataFrame(
        {
            "month": list(part["month"]),  # dates: the table shows them as the chart does (MONTH_COLUMN)
            "before tax, baseline": m("baseline"),
            "before tax, scenario": m("scenario"),
            "coupons, baseline": m("discount_baseline"),
            "coupons, scenario": m("discount_scenario"),
            "tax, baseline": m("tax_baseline"),
            "tax, scenario": m("tax_scenario"),
            "total, baseline": m("total_baseline"),
            "total, scenario": m("total_scenario"),
            "total change": m("total_delta"),
        }
    )
