"""The invoice document on the workbench pages: the Invoice preview and the Ledger's opened invoice show the
document's HTML (DRAFT mark before finalize, the number after) and offer its PDF."""

from __future__ import annotations

import datetime as dt
import io
import re

import pypdf

from engine.db import connect
from tests.ui.test_pages import assert_clean, db_rows, open_page, start_app, widget
from views._document_download import BUSY
from views._format import markdown_escaped


def document_of(at) -> str:
    """The HTML shown in the page's one document iframe."""
    frames = at.get("iframe")
    assert len(frames) == 1, [f.proto for f in frames]
    return frames[0].proto.srcdoc


def pdf_made(at) -> bytes:
    """The PDF the page printed and offers under Download PDF (kept in the session for that button)."""
    from views._document_download import PDF_STATE

    return at.session_state[PDF_STATE]["pdf"]


def test_the_preview_page_shows_the_draft_document_and_its_pdf(workbench_db):
    at = start_app()
    open_page(at, "views/invoice_preview.py")
    cid = widget(at.selectbox, "preview_contract").value
    total = {m.label: m.value for m in at.metric}["Total"]
    html = document_of(at)
    assert "DRAFT invoice" in html and total in html and "Not drafted (preview)" in html
    assert [b.key for b in at.get("download_button")] == ["preview_document_html"]  # nothing printed until asked
    assert [b.label for b in at.button if b.key == "preview_document_make_pdf"] == ["Make PDF"]

    chosen = widget(at.selectbox, f"preview_cycle_{cid}").value
    widget(at.button, f"draft_{cid}_{chosen}").click().run()
    assert_clean(at)
    invoice_id = db_rows(workbench_db, "SELECT invoice_id FROM invoices WHERE contract_id = ?", [cid])[0][0]
    html = document_of(at)
    assert "DRAFT invoice" in html and total in html and invoice_id in html  # the stored draft's own document
    widget(at.button, "stored_document_make_pdf").click().run()  # printed on the page's run, then offered
    assert_clean(at)
    assert [b.key for b in at.get("download_button")] == ["stored_document_pdf", "stored_document_html"]
    assert not [b for b in at.button if b.key == "stored_document_make_pdf"]  # Download PDF took its place
    text = "\n".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf_made(at))).pages)
    assert "DRAFT" in text and total in text


def test_the_ledger_shows_a_finalized_invoice_document_with_its_number(workbench_db):
    from engine.billing.approval import approve_invoices
    from engine.billing.invoices import draft_period_invoice
    from engine.billing.lifecycle import finalize_invoice

    con = connect(workbench_db)
    inv = draft_period_invoice(con, "K-000001", dt.date(2026, 6, 15)).invoice
    approve_invoices(con, [inv.invoice_id], actor="test")
    inv = finalize_invoice(con, inv.invoice_id)
    con.close()
    at = start_app()
    open_page(at, "views/ledger.py")
    widget(at.selectbox, "ledger_pick").set_value(inv.invoice_id).run()
    assert_clean(at)
    html = document_of(at)
    assert inv.invoice_number.endswith(f"-{inv.number:06d}")
    assert f"Invoice {inv.invoice_number}" in html and "DRAFT" not in html
    assert {m.label: m.value for m in at.metric}["Total"] in html
    assert [b.key for b in at.get("download_button")] == ["ledger_document_html"]
    widget(at.button, "ledger_document_make_pdf").click().run()
    assert [b.key for b in at.get("download_button")] == ["ledger_document_pdf", "ledger_document_html"]
    assert inv.invoice_number in pypdf.PdfReader(io.BytesIO(pdf_made(at))).pages[0].extract_text()


def test_a_document_too_large_to_print_offers_its_html_and_says_why_before_any_click(workbench_db):
    """A PDF button whose printing is refused showed only Streamlit's "Failed to generate file": the page says why
    before the click and offers the same document as HTML."""
    from engine.billing.manual_invoices import create_invoice
    from engine.models import LineItem, ManualInvoiceRequest
    from engine.service.limits import PDF_MAX_HTML_BYTES

    con = connect(workbench_db)
    customer = con.execute("SELECT customer_id FROM customers ORDER BY customer_id LIMIT 1").fetchone()[0]
    text = "Consulting hours, itemised " * 60  # 1,620 characters a line: 700 lines are over 1 MiB of HTML
    lines = [LineItem(description=f"{i} {text}", unit_price=100) for i in range(700)]
    inv = create_invoice(con, ManualInvoiceRequest(customer_id=customer, line_items=lines))
    con.close()
    at = start_app()
    open_page(at, "views/ledger.py")
    widget(at.selectbox, "ledger_pick").set_value(inv.invoice_id).run()
    assert_clean(at)
    html = document_of(at)
    assert len(html.encode()) > PDF_MAX_HTML_BYTES
    assert [b.key for b in at.get("download_button")] == ["ledger_document_html"]
    shown = [re.sub(r"\\(.)", r"\1", c.value) for c in at.caption]  # markdown escapes read
    assert any("No PDF: this document is too large to print as a PDF" in c for c in shown), shown


def test_a_pdf_refused_while_another_document_prints_says_so_and_offers_the_html(workbench_db, monkeypatch):
    """Download PDF printed inside Streamlit's download button: a busy printer (documents_busy) showed only "Failed
    to generate file". Make PDF prints on the page's run: the refusal is said in words, with the HTML document."""
    from engine.service.printing import Printer
    from views._database import application

    at = start_app()
    open_page(at, "views/invoice_preview.py")
    printer = Printer(slots=1, wait_s=0)  # another document holds the one slot; no wait in a test
    monkeypatch.setattr(application(str(workbench_db)), "printer", printer)
    assert printer._slots.acquire(blocking=False)
    widget(at.button, "preview_document_make_pdf").click().run()
    assert_clean(at)
    assert [w.value for w in at.warning] == [markdown_escaped(BUSY)]
    assert "Another document is being printed right now" in BUSY
    assert [b.key for b in at.get("download_button")] == ["preview_document_html"]
    assert [b.label for b in at.button if b.key == "preview_document_make_pdf"] == ["Make PDF"]  # to try again

    printer._slots.release()  # the other document is printed: trying again makes this one
    widget(at.button, "preview_document_make_pdf").click().run()
    assert_clean(at)
    assert not at.warning
    assert [b.key for b in at.get("download_button")] == ["preview_document_pdf", "preview_document_html"]
    assert pdf_made(at).startswith(b"%PDF")
