"""What the server guarantees while work is under way and across a crash, over real HTTP.

The server is stopped at named points (engine/api/faults.py): it blocks opening a FIFO the test made, so
the test knows the server is at the point when its own open() for writing returns, and lets it go on by
closing the FIFO (or kills the process there with SIGKILL). No sleeps: waits are bounded by deadlines that
only turn a hang into a failure.
"""

from __future__ import annotations

import os
import threading
from contextlib import contextmanager

import httpx
import pytest

from engine.service.faults import fifo_path

from .conftest import Server, free_port, headers, make_database, wait_run

REACH_DEADLINE_S = 60.0


@pytest.fixture
def paused_server(tmp_path):
    """start(points) -> a server over a fresh two-business database that stops at `points`."""
    servers: list[Server] = []

    def start(*points: str) -> Server:
        db, tokens = make_database(tmp_path)
        for point in points:
            os.mkfifo(fifo_path(tmp_path, point))
        env = {"BILLSIM_PAUSE_AT": ",".join(points), "BILLSIM_PAUSE_DIR": str(tmp_path)}
        server = Server(db=db, port=free_port(), log=tmp_path / "server.log", env=env).start()
        server.tokens, server.folder = tokens, tmp_path
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()
        assert server.server_errors() == [], server.log.read_text()[-4000:]


@contextmanager
def reached(server: Server, point: str):
    """Block until the server is at `point` (bounded), keep it there inside the block, then let it go on."""
    box: dict = {}

    def open_it():
        box["fifo"] = open(fifo_path(server.folder, point), "wb")  # noqa: SIM115 - closed below

    opener = threading.Thread(target=open_it, daemon=True)
    opener.start()
    opener.join(REACH_DEADLINE_S)
    assert "fifo" in box, f"the server never reached {point}: {server.log.read_text()[-2000:]}"
    try:
        yield
    finally:
        box["fifo"].close()


def client(server: Server, who: str = "north") -> httpx.Client:
    business = {"north": "biz-north", "south": "biz-south"}[who]
    return httpx.Client(base_url=server.url, headers=headers(server.tokens[who], business), timeout=60)


# --- responsive during a bill run ----------------------------------------------------------------------


def test_the_server_answers_other_requests_while_a_bill_run_holds_its_transaction(paused_server):
    """The run is stopped inside its one transaction, after every write, before its COMMIT; meanwhile reads,
    a preview, the Zenskar cycles and drafts of other contracts (and of the run's own) are all answered."""
    server = paused_server("bill_run:committing")
    with client(server) as north, client(server, "south") as south:
        r = north.post("/api/v1/bill-runs", json={"period_date": "2026-03-15", "contract_ids": ["K-FLAT", "K-TIERS"]})
        assert r.status_code == 202, r.text
        run_id = r.json()["run_id"]
        with reached(server, "bill_run:committing"):
            status = north.get(f"/api/v1/bill-runs/{run_id}").json()
            assert (status["status"], status["stage"]) == ("running", "committing")

            # reads: the run's uncommitted drafts are not visible (each request its own snapshot)
            assert north.get("/api/v1/invoices", params={"run_id": run_id}).json()["total"] == 0
            assert north.get("/api/v1/invoices").status_code == 200
            preview = north.post("/api/v1/contracts/K-MIN/preview-invoice", json={"period_date": "2026-03-15"})
            assert preview.status_code == 200, preview.text
            cycles = httpx.get(
                f"{server.url}/contracts/K-FLAT/billing_cycles",
                headers={"x-api-key": server.tokens["north"], "organisation": "biz-north"},
                params={"limit": 3},
                timeout=60,
            )
            assert cycles.status_code == 200 and cycles.json(), cycles.text
            # writes that touch nothing of the run commit at once
            other = north.post("/api/v1/contracts/K-MIN/generate-period-invoices", json={"period_date": "2026-03-15"})
            assert other.status_code == 201, other.text
            south_draft = south.post(
                "/api/v1/contracts/K-SOUTH/generate-period-invoices", json={"period_date": "2026-03-15"}
            )
            assert south_draft.status_code == 201, south_draft.text
            # a draft of a cycle the run is drafting too: not blocked either; the first to commit wins
            same = north.post("/api/v1/contracts/K-FLAT/generate-period-invoices", json={"period_date": "2026-03-15"})
            assert same.status_code == 201, same.text
            assert north.post("/api/v1/invoices", json={
                "customer_id": "CUS-ACME", "line_items": [{"description": "Fee", "unit_price": 700}],
                "due_date": "2026-09-30",
            }).status_code == 201  # fmt: skip

            status = north.get(f"/api/v1/bill-runs/{run_id}").json()
            assert (status["status"], status["stage"]) == ("running", "committing")

        done = wait_run(north, run_id)
        assert done["status"] == "completed", done
        report = done["report"]
        # the run's commit lost K-FLAT's cycle to the draft made meanwhile: retried, it is 'existing'
        assert (report["drafted"], report["existing"]) == (1, 1), report
        flat = north.get("/api/v1/invoices", params={"contract_id": "K-FLAT", "period_date": "2026-03-15"}).json()
        assert flat["total"] == 1 and flat["data"][0]["id"] == same.json()["data"]["invoice"]["id"]
        assert north.get("/api/v1/invoices", params={"run_id": run_id}).json()["total"] == 1


# --- idempotency across a crash ------------------------------------------------------------------------

INVOICE = {
    "customer_id": "CUS-KITE",
    "line_items": [{"description": "Crash-safe setup", "unit_price": 5000}],
    "due_date": "2026-09-30",
}


def _kite_invoices(c: httpx.Client) -> int:
    return c.get("/api/v1/invoices", params={"customer_id": "CUS-KITE"}).json()["total"]


@pytest.mark.parametrize("endpoint", ["create_invoice", "record_payment", "create_credit_note"])
@pytest.mark.parametrize("when", ["before_commit", "after_commit"])
def test_a_retried_write_after_a_crash_takes_effect_exactly_once(paused_server, endpoint, when):
    """The server is killed (SIGKILL) inside the write's transaction (its effect and stored response written,
    not committed) or just after its COMMIT (not yet answered). Restarted on the same database, the retry with
    the same Idempotency-Key runs the write once (before) or replays the committed answer (after): never twice.
    A credit note is such a write (spec section 12: its note, its invoice's totals and the stored answer commit
    together)."""
    point = f"{endpoint}:{when}"
    server = paused_server(point)
    key = {"Idempotency-Key": f"crash-{endpoint}-{when}"}
    with client(server) as north:
        if endpoint == "create_invoice":
            path, body = "/api/v1/invoices", INVOICE
        else:
            made = north.post("/api/v1/invoices/batch", json={"items": [INVOICE], "finalize": True})
            invoice_id = made.json()["results"][0]["invoice"]["id"]
            path, body = f"/api/v1/invoices/{invoice_id}/payments", {"amount": 1234}
            if endpoint == "create_credit_note":
                path = f"/api/v1/invoices/{invoice_id}/credit-notes"
                body = {"items": [{"line_no": 1, "amount": "1234"}], "reason": "duplicate"}  # JPY: ¥1,234
        before = _kite_invoices(north)

        def first_attempt():
            try:
                north.post(path, json=body, headers=key)
            except httpx.TransportError:
                pass  # the server died under it: the client never got an answer

        attempt = threading.Thread(target=first_attempt, daemon=True)
        attempt.start()
        with reached(server, point):
            server.kill()
        attempt.join(REACH_DEADLINE_S)
        assert not attempt.is_alive()

        server.env = {}  # restarted without pause points
        server.start()
        retry = north.post(path, json=body, headers=key)
        assert retry.status_code == 201, retry.text
        assert retry.headers.get("idempotent-replayed") == ("true" if when == "after_commit" else None)
        again = north.post(path, json=body, headers=key)
        assert again.json() == retry.json() and again.headers["idempotent-replayed"] == "true"

        if endpoint == "create_invoice":
            assert _kite_invoices(north) == before + 1
        elif endpoint == "create_credit_note":
            notes = north.get("/api/v1/credit-notes", params={"invoice_id": invoice_id}).json()
            assert notes["total"] == 1 and notes["data"][0]["credit_note_id"] == retry.json()["credit_note_id"]
            # ¥5,500 (¥5,000 + 10 % tax) − the note's ¥1,234 + its tax ¥123, all off the balance due
            assert north.get(f"/api/v1/invoices/{invoice_id}").json()["balance_due"] == 5500 - 1357
        else:
            assert _kite_invoices(north) == before
            paid = north.get(f"/api/v1/invoices/{invoice_id}").json()
            assert paid["total_paid"] == 1234 and len(paid["payments"]) == 1, paid
