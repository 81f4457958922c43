"""PDF printing, bounded for the whole process: a document is printed (WeasyPrint) in at most PDF_SLOTS at a time,
and a request waits at most PDF_WAIT_S for a slot, then is refused as documents_busy (HTTP 503 with Retry-After;
the command line's exit 3), nothing done. Printing is CPU- and memory-bound Python that no deadline can interrupt:
the largest invoice a request may make (1,000 lines of 2,000 characters) prints in 17-19 s alone, and six printed
at once took 116 s each. The database is not held while a document prints: its HTML is made first (a cursor),
then printed (none)."""

from __future__ import annotations

import threading

from ..errors import PrinterBusyError
from ..io.documents import html_to_pdf
from ..limits import PDF_SLOTS, PDF_WAIT_S


class Printer:
    def __init__(self, slots: int = PDF_SLOTS, wait_s: float = PDF_WAIT_S) -> None:
        self.slots, self._slots = slots, threading.BoundedSemaphore(slots)
        self.wait_s = wait_s

    def pdf(self, html: str) -> bytes:
        """`html` printed to PDF in a free slot (waiting up to wait_s for one), else PrinterBusyError."""
        if not self._slots.acquire(timeout=self.wait_s):
            raise PrinterBusyError(
                f"every PDF printing slot stayed taken for {self.wait_s:g} s (other documents are being printed); "
                "try again in a moment, or ask for the HTML document"
            )
        try:
            return html_to_pdf(html)
        finally:
            self._slots.release()
