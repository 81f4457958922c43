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
The figures shown are exact too: the change in tenths of a percent and a spike's "times" are integer
divisions rounded half away from zero. The reasons are written from these columns in SQL (reasons.py).
"""

from __future__ import annotations

import duckdb

from ..currencies import CURRENCY_UNITS_TABLE, currency_units_table
from ..errors import ValidationError
from ..models import ReviewThresholds
from ..money import sql_plain_text, sql_price_scaled

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
    "coupon_ended",
)

UNDER_REVIEW = ("draft", "approved", "held")

# A line named in a reason: 'API calls (K1-U)', or its id alone when it has no other product name.
_LINE_NAME = (
    "CASE WHEN product IS NOT NULL AND product <> line_id THEN product || ' (' || line_id || ')' ELSE line_id END"
)


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
                   i.hold_reason, i.period_start, i.period_end, i.total_minor
            FROM invoices i
            WHERE ({where}) AND i.contract_id IS NOT NULL AND list_contains(?, i.status)""",  # noqa: S608 (conditions and subqueries built by the engine with ? placeholders; values bound)
        [*params, list(UNDER_REVIEW)],
    )
    con.execute(
        """CREATE OR REPLACE TEMP TABLE _review_prev AS
           SELECT d.invoice_id, p.invoice_id AS prev_id, p.total_minor AS prev_total_minor,
                  -- the business's usage-spike factor × 10^6 (an exact integer), for the line comparison
                  (coalesce(t.usage_spike_factor, ?) * 1000000)::HUGEINT AS factor_micro
           FROM _review_drafts d
           ASOF LEFT JOIN (SELECT invoice_id, contract_id, period_start, total_minor FROM invoices
                           WHERE status <> 'void' AND contract_id IS NOT NULL) p
             ON d.contract_id = p.contract_id AND d.period_start > p.period_start
           LEFT JOIN review_thresholds t ON t.business_id = d.business_id""",
        [defaults.usage_spike_factor],
    )
    q, q_prev = "(q * 1000000)::HUGEINT", "(q_prev * 1000000)::HUGEINT"  # exact integers (quantities: 6 decimals)
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _review AS
        -- the drafts read through a MATERIALIZED copy: the temp table is one row group, and every pipeline
        -- reading it (the builds of the joins below, the final row per draft and its insert) would run on one
        -- thread; a CTE's rows are read on every thread (benchmarks/README.md, issue 22, 2026-12-07 afternoon)
        WITH drafts AS MATERIALIZED (SELECT * FROM _review_drafts),
        limits AS (
            SELECT b.business_id,
                   coalesce(t.total_change_percent, ?)::DECIMAL(38,6) AS pct,
                   coalesce(t.total_change_min, ?)::DECIMAL(38,12) AS min_change,
                   coalesce(t.usage_spike_factor, ?)::DECIMAL(38,6) AS factor
            FROM (SELECT DISTINCT business_id FROM drafts) b
            LEFT JOIN review_thresholds t USING (business_id)),
        cur AS (
            SELECT p.invoice_id, p.factor_micro, l.line_id, l.kind, l.product, l.quantity
            FROM _review_prev p JOIN invoice_lines l ON l.invoice_id = p.invoice_id
            WHERE p.prev_id IS NOT NULL AND l.line_id IS NOT NULL),
        old AS (
            SELECT p.invoice_id, p.factor_micro, l.line_id, l.kind, l.product, l.quantity
            FROM _review_prev p JOIN invoice_lines l ON l.invoice_id = p.prev_id
            WHERE l.line_id IS NOT NULL),
        cmp AS (
            SELECT coalesce(c.invoice_id, o.invoice_id) AS invoice_id,
                   coalesce(c.factor_micro, o.factor_micro) AS factor_micro, coalesce(c.line_id, o.line_id) AS line_id,
                   coalesce(c.product, o.product) AS product, c.kind, c.quantity AS q, o.quantity AS q_prev,
                   o.line_id IS NULL AS added, c.line_id IS NULL AS removed
            FROM cur c FULL JOIN old o ON o.invoice_id = c.invoice_id AND o.line_id = c.line_id),
        judged AS (
            SELECT m.*, {_LINE_NAME} AS name,
                   kind = 'usage' AND q_prev > 0 AND {q} * 1000000 > {q_prev} * factor_micro AS spike
            FROM cmp m),
        lines AS (
            SELECT invoice_id,
                   list({{'line_id': line_id, 'product': product}} ORDER BY line_id) FILTER (WHERE added) AS added,
                   list(name ORDER BY line_id) FILTER (WHERE added) AS added_names,
                   list({{'line_id': line_id, 'product': product}} ORDER BY line_id) FILTER (WHERE removed) AS removed,
                   list(name ORDER BY line_id) FILTER (WHERE removed) AS removed_names,
                   -- a spike's figures as exact texts: quantities without trailing zeros, q / q_prev in tenths
                   -- rounded half up ((20·q + q_prev) // (2·q_prev), both positive)
                   list({{'line_id': line_id, 'product': product, 'quantity': {sql_plain_text("q")},
                          'previous_quantity': {sql_plain_text("q_prev")},
                          'times': ((({q} * 20 + {q_prev}) // ({q_prev} * 2))::DECIMAL(38,0) * 0.1)::VARCHAR}}
                        ORDER BY line_id) FILTER (WHERE spike) AS spikes,
                   list(name ORDER BY line_id) FILTER (WHERE spike) AS spike_names
            FROM judged
            WHERE added OR removed OR spike
            GROUP BY invoice_id),
        own AS (
            SELECT l.invoice_id,
                   sum(l.amount_minor) FILTER (WHERE l.kind = 'minimum_commitment_true_up') AS true_up_minor,
                   count(*) FILTER (WHERE l.kind = 'delayed_charge') AS charges,
                   sum(l.amount_minor) FILTER (WHERE l.kind = 'delayed_charge') AS charges_minor
            FROM drafts d JOIN invoice_lines l USING (invoice_id)
            WHERE l.kind IN ('minimum_commitment_true_up', 'delayed_charge')
            GROUP BY l.invoice_id),
        -- coupons the previous invoice took and this draft does not (spec section 11: the step up coming)
        ended AS (
            SELECT p.invoice_id,
                   list({{'coupon_id': pc.coupon_id, 'name': pc.name}} ORDER BY pc.position) AS coupons_ended,
                   list(pc.name || ' (' || pc.coupon_id || ')' ORDER BY pc.position) AS ended_names
            FROM _review_prev p JOIN invoice_coupons pc ON pc.invoice_id = p.prev_id
            WHERE NOT EXISTS (SELECT 1 FROM invoice_coupons cc
                              WHERE cc.invoice_id = p.invoice_id AND cc.coupon_id = pc.coupon_id)
            GROUP BY p.invoice_id),
        pend AS (
            SELECT d.invoice_id, count(*) AS pending_rows
            FROM drafts d
            JOIN usage u ON u.contract_id = d.contract_id AND u.usage_date BETWEEN d.period_start AND d.period_end
            WHERE u.status = 'pending'
            GROUP BY d.invoice_id),
        wide AS (
            SELECT d.*, cu.name AS customer_name, u.exp, u.scale, u.per_minor_12,
                   p.prev_id, p.prev_total_minor,
                   (d.total_minor::HUGEINT - p.prev_total_minor) AS change_minor,
                   lm.pct, lm.min_change, lm.factor,
                   coalesce(ln.added, []) AS added, coalesce(ln.removed, []) AS removed,
                   coalesce(ln.spikes, []) AS spikes,
                   coalesce(ln.added_names, []) AS added_names, coalesce(ln.removed_names, []) AS removed_names,
                   coalesce(ln.spike_names, []) AS spike_names,
                   coalesce(o.true_up_minor, 0) AS true_up_minor, coalesce(o.charges, 0) AS charges,
                   coalesce(o.charges_minor, 0) AS charges_minor, coalesce(pe.pending_rows, 0) AS pending_rows,
                   coalesce(en.coupons_ended, []) AS coupons_ended, coalesce(en.ended_names, []) AS ended_names,
                   li.above AS large_above
            FROM drafts d
            JOIN customers cu ON cu.customer_id = d.customer_id
            JOIN {CURRENCY_UNITS_TABLE} u ON u.code = d.currency
            JOIN _review_prev p USING (invoice_id)
            JOIN limits lm ON lm.business_id = d.business_id
            LEFT JOIN lines ln USING (invoice_id)
            LEFT JOIN own o USING (invoice_id)
            LEFT JOIN pend pe USING (invoice_id)
            LEFT JOIN ended en USING (invoice_id)
            LEFT JOIN review_large_invoice li ON li.business_id = d.business_id AND li.currency = d.currency)
        SELECT *,
               -- change ÷ |previous| × 100 in tenths, half away from zero (none when the previous total is 0)
               CASE WHEN prev_total_minor <> 0
                    THEN sign(change_minor) * ((abs(change_minor) * 2000 + abs(prev_total_minor::HUGEINT))
                                              // (abs(prev_total_minor::HUGEINT) * 2)) END AS change_tenths,
               prev_id IS NOT NULL
                 AND abs(change_minor) * 100000000 > (pct * 1000000)::HUGEINT * abs(prev_total_minor::HUGEINT)
                 AND abs(change_minor) * per_minor_12 > {sql_price_scaled("min_change")} AS f_total_change,
               prev_id IS NULL AS f_first_invoice,
               total_minor = 0 AS f_zero_total,
               total_minor < 0 AS f_negative_total,
               len(added) > 0 AS f_line_added,
               len(removed) > 0 AS f_line_removed,
               len(spikes) > 0 AS f_usage_spike,
               pending_rows > 0 AS f_pending_usage,
               true_up_minor > 0 AS f_true_up,
               charges > 0 AS f_delayed_charges,
               coalesce(total_minor::HUGEINT * per_minor_12 > {sql_price_scaled("large_above")}, FALSE)
                   AS f_large_invoice,
               len(coupons_ended) > 0 AS f_coupon_ended
        FROM wide""",  # noqa: S608 (SQL expressions built by the engine from its own column names and constants; values bound)
        [defaults.total_change_percent, defaults.total_change_min, defaults.usage_spike_factor],
    )
