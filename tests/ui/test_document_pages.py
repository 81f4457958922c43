"""The invoice document on the workbench pages: the Invoice preview and the Ledger's opened invoice show the
document's HTML (DRAFT mark before finalize, the number after) and offer its PDF."""

from __future__ import annotations

import datetime as dt
import io
import re

import pypdf

from engine.db import connect
from tests.ui.test_pages import assert_clean, db_rows, open_page, start_app, widget


def document_of(at) -> str:
    """The HTML shown in the page's one document iframe."""
    frames = at.get("iframe")
    assert len(frames) == 1, [f.proto for f in frames]
    return frames[0].proto.srcdoc


def test_the_preview_page_shows_the_draft_document_and_its_pdf(workbench_db):
    at = start_app()
    open_page(at, "views/invoice_preview.py")
    cid = widget(at.selectbox, "preview_contract").value
    total = {m.label: m.value for m in at.metric}["Total"]
    html = document_of(at)
    assert "DRAFT invoice" in html and total in html and "not drafted (preview)" in html
    assert [b.key for b in at.get("download_button")] == ["preview_document_pdf"]

    chosen = widget(at.selectbox, f"preview_cycle_{cid}").value
    widget(at.button, f"draft_{cid}_{chosen}").click().run()
    assert_clean(at)
    invoice_id = db_rows(workbench_db, "SELECT invoice_id FROM invoices WHERE contract_id = ?", [cid])[0][0]
    html = document_of(at)
    assert "DRAFT invoice" in html and total in html and invoice_id in html  # the stored draft's own document
    assert [b.key for b in at.get("download_button")] == ["stored_document_pdf"]

    from views import _reads  # the Download PDF button's callable, as the button calls it

    pdf = _reads.document_pdf_later(str(workbench_db), invoice_id, None, None)()
    text = "\n".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf)).pages)
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
    assert [b.key for b in at.get("download_button")] == ["ledger_document_pdf"]


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
