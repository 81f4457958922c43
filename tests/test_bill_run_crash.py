"""Crash safety and concurrency of bill runs, with real processes.

seed ── copy ──► clean.duckdb : billsim run (to completion)              = the reference
     └─ copy ──► crashed.duckdb: a run killed -9 at each named stage, then billsim run again
                 after every kill: the database is consistent, and holds none of the run (killed before
                 its COMMIT) or all of it (after); at the end it equals the reference

No sleeps: a run is stopped at a stage by its own progress callback (the engine names its stages,
"committing" being the last one inside the run's transaction), and a process holding the database
keeps it until the test closes its stdin.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from helpers_data import held_by_another_process

from engine.billing.bill_run import bill_run
from engine.db import connect
from engine.ingest.demo import seed_demo

ROOT = Path(__file__).resolve().parent.parent
PERIOD = "2026-03-15"
CLI = [sys.executable, "-m", "engine"]


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    path = tmp_path_factory.mktemp("crash") / "seed.duckdb"
    con = connect(path)
    seed_demo(con, contracts=4000, usage_rows=400_000, seed=11)
    con.execute("CHECKPOINT")
    con.close()
    return path


def _copy(src, dst):
    shutil.copy(src, dst)
    return dst


def _run_cli(db, *extra, wait=None, **kw):
    args = [*CLI, "--db", str(db)]
    if wait is not None:
        args += ["--wait", str(wait)]
    args += ["run", "--period-date", PERIOD, "--include-delayed-charges", "--finalize", "--quiet", *extra]
    return subprocess.run(args, capture_output=True, text=True, timeout=300, **kw)


def _consistency_problems(db) -> list[str]:
    con = connect(db)
    try:
        problems = []
        bad_sums = con.execute(
            """SELECT i.invoice_id FROM invoices i LEFT JOIN invoice_lines l USING (invoice_id)
               GROUP BY i.invoice_id, i.subtotal_minor, i.discount_minor, i.tax_minor, i.total_minor
               HAVING coalesce(sum(l.amount_minor), 0) <> i.subtotal_minor OR count(l.invoice_id) = 0
                   OR coalesce(sum(l.discount_minor), 0) <> i.discount_minor
                   OR i.subtotal_minor - i.discount_minor + i.tax_minor <> i.total_minor"""
        ).fetchall()
        if bad_sums:
            problems.append(f"{len(bad_sums)} invoices whose lines do not make their totals")
        orphan_sweeps = con.execute(
            """SELECT s.charge_id FROM delayed_charge_sweeps s
               WHERE NOT EXISTS (SELECT 1 FROM invoice_lines l WHERE l.charge_id = s.charge_id
                                 AND l.invoice_id = s.invoice_id)"""
        ).fetchall()
        if orphan_sweeps:
            problems.append(f"{len(orphan_sweeps)} charges marked swept but on no invoice")
        unmarked = con.execute(
            """SELECT l.charge_id FROM invoice_lines l WHERE l.kind = 'delayed_charge'
               AND l.charge_id NOT IN (SELECT charge_id FROM delayed_charge_sweeps)"""
        ).fetchall()
        if unmarked:
            problems.append(f"{len(unmarked)} charges on an invoice but still pending")
        twice = con.execute("""SELECT charge_id FROM invoice_lines WHERE kind = 'delayed_charge'
                               GROUP BY charge_id HAVING count(*) > 1""").fetchall()
        if twice:
            problems.append(f"{len(twice)} charges billed twice")
        dup = con.execute("""SELECT contract_id, period_start FROM invoices WHERE status <> 'void'
                             AND contract_id IS NOT NULL GROUP BY ALL HAVING count(*) > 1""").fetchall()
        if dup:
            problems.append(f"{len(dup)} cycles with two non-void invoices")
        numbers = con.execute("""SELECT business_id, count(*), min(number), max(number),
                                        count(DISTINCT number) FROM invoices
                                 WHERE number IS NOT NULL GROUP BY ALL""").fetchall()
        for biz, n, lo, hi, distinct in numbers:
            if (lo, hi, distinct) != (1, n, n):
                problems.append(f"numbers of {biz} are not 1..{n} without gaps")
        return problems
    finally:
        con.close()


def _ledger(db) -> list[tuple]:
    con = connect(db)
    try:
        heads = con.execute(
            """SELECT contract_id, period_start, status, number, subtotal_minor, tax_minor, total_minor
               FROM invoices ORDER BY contract_id, period_start"""
        ).fetchall()
        lines = con.execute(
            """SELECT i.contract_id, l.line_no, l.line_id, l.kind, l.charge_id, l.amount_minor
               FROM invoice_lines l JOIN invoices i USING (invoice_id)
               ORDER BY i.contract_id, l.line_no"""
        ).fetchall()
        pending = con.execute("SELECT count(*) FROM delayed_charge_sweeps").fetchone()
        return [heads, lines, pending]
    finally:
        con.close()


# A bill run in its own process that stops at the first progress stage starting with argv[2]: it prints the
# label and waits on stdin, so the test kills it exactly there, however fast or slow the machine is.
PAUSING_RUN = """
import datetime as dt, sys
from engine.billing.bill_run import bill_run
from engine.db import connect

def progress(_done, label):
    if label.startswith(sys.argv[2]):
        print(label, flush=True)
        sys.stdin.readline()

con = connect(sys.argv[1])
bill_run(con, dt.date.fromisoformat(sys.argv[3]), include_delayed_charges=True, finalize=True, progress=progress)
con.close()
print("finished", flush=True)
"""

# The stages of a run, in order: each is before the COMMIT of the run's one transaction, except "done".
BEFORE_COMMIT = (
    "starting bill run",
    "rating",
    "storing drafts",
    "sweeping delayed charges",
    "finalizing",
    "committing",
)


def _run_until(db, stage: str, release_first: bool = False) -> bool:
    """Start a run and kill -9 it when it reaches `stage` (after letting it go on, when `release_first`);
    True if it was killed, False if it finished without reaching the stage."""
    proc = subprocess.Popen(
        [sys.executable, "-c", PAUSING_RUN, str(db), stage, PERIOD],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    watchdog = threading.Timer(300, proc.kill)  # only turns a hang into a failure (the stage is never seen)
    watchdog.start()
    try:
        reached = proc.stdout.readline().startswith(stage)
        if reached and release_first:
            proc.stdin.write("\n")
            proc.stdin.flush()
        if reached:
            os.kill(proc.pid, signal.SIGKILL)
        _, err = proc.communicate()
    finally:
        watchdog.cancel()
    assert reached or proc.returncode == 0, err
    return reached and proc.returncode == -signal.SIGKILL


def test_a_run_killed_at_any_stage_leaves_all_or_nothing_and_a_rerun_completes_it(seeded, tmp_path):
    clean = _copy(seeded, tmp_path / "clean.duckdb")
    done = _run_cli(clean)
    assert done.returncode == 0, done.stderr
    reference = _ledger(clean)
    assert len(reference[0]) > 1000
    nothing = _ledger(seeded)
    assert nothing != reference

    crashed = _copy(seeded, tmp_path / "crashed.duckdb")
    for stage in BEFORE_COMMIT:
        assert _run_until(crashed, stage), f"the run finished without reaching {stage!r}"
        assert _consistency_problems(crashed) == [], f"after a kill at {stage!r}"
        assert _ledger(crashed) == nothing, f"a kill at {stage!r}, before the commit, must leave nothing"
    # let the run go from "committing" and kill it at once: it dies in or around the COMMIT, and whichever
    # way that falls, the database holds all of the run or none of it
    _run_until(crashed, "committing", release_first=True)
    assert _consistency_problems(crashed) == []
    assert _ledger(crashed) in (nothing, reference)
    # killed after the COMMIT, before it could print its report: the resumed run is all there
    assert _run_until(crashed, "done")
    assert _consistency_problems(crashed) == []
    assert _ledger(crashed) == reference

    again = _run_cli(crashed)
    assert again.returncode == 0, again.stderr
    report = json.loads(again.stdout)
    assert (report["drafted"], report["existing"]) == (0, len(reference[0]))
    assert _ledger(crashed) == reference
    con = connect(crashed)
    try:
        unfinished = con.execute("SELECT count(*) FROM bill_runs WHERE status <> 'completed'").fetchone()[0]
    finally:
        con.close()
    assert unfinished == 0  # the killed attempts resumed one run, which the attempt killed after its COMMIT ended


def test_a_second_process_gets_a_clear_message_while_the_database_is_held(seeded, tmp_path):
    db = _copy(seeded, tmp_path / "held.duckdb")
    with held_by_another_process(db) as holder:
        blocked = _run_cli(db)
        assert blocked.returncode == 3
        assert "in use by another process" in blocked.stderr
        assert "Traceback" not in blocked.stderr
        assert holder.poll() is None  # still holding it when the run gave up


def test_a_waiting_process_proceeds_once_the_database_is_released(seeded, tmp_path):
    """The run starts while the file is held, says it waits, and completes once the holder lets go."""
    db = _copy(seeded, tmp_path / "wait.duckdb")
    with held_by_another_process(db) as holder:
        waiting = subprocess.Popen(
            [*CLI, "--db", str(db), "--wait", "300", "run", "--period-date", PERIOD, "--quiet"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        notice = waiting.stderr.readline()
        assert "in use by another process; waiting" in notice, notice
        holder.stdin.close()  # release
        holder.wait(timeout=60)
    out, err = waiting.communicate(timeout=300)
    assert waiting.returncode == 0, err
    assert json.loads(out)["drafted"] > 1000
    assert _consistency_problems(db) == []


def test_two_processes_running_the_same_period_make_one_invoice_per_cycle(seeded, tmp_path):
    db = _copy(seeded, tmp_path / "two.duckdb")
    procs = [
        subprocess.Popen(
            [*CLI, "--db", str(db), "--wait", "120", "run", "--period-date", PERIOD, "--quiet"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [o[1] for o in outs]
    reports = [json.loads(o[0]) for o in outs]
    assert sorted(r["drafted"] > 0 for r in reports) == [False, True]
    first, second = sorted(reports, key=lambda r: -r["drafted"])
    assert second["existing"] == first["drafted"]
    assert _consistency_problems(db) == []


def test_two_threads_running_the_same_period_make_one_invoice_per_cycle(seeded, tmp_path):
    db = _copy(seeded, tmp_path / "threads.duckdb")
    con = connect(db)
    reports, errors = [], []

    def worker():
        cur = con.cursor()
        try:
            reports.append(bill_run(cur, dt.date.fromisoformat(PERIOD)))
        except Exception as exc:  # surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    total_cycles = con.execute("SELECT count(*) FROM invoice_cycle_claims").fetchone()[0]
    assert sum(r.drafted for r in reports) == total_cycles
    assert all(r.drafted + r.existing + r.nothing_to_bill == reports[0].contracts_in_scope for r in reports)
    con.close()
    assert _consistency_problems(db) == []
