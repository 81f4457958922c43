"""The audit trail (spec section 8): an append-only event for every change of an invoice; audit.csv;
and databases made before approvals existed (schema v2) migrating forward."""

from __future__ import annotations

import csv
import datetime as dt
import json
import subprocess
import sys
from decimal import Decimal

import duckdb
import pytest
from helpers_data import add_charge, add_contract, add_customer, add_line, add_usage

from engine import schema
from engine.billing.approval import approve_invoices, hold_invoice, release_invoice
from engine.billing.audit import AUDIT_COLUMNS, default_actor, export_audit, invoice_events, resolve_actor
from engine.billing.bill_run import bill_run
from engine.billing.invoices import draft_period_invoice, redraft_invoice
from engine.billing.lifecycle import delete_draft, finalize_invoice, record_payment, void_invoice
from engine.billing.manual_invoices import create_invoice, draft_recurring_invoices
from engine.billing.numbering import invoice_named
from engine.db import connect
from engine.errors import InvalidStateError
from engine.models import LineItem, ManualInvoiceRequest, RecurringConfig

MARCH, APRIL = dt.date(2026, 3, 15), dt.date(2026, 4, 15)


@pytest.fixture
def k1(con):
    add_customer(con, "C1", business_id="biz")
    add_contract(con, "K1", "C1", "2026-01-01")
    add_line(con, "L1", "K1", unit_price="100.00")
    add_line(con, "L2", "K1", kind="usage", pricing_model="per_unit", unit_price="1", metric="api")
    return con


def _all_events(con) -> list[tuple]:
    return con.execute("SELECT * FROM invoice_events ORDER BY event_id").fetchall()


def test_a_full_lifecycle_is_exactly_its_events_and_earlier_rows_never_change(k1):
    con = k1
    seen: list[tuple] = []

    def step(action) -> None:
        action()
        now = _all_events(con)
        assert now[: len(seen)] == seen  # nothing written before was updated or deleted
        assert len(now) > len(seen)  # and every action wrote its event
        seen[:] = now

    inv = draft_period_invoice(con, "K1", MARCH, actor="ann").invoice.invoice_id
    seen[:] = _all_events(con)
    add_usage(con, "K1", "api", "2026-03-20", "7")
    step(lambda: approve_invoices(con, [inv], actor="ann", note="looks right"))
    step(lambda: hold_invoice(con, inv, reason="late usage", actor="bob"))
    step(lambda: redraft_invoice(con, inv, actor="bob"))
    step(lambda: hold_invoice(con, inv, reason="confirm with sales", actor="bob"))
    step(lambda: release_invoice(con, inv, actor="carol"))
    step(lambda: approve_invoices(con, [inv], actor="carol"))
    step(lambda: finalize_invoice(con, inv, actor="dave"))
    step(lambda: record_payment(con, inv, Decimal("50.00"), actor="erin"))
    with pytest.raises(InvalidStateError):  # paid in part: refused, and a refusal writes no event
        void_invoice(con, inv, reason="billed the wrong entity", actor="frank")
    assert _all_events(con) == seen
    other = draft_period_invoice(con, "K1", APRIL, actor="ann").invoice.invoice_id
    step(lambda: delete_draft(con, other, actor="gina"))
    voided = draft_period_invoice(con, "K1", APRIL, actor="ann").invoice.invoice_id
    seen[:] = _all_events(con)
    step(lambda: approve_invoices(con, [voided], actor="ann"))
    step(lambda: finalize_invoice(con, voided, actor="dave"))
    step(lambda: void_invoice(con, voided, reason="billed the wrong entity", actor="frank"))

    rows = [(e["action"], e["actor"], e["status_before"], e["status_after"]) for e in invoice_events(con, inv)]
    assert rows == [
        ("drafted", "ann", None, "draft"),
        ("approved", "ann", "draft", "approved"),
        ("held", "bob", "approved", "held"),
        ("redrafted", "bob", "held", "draft"),
        ("held", "bob", "draft", "held"),
        ("released", "carol", "held", "draft"),
        ("approved", "carol", "draft", "approved"),
        ("finalized", "dave", "approved", "open"),
        ("payment_recorded", "erin", "open", "partially_paid"),
    ]
    events = invoice_events(con, inv)
    assert events[0]["changes"] == {"total_minor": 10000, "currency": "USD", "run_id": None, "delayed_charges": 0}
    assert events[3]["changes"] == {"total_minor_before": 10000, "total_minor": 10700}
    assert events[7]["changes"] == {"number": 1}
    assert events[8]["changes"]["amount"] == "50.00" and events[8]["changes"]["method"] == "manual"
    assert invoice_events(con, voided)[-1]["action"] == "voided"
    assert invoice_events(con, voided)[-1]["status_before"] == "open"
    assert invoice_events(con, voided)[-1]["note"] == "billed the wrong entity"
    assert [e["action"] for e in invoice_events(con, other)] == ["drafted", "deleted"]
    assert invoice_events(con, other)[-1]["changes"]["customer_id"] == "C1"
    # every time is UTC, in order
    times = [e["occurred_at"] for e in invoice_events(con)]
    assert times == sorted(times)
    assert abs(times[-1] - dt.datetime.now(dt.UTC).replace(tzinfo=None)) < dt.timedelta(hours=1)


def test_refused_actions_write_no_event(k1):
    inv = draft_period_invoice(k1, "K1", MARCH).invoice.invoice_id
    before = _all_events(k1)
    for refused in (
        lambda: finalize_invoice(k1, inv),
        lambda: release_invoice(k1, inv),
        lambda: hold_invoice(k1, inv, reason=""),
        lambda: void_invoice(k1, inv),
        lambda: record_payment(k1, inv, Decimal("1")),
    ):
        with pytest.raises(Exception):  # noqa: B017 - each is a different refusal; the point is no event
            refused()
    assert _all_events(k1) == before


def test_a_bill_run_records_one_drafted_event_per_draft_with_its_swept_charges(k1):
    add_customer(k1, "C2", business_id="biz")
    add_contract(k1, "K2", "C2", "2026-01-01")
    add_line(k1, "L3", "K2", unit_price="5")
    add_charge(k1, "DC1", "C1", "12.50", "2026-03-05")
    report = bill_run(k1, MARCH, include_delayed_charges=True, requested_by="night")
    assert report.drafted == 2
    rows = k1.execute(
        """SELECT i.contract_id, e.actor, e.action, e.changes FROM invoice_events e JOIN invoices i USING (invoice_id)
           ORDER BY i.contract_id"""
    ).fetchall()
    assert [(r[0], r[1], r[2]) for r in rows] == [("K1", "night", "drafted"), ("K2", "night", "drafted")]
    assert [json.loads(r[3])["delayed_charges"] for r in rows] == [1, 0]
    assert json.loads(rows[0][3])["run_id"] == report.run_id
    # a second run of the same period drafts nothing and records nothing
    bill_run(k1, MARCH)
    assert k1.execute("SELECT count(*) FROM invoice_events").fetchone()[0] == 2


def test_a_manual_invoice_records_created(con):
    add_customer(con, "C1")
    inv = create_invoice(
        con, ManualInvoiceRequest(customer_id="C1", line_items=[LineItem(description="Setup", unit_price=990)])
    )
    (event,) = invoice_events(con, inv.invoice_id)
    assert (event["action"], event["actor"], event["status_after"]) == ("created", default_actor(), "draft")
    assert event["changes"]["total_minor"] == 990


def test_recurring_drafts_record_drafted(con):
    add_customer(con, "C1")
    first = create_invoice(
        con,
        ManualInvoiceRequest(
            customer_id="C1",
            line_items=[LineItem(description="Support", unit_price=1000)],
            recurring=RecurringConfig(billing_period="month", start_date=dt.date(2026, 1, 1)),
        ),
        actor="ann",
    )
    later = draft_recurring_invoices(con, dt.date(2026, 2, 10), actor="cron")
    assert [e["action"] for e in invoice_events(con, first.invoice_id)] == ["created"]
    assert [(e["action"], e["actor"]) for e in invoice_events(con, later[0].invoice_id)] == [("drafted", "cron")]


def test_the_default_actor_is_the_os_user():
    assert resolve_actor(None) == resolve_actor("  ") == default_actor() != ""
    assert resolve_actor(" ann ") == "ann"


# --- audit.csv ----------------------------------------------------------------------------------


def test_audit_csv_has_every_event_formula_safe_and_names_deleted_invoices(k1, tmp_path):
    kept = draft_period_invoice(k1, "K1", MARCH, actor="=HYPERLINK(1)").invoice.invoice_id
    approve_invoices(k1, [kept], actor="ann", note="+1 checked")
    finalize_invoice(k1, kept, actor="ann")
    gone = draft_period_invoice(k1, "K1", APRIL, actor="ann").invoice.invoice_id
    delete_draft(k1, gone, actor="@bob")

    path = export_audit(k1, tmp_path)  # a folder: audit.csv inside it
    assert path == tmp_path / "audit.csv"
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == AUDIT_COLUMNS
    assert [r["action"] for r in rows] == ["drafted", "approved", "finalized", "drafted", "deleted"]
    assert rows[0]["actor"] == "'=HYPERLINK(1)" and rows[1]["note"] == "'+1 checked"
    assert rows[4]["actor"] == "'@bob"
    assert [r["number"] for r in rows[:3]] == ["1", "1", "1"]
    assert (rows[4]["business_id"], rows[4]["customer_id"], rows[4]["number"]) == ("biz", "C1", "")
    # the number as the customer sees it, as invoices.csv writes it: every event of the invoice carries it
    shown = invoice_named(k1, kept)
    assert shown.startswith("INV-") and [r["invoice_number"] for r in rows] == [shown] * 3 + ["", ""]
    assert rows[2]["occurred_at"].endswith("Z") and json.loads(rows[2]["changes"]) == {"number": 1}
    assert export_audit(k1, tmp_path / "named.csv") == tmp_path / "named.csv"


def test_cli_audit_writes_the_file(db_path, tmp_path):
    con = connect(db_path)
    add_customer(con, "C1")
    add_contract(con, "K1", "C1", "2026-01-01")
    add_line(con, "L1", "K1", unit_price="10")
    con.close()
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "engine",
            "--db",
            str(db_path),
            "--actor",
            "ops",
            "draft",
            "K1",
            "--period-date",
            "2026-03-15",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    out = tmp_path / "out"
    out.mkdir()
    done = subprocess.run(
        [sys.executable, "-m", "engine", "--db", str(db_path), "audit", "--out", str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"audit": str(out / "audit.csv")}
    with (out / "audit.csv").open(newline="") as f:
        (row,) = list(csv.DictReader(f))
    assert (row["action"], row["actor"]) == ("drafted", "ops")


# --- migration ------------------------------------------------------------------------------------


def test_a_v2_database_upgrades_and_its_invoices_keep_working(tmp_path):
    path = tmp_path / "v2.duckdb"
    raw = duckdb.connect(str(path))
    raw.execute("CREATE TABLE schema_version (version INTEGER NOT NULL, applied_at TIMESTAMP)")
    for version in (1, 2):
        raw.execute(schema.MIGRATIONS[version - 1])
        raw.execute("INSERT INTO schema_version VALUES (?, current_timestamp)", [version])
    raw.execute("INSERT INTO customers (customer_id, name, business_id, currency) VALUES ('C1', 'One', 'biz', 'USD')")
    for invoice_id, status, number in (("old-open", "open", 1), ("old-draft", "draft", None)):
        raw.execute(
            """INSERT INTO invoices (invoice_id, business_id, customer_id, status, number, currency,
                   subtotal_minor, tax_minor, total_minor, created_at)
               VALUES (?, 'biz', 'C1', ?, ?, 'USD', 1000, 0, 1000, TIMESTAMP '2026-01-05 10:00:00')""",
            [invoice_id, status, number],
        )
        raw.execute(
            "INSERT INTO invoice_lines (invoice_id, line_no, kind, amount_minor) VALUES (?, 1, 'custom', 1000)",
            [invoice_id],
        )
    raw.execute("INSERT INTO invoice_number_counters VALUES ('biz', 1)")
    raw.close()

    con = connect(path)
    assert schema.current_version(con) == schema.SCHEMA_VERSION >= 3
    assert con.execute("SELECT count(*) FROM invoice_events").fetchone()[0] == 0
    with pytest.raises(Exception, match="not approved"):
        finalize_invoice(con, "old-draft")
    approve_invoices(con, ["old-draft"], actor="ann")
    assert finalize_invoice(con, "old-draft", actor="ann").number == 2
    assert record_payment(con, "old-open", Decimal("10"), actor="ann").status == "manual_paid"
    assert [e["action"] for e in invoice_events(con)] == ["approved", "finalized", "payment_recorded"]
    con.close()
