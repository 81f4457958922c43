"""A document's download on a page: its PDF, printed when the button is clicked, or, when the document is too
large to print (engine/service/printing.py), its HTML with the reason said before any click (a PDF button whose
printing is refused shows only Streamlit's "Failed to generate file")."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from views import _reads
from views._format import markdown_escaped


def document_download(db: str, html: str, make_pdf: Callable[[], bytes], stem: str, key: str) -> None:
    """The Download PDF button (`make_pdf` runs on click), or Download HTML and why; files named `stem`.pdf/.html,
    the buttons keyed `key`_pdf / `key`_html."""
    too_large = _reads.pdf_refusal(db, html)
    if too_large is None:
        st.download_button(
            "Download PDF",
            data=make_pdf,
            file_name=f"{stem}.pdf",
            mime="application/pdf",
            key=f"{key}_pdf",
            on_click="ignore",
        )
        return
    st.caption(markdown_escaped(f"No PDF: {too_large}."))
    st.download_button(
        "Download HTML", data=html, file_name=f"{stem}.html", mime="text/html", key=f"{key}_html", on_click="ignore"
    )
