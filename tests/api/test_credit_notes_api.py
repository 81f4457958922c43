"""Credit notes over HTTP and MCP (spec section 12): estimate, issue (Idempotency-Key honoured), list, read, the
documents, the customers' credit, and requests at the same moment. The refusals (the same codes over HTTP, MCP
and the CLI) are in test_front_ends.py.

    biz-north's K-FLAT (tests/examples/basics): March finalized, Platform 99.00 + Seats 70.00, 10 % tax = 185.90
"""

from __future__ import annotations

import io
import json
import re
import threading

import anyio
import pypdf
import pytest
from fastapi.testclient import TestClient
from mcp import Client

from engine.api.app import create_app, open_server_app
from engine.cli import main as cli_main
from engine.mcp.backends import FixedBackend
from engine.mcp.tools import build_server
from engine.service import Caller

from .conftest import headers, make_database

NOTE_FIELDS = ("subtotal_minor", "tax_minor", "total_minor", "offset_minor", "refund_minor", "credit_minor")


@pytest.fixture
def server(tmp_path):
    db, tokens = make_database(tmp_path)
    app = open_server_app(db)
    with TestClient(create_app(billsim=app)) as http:
        code = cli_main(
            ["--db", str(db), "run", "--period-date", "2026-03-15", "--contract", "K-FLAT", "--finalize", "--quiet"],
            app=app,
            stdout=io.StringIO(),
            stderr=io.StringIO(),
        )
        assert code == 0
        http.headers.update(headers(tokens["north"], "biz-north"))
        march = http.get("/api/v1/invoices", params={"contract_id": "K-FLAT"}).json()["data"][0]
        assert (march["status"], march["total"]) == ("open", 18590)
        yield http, app, march["id"], tokens
    app.close()


def _mcp(app, business: str, tool: str, args: dict):
    mcp_server = build_server(FixedBackend(app, Caller.of_business(business, f"mcp:{business}")))

    async def call():
        async with Client(mcp_server) as client:
            listed = {t.name: t for t in (await client.list_tools()).tools}
            return listed, await client.call_tool(tool, args)

    return anyio.run(call)


def test_estimate_then_issue_then_read_the_note_and_its_documents(server):
    http, _, march, _ = server
    estimate = http.post(f"/api/v1/invoices/{march}/credit-notes/estimate").json()
    assert [(ln["line_no"], ln["creditable_minor"]) for ln in estimate["lines"]] == [(1, 9900), (2, 7000)]
    assert (estimate["max_offset_minor"], estimate["max_refund_minor"], estimate["credit_note"]) == (18590, 0, None)
    body = {"items": [{"line_no": 2, "amount": "12.50"}]}
    would = http.post(f"/api/v1/invoices/{march}/credit-notes/estimate", json=body).json()["credit_note"]
    assert would["credit_note_id"] is None and would["total"] == "13.75"  # 12.50 + 10 % tax 1.25

    made = http.post(f"/api/v1/invoices/{march}/credit-notes", json=body | {"reason": "order_change", "note": "1 seat"})
    assert made.status_code == 201, made.text
    note = made.json()
    assert note["number"] == "INV-2026-000001-CN1" and note["invoice_number"] == "INV-2026-000001"
    assert [note[k] for k in NOTE_FIELDS] == [would[k] for k in NOTE_FIELDS] == [1250, 125, 1375, 1375, 0, 0]
    assert note["pdf_url"].endswith(f"/api/v1/credit-notes/{note['credit_note_id']}.pdf")
    assert note["actor"] == "north-ci" and note["reason"] == "order_change"

    invoice = http.get(f"/api/v1/invoices/{march}").json()
    assert (invoice["total"], invoice["balance_due"], invoice["status"]) == (18590, 18590 - 1375, "open")
    assert (invoice["credit_notes_total"], invoice["credits_applied"]) == (1375, 0)
    assert http.get(f"/api/v1/credit-notes/{note['credit_note_id']}").json() == note
    listed = http.get("/api/v1/credit-notes", params={"invoice_id": march}).json()
    assert listed["total"] == 1 and listed["data"] == [note]

    page = http.get(f"/api/v1/credit-notes/{note['credit_note_id']}.html").text
    assert "CREDIT NOTE" in page and "INV-2026-000001-CN1" in page and "INV-2026-000001" in page
    pdf = http.get(f"/api/v1/credit-notes/{note['credit_note_id']}.pdf")
    assert pdf.headers["content-type"] == "application/pdf"
    text = " ".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf.content)).pages)
    for words in ("CREDIT NOTE", "INV-2026-000001-CN1", "corrects invoice", "Analyst seats", "$12.50", "$13.75"):
        assert words in text, words
    invoice_pdf = http.get(f"/api/v1/invoices/{march}.pdf").content
    invoice_text = " ".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(invoice_pdf)).pages)
    assert "INV-2026-000001-CN1" in invoice_text and "$172.15" in invoice_text  # its balance due now


def test_a_retried_request_with_the_same_idempotency_key_issues_one_note(server):
    http, app, march, _ = server
    body = {"items": [{"line_no": 1, "amount": "9.00"}], "reason": "duplicate"}
    key = {"Idempotency-Key": "cn-once"}
    first = http.post(f"/api/v1/invoices/{march}/credit-notes", json=body, headers=key)
    again = http.post(f"/api/v1/invoices/{march}/credit-notes", json=body, headers=key)
    assert first.status_code == again.status_code == 201 and again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    other = http.post(f"/api/v1/invoices/{march}/credit-notes", json=body | {"reason": "other"}, headers=key)
    assert (other.status_code, other.json()["code"]) == (409, "idempotency_key_reused")
    with app.database.cursor() as cur:
        assert cur.execute("SELECT count(*) FROM credit_notes").fetchone()[0] == 1


def test_requests_at_the_same_moment_never_credit_more_than_the_invoice_holds(server):
    """Four requests each crediting 60.00 of Platform (99.00) at once: one 201, three refusals naming the limit."""
    http, app, march, _ = server
    barrier = threading.Barrier(4)
    answers: list = [None] * 4

    def post(k: int) -> None:
        barrier.wait()
        answers[k] = http.post(
            f"/api/v1/invoices/{march}/credit-notes",
            json={"items": [{"line_no": 1, "amount": "60.00"}], "reason": "duplicate"},
        )

    threads = [threading.Thread(target=post, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [201, 400, 400, 400], [a.text for a in answers]
    assert {a.json()["code"] for a in answers if a.status_code == 400} == {"credit_exceeds_line"}
    assert http.get(f"/api/v1/invoices/{march}").json()["balance_due"] == 18590 - 6600


def test_mcp_estimates_read_only_and_issues_a_note_for_its_business(server):
    http, app, march, _ = server
    tools, estimated = _mcp(app, "biz-north", "estimateCreditNote", {"invoice_id": march, "all": True})
    assert tools["estimateCreditNote"].annotations.read_only_hint is True
    assert tools["createCreditNote"].annotations.read_only_hint is False
    assert not estimated.is_error and estimated.structured_content["credit_note"]["total"] == "185.90"
    _, made = _mcp(app, "biz-north", "createCreditNote", {"invoice_id": march, "all": True, "reason": "fraudulent"})
    assert not made.is_error, made.content
    note = made.structured_content
    assert (note["number"], note["total_minor"], note["offset_minor"], note["actor"]) == (
        "INV-2026-000001-CN1",
        18590,
        18590,
        "mcp:biz-north",
    )
    assert http.get(f"/api/v1/invoices/{march}").json()["balance_due"] == 0


def test_credit_goes_to_the_customers_balance_and_is_listed_per_currency(server):
    """Paid in full, a note of Seats (70.00 + 7.00) goes to CUS-ACME's USD credit; biz-south sees none of it."""
    http, _, march, tokens = server
    assert http.post(f"/api/v1/invoices/{march}/payments", json={"amount": 18590}).status_code == 201
    note = http.post(
        f"/api/v1/invoices/{march}/credit-notes", json={"items": [{"line_no": 2, "amount": "70"}], "reason": "other"}
    ).json()
    assert (note["offset_minor"], note["credit_minor"]) == (0, 7700)
    balances = http.get("/api/v1/credit-balances").json()["data"]
    assert [(b["customer_id"], b["currency"], b["balance"]) for b in balances] == [("CUS-ACME", "USD", "77.00")]
    south = http.get("/api/v1/credit-balances", headers=headers(tokens["south"], "biz-south")).json()
    assert south == {"data": []}
    hidden = http.get("/api/v1/credit-notes", headers=headers(tokens["south"], "biz-south")).json()
    assert hidden["total"] == 0
    other = http.get(
        f"/api/v1/credit-notes/{note['credit_note_id']}.pdf", headers=headers(tokens["south"], "biz-south")
    )
    assert (other.status_code, other.json()["code"]) == (404, "credit_note_not_found")


UTC_TEXT = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


def test_a_draft_and_a_preview_show_the_credit_finalizing_would_apply_over_http_mcp_and_the_cli(server):
    """13.75 of March credited to the customer: April's preview and draft (185.90) show credit_available 13.75, one
    figure from the application layer on every front end; March, finalized, shows none (its credits_applied is 0)."""
    http, app, march, _ = server
    body = {"items": [{"line_no": 2, "amount": "12.50"}], "reason": "order_change", "credit": "13.75"}
    made = http.post(f"/api/v1/invoices/{march}/credit-notes", json=body)
    assert made.status_code == 201 and made.json()["credit_minor"] == 1375, made.text

    preview = http.post("/api/v1/contracts/K-FLAT/preview-invoice", json={"period_date": "2026-04-15"}).json()
    assert (preview["total"], preview["credit_available"]) == (18590, 1375)
    drafted = http.post("/api/v1/contracts/K-FLAT/generate-period-invoices", json={"period_date": "2026-04-15"})
    april = drafted.json()["data"]["invoice"]
    assert (april["status"], april["credit_available"], april["credits_applied"]) == ("draft", 1375, 0)
    read = http.get(f"/api/v1/invoices/{april['id']}").json()
    assert read["credit_available"] == 1375
    assert UTC_TEXT.match(read["created_at"]) and UTC_TEXT.match(read["updated_at"]), read["created_at"]
    assert http.get(f"/api/v1/invoices/{march}").json()["credit_available"] is None
    page = http.get(f"/api/v1/invoices/{april['id']}.html").text
    assert "Customer credit available (applied at finalize)" in page and "-$13.75" in page

    _, got = _mcp(app, "biz-north", "getInvoice", {"invoice_id": april["id"]})
    _, previewed = _mcp(app, "biz-north", "previewInvoice", {"contract_id": "K-FLAT", "period_date": "2026-04-15"})
    assert not got.is_error and not previewed.is_error
    assert (got.structured_content["credit_available"], previewed.structured_content["credit_available"]) == (
        "13.75",
        "13.75",
    )
    assert UTC_TEXT.match(got.structured_content["created_at"])

    out = io.StringIO()
    code = cli_main(
        ["--db", "unused", "preview", "K-FLAT", "--period-date", "2026-04-15"],
        app=app,
        stdout=out,
        stderr=io.StringIO(),
    )
    assert code == 0 and json.loads(out.getvalue())["credit_available_minor"] == 1375
