"""The invoice document (spec section 8) on a page: the HTML as the customer sees it, and its PDF."""

from __future__ import annotations

import datetime as dt

import streamlit as st

from engine.service.formats import Invoice
from views import _reads
from views._database import db_path
from views._document_download import document_download


def _file_name(inv: Invoice, period_date: dt.date | None) -> str:
    if inv.invoice_number is not None:
        return f"invoice-{inv.invoice_number}.pdf"
    if inv.invoice_id is not None:
        return f"draft-{inv.invoice_id}.pdf"
    return f"preview-{inv.contract_id}-{period_date}.pdf"


def show_document(inv: Invoice, key: str, period_date: dt.date | None = None) -> None:
    """The document of a stored invoice, or of a preview (then `period_date` picks its cycle).

    The PDF is made only when Make PDF is clicked: printing takes a moment, and most visits only look."""
    db = db_path()
    if inv.invoice_id is not None:
        html = _reads.invoice_document_html(db, inv.invoice_id)
        make_pdf = _reads.document_pdf_later(db, inv.invoice_id, None, None)
    else:
        html = _reads.preview_document_html(db, inv.contract_id, period_date)
        make_pdf = _reads.document_pdf_later(db, None, inv.contract_id, period_date)
    with st.expander("Document, as the customer sees it", expanded=False):
        document_download(db, html, make_pdf, _file_name(inv, period_date).removesuffix(".pdf"), f"{key}_document")
        # The document's HTML is the engine's template output: every text from the data is escaped there
        # and it has no script, so showing it in an iframe runs nothing from the data.
        st.iframe(html, height=900)  # about one A4 page; a longer invoice scrolls inside
