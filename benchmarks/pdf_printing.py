"""PDF printing, bounded for the process (engine/service/printing.py): the largest invoice a request may make,
printed alone and asked for by several callers at once.

    python benchmarks/pdf_printing.py [--callers 6] [--lines 1000] [--chars 2000] [--unbroken]

On a temporary database, one manual invoice of --lines custom lines whose descriptions are --chars characters
long (the request limits: 1,000 lines, 2,000 characters). Then, through the application layer
(`invoices.document(…, "pdf")`, what the HTTP API's `.pdf`, the CLI's `render` and the workbench call):

  html_s            making the document's HTML (with the database), best of 3
  alone_s           one PDF printed alone, best of 2 (alone_outcome: ok, or the refusal's code)
  callers           --callers threads ask for the PDF at the same moment, with the process's printer
                    (PDF_SLOTS at a time, a caller waits up to PDF_WAIT_S for a slot): each caller's outcome
                    (`ok` or the refusal's code) and seconds, `slowest_ok_s`, `refused`
  slots, wait_s     the printer's bound

Progress goes to stderr; the final JSON line to stdout. Timings only: no test depends on them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine.billing.manual_invoices import create_invoice  # noqa: E402 (after the path is set)
from engine.db import connect  # noqa: E402
from engine.errors import BillsimError  # noqa: E402
from engine.models import LineItem, ManualInvoiceRequest  # noqa: E402
from engine.service import Billsim, Caller, invoices  # noqa: E402
from engine.service.printing import Printer  # noqa: E402
from tests.helpers_data import add_customer  # noqa: E402


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--callers", type=int, default=6)
    ap.add_argument("--lines", type=int, default=1000)
    ap.add_argument("--chars", type=int, default=2000)
    ap.add_argument("--unbroken", action="store_true", help="each description one word (no space): the slow case")
    args = ap.parse_args()
    out: dict = {
        "lines": args.lines,
        "chars": args.chars,
        "unbroken": args.unbroken,
        "cpus": os.cpu_count(),
        "loadavg_start": os.getloadavg()[0],
    }
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "pdf.duckdb"
        con = connect(path)
        add_customer(con, "C1")
        words = "Consulting-hours-itemised-" if args.unbroken else "Consulting hours, itemised: "
        text = (words * (args.chars // len(words) + 1))[: args.chars]
        lines = [LineItem(description=f"{i:04d}{text}"[: args.chars], unit_price=12_50) for i in range(args.lines)]
        invoice_id = create_invoice(
            con, ManualInvoiceRequest(customer_id="C1", line_items=lines, due_date=dt.date(2026, 4, 30))
        ).invoice_id
        con.close()
        with Billsim.open(path) as app:
            s = app.session(Caller.local("bench"))
            html_runs = []
            for _ in range(3):
                t0 = time.perf_counter()
                invoices.document(s, invoice_id, "html")
                html_runs.append(time.perf_counter() - t0)
            out["html_s"] = round(min(html_runs), 3)
            out["html_bytes"] = len(invoices.document(s, invoice_id, "html").encode())
            log(f"html {out['html_s']} s")
            alone, size, outcome = [], None, "ok"
            for _ in range(2):
                t0 = time.perf_counter()
                try:
                    size = len(invoices.document(s, invoice_id, "pdf"))
                except BillsimError as exc:  # e.g. document_too_large: not printed within the printer's bound
                    outcome = exc.code
                alone.append(time.perf_counter() - t0)
                log(f"pdf alone {alone[-1]:.1f} s: {outcome} ({size or 0:,} bytes)")
            out["alone_s"], out["alone_outcome"], out["pdf_bytes"] = round(min(alone), 2), outcome, size
            app.printer = Printer()  # the process's bound, as a server has it
            out["slots"], out["wait_s"] = app.printer.slots, app.printer.wait_s
            results: list[tuple[str, float]] = []
            start = threading.Barrier(args.callers)

            def caller() -> None:
                start.wait()
                t0 = time.perf_counter()
                try:
                    invoices.document(app.session(Caller.local("bench")), invoice_id, "pdf")
                    outcome = "ok"
                except BillsimError as exc:
                    outcome = exc.code
                results.append((outcome, round(time.perf_counter() - t0, 2)))
                log(f"caller: {outcome} after {results[-1][1]} s")

            threads = [threading.Thread(target=caller) for _ in range(args.callers)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
    out["callers"] = sorted(results, key=lambda r: r[1])
    oks = [sec for outcome, sec in results if outcome == "ok"]
    out["slowest_ok_s"] = max(oks) if oks else None
    out["refused"] = sum(outcome != "ok" for outcome, _ in results)
    out["loadavg_end"] = os.getloadavg()[0]
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
