"""Review benchmark (issues 10, 22): review flags for a whole bill run, the Review page's first render, and
approving every unflagged draft.

    python benchmarks/review.py [--contracts 100000 --usage-rows 10000000 --period-date 2026-03-15] [--no-page]

On the demo database of benchmarks/bill_run.py (the same generation and cache in benchmarks/out/), on a
fresh copy:

  previous_run_s      a bill run of the month before --period-date, so the reviewed drafts have previous
                      invoices to compare with (otherwise every draft is only a first invoice)
  bill_run_s          the bill run of --period-date (its report includes the unbilled cycles)
  review_s            best of 3: engine.review.review(run_id=…) — every flag of every draft of the run, with
                      figures and reasons, and the run scope's unbilled cycles (the ReviewResult of the CLI,
                      HTTP and MCP); review_cpu_s its CPU time (all threads), steadier than wall time on a
                      loaded machine (loadavg_start/_end); review_runs_s every run
  review_table_s      best of 3: engine.review.review_table(run_id=…), the same review as one Arrow table (the
                      columnar result of bulk consumers: the Review page); review_table_cpu_s, _runs_s
  review_period_s     best of 3: review(period_date=…), every draft whose cycle contains the date (period_drafts)
  review_table_period_s  the same as review_table
  drafts, flagged     drafts of the run reviewed, drafts with at least one flag; flag_counts per flag
  page_run_s          best of 3: the Review page's first render (AppTest) of the run: the page opened with its
                      cached reads cleared, so the review is read and its table built; page_run_runs_s
  page_period_s       best of 3: then the page switched to "A period date" (--period-date): that review's
                      first render; page_period_runs_s
  approve_unflagged_s engine.review.approve_unflagged (the selection and the approval, with one audit event
                      per draft, in one transaction), once; approved = how many

Progress goes to stderr; the final JSON line to stdout.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
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

REPEAT = 3


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


def best_of(name: str, fn, figures: dict, log) -> object:
    """Run fn REPEAT times: figures[name + '_s'] the best wall time, [name + '_cpu_s'] the best CPU time (every
    thread), [name + '_runs_s'] each run's wall time. Returns the last result."""
    runs, cpus, result = [], [], None
    for i in range(REPEAT):
        result = None  # the previous result is freed (and collected) before the clock starts, not during the run
        gc.collect()
        t0, c0 = time.perf_counter(), time.process_time()
        result = fn()
        took, cpu = time.perf_counter() - t0, time.process_time() - c0
        runs.append(round(took, 3))
        cpus.append(cpu)
        log(f"{name} #{i + 1}: {took:.3f} s (CPU {cpu:.3f} s, load {os.getloadavg()[0]:.1f})")
    figures[f"{name}_s"] = min(runs)
    figures[f"{name}_cpu_s"] = round(min(cpus), 3)
    figures[f"{name}_runs_s"] = runs
    return result


def page_first_renders(work: Path, period_date: dt.date, figures: dict, log) -> None:
    """The Review page under AppTest on `work`: REPEAT times, with the page's cached reads cleared, the time of
    its first render for the newest run (page_run_s), then of switching it to the period date (page_period_s)."""
    os.environ["BILLSIM_DB"] = str(work)
    import streamlit as st
    from streamlit.logger import set_log_level
    from streamlit.testing.v1 import AppTest

    set_log_level("error")  # no "missing ScriptRunContext" warnings between the progress lines

    from views import _reads

    run_times, period_times = [], []
    for i in range(REPEAT):
        _reads.clear()  # every cached read (the review too): the page reads as on its first visit
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=600)
        at.run()  # the app's first page (Data), not timed
        at.session_state["run_period_date"] = period_date  # the date the period mode starts from
        t0 = time.perf_counter()
        at.switch_page("views/review.py").run()
        run_times.append(round(time.perf_counter() - t0, 3))
        _check(at)
        (mode,) = [w for w in at.radio if w.key == "rv_mode"]
        t0 = time.perf_counter()
        mode.set_value("A period date").run()
        period_times.append(round(time.perf_counter() - t0, 3))
        _check(at)
        log(f"page #{i + 1}: run {run_times[-1]} s, period {period_times[-1]} s (load {os.getloadavg()[0]:.1f})")
    st.cache_resource.clear()
    figures.update(
        page_run_s=min(run_times),
        page_run_runs_s=run_times,
        page_period_s=min(period_times),
        page_period_runs_s=period_times,
    )


def _check(at) -> None:
    """The page rendered the review: no exception, no error box, its grid present."""
    if at.exception or at.error:
        raise SystemExit(f"the Review page failed: {[e.value for e in (*at.exception, *at.error)]}")
    if not any((d.key or "").startswith("rv_table_") for d in at.dataframe):
        raise SystemExit("the Review page shows no review grid")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Review benchmark: flags of a whole run, the page, approve all unflagged.")
    ap.add_argument("--contracts", type=int, default=100_000)
    ap.add_argument("--usage-rows", type=int, default=10_000_000)
    ap.add_argument("--period-date", type=dt.date.fromisoformat, default=dt.date(2026, 3, 15))
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--memory-limit", default=None)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--regenerate", action="store_true")
    ap.add_argument("--no-page", action="store_true", help="skip the Review page's first render (AppTest)")
    ap.add_argument(
        "--adjustments",
        choices=("none", "demo", "every"),
        default="demo",
        help="taxes and coupons in the demo data (as benchmarks/bill_run.py): none, billsim demo's (default), every",
    )
    args = ap.parse_args(argv)

    bench = _bill_run_bench()
    log = bench.log
    base, _ = bench.cached_database(args)
    work = bench.OUT / "review_work.duckdb"
    for p in (work, Path(str(work) + ".wal")):
        p.unlink(missing_ok=True)
    shutil.copyfile(base, work)

    import engine.review as engine_review
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

    result = best_of("review", lambda: review(con, run_id=report.run_id), figures, log)
    figures.update(
        drafts=len(result.drafts),
        flagged=sum(1 for d in result.drafts if d.flags),
        flag_counts=result.flag_counts,
    )
    columnar = getattr(engine_review, "review_table", None)  # absent before issue 22
    if columnar is not None:
        best_of("review_table", lambda: columnar(con, run_id=report.run_id), figures, log)
    period = best_of("review_period", lambda: review(con, period_date=args.period_date), figures, log)
    figures["period_drafts"] = len(period.drafts)
    if columnar is not None:
        best_of("review_table_period", lambda: columnar(con, period_date=args.period_date), figures, log)
    con.close()
    del result, period

    if not args.no_page:
        page_first_renders(work, args.period_date, figures, log)

    con = connect(work)
    bench.configure(con, args.memory_limit, args.threads, bench.OUT)
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
