"""`billsim review`, `approve --run RUN --unflagged`, `run --catch-up` and `thresholds`, run as real commands."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import pytest
from helpers_data import add_contract, add_customer, add_line, add_usage

from engine.billing.bill_run import bill_run
from engine.db import connect

ROOT = Path(__file__).resolve().parent.parent
CLI = [sys.executable, "-m", "engine"]


def billsim(db: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*CLI, "--db", str(db), *args], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )


def ok(proc: subprocess.CompletedProcess) -> dict:
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.fixture
def db(tmp_path) -> tuple[Path, str]:
    """K1 steady, K2 usage x9 in February (total_change, usage_spike), K3 from 2026-01-01 never billed in
    January (an unbilled cycle); the February run's id."""
    path = tmp_path / "review.duckdb"
    con = connect(path)
    add_customer(con, "C1", name="Acme")
    for cid in ("K1", "K2", "K3"):
        add_contract(con, cid, "C1", "2026-01-01")
        add_line(con, f"{cid}-U", cid, kind="usage", pricing_model="per_unit", unit_price="0.01", metric="calls")
        add_usage(con, cid, "calls", "2026-01-10", "1000")
        add_usage(con, cid, "calls", "2026-02-10", "9000" if cid == "K2" else "1000")
    bill_run(con, dt.date(2026, 1, 15), contract_ids=["K1", "K2"])
    run = bill_run(con, dt.date(2026, 2, 15)).run_id
    con.close()
    return path, run


def test_review_prints_one_object_per_draft_and_the_unbilled_cycles(db):
    path, run = db
    out = ok(billsim(path, "review", "--run", run))
    assert [d["contract_id"] for d in out["drafts"]] == ["K1", "K2", "K3"]
    k1, k2, k3 = out["drafts"]
    for draft in out["drafts"]:
        assert set(draft) >= {"invoice_id", "contract_id", "customer_id", "currency", "total", "previous_total"}
        assert all(set(f) == {"flag", "reason"} for f in draft["flags"])
    assert (k1["total"], k1["previous_total"], k1["flags"]) == ("10.00", "10.00", [])
    assert [f["flag"] for f in k2["flags"]] == ["total_change", "usage_spike"]
    assert k2["flags"][0]["reason"] == "total up 800.0 % (USD 10.00 → USD 90.00), above 25 % and USD 10.00"
    assert k3["previous_total"] is None and [f["flag"] for f in k3["flags"]] == ["first_invoice"]
    assert out["unbilled_cycles"] == [
        {
            "contract_id": "K3",
            "customer_id": "C1",
            "period_start": "2026-01-01",
            "period_end": "2026-01-31",
            "bill_for_date": "2026-02-01",
        }
    ]
    assert out["unbilled_cycles_count"] == 1

    by_date = ok(billsim(path, "review", "--period-date", "2026-02-20", "--flag", "usage_spike", "first_invoice"))
    assert [d["contract_id"] for d in by_date["drafts"]] == ["K2", "K3"]
    with_figures = ok(billsim(path, "review", "--run", run, "--flag", "total_change", "--figures"))
    (k2,) = with_figures["drafts"]
    assert k2["flags"][0]["figures"]["change"] == "80.00"


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["review", "--run", "RUN", "--flag", "nope"], ["unknown flag nope", "valid flags", "large_invoice"]),
        (["review", "--run", "run_missing"], ["no bill run"]),
        (["review"], ["--run", "--period-date"]),
        (["review", "--run", "RUN", "--period-date", "2026-02-01"], ["not allowed"]),
        (["approve", "--unflagged"], ["--run"]),
        (["approve", "--run", "RUN"], ["--unflagged"]),
        (["approve", "INV", "--run", "RUN", "--unflagged"], ["not both"]),
        (["thresholds", "--large-invoice", "XYZ=10"], ["unknown currency"]),
        (["thresholds", "--total-change-percent", "-1"], ["zero or more"]),
        (
            ["thresholds", "--large-invoice", "JPY=100.5"],
            ["large_invoice JPY 100.5 has more decimals than JPY has (0)"],
        ),
        (
            ["thresholds", "--large-invoice", "USD=0.001"],
            ["large_invoice USD 0.001 has more decimals than USD has (2)"],
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_2(db, args, words):
    path, run = db
    proc = billsim(path, *[run if a == "RUN" else a for a in args])
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    (line,) = proc.stderr.splitlines()
    for w in words:
        assert w in line, line


def test_approve_unflagged_then_review_shows_the_states(db):
    path, run = db
    out = ok(billsim(path, "approve", "--run", run, "--unflagged", "--actor", "ann", "--note", "plain"))
    review = ok(billsim(path, "review", "--run", run))
    ids = {d["contract_id"]: d["invoice_id"] for d in review["drafts"]}
    assert out["approved"] == [ids["K1"]] and out["actor"] == "ann"
    assert {d["contract_id"]: d["status"] for d in review["drafts"]} == {"K1": "approved", "K2": "draft", "K3": "draft"}
    con = connect(path, read_only=True)
    events = con.execute(
        "SELECT invoice_id, actor, action, note FROM invoice_events WHERE action = 'approved'"
    ).fetchall()
    con.close()
    assert events == [(ids["K1"], "ann", "approved", "plain")]


def test_run_catch_up_and_thresholds(db):
    path, _ = db
    plain = ok(billsim(path, "run", "--period-date", "2026-02-15", "--quiet"))
    assert plain["unbilled_cycles_count"] == 1 and plain["drafted"] == 0
    caught = ok(billsim(path, "run", "--period-date", "2026-02-15", "--catch-up", "--quiet"))
    assert (caught["drafted"], caught["unbilled_cycles_count"], caught["catch_up"]) == (1, 0, True)
    assert ok(billsim(path, "run", "--period-date", "2026-02-15", "--catch-up", "--quiet"))["drafted"] == 0

    shown = ok(billsim(path, "thresholds"))
    assert (shown["total_change_percent"], shown["total_change_min"], shown["usage_spike_factor"]) == ("25", "10", "3")
    changed = ok(
        billsim(path, "thresholds", "--total-change-percent", "900", "--large-invoice", "USD=50", "--actor", "bob")
    )
    assert changed["large_invoice"] == {"USD": "50"} and changed["updated_by"] == "bob"
    refused = billsim(path, "thresholds", "--large-invoice", "JPY=100.5", "--large-invoice", "USD=60")
    assert refused.returncode == 2 and ok(billsim(path, "thresholds"))["large_invoice"] == {"USD": "50"}  # nothing
    assert ok(billsim(path, "thresholds", "--large-invoice", "JPY=100.0"))["large_invoice"] == {
        "JPY": "100",
        "USD": "50",
    }
    out = ok(billsim(path, "review", "--period-date", "2026-02-15", "--flag", "total_change", "large_invoice"))
    assert [(d["contract_id"], [f["flag"] for f in d["flags"]]) for d in out["drafts"]] == [
        ("K2", ["usage_spike", "large_invoice"])  # in the order of FLAGS
    ]
