"""Crash safety and concurrency of bill runs, with real processes.

seed ── copy ──► clean.duckdb : billsim run (to completion)              = the reference
     └─ copy ──► crashed.duckdb: billsim run, kill -9 at t1, t2, …, then run again to completion
                 after every kill: the database is consistent; at the end it equals the reference
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

import pytest

from engine.billing.bill_run import bill_run
from engine.db import connect
from engine.ingest.demo import seed_demo

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
               GROUP BY i.invoice_id, i.subtotal_minor, i.tax_minor, i.total_minor
               HAVING coalesce(sum(l.amount_minor), 0) <> i.subtotal_minor OR count(l.invoice_id) = 0
                   OR i.subtotal_minor + i.tax_minor <> i.total_minor"""
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


# The progress labels a run writes on stderr, in order: each crash attempt kills the run as soon as it
# reaches the next one, so every stage is interrupted whatever the speed of the machine.
STAGES = ("starting bill run", "rating", "storing drafts", "sweeping delayed charges", "finalizing")


def _run_until(db, label: str, extra_delay: float = 0.0) -> bool:
    """Start a run, kill -9 it once `label` appears on its stderr (plus `extra_delay`); True if killed."""
    proc = subprocess.Popen(
        [*CLI, "--db", str(db), "run", "--period-date", PERIOD, "--include-delayed-charges", "--finalize"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    seen = threading.Event()

    def watch():
        text = b""
        while chunk := proc.stderr.read1(4096):
            text += chunk
            if label.encode() in text:
                seen.set()
        seen.set()  # the run ended without reaching the label

    reader = threading.Thread(target=watch, daemon=True)
    reader.start()
    seen.wait(timeout=120)
    if extra_delay:
        time.sleep(extra_delay)
    killed = proc.poll() is None
    if killed:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    reader.join(timeout=10)
    return killed


def test_a_run_killed_at_any_moment_leaves_a_consistent_database_and_rerun_completes_it(seeded, tmp_path):
    clean = _copy(seeded, tmp_path / "clean.duckdb")
    started = time.monotonic()
    done = _run_cli(clean)
    clean_s = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    reference = _ledger(clean)
    assert len(reference[0]) > 1000

    crashed = _copy(seeded, tmp_path / "crashed.duckdb")
    killed_at = []
    for stage in STAGES:
        if _run_until(crashed, stage):
            killed_at.append(stage)
        assert _consistency_problems(crashed) == [], f"after a kill at {stage!r}"
    # and late, while the run writes and commits: a share of a whole run's time after finalizing starts
    for share in (0.1, 0.3):
        if _run_until(crashed, "finalizing", extra_delay=share * clean_s):
            killed_at.append(f"finalizing + {share:.0%} of a run")
        assert _consistency_problems(crashed) == []
    assert len(killed_at) >= len(STAGES), f"the run finished before it could be killed at every stage: {killed_at}"
    again = _run_cli(crashed)
    assert again.returncode == 0, again.stderr
    assert _consistency_problems(crashed) == []
    assert _ledger(crashed) == reference


def test_a_second_process_gets_a_clear_message_while_the_database_is_held(seeded, tmp_path):
    db = _copy(seeded, tmp_path / "held.duckdb")
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, time; c = duckdb.connect({str(db)!r}); print('held', flush=True); time.sleep(30)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        blocked = _run_cli(db)
        assert blocked.returncode == 3
        assert "in use by another process" in blocked.stderr
        assert "Traceback" not in blocked.stderr
    finally:
        holder.kill()
        holder.wait()


def test_a_waiting_process_proceeds_once_the_database_is_released(seeded, tmp_path):
    db = _copy(seeded, tmp_path / "wait.duckdb")
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, time; c = duckdb.connect({str(db)!r}); print('held', flush=True); "
            "time.sleep(2); c.close()",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        waited = _run_cli(db, wait=60)
        assert waited.returncode == 0, waited.stderr
    finally:
        holder.wait()
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
    import json

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
