"""Review benchmark (issue 10): review flags for a whole bill run, and approving every unflagged draft.

    python benchmarks/review.py [--contracts 100000 --usage-rows 10000000 --period-date 2026-03-15]

On the demo database of benchmarks/bill_run.py (the same generation and cache in benchmarks/out/), on a
fresh copy:

  previous_run_s      a bill run of the month before --period-date, so the reviewed drafts have previous
                      invoices to compare with (otherwise every draft is only a first invoice)
  bill_run_s          the bill run of --period-date (its report includes the unbilled cycles)
  review_s            best of 3: engine.review.review(run_id=…) — every flag of every draft of the run, with
                      figures and reasons, and the run scope's unbilled cycles; review_cpu_s its CPU time
                      (all threads), steadier than wall time on a loaded machine (loadavg_start/_end)
  drafts, flagged     drafts reviewed, drafts with at least one flag; flag_counts per flag
  approve_unflagged_s engine.review.approve_unflagged (the selection and the approval, with one audit event
                      per draft, in one transaction), once; approved = how many

Progress goes to stderr; the final JSON line to stdout.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import json
import os
import shutil
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))


def _bill_run_bench():
    """benchmarks/bill_run.py as a module: its generation, cache and DuckDB settings are reused."""
    spec = importlib.util.spec_from_file_location("bill_run_bench", HERE / "bill_run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def month_before(d: dt.date) -> dt.date:
    first = d.replace(day=1)
    prev = first - dt.timedelta(days=1)
    return prev.replace(day=min(d.day, 28))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Review benchmark: flags of a whole run, approve all unflagged.")
    ap.add_argument("--contracts", type=int, default=100_000)
    ap.add_argument("--usage-rows", type=int, default=10_000_000)
    ap.add_argument("--period-date", type=dt.date.fromisoformat, default=dt.date(2026, 3, 15))
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--memory-limit", default=None)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--regenerate", action="store_true")
    args = ap.parse_args(argv)

    bench = _bill_run_bench()
    log = bench.log
    base, _ = bench.cached_database(args)
    work = bench.OUT / "review_work.duckdb"
    for p in (work, Path(str(work) + ".wal")):
        p.unlink(missing_ok=True)
    shutil.copyfile(base, work)

    from engine.billing.bill_run import bill_run
    from engine.db import connect
    from engine.review import approve_unflagged, review

    con = connect(work)
    bench.configure(con, args.memory_limit, args.threads, bench.OUT)
    figures: dict = {
        "contracts": args.contracts,
        "usage_rows": args.usage_rows,
        "period_date": args.period_date.isoformat(),
        "cpus": os.cpu_count(),
        "loadavg_start": round(os.getloadavg()[0], 2),
    }

    t0 = time.perf_counter()
    bill_run(con, month_before(args.period_date), requested_by="benchmark")
    figures["previous_run_s"] = round(time.perf_counter() - t0, 3)
    t0 = time.perf_counter()
    report = bill_run(con, args.period_date, requested_by="benchmark")
    figures["bill_run_s"] = round(time.perf_counter() - t0, 3)
    figures["unbilled_cycles"] = report.unbilled_cycles_count
    log(f"bill runs: previous {figures['previous_run_s']} s, reviewed {figures['bill_run_s']} s")

    best, best_cpu, result = float("inf"), float("inf"), None
    for i in range(3):
        t0, c0 = time.perf_counter(), time.process_time()
        result = review(con, run_id=report.run_id)
        took, cpu = time.perf_counter() - t0, time.process_time() - c0
        best, best_cpu = min(best, took), min(best_cpu, cpu)
        log(f"review #{i + 1}: {took:.3f} s (CPU {cpu:.3f} s, load {os.getloadavg()[0]:.1f})")
    figures.update(
        review_s=round(best, 3),
        review_cpu_s=round(best_cpu, 3),  # CPU of every thread: steadier than wall time on a shared machine
        drafts=len(result.drafts),
        flagged=sum(1 for d in result.drafts if d.flags),
        flag_counts=result.flag_counts,
    )

    t0 = time.perf_counter()
    approved = approve_unflagged(con, report.run_id, actor="benchmark")
    figures["approve_unflagged_s"] = round(time.perf_counter() - t0, 3)
    figures["approved"] = len(approved.approved)
    figures["loadavg_end"] = round(os.getloadavg()[0], 2)
    con.close()
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
