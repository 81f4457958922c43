"""Customer credit at finalize (issue 20, spec section 12): what applying the customers' credit adds to finalizing a
bill run's drafts.

    python benchmarks/credit_finalize.py [--contracts 20000 --usage-rows 200000 --period-date 2026-03-15]

On an in-memory demo of --contracts, a bill run of --period-date drafts the month; then, each time in a
transaction that is rolled back (the same drafts every time), `finalize_invoices_tx` approves and finalizes all of
them, numbered, with their audit events:

  finalize_no_credit_s      best of 3: nobody holds credit (what every run without credit pays: one count)
  finalize_with_credit_s    best of 3: every customer holds credit in every currency of its drafts, so every
                            invoice takes credit (the window over the invoices in number order, the updates of
                            the invoices and balances, one entry per invoice)
  *_runs_s                  every run; invoices, customers_with_credit; loadavg_start/_end

Progress goes to stderr; the final JSON line to stdout.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time

from engine.billing.bill_run import bill_run
from engine.billing.lifecycle import finalize_invoices_tx
from engine.db import connect
from engine.ingest.demo import seed_demo


def _finalize_once(con, ids: list[str]) -> float:
    con.execute("BEGIN TRANSACTION")
    try:
        t0 = time.perf_counter()
        finalize_invoices_tx(con, ids, actor="bench", approve=True)
        return time.perf_counter() - t0
    finally:
        con.execute("ROLLBACK")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--contracts", type=int, default=20_000)
    p.add_argument("--usage-rows", type=int, default=200_000)
    p.add_argument("--period-date", type=dt.date.fromisoformat, default=dt.date(2026, 3, 15))
    args = p.parse_args()
    load_start = os.getloadavg()[0]
    con = connect(":memory:")
    print(f"seeding {args.contracts:,} contracts", file=sys.stderr)
    seed_demo(con, contracts=args.contracts, usage_rows=args.usage_rows, seed=7)
    run = bill_run(con, args.period_date)
    ids = [
        r[0]
        for r in con.execute(
            "SELECT invoice_id FROM invoices WHERE run_id = ? ORDER BY contract_id", [run.run_id]
        ).fetchall()
    ]
    print(f"finalizing {len(ids):,} drafts", file=sys.stderr)
    none = [_finalize_once(con, ids) for _ in range(3)]
    con.execute(
        """INSERT INTO customer_credit
           SELECT DISTINCT customer_id, currency, 1000000 FROM invoices WHERE run_id = ?""",
        [run.run_id],
    )
    holders = con.execute("SELECT count(*) FROM customer_credit").fetchone()[0]
    credit = [_finalize_once(con, ids) for _ in range(3)]
    con.execute("BEGIN TRANSACTION")  # the credit really applied: every invoice took some
    finalize_invoices_tx(con, ids, actor="bench", approve=True)
    took = con.execute("SELECT count(*) FROM invoices WHERE credits_applied_minor > 0").fetchone()[0]
    con.execute("ROLLBACK")
    print(
        json.dumps(
            {
                "contracts": args.contracts,
                "invoices": len(ids),
                "customers_with_credit": holders,
                "invoices_taking_credit": took,
                "finalize_no_credit_s": round(min(none), 3),
                "finalize_with_credit_s": round(min(credit), 3),
                "finalize_no_credit_runs_s": [round(t, 3) for t in none],
                "finalize_with_credit_runs_s": [round(t, 3) for t in credit],
                "loadavg_start": round(load_start, 2),
                "loadavg_end": round(os.getloadavg()[0], 2),
            }
        )
    )


if __name__ == "__main__":
    main()
