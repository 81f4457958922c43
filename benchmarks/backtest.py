#!/usr/bin/env python3
"""Re-rating history benchmark: a what-if scenario over a year of cycles of the 100k-contract demo.

    .venv/bin/python benchmarks/backtest.py                       # 100,000 contracts, cycles of 2026
    .venv/bin/python benchmarks/backtest.py --contracts 2000      # a quick run

The demo database is generated once (engine.ingest.demo, deterministic for a seed) and cached as
benchmarks/out/backtest_demo_c<contracts>_s<seed>_<hash>.duckdb (git-ignored; the hash is of the
generator, importer and schema code, as for the bill-run benchmark). It is then opened READ-ONLY
and `engine.whatif.scenarios.simulate` bills every cycle starting in [--from, --to] twice, baseline and
scenario. Printed: one JSON line with the sizes and the seconds (target: ≤ 10 s for the simulation
on the 2-core machine); `--kept N` also times N rounds with a kept baseline (a simulation run again over the
same data and range, as the server and the workbench keep it); `--csv` also times writing comparison.csv;
`--digest` adds `broad_digest`, a hash of the broad run's comparison and tax rows (outside the timing), to check
that a change kept every result.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine.db import connect  # noqa: E402 - after the path set-up, so the script runs from anywhere
from engine.ingest.demo import seed_demo  # noqa: E402
from engine.whatif.kept_baseline import KeptBaseline  # noqa: E402
from engine.whatif.scenarios import parse_scenario, simulate  # noqa: E402

OUT = ROOT / "benchmarks" / "out"
TARGET_SECONDS = 10.0


def demo_database(contracts: int, seed: int, rebuild: bool) -> tuple[Path, bool]:
    """The cached demo database and whether it had to be built; built into a temporary file first, so a
    half-built one is never used."""
    from bill_run import generator_fingerprint  # the same cache key rule as the bill-run benchmark

    path = OUT / f"backtest_demo_c{contracts}_s{seed}_{generator_fingerprint()}.duckdb"
    if path.exists() and not rebuild:
        return path, False
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=OUT, prefix="backtest-build-") as tmp:
        building = Path(tmp) / path.name
        con = connect(building)
        con.execute("SET enable_progress_bar = false")
        seed_demo(con, contracts=contracts, seed=seed)
        con.execute("CHECKPOINT")
        con.close()
        os.replace(building, path)
    return path, True


def scenarios(churned: list[str]) -> dict:
    """broad: touches (nearly) every contract, so every cycle is rated twice — the headline figure.
    targeted: one product's price; only contracts with that product are rated a second time."""
    return {
        "broad": parse_scenario(
            {
                "name": "API +10%, usage +25%, 1% churn",
                "changes": [
                    {"type": "price", "product": "API calls", "percent": "10"},
                    {"type": "usage", "percent": "25"},
                    {"type": "churn", "contract_ids": churned},
                ],
            }
        ),
        "targeted": parse_scenario(
            {"name": "API calls +10%", "changes": [{"type": "price", "product": "API calls", "percent": "10"}]}
        ),
    }


def results_digest(con) -> str:
    """sha256 of the simulation's comparison rows and tax comparison rows, each ordered by every column: equal
    before and after a change that must not change a result."""
    h = hashlib.sha256()
    for table in ("_scenario_comparison", "_scenario_tax_comparison"):
        for row in con.execute(f"SELECT * FROM {table} ORDER BY ALL").fetchall():  # noqa: S608 (constant table names)
            h.update(repr(row).encode())
    return h.hexdigest()[:16]


def demo_arguments(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The demo's size and seed and the range of cycles, as every what-if benchmark takes them."""
    p.add_argument("--contracts", type=int, default=100_000)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--from", dest="from_date", type=dt.date.fromisoformat, default=dt.date(2026, 1, 1))
    p.add_argument("--to", dest="to_date", type=dt.date.fromisoformat, default=dt.date(2026, 12, 31))
    return p


def kept_rounds(con, runs: dict, args) -> dict:
    """`--kept`: per round, the broad scenario without a store (as the CLI), then a new KeptBaseline and the broad
    scenario (its baseline rated, keyed and kept: what keeping costs a first run), the broad scenario again and the
    targeted one (their baseline restored). Seconds per run, each on its own cursor as the server's requests are;
    with --digest, the digest of every broad run (one: the same results)."""
    names = ("plain_broad_s", "first_broad_s", "again_broad_s", "targeted_s")
    out: dict = {**{name: [] for name in names}, "baseline_kept": [], "digests": set()}
    for _ in range(args.kept):
        kept = KeptBaseline()
        for name, kind in zip(names, ("broad", "broad", "broad", "targeted"), strict=True):
            cur = con.cursor()
            t = time.perf_counter()
            store = None if name == "plain_broad_s" else kept
            summary = simulate(cur, runs[kind], args.from_date, args.to_date, kept=store)
            out[name].append(round(time.perf_counter() - t, 2))
            out["baseline_kept"].append(summary["baseline_kept"])
            if args.digest and kind == "broad":
                out["digests"].add(results_digest(cur))
            cur.close()
        kept.forget(con)
    out["digests"] = sorted(out["digests"])
    return out


def main(argv: list[str] | None = None) -> int:
    p = demo_arguments(argparse.ArgumentParser(description=__doc__.splitlines()[0]))
    p.add_argument("--rebuild", action="store_true", help="regenerate the cached demo database")
    p.add_argument("--csv", action="store_true", help="also write and time comparison.csv")
    p.add_argument(
        "--digest", action="store_true", help="also print a hash of the broad run's comparison and tax rows, ordered"
    )
    p.add_argument(
        "--kept",
        type=int,
        default=0,
        metavar="N",
        help="also N rounds with a kept baseline (engine/whatif/kept_baseline.py, as the server and the workbench "
        "keep one): each a new store, then broad (rated and kept), broad again and targeted (both from the kept one)",
    )
    args = p.parse_args(argv)

    t0 = time.perf_counter()
    path, built = demo_database(args.contracts, args.seed, args.rebuild)
    build_s = time.perf_counter() - t0

    con = connect(path, read_only=True)
    con.execute("SET enable_progress_bar = false")
    sizes = dict(
        zip(
            ("contracts", "order_lines", "usage_rows"),
            con.execute(
                "SELECT (SELECT count(*) FROM contracts), (SELECT count(*) FROM order_lines), "
                "(SELECT count(*) FROM usage)"
            ).fetchone(),
            strict=True,
        )
    )
    churned = [
        r[0]
        for r in con.execute(
            "SELECT contract_id FROM contracts ORDER BY contract_id LIMIT ?", [max(1, args.contracts // 100)]
        ).fetchall()
    ]
    runs, digest = {}, None
    for kind, sc in scenarios(churned).items():
        t1 = time.perf_counter()
        summary = simulate(con, sc, args.from_date, args.to_date)
        seconds = round(time.perf_counter() - t1, 2)
        if args.digest and kind == "broad":
            digest = results_digest(con)
        runs[kind] = {
            "scenario": sc.name,
            "seconds": seconds,
            "cycles_rerated": summary["cycles_rerated"],
            "comparison_rows": summary["rows"],
        }
    simulate_s = runs["broad"]["seconds"]
    result = {
        "benchmark": "backtest",
        "from": str(args.from_date),
        "to": str(args.to_date),
        **sizes,
        "cycles": summary["cycles"],
        "simulate_s": simulate_s,
        "target_s": TARGET_SECONDS,
        "within_target": simulate_s <= TARGET_SECONDS,
        "runs": runs,
        "threads": int(con.execute("SELECT current_setting('threads')").fetchone()[0]),
        "cpus": os.cpu_count(),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "database_built_s": round(build_s, 1) if built else None,
    }
    if digest is not None:
        result["broad_digest"] = digest
    if args.kept:
        result["kept"] = kept_rounds(con, scenarios(churned), args)
    if args.csv:
        t2 = time.perf_counter()
        simulate(con, scenarios(churned)["broad"], args.from_date, args.to_date, out_dir=OUT / "backtest_comparison")
        result["simulate_with_csv_s"] = round(time.perf_counter() - t2, 2)
    con.close()
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
