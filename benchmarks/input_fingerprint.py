#!/usr/bin/env python3
"""What a data fingerprint of every input table the rating reads would cost (issue 22, measured only: no cache is
built): the key a baseline could be kept under between two simulations of one session.

    .venv/bin/python benchmarks/input_fingerprint.py                  # the backtest's 100,000-contract demo
    .venv/bin/python benchmarks/input_fingerprint.py --contracts 2000

Per table the rating reads (the overlay's copied tables, the customers and the usage): `SELECT count(*),
sum(hash(<the row>))::HUGEINT` (every column, as one struct), best of `--repeats`, wall and CPU seconds. The
demo database is the backtest's (benchmarks/backtest.py: cached, opened READ-ONLY). Printed: one JSON line.
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

from backtest import demo_database  # noqa: E402 - after the path set-up, so the script runs from anywhere

from engine.db import connect  # noqa: E402
from engine.whatif.overlay import COPIED  # noqa: E402

TABLES = (*COPIED, "customers", "usage")  # what rate_targets reads of a source (engine/rating)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--contracts", type=int, default=100_000)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args(argv)

    path, _ = demo_database(args.contracts, args.seed, rebuild=False)
    con = connect(path, read_only=True)
    con.execute("SET enable_progress_bar = false")
    tables = {}
    for table in TABLES:
        runs = []
        for _ in range(args.repeats):
            wall, cpu = time.perf_counter(), time.process_time()
            rows, digest = con.execute(f"SELECT count(*), sum(hash(t))::HUGEINT FROM {table} t").fetchone()  # noqa: S608 (the engine's own table names)
            runs.append((time.perf_counter() - wall, time.process_time() - cpu))
        tables[table] = {
            "rows": rows,
            "wall_s": round(min(w for w, _ in runs), 3),
            "cpu_s": round(min(c for _, c in runs), 3),
            "digest": str(digest)[:12],
        }
    print(
        json.dumps(
            {
                "benchmark": "input_fingerprint",
                "contracts": args.contracts,
                "tables": tables,
                "total_wall_s": round(sum(t["wall_s"] for t in tables.values()), 3),
                "total_cpu_s": round(sum(t["cpu_s"] for t in tables.values()), 3),
                "load_average_1_5_15": [round(x, 2) for x in os.getloadavg()],
                "cpus": os.cpu_count(),
            }
        )
    )
    con.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
