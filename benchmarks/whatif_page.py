#!/usr/bin/env python3
"""What the What-if page computes beyond `simulate`, on the demo: a scenario with a coupon on every contract.

    .venv/bin/python benchmarks/whatif_page.py                    # 100,000 contracts, cycles of 2026
    .venv/bin/python benchmarks/whatif_page.py --contracts 10000  # a quick run

The demo database is the backtest's (benchmarks/backtest.py: generated once, cached, opened READ-ONLY). Timed:
`simulate` (what `billsim simulate` does), the comparison rows and the invoices' tax rows as frames (what
`run_simulation` adds for the page), and the page's figures of one result, computed once per result
(views/_whatif_effects.effects_of): invoice totals per currency, per month, the customers that move most and how
many move, the top movers by each measure. Printed: one JSON line with the sizes and the seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from backtest import demo_arguments, demo_database  # noqa: E402 - after the path set-up, so the script runs from anywhere

from engine.db import connect  # noqa: E402
from engine.whatif.compare import TAX_COMPARISON, comparison_frame  # noqa: E402
from engine.whatif.overlay import stored_schema  # noqa: E402
from engine.whatif.scenarios import Simulation, parse_scenario, simulate  # noqa: E402

SCENARIO = {
    "name": "API +10%, 5 % off every contract",
    "changes": [
        {"type": "price", "product": "API calls", "percent": "10"},
        {
            "type": "coupon",
            "coupon": {
                "coupon_id": "BENCH-5",
                "name": "Five off",
                "kind": "percentage",
                "percent": "5",
                "frequency": "forever",
            },
            "applied_on": "2026-01-01",
        },
    ],
}
MEASURES = ("before_tax", "tax", "total")


def timed(f):
    t = time.perf_counter()
    out = f()
    return out, round(time.perf_counter() - t, 3)


def main(argv: list[str] | None = None) -> int:
    p = demo_arguments(argparse.ArgumentParser(description=__doc__.splitlines()[0]))
    args = p.parse_args(argv)

    path, _ = demo_database(args.contracts, args.seed, rebuild=False)
    con = connect(path, read_only=True)
    con.execute("SET enable_progress_bar = false")
    scenario = parse_scenario(SCENARIO)
    summary, simulate_s = timed(lambda: simulate(con, scenario, args.from_date, args.to_date))
    stored = stored_schema(con)
    rows, rows_s = timed(lambda: comparison_frame(con, stored))
    tax_rows, tax_rows_s = timed(lambda: comparison_frame(con, stored, TAX_COMPARISON))
    sim = Simulation(summary=summary, rows=rows, tax_rows=tax_rows)
    figures = {
        "invoice_totals": lambda: sim.invoice_totals(),
        "totals_by_month": lambda: sim.totals_by_month(),
        "by_customer_200_by_each_measure": lambda: [sim.by_customer(200, by=m) for m in MEASURES],
        "customers_changed": lambda: sim.customers_changed(),
        "top_movers_by_each_measure": lambda: [sim.by_customer(10, by=m) for m in MEASURES],
    }
    page = {name: timed(f)[1] for name, f in figures.items()}
    print(
        json.dumps(
            {
                "benchmark": "whatif_page",
                "contracts": args.contracts,
                "cycles": summary["cycles"],
                "comparison_rows": len(rows),
                "tax_rows": len(tax_rows),
                "customers_changed": sum(sim.customers_changed().values()),
                "simulate_s": simulate_s,
                "rows_frame_s": rows_s,
                "tax_rows_frame_s": tax_rows_s,
                "page_figures_s": page,
                "page_figures_total_s": round(sum(page.values()), 2),
                "load_average_1m": round(os.getloadavg()[0], 2),
                "cpus": os.cpu_count(),
            }
        )
    )
    con.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
