"""Customer credit that reconciles and shows (spec section 12, docs/RULES.md): the credit a void gives back is in the
exports (customer_credit_movements, invoices.csv's credits_returned), in the `voided` event and on the void document;
a draft shows the credit finalizing it would apply; every written time has one form; audit.csv's `changes` one style.

    C1 (USD, no tax): K1 100.00 a month. March finalized and paid 100.00; a credit note of 60.00 of its line, all to
    the customer's credit (nothing left to offset) -> credit 60.00. April (100.00) finalized takes 60.00 -> credit 0;
    April voided -> 60.00 back, the delayed charge CH1 swept onto April pending again.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from decimal import Decimal

import pytest
from helpers_data import add_charge, add_contract, add_customer, add_line

from engine.billing.approval import approve_invoices
from engine.billing.audit import export_audit, invoice_events
from engine.billing.bill_run import bill_run
from engine.billing.credit_notes import create_credit_note_tx, credit_balances
from engine.billing.lifecycle import finalize_invoice, record_payment, void_invoice
from engine.cli import main as cli_main
from engine.db import connect, retry_on_conflict
from engine.io.documents import render_invoice
from engine.io.export import CREDIT_MOVEMENT_COLUMNS, export_ledger

MARCH, APRIL = dt.date(2026, 3, 15), dt.date(2026, 4, 15)
UTC_TEXT = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


def _rows(path) -> list[dict]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture
def voided(con):
    return _void_after_credit(con)


def _void_after_credit(con):
    """March paid and credited 60.00 to C1's credit; April took it and was voided. Returns (con, march, april)."""
    add_customer(con, "C1", tax_rate="0")
    add_contract(con, "K1", "C1", "2026-01-01", billing_cycle_start_day=1)
    add_line(con, "L1", "K1", unit_price="100.00")
    bill_run(con, MARCH, finalize=True)
    march = con.execute("SELECT invoice_id FROM invoices").fetchone()[0]
    record_payment(con, march, Decimal("100.00"))
    retry_on_conflict(
        con,
        lambda c: create_credit_note_tx(c, march, reason="order_change", items=[(1, Decimal("60.00"))], actor="ana"),
    )
    add_charge(con, "CH1", "C1", "5.00", "2026-04-02")
    bill_run(con, APRIL, include_delayed_charges=True)
    april = con.execute("SELECT invoice_id FROM invoices WHERE invoice_id <> ?", [march]).fetchone()[0]
    approve_invoices(con, [april], actor="ana")
    assert finalize_invoice(con, april).credits_applied_minor == 6000  # of its 105.00
    void_invoice(con, april, "wrong period", actor="ana")
    return con, march, april


def test_the_credit_movements_export_sums_to_the_balance_and_shows_the_void_giving_credit_back(voided, tmp_path):
    con, march, april = voided
    paths = export_ledger(con, tmp_path)
    moves = _rows(paths["customer_credit_movements"])
    assert list(moves[0]) == CREDIT_MOVEMENT_COLUMNS
    assert [(m["kind"], m["amount"], m["balance_after"], m["invoice_id"]) for m in moves] == [
        ("credit_note", "60.00", "60.00", march),
        ("applied", "-60.00", "0.00", april),
        ("void_returned", "60.00", "60.00", april),
    ]
    assert moves[0]["credit_note_number"] == "INV-2026-000001-CN1" and moves[2]["invoice_number"] == "INV-2026-000002"
    (held,) = credit_balances(con, None, customer_id="C1")
    assert sum(Decimal(m["amount"]) for m in moves) == held.balance == Decimal("60.00")

    # invoices.csv alone reconciles too: credit issued − applied + returned = the balance
    invoices = {r["invoice_id"]: r for r in _rows(paths["invoices"])}
    notes = _rows(paths["credit_notes"])
    assert (invoices[april]["credits_applied"], invoices[april]["credits_returned"]) == ("60.00", "60.00")
    assert invoices[march]["credits_returned"] == "0.00"
    issued = sum(Decimal(n["credit"]) for n in notes)
    applied = sum(Decimal(r["credits_applied"]) for r in invoices.values())
    returned = sum(Decimal(r["credits_returned"]) for r in invoices.values())
    assert issued - applied + returned == held.balance

    pq = export_ledger(con, tmp_path / "pq", "parquet")["customer_credit_movements"]
    typed = con.execute("SELECT kind, amount FROM read_parquet(?) ORDER BY entry_id", [str(pq)]).fetchall()
    assert typed == [("credit_note", Decimal("60")), ("applied", Decimal("-60")), ("void_returned", Decimal("60"))]


def _credit_of(con, customer_id: str) -> Decimal:
    held = credit_balances(con, None, customer_id=customer_id)
    return sum((b.balance for b in held), Decimal(0))


@pytest.mark.parametrize(
    "filters",
    [
        {"status": ["manual_paid"]},  # March alone: its credit note
        {"status": ["void"]},  # April alone: the credit it took, and gave back
        {"period_start_from": "2026-04-01", "customer_id": ["C1"]},
        {"currency": ["USD"], "period_start_to": "2026-03-31"},
    ],
)
def test_a_filtered_export_holds_the_whole_credit_ledger_of_each_customer_selected(voided, tmp_path, filters):
    """A filter on status or period kept only the movements of the invoices it selected, which summed to no balance
    (the March invoice alone: +60.00 of a ledger that ended at 60.00 after -60.00 and +60.00 on April). The file is
    the whole ledger of each customer and currency an invoice selected belongs to: it sums to the balance."""
    con, march, april = voided
    add_customer(con, "C2", tax_rate="0")  # another customer with credit, whose invoices no filter here selects
    add_contract(con, "K2", "C2", "2026-05-01", billing_cycle_start_day=1)
    add_line(con, "L2", "K2", unit_price="50.00")
    bill_run(con, dt.date(2026, 5, 15), contract_ids=["K2"], finalize=True)
    may = con.execute("SELECT invoice_id FROM invoices WHERE customer_id = 'C2'").fetchone()[0]
    credit = Decimal("50.00")  # all of it to the customer's credit; the invoice stays open (unpaid)
    retry_on_conflict(
        con, lambda c: create_credit_note_tx(c, may, reason="other", everything=True, credit=credit, actor="ana")
    )
    assert _credit_of(con, "C2") == Decimal("50.00")

    moves = _rows(export_ledger(con, tmp_path, filters=filters)["customer_credit_movements"])
    assert {(m["customer_id"], m["currency"]) for m in moves} == {("C1", "USD")}  # C2's ledger is not selected
    assert [(m["kind"], m["invoice_id"]) for m in moves] == [
        ("credit_note", march),
        ("applied", april),
        ("void_returned", april),
    ]
    assert sum(Decimal(m["amount"]) for m in moves) == Decimal(moves[-1]["balance_after"]) == _credit_of(con, "C1")

    everyone = _rows(export_ledger(con, tmp_path / "all")["customer_credit_movements"])
    for customer in ("C1", "C2"):  # unfiltered: every ledger, each summing to its balance
        assert sum(Decimal(m["amount"]) for m in everyone if m["customer_id"] == customer) == _credit_of(con, customer)
    assert not _rows(export_ledger(con, tmp_path / "none", filters={"status": ["draft"]})["customer_credit_movements"])


def test_the_voided_event_records_the_credit_returned_and_the_charges_released(voided, tmp_path):
    con, _, april = voided
    (event,) = [e for e in invoice_events(con, april) if e["action"] == "voided"]
    assert event["changes"] == {
        "credits_returned": "60.00",
        "credits_returned_minor": 6000,
        "currency": "USD",
        "released_delayed_charges": ["CH1"],
    }
    assert con.execute("SELECT count(*) FROM delayed_charge_sweeps").fetchone()[0] == 0
    row = next(r for r in _rows(export_audit(con, tmp_path)) if r["action"] == "voided")
    assert row["changes"] == (
        '{"credits_returned":"60.00","credits_returned_minor":6000,"currency":"USD","released_delayed_charges":["CH1"]}'
    )


def test_the_void_document_says_the_credit_applied_was_returned(voided):
    con, _, april = voided
    html = render_invoice(con, april, "html")
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))
    assert "Customer credit applied -$60.00 Customer credit returned (invoice void) $60.00" in text
    assert "Balance due none (void)" in text


def test_every_time_in_the_exports_is_iso_utc_with_microseconds_and_z(voided, tmp_path):
    con, march, _ = voided
    paths = export_ledger(con, tmp_path)
    stamps = {
        "invoices": [r["created_at"] for r in _rows(paths["invoices"])],
        "credit_notes": [r["created_at"] for r in _rows(paths["credit_notes"])],
        "customer_credit_movements": [r["occurred_at"] for r in _rows(paths["customer_credit_movements"])],
        "audit": [r["occurred_at"] for r in _rows(export_audit(con, tmp_path / "audit.csv"))],
    }
    for name, values in stamps.items():
        assert values and all(UTC_TEXT.match(v) for v in values), (name, values)
    stored = con.execute("SELECT created_at FROM invoices WHERE invoice_id = ?", [march]).fetchone()[0]
    written = next(r["created_at"] for r in _rows(paths["invoices"]) if r["invoice_id"] == march)
    assert written == stored.isoformat(timespec="microseconds") + "Z"  # the stored instant, nothing dropped


def test_audit_changes_are_compact_json_in_every_row_whoever_wrote_them(voided, tmp_path):
    con, march, _ = voided
    # an event stored before this rule, spaced as json.dumps wrote it
    con.execute(
        """INSERT INTO invoice_events (invoice_id, occurred_at, actor, action, status_before, status_after, note,
                                       changes)
           VALUES (?, TIMESTAMP '2026-03-20 10:00:00', 'old', 'payment_recorded', 'open', 'manual_paid', NULL, ?)""",
        [march, json.dumps({"payment_id": "pay_1", "amount": "1.00", "method": "manual"})],
    )
    rows = [r for r in _rows(export_audit(con, tmp_path)) if r["changes"]]
    assert {"payment_recorded", "finalized", "credit_note_issued", "voided"} <= {r["action"] for r in rows}
    for r in rows:
        parsed = json.loads(r["changes"])
        assert r["changes"] == json.dumps(parsed, separators=(",", ":"), ensure_ascii=False), r
    assert '{"payment_id":"pay_1","amount":"1.00","method":"manual"}' in [r["changes"] for r in rows]


def _cli(db, *argv) -> dict:
    out, err = io.StringIO(), io.StringIO()
    assert cli_main(["--db", str(db), *argv], stdout=out, stderr=err) == 0, err.getvalue()
    return json.loads(out.getvalue())


def test_the_cli_shows_a_drafts_and_a_previews_credit_available_and_writes_times_in_the_one_form(tmp_path):
    """C1 holds 60.00 after the void; May (100.00) would take all of it: credit_available 60.00, on the preview, the
    draft, the draft read back and its document; March (finalized) shows none, its credits_applied as before."""
    db = tmp_path / "c.duckdb"
    con = connect(db)
    _void_after_credit(con)
    con.close()
    preview = _cli(db, "preview", "K1", "--period-date", "2026-05-15")
    assert (preview["status"], preview["credit_available"], preview["credit_available_minor"]) == (
        "preview",
        "60.00",
        6000,
    )
    drafted = _cli(db, "draft", "K1", "--period-date", "2026-05-15")["invoice"]
    assert (drafted["status"], drafted["total"], drafted["credit_available"]) == ("draft", "100.00", "60.00")
    assert UTC_TEXT.match(drafted["created_at"]), drafted["created_at"]
    out = tmp_path / "may.html"
    _cli(db, "render", drafted["invoice_id"], "--out", str(out))
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", out.read_text()))
    assert "Customer credit available (applied at finalize) -$60.00 Balance due once finalized $40.00" in text

    _cli(db, "approve", drafted["invoice_id"])
    finalized = _cli(db, "finalize", drafted["invoice_id"])
    finalized = finalized[0] if isinstance(finalized, list) else finalized
    assert (finalized["credit_available"], finalized["credits_applied"], finalized["balance_due"]) == (
        None,
        "60.00",
        "40.00",
    )
