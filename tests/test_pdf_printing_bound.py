"""PDF printing is bounded for the whole process (engine/service/printing.py): at most a few documents print at
once, and a request that waits too long for a slot is refused as documents_busy (HTTP 503 with Retry-After, the
command line's exit 3), nothing done; the HTML document is never held up. The database is not held while a
document prints.

Printing is stood still by a stand-in for WeasyPrint that waits for an event, so the slots are taken for as
long as the test says; the waits are the Printer's own (a fraction of a second here), never asserted as
durations."""

from __future__ import annotations

import datetime as dt
import io
import subprocess
import threading
from pathlib import Path

import pypdf
import pytest
from fastapi.testclient import TestClient
from helpers_data import add_contract, add_customer, add_line

from engine.access.tokens import create_token
from engine.api.app import create_app, open_server_app
from engine.billing.invoices import draft_period_invoice
from engine.cli import main as cli_main
from engine.db import connect
from engine.errors import PrinterBusyError, PrintError, TooMuchWorkError
from engine.io import pdf_process
from engine.service import Billsim, Caller, invoices, lifecycle
from engine.service import printing as printing_module
from engine.service.printing import Printer

JOIN_S = 30.0  # turns a print that never ends into a failure; no test asserts a duration


@pytest.fixture
def path(tmp_path) -> tuple[Path, str, str]:
    db = tmp_path / "p.duckdb"
    con = connect(db)
    add_customer(con, "C1", business_id="B1")
    add_contract(con, "K1", "C1", "2026-01-01")
    add_line(con, "L1", "K1", unit_price="10.00", product="Platform")
    invoice_id = draft_period_invoice(con, "K1", dt.date(2026, 3, 15)).invoice.invoice_id
    token = create_token(con, "B1", "b1-ci")
    con.close()
    return db, invoice_id, token


class StandStill:
    """printed_pdf replaced: each call says it started and waits until released, then answers a tiny PDF."""

    def __init__(self) -> None:
        self.started = threading.Semaphore(0)
        self.release = threading.Event()

    def __call__(self, html: str, timeout_s: float) -> bytes:
        self.started.release()
        assert self.release.wait(JOIN_S)
        return b"%PDF-1.7 " + str(len(html)).encode()


@pytest.fixture
def stand_still(monkeypatch):
    printer = StandStill()
    monkeypatch.setattr(printing_module, "printed_pdf", printer)
    yield printer
    printer.release.set()  # a failed assertion never leaves a print waiting


def _in_thread(fn) -> tuple[threading.Thread, list]:
    out: list = []
    thread = threading.Thread(target=lambda: out.append(fn()))
    thread.start()
    return thread, out


def test_a_document_waiting_past_the_bound_for_a_slot_is_refused_and_the_printing_ones_finish(path, stand_still):
    db, invoice_id, _ = path
    with Billsim.open(db) as app:
        app.printer = Printer(slots=2, wait_s=0.2)
        s = app.session(Caller.local("t"))
        printing = [_in_thread(lambda: invoices.document(s, invoice_id, "pdf")) for _ in range(2)]
        for _ in printing:
            assert stand_still.started.acquire(timeout=JOIN_S)  # both slots are taken
        with pytest.raises(PrinterBusyError) as refused:
            invoices.document(s, invoice_id, "pdf")
        assert refused.value.code == "documents_busy" and refused.value.status == 503
        assert "<html" in invoices.document(s, invoice_id, "html").lower()  # HTML needs no slot
        # the database is free while documents print: a write goes through
        assert lifecycle.hold(s, [invoice_id], "checking the figures")[0].status == "held"
        stand_still.release.set()
        for thread, out in printing:
            thread.join(JOIN_S)
            assert out and out[0].startswith(b"%PDF")
        assert invoices.document(s, invoice_id, "pdf").startswith(b"%PDF")  # a slot is free again


def test_over_http_a_busy_printer_is_503_documents_busy_with_retry_after(path, stand_still):
    db, invoice_id, token = path
    app = open_server_app(db)
    app.printer = Printer(slots=1, wait_s=0.2)
    auth = {"Authorization": f"Bearer {token}", "x-business-id": "B1"}
    with TestClient(create_app(billsim=app)) as http:
        first, out = _in_thread(lambda: http.get(f"/api/v1/invoices/{invoice_id}.pdf", headers=auth))
        assert stand_still.started.acquire(timeout=JOIN_S)
        busy = http.get(f"/api/v1/invoices/{invoice_id}.pdf", headers=auth)
        assert busy.status_code == 503, busy.text
        assert busy.json()["code"] == "documents_busy" and busy.headers["Retry-After"] == "1"
        stand_still.release.set()
        first.join(JOIN_S)
        assert out[0].status_code == 200 and out[0].content.startswith(b"%PDF")


def test_the_command_line_answers_a_busy_printer_with_exit_3(path, stand_still, tmp_path):
    db, invoice_id, _ = path
    with Billsim.open(db) as app:
        app.printer = Printer(slots=1, wait_s=0.2)
        holder, _ = _in_thread(lambda: invoices.document(app.session(Caller.local("t")), invoice_id, "pdf"))
        assert stand_still.started.acquire(timeout=JOIN_S)
        out, err = io.StringIO(), io.StringIO()
        argv = ["--db", str(db), "render", invoice_id, "--out", str(tmp_path / "i.pdf")]
        code = cli_main(argv, stdout=out, stderr=err, app=app)
        stand_still.release.set()
        holder.join(JOIN_S)
    assert code == 3, err.getvalue()
    assert "the PDF printer stayed busy" in err.getvalue()
    assert not (tmp_path / "i.pdf").exists()


def test_a_document_too_large_to_print_within_a_request_is_413_and_its_html_is_still_served(path, stand_still):
    """Printing time grows with the document (about 26 s per MiB of HTML): beyond the bound a PDF is refused at once,
    before any wait for the printer, and the HTML (the same document) is served."""
    db, invoice_id, token = path
    app = open_server_app(db)
    html = invoices.document(app.session(Caller.local("t")), invoice_id, "html")
    app.printer = Printer(max_html_bytes=len(html.encode()) - 1)  # this invoice is one byte too large
    auth = {"Authorization": f"Bearer {token}", "x-business-id": "B1"}
    with TestClient(create_app(billsim=app)) as http:
        refused = http.get(f"/api/v1/invoices/{invoice_id}.pdf", headers=auth)
        assert refused.status_code == 413, refused.text
        assert refused.json()["code"] == "document_too_large" and "HTML" in refused.json()["message"]
        assert http.get(f"/api/v1/invoices/{invoice_id}.html", headers=auth).status_code == 200
    assert stand_still.started.acquire(timeout=0) is False  # nothing was printed
    app.printer = Printer(max_html_bytes=len(html.encode()))  # at the bound: printed
    stand_still.release.set()
    assert invoices.document(app.session(Caller.local("t")), invoice_id, "pdf").startswith(b"%PDF")


SLOW_HTML = (  # long unbroken words print slowly: about 0.1 s a row on the development machine, 100 rows
    "<html><body><table style='width:100%;table-layout:fixed'>"
    + "".join(f"<tr><td>{i}</td><td>{'x' * 1620}</td></tr>" for i in range(100))
    + "</table></body></html>"
)


def test_a_document_printing_past_the_bound_is_stopped_refused_as_too_large_and_frees_the_printer():
    """500 lines of one 1,620-character word (0.88 MiB, under the size bound) did not print in 300 s and held a
    server's printer for 18 minutes. Printing is now a child process stopped at the bound (here 0.2 s, for a
    document that takes seconds): refused as document_too_large, and the next document prints."""
    printer = Printer(slots=1, wait_s=0, print_s=0.2)
    with pytest.raises(TooMuchWorkError, match="takes more than 0.2 s to print as a PDF") as exc:
        printer.pdf(SLOW_HTML)
    assert exc.value.code == "document_too_large"
    small = Printer(slots=1, wait_s=0).pdf("<html><body><p>Invoice INV-1</p></body></html>")  # a slot, a PDF
    assert small.startswith(b"%PDF")
    assert "Invoice INV-1" in pypdf.PdfReader(io.BytesIO(small)).pages[0].extract_text()
    assert printer._slots.acquire(timeout=0)  # the stopped print gave its slot back


def test_a_printer_that_ends_without_a_pdf_is_print_failed_and_says_nothing_of_its_insides(monkeypatch):
    def failing_child(*args, **kwargs):
        return subprocess.CompletedProcess(args, 1, stdout=b"", stderr=b"Traceback ... pango ... secret path")

    monkeypatch.setattr(pdf_process.subprocess, "run", failing_child)
    with pytest.raises(PrintError) as exc:
        Printer(slots=1, wait_s=0).pdf("<p>x</p>")
    assert exc.value.code == "print_failed" and exc.value.status == 500
    assert "Traceback" not in str(exc.value) and "secret" not in str(exc.value)
