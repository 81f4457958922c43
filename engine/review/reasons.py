"""The one-line reason of each review flag, written in SQL over `_review` (flags.py), in a finance user's words.

Amounts are the currency's code and the exact major units with thousands separators ('USD 1,234.50',
'JPY 7,097': money.format_code, which the workbench's Review page writes its amounts with too); a threshold
amount is shown with the currency's decimals, or exactly when it has more ('USD 10.005'); percentages and factors
without trailing zeros ('25 %', '2.5×'). At most three lines are named in a reason ('… and 2 more'); the figures
hold them all.

    total_change     total up 40.0 % (USD 100.00 → USD 140.00), above 25 % and USD 10.00
                     (from a previous total of 0: 'total up by USD 10.01 (…)')
    first_invoice    first invoice of contract K1: no earlier invoice to compare with
    zero_total       total is USD 0.00
    negative_total   total is negative: USD -5.00
    line_added       billed now, not last time: L-NEW, API calls (K1-U)
    line_removed     billed last time, not now: L-OLD
    usage_spike      usage of API calls (K1-U) up 4.2× (1,000 → 4,200), above 3×; 1 more usage line(s) too
    pending_usage    3 usage rows in the cycle still pending (not billed until approved)
    true_up          minimum-commitment true-up of USD 40.00: the cycle's charges are below the commitment
    delayed_charges  2 delayed charges swept onto this draft (USD 12.50)
    large_invoice    total USD 1,000.01 is above USD 1,000.00, the business's large-invoice amount
    coupon_ended     coupon no longer applied: Half hosting (HALFHOST) (the previous invoice had it)
                     (two or more: 'coupons no longer applied: …, … (the previous invoice had them)')
"""

from __future__ import annotations

from ..money import PRICE_UNIT, sql_code_money_text, sql_grouped_money_text, sql_grouped_text, sql_plain_text
from .flags import FLAGS

_LISTED = 3  # lines named in a reason; the figures hold them all


def _money(minor: str) -> str:
    """'USD 1,234.50' (money.format_code): integer minor units of the row's currency (columns currency, exp, scale
    of _review)."""
    return sql_code_money_text(minor, "currency", "exp", "scale")


def _amount(value: str) -> str:
    """A threshold in major units (DECIMAL(38,12) ≥ 0): with the currency's decimals when it has no more,
    else exactly ('USD 10.005')."""
    micro = f"(({value}) * {PRICE_UNIT})::HUGEINT"
    whole = f"{micro} % per_minor_12 = 0"
    as_currency = sql_grouped_money_text(f"{micro} // per_minor_12", "exp", "scale")
    exactly = sql_grouped_text(sql_plain_text(value))
    return f"(currency || ' ' || CASE WHEN {whole} THEN {as_currency} ELSE {exactly} END)"


def _names(names: str) -> str:
    """The first lines of a list of line names, and how many more."""
    return (
        f"(array_to_string({names}[1:{_LISTED}], ', ') || "
        f"CASE WHEN len({names}) > {_LISTED} THEN ' and ' || (len({names}) - {_LISTED})::VARCHAR || ' more' "
        "ELSE '' END)"
    )


# The thresholds as shown, written once per business and currency (their columns of _review).
THRESHOLD_TEXTS = {
    "pct_text": sql_plain_text("pct"),
    "min_text": _amount("min_change"),
    "factor_text": sql_plain_text("factor"),
    "large_text": _amount("large_above"),
}


def _plural(count: str, word: str) -> str:
    return f"'{word}' || CASE WHEN {count} <> 1 THEN 's' ELSE '' END"


REASONS = {
    "total_change": (
        "'total ' || CASE WHEN change_minor > 0 THEN 'up ' ELSE 'down ' END || "
        "CASE WHEN change_tenths IS NOT NULL "
        "THEN ((abs(change_tenths)::DECIMAL(38,0) * 0.1)::VARCHAR) || ' %' "
        f"ELSE 'by ' || {_money('abs(change_minor)')} END || "
        f"' (' || {_money('prev_total_minor')} || ' → ' || {_money('total_minor')} || '), above ' || "
        "pct_text || ' % and ' || min_text"
    ),
    "first_invoice": "'first invoice of contract ' || contract_id || ': no earlier invoice to compare with'",
    "zero_total": f"'total is ' || {_money('total_minor')}",
    "negative_total": f"'total is negative: ' || {_money('total_minor')}",
    "line_added": f"'billed now, not last time: ' || {_names('added_names')}",
    "line_removed": f"'billed last time, not now: ' || {_names('removed_names')}",
    "usage_spike": (
        "'usage of ' || spike_names[1] || ' up ' || spikes[1].times || '× (' || "
        f"{sql_grouped_text('spikes[1].previous_quantity')} || ' → ' || {sql_grouped_text('spikes[1].quantity')} || "
        "'), above ' || factor_text || '×' || "
        "CASE WHEN len(spikes) > 1 THEN '; ' || (len(spikes) - 1)::VARCHAR || ' more usage line(s) too' ELSE '' END"
    ),
    "pending_usage": (
        f"format('{{:,}}', pending_rows) || ' ' || {_plural('pending_rows', 'usage row')} || "
        "' in the cycle still pending (not billed until approved)'"
    ),
    "true_up": (
        f"'minimum-commitment true-up of ' || {_money('true_up_minor')} || "
        "': the cycle''s charges are below the commitment'"
    ),
    "delayed_charges": (
        f"charges::VARCHAR || ' ' || {_plural('charges', 'delayed charge')} || ' swept onto this draft (' || "
        f"{_money('charges_minor')} || ')'"
    ),
    "large_invoice": (
        f"'total ' || {_money('total_minor')} || ' is above ' || large_text || ', the business''s large-invoice amount'"
    ),
    "coupon_ended": (
        f"{_plural('len(ended_names)', 'coupon')} || ' no longer applied: ' || {_names('ended_names')} || "
        "' (the previous invoice had ' || CASE WHEN len(ended_names) <> 1 THEN 'them)' ELSE 'it)' END"
    ),
}
if tuple(REASONS) != FLAGS:
    raise AssertionError("a reason for every flag, in the flags' order")


def flags_sql() -> str:
    """SQL over _review: the names of the row's flags, in FLAGS order (VARCHAR[])."""
    parts = ", ".join(f"CASE WHEN f_{f} THEN ['{f}'] ELSE []::VARCHAR[] END" for f in FLAGS)
    return f"flatten([{parts}])"


def reasons_sql() -> str:
    """SQL over _review: the reason of each of the row's flags, in FLAGS order (VARCHAR[], beside flags_sql)."""
    parts = ", ".join(f"CASE WHEN f_{f} THEN [{REASONS[f]}] ELSE []::VARCHAR[] END" for f in FLAGS)
    return f"flatten([{parts}])"
