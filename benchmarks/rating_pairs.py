#!/usr/bin/env python3
"""Two engine trees in ONE process, alternated: the backtest's rating and its whole what-if, main vs a branch.

    .venv/bin/python benchmarks/rating_pairs.py --a /work/main --b . --pairs 5
    .venv/bin/python benchmarks/rating_pairs.py --a /work/main --b . --what simulate --pairs 4

Other people benchmark on the same cores: figures from another hour cannot tell two trees apart, pairs in one
session can. Each tree's `engine` package is imported from its own root under its own set of modules (swapped
into sys.modules around each call), then the two are run in turn, A B A B …, on one read-only connection to
the cached backtest database (benchmarks/backtest.py makes it). Printed: one JSON line per run (tree, wall
and process CPU seconds, the load, a hash of the results) and a last line with the best of each and B ÷ A.

    --what rating     one rating of every cycle of the year (explain=False, as a what-if rates), the
                      hash of its line amounts and invoices
    --what simulate   the broad scenario of benchmarks/backtest.py, the hash of its comparison and tax rows
    --what billrating the bill run's rating of one month (2026-03-15, explain=True: breakdowns and line numbers,
                      as benchmarks/bill_run.py's rating_only_s) on --db (the bill run's cached demo database)
    --what preview    20 previews (engine.billing.invoices.preview_invoice, 20 contracts, 2026-03-15): the
                      median's wall and CPU milliseconds (not seconds), the hash of the 20 invoices
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import resource
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _is_engine(name: str) -> bool:
    return name == "engine" or name.startswith("engine.")


class Tree:
    """One tree's `engine` modules, imported from `root`."""

    def __init__(self, label: str, root: Path) -> None:
        self.label, self.root = label, root.resolve()
        for name in [n for n in sys.modules if _is_engine(n)]:
            del sys.modules[name]
        sys.path.insert(0, str(self.root))
        try:
            import engine.billing.invoices
            import engine.rating.pipeline
            import engine.rating.targets
            import engine.whatif.scenarios  # noqa: F401 (imported for the modules it loads)
        finally:
            sys.path.remove(str(self.root))
        self.modules = {n: m for n, m in sys.modules.items() if _is_engine(n)}
        if not Path(self.modules["engine"].__file__).resolve().is_relative_to(self.root):
            raise SystemExit(f"{label}: engine imported from {self.modules['engine'].__file__}, not {self.root}")

    def __enter__(self):
        for name in [n for n in sys.modules if _is_engine(n)]:
            del sys.modules[name]
        sys.modules.update(self.modules)
        return self.modules

    def __exit__(self, *exc) -> None:
        return None


def _hash(con, tables: tuple[str, ...]) -> str:
    h = hashlib.sha256()
    for table in tables:
        for row in con.execute(f"SELECT * FROM {table} ORDER BY ALL").fetchall():  # noqa: S608 (constant names)
            h.update(repr(row).encode())
    return h.hexdigest()[:16]


def _rating(mods, con, frm, to) -> tuple[float, float, str]:
    mods["engine.rating.targets"].targets_for_range(con, frm, to)
    t, c = time.perf_counter(), _cpu()
    mods["engine.rating.pipeline"].rate_targets(con, explain=False)
    wall, cpu = time.perf_counter() - t, _cpu() - c
    return wall, cpu, _hash(con, ("_rated_lines", "_rated_invoices"))


def _bill_rating(mods, con) -> tuple[float, float, str]:
    t, c = time.perf_counter(), _cpu()
    mods["engine.rating.targets"].targets_for_date(con, dt.date(2026, 3, 15))
    mods["engine.rating.pipeline"].rate_targets(con)
    wall, cpu = time.perf_counter() - t, _cpu() - c
    return wall, cpu, _hash(con, ("_rated_lines", "_rated_invoices"))


def _simulate(mods, con, frm, to, churned) -> tuple[float, float, str]:
    sc = mods["engine.whatif.scenarios"]
    scenario = sc.parse_scenario(
        {
            "name": "API +10%, usage +25%, 1% churn",
            "changes": [
                {"type": "price", "product": "API calls", "percent": "10"},
                {"type": "usage", "percent": "25"},
                {"type": "churn", "contract_ids": churned},
            ],
        }
    )
    t, c = time.perf_counter(), _cpu()
    sc.simulate(con, scenario, frm, to)
    wall, cpu = time.perf_counter() - t, _cpu() - c
    return wall, cpu, _hash(con, ("_scenario_comparison", "_scenario_tax_comparison"))


def _previews(mods, con, contract_ids) -> tuple[float, float, str]:
    preview = mods["engine.billing.invoices"].preview_invoice
    walls, cpus, h = [], [], hashlib.sha256()
    for cid in contract_ids:
        t, c = time.perf_counter(), _cpu()
        invoice = preview(con, cid, dt.date(2026, 3, 15))
        walls.append(time.perf_counter() - t)
        cpus.append(_cpu() - c)
        h.update(repr(invoice).encode())
    return statistics.median(walls) * 1000, statistics.median(cpus) * 1000, h.hexdigest()[:16]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--a", type=Path, default=Path("/work/main"), help="root of tree A (main)")
    p.add_argument("--b", type=Path, default=HERE.parent, help="root of tree B (the branch)")
    p.add_argument("--what", choices=("rating", "billrating", "simulate", "preview"), default="rating")
    p.add_argument("--pairs", type=int, default=4)
    p.add_argument("--db", type=Path, help="the backtest database (default: the cached one of 100k contracts)")
    args = p.parse_args(argv)
    db = args.db or sorted((HERE / "out").glob("backtest_demo_c100000_s7_*.duckdb"))[-1]
    trees = [Tree("a", args.a), Tree("b", args.b)]
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    con.execute("SET enable_progress_bar = false")
    frm, to = dt.date(2026, 1, 1), dt.date(2026, 12, 31)
    churned = [
        r[0] for r in con.execute("SELECT contract_id FROM contracts ORDER BY contract_id LIMIT 1000").fetchall()
    ]
    sample = [
        r[0]
        for r in con.execute(
            "SELECT contract_id FROM contracts WHERE start_date <= DATE '2026-03-15' "
            "AND (end_date IS NULL OR end_date >= DATE '2026-03-15') ORDER BY hash(contract_id) LIMIT 20"
        ).fetchall()
    ]
    best: dict[str, list[float]] = {}
    for _ in range(args.pairs):
        for tree in trees:
            load = round(os.getloadavg()[0], 2)
            with tree as mods:
                if args.what == "rating":
                    wall, cpu, digest = _rating(mods, con, frm, to)
                elif args.what == "billrating":
                    wall, cpu, digest = _bill_rating(mods, con)
                elif args.what == "simulate":
                    wall, cpu, digest = _simulate(mods, con, frm, to, churned)
                else:
                    wall, cpu, digest = _previews(mods, con, sample)
            row = {"tree": tree.label, "what": args.what, "wall": round(wall, 3), "cpu": round(cpu, 3)}
            print(json.dumps({**row, "hash": digest, "load": load}), flush=True)
            b = best.setdefault(tree.label, [wall, cpu])
            best[tree.label] = [min(b[0], wall), min(b[1], cpu)]
    a, b = best["a"], best["b"]
    print(
        json.dumps(
            {
                "best_a": [round(x, 3) for x in a],
                "best_b": [round(x, 3) for x in b],
                "wall_b_over_a": round(b[0] / a[0], 3),
                "cpu_b_over_a": round(b[1] / a[1], 3),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
