"""One bill run of a period date on a fresh copy of a demo database: its time and outcome, as one JSON line.

    python benchmarks/late_bill_run.py benchmarks/out/demo_c100000_u10000000_s7_demo_<fp>.duckdb 2199-12-15

Measures the date bound of a bill run (engine/billing/run_dates.py) where it reads anything: a period date after
2189-01-01. Alternate main's and a branch's checkouts in one session (each with its own .venv and PYTHONPATH).
"""

import datetime as dt
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

from engine.billing.bill_run import bill_run
from engine.db import connect
from engine.errors import BillsimError

src, date = sys.argv[1], dt.date.fromisoformat(sys.argv[2])
folder = tempfile.mkdtemp(prefix="late_run_")
copy = Path(folder) / "copy.duckdb"
shutil.copy(src, copy)
con = connect(copy)
t0 = time.perf_counter()
try:
    r = bill_run(con, date, requested_by="bench")
    outcome = f"drafted {r.drafted}"
except BillsimError as exc:
    outcome = f"refused {exc.code}: {str(exc)[:60]}"
s = time.perf_counter() - t0
runs = con.execute("SELECT count(*) FROM bill_runs").fetchone()[0]
inv = con.execute("SELECT count(*) FROM invoices WHERE run_id IS NOT NULL").fetchone()[0]
print(json.dumps({"date": str(date), "s": round(s, 3), "outcome": outcome, "run_rows": runs, "run_invoices": inv}))
con.close()
shutil.rmtree(folder)
