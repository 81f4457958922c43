"""Invoice documents (spec section 8): the HTML and the PDF show seller, customer, number or DRAFT, dates,
lines, tax, totals and balance due in the currency's format; drafts carry a DRAFT mark, void invoices VOID.

PDFs are read back with pypdf, so what is checked is the text a reader of the file gets.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pypdf
import pytest
from helpers_data import add_contract, add_customer, add_line, add_tiers, add_usage

from engine.billing.approval import approve_invoices, hold_invoice
from engine.billing.credit_notes import create_credit_note_tx, load_credit_note
from engine.billing.invoice_store import load_invoice
from engine.billing.invoices import draft_period_invoice, preview_invoice
from engine.billing.lifecycle import finalize_invoice, record_payment, void_invoice
from engine.billing.manual_invoices import create_invoice
from engine.db import connect
from engine.errors import NotFoundError, ValidationError
from engine.io.documents import (
    document_parties,
    invoice_html,
    invoice_pdf,
    render_credit_note,
    render_document,
    render_invoice,
)
from engine.models import LineItem, ManualInvoiceRequest

ROOT = Path(__file__).resolve().parent.parent
VENV_PY = ROOT / ".venv" / "bin" / "python"
CLI = [str(VENV_PY if VENV_PY.exists() else Path(sys.executable)), "-m", "engine"]
MARCH = dt.date(2026, 3, 15)


def finalize(con, invoice_id: str) -> None:
    """Finalize as the lifecycle asks: approve first (spec section 8)."""
    approve_invoices(con, [invoice_id], actor="test")
    finalize_invoice(con, invoice_id)


def pdf_text(data: bytes) -> str:
    assert data.startswith(b"%PDF")
    reader = pypdf.PdfReader(io.BytesIO(data))
    return "\n".join(page.extract_text() for page in reader.pages)


def usd_contract(con) -> None:
    """K1 of a customer whose name is markup: 100.00 platform fee, tiered API calls, 8.25 % tax.
    March: 100.00 + (graduated 1,000 × 0.01 + 500 × 0.005) = 112.50; tax 9.28125 -> 9.28; total 121.78."""
    add_customer(con, "C1", name="<script>alert(1)</script> & Sons", email="ap@sons.example", tax_rate="8.25")
    add_contract(con, "K1", "C1", "2026-01-01")
    add_line(con, "L1", "K1", product="Platform", description="Platform fee", unit_price="100.00")
    add_line(con, "L2", "K1", kind="usage", pricing_model="graduated", product="API calls", metric="calls")
    add_tiers(con, "L2", [("1000", "0.01"), (None, "0.005")])
    add_usage(con, "K1", "calls", "2026-03-10", "1500")


@pytest.fixture
def usd(con) -> str:
    usd_contract(con)
    return draft_period_invoice(con, "K1", MARCH).invoice.invoice_id


def test_a_draft_shows_DRAFT_every_line_and_the_totals_in_dollars(con, usd):
    inv = load_invoice(con, usd)
    html = render_invoice(con, usd, "html")
    assert "DRAFT" in html and inv.number is None
    for text in ("Platform — Platform fee", "API calls", "$100.00", "$12.50", "tier 1: 1,000 × $0.01"):
        assert text in html
    for total in ("$112.50", "Tax (8.25 %)", "$9.28", "$121.78"):  # subtotal, tax rate and amount, total
        assert total in html
    assert "Balance due" in html and "2026-03-01 to 2026-03-31" in html and "ap@sons.example" in html
    assert inv.business_id in html  # the seller


def test_markup_in_a_name_is_escaped(con, usd):
    html = render_invoice(con, usd, "html")
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; Sons" in html


def test_the_pdf_holds_the_number_lines_and_totals_of_a_finalized_invoice(con, usd):
    finalize(con, usd)
    inv = load_invoice(con, usd)
    assert inv.status == "open" and inv.number == 1
    text = pdf_text(render_invoice(con, usd, "pdf"))
    assert "Invoice INV-" in text
    for line in inv.lines:
        assert line.product in text
    for label, amount in (("Subtotal", "$112.50"), ("Tax (8.25 %)", "$9.28"), ("Total", "$121.78")):
        assert label in text and amount in text
    assert "DRAFT" not in text and "VOID" not in text


def test_a_draft_pdf_carries_the_DRAFT_mark_and_no_number(con, usd):
    text = pdf_text(render_invoice(con, usd, "pdf"))
    assert "DRAFT" in text and "Invoice INV-" not in text
    assert "Platform — Platform fee" in text and "$121.78" in text


@pytest.mark.parametrize("status", ["approved", "held"])
def test_approved_and_held_invoices_are_not_finalized_so_they_show_DRAFT(con, usd, status):
    approve_invoices(con, [usd], actor="test")
    if status == "held":
        hold_invoice(con, usd, reason="customer disputes usage", actor="test")
    assert load_invoice(con, usd).status == status
    text = pdf_text(render_invoice(con, usd, "pdf"))
    assert "DRAFT" in text and "Number DRAFT" in text and "$121.78" in text
    assert "disputes" not in text  # a hold reason is the analysts' note, not the customer's


def test_payments_show_in_paid_and_balance_due(con, usd):
    finalize(con, usd)
    record_payment(con, usd, Decimal("21.78"))
    html = render_invoice(con, usd, "html")
    assert "$21.78" in html and "$100.00" in html  # paid and the balance due (also the platform line)
    assert "<th>Status</th><td>Partially paid</td>" in html


@pytest.mark.parametrize("method", ["manual", "stripe"])
def test_a_paid_invoice_says_Paid_never_the_stored_status_name(con, usd, method):
    """The customer reads "Paid", whichever way it was recorded; manual_paid / stripe_paid stay in the data."""
    finalize(con, usd)
    record_payment(con, usd, Decimal("121.78"), method)
    assert load_invoice(con, usd).status == f"{method}_paid"
    html = render_invoice(con, usd, "html")
    assert "<th>Status</th><td>Paid</td>" in html
    assert "manual" not in html.lower() and "stripe" not in html.lower() and "_paid" not in html
    assert "Status Paid" in pdf_text(render_invoice(con, usd, "pdf"))


def test_a_void_invoice_shows_VOID_and_its_reason(con, usd):
    finalize(con, usd)
    void_invoice(con, usd, reason="billed twice")
    text = pdf_text(render_invoice(con, usd, "pdf"))
    assert "VOID" in text and "billed twice" in text and "Invoice INV-" in text
    assert "Balance due none (void)" in text and "$121.78" in text  # the total stays, nothing is owed
    assert "DRAFT" not in text


def test_a_preview_renders_as_a_draft(con):
    usd_contract(con)
    preview = preview_invoice(con, "K1", MARCH)
    assert preview.invoice_id is None
    html = render_document(con, preview, "html")
    assert "DRAFT" in html and "<th>Status</th><td>Not drafted (preview)</td>" in html and "$121.78" in html


@pytest.mark.parametrize(
    "currency, unit_price, line, total",
    [("JPY", 7097, "¥7,097", "¥7,807"), ("KWD", 1250, "KWD 1.250", "KWD 1.375")],
)
def test_amounts_follow_the_currency_decimals(con, currency, unit_price, line, total):
    """JPY has no decimals, KWD three: 10 % tax of ¥7,097 is ¥710 (709.7 rounded), of KWD 1.250 is 0.125."""
    add_customer(con, "C9", currency=currency, tax_rate="10", name="Nine")
    req = ManualInvoiceRequest(customer_id="C9", line_items=[LineItem(description="Consulting", unit_price=unit_price)])
    inv = create_invoice(con, req, today=dt.date(2026, 3, 1))
    html = render_invoice(con, inv.invoice_id, "html")
    assert line in html and total in html
    assert total in pdf_text(invoice_pdf(inv, *document_parties(con, inv)))


def test_invoice_html_takes_the_parties_it_is_given(con, usd):
    inv = load_invoice(con, usd)
    html = invoice_html(
        inv, {"name": "Acme Billing Ltd", "details": ["1 Main St"]}, {"name": "Bob", "customer_id": "C1"}
    )
    assert "Acme Billing Ltd" in html and "1 Main St" in html and "Bob" in html


def test_an_unknown_invoice_or_format_is_refused(con, usd):
    with pytest.raises(NotFoundError):
        render_invoice(con, "inv_nope", "html")
    with pytest.raises(ValidationError):
        render_invoice(con, usd, "docx")


# --- command line -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ledger(tmp_path_factory) -> tuple[Path, str]:
    path = tmp_path_factory.mktemp("render") / "render.duckdb"
    con = connect(path)
    usd_contract(con)
    invoice_id = draft_period_invoice(con, "K1", MARCH).invoice.invoice_id
    finalize(con, invoice_id)
    con.close()
    return path, invoice_id


def billsim(db: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*CLI, "--db", str(db), *args], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )


def test_cli_render_writes_html_and_pdf(ledger, tmp_path):
    db, invoice_id = ledger
    out = tmp_path / "invoice.html"
    proc = billsim(db, "render", invoice_id, "--format", "html", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["format"] == "html" and summary["number"] == 1 and summary["bytes"] == out.stat().st_size
    assert "Invoice INV-" in out.read_text(encoding="utf-8")

    pdf = tmp_path / "invoice.pdf"  # no --format: a .pdf file gets a PDF
    proc = billsim(db, "render", invoice_id, "--out", str(pdf))
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["format"] == "pdf"
    text = pdf_text(pdf.read_bytes())
    assert "Invoice INV-" in text and "$121.78" in text


def test_cli_render_errors_are_one_line(ledger, tmp_path):
    db, invoice_id = ledger
    out = tmp_path / "none.pdf"
    proc = billsim(db, "render", "inv_nope", "--out", str(out))
    assert proc.returncode == 2 and proc.stderr.splitlines() == ["billsim: no invoice 'inv_nope'"]
    assert not out.exists()
    proc = billsim(db, "render", invoice_id, "--out", str(tmp_path / "missing" / "x.html"))
    assert proc.returncode == 4 and len(proc.stderr.splitlines()) == 1 and "Traceback" not in proc.stderr


def text_past_the_right_margin(html: str) -> list[str]:
    """The text WeasyPrint lays out past the page's right margin, on every page (what runs off the printed page)."""
    import weasyprint

    past = []
    for page in weasyprint.HTML(string=html, base_url=None).render().pages:
        box = page._page_box  # the laid-out page (WeasyPrint's layout tree): its content ends at the right margin
        edge = box.position_x + box.margin_left + box.padding_left + box.width

        def walk(b, edge=edge):
            if type(b).__name__ == "TextBox" and b.position_x + b.width > edge + 0.5:
                past.append(b.text[:40])
            for child in getattr(b, "children", None) or []:
                walk(child)

        walk(box)
    return past


def test_a_long_word_breaks_inside_its_cell_in_both_documents(con, usd):
    """A 2,000-character description without a space ran off the right edge of the document (a trial): the lines'
    tables are laid out at a fixed width and a long word breaks inside its cell (CSS overflow-wrap: break-word), in
    invoices and credit notes. (overflow-wrap: anywhere did it too, but 20 such lines then took 132 s to print.)"""
    word = "x" * 1990
    invoice_id = create_invoice(
        con,
        ManualInvoiceRequest(
            customer_id="C1",
            line_items=[LineItem(description=f"Setup {word}", unit_price=12_50)],
            due_date=dt.date(2026, 4, 30),
        ),
    ).invoice_id
    html = render_invoice(con, invoice_id, "html")
    assert word in html
    assert text_past_the_right_margin(html) == []
    assert text_past_the_right_margin(html.replace("overflow-wrap: break-word", "overflow-wrap: normal"))  # it would
    approve_invoices(con, [invoice_id])
    finalize_invoice(con, invoice_id)
    note_id = create_credit_note_tx(
        con, invoice_id, reason="other", items=[(1, Decimal("12.50"))], note=None, actor="a"
    )
    note_html = render_credit_note(con, load_credit_note(con, note_id), "html")
    assert word in note_html and text_past_the_right_margin(note_html) == []
