"""HTTP API benchmark (issue 11): `billsim serve` on 127.0.0.1 over the 100k-contract / 10M-usage-row demo database.

    python benchmarks/api.py [--contracts 100000 --usage-rows 10000000 --requests 800 --clients 8]

  preview     POST /api/v1/contracts/{id}/preview-invoice for --requests different contracts (period date
              --period-date), from --clients concurrent clients (one HTTP keep-alive connection each):
              p50_ms, p99_ms, requests_per_s, errors (any status but 200). Target: p50 <= 60 ms, no error.
  generate    --concurrent (50) POST .../generate-period-invoices for ONE contract cycle at once: exactly one
              must answer created: true, the others created: false with the same invoice id.
  lists       (issue 17) GET /api/v1/invoices?limit=50 and ?limit=500 over the drafts of a bill run of the period
              (made before the server starts), best of --list-repeats each: limit_500_ms / limit_50_ms. Target:
              at most 3 (a page is a constant number of queries, whatever its size).

The demo database is the cached one of benchmarks/bill_run.py (generated on first use), copied so the
cache is never written. The server is started and stopped here; every request goes to 127.0.0.1 and the
loops are bounded by --requests. Progress on stderr, the JSON result on stdout (exit 1 if a target is missed).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime as dt
import json
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import bill_run as bill_run_benchmark  # noqa: E402  (its cached demo database)

from engine.access.tokens import create_token  # noqa: E402
from engine.billing.bill_run import bill_run  # noqa: E402
from engine.db import connect  # noqa: E402

BILLSIM = Path(sys.executable).with_name("billsim")


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def start_server(db: Path, port: int, log_path: Path) -> subprocess.Popen:
    proc = subprocess.Popen(
        [str(BILLSIM), "--db", str(db), "serve", "--port", str(port)],
        stdout=open(log_path, "wb"),  # noqa: SIM115 - the server's own log, closed with the process
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"billsim serve exited: {log_path.read_text()[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            time.sleep(0.2)
    proc.terminate()
    raise SystemExit("billsim serve did not answer within 120 s")


def preview_load(url: str, auth: dict, contracts: list[str], period_date: str, clients: int) -> dict:
    chunks = [contracts[i::clients] for i in range(clients)]

    def client(ids: list[str]) -> list[tuple[float, int]]:
        out = []
        with httpx.Client(base_url=url, headers=auth, timeout=60) as c:
            for cid in ids:
                t0 = time.perf_counter()
                r = c.post(f"/api/v1/contracts/{cid}/preview-invoice", json={"period_date": period_date})
                out.append(((time.perf_counter() - t0) * 1000, r.status_code))
        return out

    t0 = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(max_workers=clients) as pool:
        results = [x for part in pool.map(client, chunks) for x in part]
    wall = time.perf_counter() - t0
    ms = [m for m, _ in results]
    statuses = {}
    for _, s in results:
        statuses[s] = statuses.get(s, 0) + 1
    return {
        "requests": len(results),
        "clients": clients,
        "p50_ms": round(statistics.median(ms), 1),
        "p99_ms": round(percentile(ms, 0.99), 1),
        "requests_per_s": round(len(results) / wall, 1),
        "errors": sum(n for s, n in statuses.items() if s != 200),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
    }


def concurrent_generate(url: str, auth: dict, contract_id: str, period_date: str, n: int) -> dict:
    def call(_):
        with httpx.Client(base_url=url, headers=auth, timeout=300) as c:
            return c.post(
                f"/api/v1/contracts/{contract_id}/generate-period-invoices", json={"period_date": period_date}
            )

    t0 = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(max_workers=n) as pool:
        responses = list(pool.map(call, range(n)))
    ok = [r for r in responses if r.status_code == 201]
    created = [r.json()["data"]["created"] for r in ok]
    return {
        "calls": n,
        "seconds": round(time.perf_counter() - t0, 2),
        "status_201": len(ok),
        "created_true": created.count(True),
        "created_false": created.count(False),
        "distinct_invoice_ids": len({r.json()["data"]["invoice"]["id"] for r in ok}),
        "other_statuses": sorted({r.status_code for r in responses if r.status_code != 201}),
    }


def list_pages(url: str, auth: dict, repeats: int) -> dict:
    """Best of `repeats` for one page of 50 and one of 500 invoices (interleaved, so both meet the same load)."""
    best = {50: float("inf"), 500: float("inf")}
    with httpx.Client(base_url=url, headers=auth, timeout=300) as c:
        for _ in range(repeats):
            for limit in (50, 500):
                t0 = time.perf_counter()
                r = c.get("/api/v1/invoices", params={"limit": limit})
                best[limit] = min(best[limit], (time.perf_counter() - t0) * 1000)
                assert r.status_code == 200 and len(r.json()["data"]) == limit, r.text[:300]
    return {
        "limit_50_ms": round(best[50], 1),
        "limit_500_ms": round(best[500], 1),
        "ratio_500_to_50": round(best[500] / best[50], 2),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--contracts", type=int, default=100_000)
    ap.add_argument("--usage-rows", type=int, default=10_000_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--period-date", default="2026-03-15")
    ap.add_argument("--requests", type=int, default=800)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--concurrent", type=int, default=50)
    ap.add_argument("--business", default="biz-north")
    ap.add_argument("--list-repeats", type=int, default=5)
    ap.add_argument("--skip-preview", action="store_true", help="measure only generate and the lists")
    ap.add_argument(
        "--adjustments", choices=("none", "demo", "every"), default="demo", help="taxes and coupons, as bill_run.py"
    )
    args = ap.parse_args()
    cache_args = argparse.Namespace(
        contracts=args.contracts,
        usage_rows=args.usage_rows,
        seed=args.seed,
        regenerate=False,
        memory_limit=None,
        adjustments=args.adjustments,
    )
    base, _ = bill_run_benchmark.cached_database(cache_args)
    with tempfile.TemporaryDirectory(prefix="billsim-api-bench-") as tmp:
        db = Path(tmp) / "api.duckdb"
        shutil.copyfile(base, db)
        con = connect(db)
        token = create_token(con, args.business, "api-benchmark")
        active = [
            r[0]
            for r in con.execute(
                """SELECT k.contract_id FROM contracts k JOIN customers c USING (customer_id)
                   WHERE c.business_id = ? AND k.start_date <= ?::DATE
                     AND (k.end_date IS NULL OR k.end_date >= ?::DATE)
                   ORDER BY hash(k.contract_id) LIMIT ?""",
                [args.business, args.period_date, args.period_date, args.requests + 1],
            ).fetchall()
        ]
        # generate's contract: open-ended, with a recurring line, so it bills a cycle 400 days on (below)
        (generated,) = con.execute(
            """SELECT k.contract_id FROM contracts k JOIN customers c USING (customer_id)
               WHERE c.business_id = ? AND k.start_date <= ?::DATE AND k.end_date IS NULL
                 AND k.contract_id IN (SELECT contract_id FROM order_lines WHERE kind = 'recurring')
               ORDER BY hash(k.contract_id) LIMIT 1""",
            [args.business, args.period_date],
        ).fetchone()
        log(f"bill run of {args.period_date} for the list pages")
        bill_run(con, dt.date.fromisoformat(args.period_date), business_id=args.business)
        con.close()
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        auth = {"Authorization": f"Bearer {token}", "x-business-id": args.business}
        proc = start_server(db, port, Path(tmp) / "server.log")
        try:
            preview = None
            if not args.skip_preview:
                log(f"warming up; then {args.requests} previews from {args.clients} clients")
                preview_load(url, auth, active[-args.clients :], args.period_date, args.clients)
                preview = preview_load(url, auth, active[: args.requests], args.period_date, args.clients)
                log(f"preview: {preview}")
            lists = list_pages(url, auth, args.list_repeats)
            log(f"lists: {lists}")
            # 400 days on: a cycle the bill run made for the list pages did not draft, whether the contract bills by
            # month, quarter or year (31 days on, a quarterly or yearly contract's cycle was that run's: all 50 calls
            # answered created: false)
            later = (dt.date.fromisoformat(args.period_date) + dt.timedelta(days=400)).isoformat()
            generate = concurrent_generate(url, auth, generated, later, args.concurrent)
            log(f"generate: {generate}")
        finally:
            proc.terminate()
            proc.wait(timeout=60)
    result = {"benchmark": "api", "contracts": args.contracts, "usage_rows": args.usage_rows, "preview": preview}
    result["generate"] = generate
    result["lists"] = lists
    result["targets_met"] = (
        (preview is None or (preview["p50_ms"] <= 60 and preview["errors"] == 0))
        and lists["ratio_500_to_50"] <= 3
        and generate["created_true"] == 1
        and generate["created_false"] == args.concurrent - 1
        and generate["distinct_invoice_ids"] == 1
    )
    print(json.dumps(result))
    return 0 if result["targets_met"] else 1


if __name__ == "__main__":
    sys.exit(main())
