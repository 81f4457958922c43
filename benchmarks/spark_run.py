"""Spark bill run next to the single-machine DuckDB bill run on the same data (issue 12). A script, not a test.

    .venv/bin/python benchmarks/spark_run.py --db benchmarks/out/demo_c100000_u10000000_s7_<hash>.duckdb
    .venv/bin/python benchmarks/spark_run.py --contracts 20000 --usage-rows 2000000      # generates the data

Steps: export-inputs of the ledger (Parquet) -> DuckDB `bill_run` on a fresh copy of the ledger (time,
peak RSS) -> `spark_run` in local mode for each --partitions value (time, peak RSS of the whole process
tree: driver, JVM and Python workers) -> the two outputs compared (invoice count and totals per currency).
Prints one JSON object; per-partition throughput = usage rows / (spark seconds × cores) is what the
cluster model in benchmarks/README.md (Spark section) extrapolates from.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import sys
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
OUT = ROOT / "benchmarks" / "out" / "spark"


class PeakRss:
    """Peak resident memory of this process and all its descendants, sampled every 0.2 s."""

    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        me = psutil.Process()
        while not self._stop.is_set():
            total = 0
            for p in [me, *me.children(recursive=True)]:
                try:
                    total += p.memory_info().rss
                except psutil.Error:
                    pass
            self.peak = max(self.peak, total)
            self._stop.wait(0.2)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--db", help="an existing ledger (e.g. a cached benchmarks/out/demo_*.duckdb); else generated")
    p.add_argument("--contracts", type=int, default=20_000)
    p.add_argument("--usage-rows", type=int, default=None)
    p.add_argument("--period-date", type=dt.date.fromisoformat, default=dt.date(2026, 3, 15))
    p.add_argument("--partitions", type=int, nargs="+", default=[8])
    p.add_argument("--master", default="local[2]")
    p.add_argument("--driver-memory", default="4g")
    args = p.parse_args()

    from engine.billing.bill_run import bill_run
    from engine.db import connect
    from engine.ingest.demo import seed_demo

    OUT.mkdir(parents=True, exist_ok=True)
    ledger = OUT / "ledger.duckdb"
    if args.db:
        shutil.copy(args.db, ledger)
    else:
        ledger.unlink(missing_ok=True)
        con = connect(ledger)
        seed_demo(con, contracts=args.contracts, usage_rows=args.usage_rows)
        con.close()
    result: dict = {"cores": os.cpu_count(), "period_date": str(args.period_date)}

    from engine.spark.inputs import export_inputs

    con = connect(ledger)
    t = time.perf_counter()
    manifest = export_inputs(con, OUT / "inputs")
    result["export_inputs_s"] = round(time.perf_counter() - t, 2)
    result["rows"] = manifest["tables"]
    con.close()

    work = OUT / "duckdb_work.duckdb"
    shutil.copy(ledger, work)
    con = connect(work)
    with PeakRss() as rss:
        t = time.perf_counter()
        report = bill_run(con, args.period_date)
        result["duckdb"] = {"seconds": round(time.perf_counter() - t, 2), "peak_rss_gb": round(rss.peak / 1e9, 2)}
    result["duckdb"]["invoices"] = report.drafted
    duck_totals = [t.model_dump(mode="json") for t in report.totals]
    con.close()

    os.environ.setdefault("PYSPARK_SUBMIT_ARGS", f"--driver-memory {args.driver_memory} pyspark-shell")
    from engine.spark.run import spark_run
    from engine.spark.session import spark_session

    with PeakRss() as rss:
        t = time.perf_counter()
        spark = spark_session(args.master, shuffle_partitions=max(args.partitions))
        result["spark_session_start_s"] = round(time.perf_counter() - t, 2)
    result["spark"] = []
    for n in args.partitions:
        with PeakRss() as rss:
            summary = spark_run(spark, str(OUT / "inputs"), args.period_date, str(OUT / f"run_p{n}"), partitions=n)
        usage = result["rows"]["usage"]
        result["spark"].append(
            {
                "partitions": n,
                "seconds": summary["seconds"],
                "peak_rss_gb": round(rss.peak / 1e9, 2),
                "invoices": summary["drafted"],
                "totals_equal_duckdb": summary["totals"] == duck_totals,
                "usage_rows_per_core_s": round(usage / (summary["seconds"] * (os.cpu_count() or 1))),
            }
        )
        print(json.dumps(result["spark"][-1]), file=sys.stderr, flush=True)
    spark.stop()
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
