"""An invoice's coupons and taxes (spec section 11) on a page: each line's share of the coupons and its tax codes,
the coupons the invoice took (name, percent or amount, what it took), its tax per code (name, code, rate, base,
amount), and how its total is made: subtotal − discount + tax = total. Used by the invoice view (Invoice preview,
Ledger) and by the Review page's side by side."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from engine.service.formats import Invoice
from views._format import fmt_date, markdown_text, money, money_of_major, plain_number

EXEMPT = "exempt"
COUPON_HELP = {
    "coupon": "in the order they apply: product-limited coupons first, then by applied on and id",
    "terms": "a percentage of what its eligible lines had left, or a fixed amount in the invoice's currency",
    "eligible": "what its eligible order lines had left before it (the earlier coupons taken)",
    "discount": "what it took, shared over its eligible lines (each line's 'coupon discount')",
}
TAX_HELP = {
    "rate": "percent of the base",
    "base": "Σ (amount − coupon discount) of the lines carrying the code",
    "amount": "rounded once per code per invoice (half away from zero)",
}


def percent_text(value) -> str:
    """'8.25 %'."""
    return f"{plain_number(value)} %"


def line_tax_text(codes: list[str] | None, inv: Invoice) -> str:
    """The taxes a line carries: its codes ('T10, T12'), 'exempt', or the customer's single rate ('Tax 8.25 %';
    '' when the customer has no tax)."""
    if codes is None:
        return f"Tax {percent_text(inv.tax_rate)}" if inv.tax_rate else ""
    return ", ".join(codes) if codes else EXEMPT


def line_adjustments(line, inv: Invoice) -> dict[str, str]:
    """The columns 'coupon discount' and 'tax' of a line of the invoice view: its share of the coupons (negative;
    '' for none) and the taxes it carries."""
    cur = inv.currency
    return {
        "coupon discount": money(-line.discount_minor, cur) if line.discount_minor else "",
        "tax": line_tax_text(line.tax_codes, inv),
    }


def coupon_terms(kind: str, percent, fixed_amount, currency: str) -> str:
    """'50 % off' or '$10.00 off'."""
    if kind == "percentage":
        return f"{percent_text(percent)} off"
    return f"{money_of_major(fixed_amount, currency)} off"


def coupons_frame(inv: Invoice) -> pd.DataFrame:
    """One row per coupon the invoice took, in the order they applied; what it took as a negative amount."""
    cur = inv.currency
    return pd.DataFrame(
        [
            {
                "coupon": f"{c.name} ({c.coupon_id})",
                "terms": coupon_terms(c.kind, c.percent, c.fixed_amount, cur),
                "applied on": fmt_date(c.applied_on),
                "eligible": money(c.base_minor, cur),
                "discount": money(-c.amount_minor, cur),
            }
            for c in inv.coupons
        ],
        columns=["coupon", "terms", "applied on", "eligible", "discount"],
    )


def taxes_frame(inv: Invoice) -> pd.DataFrame:
    """One row per tax of the invoice (the customer's single rate first, without code, then by code)."""
    cur = inv.currency
    return pd.DataFrame(
        [
            {
                "tax": t.name,
                "code": t.code or "",
                "rate": percent_text(t.rate),
                "base": money(t.base_minor, cur),
                "amount": money(t.amount_minor, cur),
            }
            for t in inv.taxes
        ],
        columns=["tax", "code", "rate", "base", "amount"],
    )


def total_equation(inv: Invoice) -> str:
    """'Subtotal **$30.00** − discount **$10.00** + tax **$3.60** = total **$23.60**' (markdown, '$' escaped)."""
    cur = inv.currency
    return markdown_text(
        f"Subtotal **{money(inv.subtotal_minor, cur)}** − discount **{money(inv.discount_minor, cur)}** "
        f"+ tax **{money(inv.tax_minor, cur)}** = total **{money(inv.total_minor, cur)}**"
    )


def tax_label(inv: Invoice) -> str:
    """The tax metric's label: 'Tax (8.25%)' for the customer's single rate alone, else 'Tax'."""
    if inv.taxes and all(t.code is None for t in inv.taxes):
        return f"Tax ({plain_number(inv.tax_rate)}%)"
    return "Tax"


def taxes_text(inv: Invoice) -> str:
    """The invoice's taxes in a few words for its header: 'taxes T10 10 %, T12 12 %', 'tax rate 8.25 %',
    'no tax'."""
    if not inv.taxes:
        return "no tax"
    if all(t.code is None for t in inv.taxes):
        return f"tax rate {percent_text(inv.tax_rate)}"
    return "taxes " + ", ".join(f"{t.code or t.name} {percent_text(t.rate)}" for t in inv.taxes)


def _right(width: int | None, help_text: str | None = None):
    return st.column_config.TextColumn(alignment="right", width=width, help=help_text)


def show_adjustments(inv: Invoice, key: str, compact: bool = False) -> None:
    """The coupons the invoice took, its tax per code, then subtotal − discount + tax = total. `key` keeps the
    element keys of two invoices on one page apart; `compact`: for half a page (the Review page's side by side),
    the columns a reader needs to follow the total (the coupon's terms and what it took; each tax's rate, base and
    amount)."""
    coupons, taxes = coupons_frame(inv), taxes_frame(inv)
    if compact:
        coupons = coupons[["coupon", "terms", "discount"]]
        taxes = taxes.assign(tax=[f"{t} ({c})" if c else t for t, c in zip(taxes["tax"], taxes["code"], strict=True)])
        taxes = taxes[["tax", "rate", "base", "amount"]]
    wide = None if compact else 200
    if inv.coupons:
        st.markdown("**Coupons**")
        st.dataframe(
            coupons,
            hide_index=True,
            key=f"{key}_coupons",
            placeholder="",
            column_config={
                "coupon": st.column_config.TextColumn(width=wide, help=COUPON_HELP["coupon"]),
                "terms": st.column_config.TextColumn(help=COUPON_HELP["terms"]),
                "eligible": _right(110, COUPON_HELP["eligible"]),
                "discount": _right(None if compact else 110, COUPON_HELP["discount"]),
            },
        )
    if inv.taxes:
        st.markdown("**Taxes**")
        st.dataframe(
            taxes,
            hide_index=True,
            key=f"{key}_taxes",
            placeholder="",
            column_config={
                "tax": st.column_config.TextColumn(width=wide),
                "rate": _right(None if compact else 80, TAX_HELP["rate"]),
                "base": _right(None if compact else 110, TAX_HELP["base"]),
                "amount": _right(None if compact else 110, TAX_HELP["amount"]),
            },
        )
    st.markdown(total_equation(inv))
