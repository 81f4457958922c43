"""The service's operations as commands (spec section 5), run as a user runs them, in a subprocess:
token create|list|revoke, generate (Zenskar fields), create and batch (DayZero JSON bodies, money in
minor units), redraft. JSON on stdout; an error is one line on stderr with exit code 2.

Data: customer C1 (USD, business B1) with contract K1, monthly from 2026-01-15, 10.00 flat.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from helpers_data import add_contract, add_customer, add_line

from engine.db import connect

ROOT = Path(__file__).resolve().parent.parent
VENV_PY = ROOT / ".venv" / "bin" / "python"
CLI = [str(VENV_PY if VENV_PY.exists() else Path(sys.executable)), "-m", "engine"]


@pytest.fixture
def db(tmp_path) -> Path:
    path = tmp_path / "cli.duckdb"
    con = connect(path)
    add_customer(con, "C1", business_id="B1")
    add_contract(con, "K1", "C1", "2026-01-15")
    add_line(con, "L1", "K1", unit_price="10.00")
    con.close()
    return path


def billsim(db: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*CLI, "--db", str(db), *args], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )


def ok(proc: subprocess.CompletedProcess):
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def one_line_error(proc: subprocess.CompletedProcess, *words: str) -> str:
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.splitlines()) == 1, proc.stderr
    for word in words:
        assert word in proc.stderr
    return proc.stderr


def test_token_create_list_revoke(db):
    created = ok(billsim(db, "token", "create", "--business", "B1", "--name", "ci"))
    assert created["token"].startswith("bsk_") and "warning" not in created
    listed = ok(billsim(db, "token", "list"))
    assert [(t["name"], t["business_id"], t["revoked_at"]) for t in listed] == [("ci", "B1", None)]
    assert created["token"] not in json.dumps(listed)
    one_line_error(billsim(db, "token", "create", "--business", "B1", "--name", "ci"), "already exists")
    assert ok(billsim(db, "token", "revoke", "ci"))["revoked_at"] is not None
    one_line_error(billsim(db, "token", "revoke", "nope"), "nope")
    assert "warning" in ok(billsim(db, "token", "create", "--business", "Typo", "--name", "t2"))


def test_generate_takes_one_exact_cycle(db):
    base = ["generate", "K1", "--customer", "C1", "--from", "2026-02-15", "--to", "2026-03-14"]
    # no --bill-for: the error names the valid cycles; a wrong one too; nothing is created
    one_line_error(billsim(db, *base), "bill_for_date missing", "bill_for_date=2026-03-15")
    one_line_error(billsim(db, *base, "--bill-for", "2026-03-14"), "not a billing cycle", "bill_for_date=2026-03-15")
    one_line_error(
        billsim(
            db,
            "generate",
            "K1",
            "--customer",
            "C9",
            "--from",
            "2026-02-15",
            "--to",
            "2026-03-14",
            "--bill-for",
            "2026-03-15",
        ),
        "does not own",
    )
    first = ok(billsim(db, *base, "--bill-for", "2026-03-15T00:00:00Z", "--billing-cycle-start-day", "15"))
    assert first["created"] is True
    assert (first["invoice"]["total"], first["invoice"]["period_start"]) == ("10.00", "2026-02-15")
    again = ok(billsim(db, *base, "--bill-for", "2026-03-15"))
    assert again["created"] is False and again["invoice"]["invoice_id"] == first["invoice"]["invoice_id"]
    inv = first["invoice"]["invoice_id"]
    assert ok(billsim(db, "approve", inv))["approved"] == [inv]
    one_line_error(billsim(db, *base, "--bill-for", "2026-03-15"), "already has invoice", "(approved)")
    assert ok(billsim(db, *base, "--bill-for", "2026-03-15", "--no-check-duplicate"))["created"] is False

    # redraft after the price changed: same id, new total, a plain draft again
    con = connect(db)
    con.execute("UPDATE order_lines SET unit_price = 12.5 WHERE line_id = 'L1'")
    con.close()
    redrafted = ok(billsim(db, "redraft", inv))
    assert (redrafted["invoice_id"], redrafted["total"], redrafted["status"]) == (inv, "12.50", "draft")
    one_line_error(billsim(db, "redraft", "inv_nope"), "inv_nope")


def test_create_and_batch_take_the_seeds_bodies(db, tmp_path):
    body = {
        "customer_id": "C1",
        "line_items": [
            {"variant_id": "custom", "description": "Setup", "unit_price": 12345, "quantity": 2},
            {"description": "Legacy amount", "amount": 500},
        ],
        "due_date": "2026-04-30",
        "description": "Onboarding",
        "recurring": {"billing_period": "month", "start_date": "2026-04-01"},
    }
    request = tmp_path / "create.json"
    request.write_text(json.dumps(body))
    created = ok(billsim(db, "create", str(request)))
    assert [line["amount_minor"] for line in created["lines"]] == [24690, 500]
    assert (created["total_minor"], created["total"], created["status"]) == (25190, "251.90", "draft")
    assert created["recurring_template_id"] is not None

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**body, "line_items": [{"variant_id": "var_1", "quantity": 1}]}))
    one_line_error(billsim(db, "create", str(bad)), "variant")
    bad.write_text("{not json")
    one_line_error(billsim(db, "create", str(bad)), "not valid JSON")
    bad.write_text(json.dumps({"customer_id": "C1", "line_items": [], "due_date": "2026-04-30"}))
    one_line_error(billsim(db, "create", str(bad)), "line_items")

    batch = tmp_path / "batch.json"
    batch.write_text(
        json.dumps(
            {
                "items": [
                    {
                        "customer_id": "C1",
                        "line_items": [{"description": "A", "unit_price": 100}],
                        "due_date": "2026-05-01",
                    },
                    {
                        "customer_id": "C404",
                        "line_items": [{"description": "B", "unit_price": 100}],
                        "due_date": "2026-05-01",
                    },
                    {
                        "customer_id": "C1",
                        "line_items": [{"variant_id": "v9", "unit_price": 1}],
                        "due_date": "2026-05-01",
                    },
                ],
                "finalize": True,
            }
        )
    )
    result = ok(billsim(db, "batch", str(batch)))
    assert (result["created"], result["failed"]) == (1, 2)
    first, missing, variant = result["results"]
    assert first["ok"] and first["invoice"]["status"] == "open" and first["invoice"]["number"] == 1
    assert not missing["ok"] and "C404" in missing["error"]
    assert not variant["ok"] and "variant" in variant["error"]
