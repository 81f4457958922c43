"""spark-run: bill the period of a date for every contract active on it, on Spark, by the engine's own rules.

    inputs (6 Parquet tables) -> one customer-keyed DataFrame (packing.py)
      -> repartition(N, customer_id): a customer's contracts, usage and delayed charges in ONE task
      -> mapInArrow: each task bills its customers with the engine's bill_run in an in-memory DuckDB
         (partition.py) and returns its invoices, lines, failures and pending charges
      -> OUT/invoices, OUT/invoice_lines,         Parquet: the export columns (spec sections 6 and 11), then
         OUT/invoice_adjustments                   the store extras import-drafts needs (export.py)
         OUT/failed, OUT/pending_charges, OUT/run  Parquet: failed contracts, charges left pending, and
                                                   one row describing the run (id, date, input fingerprint)

A bill run's invoices depend on a customer's rows only (its contracts' lines, usage, tiers and its own
delayed charges), so billing each customer's rows alone gives exactly the single-machine run's invoices.
Every task's drafts carry the run's one run_id; invoice ids are made by the tasks (the engine's own).
"""

from __future__ import annotations

import datetime as dt
import json
import time
from decimal import Decimal

from ..billing.bill_run import new_bill_run_id
from ..currencies import minor_units
from ..rating.cycles import check_period_date
from .inputs import MANIFEST, parse_manifest
from .packing import CUSTOMER_KEY, packed_frame, read_inputs, shared_tables
from .partition import (
    ADJUSTMENT_PREFIX,
    INVOICE_PREFIX,
    LINE_PREFIX,
    OUT_JSON,
    OUT_KIND,
    bill_output_schema,
    bill_partition,
)

OUTPUTS = ("invoices", "invoice_lines", "invoice_adjustments", "failed", "pending_charges", "run")


def out_path(out: str, name: str) -> str:
    return str(out).rstrip("/") + "/" + name


def inputs_manifest(spark, inputs: str) -> dict | None:
    """The fingerprint manifest export-inputs wrote next to the tables, or None when there is none."""
    from pyspark.errors import AnalysisException

    path = out_path(inputs, MANIFEST)
    try:
        rows = spark.read.text(path, wholetext=True).collect()
    except AnalysisException:
        return None
    return parse_manifest(rows[0][0], path) if rows else None


def default_partitions(spark) -> int:
    return max(2, 2 * spark.sparkContext.defaultParallelism)


def _columns(prefix: str, schema) -> list:
    from pyspark.sql import functions as F

    return [F.col(f.name).alias(f.name[len(prefix) :]) for f in schema if f.name.startswith(prefix)]


def _totals(invoices) -> list[dict]:
    from pyspark.sql import functions as F

    rows = (
        invoices.groupBy("currency")
        .agg(
            F.count("*").alias("n"),
            F.sum("subtotal").alias("s"),
            F.sum("tax").alias("t"),
            F.sum("total"),
            F.sum("discount"),
        )
        .orderBy("currency")
        .collect()
    )

    def major(value, currency: str) -> str:
        return str(Decimal(value or 0).quantize(Decimal(1).scaleb(-minor_units(currency))))

    return [
        {
            "currency": r[0],
            "invoices": r[1],
            "subtotal": major(r[2], r[0]),
            "tax": major(r[3], r[0]),
            "total": major(r[4], r[0]),
            "discount": major(r[5], r[0]),
        }
        for r in rows
    ]


def spark_run(
    spark,
    inputs: str,
    period_date: dt.date,
    out: str,
    *,
    partitions: int | None = None,
    include_delayed_charges: bool = False,
) -> dict:
    """Bill the period of `period_date` from the Parquet inputs under `inputs` into `out` (see module doc).
    Returns the run's summary (JSON-able)."""
    from pyspark import StorageLevel
    from pyspark.sql import functions as F
    from pyspark.sql.pandas.types import from_arrow_schema

    check_period_date(period_date, "period date")
    t0 = time.perf_counter()
    run_id = new_bill_run_id()
    partitions = partitions or default_partitions(spark)
    manifest = inputs_manifest(spark, inputs)
    frames = read_inputs(spark, inputs)
    packed, shared = packed_frame(frames), shared_tables(frames)
    arrow_schema = bill_output_schema()

    def task(batches):
        table = bill_partition(batches, period_date, include_delayed_charges, run_id, shared)
        if table is not None:
            yield from table.to_batches()

    result = (
        packed.repartition(partitions, CUSTOMER_KEY)
        .mapInArrow(task, from_arrow_schema(arrow_schema))
        .persist(StorageLevel.DISK_ONLY)
    )
    try:
        invoices = result.where(F.col(OUT_KIND) == "invoice").select(*_columns(INVOICE_PREFIX, arrow_schema))
        lines = result.where(F.col(OUT_KIND) == "line").select(*_columns(LINE_PREFIX, arrow_schema))
        adjustments = result.where(F.col(OUT_KIND) == "adjustment").select(*_columns(ADJUSTMENT_PREFIX, arrow_schema))
        invoices.write.mode("overwrite").parquet(out_path(out, "invoices"))
        lines.write.mode("overwrite").parquet(out_path(out, "invoice_lines"))
        adjustments.write.mode("overwrite").parquet(out_path(out, "invoice_adjustments"))
        side = result.where(F.col(OUT_KIND).isin("failed", "pending", "stats")).select(OUT_KIND, OUT_JSON).collect()
        totals = _totals(invoices)
    finally:
        result.unpersist()
    failed = sorted((json.loads(r[1]) for r in side if r[0] == "failed"), key=lambda f: f["contract_id"])
    pending = sorted((json.loads(r[1]) for r in side if r[0] == "pending"), key=lambda p: p["charge_id"])
    stats = [json.loads(r[1]) for r in side if r[0] == "stats"]

    def total(key: str) -> int:
        return sum(s.get(key, 0) for s in stats)

    _write_side(spark, out, failed, pending)
    summary = {
        "run_id": run_id,
        "period_date": period_date.isoformat(),
        "include_delayed_charges": include_delayed_charges,
        "partitions": partitions,
        "contracts_in_scope": total("contracts_in_scope"),
        "drafted": total("drafted"),
        "nothing_to_bill": total("nothing_to_bill"),
        "failed": failed,
        "delayed_charges_swept": total("delayed_charges_swept"),
        "delayed_charges_pending": pending,
        "totals": totals,
        "out": str(out),
        "seconds": round(time.perf_counter() - t0, 3),
    }
    run_row = {
        "run_id": run_id,
        "period_date": period_date,
        "include_delayed_charges": include_delayed_charges,
        "inputs_fingerprint": json.dumps(manifest["fingerprint"]) if manifest else None,
        "summary": json.dumps(summary),
    }
    schema = (
        "run_id string, period_date date, include_delayed_charges boolean, inputs_fingerprint string, summary string"
    )
    spark.createDataFrame([run_row], schema).coalesce(1).write.mode("overwrite").parquet(out_path(out, "run"))
    return summary


def _write_side(spark, out: str, failed: list[dict], pending: list[dict]) -> None:
    failed_rows = [(f["contract_id"], f["reason"]) for f in failed]
    spark.createDataFrame(failed_rows, "contract_id string, reason string").coalesce(1).write.mode("overwrite").parquet(
        out_path(out, "failed")
    )
    pending_rows = [
        (
            p["charge_id"],
            p["customer_id"],
            p["currency"],
            Decimal(p["amount"]),
            dt.date.fromisoformat(p["charge_date"]),
            p["reason"],
        )
        for p in pending
    ]
    spark.createDataFrame(
        pending_rows,
        "charge_id string, customer_id string, currency string, amount decimal(38,12), charge_date date, reason string",
    ).coalesce(1).write.mode("overwrite").parquet(out_path(out, "pending_charges"))
