"""Set-based rating: from a table of target cycles to invoice lines and invoice totals, in DuckDB.

Stages (each a temp table, all contracts at once; one contract is the same SQL with one target):
    _targets            (contract_id, period_start, …)     built by `targets.py`
    _rating_lines       order lines active in each target, with their active window
    _usage_agg          aggregated APPROVED usage per line and window  (usage_aggregation.py)
    _rated_lines        rounded line amounts + minimum-commitment true-ups, numbered, with each line's
                        tax codes and its discount (its share of the invoice's coupons); one statement whose
                        stages are each line's priced quantity (`priced_lines`) and each tier's share of
                        graduated / volume lines (`tier_rows`, the breakdown), then the exact price numerator
                        (pricing.py) and the rounded amount; the true-ups inserted by a second statement that
                        reads the stored order-line amounts
    _rated_invoices     one invoice per target that has a line: subtotal, discount, tax, total, and its
                        `taxes` (per tax code: base, amount) and `coupons` (in order: base, amount)

Coupons and taxes (spec section 11) are `adjustments.py`: the coupon stages are written only when a target
has a coupon (the line amounts are then `_line_amounts`, their input), the per-code taxes only when a line
carries a tax code; otherwise an invoice's tax is its customer's single rate on its subtotal (section 3).

Nothing is persisted here; `invoices.py` and `bill_run.py` store what these tables hold, previews
read them. A line's amount:

    amount = price(q) × proration × (100 − discount) / 100,  rounded ONCE to the minor unit
    proration = active_days / period_days   (recurring lines with proration 'actual', else 1)
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from ..currencies import CURRENCY_UNITS_TABLE, currency_units_table
from ..money import sql_price_scaled, sql_price_scaled_within, sql_qty_scaled, sql_round_minor
from .adjustments import STAGES as ADJUSTMENT_STAGES
from .adjustments import RatedAdjustments, rate_adjustments
from .breakdown_json import json_object_sql, tier_json_sql
from .id_filters import FEW_IDS
from .pricing import (
    PACKAGES_SQL,
    PRICING_MODELS,
    models_in_sql,
    price_case_sql,
    tier_amount_sql,
    tier_applies_sql,
    tier_units_sql,
    tiered_models,
    unit_price_models,
)
from .sources import check_source
from .usage_aggregation import aggregate_usage

KIND_ORDER = (
    "(CASE kind WHEN 'recurring' THEN 1 WHEN 'one_time' THEN 2 WHEN 'usage' THEN 3 "
    "WHEN 'minimum_commitment_true_up' THEN 4 ELSE 5 END)"
)


def _window_sql(ol: str, c: str, t: str) -> tuple[str, str, str]:
    """(one-time line's billing date, active window start, end) of order line `ol` of contract `c` in cycle `t`."""
    one_time_start = f"greatest(coalesce({ol}.start_date, {c}.start_date), {c}.start_date)"
    win_start = f"greatest({t}.period_start, coalesce({ol}.start_date, {t}.period_start))"
    win_end = f"least({t}.period_end, coalesce({ol}.end_date, {t}.period_end))"
    return one_time_start, win_start, win_end


def line_in_cycle_sql(ol: str = "ol", c: str = "c", t: str = "t") -> str:
    """THE rule whether order line `ol` (of contract `c`) has a line in cycle `t` (period_start, period_end):
    one-time lines bill whole in the cycle containing their start; others over cycle ∩ line window.
    Rating selects its lines with it; catch-up reads it to tell a cycle with something to bill."""
    one_time_start, win_start, win_end = _window_sql(ol, c, t)
    return f"""CASE WHEN {ol}.kind = 'one_time'
               THEN {one_time_start} BETWEEN {t}.period_start AND {t}.period_end
               ELSE {win_start} <= {win_end} END"""


def _scaled_order_lines_sql(src: str) -> str:
    """The order lines with `upn_within`, their unit_price × 10^12 when within the money bound (else NULL; see
    money.sql_price_scaled_within): scaled once per order line, not once per cycle the line is rated in (a
    128-bit cast is the costliest step of a line's amount, and most lines have a unit price)."""
    return f"""SELECT *, {sql_price_scaled_within("unit_price")} AS upn_within
           FROM {src}.order_lines"""  # noqa: S608 (schema name checked by rating.sources.check_source)


def _lines_sql(src: str, ahead: bool = True) -> str:
    """`ahead`: scale the unit prices of the targets' order lines ahead (a bulk rating); otherwise (a preview, a
    draft: a few contracts) `upn_within` is NULL and each rated line scales its own (the stages then plan and
    run smaller)."""
    _, win_start, win_end = _window_sql("ol", "c", "t")
    order_lines = f"({_scaled_order_lines_sql(src)})" if ahead else f"{src}.order_lines"
    upn_within = "ol.upn_within" if ahead else "NULL::HUGEINT AS upn_within"
    return f"""
    CREATE OR REPLACE TEMP TABLE _rating_lines AS
    SELECT t.contract_id, t.period_start, t.period_days, c.proration, cu.exp, cu.per_minor_18,
           ol.line_id, ol.kind, ol.product, ol.description, ol.pricing_model, ol.metric, ol.aggregation,
           ol.unit_price, {upn_within}, ol.quantity AS line_quantity, ol.package_size, ol.free_units,
           ol.percentage_rate, ol.fixed_fee, ol.discount_percent,
           coalesce(ol.tax_codes, cust.tax_codes) AS tax_codes,
           CASE WHEN ol.kind = 'one_time' THEN t.period_start ELSE {win_start} END AS win_start,
           CASE WHEN ol.kind = 'one_time' THEN t.period_end ELSE {win_end} END AS win_end
    FROM _targets t
    JOIN {src}.contracts c USING (contract_id)
    JOIN {order_lines} ol USING (contract_id)
    JOIN {src}.customers cust ON cust.customer_id = c.customer_id
    JOIN {CURRENCY_UNITS_TABLE} cu ON cu.code = c.currency
    WHERE {line_in_cycle_sql("ol", "c", "t")}"""  # noqa: S608 (schema name checked by rating.sources.check_source; values bound)


def _priced_sql(numbered: bool) -> str:
    """SELECT of every rated line with its priced quantity `q`, `n_rows`, `active_days` and (`numbered`) its
    `line_no`: a stage of the last statement (_rated_lines_sql), not a table of its own (copying every line's
    columns into one more table cost as much as computing them)."""
    # numbered over the keys alone (a window over the wide rows sorts them all); the true-up, kind 4 and
    # after every order line, is numbered n + 1 by its own stage. Amounts alone (what-if) need no numbers.
    number = "n.line_no" if numbered else "NULL::INTEGER AS line_no"
    numbers = f"""
    JOIN (SELECT rowid AS line_row,
                 row_number() OVER (PARTITION BY contract_id, period_start
                                    ORDER BY {KIND_ORDER}, line_id, win_start)::INTEGER AS line_no
          FROM _rating_lines) n ON n.line_row = l.rowid"""  # noqa: S608 (engine constants)
    return f"""
    SELECT l.*,
           coalesce(a.n_rows, 0) AS n_rows,
           CASE WHEN l.kind <> 'usage' THEN l.line_quantity
                WHEN l.aggregation = 'count' THEN coalesce(a.n_rows, 0)
                WHEN l.aggregation = 'max' THEN coalesce(a.q_max, 0)
                ELSE coalesce(a.q_sum, 0) END::DECIMAL(38,6) AS q,
           CASE WHEN l.kind = 'recurring' AND l.proration = 'actual'
                THEN (l.win_end - l.win_start + 1)::INTEGER ELSE l.period_days END AS active_days,
           {number}
    FROM _rating_lines l
    LEFT JOIN _usage_agg a ON a.line_row = l.rowid{numbers if numbered else ""}"""  # noqa: S608 (SQL expressions built by the engine from its own column names and constants)


# after `bounds` (one row per tier of a rated line): whether the tier applies, its units, its amount × 10^18
_TIER_SHARES = f"""shares AS (SELECT *, {tier_applies_sql()} AS applies FROM bounds),
    units AS (SELECT *, {tier_units_sql()}::DECIMAL(38,6) AS units FROM shares)
    SELECT *, {tier_amount_sql()} AS tier_pn FROM units"""  # noqa: S608 (SQL expressions built by the engine from its own column names and constants)


def _tier_rows_sql(src: str, priced: str, ahead: bool = True) -> str:
    """SELECT of each tier's share of the graduated / volume lines of `priced` (a stage name of the statement):
    the breakdown's tiers and the lines' tier sums. `ahead` as in _lines_sql: a tier's lower bound and scaled
    prices once per tier (a bulk rating), else once per tier of each rated line."""
    if not ahead:
        return _tier_rows_per_line_sql(src, priced)
    # a tier's lower bound and its money scaled (within the bound, as the order lines' upn_within): once per tier
    # of the lines being rated, not once per cycle the line is rated in
    tiers = f"""SELECT *, coalesce(lag(up_to) OVER (PARTITION BY line_id ORDER BY tier_no), 0) AS lower,
                      {sql_price_scaled_within("unit_price")} AS t_upn_within,
                      {sql_price_scaled_within("flat_fee")} AS t_feen_within
               FROM {src}.price_tiers
               WHERE line_id IN (SELECT line_id FROM _rating_lines
                                 WHERE pricing_model IN {models_in_sql(tiered_models())})"""  # noqa: S608 (schema name checked by rating.sources.check_source)
    return f"""
    WITH bounds AS (
        SELECT p.contract_id, p.period_start, p.line_id, p.pricing_model, p.q, pt.tier_no,
               pt.lower, pt.up_to, pt.unit_price AS t_unit_price, pt.flat_fee AS t_flat_fee,
               coalesce(pt.t_upn_within, {sql_price_scaled("pt.unit_price")}) AS t_upn,
               coalesce(pt.t_feen_within, {sql_price_scaled("pt.flat_fee")}) AS t_feen
        FROM {priced} p JOIN ({tiers}) pt ON pt.line_id = p.line_id
        WHERE p.pricing_model IN {models_in_sql(tiered_models())}),
    {_TIER_SHARES}"""  # noqa: S608 (schema name checked by rating.sources.check_source; values bound)


def _tier_rows_per_line_sql(src: str, priced: str) -> str:
    lower = (
        "coalesce(lag(pt.up_to) OVER (PARTITION BY p.contract_id, p.period_start, p.line_id ORDER BY pt.tier_no), 0)"
    )
    return f"""
    WITH bounds AS (
        SELECT p.contract_id, p.period_start, p.line_id, p.pricing_model, p.q, pt.tier_no,
               {lower} AS lower, pt.up_to, pt.unit_price AS t_unit_price, pt.flat_fee AS t_flat_fee,
               {sql_price_scaled("pt.unit_price")} AS t_upn, {sql_price_scaled("pt.flat_fee")} AS t_feen
        FROM {priced} p JOIN {src}.price_tiers pt ON pt.line_id = p.line_id
        WHERE p.pricing_model IN {models_in_sql(tiered_models())}),
    {_TIER_SHARES}"""  # noqa: S608 (schema name checked by rating.sources.check_source; values bound)


@dataclass(frozen=True)
class _Shape:
    """What the lines being rated hold: their pricing models, whether any target has a minimum commitment,
    a coupon that may cover it, a tax code (of its customer or of a line). The last stages are written for
    that shape only (no tier stage without tiered lines, no true-up without a commitment, a price CASE of
    the models present, no coupon or tax-code stage without them): the same amounts, and much smaller
    statements to plan for a one-contract preview. Everything is written when the lines hold it."""

    models: tuple[str, ...]
    commitments: bool
    coupons: bool = True
    tax_codes: bool = True
    single_rate: bool = True  # a target's customer has the single tax_rate (not 0), no codes

    @property
    def tiered(self) -> bool:
        return any(m in tiered_models() for m in self.models)


_EVERY_SHAPE = _Shape(tuple(PRICING_MODELS), True)


def _shape(con: duckdb.DuckDBPyConnection, src: str) -> _Shape:
    models, commitments, coupons, line_codes, customer_codes, single_rate = con.execute(
        f"""WITH owners AS (SELECT cu.tax_codes, cu.tax_rate FROM _targets t JOIN {src}.contracts c USING (contract_id)
                            JOIN {src}.customers cu ON cu.customer_id = c.customer_id)
            SELECT (SELECT list(DISTINCT pricing_model ORDER BY pricing_model) FROM _rating_lines),
                   EXISTS (SELECT 1 FROM _targets t JOIN {src}.contracts c USING (contract_id)
                           WHERE c.minimum_commitment IS NOT NULL),
                   EXISTS (SELECT 1 FROM _targets t JOIN {src}.applied_coupons a USING (contract_id)
                           WHERE a.applied_on <= t.period_start),
                   EXISTS (SELECT 1 FROM _rating_lines WHERE tax_codes IS NOT NULL),
                   EXISTS (SELECT 1 FROM owners WHERE tax_codes IS NOT NULL),
                   EXISTS (SELECT 1 FROM owners WHERE tax_codes IS NULL AND tax_rate <> 0)"""  # noqa: S608 (schema name checked by rating.sources.check_source)
    ).fetchone()
    known = tuple(m for m in models or () if m in PRICING_MODELS)
    if len(known) != len(models or ()):  # a model the registry does not know: the full CASE reports it as before
        known, commitments = tuple(PRICING_MODELS), True
    return _Shape(known, bool(commitments), bool(coupons), bool(line_codes or customer_codes), bool(single_rate))


def _rated_lines_sql(src: str, explain: bool = True, shape: _Shape = _EVERY_SHAPE, ahead: bool = True) -> str:
    num, extra_div = price_case_sql(shape.models)
    tiered = models_in_sql(tiered_models())
    # amount = price × (active_days / period_days) × ((100 − d) / 100); d held at 6 decimals
    disc = f"(100000000 - coalesce({sql_qty_scaled('discount_percent')}, 0))"
    mult = f"(active_days::HUGEINT * {disc})"
    den = f"(period_days::HUGEINT * 100000000 * {extra_div})"
    amount = sql_round_minor("price_n", "mult_n", "per_minor_18", "den_n")
    tiers_json = f"'[' || string_agg({tier_json_sql()}, ',' ORDER BY tier_no) FILTER (WHERE applies) || ']'"
    breakdown = json_object_sql(
        [
            ("pricing_model", "pricing_model", "text"),
            ("metric", "metric", "text"),
            ("aggregation", "aggregation", "text"),
            ("usage_rows", "CASE WHEN kind = 'usage' THEN n_rows END", "integer"),
            ("discount_percent", "discount_percent", "decimal"),
            ("percentage_rate", "percentage_rate", "decimal"),
            ("fixed_fee", "fixed_fee", "decimal"),
            ("package_size", "package_size", "decimal"),
            ("free_units", "free_units", "decimal"),
            ("packages", f"CASE WHEN pricing_model = 'package' THEN {PACKAGES_SQL} END", "integer"),
            ("tiers", "tiers", "json"),
        ]
    )
    if not explain:  # totals only (what-if comparisons): the breakdown is a third of the work
        tiers_json, breakdown = "NULL", "NULL::VARCHAR"
    untiered = "SELECT p.*, NULL::HUGEINT AS tier_pn, NULL::VARCHAR AS tiers FROM priced_lines p"
    # only the lines of tiered models meet their tier sums: a join probed by every line costs as much as the rest
    # priced_lines is read three times, each for other lines (the tiered ones, the others). Numbered (explain), it is
    # MATERIALIZED: its window then runs once, not once per read, and the stages above read a CTE, which every thread
    # scans, not _rating_lines, whose rows at the 100k demo (126,817) are one full row group and a sliver, so one
    # thread (benchmarks/README.md, issue 22, "both cores in the rating": 0.29 -> 0.23 s). Amounts alone (what-if,
    # no window, 1.35M lines in the backtest) stay inlined: there the copy of every line's columns costs more.
    materialized = "MATERIALIZED" if explain else "NOT MATERIALIZED"
    tiers = f"""priced_lines AS {materialized} ({_priced_sql(numbered=explain)}),
    tier_rows AS ({_tier_rows_sql(src, "priced_lines", ahead)}),
    tier_sums AS (
        SELECT contract_id, period_start, line_id, sum(tier_pn) AS tier_pn, {tiers_json} AS tiers
        FROM tier_rows GROUP BY ALL),
    with_tiers AS (
        {untiered} WHERE pricing_model NOT IN {tiered}
        UNION ALL
        SELECT p.*, ts.tier_pn, ts.tiers
        FROM priced_lines p LEFT JOIN tier_sums ts USING (contract_id, period_start, line_id)
        WHERE p.pricing_model IN {tiered}),"""  # noqa: S608 (SQL expressions built by the engine from its own column names and constants)
    if not shape.tiered:
        tiers = f"""priced_lines AS ({_priced_sql(numbered=explain)}),
    with_tiers AS ({untiered}),"""  # noqa: S608 (SQL expressions built by the engine from its own column names and constants)
    # the order lines only: the true-ups are added by their own statement (_true_ups_sql), which reads these
    # (a stage read by the true-ups and by a union is materialized: a copy of every line as costly as the insert)
    return f"""
    CREATE OR REPLACE TEMP TABLE {_amounts_table(shape)} AS
    WITH {tiers}
    scaled AS (
        SELECT *,
               {sql_qty_scaled("q")} AS qn, coalesce(upn_within, {sql_price_scaled("unit_price")}) AS upn,
               {sql_qty_scaled("package_size")} AS pkgn, {sql_qty_scaled("free_units")} AS freen,
               {sql_price_scaled("percentage_rate")} AS ratn, {sql_price_scaled("fixed_fee")} AS feen
        FROM with_tiers),
    priced AS (SELECT *, coalesce({num}, 0) AS price_n, {mult} AS mult_n, {den} AS den_n FROM scaled),
    order_line_amounts AS (
        SELECT contract_id, period_start, line_id, kind, product, description, q AS quantity,
               CASE WHEN pricing_model IN {models_in_sql(unit_price_models())} THEN unit_price END AS unit_price,
               CASE WHEN kind = 'recurring' THEN active_days END AS active_days,
               CASE WHEN kind = 'recurring' THEN period_days END AS period_days,
               {amount} AS amount_minor, win_start AS line_start, win_end AS line_end, {breakdown} AS breakdown,
               line_no, 0::BIGINT AS discount_minor, tax_codes
        FROM priced)
    SELECT * FROM order_line_amounts"""  # noqa: S608 (SQL expressions built by the engine from its own column names and constants; values bound)


def _amounts_table(shape: _Shape) -> str:
    """The table of the line amounts: with coupons, the input of the coupon stages, which make _rated_lines
    (adjustments.py)."""
    return "_line_amounts" if shape.coupons else "_rated_lines"


def _true_ups_sql(src: str, explain: bool, shape: _Shape) -> str:
    """The minimum-commitment true-ups added to the line amounts, which hold the order lines' amounts."""
    table = _amounts_table(shape)
    return f"INSERT INTO {table} BY NAME {_true_up_sql(src, table, explain)}"  # noqa: S608 (engine-built SQL)


def _true_up_sql(src: str, order_lines: str, explain: bool = True) -> str:
    # true-up = max(0, round(m × factor) − Σ rounded order-line amounts); factor = contract days / period
    # staged in a subquery so each input of the rounding is a column (a small expression to plan)
    minimum = sql_round_minor("m_n", "days_n", "per_minor_12", "pd_n")
    members = [
        ("minimum_commitment", "minimum_commitment", "decimal"),
        ("order_lines_total_minor", "lines_minor", "integer"),
        ("committed_minor", "committed_minor", "integer"),
    ]
    breakdown = json_object_sql(members) if explain else "NULL::VARCHAR"
    return f"""
        SELECT contract_id, period_start, NULL AS line_id, 'minimum_commitment_true_up' AS kind,
               NULL AS product, 'Minimum commitment true-up' AS description, NULL::DECIMAL(38,6) AS quantity,
               NULL::DECIMAL(38,12) AS unit_price, days_n::INTEGER AS active_days, period_days,
               greatest(0, committed_minor - lines_minor)::BIGINT AS amount_minor,
               period_start AS line_start, period_end AS line_end,
               {breakdown} AS breakdown, (n_lines + 1)::INTEGER AS line_no, 0::BIGINT AS discount_minor,
               tax_codes
        FROM (SELECT *, {minimum} AS committed_minor
              FROM (SELECT t.contract_id, t.period_start, t.period_end, t.period_days, c.minimum_commitment,
                           cust.tax_codes,
                           cu.per_minor_12, coalesce(s.lines_minor, 0) AS lines_minor,
                           coalesce(s.n_lines, 0) AS n_lines,
                           {sql_price_scaled("c.minimum_commitment")} AS m_n,
                           CASE WHEN c.proration = 'actual' THEN (t.period_end - t.period_start + 1)::HUGEINT
                                ELSE t.period_days::HUGEINT END AS days_n,
                           t.period_days::HUGEINT AS pd_n
                    FROM _targets t
                    JOIN {src}.contracts c USING (contract_id)
                    JOIN {src}.customers cust ON cust.customer_id = c.customer_id
                    JOIN {CURRENCY_UNITS_TABLE} cu ON cu.code = c.currency
                    LEFT JOIN (SELECT contract_id, period_start, sum(amount_minor) AS lines_minor, count(*) AS n_lines
                               FROM {order_lines} GROUP BY ALL) s USING (contract_id, period_start)
                    WHERE (c.minimum_commitment IS NOT NULL) IS TRUE))"""  # noqa: S608 (schema name checked by rating.sources.check_source; values bound)


def rate_targets(
    con: duckdb.DuckDBPyConnection, source: str = "main", *, explain: bool = True, contract_ids: list[str] | None = None
) -> RatedAdjustments:
    """Rate every row of `_targets` into `_rated_lines` and `_rated_invoices` (nothing persisted); returns where
    the invoices' taxes and coupons are (adjustments.RatedAdjustments: what storing and previews read).

    `explain=False` leaves every line's `breakdown` and order lines' `line_no` NULL (same amounts): for
    what-if comparisons, which show amounts only; invoices, previews and bill runs always carry them.
    `contract_ids`, when the caller knows every target's contract (a preview, a draft), narrows the usage scan
    without a query."""
    src = check_source(source)
    currency_units_table(con)  # read as CURRENCY_UNITS_TABLE by the stages below
    # a bulk rating scales prices ahead, once per order line and tier; a few contracts' lines each their own
    ahead = contract_ids is None or len(contract_ids) > FEW_IDS
    lines = con.execute(_lines_sql(src, ahead)).fetchone()[0]  # CREATE … AS returns the rows it stored
    aggregate_usage(con, src, contract_ids)
    shape = _shape(con, src)
    con.execute(_rated_lines_sql(src, explain, shape, ahead))
    if shape.commitments:
        con.execute(_true_ups_sql(src, explain, shape))
    rated = rate_adjustments(con, src, coupons=shape.coupons, tax_codes=shape.tax_codes, single_rate=shape.single_rate)
    if lines > KEEP_STAGES_UP_TO:
        drop_temp_tables(con, INTERMEDIATE_STAGES)
    return rated


# The stages only the rating reads. A bulk rating drops them once its results are made: at 1M contracts they
# hold gigabytes that the storing, the commit and the export then need (and a workbench session would keep
# them until its next rating). A small rating (a preview) keeps them: dropping costs more than they weigh.
INTERMEDIATE_STAGES = ("_rating_lines", "_usage_agg", *ADJUSTMENT_STAGES)
KEEP_STAGES_UP_TO = 10_000  # rated lines


def drop_temp_tables(con: duckdb.DuckDBPyConnection, names: tuple[str, ...]) -> None:
    """Drop the engine's temp tables `names` (its own constant names, never user text)."""
    con.execute("; ".join(f"DROP TABLE IF EXISTS temp.{n}" for n in names))
