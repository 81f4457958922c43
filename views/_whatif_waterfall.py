"""The What-if page's waterfall: baseline → scenario in ONE currency, by change or by product.

    steps_of_currency(steps, cur, measure)   the steps of `cur` in the amounts chosen (by change: before tax, tax or
                                             total with tax; by product: before tax), and the steps left out because
                                             they show nothing there (each with where it does move), never a bar of 0
    left_out_caption(left_out, cur, words)   the caption naming them
    waterfall_figure(steps, cur, title)      the plotly figure

Amounts of two currencies are never added: a currency's chart reads only that currency's rows; a change that moves
another currency's invoices only (a tax code of another business, a coupon or a price in another currency) is named
under the chart, not drawn as a step of 0.
"""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
import plotly.graph_objects as go

from views._format import money_of_major


def _measured(steps: pd.DataFrame, measure: str) -> list[Decimal]:
    """A step's amount in the measure: before tax, tax, or both (the by-change steps carry their tax)."""
    if "tax" not in steps.columns or measure == "before_tax":
        return list(steps["amount"])
    if measure == "tax":
        return list(steps["tax"])
    return [a + t for a, t in zip(steps["amount"], steps["tax"], strict=True)]


def _why_left_out(steps: pd.DataFrame, position: int, cur: str) -> str:
    """Why the `position`-th relative step of `cur` shows nothing in the measure, in words: where it does move."""
    relative = steps[steps["measure"] == "relative"]
    if "tax" not in steps.columns:  # by product: a product's own change, in this currency
        return f"unchanged in {cur}"
    moved = []
    for other, part in relative.groupby("currency", sort=True):
        row = part.iloc[position]  # the same change: every currency lists every change, in order
        if other == cur:
            before, tax = row["amount"], row["tax"]
        elif row["amount"] != 0 or row["tax"] != 0:
            moved.append(other)
    if before == 0 and tax != 0:
        return f"moves only the tax in {cur}"
    if before != 0 and tax == 0:
        return f"moves only the amounts before tax in {cur}"
    if before != 0:
        return f"its change before tax and its tax cancel out in {cur}"
    return f"moves {', '.join(moved)} only" if moved else "moves no invoice"


def steps_of_currency(steps: pd.DataFrame, cur: str, measure: str) -> tuple[pd.DataFrame, list[tuple[str, str]]]:
    """(the steps of `cur` to draw, with `amount` in the measure; the relative steps left out: (label, why)).
    Baseline and Scenario are always drawn; a relative step of exactly 0 in the measure is left out."""
    mine = steps[steps["currency"] == cur].reset_index(drop=True)
    mine = mine.assign(amount=_measured(mine, measure))
    keep, left_out, position = [], [], 0
    for i, row in mine.iterrows():
        if row["measure"] != "relative":
            keep.append(i)
            continue
        if row["amount"] != 0:
            keep.append(i)
        else:
            left_out.append((row["label"], _why_left_out(steps, position, cur)))
        position += 1
    return mine.loc[keep, ["label", "amount", "measure"]].reset_index(drop=True), left_out


def left_out_caption(left_out: list[tuple[str, str]], cur: str, words: str) -> str | None:
    """'Not drawn, nothing to show in USD before tax: tax VAT19 = 21 % (moves EUR only); …' (None: none left out)."""
    if not left_out:
        return None
    named = "; ".join(f"{label} ({where})" for label, where in left_out)
    return f"Not drawn, nothing to show in {cur} {words}: {named}."


def waterfall_figure(steps: pd.DataFrame, cur: str, title: str) -> go.Figure:
    fig = go.Figure(
        go.Waterfall(
            x=list(steps["label"]),
            y=list(steps["amount"]),
            measure=list(steps["measure"]),
            connector={"line": {"width": 1}},
            text=[money_of_major(a, cur) for a in steps["amount"]],  # each step's exact amount
            textposition="outside",
            cliponaxis=False,
        )
    )
    fig.update_layout(title=title, yaxis_title=cur, height=400, margin={"t": 48, "b": 8}, showlegend=False)
    # zoom onto the running totals: from a zero axis, a few percent of change would not show at all
    running, levels = 0, []
    for amount, measure in zip(steps["amount"], steps["measure"], strict=True):
        running = running + amount if measure == "relative" else amount
        levels.append(running)
    if levels:
        low, high = min(levels), max(levels)
        pad = (high - low) * 2 if high > low else abs(high) / 10
        bottom = max(low - pad, 0) if low >= 0 else low - pad
        fig.update_yaxes(range=[bottom, high + pad])
        if bottom > 0:  # a cut axis exaggerates the steps: say so on the chart
            fig.add_annotation(
                text=f"axis does not start at 0 (starts at {bottom:,.0f} {cur})",
                xref="paper",
                yref="paper",
                x=1,
                y=1.0,
                xanchor="right",
                yanchor="bottom",
                showarrow=False,
                font={"size": 11, "color": "#B00020"},
                bgcolor="rgba(255,255,255,0.8)",
            )
    return fig
