"""Recurring templates in a bill run: what a run costs with no template, and with templates to draft.

    python benchmarks/recurring_in_run.py [--templates 1000] [--period-date 2026-03-15] [--tree /work/main]

On a fresh copy of the cached 100k-contract demo database of benchmarks/bill_run.py (generated on first use):

  bill_run_s          engine.billing.bill_run.bill_run for the period of --period-date, no template stored (the
                      demo has none): compare it with main's by alternated runs of this script, each side's venv
  recurring_step_ms   the run's recurring step alone with no template (manual_invoices.draft_recurring_tx: one
                      query), the mean of 100 calls on the billed database
  with_templates_s    a second fresh copy with --templates monthly templates (one per customer, from the 1st of
                      the month two months before the period date): the run, which also drafts their periods
                      (recurring_drafted = 2 × templates)

Prints one JSON line. `--tree DIR` measures that tree's engine (run with its venv), e.g. main's and the branch's
alternately, both on one `--database` (the older schema's: the newer engine migrates its copy before the clock).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

# --tree: the tree whose engine is measured (main's, for the alternated comparison), before anything is imported
_TREE = Path(sys.argv[sys.argv.index("--tree") + 1]) if "--tree" in sys.argv else Path(__file__).resolve().parent.parent
sys.path.insert(0, str(_TREE))

from engine.billing.bill_run import bill_run  # noqa: E402
from engine.db import connect  # noqa: E402

sys.path.append(str(Path(__file__).resolve().parent))
import bill_run as bill_run_benchmark  # noqa: E402  (its cached demo database; imported after the engine measured)


def _copy(base: Path, folder: Path, name: str):
    path = folder / name
    shutil.copyfile(base, path)
    con = connect(path)  # migrated before the clock starts
    con.execute("CHECKPOINT")
    return con


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--templates", type=int, default=1000)
    ap.add_argument("--period-date", type=dt.date.fromisoformat, default=dt.date(2026, 3, 15))
    ap.add_argument("--tree", help="the tree whose engine is measured (default: this one)")
    ap.add_argument("--database", type=Path, help="the demo database to copy (default: bill_run.py's cached one)")
    args = ap.parse_args()
    cache_args = argparse.Namespace(
        contracts=100_000, usage_rows=10_000_000, seed=7, adjustments="demo", regenerate=False, memory_limit=None
    )
    base = args.database or bill_run_benchmark.cached_database(cache_args)[0]
    out: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        con = _copy(base, folder, "plain.duckdb")
        t0 = time.perf_counter()
        report = bill_run(con, args.period_date)
        out["bill_run_s"] = round(time.perf_counter() - t0, 3)
        out["drafted"] = report.drafted
        try:
            from engine.billing.manual_invoices import draft_recurring_tx  # absent on main before this change
        except ImportError:
            draft_recurring_tx = None
        if draft_recurring_tx is not None:
            t0 = time.perf_counter()
            for _ in range(100):
                draft_recurring_tx(con, args.period_date)
            out["recurring_step_ms"] = round((time.perf_counter() - t0) * 10, 3)
        con.close()
        if draft_recurring_tx is not None and args.templates:
            from engine.billing.manual_invoices import create_invoice
            from engine.models import LineItem, ManualInvoiceRequest, RecurringConfig

            con = _copy(base, folder, "templates.duckdb")
            start = (args.period_date.replace(day=1) - dt.timedelta(days=40)).replace(day=1)
            customers = [
                r[0]
                for r in con.execute(
                    "SELECT customer_id FROM customers ORDER BY 1 LIMIT ?", [args.templates]
                ).fetchall()
            ]
            for customer in customers:
                req = ManualInvoiceRequest(
                    customer_id=customer,
                    line_items=[LineItem(description="Support plan", unit_price=5000)],
                    recurring=RecurringConfig(start_date=start),
                )
                create_invoice(con, req)
            t0 = time.perf_counter()
            report = bill_run(con, args.period_date)
            out["with_templates_s"] = round(time.perf_counter() - t0, 3)
            out["templates"], out["recurring_drafted"] = len(customers), report.recurring_drafted
            con.close()
    print(json.dumps({"engine": str(Path(bill_run.__code__.co_filename).parents[2]), **out}))


if __name__ == "__main__":
    main()
