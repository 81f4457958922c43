"""Bill-run benchmark (issue 4): the engine against the floor and an independent pandas implementation.

    python benchmarks/bill_run.py [--contracts 100000 --usage-rows 10000000 --period-date 2026-03-15]
    python benchmarks/bill_run.py --contracts 1000000 --usage-rows 100000000      # the large case

One run, on a generated demo database (engine.ingest.demo.seed_demo, cached in benchmarks/out/):

  floor_s       best of 3: bare DuckDB SUM(quantity) GROUP BY contract_id, metric over the usage of the
                period date's calendar month (result fetched as an Arrow table)
  scan_floor_s  best of 3 (issue 13): bare SELECT contract_id, metric, SUM(quantity) FROM usage
                WHERE status = 'approved' GROUP BY ALL over the whole usage table, on a read-only connection
                to the same (cached) database, result fetched; ratio_to_scan_floor = bill_run_s / scan_floor_s
  bill_run_s    engine.billing.bill_run.bill_run for the period of --period-date on a fresh copy of the database
                (no invoice exists yet) + engine.io.export.export_ledger to CSV; also split into
                bill_run_only_s and export_s
  pandas_s      benchmarks/pandas_reference.py (vectorized pandas, written from the spec, no engine rating
                code) computing the same invoices, in a subprocess (its own peak RSS: pandas_peak_rss_mb)
  totals_match  every invoice equal on both sides: the same (contract, period), currency, subtotal, tax and
                total in minor units, and the same number of lines. A mismatch prints the first cases and
                the script exits 1.
  preview_ms    median of 20 engine.billing.invoices.preview_invoice calls (20 different contracts), big database
  rating_only_s the same period rated again with nothing stored (targets + rate_targets), for
                rating_speedup_vs_pandas = pandas_s / rating_only_s: like for like with the reference
  peak_rss_mb   peak RSS of this process (floors, bill run, export, preview); generation and pandas run in
                subprocesses and are not in it

Progress goes to stderr, one `partial:` JSON line after each step (so a run cut short still tells what it
measured), and the final JSON line on stdout. The bill run is made without delayed charges (the pandas
reference does not sweep them).

Taxes and coupons (spec section 11, issue 19): `--adjustments none|demo|every` picks the demo data (the single
tax_rate only; `billsim demo`'s taxes and coupons on some contracts, the default; tax codes and coupons on every
contract). `--adjustments-ratio` instead measures, in one run, bill run + export on the same data generated
WITH taxes and coupons on every contract and WITHOUT them (`every` / `none`, the same seed and sizes),
alternately `--repeat` times each on fresh copies, and the preview median on both:

  {"without_s": [...], "with_s": [...], "ratio": best with ÷ best without, "preview_without_ms",
   "preview_with_ms", "preview_delta_ms", "invoices", "discounted_invoices", …}
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

OUT = HERE / "out"
LARGE_ROWS = 50_000_000  # from this size on, a DuckDB memory_limit is set by default (spilling)
# DuckDB's memory_limit bounds its buffer pool only; the process also holds Python, Arrow results and the
# allocations outside the pool. 2.5GB (2.3 GiB) keeps the whole process under 3 GiB at 1M / 100M (issue 13:
# peak RSS 2.6 GB); with 3GB (2.8 GiB) it peaked at 3.0 GiB, and it was not faster.
DEFAULT_LARGE_MEMORY_LIMIT = "2.5GB"
_SETTING = re.compile(r"^[0-9]+(\.[0-9]+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)$", re.IGNORECASE)


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # Linux: KiB


def generator_fingerprint() -> str:
    """Short hash of the code that shapes the generated database: reuse a cache only if it matches."""
    h = hashlib.sha256()
    for name in ("ingest/demo.py", "ingest/importer.py", "ingest/import_rules.py", "schema.py"):
        h.update((ROOT / "engine" / name).read_bytes())  # a missing file fails here, never hashes as nothing
    return h.hexdigest()[:10]


# ------------------------------------------------------------------------------------------ generation
def generate(
    path: Path, contracts: int, usage_rows: int, seed: int, memory_limit: str | None, adjustments: str
) -> None:
    """(subprocess) a fresh database at `path` with the demo data of that size."""
    from engine.db import connect
    from engine.ingest.demo import seed_demo

    con = connect(path)
    configure(con, memory_limit, None, path.parent)
    counts = seed_demo(con, contracts=contracts, usage_rows=usage_rows, seed=seed, adjustments=adjustments)
    con.execute("CHECKPOINT")
    con.close()
    print(json.dumps(counts), flush=True)


def cached_database(args, adjustments: str | None = None) -> tuple[Path, float | None]:
    adjustments = adjustments or args.adjustments
    OUT.mkdir(parents=True, exist_ok=True)
    name = f"demo_c{args.contracts}_u{args.usage_rows}_s{args.seed}_{adjustments}_{generator_fingerprint()}.duckdb"
    path = OUT / name
    if path.exists() and not args.regenerate:
        log(f"reusing cached database {path.relative_to(ROOT)} ({path.stat().st_size / 2**30:.2f} GiB)")
        return path, None
    tmp = path.with_suffix(".generating")
    for p in (tmp, Path(str(tmp) + ".wal")):
        p.unlink(missing_ok=True)
    log(f"generating {args.contracts:,} contracts / {args.usage_rows:,} usage rows (seed {args.seed}) ...")
    t0 = time.perf_counter()
    cmd = [
        sys.executable,
        __file__,
        "--_generate",
        str(tmp),
        "--contracts",
        str(args.contracts),
        "--usage-rows",
        str(args.usage_rows),
        "--seed",
        str(args.seed),
        "--adjustments",
        adjustments,
    ]
    if args.memory_limit:
        cmd += ["--memory-limit", args.memory_limit]
    subprocess.run(cmd, check=True, cwd=ROOT, stdout=sys.stderr)  # stdout is for the final JSON line only
    seconds = time.perf_counter() - t0
    tmp.rename(path)  # only a complete database becomes the cache
    log(f"generated in {seconds:.1f} s: {path.relative_to(ROOT)} ({path.stat().st_size / 2**30:.2f} GiB)")
    return path, seconds


def _table_counts(path: Path) -> dict[str, int]:
    import duckdb

    con = duckdb.connect(str(path), read_only=True)
    try:
        return {t: con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0] for t in ("contracts", "usage")}
    finally:
        con.close()


def configure(con, memory_limit: str | None, threads: int | None, spill_dir: Path) -> None:
    if memory_limit:
        if not _SETTING.match(memory_limit):
            raise SystemExit(f"--memory-limit {memory_limit!r}: use e.g. 3GB")
        spill = spill_dir / "bill_run_spill"
        spill.mkdir(parents=True, exist_ok=True)
        con.execute(f"SET memory_limit = '{memory_limit}'")
        con.execute(f"SET temp_directory = '{spill}'")
    if threads:
        con.execute(f"SET threads = {int(threads)}")


# ------------------------------------------------------------------------------------------ measuring
def month_bounds(d: dt.date) -> tuple[dt.date, dt.date]:
    first = d.replace(day=1)
    nxt = (first + dt.timedelta(days=32)).replace(day=1)
    return first, nxt - dt.timedelta(days=1)


def measure_floor(con, period_date: dt.date) -> tuple[float, int]:
    lo, hi = month_bounds(period_date)
    sql = (
        f"SELECT contract_id, metric, SUM(quantity) FROM usage "
        f"WHERE usage_date BETWEEN DATE '{lo.isoformat()}' AND DATE '{hi.isoformat()}' GROUP BY ALL"
    )
    best, rows = float("inf"), 0
    for i in range(3):
        t0 = time.perf_counter()
        rows = con.sql(sql).to_arrow_table().num_rows
        best = min(best, time.perf_counter() - t0)
        log(f"floor #{i + 1}: {time.perf_counter() - t0:.3f} s ({rows:,} groups)")
    return best, rows


SCAN_FLOOR_SQL = "SELECT contract_id, metric, SUM(quantity) FROM usage WHERE status = 'approved' GROUP BY ALL"


def measure_scan_floor(db: Path, memory_limit: str | None, threads: int | None) -> tuple[float, int]:
    """Issue 13's fair floor: the whole usage table's approved quantities per (contract, metric), fetched."""
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    try:
        configure(con, memory_limit, threads, OUT)
        best, rows = float("inf"), 0
        for i in range(3):
            t0 = time.perf_counter()
            rows = con.sql(SCAN_FLOOR_SQL).to_arrow_table().num_rows
            seconds = time.perf_counter() - t0
            best = min(best, seconds)
            log(f"scan floor #{i + 1}: {seconds:.3f} s ({rows:,} groups)")
        return best, rows
    finally:
        con.close()


def engine_invoices(con, run_id: str):
    return con.execute(
        """SELECT i.contract_id, i.currency, i.period_start::VARCHAR AS period_start,
                  i.period_end::VARCHAR AS period_end, i.subtotal_minor, i.tax_minor, i.total_minor, i.discount_minor,
                  (SELECT count(*) FROM invoice_lines l WHERE l.invoice_id = i.invoice_id) AS n_lines
           FROM invoices i WHERE i.run_id = ? ORDER BY i.contract_id""",
        [run_id],
    ).df()


def compare(engine, ref) -> tuple[bool, bool, list[str]]:
    """(totals_match, lines_match, first mismatches as text)."""
    import pandas as pd

    ref = ref.assign(
        period_start=ref["period_start"].dt.strftime("%Y-%m-%d"), period_end=ref["period_end"].dt.strftime("%Y-%m-%d")
    )
    keys = ["contract_id"]
    cols = [
        "currency",
        "period_start",
        "period_end",
        "subtotal_minor",
        "tax_minor",
        "total_minor",
        "discount_minor",
        "n_lines",
    ]
    m = engine[keys + cols].merge(
        ref[keys + cols], on=keys, how="outer", suffixes=("_engine", "_pandas"), indicator=True
    )
    only = m["_merge"] != "both"
    differs = pd.Series(False, index=m.index)
    for c in cols[:-1]:
        a, b = m[f"{c}_engine"].astype(object), m[f"{c}_pandas"].astype(object)
        differs |= ~only & (a != b)
    lines_differ = ~only & (m["n_lines_engine"].astype(object) != m["n_lines_pandas"].astype(object))
    out = []
    for _, r in m[only | differs | lines_differ].head(20).iterrows():
        if r["_merge"] == "left_only":
            out.append(
                f"{r.contract_id}: invoice only in the engine "
                f"({r.period_start_engine}..{r.period_end_engine}, total {r.total_minor_engine})"
            )
        elif r["_merge"] == "right_only":
            out.append(
                f"{r.contract_id}: invoice only in pandas "
                f"({r.period_start_pandas}..{r.period_end_pandas}, total {r.total_minor_pandas})"
            )
        else:
            diffs = [
                f"{c} engine={r[f'{c}_engine']} pandas={r[f'{c}_pandas']}"
                for c in cols
                if r[f"{c}_engine"] != r[f"{c}_pandas"]
            ]
            head = f"{r.contract_id} ({r.period_start_engine}..{r.period_end_engine}, {r.currency_engine})"
            out.append(head + ": " + "; ".join(diffs))
    n_bad = int((only | differs).sum())
    n_lines_bad = int(lines_differ.sum())
    if n_bad or n_lines_bad:
        out.insert(
            0,
            f"{n_bad} invoice(s) differ in totals/period/presence, {n_lines_bad} in line count "
            f"(engine {len(engine):,} invoices, pandas {len(ref):,})",
        )
    return n_bad == 0, n_lines_bad == 0, out


def run_pandas(db: Path, period_date: dt.date) -> dict:
    out = OUT / "bill_run_pandas_invoices.pkl"
    cmd = [
        sys.executable,
        str(HERE / "pandas_reference.py"),
        "--db",
        str(db),
        "--period-date",
        period_date.isoformat(),
        "--out",
        str(out),
    ]
    done = subprocess.run(cmd, check=True, cwd=ROOT, capture_output=True, text=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    import pandas as pd

    result["frame"] = pd.read_pickle(out)
    return result


def measure_preview(con, run_id: str, period_date: dt.date, calls: int = 20) -> float:
    from engine.billing.invoices import preview_invoice

    ids = [
        r[0]
        for r in con.execute(
            f"SELECT contract_id FROM invoices WHERE run_id = ? ORDER BY hash(contract_id) LIMIT {int(calls)}", [run_id]
        ).fetchall()
    ]
    times = []
    for cid in ids:
        t0 = time.perf_counter()
        preview_invoice(con, cid, period_date)
        times.append((time.perf_counter() - t0) * 1000)
    return round(statistics.median(times), 1) if times else float("nan")


def measure_rating_only(con, period_date: dt.date) -> float:
    """The engine's rating of the period alone (targets -> rated lines and invoice totals, with every
    line's breakdown), nothing stored, no export: the work the pandas reference does, and more."""
    from engine.rating.pipeline import rate_targets
    from engine.rating.targets import targets_for_date

    t0 = time.perf_counter()
    targets_for_date(con, period_date)
    rate_targets(con)
    return time.perf_counter() - t0


def _timed_run(base: Path, args, period_date: dt.date) -> tuple[float, float, str, dict]:
    """bill run + export on a fresh copy of `base`: (seconds, preview median ms, label, figures)."""
    from engine.billing.bill_run import bill_run
    from engine.db import connect
    from engine.io.export import export_ledger

    work = OUT / "bill_run_work.duckdb"
    for p in (work, Path(str(work) + ".wal")):
        p.unlink(missing_ok=True)
    shutil.copyfile(base, work)
    con = connect(work)
    configure(con, args.memory_limit, args.threads, OUT)
    t0 = time.perf_counter()
    report = bill_run(con, period_date)
    export_dir = OUT / "bill_run_export"
    shutil.rmtree(export_dir, ignore_errors=True)
    export_ledger(con, export_dir, "csv")
    seconds = time.perf_counter() - t0
    preview = measure_preview(con, report.run_id, period_date)
    discounted = con.execute("SELECT count(*) FROM invoices WHERE discount_minor > 0").fetchone()[0]
    taxes = con.execute("SELECT count(*) FROM invoice_taxes").fetchone()[0]
    con.close()
    figures = {"invoices": report.drafted, "discounted_invoices": discounted, "tax_rows": taxes}
    return seconds, preview, f"{report.drafted:,} invoices", figures


def adjustments_ratio(args) -> dict:
    """Issue 19: bill run + export with taxes and coupons on every contract ÷ the same run without them,
    alternately on the two generated databases (same sizes and seed), best of `--repeat` each."""
    bases = {side: cached_database(args, side)[0] for side in ("none", "every")}
    figures: dict = {
        "contracts": args.contracts,
        "usage_rows": args.usage_rows,
        "period_date": args.period_date.isoformat(),
        "cpus": os.cpu_count(),
        "loadavg_start": round(os.getloadavg()[0], 2),
        "without_s": [],
        "with_s": [],
        "preview_without_ms": [],
        "preview_with_ms": [],
    }
    for n in range(args.repeat):
        for side, key in (("none", "without"), ("every", "with")):
            seconds, preview, label, extra = _timed_run(bases[side], args, args.period_date)
            log(f"{key} taxes and coupons #{n + 1}: bill run + export {seconds:.2f} s ({label}); preview {preview} ms")
            figures[f"{key}_s"].append(round(seconds, 3))
            figures[f"preview_{key}_ms"].append(preview)
            figures[f"{key}_figures"] = extra
            print("partial: " + json.dumps(figures), file=sys.stderr, flush=True)
    best = {k: min(figures[f"{k}_s"]) for k in ("without", "with")}
    preview = {k: statistics.median(figures[f"preview_{k}_ms"]) for k in ("without", "with")}
    figures |= {
        "ratio": round(best["with"] / best["without"], 3),
        "preview_delta_ms": round(preview["with"] - preview["without"], 1),
        "loadavg_end": round(os.getloadavg()[0], 2),
    }
    return figures


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Bill-run benchmark: engine vs floor vs pandas (issue 4).")
    ap.add_argument("--contracts", type=int, default=100_000)
    ap.add_argument("--usage-rows", type=int, default=10_000_000)
    ap.add_argument("--period-date", type=dt.date.fromisoformat, default=dt.date(2026, 3, 15))
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument(
        "--memory-limit",
        default=None,
        help=f"DuckDB memory_limit (spills to benchmarks/out/bill_run_spill); default "
        f"{DEFAULT_LARGE_MEMORY_LIMIT} from {LARGE_ROWS:,} usage rows on, else DuckDB's own",
    )
    ap.add_argument("--threads", type=int, default=None, help="DuckDB threads (default: DuckDB's)")
    ap.add_argument("--skip-pandas", action="store_true", help="no pandas reference (then totals_match is null)")
    ap.add_argument("--regenerate", action="store_true", help="regenerate the cached database")
    ap.add_argument(
        "--db", type=Path, default=None, help="use this demo database (never written) instead of the generated cache"
    )
    ap.add_argument(
        "--adjustments",
        choices=("none", "demo", "every"),
        default="demo",
        help="taxes and coupons in the demo data: none, billsim demo's (default), on every contract",
    )
    ap.add_argument(
        "--adjustments-ratio",
        action="store_true",
        help="measure bill run + export with taxes and coupons on every contract against the same data without",
    )
    ap.add_argument("--repeat", type=int, default=2, help="runs of each side with --adjustments-ratio")
    ap.add_argument("--_generate", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.memory_limit is None and args.usage_rows >= LARGE_ROWS:
        args.memory_limit = DEFAULT_LARGE_MEMORY_LIMIT
    if args._generate:
        generate(Path(args._generate), args.contracts, args.usage_rows, args.seed, args.memory_limit, args.adjustments)
        return 0
    if args.adjustments_ratio:
        print(json.dumps(adjustments_ratio(args)), flush=True)
        return 0

    figures: dict = {
        "contracts": args.contracts,
        "usage_rows": args.usage_rows,
        "period_date": args.period_date.isoformat(),
        "cpus": os.cpu_count(),
        "loadavg_start": round(os.getloadavg()[0], 2),
        "adjustments": args.adjustments,
    }

    def partial(**kv) -> None:
        figures.update(kv)
        print("partial: " + json.dumps(figures, default=str), file=sys.stderr, flush=True)

    if args.db:
        base, gen_s = args.db, None
        counts = _table_counts(base)
        log(f"using {base} as it is: {counts}")
        figures.update(contracts=counts["contracts"], usage_rows=counts["usage"])
    else:
        base, gen_s = cached_database(args)
    if gen_s is not None:
        partial(generate_s=round(gen_s, 1))

    scan_floor_s, scan_floor_groups = measure_scan_floor(base, args.memory_limit, args.threads)
    partial(scan_floor_s=round(scan_floor_s, 3), scan_floor_groups=scan_floor_groups)

    # A fresh copy: the bill run finds no invoice, and the cache stays untouched.
    work = OUT / "bill_run_work.duckdb"
    for p in (work, Path(str(work) + ".wal")):
        p.unlink(missing_ok=True)
    t0 = time.perf_counter()
    shutil.copyfile(base, work)
    log(f"copied the database in {time.perf_counter() - t0:.1f} s")

    from engine.billing.bill_run import bill_run
    from engine.db import connect
    from engine.io.export import export_ledger

    con = connect(work)
    configure(con, args.memory_limit, args.threads, OUT)
    settings = con.execute("SELECT current_setting('memory_limit'), current_setting('threads')").fetchall()[0]
    log(f"DuckDB memory_limit={settings[0]} threads={settings[1]}")
    partial(memory_limit=settings[0], threads=int(settings[1]))

    floor_s, floor_groups = measure_floor(con, args.period_date)
    partial(floor_s=round(floor_s, 3), floor_groups=floor_groups)

    def progress(done: float, label: str) -> None:
        log(f"bill run {done:4.0%} {label}")

    t0 = time.perf_counter()
    report = bill_run(con, args.period_date, progress=progress)
    t1 = time.perf_counter()
    export_dir = OUT / "bill_run_export"
    shutil.rmtree(export_dir, ignore_errors=True)
    export_ledger(con, export_dir, "csv")
    t2 = time.perf_counter()
    bill_run_s = t2 - t0
    log(
        f"bill run {t1 - t0:.2f} s ({report.drafted:,} drafted, {report.nothing_to_bill:,} nothing to bill, "
        f"{len(report.failed)} failed); export {t2 - t1:.2f} s"
    )
    if report.failed:
        log(f"FAILED contracts: {[f.model_dump() for f in report.failed[:5]]}")
    partial(
        bill_run_s=round(bill_run_s, 3),
        bill_run_only_s=round(t1 - t0, 3),
        export_s=round(t2 - t1, 3),
        ratio_to_floor=round(bill_run_s / floor_s, 2),
        ratio_to_scan_floor=round(bill_run_s / scan_floor_s, 2),
        invoices=report.drafted,
        failed_contracts=len(report.failed),
        peak_rss_mb=peak_rss_mb(),
    )

    preview_ms = measure_preview(con, report.run_id, args.period_date)
    log(f"preview median {preview_ms} ms")
    partial(preview_ms=preview_ms, peak_rss_mb=peak_rss_mb())
    rating_only_s = measure_rating_only(con, args.period_date)
    log(f"rating only (what the pandas reference computes, nothing stored) {rating_only_s:.2f} s")
    partial(rating_only_s=round(rating_only_s, 3), peak_rss_mb=peak_rss_mb())
    engine_frame = engine_invoices(con, report.run_id)
    con.close()

    totals_match = None
    if not args.skip_pandas:
        log("pandas reference (subprocess) ...")
        ref = run_pandas(base, args.period_date)
        log(f"pandas {ref['pandas_s']:.2f} s, {ref['invoices']:,} invoices, peak RSS {ref['peak_rss_mb']} MB")
        totals_match, lines_match, problems = compare(engine_frame, ref["frame"])
        for p in problems:
            log("MISMATCH " + p)
        partial(
            pandas_s=ref["pandas_s"],
            speedup_vs_pandas=round(ref["pandas_s"] / bill_run_s, 2),
            rating_speedup_vs_pandas=round(ref["pandas_s"] / rating_only_s, 2),
            pandas_peak_rss_mb=ref["peak_rss_mb"],
            totals_match=totals_match,
            line_counts_match=lines_match,
        )
        totals_match = totals_match and lines_match

    keys = [
        "contracts",
        "usage_rows",
        "bill_run_s",
        "export_s",
        "floor_s",
        "ratio_to_floor",
        "scan_floor_s",
        "ratio_to_scan_floor",
        "pandas_s",
        "rating_only_s",
        "rating_speedup_vs_pandas",
        "speedup_vs_pandas",
        "preview_ms",
        "peak_rss_mb",
        "totals_match",
    ]
    final = {k: figures.get(k) for k in keys}
    final |= {k: v for k, v in figures.items() if k not in final}
    final["totals_match"] = totals_match
    final["loadavg_end"] = round(os.getloadavg()[0], 2)
    print(json.dumps(final), flush=True)
    if totals_match is False:
        log("FAIL: the pandas reference and the engine disagree (see MISMATCH lines above)")
        return 1
    return 0


if __name__ == "__main__":
    os.chdir(ROOT)
    sys.exit(main())
