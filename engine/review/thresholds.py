"""Review thresholds per business (spec section 8): read, validated, stored.

A business without a `review_thresholds` row has the spec's defaults (25 %, 10 major units, 3×); a
large-invoice amount exists only for the currencies the business set one for (none by default).
Every figure is an exact Decimal: percentages and factors with at most 6 decimals, amounts with at
most 12 (the columns' scales), all within bounds that keep the review's integer comparisons exact.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import duckdb

from ..currencies import is_currency, minor_units
from ..db import retry_on_conflict
from ..errors import ValidationError
from ..models import ReviewThresholds
from ..money import MONEY_LIMIT, PRICE_SCALE, QTY_SCALE, exact_minor

# A percentage or factor beyond a million is no threshold at all; the bound keeps factor × quantity
# (both scaled to integers) inside HUGEINT in the usage-spike comparison.
RATIO_LIMIT = Decimal(1_000_000)


def get_thresholds(con: duckdb.DuckDBPyConnection, business_id: str) -> ReviewThresholds:
    """The business's thresholds; the defaults where it stored none."""
    row = con.execute(
        """SELECT total_change_percent, total_change_min, usage_spike_factor, updated_by, updated_at
           FROM review_thresholds WHERE business_id = ?""",
        [business_id],
    ).fetchone()
    large = dict(
        con.execute(
            "SELECT currency, above FROM review_large_invoice WHERE business_id = ? ORDER BY currency", [business_id]
        ).fetchall()
    )
    out = ReviewThresholds(business_id=business_id, large_invoice={k: _plain(v) for k, v in large.items()})
    if row:
        out.total_change_percent, out.total_change_min, out.usage_spike_factor = (_plain(v) for v in row[:3])
        out.updated_by, out.updated_at = row[3], row[4]
    return out


def _plain(v) -> Decimal:
    return Decimal(format(Decimal(v).normalize(), "f"))


def _check(name: str, value, places: int, limit: Decimal) -> Decimal:
    if isinstance(value, float):
        raise ValidationError(f"{name}: pass a decimal string or Decimal, not a float")
    try:
        d = Decimal(str(value))
    except ArithmeticError:
        raise ValidationError(f"{name}: not a number: {value!r}") from None
    if not d.is_finite() or d < 0:
        raise ValidationError(f"{name} must be zero or more, not {value}")
    if d >= limit:
        raise ValidationError(f"{name} {value} is too large (must be below {limit})")
    if -d.normalize().as_tuple().exponent > places:
        raise ValidationError(f"{name} {value} has more than {places} decimal places")
    return d


def set_thresholds(
    con: duckdb.DuckDBPyConnection,
    business_id: str,
    *,
    total_change_percent=None,
    total_change_min=None,
    usage_spike_factor=None,
    large_invoice: dict[str, object | None] | None = None,
    actor: str,
) -> ReviewThresholds:
    """Change the business's thresholds; a figure left None keeps its value. `large_invoice` maps a
    currency to its amount (major units), or to None to remove it. Validated whole before anything is
    written (non-negative, known currency, within bounds, no more decimals than the currency has); written in one
    transaction."""
    if not business_id:
        raise ValidationError("a business id is required")
    problems: list[str] = []  # every one is said at once, not one per attempt

    def checked(name: str, value, places: int, limit: Decimal) -> Decimal | None:
        if value is None:
            return None
        try:
            return _check(name, value, places, limit)
        except ValidationError as exc:
            problems.append(str(exc))
            return None

    pct = checked("total_change_percent", total_change_percent, QTY_SCALE, RATIO_LIMIT)
    amt = checked("total_change_min", total_change_min, PRICE_SCALE, MONEY_LIMIT)
    fac = checked("usage_spike_factor", usage_spike_factor, QTY_SCALE, RATIO_LIMIT)
    large = {}
    for cur, above in (large_invoice or {}).items():
        if not is_currency(cur):
            problems.append(f"unknown currency {cur!r}: not an ISO 4217 code")
            continue
        large[cur] = checked(f"large_invoice {cur}", above, PRICE_SCALE, MONEY_LIMIT)
        if large[cur] is not None and exact_minor(large[cur], cur) is None:  # an amount the currency cannot hold
            problems.append(f"large_invoice {cur} {above} has more decimals than {cur} has ({minor_units(cur)})")
    if problems:
        raise ValidationError("; ".join(problems))
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)

    def work(c: duckdb.DuckDBPyConnection) -> None:
        current = get_thresholds(c, business_id)
        c.execute(
            """INSERT OR REPLACE INTO review_thresholds (business_id, total_change_percent, total_change_min,
                   usage_spike_factor, updated_by, updated_at) VALUES (?, ?, ?, ?, ?, ?)""",
            [
                business_id,
                current.total_change_percent if pct is None else pct,
                current.total_change_min if amt is None else amt,
                current.usage_spike_factor if fac is None else fac,
                actor,
                now,
            ],
        )
        for cur, above in large.items():
            if above is None:
                c.execute("DELETE FROM review_large_invoice WHERE business_id = ? AND currency = ?", [business_id, cur])
            else:
                c.execute("INSERT OR REPLACE INTO review_large_invoice VALUES (?, ?, ?)", [business_id, cur, above])

    retry_on_conflict(con, work)
    return get_thresholds(con, business_id)
