"""Coupons and taxes of rated invoices (spec section 11), set-based over every target at once.

Each line reaches these stages with its amount (rounded once; the true-up computed on these amounts) and its
tax codes (`tax_codes`: its own, 'none' = exempt, else its customer's; a true-up carries the customer's;
NULL = the customer has the single `tax_rate` of spec section 3). With coupons, the line amounts are
`_line_amounts`, and then:

    _coupon_shares    per coupon position and order line: e = what the line had left, its share (one WITH
                      RECURSIVE: `uses`, the coupons that cover each invoice, numbered in the order they
                      apply: limited to products first, then the others; each group by applied_on, coupon_id)
    _rated_lines      the lines with their discount (Σ of their shares)

Which cycles a coupon covers: counting the contract's cycles whose start_date ≥ applied_on,

    n = number of the contract's cycles starting in [applied_on, the invoice's period_start]
    once: n = 1     recurring: n ≤ periods     forever: any n ≥ 1

and a fixed coupon covers only invoices in its currency. Coupon r of an invoice (one statement per r, every
invoice at once) works on what coupons 1 .. r−1 left:

    e_i     = max(0, amount_i − Σ earlier shares_i)      eligible: order lines (of its products, if limited);
                                                         never a true-up, delayed-charge or custom line
    E       = Σ e_i
    amount  = min(fixed amount, E) | round(E × percent / 100)      (half away from zero)
    share_i = ⌊amount × e_i / E⌋, plus 1 for the (amount − Σ⌊…⌋) lines of largest remainder
              (amount × e_i mod E; ties to the smaller line_id)

so shares are whole minor units, sum exactly to the amount, and none exceeds e_i (amount ≤ E). A line whose
amount is negative (a credit) has e = 0: it takes no share and does not lower what others can take.

Then `_rated_taxes`: per invoice and tax code, base = Σ (amount − discount) of the lines carrying the code,
amount = round(base × rate / 100), once; the lines with NULL codes taxed together at the customer's tax_rate
(tax_code NULL, name 'Tax'; none at rate 0). `_rated_invoices`: subtotal, discount = Σ coupons, tax = Σ
taxes, total = subtotal − discount + tax. Each invoice's coupons (base = E, amount) are read from
`_coupon_shares` (`RatedAdjustments`). Without coupons and tax codes none of these stages is written: the tax
is round(subtotal × tax_rate / 100), exactly as before taxes.csv.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from ..currencies import CURRENCY_UNITS_TABLE
from ..money import sql_price_scaled, sql_round_minor, sql_tax_minor
from .cycles import PERIOD_MONTHS_SQL, month_index_sql

NO_TAX = "none"
# the stages only the rating reads (dropped with its other intermediate stages after a bulk rating)
STAGES = ("_line_amounts",)
# what the RatedAdjustments of a rating read, with _rated_lines and _rated_invoices (dropped once stored)
RESULTS = ("_rated_taxes", "_coupon_shares")
LEGACY_TAX_NAME = "Tax"
COUPON_COLUMNS = "position, coupon_id, applied_on, name, kind, percent, face_minor, base_minor, amount_minor"
TAX_COLUMNS = "tax_code, name, rate, base_minor, amount_minor"


@dataclass(frozen=True)
class RatedAdjustments:
    """Where a rating left its invoices' taxes and coupons: two SELECTs (engine-built SQL over its temp tables)
    of contract_id, period_start and TAX_COLUMNS / COUPON_COLUMNS. Without coupons or tax codes no stage is
    written for them: the taxes are read from `_rated_invoices` (its single tax_rate) and there is no coupon."""

    taxes_sql: str
    coupons_sql: str


# the one tax of an invoice whose lines all carry the customer's single tax_rate (none at rate 0)
_LEGACY_TAXES = f"""SELECT contract_id, period_start, NULL::VARCHAR AS tax_code, '{LEGACY_TAX_NAME}' AS name,
           tax_rate::DECIMAL(38,12) AS rate, subtotal_minor AS base_minor, tax_minor AS amount_minor
    FROM _rated_invoices WHERE tax_rate <> 0"""  # noqa: S608 (engine constants)
_NO_COUPONS = """SELECT NULL::VARCHAR AS contract_id, NULL::DATE AS period_start, NULL::INTEGER AS position,
           NULL::VARCHAR AS coupon_id, NULL::DATE AS applied_on, NULL::VARCHAR AS name, NULL::VARCHAR AS kind,
           NULL::DECIMAL(38,6) AS percent, NULL::BIGINT AS face_minor, NULL::BIGINT AS base_minor,
           NULL::BIGINT AS amount_minor
    WHERE false"""
# per invoice and coupon: base = Σ e of its lines, amount = Σ shares
_COUPONS = """SELECT contract_id, period_start, position, any_value(coupon_id) AS coupon_id,
           any_value(applied_on) AS applied_on, any_value(name) AS name, any_value(kind) AS kind,
           any_value(percent) AS percent, any_value(face_minor) AS face_minor,
           sum(e)::BIGINT AS base_minor, sum(share)::BIGINT AS amount_minor
    FROM _coupon_shares GROUP BY contract_id, period_start, position"""


def tax_rows_sql(nets: str, rates: str | None, taxes: str, key: str) -> str:
    """SELECT of one row per (invoice, tax): the invoice's `key` columns, tax_code, name, rate, base_minor,
    amount_minor. `nets` has the key, tax_codes and net = Σ (amount − discount) of the invoice's lines with
    those codes; `rates` the key and the invoice's single tax_rate (None: no invoice has lines at a single
    rate, whose branch is then not written); `taxes` is the tax table. The key is 'contract_id,
    period_start' (rating) or 'invoice_id' (stored invoices). Engine-built SQL only."""
    single = f"""
        UNION ALL BY NAME
        SELECT n.* EXCLUDE (tax_codes, net), NULL::VARCHAR AS tax_code, '{LEGACY_TAX_NAME}' AS name,
               h.tax_rate AS rate, n.net::BIGINT AS base_minor
        FROM {nets} n JOIN {rates} h USING ({key})
        WHERE n.tax_codes IS NULL AND h.tax_rate <> 0"""  # noqa: S608 (SQL built by the engine from its own names and constants)
    return f"""
    WITH coded AS (
        -- grouped by their code lists first: an invoice has a few, so few rows to unnest
        SELECT * EXCLUDE (tax_codes, net), unnest(string_split(tax_codes, ';')) AS tax_code, net
        FROM {nets} WHERE tax_codes IS NOT NULL AND tax_codes <> '{NO_TAX}'),
    bases AS (SELECT * EXCLUDE (net), sum(net)::BIGINT AS base_minor FROM coded GROUP BY ALL),
    rows AS (
        SELECT b.*, t.name, t.rate::DECIMAL(38,12) AS rate FROM bases b JOIN {taxes} t USING (tax_code)
        {single if rates is not None else ""})
    SELECT *, {sql_tax_minor("base_minor", sql_price_scaled("rate"))} AS amount_minor FROM rows"""  # noqa: S608 (SQL built by the engine from its own names and constants)


def _coupon_uses_sql(src: str) -> str:
    """SELECT of the coupons covering each target, numbered in the order they apply (`position`)."""
    # n = the cycles starting in [since, period_start], since = max(applied_on, contract start), from month
    # offsets only (DuckDB plans every statement afresh: date arithmetic is most of a small statement's time).
    # Boundary k lies in month m0 + k·L on day min(anchor, month end) (cycles.py): the target's own k is its
    # full_start's month offset ÷ L; k0 = M ÷ L with M = since's month offset. Boundary k0 is before `since`
    # when it lies in an earlier month (M mod L ≠ 0) or on an earlier day of since's month.
    months = PERIOD_MONTHS_SQL.format(c="c")
    return f"""
    WITH applied AS (
        SELECT t.contract_id, t.period_start, c.currency, a.coupon_id, a.applied_on,
               greatest(a.applied_on, c.start_date) AS since, c.start_date, c.billing_cycle_start_day AS anchor,
               {months} AS step, {month_index_sql("c.start_date")} AS m0,
               {month_index_sql("t.full_start")} AS m_now,
               {month_index_sql("greatest(a.applied_on, c.start_date)")} AS m_since
        FROM _targets t
        JOIN {src}.applied_coupons a ON a.contract_id = t.contract_id AND a.applied_on <= t.period_start
        JOIN {src}.contracts c ON c.contract_id = t.contract_id),
    counted AS (
        SELECT *, (m_now - m0) // step - (m_since - m0) // step + 1
                  + CASE WHEN since = start_date
                         THEN (CASE WHEN least(anchor, day(last_day(since))) > day(since) THEN 1 ELSE 0 END)
                         WHEN (m_since - m0) % step <> 0 OR least(anchor, day(last_day(since))) < day(since)
                         THEN -1 ELSE 0 END AS n
        FROM applied)
    SELECT x.contract_id, x.period_start, x.coupon_id, x.applied_on, cp.name, cp.kind, cp.percent, cp.products,
           -- exact, no rounding: a fixed coupon's amount has at most its currency's decimals (import rule)
           CASE WHEN cp.kind = 'fixed' THEN (cp.amount * u.scale)::BIGINT END AS face_minor,
           row_number() OVER (PARTITION BY x.contract_id, x.period_start
                              ORDER BY cp.products IS NULL, x.applied_on, x.coupon_id)::INTEGER AS position
    FROM counted x
    JOIN {src}.coupons cp ON cp.coupon_id = x.coupon_id
    JOIN {CURRENCY_UNITS_TABLE} u ON u.code = x.currency
    WHERE (cp.kind <> 'fixed' OR cp.currency = x.currency)
      AND (cp.frequency = 'forever' OR x.n <= CASE cp.frequency WHEN 'once' THEN 1 ELSE cp.periods END)"""  # noqa: S608 (schema name checked by rating.sources.check_source)


def coupon_shares_sql(src: str) -> str:
    """`_coupon_shares`: per coupon position and order line of an invoice with a coupon, what the line had
    left (e) and its share, with the coupon's own columns; a recursive step per position over every invoice
    at once (module doc). Read by `_rated_lines` (Σ shares per line) and `_rated_invoices` (per coupon)."""
    percent = sql_round_minor("base", "(percent * 1000000)::HUGEINT", "100000000", "1", bounded=True)
    return f"""
    CREATE OR REPLACE TEMP TABLE _coupon_shares AS
    WITH RECURSIVE uses AS MATERIALIZED ({_coupon_uses_sql(src)}),
    shares(contract_id, period_start, line_id, product, amount_minor, position, taken, e, share) AS (
        -- every order line of an invoice with a coupon, before its first coupon: nothing taken
        SELECT l.contract_id, l.period_start, l.line_id, l.product, l.amount_minor, 0, 0::BIGINT, 0::BIGINT,
               0::BIGINT
        FROM _line_amounts l
        WHERE l.line_id IS NOT NULL
          AND EXISTS (SELECT 1 FROM uses u WHERE u.contract_id = l.contract_id AND u.period_start = l.period_start)
        UNION ALL
        -- coupon number position + 1 on what the earlier ones left; e = 0 off its products
        SELECT contract_id, period_start, line_id, product, amount_minor, position, taken, e::BIGINT,
               (whole + CASE WHEN rank <= leftover THEN 1 ELSE 0 END)::BIGINT
        FROM (
            SELECT *, coupon - sum(whole) OVER invoice AS leftover,
                   row_number() OVER (PARTITION BY contract_id, period_start ORDER BY rest DESC, line_id) AS rank
            FROM (
                SELECT *, CASE WHEN base > 0 THEN coupon * e // base ELSE 0 END AS whole,
                          CASE WHEN base > 0 THEN coupon * e % base ELSE 0 END AS rest
                FROM (
                    SELECT *, CASE WHEN kind = 'fixed' THEN least(face_minor, base) ELSE {percent} END AS coupon
                    FROM (
                        SELECT *, sum(e) OVER invoice AS base
                        FROM (
                            SELECT s.contract_id, s.period_start, s.line_id, s.product, s.amount_minor, u.position,
                                   s.taken + s.share AS taken,
                                   CASE WHEN u.products IS NULL
                                             OR list_contains(string_split(u.products, ';'), s.product)
                                        THEN greatest(0, s.amount_minor - s.taken - s.share) ELSE 0 END::HUGEINT AS e,
                                   u.kind, u.percent, u.face_minor
                            FROM shares s
                            JOIN uses u ON u.contract_id = s.contract_id AND u.period_start = s.period_start
                                       AND u.position = s.position + 1)
                        WINDOW invoice AS (PARTITION BY contract_id, period_start))))
            WINDOW invoice AS (PARTITION BY contract_id, period_start)))
    -- the coupon's own columns once per row here, not carried through every step
    SELECT s.contract_id, s.period_start, s.line_id, s.position, s.e, s.share,
           u.coupon_id, u.applied_on, u.name, u.kind, u.percent, u.face_minor
    FROM shares s JOIN uses u USING (contract_id, period_start, position)
    WHERE s.position > 0"""  # noqa: S608 (schema name checked by rating.sources.check_source)


DISCOUNTED_LINES_SQL = """
    CREATE OR REPLACE TEMP TABLE _rated_lines AS
    SELECT l.* REPLACE (coalesce(d.discount, 0)::BIGINT AS discount_minor)
    FROM _line_amounts l
    LEFT JOIN (SELECT contract_id, period_start, line_id, sum(share) AS discount FROM _coupon_shares
               GROUP BY ALL) d USING (contract_id, period_start, line_id)"""


def _heads_sql(src: str) -> str:
    return f"""
    sums AS (SELECT contract_id, period_start, sum(amount_minor)::BIGINT AS subtotal_minor,
                    sum(discount_minor)::BIGINT AS discount_minor
             FROM _rated_lines GROUP BY ALL),
    heads AS (
        SELECT t.contract_id, t.period_start, t.period_end, t.bill_for_date, t.due_date, t.period_days,
               cu.business_id, c.customer_id, c.currency, cu.tax_rate, s.subtotal_minor, s.discount_minor
        FROM _targets t
        JOIN sums s USING (contract_id, period_start)
        JOIN {src}.contracts c USING (contract_id)
        JOIN {src}.customers cu ON cu.customer_id = c.customer_id)"""  # noqa: S608 (schema name checked by rating.sources.check_source)


def _single_rate_invoices_sql(src: str) -> str:
    """Invoices without coupons or tax codes: tax = round(subtotal × the customer's tax_rate / 100)."""
    tax = sql_tax_minor("subtotal_minor", sql_price_scaled("tax_rate"))
    return f"""
    CREATE OR REPLACE TEMP TABLE _rated_invoices AS
    WITH {_heads_sql(src)},
    taxed AS (SELECT *, {tax} AS tax_minor FROM heads)
    SELECT *, subtotal_minor + tax_minor AS total_minor FROM taxed"""  # noqa: S608 (SQL built by the engine from its own names and constants)


def _rated_taxes_sql(src: str, single_rate: bool) -> str:
    nets = """(SELECT contract_id, period_start, tax_codes, sum(amount_minor - discount_minor) AS net
              FROM _rated_lines GROUP BY ALL)"""
    if not single_rate:  # every target's customer has tax codes (or no tax): the codes alone
        rows = tax_rows_sql("nets", None, f"{src}.taxes", "contract_id, period_start")
        return f"CREATE OR REPLACE TEMP TABLE _rated_taxes AS WITH nets AS {nets} SELECT * FROM ({rows})"  # noqa: S608 (SQL built by the engine from its own names and constants)
    rates = f"""(SELECT t.contract_id, t.period_start, cu.tax_rate FROM _targets t
               JOIN {src}.contracts c USING (contract_id) JOIN {src}.customers cu ON cu.customer_id = c.customer_id)"""  # noqa: S608 (schema name checked by rating.sources.check_source)
    rows = tax_rows_sql("nets", "rates", f"{src}.taxes", "contract_id, period_start")
    # the CTEs first: each is read twice (coded codes and the single rate), so computed once
    return f"""
    CREATE OR REPLACE TEMP TABLE _rated_taxes AS
    WITH nets AS MATERIALIZED {nets}, rates AS MATERIALIZED {rates}
    SELECT * FROM ({rows})"""  # noqa: S608 (SQL built by the engine from its own names and constants)


def _adjusted_invoices_sql(src: str) -> str:
    return f"""
    CREATE OR REPLACE TEMP TABLE _rated_invoices AS
    WITH {_heads_sql(src)}
    SELECT h.*, coalesce(x.tax_minor, 0)::BIGINT AS tax_minor,
           (h.subtotal_minor - h.discount_minor + coalesce(x.tax_minor, 0))::BIGINT AS total_minor
    FROM heads h
    LEFT JOIN (SELECT contract_id, period_start, sum(amount_minor) AS tax_minor FROM _rated_taxes GROUP BY ALL) x
      USING (contract_id, period_start)"""  # noqa: S608 (SQL built by the engine from its own names and constants)


def rate_adjustments(
    con: duckdb.DuckDBPyConnection, src: str, *, coupons: bool, tax_codes: bool, single_rate: bool = True
) -> RatedAdjustments:
    """From the line amounts (`_line_amounts` when `coupons`, else `_rated_lines`) to `_rated_lines` with their
    discounts and `_rated_invoices` (subtotal, discount, tax, total); returns where the invoices' taxes and
    coupons are. Only the stages the data needs are written (module doc); `single_rate`: whether a target's
    customer has the single tax_rate (not 0) rather than codes."""
    if coupons:
        con.execute(coupon_shares_sql(src))
        con.execute(DISCOUNTED_LINES_SQL)
    if not (coupons or tax_codes):
        con.execute(_single_rate_invoices_sql(src))
        return RatedAdjustments(_LEGACY_TAXES, _NO_COUPONS)
    con.execute(_rated_taxes_sql(src, single_rate))
    con.execute(_adjusted_invoices_sql(src))
    taxes = f"SELECT contract_id, period_start, {TAX_COLUMNS} FROM _rated_taxes"  # noqa: S608 (engine constants)
    return RatedAdjustments(taxes, _COUPONS if coupons else _NO_COUPONS)
