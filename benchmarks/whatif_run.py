#!/usr/bin/env python3
"""What one "Run scenario" of the What-if page costs (issue 22): before, the simulation then the waterfall by change
(two calls, each rating the baseline), after, the one call that rates the baseline once, and staged, that call in
two stages as the page makes it now (the results first, then the waterfall's steps), with its wait for the results.

    .venv/bin/python benchmarks/whatif_run.py                       # 100,000 contracts, cycles of 2026, 3 pairs
    .venv/bin/python benchmarks/whatif_run.py --contracts 2000      # a quick run
    BILLSIM_ROOT=../other /path/to/.venv/bin/python benchmarks/whatif_run.py --sides before   # another checkout
    .venv/bin/python benchmarks/whatif_run.py --sides staged,kept   # the page's first Run against a second one

The demo database and the scenario are the backtest's (benchmarks/backtest.py: cached, opened READ-ONLY; the broad
scenario: API calls +10 %, usage +25 %, 1 % of the contracts churned). In ONE process, the sides alternate
`--pairs` times (before, after, staged, before, ...), each timed in wall and CPU seconds (the process's, every
DuckDB thread included), both writing comparison.csv as the page does; the results of each pair are checked equal
(summary, comparison rows, tax rows, every waterfall step, comparison.csv) outside the timing. Printed: one JSON line
per run, then one with the best of each and their ratio. `BILLSIM_ROOT` times another checkout's engine with this
script (`--sides before` for a checkout without the one call).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(os.environ.get("BILLSIM_ROOT") or Path(__file__).resolve().parent.parent).resolve()
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import pandas as pd  # noqa: E402 - after the path set-up, so the script times the chosen checkout
from backtest import demo_arguments, demo_database, scenarios  # noqa: E402

from engine.db import connect  # noqa: E402
from engine.whatif.kept_baseline import KeptBaseline  # noqa: E402
from engine.whatif.scenarios import run_simulation, simulation_stages, waterfall_by_change  # noqa: E402


def before(con, sc, from_date, to_date, out: Path):
    """Main's page: the simulation (with comparison.csv), then the waterfall by change, each from its own baseline."""
    sim = run_simulation(con, sc, from_date, to_date, out_dir=out)
    return sim, waterfall_by_change(con, sc, from_date, to_date)


def after(con, sc, from_date, to_date, out: Path):
    """The one call: one baseline, the steps 1..N−1, the scenario (its rating read by the comparison and step N)."""
    sim = run_simulation(con, sc, from_date, to_date, out_dir=out, by_change=True)
    return sim, sim.waterfall


FIRST: dict[str, float] = {}  # per staged side, its wall seconds to its first stage (the results on the page)
KEPT = KeptBaseline()  # the `kept` side's, as the page's application keeps one: primed by a run before the pairs


def staged(con, sc, from_date, to_date, out: Path, kept: KeptBaseline | None = None, side: str = "staged"):
    """The page since the results come first: the comparison (first stage, timed), then the waterfall's steps."""
    t0 = time.perf_counter()
    stages = simulation_stages(con, sc, from_date, to_date, out_dir=out, by_change=True, kept=kept)
    next(stages)
    FIRST[side] = round(time.perf_counter() - t0, 2)
    *_, sim = stages
    return sim, sim.waterfall


def kept(con, sc, from_date, to_date, out: Path):
    """The page's Run again over the same data and range (issue 22): staged, the baseline the one the application
    kept from the run before instead of rated again."""
    return staged(con, sc, from_date, to_date, out, kept=KEPT, side="kept")


def timed(f):
    wall, cpu = time.perf_counter(), time.process_time()
    out = f()
    return out, round(time.perf_counter() - wall, 2), round(time.process_time() - cpu, 2)


def same(a, b) -> bool:
    """Equal figures: the summary but its seconds and csv path, the rows, the tax rows, the steps, the csv."""
    (sim_a, steps_a, csv_a), (sim_b, steps_b, csv_b) = a, b
    drop = ("seconds", "comparison_csv", "baseline_kept")
    if {k: v for k, v in sim_a.summary.items() if k not in drop} != {
        k: v for k, v in sim_b.summary.items() if k not in drop
    }:
        return False
    try:
        pd.testing.assert_frame_equal(sim_a.rows, sim_b.rows)
        pd.testing.assert_frame_equal(sim_a.tax_rows, sim_b.tax_rows)
        pd.testing.assert_frame_equal(steps_a, steps_b)
    except AssertionError:
        return False
    return csv_a == csv_b


def main(argv: list[str] | None = None) -> int:
    p = demo_arguments(argparse.ArgumentParser(description=__doc__.splitlines()[0]))
    p.add_argument("--pairs", type=int, default=3, help="alternations of the sides in this process")
    p.add_argument(
        "--sides",
        default="before,after,staged",
        help="the sides to alternate, of before, after, staged, kept (main's code before the one call: --sides "
        "before; kept: staged with the baseline kept by a run before, the page's second Run)",
    )
    args = p.parse_args(argv)

    path, _ = demo_database(args.contracts, args.seed, rebuild=False)
    con = connect(path, read_only=True)
    con.execute("SET enable_progress_bar = false")
    churned = [
        r[0]
        for r in con.execute(
            "SELECT contract_id FROM contracts ORDER BY contract_id LIMIT ?", [max(1, args.contracts // 100)]
        ).fetchall()
    ]
    sc = scenarios(churned)["broad"]
    sides = {"before": before, "after": after, "staged": staged, "kept": kept}
    order = [side for side in args.sides.split(",") if side in sides]
    if "kept" in order:  # the run before the page's second Run, which keeps its baseline (not timed)
        run_simulation(con, sc, *dates(args), kept=KEPT)
    best: dict[str, list[float]] = {}
    equal = True
    with tempfile.TemporaryDirectory(prefix="whatif-run-") as tmp:
        for pair in range(args.pairs):
            results = {}
            for side in order:
                out = Path(tmp) / f"{side}{pair}"
                (sim, steps), wall, cpu = timed(lambda side=side, out=out: sides[side](con, sc, *dates(args), out))
                results[side] = (sim, steps, (out / "comparison.csv").read_bytes())
                print(
                    json.dumps(
                        {
                            "benchmark": "whatif_run",
                            "side": side,
                            "pair": pair,
                            "root": str(ROOT),
                            "wall_s": wall,
                            "cpu_s": cpu,
                            "summary_seconds": sim.summary["seconds"],
                            **({"first_results_s": FIRST[side]} if side in FIRST else {}),
                            "baseline_kept": sim.summary.get("baseline_kept"),
                            "load_average_1m": round(os.getloadavg()[0], 2),
                        }
                    ),
                    flush=True,
                )
                best[side] = [min(wall, best.get(side, [wall, cpu])[0]), min(cpu, best.get(side, [wall, cpu])[1])]
                if side in FIRST:
                    first = f"{side}_first_results"
                    best[first] = [min(FIRST.pop(side), best.get(first, [99e9])[0])]
            equal = equal and all(same(results[order[0]], results[side]) for side in order[1:])
    result = {
        "benchmark": "whatif_run",
        "contracts": args.contracts,
        "cycles": sim.summary["cycles"],
        "changes": len(sc.changes),
        "comparison_rows": sim.summary["rows"],
        "pairs": args.pairs,
        "best_wall_cpu_s": best,
        "load_average_1_5_15": [round(x, 2) for x in os.getloadavg()],
        "cpus": os.cpu_count(),
        "threads": int(con.execute("SELECT current_setting('threads')").fetchone()[0]),
    }
    if "before" in best and "after" in best:
        result["after_over_before_wall"] = round(best["after"][0] / best["before"][0], 3)
        result["after_over_before_cpu"] = round(best["after"][1] / best["before"][1], 3)
    if "staged" in best:
        # the page's wait for its results, to the whole one call's and to the two calls' of main's page before
        for side in ("after", "before"):
            if side in best:
                result[f"first_results_over_{side}_wall"] = round(best["staged_first_results"][0] / best[side][0], 3)
    if "kept" in best and "staged" in best:  # the page's second Run to its first, whole and to its results
        result["kept_over_staged_wall"] = round(best["kept"][0] / best["staged"][0], 3)
        result["kept_first_results_over_staged_first_results"] = round(
            best["kept_first_results"][0] / best["staged_first_results"][0], 3
        )
    if len(order) > 1:
        result["same_figures"] = equal
    con.close()
    print(json.dumps(result))
    return 0 if equal else 1


def dates(args) -> tuple[dt.date, dt.date]:
    return args.from_date, args.to_date


if __name__ == "__main__":
    sys.exit(main())
