"""A document's download on a page: its PDF, printed when "Make PDF" is clicked and then offered by Download PDF, or,
when the document is too large to print (engine/service/printing.py), its HTML with the reason said before any click.

The PDF is printed on the page's own run (a spinner while it prints), not inside Streamlit's download button (a
callable given as its `data` runs on another thread when the button is clicked, and any refusal there shows only
Streamlit's "Failed to generate file"): so a printer busy with another document (`PrinterBusyError`,
documents_busy) is said in words under the button (Make PDF again tries again), with Download HTML, the same document.
The database is not held while it prints (the application layer makes the HTML first, then prints it).

The session keeps ONE document's outcome (`PDF_STATE`): its PDF, or the printer's refusal, for the widget key and
the HTML it was made from. Another document, or this one changed (approved, finalized, …), asks for Make PDF again:
a PDF is never offered for a document other than the one shown."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import streamlit as st

from engine.service import BillsimError, PrinterBusyError
from views import _reads
from views._format import markdown_escaped

PDF_STATE = "document_pdf"  # session key: {"key", "digest", "pdf": bytes} or {"key", "digest", "refused": text}
BUSY = (
    "Another document is being printed right now, so this PDF was not made. Click Make PDF again in a "
    "moment (one document prints at a time), or download the same document as HTML and print it from a browser."
)


def _digest(html: str) -> str:
    return hashlib.sha256(html.encode("utf-8")).hexdigest()


def _made(key: str, digest: str) -> dict | None:
    """This document's outcome kept in the session (its PDF or why not), or None."""
    made = st.session_state.get(PDF_STATE)
    return made if made and made["key"] == key and made["digest"] == digest else None


def _print(make_pdf: Callable[[], bytes], key: str, digest: str) -> dict:
    """Print now (waiting for the printer as long as the application layer lets a request wait); keep the outcome."""
    try:
        with st.spinner("Printing the PDF…"):
            made = {"key": key, "digest": digest, "pdf": make_pdf()}
    except PrinterBusyError:
        made = {"key": key, "digest": digest, "refused": BUSY}
    except BillsimError as exc:  # e.g. the invoice deleted meanwhile: said in words, never a traceback
        made = {"key": key, "digest": digest, "refused": f"No PDF: {exc}."}
    st.session_state[PDF_STATE] = made  # one document's at a time: the session holds at most one PDF
    return made


def _html_button(html: str, stem: str, key: str) -> None:
    st.download_button(
        "Download HTML", data=html, file_name=f"{stem}.html", mime="text/html", key=f"{key}_html", on_click="ignore"
    )


def document_download(db: str, html: str, make_pdf: Callable[[], bytes], stem: str, key: str) -> None:
    """Make PDF (`make_pdf` runs on click) then Download PDF, or why printing was refused; Download HTML always.
    Files named `stem`.pdf/.html; the buttons keyed `key`_make_pdf, `key`_pdf and `key`_html."""
    too_large = _reads.pdf_refusal(db, html)
    if too_large is not None:
        st.caption(markdown_escaped(f"No PDF: {too_large}."))
        _html_button(html, stem, key)
        return
    digest = _digest(html)
    made = _made(key, digest)
    slot = st.empty()  # Make PDF, replaced by Download PDF once printed
    if made is None or "pdf" not in made:
        if slot.button("Make PDF", key=f"{key}_make_pdf", help="print this document as a PDF (a few seconds)"):
            made = _print(make_pdf, key, digest)
    if made is not None and "pdf" in made:
        slot.download_button(
            "Download PDF",
            data=made["pdf"],
            file_name=f"{stem}.pdf",
            mime="application/pdf",
            key=f"{key}_pdf",
            on_click="ignore",
        )
    if made is not None and "pdf" not in made:
        st.warning(markdown_escaped(made["refused"]))
    _html_button(html, stem, key)  # the same document, always at hand (a trial wanted it beside a PDF made)
