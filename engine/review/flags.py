"""Review flags (spec section 8), decided set-based in DuckDB for every draft in scope at once.

    _review_drafts   drafts under review (draft, approved, held) of a run or of a period
    _review_prev     each one's PREVIOUS invoice: the latest non-void invoice of the same contract whose
                     period_start is before the draft's (an ASOF join), whatever its status
    _review          one wide row per draft: its figures, the previous invoice's, the lines billed now and
                     not last time (and the reverse), usage spikes, pending usage, true-up, swept charges,
                     the business's thresholds, and one boolean column per flag

Every comparison is exact integer arithmetic (HUGEINT), never a float:
    total_change    |Δ|·100·10^6 > pct·10^6 · |previous|  AND  |Δ|·10^(12−exp) > min·10^12
                    (Δ = total − previous, minor units; pct and min the business's thresholds)
    usage_spike     q·10^6·10^6 > factor·10^6 · q_prev·10^6, and q_prev > 0
    large_invoice   total·10^(12−exp) > above·10^12
The reasons are written afterwards in Python from the figures (flags.reason), in a finance user's words.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import duckdb

from ..currencies import CURRENCY_UNITS_TABLE, currency_units_table, minor_units
from ..errors import ValidationError
from ..models import ReviewFlag, ReviewThresholds
from ..money import to_major

# The flags in the order a reviewer reads them; each is a boolean column f_<name> of _review.
FLAGS = (
    "total_change",
    "first_invoice",
    "zero_total",
    "negative_total",
    "line_added",
    "line_removed",
    "usage_spike",
    "pending_usage",
    "true_up",
    "delayed_charges",
    "large_invoice",
)

UNDER_REVIEW = ("draft", "approved", "held")

# What Python reads of _review: plain BIGINT/VARCHAR/DATE columns, the line lists, the flag columns. The
# thresholds are read once per business (get_thresholds), never per row (Decimal and HUGEINT columns
# are the slow part of fetching tens of thousands of rows).
READ_COLUMNS = (
    "invoice_id, contract_id, customer_id, customer_name, business_id, currency, status, period_start, period_end, "
    "total_minor, prev_id, prev_total_minor, added, removed, spikes, true_up_minor::BIGINT AS true_up_minor, "
    "charges, charges_minor::BIGINT AS charges_minor, pending_rows, " + ", ".join(f"f_{f}" for f in FLAGS)
)
_LISTED = 3  # lines named in a reason; the figures hold them all


def check_flags(names: list[str] | None) -> list[str] | None:
    """The flag names themselves if every one is known, else ValidationError listing the valid ones."""
    if names is None:
        return None
    unknown = [n for n in names if n not in FLAGS]
    if unknown:
        raise ValidationError(f"unknown flag {', '.join(unknown)}; valid flags: {', '.join(FLAGS)}")
    return list(names)


def flag_column(name: str) -> str:
    """The boolean column of a flag (an identifier built from the allow-list only)."""
    return f"f_{check_flags([name])[0]}"


def any_flag_sql(names: list[str] | None = None) -> str:
    """SQL: the draft has any of these flags (all flags when None)."""
    return "(" + " OR ".join(flag_column(n) for n in (names or FLAGS)) + ")"


def compute_review(con: duckdb.DuckDBPyConnection, where: str, params: list) -> None:
    """_review := one row per draft under review of `invoices i` matching `where` (an engine-built fragment
    over alias `i`, values bound in `params`). The caller holds the transaction (one snapshot)."""
    currency_units_table(con)
    defaults = ReviewThresholds(business_id="")
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _review_drafts AS
            SELECT i.invoice_id, i.business_id, i.contract_id, i.customer_id, i.currency, i.status,
                   i.period_start, i.period_end, i.total_minor
            FROM invoices i
            WHERE ({where}) AND i.contract_id IS NOT NULL AND list_contains(?, i.status)""",  # noqa: S608 (conditions and subqueries built by the engine with ? placeholders; values bound)
        [*params, list(UNDER_REVIEW)],
    )
    con.execute(
        """CREATE OR REPLACE TEMP TABLE _review_prev AS
           SELECT d.invoice_id, p.invoice_id AS prev_id, p.total_minor AS prev_total_minor
           FROM _review_drafts d
           ASOF LEFT JOIN (SELECT invoice_id, contract_id, period_start, total_minor FROM invoices
                           WHERE status <> 'void' AND contract_id IS NOT NULL) p
             ON d.contract_id = p.contract_id AND d.period_start > p.period_start"""
    )
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _review AS
        WITH limits AS (
            SELECT b.business_id,
                   coalesce(t.total_change_percent, ?) AS pct,
                   coalesce(t.total_change_min, ?) AS min_change,
                   coalesce(t.usage_spike_factor, ?) AS factor
            FROM (SELECT DISTINCT business_id FROM _review_drafts) b
            LEFT JOIN review_thresholds t USING (business_id)),
        cur AS (
            SELECT p.invoice_id, l.line_id, l.kind, l.product, l.quantity
            FROM _review_prev p JOIN invoice_lines l ON l.invoice_id = p.invoice_id
            WHERE p.prev_id IS NOT NULL AND l.line_id IS NOT NULL),
        old AS (
            SELECT p.invoice_id, l.line_id, l.kind, l.product, l.quantity
            FROM _review_prev p JOIN invoice_lines l ON l.invoice_id = p.prev_id
            WHERE l.line_id IS NOT NULL),
        cmp AS (
            SELECT coalesce(c.invoice_id, o.invoice_id) AS invoice_id, coalesce(c.line_id, o.line_id) AS line_id,
                   coalesce(c.product, o.product) AS product, c.kind, c.quantity AS q, o.quantity AS q_prev,
                   o.line_id IS NULL AS added, c.line_id IS NULL AS removed
            FROM cur c FULL JOIN old o ON o.invoice_id = c.invoice_id AND o.line_id = c.line_id),
        lines AS (
            SELECT m.invoice_id,
                   list({{'line_id': line_id, 'product': product}} ORDER BY line_id) FILTER (WHERE added) AS added,
                   list({{'line_id': line_id, 'product': product}} ORDER BY line_id) FILTER (WHERE removed)
                       AS removed,
                   list({{'line_id': line_id, 'product': product, 'quantity': q::VARCHAR,
                          'previous_quantity': q_prev::VARCHAR}} ORDER BY line_id)
                       FILTER (WHERE kind = 'usage' AND q_prev > 0
                               AND (q * 1000000)::HUGEINT * 1000000
                                   > (q_prev * 1000000)::HUGEINT * (lm.factor * 1000000)::HUGEINT) AS spikes
            FROM cmp m JOIN _review_drafts d USING (invoice_id) JOIN limits lm USING (business_id)
            GROUP BY m.invoice_id),
        own AS (
            SELECT l.invoice_id,
                   sum(l.amount_minor) FILTER (WHERE l.kind = 'minimum_commitment_true_up') AS true_up_minor,
                   count(*) FILTER (WHERE l.kind = 'delayed_charge') AS charges,
                   sum(l.amount_minor) FILTER (WHERE l.kind = 'delayed_charge') AS charges_minor
            FROM _review_drafts d JOIN invoice_lines l USING (invoice_id)
            WHERE l.kind IN ('minimum_commitment_true_up', 'delayed_charge')
            GROUP BY l.invoice_id),
        pend AS (
            SELECT d.invoice_id, count(*) AS pending_rows
            FROM _review_drafts d
            JOIN usage u ON u.contract_id = d.contract_id AND u.usage_date BETWEEN d.period_start AND d.period_end
            WHERE u.status = 'pending'
              AND u.usage_date BETWEEN (SELECT min(period_start) FROM _review_drafts)
                                   AND (SELECT max(period_end) FROM _review_drafts)
            GROUP BY d.invoice_id),
        wide AS (
            SELECT d.*, cu.name AS customer_name, u.exp, u.per_minor_12,
                   p.prev_id, p.prev_total_minor,
                   (d.total_minor::HUGEINT - p.prev_total_minor) AS change_minor,
                   lm.pct, lm.min_change, lm.factor,
                   coalesce(ln.added, []) AS added, coalesce(ln.removed, []) AS removed,
                   coalesce(ln.spikes, []) AS spikes,
                   coalesce(o.true_up_minor, 0) AS true_up_minor, coalesce(o.charges, 0) AS charges,
                   coalesce(o.charges_minor, 0) AS charges_minor, coalesce(pe.pending_rows, 0) AS pending_rows,
                   li.above AS large_above
            FROM _review_drafts d
            JOIN customers cu ON cu.customer_id = d.customer_id
            JOIN {CURRENCY_UNITS_TABLE} u ON u.code = d.currency
            JOIN _review_prev p USING (invoice_id)
            JOIN limits lm ON lm.business_id = d.business_id
            LEFT JOIN lines ln USING (invoice_id)
            LEFT JOIN own o USING (invoice_id)
            LEFT JOIN pend pe USING (invoice_id)
            LEFT JOIN review_large_invoice li ON li.business_id = d.business_id AND li.currency = d.currency)
        SELECT *,
               prev_id IS NOT NULL
                 AND abs(change_minor) * 100000000 > (pct * 1000000)::HUGEINT * abs(prev_total_minor::HUGEINT)
                 AND abs(change_minor) * per_minor_12 > (min_change * 1000000000000)::HUGEINT AS f_total_change,
               prev_id IS NULL AS f_first_invoice,
               total_minor = 0 AS f_zero_total,
               total_minor < 0 AS f_negative_total,
               len(added) > 0 AS f_line_added,
               len(removed) > 0 AS f_line_removed,
               len(spikes) > 0 AS f_usage_spike,
               pending_rows > 0 AS f_pending_usage,
               true_up_minor > 0 AS f_true_up,
               charges > 0 AS f_delayed_charges,
               coalesce(total_minor::HUGEINT * per_minor_12 > (large_above * 1000000000000)::HUGEINT, FALSE)
                   AS f_large_invoice
        FROM wide""",  # noqa: S608 (SQL expressions built by the engine from its own column names and constants; values bound)
        [defaults.total_change_percent, defaults.total_change_min, defaults.usage_spike_factor],
    )


# --- reasons ------------------------------------------------------------------------------------------


def _money(minor: int, currency: str) -> str:
    return f"{currency} {to_major(minor, currency):,}"


def _amount(value: Decimal, currency: str, exp: int) -> str:
    """A threshold in major units, shown with the currency's decimals when it has no more than those."""
    value = Decimal(value)
    q = Decimal(1).scaleb(-exp)
    shown = value.quantize(q) if value == value.quantize(q) else value.normalize()
    return f"{currency} {shown:,}"


def _number(value) -> str:
    return format(Decimal(value).normalize(), "f")


def change_percent(change: int, previous: int) -> Decimal | None:
    """change ÷ |previous| × 100 to one decimal, half away from zero (display and figures only: the flag
    itself is decided on the exact integers). Integer arithmetic: tenths = round(|change|·1000 / |previous|)."""
    if previous == 0:
        return None
    tenths = (abs(change) * 2000 + abs(previous)) // (2 * abs(previous))
    return Decimal(tenths if change >= 0 else -tenths).scaleb(-1)


def _line_names(lines: list[dict]) -> str:
    names = [
        f"{x['product']} ({x['line_id']})" if x.get("product") not in (None, x["line_id"]) else x["line_id"]
        for x in lines[:_LISTED]
    ]
    more = f" and {len(lines) - _LISTED} more" if len(lines) > _LISTED else ""
    return ", ".join(names) + more


def flags_of(r: dict, limits: ReviewThresholds) -> list[ReviewFlag]:
    """The flags of one row of _review (READ_COLUMNS), each with its figures and its one-line reason;
    `limits` are the thresholds of the draft's business."""
    cur = r["currency"]
    exp = minor_units(cur)
    total, prev = r["total_minor"], r["prev_total_minor"]
    pct, min_change, factor = limits.total_change_percent, limits.total_change_min, limits.usage_spike_factor
    out: list[ReviewFlag] = []

    def add(flag: str, reason: str, **figures) -> None:
        out.append(ReviewFlag.model_construct(flag=flag, reason=reason, figures=figures))

    if r["f_total_change"]:
        change = total - prev
        percent = change_percent(change, prev)
        word = "up" if change > 0 else "down"
        how = f"{abs(percent)} %" if percent is not None else f"by {_money(abs(change), cur)}"
        add(
            "total_change",
            f"total {word} {how} ({_money(prev, cur)} → {_money(total, cur)}), "
            f"above {_number(pct)} % and {_amount(min_change, cur, exp)}",
            previous_total=to_major(prev, cur),
            total=to_major(total, cur),
            change=to_major(change, cur),
            change_percent=percent,
            threshold_percent=pct,
            threshold_min=min_change,
        )
    if r["f_first_invoice"]:
        add(
            "first_invoice",
            f"first invoice of contract {r['contract_id']}: no earlier invoice to compare with",
            total=to_major(total, cur),
        )
    if r["f_zero_total"]:
        add("zero_total", f"total is {_money(0, cur)}", total=to_major(total, cur))
    if r["f_negative_total"]:
        add("negative_total", f"total is negative: {_money(total, cur)}", total=to_major(total, cur))
    if r["f_line_added"]:
        lines = r["added"]
        add("line_added", f"billed now, not last time: {_line_names(lines)}", lines=lines)
    if r["f_line_removed"]:
        lines = r["removed"]
        add("line_removed", f"billed last time, not now: {_line_names(lines)}", lines=lines)
    if r["f_usage_spike"]:
        spikes = []
        for s in r["spikes"]:
            q, q_prev = Decimal(s["quantity"]), Decimal(s["previous_quantity"])
            times = (q / q_prev).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
            spikes.append(
                {
                    "line_id": s["line_id"],
                    "product": s["product"],
                    "quantity": Decimal(_number(q)),
                    "previous_quantity": Decimal(_number(q_prev)),
                    "times": times,
                }
            )
        first = spikes[0]
        more = f"; {len(spikes) - 1} more usage line(s) too" if len(spikes) > 1 else ""
        add(
            "usage_spike",
            f"usage of {_line_names([first])} up {first['times']}× "
            f"({first['previous_quantity']:,} → {first['quantity']:,}), above {_number(factor)}×{more}",
            lines=spikes,
            threshold_factor=factor,
        )
    if r["f_pending_usage"]:
        n = int(r["pending_rows"])
        add(
            "pending_usage",
            f"{n:,} usage row{'s' if n != 1 else ''} in the cycle still pending (not billed until approved)",
            pending_rows=n,
        )
    if r["f_true_up"]:
        t = int(r["true_up_minor"])
        add(
            "true_up",
            f"minimum-commitment true-up of {_money(t, cur)}: the cycle's charges are below the commitment",
            true_up=to_major(t, cur),
        )
    if r["f_delayed_charges"]:
        n, amount = int(r["charges"]), int(r["charges_minor"])
        add(
            "delayed_charges",
            f"{n} delayed charge{'s' if n != 1 else ''} swept onto this draft ({_money(amount, cur)})",
            charges=n,
            amount=to_major(amount, cur),
        )
    if r["f_large_invoice"]:
        add(
            "large_invoice",
            f"total {_money(total, cur)} is above {_amount(limits.large_invoice[cur], cur, exp)}, "
            f"the business's large-invoice amount",
            total=to_major(total, cur),
            threshold=limits.large_invoice[cur],
        )
    return out
