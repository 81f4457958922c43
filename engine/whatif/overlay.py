"""The scenario overlay: the stored input tables with a scenario's changes applied, never the tables.

An overlay is a private in-memory catalog ATTACHed to the connection under a fresh name
(`scn_<hex>`), holding:

    contracts, order_lines, price_tiers,  copies of the stored tables, then rewritten change by change
    taxes, coupons, applied_coupons
    customers                             a view over the stored table (no change touches it)
    usage                                 a view over the stored table; approved rows' quantity ×
                                          the metric's compounded usage factor (usage_factors)

Rating reads `{source}.table`, so `rate_targets(con, source=overlay)` bills the scenario with the very
same SQL as real invoices. Nothing is written to the database file: the catalog lives in memory and
is DETACHed when the overlay closes. The views name the stored tables by their full name
(`"<catalog>".main.usage`): inside the attached catalog a bare `main.usage` would mean its own schema.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal, localcontext

import duckdb

from ..errors import ScenarioError
from ..rating.pricing import unit_price_models
from .adjustment_changes import CouponChange, TaxChange
from .changes import (
    ChurnChange,
    MinimumCommitmentChange,
    PriceChange,
    ProrationChange,
    TiersChange,
    UsageChange,
    factor_of,
)
from .compare import AFFECTED

COPIED = ("contracts", "order_lines", "price_tiers", "taxes", "coupons", "applied_coupons")
MAX_FACTOR_DECIMALS = 18
_SELECTED = "(?::VARCHAR IS NULL OR product = ?) AND (?::VARCHAR IS NULL OR line_id = ?)"


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _sql_decimal(value: Decimal) -> str:
    """Plain decimal text for a bound parameter cast to DECIMAL (never exponent notation: 1E+2 -> 100)."""
    return format(value, "f")


def stored_schema(con: duckdb.DuckDBPyConnection) -> str:
    """Fully qualified schema of the stored tables: `"<current catalog>".main`."""
    return f"{_quote(con.execute('SELECT current_database()').fetchone()[0])}.main"


class StoredData:
    """The stored data that changes may name (`changes.KnownData`), looked up by SQL.

    Products and metrics are small sets read once; lines and contracts are looked up by the ids a
    scenario names, so validating against 100k contracts costs a few index probes.

    `within` (contract ids) limits what is known to the data of those contracts: the API passes a
    business's contracts, so a name that exists only in another business is unknown, exactly as one that
    exists nowhere, and no message names another business's lines. None: all stored data."""

    def __init__(
        self, con: duckdb.DuckDBPyConnection, extra_metrics: list[str] = (), within: list[str] | None = None
    ) -> None:
        self.con = con
        self._within = None if within is None else list(within)
        scope = self._scope_sql("contract_id")
        self.products = frozenset(
            r[0]
            for r in con.execute(
                f"SELECT DISTINCT product FROM order_lines WHERE {scope}",  # noqa: S608
                self._scope_params(),
            ).fetchall()
        )
        metrics = {
            r[0]
            for r in con.execute(
                f"SELECT DISTINCT metric FROM order_lines WHERE metric IS NOT NULL AND {scope}",  # noqa: S608
                self._scope_params(),
            ).fetchall()
        }
        # a metric only usage rows carry (no line prices it) is known too; scaling it changes nothing
        rest = sorted(set(extra_metrics) - metrics)
        if rest:
            metrics |= {
                r[0]
                for r in con.execute(
                    f"""SELECT DISTINCT metric FROM usage
                        WHERE list_contains(?::VARCHAR[], metric) AND {scope}""",  # noqa: S608
                    [rest, *self._scope_params()],
                ).fetchall()
            }
        self.metrics = frozenset(metrics)

    @staticmethod
    def _scope_sql(column: str) -> str:
        return f"(?::VARCHAR[] IS NULL OR list_contains(?::VARCHAR[], {column}))"

    def _scope_params(self) -> list:
        return [self._within, self._within]

    def line_model(self, line_id: str) -> str | None:
        row = self.con.execute(
            f"SELECT pricing_model FROM order_lines WHERE line_id = ? AND {self._scope_sql('contract_id')}",  # noqa: S608
            [line_id, *self._scope_params()],
        ).fetchone()
        return row[0] if row else None

    def lines_not_priced_by_unit_price(self, product: str | None, line_id: str | None) -> list[str]:
        rows = self.con.execute(
            f"""SELECT line_id || ' (' || pricing_model || ')' FROM order_lines
                WHERE {_SELECTED} AND NOT list_contains(?::VARCHAR[], pricing_model)
                  AND {self._scope_sql("contract_id")}
                ORDER BY line_id LIMIT 11""",  # noqa: S608
            [product, product, line_id, line_id, list(unit_price_models()), *self._scope_params()],
        ).fetchall()
        return [r[0] for r in rows]

    def unknown_contracts(self, contract_ids: list[str]) -> list[str]:
        found = {
            r[0]
            for r in self.con.execute(
                f"""SELECT contract_id FROM contracts WHERE list_contains(?::VARCHAR[], contract_id)
                    AND {self._scope_sql("contract_id")}""",  # noqa: S608
                [list(contract_ids), *self._scope_params()],
            ).fetchall()
        }
        return [c for c in contract_ids if c not in found]

    def coupon_exists(self, coupon_id: str) -> bool:
        # every business's coupons: a coupon id is unique across businesses
        return self.con.execute("SELECT count(*) FROM coupons WHERE coupon_id = ?", [coupon_id]).fetchone()[0] > 0

    def tax_code_exists(self, tax_code: str) -> bool:
        """A tax code of the data the scenario may name: of a business of `within`'s contracts when given."""
        return (
            self.con.execute(
                f"""SELECT count(*) FROM taxes t WHERE t.tax_code = ?
                    AND (?::VARCHAR[] IS NULL OR t.business_id IN (
                        SELECT cu.business_id FROM contracts c JOIN customers cu USING (customer_id)
                        WHERE {self._scope_sql("c.contract_id")}))""",  # noqa: S608
                [tax_code, self._within, *self._scope_params()],
            ).fetchone()[0]
            > 0
        )

    def contracts_of_other_businesses(self, contract_ids: list[str], business_id: str) -> list[str]:
        rows = self.con.execute(
            """SELECT c.contract_id FROM contracts c JOIN customers cu USING (customer_id)
               WHERE list_contains(?::VARCHAR[], c.contract_id) AND cu.business_id <> ? ORDER BY 1""",
            [list(contract_ids), business_id],
        ).fetchall()
        return [r[0] for r in rows]


def _selection_params(change: PriceChange) -> list:
    return [change.product, change.product, change.line_id, change.line_id]


def _apply_price(con, scn: str, change: PriceChange) -> None:
    sel = _selection_params(change)
    if change.unit_price is not None:
        con.execute(
            f"UPDATE {scn}.order_lines SET unit_price = ?::DECIMAL(38,12) WHERE {_SELECTED}",  # noqa: S608 (overlay schema names made by the engine, never user text; values bound)
            [_sql_decimal(change.unit_price), *sel],
        )
        return
    factor = _sql_decimal(factor_of(change.percent))
    # price' = round(price × factor, 12): exact product first, one rounding back to DECIMAL(38,12)
    scaled = "round({col} * ?::DECIMAL(38,8), 12)::DECIMAL(38,12)"
    con.execute(
        f"""UPDATE {scn}.order_lines SET
                unit_price = {scaled.format(col="unit_price")},
                fixed_fee = {scaled.format(col="fixed_fee")},
                percentage_rate = {scaled.format(col="percentage_rate")}
            WHERE {_SELECTED}""",  # noqa: S608 (overlay schema names made by the engine, never user text; values bound)
        [factor, factor, factor, *sel],
    )
    con.execute(
        f"""UPDATE {scn}.price_tiers SET
                unit_price = {scaled.format(col="unit_price")},
                flat_fee = {scaled.format(col="flat_fee")}
            WHERE line_id IN (SELECT line_id FROM {scn}.order_lines WHERE {_SELECTED})""",  # noqa: S608 (overlay schema names made by the engine, never user text; values bound)
        [factor, factor, *sel],
    )


def _apply_tiers(con, scn: str, change: TiersChange) -> None:
    con.execute(f"DELETE FROM {scn}.price_tiers WHERE line_id = ?", [change.line_id])  # noqa: S608 (overlay schema names made by the engine, never user text; values bound)
    n = len(change.tiers)
    con.execute(
        f"""INSERT INTO {scn}.price_tiers (line_id, tier_no, up_to, unit_price, flat_fee)
            SELECT ?, unnest(range(1, ? + 1))::INTEGER, unnest(?::DECIMAL(38,6)[]),
                   unnest(?::DECIMAL(38,12)[]), unnest(?::DECIMAL(38,12)[])""",
        [
            change.line_id,
            n,
            [None if t.up_to is None else _sql_decimal(t.up_to) for t in change.tiers],
            [_sql_decimal(t.unit_price) for t in change.tiers],
            [_sql_decimal(t.flat_fee) for t in change.tiers],
        ],
    )


def _apply_churn(con, scn: str, change: ChurnChange) -> None:
    con.execute(f"DELETE FROM {scn}.contracts WHERE list_contains(?::VARCHAR[], contract_id)", [change.contract_ids])  # noqa: S608 (overlay schema names made by the engine, never user text; values bound)


def _apply_minimum(con, scn: str, change: MinimumCommitmentChange) -> None:
    amount = None if change.amount is None else _sql_decimal(change.amount)
    con.execute(
        f"UPDATE {scn}.contracts SET minimum_commitment = ?::DECIMAL(38,12) WHERE contract_id = ?",  # noqa: S608 (overlay schema names made by the engine, never user text; values bound)
        [amount, change.contract_id],
    )


def _apply_proration(con, scn: str, change: ProrationChange) -> None:
    con.execute(f"UPDATE {scn}.contracts SET proration = ?", [change.value])  # noqa: S608 (overlay schema names made by the engine, never user text; values bound)


def _apply_usage(con, scn: str, change: UsageChange) -> None:
    """Usage is a view: its factors are compounded once for all usage changes (`_usage_view`)."""


def _apply_coupon(con, scn: str, change: CouponChange) -> None:
    c = change.coupon
    con.execute(
        f"""INSERT INTO {scn}.coupons (coupon_id, name, business_id, kind, amount, currency, percent, frequency,
                                       periods, products)
            VALUES (?, ?, coalesce(?, 'default'), ?, ?::DECIMAL(38,12), ?, ?::DECIMAL(38,6), ?, ?, ?)""",  # noqa: S608 (overlay schema names made by the engine, never user text; values bound)
        [
            c.coupon_id,
            c.name,
            c.business_id,
            c.kind,
            None if c.amount is None else _sql_decimal(c.amount),
            c.currency,
            None if c.percent is None else _sql_decimal(c.percent),
            c.frequency,
            c.periods,
            None if c.products is None else ";".join(sorted(set(c.products))),
        ],
    )
    # the selected contracts: listed, or with a line of the products, or all; of the coupon's business if it names one
    con.execute(
        f"""INSERT INTO {scn}.applied_coupons (contract_id, coupon_id, applied_on)
            SELECT c.contract_id, ?, ? FROM {scn}.contracts c JOIN {scn}.customers cu USING (customer_id)
            WHERE (?::VARCHAR[] IS NULL OR list_contains(?::VARCHAR[], c.contract_id))
              AND (?::VARCHAR[] IS NULL OR c.contract_id IN (SELECT contract_id FROM {scn}.order_lines
                                                              WHERE list_contains(?::VARCHAR[], product)))
              AND (?::VARCHAR IS NULL OR cu.business_id = ?)""",  # noqa: S608 (overlay schema names made by the engine, never user text; values bound)
        [
            c.coupon_id,
            change.applied_on,
            change.contract_ids,
            change.contract_ids,
            change.products,
            change.products,
            c.business_id,
            c.business_id,
        ],
    )


def _apply_tax(con, scn: str, change: TaxChange) -> None:
    con.execute(
        f"UPDATE {scn}.taxes SET rate = ?::DECIMAL(38,6) WHERE tax_code = ?",  # noqa: S608 (overlay schema names made by the engine, never user text; values bound)
        [_sql_decimal(change.rate), change.tax_code],
    )


APPLY: dict[type, Callable] = {
    PriceChange: _apply_price,
    TiersChange: _apply_tiers,
    ChurnChange: _apply_churn,
    MinimumCommitmentChange: _apply_minimum,
    ProrationChange: _apply_proration,
    UsageChange: _apply_usage,
    CouponChange: _apply_coupon,
    TaxChange: _apply_tax,
}


def usage_factors(changes: list, metrics: frozenset[str]) -> dict[str, Decimal]:
    """metric -> Π (100 + percent) / 100 over the usage changes that select it (exact; 1s omitted)."""
    usage = [c for c in changes if isinstance(c, UsageChange)]
    out: dict[str, Decimal] = {}
    with localcontext() as ctx:
        ctx.prec = 80  # far beyond any product of a few 8-decimal factors: the product stays exact
        for metric in sorted(metrics):
            factor = Decimal(1)
            for change in usage:
                if change.metric in (None, metric):
                    factor *= factor_of(change.percent)
            if factor != 1:
                out[metric] = factor.normalize()
    return out


def _usage_view(con, scn: str, stored: str, factors: dict[str, Decimal]) -> None:
    if not factors:
        con.execute(f"CREATE VIEW {scn}.usage AS SELECT * FROM {stored}.usage")  # noqa: S608 (overlay schema names made by the engine, never user text; values bound)
        return
    scale = max(max(0, -f.as_tuple().exponent) for f in factors.values())
    if scale > MAX_FACTOR_DECIMALS:
        raise ScenarioError(
            f"the usage changes compound to a factor with {scale} decimals "
            f"(at most {MAX_FACTOR_DECIMALS}); combine them into one change"
        )
    ftype = f"DECIMAL(38,{int(scale)})"
    con.execute(f"CREATE TABLE {scn}.usage_factors (metric VARCHAR, factor {ftype})")
    con.execute(
        f"INSERT INTO {scn}.usage_factors SELECT unnest(?::VARCHAR[]), unnest(?::{ftype}[])",
        [list(factors), [_sql_decimal(f) for f in factors.values()]],
    )
    # quantity' = quantity × factor, exact (scale 6 + factor's); the rating rounds the line's priced
    # quantity to 6 decimals once.
    con.execute(
        f"""CREATE VIEW {scn}.usage AS
            SELECT u.usage_id, u.contract_id, u.metric, u.usage_date,
                   CASE WHEN u.status = 'approved' AND f.factor IS NOT NULL
                        THEN u.quantity::DECIMAL(38,6) * f.factor ELSE u.quantity END AS quantity,
                   u.status
            FROM {stored}.usage u LEFT JOIN {scn}.usage_factors f ON f.metric = u.metric"""  # noqa: S608 (overlay schema names made by the engine, never user text; values bound)
    )


def mark_affected_contracts(con: duckdb.DuckDBPyConnection, scn: str, stored: str) -> int:
    """`_scenario_affected(contract_id)`: the contracts whose rating inputs differ in the overlay.

    Rating is per contract: a contract's lines depend only on its contract row, its order lines, their
    tiers, its customer and its usage. A contract none of whose inputs the changes touched bills the
    same in both, so only the affected ones need rating again. Found by comparing the overlay with the
    stored tables (set difference, NULLs equal), so a new change type needs no rule of its own here:
        contract row changed or removed (churn, minimum commitment, proration)
        an order line changed (price)           a line's tiers changed (tiers, price)
        a line prices a metric whose usage is scaled (usage)
        a coupon applied to it, or a coupon it has changed (coupon)
        a tax code its customer or one of its lines carries changed (tax)"""

    def differ(table: str) -> str:  # rows on either side that the other side does not have
        return (
            f"((SELECT * FROM {scn}.{table} EXCEPT SELECT * FROM {stored}.{table}) "  # noqa: S608 (overlay schema names made by the engine, never user text; values bound)
            f"UNION ALL (SELECT * FROM {stored}.{table} EXCEPT SELECT * FROM {scn}.{table}))"
        )

    scaled = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE database_name = ? AND table_name = 'usage_factors'", [scn]
    ).fetchone()[0]
    usage = (
        f"UNION SELECT o.contract_id FROM {stored}.order_lines o JOIN {scn}.usage_factors f USING (metric)"  # noqa: S608 (overlay schema names made by the engine, never user text; values bound)
        if scaled
        else ""
    )
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE {AFFECTED} AS
            WITH taxes AS (SELECT DISTINCT tax_code FROM {differ("taxes")})
            SELECT contract_id FROM {differ("contracts")}
            UNION SELECT contract_id FROM {differ("order_lines")}
            UNION SELECT o.contract_id FROM {stored}.order_lines o
                  WHERE o.line_id IN (SELECT line_id FROM {differ("price_tiers")})
            UNION SELECT contract_id FROM {differ("applied_coupons")}
            UNION SELECT a.contract_id FROM {scn}.applied_coupons a
                  WHERE a.coupon_id IN (SELECT coupon_id FROM {differ("coupons")})
            UNION SELECT o.contract_id FROM {stored}.order_lines o
                  WHERE list_has_any(string_split(o.tax_codes, ';'), (SELECT list(tax_code) FROM taxes))
            UNION SELECT c.contract_id FROM {stored}.contracts c JOIN {stored}.customers cu USING (customer_id)
                  WHERE list_has_any(string_split(cu.tax_codes, ';'), (SELECT list(tax_code) FROM taxes))
            {usage}"""  # noqa: S608 (overlay schema names made by the engine, never user text; values bound)
    )
    return con.execute(f"SELECT count(*) FROM {AFFECTED}").fetchone()[0]  # noqa: S608 (overlay schema names made by the engine, never user text; values bound)


@contextmanager
def scenario_overlay(con: duckdb.DuckDBPyConnection, changes: list, metrics: frozenset[str]) -> Iterator[str]:
    """Yield the name of a fresh overlay catalog with `changes` applied in order; detach it after."""
    stored = stored_schema(con)
    scn = f"scn_{uuid.uuid4().hex[:12]}"
    con.execute(f"ATTACH ':memory:' AS {scn} (READ_WRITE)")  # also from a read-only connection
    try:
        for table in COPIED:
            con.execute(f"CREATE TABLE {scn}.{table} AS SELECT * FROM {stored}.{table}")  # noqa: S608 (overlay schema names made by the engine, never user text; values bound)
        con.execute(f"CREATE VIEW {scn}.customers AS SELECT * FROM {stored}.customers")  # noqa: S608 (overlay schema names made by the engine, never user text; values bound)
        _usage_view(con, scn, stored, usage_factors(changes, metrics))
        for change in changes:
            APPLY[type(change)](con, scn, change)
        yield scn
    finally:
        con.execute(f"DETACH {scn}")
