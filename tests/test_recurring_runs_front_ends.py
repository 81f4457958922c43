"""Recurring templates draft through bill runs, and a resumed run's id, on every front end: the CLI's `billsim run`,
the HTTP API's bill runs (a run started again after a stop of the server answers 202 with ITS id, followed to its
report, `resumed: true`), the MCP tool `getBillRun`; the Bill run page: tests/ui/test_bill_run_recurring.py.

Two businesses: B1 (customer C1 with contract K1, 10.00 a month) and B2 (customer C2, no contract)."""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path

import anyio
import pytest
from fastapi.testclient import TestClient
from mcp import Client

from engine.access.tokens import create_token
from engine.api.app import create_app, open_server_app
from engine.billing.bill_run import claim_run, release_run
from engine.billing.manual_invoices import create_invoice
from engine.cli import main as cli_main
from engine.db import connect
from engine.mcp.backends import FixedBackend
from engine.mcp.tools import build_server
from engine.models import LineItem, ManualInvoiceRequest, RecurringConfig
from engine.service import Billsim, Caller, bill_runs
from tests.helpers_data import add_contract, add_customer, add_line

JOB_DEADLINE_S = 60.0  # turns a run that never ends into a failure; no test asserts a duration


def _template(con, customer: str, start: str) -> str:
    req = ManualInvoiceRequest(
        customer_id=customer,
        line_items=[LineItem(description="Support plan", unit_price=2500)],
        recurring=RecurringConfig(billing_period="month", start_date=dt.date.fromisoformat(start)),
    )
    return create_invoice(con, req).recurring_template_id


@pytest.fixture
def db(tmp_path) -> tuple[Path, dict[str, str]]:
    path = tmp_path / "r.duckdb"
    con = connect(path)
    add_customer(con, "C1", business_id="B1")
    add_contract(con, "K1", "C1", "2026-01-01")
    add_line(con, "L1", "K1", unit_price="10.00", product="Platform")
    add_customer(con, "C2", business_id="B2")
    tokens = {"B1": create_token(con, "B1", "b1-ci"), "B2": create_token(con, "B2", "b2-ci")}
    con.close()
    return path, tokens


def _cli(path: Path, *argv: str) -> dict:
    out, err = io.StringIO(), io.StringIO()
    assert cli_main(["--db", str(path), *argv], stdout=out, stderr=err) == 0, err.getvalue()
    return json.loads(out.getvalue())


def test_billsim_run_drafts_the_templates_periods_and_reports_them_apart(db):
    path, _ = db
    con = connect(path)
    template = _template(con, "C1", "2026-01-31")
    con.close()
    report = _cli(path, "run", "--period-date", "2026-04-30", "--quiet")
    assert (report["drafted"], report["recurring_drafted"]) == (1, 3)  # K1's April; the template's Feb, Mar, Apr
    con = connect(path)
    periods = con.execute(
        "SELECT period_start, run_id FROM invoices WHERE recurring_template_id = ? ORDER BY 1", [template]
    ).fetchall()
    con.close()
    assert [p[0].isoformat() for p in periods] == ["2026-01-31", "2026-02-28", "2026-03-31", "2026-04-30"]
    assert {p[1] for p in periods[1:]} == {report["run_id"]}
    assert _cli(path, "run", "--period-date", "2026-04-30", "--quiet")["recurring_drafted"] == 0
    # a run of named contracts drafts no template; a run of another business none of C1's
    assert _cli(path, "run", "--period-date", "2026-05-31", "--contract", "K1", "--quiet")["recurring_drafted"] == 0
    assert _cli(path, "run", "--period-date", "2026-05-31", "--business", "B2", "--quiet")["recurring_drafted"] == 0


def _served(path: Path):
    app = open_server_app(path)
    return app, TestClient(create_app(billsim=app))


def _auth(tokens: dict, business: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens[business]}", "x-business-id": business}


def _finished(app: Billsim, http: TestClient, auth: dict, run_id: str) -> dict:
    app.jobs.wait_all(JOB_DEADLINE_S)
    body = http.get(f"/api/v1/bill-runs/{run_id}", headers=auth)
    assert body.status_code == 200, body.text
    return body.json()


def test_over_http_a_template_created_with_an_invoice_is_drafted_by_the_next_run(db):
    """The tester's steps: POST /api/v1/invoices with `recurring` (201, a template), then a bill run a few months
    later drafts the template's later periods, counted in the report as `recurring_drafted`."""
    path, tokens = db
    app, client = _served(path)
    try:
        with client as http:
            auth = _auth(tokens, "B1")
            created = http.post(
                "/api/v1/invoices",
                headers=auth,
                json={
                    "customer_id": "C1",
                    "line_items": [{"description": "rec", "unit_price": 1000}],
                    "due_date": "2026-09-30",
                    "recurring": {"billing_period": "month", "start_date": "2026-09-01"},
                },
            )
            assert created.status_code == 201, created.text
            template = created.json()["recurring_template_id"]
            started = http.post("/api/v1/bill-runs", headers=auth, json={"period_date": "2026-11-15"})
            assert started.status_code == 202, started.text
            done = _finished(app, http, auth, started.json()["run_id"])
            assert done["status"] == "completed"
            assert (done["report"]["drafted"], done["report"]["recurring_drafted"]) == (1, 2)  # Oct 1, Nov 1
            listed = http.get("/api/v1/invoices", headers=auth, params={"limit": 100}).json()["data"]
            mine = sorted(i["period_start"] for i in listed if i.get("recurring_template_id") == template)
            assert mine == ["2026-09-01", "2026-10-01", "2026-11-01"]
            # B2 has no template: its run drafts none of B1's
            other = http.post("/api/v1/bill-runs", headers=_auth(tokens, "B2"), json={"period_date": "2026-12-15"})
            assert _finished(app, http, _auth(tokens, "B2"), other.json()["run_id"])["report"]["recurring_drafted"] == 0
    finally:
        app.close()


def test_over_http_a_run_started_again_after_a_stop_answers_its_own_id_and_says_resumed(db):
    """A stop of the server leaves the run 'running' and worked on by no one (here: claimed, then let go, as a
    restart finds it). GET says interrupted; the same POST answers 202 with THAT id, which GET follows to the
    report (`resumed: true`) — never an id that is 404 forever."""
    path, tokens = db
    app, client = _served(path)
    try:
        with client as http:
            auth = _auth(tokens, "B1")
            with app.database.cursor() as cur:
                cut_off = claim_run(
                    cur, dt.date(2027, 1, 15), business_id="B1", include_delayed_charges=True, requested_by="b1-ci"
                )
            release_run(cut_off.run_id)
            assert http.get(f"/api/v1/bill-runs/{cut_off.run_id}", headers=auth).json()["status"] == "interrupted"
            again = http.post(
                "/api/v1/bill-runs", headers=auth, json={"period_date": "2027-01-15", "include_delayed_charges": True}
            )
            assert again.status_code == 202, again.text
            assert again.json()["run_id"] == cut_off.run_id
            assert again.headers["location"] == f"/api/v1/bill-runs/{cut_off.run_id}"
            done = _finished(app, http, auth, cut_off.run_id)
            assert done["status"] == "completed", done
            assert (done["report"]["run_id"], done["report"]["resumed"]) == (cut_off.run_id, True)
            assert done["report"]["drafted"] == 1
            # a new run (another date) is not a resumed one
            fresh = http.post("/api/v1/bill-runs", headers=auth, json={"period_date": "2027-02-15"}).json()["run_id"]
            assert fresh != cut_off.run_id
            assert _finished(app, http, auth, fresh)["report"]["resumed"] is False
    finally:
        app.close()


def test_the_cli_resumes_a_cut_off_run_under_its_id_and_its_stored_report_says_so(db):
    path, _ = db
    con = connect(path)
    cut_off = claim_run(con, dt.date(2026, 3, 15))
    con.close()
    release_run(cut_off.run_id)
    report = _cli(path, "run", "--period-date", "2026-03-15", "--quiet")
    assert (report["run_id"], report["resumed"]) == (cut_off.run_id, True)
    with Billsim.open(path) as app:
        stored = bill_runs.status(app.session(Caller.local("t")), cut_off.run_id)
    assert (stored.status, stored.report.resumed) == ("completed", True)


def _mcp(app: Billsim, business: str, tool: str, args: dict):
    server = build_server(FixedBackend(app, Caller.of_business(business, "mcp")))

    async def call():
        async with Client(server) as client:
            return await client.call_tool(tool, args)

    return anyio.run(call)


def test_mcp_get_bill_run_shows_each_business_its_part_recurring_drafts_included(db):
    """A run over every business (a local user's) drafts K1 and C1's template for B1 and C2's template for B2,
    which has no contract: each business sees the run, with its own recurring drafts only."""
    path, _ = db
    con = connect(path)
    _template(con, "C1", "2026-02-01")
    _template(con, "C2", "2026-02-01")
    con.close()
    with Billsim.open(path) as app:
        report = bill_runs.run(app.session(Caller.local("t")), {"period_date": "2026-03-15"})
        assert (report.drafted, report.recurring_drafted) == (1, 2)
        b1 = _mcp(app, "B1", "getBillRun", {"run_id": report.run_id})
        assert not b1.is_error, b1.content
        got = b1.structured_content
        assert (got["status"], got["report"]["drafted"], got["report"]["recurring_drafted"]) == ("completed", 1, 1)
        b2 = _mcp(app, "B2", "getBillRun", {"run_id": report.run_id}).structured_content
        assert (b2["report"]["drafted"], b2["report"]["recurring_drafted"]) == (0, 1)
        assert [t["invoices"] for t in b2["report"]["totals"]] == [1]
        scoped = bill_runs.run(app.session(Caller.of_business("B1", "t")), {"period_date": "2026-04-15"})
        hidden = _mcp(app, "B2", "getBillRun", {"run_id": scoped.run_id})
        assert hidden.is_error and "bill_run_not_found" in hidden.content[0].text
