"""PDF printing, bounded for the whole process. Printing (WeasyPrint) is CPU-bound Python that no deadline can
interrupt, and its time grows with the document: about 16 s per MiB of HTML on the 2-core development machine
(benchmarks/pdf_printing.py, 0.9 MiB of lines of 2,000 characters, with spaces or one unbroken word alike; the
largest invoice a request may make, 1,000 such lines, is 2.1 MiB). A document the engine's templates lay out
slowly would take far longer (with `overflow-wrap: anywhere` in the lines' cells, 500 unbroken lines did not
print in 300 s). Two printed at once share the machine. So:

    a document whose HTML is beyond PDF_MAX_HTML_BYTES is not printed: document_too_large (HTTP 413; its HTML
        document is always available, and a browser prints it)
    one document prints at a time (PDF_SLOTS); a request waits at most PDF_WAIT_S for the printer, then is
        refused as documents_busy (HTTP 503 with Retry-After; the command line's exit 3), nothing done
    a document prints in a child process (engine/io/pdf_process.py) for at most PDF_PRINT_S, then is stopped and
        refused as document_too_large too (its HTML offered), and the printer is free again

so that a PDF is answered, or refused, within the request deadline (limits.REQUEST_DEADLINE_S). The database is not
held while a document prints: its HTML is made first (a cursor), then printed (none)."""

from __future__ import annotations

import threading

from ..errors import PrinterBusyError, PrintError, TooMuchWorkError
from ..io.pdf_process import PrintFailed, PrintTimeout, printed_pdf
from ..limits import PDF_MAX_HTML_BYTES, PDF_PRINT_S, PDF_SLOTS, PDF_WAIT_S


class Printer:
    def __init__(
        self,
        slots: int = PDF_SLOTS,
        wait_s: float = PDF_WAIT_S,
        max_html_bytes: int = PDF_MAX_HTML_BYTES,
        print_s: float = PDF_PRINT_S,
    ) -> None:
        self.slots, self._slots = slots, threading.BoundedSemaphore(slots)
        self.wait_s, self.max_html_bytes, self.print_s = wait_s, max_html_bytes, print_s

    def refusal(self, html: str) -> str | None:
        """Why `html` is not printed, whoever asks (it is beyond max_html_bytes); None when it is printed. A front
        end offers the HTML instead of a PDF button that would fail (the workbench)."""
        size = len(html.encode("utf-8"))
        if size <= self.max_html_bytes:
            return None
        return (
            f"this document is too large to print as a PDF ({size / 2**20:.1f} MiB of HTML, at most "
            f"{self.max_html_bytes / 2**20:.1f} MiB: about 16 s of printing): take its HTML document, the "
            "same document, and print that from a browser"
        )

    def pdf(self, html: str) -> bytes:
        """`html` printed to PDF when the printer is free (waiting up to wait_s for it), else PrinterBusyError; a
        document beyond max_html_bytes is TooMuchWorkError (document_too_large), before any wait, and so is one
        not printed within print_s (stopped)."""
        if (too_large := self.refusal(html)) is not None:
            raise TooMuchWorkError(too_large, code="document_too_large")
        if not self._slots.acquire(timeout=self.wait_s):
            raise PrinterBusyError(
                f"the PDF printer stayed busy for {self.wait_s:g} s (other documents are being printed); try again "
                "in a moment, or ask for the HTML document"
            )
        try:
            return printed_pdf(html, self.print_s)
        except PrintTimeout:
            raise TooMuchWorkError(
                f"this document takes more than {self.print_s:g} s to print as a PDF, so its printing was stopped: "
                "take its HTML document, the same document, and print that from a browser",
                code="document_too_large",
            ) from None
        except PrintFailed:
            raise PrintError("the PDF could not be printed; take the HTML document") from None
        finally:
            self._slots.release()
