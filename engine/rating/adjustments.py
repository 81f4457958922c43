"""Coupons and taxes of rated invoices (spec section 11), set-based over every target at once.

Each line reaches these stages with its amount (rounded once; the true-up computed on these amounts) and its
tax codes (`tax_codes`: its own, 'none' = exempt, else its customer's; a true-up carries the customer's;
NULL = the customer has the single `tax_rate` of spec section 3). With coupons, the statement that makes
`_rated_lines` goes on (`coupon_shares_sql`, one WITH RECURSIVE) from the line amounts with:

    uses              the coupons that cover each invoice, numbered in the order they apply: limited to
                      products first, then the others; each group by applied_on, then coupon_id
    shares            per coupon position and order line: e = what the line had left, its share
    _rated_lines      the lines with their discount (Σ of their shares) and `coupon_shares`

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

`_rated_invoices` then holds, per invoice, subtotal, discount = Σ coupons, its `taxes` — per tax code,
base = Σ (amount − discount) of the lines carrying the code, amount = round(base × rate / 100), once; the
lines with NULL codes taxed together at the customer's tax_rate (tax_code NULL, name 'Tax'; none at rate
0) — tax = Σ taxes, total = subtotal − discount + tax, and its `coupons` in order (base = E, amount).
Without coupons and tax codes, that is round(subtotal × tax_rate / 100), exactly as before taxes.csv.
"""

from __future__ import annotations

from ..currencies import CURRENCY_UNITS_TABLE
from ..money import sql_round_minor, sql_tax_minor
from .cycles import PERIOD_MONTHS_SQL, month_index_sql

NO_TAX = "none"
LEGACY_TAX_NAME = "Tax"
TAX_STRUCT = "STRUCT(tax_code VARCHAR, name VARCHAR, rate DECIMAL(38,12), base_minor BIGINT, amount_minor BIGINT)"
COUPON_STRUCT = (
    "STRUCT(position INTEGER, coupon_id VARCHAR, applied_on DATE, name VARCHAR, kind VARCHAR, "
    "percent DECIMAL(38,6), face_minor BIGINT, base_minor BIGINT, amount_minor BIGINT)"
)
NO_COUPONS = f"[]::{COUPON_STRUCT}[]"
_TAX_FIELDS = (
    "{'tax_code': tax_code, 'name': name, 'rate': rate, 'base_minor': base_minor, 'amount_minor': amount_minor}"
)
_COUPON_FIELDS = (
    "{'position': position, 'coupon_id': coupon_id, 'applied_on': applied_on, 'name': name, 'kind': kind, "
    "'percent': percent, 'face_minor': face_minor, 'base_minor': base_minor, 'amount_minor': amount_minor}"
)


def legacy_taxes_sql(rate: str, base: str, amount: str) -> str:
    """SQL: the `taxes` list of an invoice whose lines all carry the customer's single tax_rate `rate`
    (one tax, none at rate 0), from its base (the subtotal) and amount. Engine-built SQL only."""
    row = (
        f"{{'tax_code': NULL::VARCHAR, 'name': '{LEGACY_TAX_NAME}', 'rate': {rate}, "
        f"'base_minor': {base}, 'amount_minor': {amount}}}"
    )
    return f"(CASE WHEN {rate} <> 0 THEN [{row}::{TAX_STRUCT}] ELSE []::{TAX_STRUCT}[] END)"


def tax_rows_sql(nets: str, rates: str, taxes: str, key: str) -> str:
    """SELECT of one row per (invoice, tax): the invoice's `key` columns, tax_code, name, rate, base_minor,
    amount_minor. `nets` has the key, tax_codes and net = Σ (amount − discount) of the invoice's lines with
    those codes; `rates` the key and the invoice's single tax_rate; `taxes` is the tax table. The key is
    'contract_id, period_start' (rating) or 'invoice_id' (stored invoices). Engine-built SQL only."""
    return f"""
    WITH coded AS (
        -- grouped by their code lists first: an invoice has a few, so few rows to unnest
        SELECT * EXCLUDE (tax_codes, net), unnest(string_split(tax_codes, ';')) AS tax_code, net
        FROM {nets} WHERE tax_codes IS NOT NULL AND tax_codes <> '{NO_TAX}'),
    bases AS (SELECT * EXCLUDE (net), sum(net)::BIGINT AS base_minor FROM coded GROUP BY ALL),
    rows AS (
        SELECT b.*, t.name, t.rate::DECIMAL(38,12) AS rate FROM bases b JOIN {taxes} t USING (tax_code)
        UNION ALL BY NAME
        SELECT n.* EXCLUDE (tax_codes, net), NULL::VARCHAR AS tax_code, '{LEGACY_TAX_NAME}' AS name,
               h.tax_rate AS rate, n.net::BIGINT AS base_minor
        FROM {nets} n JOIN {rates} h USING ({key})
        WHERE n.tax_codes IS NULL AND h.tax_rate <> 0)
    SELECT *, {sql_tax_minor("base_minor", "(rate * 1000000000000)::HUGEINT")} AS amount_minor FROM rows"""  # noqa: S608 (SQL built by the engine from its own names and constants)


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


def coupon_shares_sql(src: str, lines: str) -> str:
    """The tail of `_rated_lines`' statement (a WITH RECURSIVE) when a target has a coupon: from `lines`, the
    CTE of the line amounts (the true-up included), each order line with its discount and its shares of its
    invoice's coupons (`coupon_shares`: position, coupon, e, share), a recursive step per coupon position over
    every invoice at once (module doc)."""
    percent = sql_round_minor("base", "(percent * 1000000)::HUGEINT", "100000000", "1", bounded=True)
    meta = "coupon_id, applied_on, name, kind, percent, face_minor"
    return f"""
    uses AS MATERIALIZED ({_coupon_uses_sql(src)}),
    shares(contract_id, period_start, line_id, product, amount_minor, position, taken, e, share, {meta}) AS (
        -- every order line of an invoice with a coupon, before its first coupon: nothing taken
        SELECT l.contract_id, l.period_start, l.line_id, l.product, l.amount_minor, 0, 0::BIGINT, 0::BIGINT,
               0::BIGINT, NULL::VARCHAR, NULL::DATE, NULL::VARCHAR, NULL::VARCHAR, NULL::DECIMAL(38,6), NULL::BIGINT
        FROM {lines} l
        WHERE l.line_id IS NOT NULL
          AND EXISTS (SELECT 1 FROM uses u WHERE u.contract_id = l.contract_id AND u.period_start = l.period_start)
        UNION ALL
        -- coupon number position + 1 on what the earlier ones left; e = 0 off its products
        SELECT contract_id, period_start, line_id, product, amount_minor, position, taken, e::BIGINT,
               (whole + CASE WHEN rank <= leftover THEN 1 ELSE 0 END)::BIGINT, {meta}
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
                                   u.coupon_id, u.applied_on, u.name, u.kind, u.percent, u.face_minor
                            FROM shares s
                            JOIN uses u ON u.contract_id = s.contract_id AND u.period_start = s.period_start
                                       AND u.position = s.position + 1)
                        WINDOW invoice AS (PARTITION BY contract_id, period_start))))
            WINDOW invoice AS (PARTITION BY contract_id, period_start)))
    SELECT l.* REPLACE (coalesce(d.discount, 0)::BIGINT AS discount_minor), d.coupon_shares
    FROM {lines} l
    LEFT JOIN (SELECT contract_id, period_start, line_id, sum(share) AS discount,
                      list({{'position': position, 'coupon_id': coupon_id, 'applied_on': applied_on, 'name': name,
                             'kind': kind, 'percent': percent, 'face_minor': face_minor, 'e': e,
                             'share': share}}) AS coupon_shares
               FROM shares WHERE position > 0 GROUP BY ALL) d USING (contract_id, period_start, line_id)"""  # noqa: S608 (schema name checked by rating.sources.check_source)


def rated_invoices_sql(src: str, *, coupons: bool, tax_codes: bool) -> str:
    """`_rated_invoices` from `_rated_lines` (and the coupon stages when `coupons`): one row per target with a
    line, its subtotal, discount, tax, total and its `taxes` and `coupons` lists (see the module doc)."""
    heads = f"""
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
    if not (coupons or tax_codes):  # one tax at the customer's rate on the whole subtotal, no coupon
        tax = sql_tax_minor("subtotal_minor", "(tax_rate * 1000000000000)::HUGEINT")
        return f"""
    CREATE OR REPLACE TEMP TABLE _rated_invoices AS
    WITH {heads},
    taxed AS (SELECT *, {tax} AS tax_minor FROM heads)
    SELECT *, subtotal_minor + tax_minor AS total_minor,
           {legacy_taxes_sql("tax_rate", "subtotal_minor", "tax_minor")} AS taxes, {NO_COUPONS} AS coupons
    FROM taxed"""  # noqa: S608 (SQL built by the engine from its own names and constants)
    nets = """(SELECT contract_id, period_start, tax_codes, sum(amount_minor - discount_minor) AS net
              FROM _rated_lines GROUP BY ALL)"""
    rows = tax_rows_sql(nets, "heads", f"{src}.taxes", "contract_id, period_start")
    coupon_lists = f"""
    coupon_lists AS (
        SELECT contract_id, period_start, list({_COUPON_FIELDS} ORDER BY position) AS coupons
        FROM (SELECT contract_id, period_start, c.position, c.coupon_id, c.applied_on, c.name, c.kind, c.percent,
                     c.face_minor, sum(c.e)::BIGINT AS base_minor, sum(c.share)::BIGINT AS amount_minor
              FROM (SELECT contract_id, period_start, unnest(coupon_shares) AS c FROM _rated_lines
                    WHERE coupon_shares IS NOT NULL)
              GROUP BY ALL)
        GROUP BY ALL)"""  # noqa: S608 (SQL built by the engine from its own names and constants)
    with_coupons = "LEFT JOIN coupon_lists k USING (contract_id, period_start)" if coupons else ""
    coupon_list = f"coalesce(k.coupons, {NO_COUPONS})" if coupons else NO_COUPONS
    return f"""
    CREATE OR REPLACE TEMP TABLE _rated_invoices AS
    WITH {heads},
    taxes AS ({rows}),
    tax_lists AS (SELECT contract_id, period_start, sum(amount_minor)::BIGINT AS tax_minor,
                         list({_TAX_FIELDS} ORDER BY tax_code NULLS FIRST) AS taxes
                  FROM taxes GROUP BY ALL){"," + coupon_lists if coupons else ""}
    SELECT h.*, coalesce(x.tax_minor, 0)::BIGINT AS tax_minor,
           (h.subtotal_minor - h.discount_minor + coalesce(x.tax_minor, 0))::BIGINT AS total_minor,
           coalesce(x.taxes, []::{TAX_STRUCT}[]) AS taxes, {coupon_list} AS coupons
    FROM heads h
    LEFT JOIN tax_lists x USING (contract_id, period_start)
    {with_coupons}"""  # noqa: S608 (SQL built by the engine from its own names and constants)
