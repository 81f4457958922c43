"""PDF printing, bounded for the whole process. Printing (WeasyPrint) is CPU-bound Python that no deadline can
interrupt, and its time grows with the document: about 26 s per MiB of HTML on the 2-core development machine
(benchmarks/pdf_printing.py; the largest invoice a request may make, 1,000 lines of 2,000 characters, is 2.1 MiB
of HTML and took 57 s). Two printed at once in one process share its interpreter and each took 3 times as long.
So:

    a document whose HTML is beyond PDF_MAX_HTML_BYTES is not printed: document_too_large (HTTP 413; its HTML
        document is always available, and a browser prints it)
    one document prints at a time (PDF_SLOTS); a request waits at most PDF_WAIT_S for the printer, then is
        refused as documents_busy (HTTP 503 with Retry-After; the command line's exit 3), nothing done

so that a PDF is answered, or refused, within the request deadline (limits.REQUEST_DEADLINE_S). The database is not
held while a document prints: its HTML is made first (a cursor), then printed (none)."""

from __future__ import annotations

import threading

from ..errors import PrinterBusyError, TooMuchWorkError
from ..io.documents import html_to_pdf
from ..limits import PDF_MAX_HTML_BYTES, PDF_SLOTS, PDF_WAIT_S


class Printer:
    def __init__(
        self, slots: int = PDF_SLOTS, wait_s: float = PDF_WAIT_S, max_html_bytes: int = PDF_MAX_HTML_BYTES
    ) -> None:
        self.slots, self._slots = slots, threading.BoundedSemaphore(slots)
        self.wait_s, self.max_html_bytes = wait_s, max_html_bytes

    def refusal(self, html: str) -> str | None:
        """Why `html` is not printed, whoever asks (it is beyond max_html_bytes); None when it is printed. A front
        end offers the HTML instead of a PDF button that would fail (the workbench)."""
        size = len(html.encode("utf-8"))
        if size <= self.max_html_bytes:
            return None
        return (
            f"this document is too large to print as a PDF ({size / 2**20:.1f} MiB of HTML, at most "
            f"{self.max_html_bytes / 2**20:.1f} MiB: about half a minute of printing): take its HTML document, the "
            "same document, and print that from a browser"
        )

    def pdf(self, html: str) -> bytes:
        """`html` printed to PDF when the printer is free (waiting up to wait_s for it), else PrinterBusyError; a
        document beyond max_html_bytes is TooMuchWorkError (document_too_large), before any wait."""
        if (too_large := self.refusal(html)) is not None:
            raise TooMuchWorkError(too_large, code="document_too_large")
        if not self._slots.acquire(timeout=self.wait_s):
            raise PrinterBusyError(
                f"the PDF printer stayed busy for {self.wait_s:g} s (other documents are being printed); try again "
                "in a moment, or ask for the HTML document"
            )
        try:
            return html_to_pdf(html)
        finally:
            self._slots.release()
