"""spark-simulate: the what-if of spec section 7 on Spark, by the engine's own simulation per partition.

    the scenario is checked against the WHOLE data first (SparkData: the same `problems` of every change,
    over Spark), then each customer partition runs the engine's comparison (scenarios.compare_checked:
    baseline and scenario rated by rate_targets, compared line by line) and returns its rows;
    OUT/comparison           Parquet: the comparison rows in integer minor units (exact, typed), and each
                             invoice's tax in the baseline and the scenario as a row of kind 'tax'
    OUT/comparison.csv       for a local --out: written by the same function as `billsim simulate`,
                             from those rows, so the two files are byte-identical for the same data

A contract's rows depend only on its own inputs (the engine rates per contract), so comparing each
partition alone gives exactly the single-machine comparison.
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

from ..db import connect
from ..errors import ScenarioError, ValidationError
from ..money import to_major
from ..rating.pricing import unit_price_models
from ..whatif.changes import UsageChange
from ..whatif.compare import COMPARISON, TAX_KIND, write_comparison_csv
from ..whatif.scenarios import Scenario, scenario_json
from .packing import CUSTOMER_KEY, packed_frame, read_inputs, shared_tables
from .partition import comparison_schema, simulate_partition
from .run import default_partitions, out_path


class SparkData:
    """What a scenario may name (`whatif.changes.KnownData`), looked up over the Spark input tables."""

    def __init__(self, frames: dict, extra_metrics: list[str] = ()) -> None:
        from pyspark.sql import functions as F

        self.lines = frames["order_lines"]
        self.contracts = frames["contracts"]
        self.customers = frames["customers"]
        self.coupons = frames["coupons"]
        self.taxes = frames["taxes"]
        self.products = frozenset(r[0] for r in self.lines.select("product").distinct().collect())
        metrics = {r[0] for r in self.lines.where(F.col("metric").isNotNull()).select("metric").distinct().collect()}
        rest = sorted(set(extra_metrics) - metrics)
        if rest:
            usage = frames["usage"].where(F.col("metric").isin(rest)).select("metric").distinct().collect()
            metrics |= {r[0] for r in usage}
        self.metrics = frozenset(metrics)

    def line_model(self, line_id: str) -> str | None:
        from pyspark.sql import functions as F

        rows = self.lines.where(F.col("line_id") == line_id).select("pricing_model").limit(1).collect()
        return rows[0][0] if rows else None

    def lines_not_priced_by_unit_price(self, product: str | None, line_id: str | None) -> list[str]:
        from pyspark.sql import functions as F

        selected = self.lines.where(~F.col("pricing_model").isin(list(unit_price_models())))
        if product is not None:
            selected = selected.where(F.col("product") == product)
        if line_id is not None:
            selected = selected.where(F.col("line_id") == line_id)
        rows = selected.select("line_id", "pricing_model").orderBy("line_id").limit(11).collect()
        return [f"{r[0]} ({r[1]})" for r in rows]

    def unknown_contracts(self, contract_ids: list[str]) -> list[str]:
        from pyspark.sql import functions as F

        found = {
            r[0]
            for r in self.contracts.where(F.col("contract_id").isin(list(contract_ids))).select("contract_id").collect()
        }
        return [c for c in contract_ids if c not in found]

    def coupon_exists(self, coupon_id: str) -> bool:
        from pyspark.sql import functions as F

        return bool(self.coupons.where(F.col("coupon_id") == coupon_id).limit(1).collect())

    def tax_code_exists(self, tax_code: str) -> bool:
        from pyspark.sql import functions as F

        return bool(self.taxes.where(F.col("tax_code") == tax_code).limit(1).collect())

    def contracts_of_other_businesses(self, contract_ids: list[str], business_id: str) -> list[str]:
        from pyspark.sql import functions as F

        rows = (
            self.contracts.where(F.col("contract_id").isin(list(contract_ids)))
            .join(self.customers.select("customer_id", "business_id"), "customer_id")
            .where(F.col("business_id") != business_id)
            .select("contract_id")
            .orderBy("contract_id")
            .collect()
        )
        return [r[0] for r in rows]


def check_scenario(frames: dict, scenario: Scenario) -> None:
    """Every product, line, metric and contract the scenario names must exist in the inputs (all problems)."""
    metrics = [c.metric for c in scenario.changes if isinstance(c, UsageChange) and c.metric is not None]
    known = SparkData(frames, metrics)
    problems = [p for change in scenario.changes for p in change.problems(known)]
    if problems:
        raise ScenarioError(f"scenario {scenario.name!r} refers to what the data does not have: " + "; ".join(problems))


def _totals(comparison) -> tuple[list[dict], list[dict]]:
    """(totals, tax_totals) per currency, as `billsim simulate` reports them: the sums of the comparison's
    rows, and of its invoices' tax rows (kind 'tax')."""
    from pyspark.sql import functions as F

    def total(col: str):
        return F.sum(F.col(col).cast("decimal(38,0)"))

    rows = (
        comparison.groupBy((F.col("kind") == TAX_KIND).alias("is_tax"), "currency")
        .agg(total("baseline_minor"), total("scenario_minor"), total("delta_minor"), F.count("*"))
        .orderBy("currency")
        .collect()
    )
    totals, taxes = [], []
    for is_tax, cur, b, s, d, n in rows:
        row = {
            "currency": cur,
            "baseline": str(to_major(int(b or 0), cur)),
            "scenario": str(to_major(int(s or 0), cur)),
            "delta": str(to_major(int(d or 0), cur)),
        }
        (taxes if is_tax else totals).append(row if is_tax else {**row, "rows": n})
    return totals, taxes


def _is_local(out: str) -> bool:
    return "://" not in out or out.startswith("file://")


def _write_csv(out: str) -> str:
    """comparison.csv from the comparison Parquet, by the same writer as `billsim simulate`."""

    folder = Path(out.removeprefix("file://"))
    con = connect(":memory:")
    try:
        con.execute(
            f"CREATE TEMP TABLE {COMPARISON} AS SELECT * FROM read_parquet(?) WHERE kind <> ?",  # noqa: S608 (an engine temp-table name; the path is bound)
            [str(folder / "comparison" / "*.parquet"), TAX_KIND],
        )
        return str(write_comparison_csv(con, folder))
    finally:
        con.close()


def spark_simulate(
    spark,
    scenario: Scenario,
    inputs: str,
    from_date: dt.date,
    to_date: dt.date,
    out: str,
    *,
    partitions: int | None = None,
) -> dict:
    """Bill every cycle starting in [from_date, to_date] twice, baseline and scenario, on Spark; write
    OUT/comparison (Parquet) and, for a local OUT, OUT/comparison.csv. Returns the summary (totals per currency)."""
    from pyspark.sql import functions as F
    from pyspark.sql.pandas.types import from_arrow_schema

    if to_date < from_date:
        raise ValidationError(f"--to {to_date} is before --from {from_date}")
    t0 = time.perf_counter()
    frames = read_inputs(spark, inputs)
    check_scenario(frames, scenario)
    partitions = partitions or default_partitions(spark)
    body = scenario_json(scenario)
    shared = shared_tables(frames)

    def task(batches):
        table = simulate_partition(batches, body, from_date, to_date, shared)
        if table is not None:
            yield from table.to_batches()

    comparison = (
        packed_frame(frames)
        .repartition(partitions, CUSTOMER_KEY)
        .mapInArrow(task, from_arrow_schema(comparison_schema()))
    )
    comparison.write.mode("overwrite").parquet(out_path(out, "comparison"))
    written = spark.read.parquet(out_path(out, "comparison"))
    totals, tax_totals = _totals(written)
    summary = {
        "scenario": scenario.name,
        "changes": scenario.labels(),
        "from_date": from_date.isoformat(),
        "to_date": to_date.isoformat(),
        "rows": written.where(F.col("kind") != TAX_KIND).count(),
        "totals": totals,
        "tax_totals": tax_totals,
        "partitions": partitions,
        "comparison": out_path(out, "comparison"),
        "comparison_csv": _write_csv(out) if _is_local(out) else None,
    }
    summary["seconds"] = round(time.perf_counter() - t0, 3)
    return summary
