"""Comparing a baseline rating with a scenario rating, line by line, and summing the comparison.

    _scenario_baseline   the baseline's rated rows (rated_rows_sql), kept before the scenario is rated
    _scenario_comparison one row per invoice line of either side (FULL OUTER JOIN); a line missing
                         on one side counts as 0. Order lines match on (contract, period, line_id);
                         true-up lines have no line_id and match on (contract, period, kind).

An invoice's coupons (spec section 11) are rows too: kind 'coupon', line_id the coupon_id, product its name,
amount MINUS what it took on that invoice (a coupon applied twice to a contract is one row). Rows are amounts
before tax: their sum is subtotal − discount. Taxes are compared apart, per invoice (`_scenario_tax_comparison`,
kind 'tax'), and summed per currency into the summary's `tax_totals` (baseline, scenario, delta).

Amounts stay integer minor units until they are shown: `to_major` gives the currency's decimals.
Totals are sums of the rows, so a summary always equals the sum of its comparison.csv.
The aggregations (month, product, customer, waterfall) work on the comparison frame and return
Decimal major units; nothing here is a float.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from pathlib import Path

import duckdb
import pandas as pd

from ..currencies import currency_units_table
from ..db import arrow_table
from ..io.csv_guard import guard_formula_sql
from ..money import sql_major_text, to_major
from ..rating.adjustments import RatedAdjustments
from ..rating.pipeline import KIND_ORDER

BASELINE = "_scenario_baseline"
AFFECTED = "_scenario_affected"  # contracts re-rated under the scenario (see mark_affected_contracts)
COMPARISON = "_scenario_comparison"
# rows in invoice order: contract, cycle, then the invoice's own line order
ROW_ORDER = f"contract_id, period_start, {KIND_ORDER}, line_id"
TRUE_UP = "minimum_commitment_true_up"
TRUE_UP_LABEL = "Minimum commitment true-up"
COUPON_LABEL = "Coupon: "  # before a coupon's name, in the rows by product


BASELINE_TAX = "_scenario_baseline_tax"
ALL_TARGETS = "_scenario_targets"  # every target cycle of the simulation (the scenario rates a subset)


def rated_rows_sql(rated: RatedAdjustments) -> str:
    """SELECT of a rating's rows as the comparison reads them: its lines, and its coupons (`rated`: what
    rate_targets returned) as negative rows, one per coupon of an invoice."""
    return f"""
    SELECT contract_id, period_start, line_id, kind, product, amount_minor FROM _rated_lines
    UNION ALL
    SELECT contract_id, period_start, coupon_id AS line_id, 'coupon' AS kind, any_value(name) AS product,
           (-sum(amount_minor))::BIGINT AS amount_minor
    FROM ({rated.coupons_sql}) GROUP BY contract_id, period_start, coupon_id"""  # noqa: S608 (SQL built by the engine from its own names)


def keep_baseline(con: duckdb.DuckDBPyConnection, rated: RatedAdjustments) -> None:
    """Keep the baseline's rated rows (and its invoices' tax) before the scenario's rating replaces them."""
    con.execute(f"CREATE OR REPLACE TEMP TABLE {BASELINE} AS {rated_rows_sql(rated)}")  # noqa: S608 (SQL expressions built by the engine from its own column names and constants; values bound)
    con.execute(f"""CREATE OR REPLACE TEMP TABLE {BASELINE_TAX} AS
                    SELECT contract_id, period_start, tax_minor FROM _rated_invoices""")  # noqa: S608 (engine constants)


def build_comparison(con: duckdb.DuckDBPyConnection, stored: str, rated: RatedAdjustments) -> int:
    """`_scenario_comparison` from `_scenario_baseline` and the scenario's `_rated_lines`.

    `_rated_lines` holds only the re-rated (affected) contracts: their lines are matched with their
    baseline lines; every other contract bills the same in both, its baseline lines are its rows.
    Customer and currency come from the STORED contract (a churned contract is absent from the
    overlay, its rows still name their customer). Returns the number of rows."""
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE {COMPARISON} AS
            WITH b AS (SELECT *, coalesce(line_id, '') AS k FROM {BASELINE}
                       WHERE contract_id IN (SELECT contract_id FROM {AFFECTED})),
            s AS (SELECT *, coalesce(line_id, '') AS k FROM ({rated_rows_sql(rated)})),
            matched AS (
                SELECT coalesce(b.contract_id, s.contract_id) AS contract_id,
                       coalesce(b.period_start, s.period_start) AS period_start,
                       coalesce(b.line_id, s.line_id) AS line_id, coalesce(b.kind, s.kind) AS kind,
                       coalesce(b.product, s.product) AS product,
                       coalesce(b.amount_minor, 0)::BIGINT AS baseline_minor,
                       coalesce(s.amount_minor, 0)::BIGINT AS scenario_minor
                FROM b FULL OUTER JOIN s
                  ON b.contract_id = s.contract_id AND b.period_start = s.period_start
                 AND b.k = s.k AND b.kind = s.kind),
            j AS (
                SELECT * FROM matched
                UNION ALL
                SELECT contract_id, period_start, line_id, kind, product, amount_minor, amount_minor
                FROM {BASELINE} WHERE contract_id NOT IN (SELECT contract_id FROM {AFFECTED}))
            SELECT j.contract_id, c.customer_id, j.product, j.line_id, j.kind, c.currency, j.period_start,
                   j.baseline_minor, j.scenario_minor,
                   (j.scenario_minor - j.baseline_minor)::BIGINT AS delta_minor
            FROM j JOIN {stored}.contracts c USING (contract_id)"""  # noqa: S608 (overlay schema names made by the engine, never user text; values bound)
    )
    return con.execute(f"SELECT count(*) FROM {COMPARISON}").fetchone()[0]  # noqa: S608 (overlay schema names made by the engine, never user text; values bound)


TAX_COMPARISON = "_scenario_tax_comparison"
TAX_KIND = "tax"


def build_tax_comparison(con: duckdb.DuckDBPyConnection, stored: str) -> None:
    """`_scenario_tax_comparison`: per invoice (contract, cycle) of either side, its tax in the baseline and in
    the scenario (the re-rated contracts' invoices, the baseline's for every other contract), in the columns
    of the comparison with kind 'tax' (no product, no line)."""
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE {TAX_COMPARISON} AS
            WITH b AS (SELECT contract_id, period_start, tax_minor FROM {BASELINE_TAX}
                       WHERE contract_id IN (SELECT contract_id FROM {AFFECTED})),
            s AS (SELECT contract_id, period_start, tax_minor FROM _rated_invoices),
            j AS (SELECT coalesce(b.contract_id, s.contract_id) AS contract_id,
                         coalesce(b.period_start, s.period_start) AS period_start,
                         coalesce(b.tax_minor, 0)::BIGINT AS baseline_minor,
                         coalesce(s.tax_minor, 0)::BIGINT AS scenario_minor
                  FROM b FULL OUTER JOIN s USING (contract_id, period_start)
                  UNION ALL
                  SELECT contract_id, period_start, tax_minor, tax_minor FROM {BASELINE_TAX}
                  WHERE contract_id NOT IN (SELECT contract_id FROM {AFFECTED}))
            SELECT j.contract_id, c.customer_id, NULL::VARCHAR AS product, NULL::VARCHAR AS line_id,
                   '{TAX_KIND}' AS kind, c.currency, j.period_start, j.baseline_minor, j.scenario_minor,
                   (j.scenario_minor - j.baseline_minor)::BIGINT AS delta_minor
            FROM j JOIN {stored}.contracts c USING (contract_id)"""  # noqa: S608 (overlay schema names made by the engine, never user text; values bound)
    )


def tax_totals(con: duckdb.DuckDBPyConnection, rows: str = TAX_COMPARISON) -> list[dict]:
    """Per currency: the invoices' tax in the baseline and the scenario, and the delta (major units as
    strings), from tax comparison rows (`rows`: an engine table name)."""
    found = con.execute(
        f"""SELECT currency, sum(baseline_minor)::HUGEINT, sum(scenario_minor)::HUGEINT
            FROM {rows} WHERE kind = '{TAX_KIND}' GROUP BY currency ORDER BY currency"""  # noqa: S608 (engine constants)
    ).fetchall()
    return [
        {
            "currency": cur,
            "baseline": str(to_major(int(b), cur)),
            "scenario": str(to_major(int(s), cur)),
            "delta": str(to_major(int(s) - int(b), cur)),
        }
        for cur, b, s in found
    ]


def comparison_totals(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """Per currency: baseline, scenario and delta (sums of the rows, major units as strings), rows."""
    rows = con.execute(
        f"""SELECT currency, sum(baseline_minor)::HUGEINT, sum(scenario_minor)::HUGEINT,
                   sum(delta_minor)::HUGEINT, count(*)
            FROM {COMPARISON} GROUP BY currency ORDER BY currency"""  # noqa: S608 (overlay schema names made by the engine, never user text; values bound)
    ).fetchall()
    return [
        {
            "currency": cur,
            "baseline": str(to_major(int(b), cur)),
            "scenario": str(to_major(int(s), cur)),
            "delta": str(to_major(int(d), cur)),
            "rows": n,
        }
        for cur, b, s, d, n in rows
    ]


def _major(col: str) -> str:
    # 10^exp = 10^12 / per_minor_12 (= 10^(12 − exp)), exact in HUGEINT
    return sql_major_text(col, "cu.exp")


def write_comparison_csv(con: duckdb.DuckDBPyConnection, out_dir: Path) -> Path:
    """out_dir/comparison.csv with the spec's header; amounts in major units, numbers unquoted."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "comparison.csv"
    select = ", ".join(
        [
            *(f"{guard_formula_sql(c)} AS {c}" for c in ("contract_id", "customer_id", "product", "line_id")),
            "kind",
            "currency",
            "period_start",
            f"{_major('baseline_minor')} AS baseline_amount",
            f"{_major('scenario_minor')} AS scenario_amount",
            f"{_major('delta_minor')} AS delta",
        ]
    )
    units = currency_units_table(con)
    rel = con.sql(f"SELECT {select} FROM {COMPARISON} x JOIN {units} cu ON cu.code = x.currency ORDER BY {ROW_ORDER}")  # noqa: S608 (conditions and subqueries built by the engine with ? placeholders; values bound)
    rel.write_csv(str(path), header=True)
    return path


def comparison_frame(con: duckdb.DuckDBPyConnection, stored: str, table: str = COMPARISON) -> pd.DataFrame:
    """The comparison rows (minor units, plus the customer's name) as a DataFrame, for the aggregations;
    `table` TAX_COMPARISON: the invoices' tax rows (kind 'tax', one per invoice)."""
    order = ROW_ORDER if table == COMPARISON else "contract_id, period_start"
    # through Arrow: DuckDB's own DataFrame conversion took 1.5-2.0 s for the 1.4M rows of a 100k-contract year,
    # Arrow and its conversion 0.6 s, and Arrow's dates come as dates (a cycle starts on a date, not at midnight)
    return arrow_table(
        con,
        f"""SELECT x.*, cu.name AS customer_name FROM {table} x
            LEFT JOIN {stored}.customers cu USING (customer_id) ORDER BY {order}""",  # noqa: S608 (overlay schema and table names made by the engine, never user text; values bound)
    ).to_pandas()


# --- aggregations: DataFrame of comparison rows in -> Decimal major units out -----------------------------


def _to_major_columns(df: pd.DataFrame, columns: tuple[str, ...] = ("baseline", "scenario", "delta")) -> pd.DataFrame:
    for col in columns:
        df[col] = [to_major(int(m), cur) for m, cur in zip(df[f"{col}_minor"], df["currency"], strict=True)]
    return df.drop(columns=[f"{col}_minor" for col in columns])


def _month_of(starts: pd.Series) -> pd.Series:
    """The first day of each date's month, worked out once per distinct date (a year's comparison rows hold
    millions of rows and a few hundred dates: 0.13 s for 2M rows, where converting every row through timestamps and
    periods took 0.5 s)."""
    firsts = {day: dt.date(day.year, day.month, 1) for day in starts.unique()}
    return starts.map(firsts)


def _sum_by(rows: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    out = (
        rows.groupby(keys, dropna=False, sort=True)[["baseline_minor", "scenario_minor", "delta_minor"]]
        .sum()
        .reset_index()
    )
    return out


def _product_label(rows: pd.DataFrame) -> pd.Series:
    """A line's product; a true-up and a coupon (what it took, a negative amount) say what they are."""
    labels = rows["product"].where(rows["product"].notna(), TRUE_UP_LABEL)
    return labels.where(rows["kind"] != "coupon", COUPON_LABEL + labels)


def revenue_by_month(rows: pd.DataFrame) -> pd.DataFrame:
    """currency, month (first day), baseline, scenario, delta: revenue of the cycles starting that month."""
    if rows.empty:
        return pd.DataFrame(columns=["currency", "month", "baseline", "scenario", "delta"])
    work = rows.assign(month=_month_of(rows["period_start"]))
    return _to_major_columns(_sum_by(work, ["currency", "month"]))


def delta_by_product(rows: pd.DataFrame) -> pd.DataFrame:
    """currency, product, baseline, scenario, delta; largest absolute change first within a currency."""
    if rows.empty:
        return pd.DataFrame(columns=["currency", "product", "baseline", "scenario", "delta"])
    out = _sum_by(rows.assign(product=_product_label(rows)), ["currency", "product"])
    out = out.assign(_abs=out["delta_minor"].abs()).sort_values(
        ["currency", "_abs", "product"], ascending=[True, False, True]
    )
    return _to_major_columns(out.drop(columns="_abs").reset_index(drop=True))


def _percent_change(delta_minor: int, baseline_minor: int) -> Decimal | None:
    """delta / baseline × 100, to one decimal (half away from zero); None when the baseline is 0."""
    if baseline_minor == 0:
        return None
    exact = Fraction(delta_minor * 100, baseline_minor)
    return (Decimal(exact.numerator) / Decimal(exact.denominator)).quantize(Decimal("0.1"), ROUND_HALF_UP)


def top_movers(rows: pd.DataFrame, n: int = 10) -> pd.DataFrame:
    """The n customers per currency whose revenue moves most (absolute delta, customers that do not
    move are left out), with the % change."""
    cols = ["currency", "customer_id", "customer_name", "baseline", "scenario", "delta", "delta_percent"]
    if rows.empty:
        return pd.DataFrame(columns=cols)
    work = rows.assign(customer_name=rows["customer_name"].fillna(""))
    out = _sum_by(work, ["currency", "customer_id", "customer_name"])
    out = out[out["delta_minor"] != 0]
    out = (
        out.assign(_abs=out["delta_minor"].abs())
        .sort_values(["currency", "_abs", "customer_id"], ascending=[True, False, True])
        .groupby("currency", sort=True)
        .head(n)
        .drop(columns="_abs")
        .reset_index(drop=True)
    )
    out["delta_percent"] = [
        _percent_change(int(d), int(b)) for d, b in zip(out["delta_minor"], out["baseline_minor"], strict=True)
    ]
    return _to_major_columns(out)[cols]


def waterfall_by_product(rows: pd.DataFrame) -> pd.DataFrame:
    """Waterfall steps per currency: baseline total, one step per product's delta, scenario total.

    Columns: currency, label, amount, measure ('absolute' | 'relative' | 'total'), as plotly's
    Waterfall trace expects them."""
    steps = []
    for cur, by_product in delta_by_product(rows).groupby("currency", sort=True):
        base = sum(by_product["baseline"], Decimal(0))
        steps.append({"currency": cur, "label": "Baseline", "amount": base, "measure": "absolute"})
        for product, delta in zip(by_product["product"], by_product["delta"], strict=True):
            steps.append({"currency": cur, "label": product, "amount": delta, "measure": "relative"})
        steps.append(
            {
                "currency": cur,
                "label": "Scenario",
                "amount": sum(by_product["scenario"], Decimal(0)),
                "measure": "total",
            }
        )
    return pd.DataFrame(steps, columns=["currency", "label", "amount", "measure"])


# --- what an invoice comes to: before tax, its coupons, its tax, its total ---------------------------------------

SIDES = ("baseline", "scenario", "delta")
# the columns of invoice_totals, after its keys: before tax (= subtotal − discount, the rows' sum, as everywhere
# above), the coupons (what they took: the coupon rows negated), the tax, and the total (before tax + tax)
INVOICE_PARTS = ("", "discount_", "tax_", "total_")
INVOICE_COLUMNS = tuple(f"{part}{side}" for part in INVOICE_PARTS for side in SIDES)
# what the customers can be ordered by (invoice_totals' delta columns)
CUSTOMER_ORDERS = {"before_tax": "delta", "tax": "tax_delta", "total": "total_delta"}


def _sums(rows: pd.DataFrame, keys: list[str], part: str) -> pd.DataFrame:
    minor = [f"{side}_minor" for side in SIDES]
    if rows.empty:
        return pd.DataFrame(columns=[*keys, *(f"{part}{c}" for c in minor)]).set_index(keys)
    out = rows.groupby(keys, dropna=False, sort=True)[minor].sum()
    return out.rename(columns={c: f"{part}{c}" for c in minor})


def _invoice_totals_minor(rows: pd.DataFrame, tax_rows: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Per `keys`: before tax, coupons, tax and total in minor units (columns `<part><side>_minor`), sorted by `keys`
    (currency first): every table built from it lists its currencies in one order, run after run (an outer join's
    order is pandas' business, not a promise)."""
    before = _sums(rows, keys, "")
    coupons = -_sums(rows[rows["kind"] == "coupon"], keys, "discount_")
    tax = _sums(tax_rows, keys, "tax_")
    out = before.join([coupons, tax], how="outer").fillna(0).astype("int64")
    for side in SIDES:
        out[f"total_{side}_minor"] = out[f"{side}_minor"] + out[f"tax_{side}_minor"]
    return out.reset_index().sort_values(keys, ignore_index=True)


def totals_by_currency(rows: pd.DataFrame, tax_rows: pd.DataFrame) -> pd.DataFrame:
    """currency and INVOICE_COLUMNS: what every compared invoice comes to, per currency (Decimal major units)."""
    if rows.empty and tax_rows.empty:
        return pd.DataFrame(columns=["currency", *INVOICE_COLUMNS])
    out = _invoice_totals_minor(rows, tax_rows, ["currency"])
    return _to_major_columns(out, INVOICE_COLUMNS)[["currency", *INVOICE_COLUMNS]]


def totals_by_month(rows: pd.DataFrame, tax_rows: pd.DataFrame) -> pd.DataFrame:
    """currency, month (first day) and INVOICE_COLUMNS: what the invoices of the cycles starting that month come
    to before tax, their coupons, their tax and their total, in the baseline and the scenario (Decimal major
    units). `rows`: the comparison rows; `tax_rows`: the tax comparison rows."""
    keys = ["currency", "month"]
    if rows.empty and tax_rows.empty:
        return pd.DataFrame(columns=[*keys, *INVOICE_COLUMNS])

    def by_month(frame: pd.DataFrame) -> pd.DataFrame:
        if frame.empty:
            return frame.assign(month=pd.Series(dtype=object))
        return frame.assign(month=_month_of(frame["period_start"]))

    out = _invoice_totals_minor(by_month(rows), by_month(tax_rows), keys)
    return _to_major_columns(out, INVOICE_COLUMNS)[[*keys, *INVOICE_COLUMNS]]


def customers_that_change(rows: pd.DataFrame, tax_rows: pd.DataFrame) -> pd.DataFrame:
    """The customers whose invoices change (before tax, in their coupons or in their tax): currency, customer_id,
    customer_name and the INVOICE_COLUMNS in minor units (`<column>_minor`), by currency and customer. The work of
    totals_by_customer and customers_changed, done once (a simulation keeps it)."""
    keys = ["currency", "customer_id"]
    minor = [f"{c}_minor" for c in INVOICE_COLUMNS]
    if rows.empty and tax_rows.empty:
        return pd.DataFrame(columns=[*keys, "customer_name", *minor])
    out = _invoice_totals_minor(rows, tax_rows, keys)
    out = out[(out["delta_minor"] != 0) | (out["discount_delta_minor"] != 0) | (out["tax_delta_minor"] != 0)]
    # every invoice has a tax row (of 0 when untaxed): its rows name every customer, in fewer rows than the lines
    named = tax_rows if not tax_rows.empty else rows
    names = named.drop_duplicates("customer_id").set_index("customer_id")["customer_name"]
    out = out.assign(customer_name=out["customer_id"].map(names).fillna(""))
    return out[[*keys, "customer_name", *minor]].reset_index(drop=True)


def totals_by_customer(changed: pd.DataFrame, n: int | None = None, by: str = "total") -> pd.DataFrame:
    """The customers of `changed` (customers_that_change) per currency, those that move most first (the absolute
    change of `by`: before_tax, tax or total; ties by customer id); the first `n` per currency (None: all).
    Columns: currency, customer_id, customer_name, INVOICE_COLUMNS (Decimal major units) and total_delta_percent
    (total change / total baseline × 100, one decimal, half up; None from a total of 0)."""
    cols = ["currency", "customer_id", "customer_name", *INVOICE_COLUMNS, "total_delta_percent"]
    if by not in CUSTOMER_ORDERS:
        raise ValueError(f"by must be one of {', '.join(CUSTOMER_ORDERS)}")
    if changed.empty:
        return pd.DataFrame(columns=cols)
    out = (
        changed.assign(_abs=changed[f"{CUSTOMER_ORDERS[by]}_minor"].abs())
        .sort_values(["currency", "_abs", "customer_id"], ascending=[True, False, True])
        .drop(columns="_abs")
    )
    if n is not None:
        out = out.groupby("currency", sort=True).head(n)
    out = out.reset_index(drop=True)
    out["total_delta_percent"] = [
        _percent_change(int(d), int(b))
        for d, b in zip(out["total_delta_minor"], out["total_baseline_minor"], strict=True)
    ]
    return _to_major_columns(out, INVOICE_COLUMNS)[cols]


def customers_changed(changed: pd.DataFrame) -> dict[str, int]:
    """Per currency, how many customers of `changed` (customers_that_change) there are."""
    return {cur: int(k) for cur, k in changed.groupby("currency", sort=True).size().items()}
