"""What credit notes leave behind (spec section 12): credit_notes.csv and credit_note_items.csv, the invoices.csv
columns, the credit note's document (headed CREDIT NOTE, naming the invoice it corrects) and the invoice's, and
the audit trail.

    C1 (USD, T10 10 % + T12 12 %): K1 March = A 10.00 (T10) + B 20.00 (T10, T12) = 30.00 + 3.00 + 2.40 = 35.40
    CJ (JPY, tax 10 %):           KJ March = ¥7,000 + ¥700 = ¥7,700
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from decimal import Decimal

import pypdf
import pytest
from helpers_data import add_contract, add_customer, add_line, add_tax

from engine.billing.audit import export_audit
from engine.billing.bill_run import bill_run
from engine.billing.credit_notes import create_credit_note_tx, load_credit_note
from engine.billing.invoice_store import load_invoice
from engine.billing.lifecycle import record_payment
from engine.cli import main as cli_main
from engine.db import connect, retry_on_conflict
from engine.io.documents import render_credit_note, render_invoice
from engine.io.export import CREDIT_NOTE_COLUMNS, export_ledger

MARCH = dt.date(2026, 3, 15)


def _issue(con, invoice_id, items, *, reason="order_change", note=None, actor="ana", **split):
    note_id = retry_on_conflict(
        con,
        lambda c: create_credit_note_tx(
            c,
            invoice_id,
            reason=reason,
            items=[(n, Decimal(a)) for n, a in items.items()],
            note=note,
            actor=actor,
            **{k: Decimal(v) for k, v in split.items()},
        ),
    )
    return load_credit_note(con, note_id)


@pytest.fixture
def ledger(con):
    add_tax(con, "T10", "10", name="VAT")
    add_tax(con, "T12", "12", name="Levy")
    add_customer(con, "C1", tax_codes="T10", name="Acme <Analytics>")
    add_contract(con, "K1", "C1", "2026-01-01", billing_cycle_start_day=1)
    add_line(con, "A", "K1", unit_price="10.00", description="Platform fee")
    add_line(con, "B", "K1", unit_price="20.00", tax_codes="T10;T12", description="Seats")
    add_customer(con, "CJ", currency="JPY", tax_rate="10")
    add_contract(con, "KJ", "CJ", "2026-01-01", billing_cycle_start_day=1)
    add_line(con, "J", "KJ", unit_price="7000")
    bill_run(con, MARCH, finalize=True)
    ids = dict(con.execute("SELECT contract_id, invoice_id FROM invoices").fetchall())
    return con, ids["K1"], ids["KJ"]


def _rows(path) -> list[dict]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_credit_notes_csv_has_a_row_per_note_with_the_currencys_decimals_and_guarded_text(ledger, tmp_path):
    con, usd, jpy = ledger
    record_payment(con, usd, Decimal("35.40"))
    first = _issue(con, usd, {2: "10.00"}, refund="5.00", actor="=cmd|calc")
    yen = _issue(con, jpy, {1: "1001"}, reason="duplicate")
    paths = export_ledger(con, tmp_path)
    notes = {r["number"]: r for r in _rows(paths["credit_notes"])}
    assert (first.number, yen.number) == ("INV-2026-000001-CN1", "INV-2026-000002-CN1")  # K1, KJ in number order
    assert set(notes) == {first.number, yen.number}
    usd_row = notes[first.number]
    assert list(usd_row) == CREDIT_NOTE_COLUMNS
    assert [usd_row[c] for c in ("subtotal", "tax", "total", "offset", "refund", "credit")] == [
        "10.00",
        "2.20",  # T10 1.00 + T12 1.20
        "12.20",
        "0.00",
        "5.00",
        "7.20",
    ]
    assert (usd_row["invoice_id"], usd_row["invoice_number"], usd_row["reason"]) == (
        usd,
        first.invoice_number,
        "order_change",
    )
    assert usd_row["actor"] == "'=cmd|calc"  # formula-guarded like every text cell
    yen_row = notes[yen.number]
    assert [yen_row[c] for c in ("subtotal", "tax", "total", "offset")] == ["1001", "100", "1101", "1101"]
    items = _rows(paths["credit_note_items"])
    assert sorted((i["credit_note_id"], i["line_no"], i["amount"], i["tax"]) for i in items) == sorted(
        [(first.credit_note_id, "2", "10.00", "2.20"), (yen.credit_note_id, "1", "1001", "100")]
    )


def test_invoices_csv_shows_credit_notes_total_and_credits_applied_and_the_balance_net_of_them(ledger, tmp_path):
    con, usd, _ = ledger
    _issue(con, usd, {1: "10.00"})  # 11.00 off the balance
    con.execute("UPDATE invoices SET credits_applied_minor = 400 WHERE invoice_id = ?", [usd])  # as a finalize sets it
    row = next(r for r in _rows(export_ledger(con, tmp_path)["invoices"]) if r["invoice_id"] == usd)
    assert [row[c] for c in ("total", "total_paid", "credit_notes_total", "credits_applied", "balance_due")] == [
        "35.40",
        "0.00",
        "11.00",
        "4.00",
        "20.40",
    ]


def test_a_filtered_export_holds_only_the_notes_of_the_invoices_it_selects(ledger, tmp_path):
    con, usd, jpy = ledger
    _issue(con, usd, {1: "1.00"})
    _issue(con, jpy, {1: "1"})
    paths = export_ledger(con, tmp_path, filters={"currency": ["JPY"]})
    assert [r["invoice_id"] for r in _rows(paths["credit_notes"])] == [jpy]
    assert len(_rows(paths["credit_note_items"])) == 1


def test_the_parquet_credit_notes_are_typed_and_carry_the_business(ledger, tmp_path):
    con, usd, _ = ledger
    _issue(con, usd, {2: "0.01"})
    paths = export_ledger(con, tmp_path, "parquet")
    types = dict(
        con.execute(
            "SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM read_parquet(?))",
            [str(paths["credit_notes"])],
        ).fetchall()
    )
    assert list(types) == [*CREDIT_NOTE_COLUMNS, "business_id"]
    assert types["total"] == "DECIMAL(38,4)"
    total, tax = con.execute("SELECT total, tax FROM read_parquet(?)", [str(paths["credit_notes"])]).fetchone()
    assert (total, tax) == (Decimal("0.01"), Decimal("0.00"))  # round(0.001) + round(0.0012): 0


def test_the_credit_note_document_is_headed_credit_note_names_the_invoice_its_lines_taxes_and_split(ledger):
    con, usd, _ = ledger
    record_payment(con, usd, Decimal("20.00"))
    note = _issue(con, usd, {1: "10.00", 2: "5.00"}, refund="3.00", note="<b>not bold</b>")
    html = render_credit_note(con, note, "html")
    assert "<h1>CREDIT NOTE</h1>" in html and note.number in html
    assert f"corrects invoice <strong>{note.invoice_number}</strong>" in html
    for text in (
        "Platform fee",
        "Seats",
        "VAT (T10) 10 % of $15.00",
        "Levy (T12) 12 % of $5.00",
        "Reason: order change",
    ):
        assert text in html, text
    assert "&lt;b&gt;not bold&lt;/b&gt;" in html and "<b>not bold" not in html  # escaped
    assert "Acme &lt;Analytics&gt;" in html
    # 15.00 + T10 1.50 + T12 0.60 = 17.10, refund 3.00: the rest, 14.10, goes off the balance due (15.40)
    assert (note.total_minor, note.offset_minor, note.refund_minor, note.credit_minor) == (1710, 1410, 300, 0)
    assert "Off the balance due of the invoice" in html and "Refunded to you" in html
    assert "Credited to your account" not in html  # a part of 0 is not shown
    text = " ".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(render_credit_note(con, note, "pdf"))).pages)
    for words in ("CREDIT NOTE", note.number, note.invoice_number, "$17.10", "$14.10", "$3.00"):
        assert words in text, words


def test_the_last_notes_tax_reads_as_what_is_left_of_the_invoices_tax_never_as_a_wrong_product(ledger):
    """KJ (¥7,000, tax 10 % = ¥700): CN1 credits ¥5, tax round(0.5) = ¥1, "Tax (10 %) of ¥5"; CN2 credits the ¥6,995
    left and takes the ¥699 left of the invoice's tax (spec section 12), where 10 % of ¥6,995 rounds to ¥700: its
    document says what the tax is, not "10 % of ¥6,995" beside ¥699."""
    con, _, jpy = ledger
    first = _issue(con, jpy, {1: "5"})
    last = _issue(con, jpy, {1: "6995"})
    assert ([t.amount_minor for t in first.taxes], [t.amount_minor for t in last.taxes]) == ([1], [699])
    assert "Tax (10 %) of ¥5</" in render_credit_note(con, first, "html")
    html = render_credit_note(con, last, "html")
    assert "Tax (10 %), what is left of the invoice&#39;s tax</" in html and "¥699" in html
    assert "of ¥6,995" not in html


def test_the_invoice_document_shows_the_credit_applied_its_credit_notes_and_the_balance_left(ledger):
    con, usd, _ = ledger
    note = _issue(con, usd, {1: "10.00"})
    con.execute("UPDATE invoices SET credits_applied_minor = 400 WHERE invoice_id = ?", [usd])
    html = render_invoice(con, usd, "html")
    assert "Customer credit applied" in html and "-$4.00" in html
    assert "Credit notes (off the balance)" in html and "-$11.00" in html
    assert note.number in html and "$11.00 off the balance due" in html
    assert load_invoice(con, usd).balance_due_minor == 3540 - 400 - 1100
    assert "$20.40" in html


def test_an_invoice_without_credit_shows_no_credit_rows(ledger):
    con, usd, _ = ledger
    html = render_invoice(con, usd, "html")
    assert "Credit notes" not in html and "Customer credit applied" not in html


def test_a_credit_note_is_a_row_of_audit_csv(ledger, tmp_path):
    con, usd, _ = ledger
    note = _issue(con, usd, {1: "1.00"}, note="goodwill", actor="bea")
    rows = _rows(export_audit(con, tmp_path))
    row = next(r for r in rows if r["action"] == "credit_note_issued")
    assert (row["invoice_id"], row["actor"], row["note"]) == (usd, "bea", "order_change: goodwill")
    assert note.number in row["changes"] and row["status_before"] == row["status_after"] == "open"


def test_cli_renders_a_credit_note_as_pdf_or_html_and_a_bad_id_leaves_no_file(tmp_path):
    path = tmp_path / "notes.duckdb"
    con = connect(path)
    add_customer(con, "C1", tax_rate="10")
    add_contract(con, "K1", "C1", "2026-01-01", billing_cycle_start_day=1)
    add_line(con, "A", "K1", unit_price="10.00", description="Platform fee")
    bill_run(con, MARCH, finalize=True)
    invoice_id = con.execute("SELECT invoice_id FROM invoices").fetchone()[0]
    note = _issue(con, invoice_id, {1: "4.00"})
    con.close()

    def cli(*args: str) -> tuple[int, str]:
        out = io.StringIO()
        code = cli_main(["--db", str(path), "credit-note", "render", *args], stdout=out, stderr=io.StringIO())
        return code, out.getvalue()

    code, printed = cli(note.credit_note_id, "--out", str(tmp_path / "note.pdf"))  # the format from the name
    assert code == 0
    shown = json.loads(printed)
    assert (shown["number"], shown["invoice_id"], shown["format"]) == (note.number, invoice_id, "pdf")
    pdf = (tmp_path / "note.pdf").read_bytes()
    assert shown["bytes"] == len(pdf) and pdf.startswith(b"%PDF")
    code, printed = cli(note.credit_note_id, "--format", "html", "--out", str(tmp_path / "note.txt"))
    assert code == 0 and "CREDIT NOTE" in (tmp_path / "note.txt").read_text()
    code, _ = cli("cn_nope", "--out", str(tmp_path / "nope.html"))
    assert code == 2 and not (tmp_path / "nope.html").exists()
