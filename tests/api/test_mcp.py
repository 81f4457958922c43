"""The MCP tools (spec section 9) through a real MCP client session: over stdio (`billsim mcp --business B`
as a subprocess) and over streamable HTTP (`/mcp` behind the API's bearer auth, served by uvicorn on
127.0.0.1). Every tool is scoped to one business: another business's ids are "not found".

Data: business B1 has customer C1 with contract K1 (monthly from 2026-01-15, 10.00 USD flat) and customer
C1B with K1B (20.00 from 2026-01-01, billed by a run of 2026-02-20); business B2 has C2 / K2 and a draft.
"""

from __future__ import annotations

import datetime as dt
import json
import socket
import sys
import threading
import time
from pathlib import Path

import anyio
import httpx
import pytest
import uvicorn
from helpers_data import add_contract, add_customer, add_line
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from engine.access.tokens import create_token, revoke_token
from engine.billing.bill_run import bill_run
from engine.billing.invoices import draft_period_invoice
from engine.db import connect

ROOT = Path(__file__).resolve().parents[2]
VENV_PY = ROOT / ".venv" / "bin" / "python"
PYTHON = str(VENV_PY if VENV_PY.exists() else Path(sys.executable))

SPEC_TOOLS = {
    "getContractBillingCycles",
    "generateInvoice",
    "previewInvoice",
    "listInvoices",
    "getInvoice",
    "reviewBillRun",
    "approveInvoices",
    "simulateScenario",
}
READ_ONLY_TOOLS = {"getContractBillingCycles", "previewInvoice", "listInvoices", "getInvoice", "reviewBillRun"}
READ_ONLY_TOOLS |= {"simulateScenario", "estimateCreditNote", "getBillRun"}


def _seed(path: Path) -> dict:
    con = connect(path)
    add_customer(con, "C1", business_id="B1")
    add_contract(con, "K1", "C1", "2026-01-15")
    add_line(con, "L1", "K1", unit_price="10.00", product="Platform")
    add_customer(con, "C1B", business_id="B1")
    add_contract(con, "K1B", "C1B", "2026-01-01")
    add_line(con, "L1B", "K1B", unit_price="20.00", product="Platform")
    add_customer(con, "C2", business_id="B2")
    add_contract(con, "K2", "C2", "2026-01-01")
    add_line(con, "L2", "K2", unit_price="30.00", product="Other")
    run = bill_run(con, dt.date(2026, 2, 20), business_id="B1", contract_ids=["K1B"], requested_by="test")
    other = draft_period_invoice(con, "K2", dt.date(2026, 2, 20)).invoice.invoice_id
    con.close()
    return {"run_id": run.run_id, "other_invoice": other}


@pytest.fixture
def service_db(tmp_path) -> tuple[Path, dict]:
    path = tmp_path / "mcp.duckdb"
    return path, _seed(path)


def _text(result) -> str:
    return " ".join(c.text for c in result.content if getattr(c, "text", None))


async def _call(session: ClientSession, name: str, args: dict | None = None) -> dict:
    result = await session.call_tool(name, args or {})
    assert not result.is_error, _text(result)
    return result.structured_content


async def _error(session: ClientSession, name: str, args: dict) -> str:
    result = await session.call_tool(name, args)
    assert result.is_error, result
    return _text(result)


async def _exercise(session: ClientSession, ids: dict) -> None:
    """Every spec tool once, its errors, and the business scope, through one session of business B1."""
    listed = (await session.list_tools()).tools
    by_name = {t.name: t for t in listed}
    assert SPEC_TOOLS <= set(by_name)
    for name, t in by_name.items():
        if name in READ_ONLY_TOOLS:
            assert t.annotations.read_only_hint is True, name
            assert "Read-only: changes nothing" in t.description, name
        else:
            assert t.annotations.read_only_hint is False, name
            assert "Changes data" in t.description, name
    assert "MANDATORY PRE-STEP: call getContractBillingCycles" in by_name["generateInvoice"].description
    # seed 002: the window's dates are required; bill_for_date is not in the schema's list, so that a call without
    # it reaches the server and is answered with the valid cycles (spec section 9)
    required = set(by_name["generateInvoice"].input_schema["required"])
    assert {"contract_id", "customer_id", "from_date", "to_date"} <= required and "bill_for_date" not in required
    # arguments that do not match a tool's schema: refused as every refusal is (code: message), not pydantic's text
    for name, args, said in (
        ("getContractBillingCycles", {}, "validation_error: invalid request: contract_id: Field required"),
        ("generateInvoice", {"contract_id": "K1", "customer_id": "C1"}, "from_date: Field required"),
        ("approveInvoices", {"invoice_ids": "inv_1"}, "validation_error: invalid request: invoice_ids:"),
    ):
        text = await _error(session, name, args)
        assert said in text and "pydantic" not in text and "[type=" not in text, text

    cycles = (
        await _call(
            session,
            "getContractBillingCycles",
            {"contract_id": "K1", "from_date": "2026-01-01", "to_date": "2026-04-30"},
        )
    )["billing_cycles"]
    feb = next(c for c in cycles if c["start_date"] == "2026-02-15")
    assert feb == {
        "name": "2026-02-15 – 2026-03-14",
        "start_date": "2026-02-15",
        "end_date": "2026-03-14",
        "bill_for_date": "2026-03-15",
        "billing_cycle_start_day": 15,
        "period_days": 28,
    }
    assert [c["start_date"] for c in cycles] == ["2026-01-15", "2026-02-15", "2026-03-15", "2026-04-15"]
    limited = await _call(
        session, "getContractBillingCycles", {"contract_id": "K1", "limit": 2, "to_date": "2026-04-30"}
    )
    assert [c["start_date"] for c in limited["billing_cycles"]] == ["2026-03-15", "2026-04-15"]

    gen = {"contract_id": "K1", "customer_id": "C1", "from_date": feb["start_date"], "to_date": feb["end_date"]}
    # a missing bill_for_date: an error naming the valid cycles, nothing created
    text = await _error(session, "generateInvoice", gen)
    assert "no_matching_cycle" in text and "bill_for_date missing" in text
    assert "from_date=2026-02-15 to_date=2026-03-14 bill_for_date=2026-03-15" in text
    # a bill_for_date that matches no cycle: the same, never {invoice_ids: []} or a $0 invoice
    text = await _error(session, "generateInvoice", {**gen, "bill_for_date": "2026-03-10"})
    assert "no_matching_cycle" in text and "bill_for_date=2026-03-15" in text
    text = await _error(session, "generateInvoice", {**gen, "from_date": "2026-02-16", "bill_for_date": "2026-03-15"})
    assert "no_matching_cycle" in text and "from_date=2026-02-15 to_date=2026-03-14" in text
    assert (await _call(session, "listInvoices", {"contract_id": "K1"}))["total_count"] == 0

    # the exact cycle (ISO date-times and UNIX seconds accepted, as the seed's tool takes them)
    done = await _call(
        session,
        "generateInvoice",
        {
            **gen,
            "from_date": "2026-02-15T00:00:00Z",
            "bill_for_date": int(dt.datetime(2026, 3, 15, tzinfo=dt.UTC).timestamp()),
            "billing_cycle_start_day": 15,
        },
    )
    assert done["created"] is True and len(done["invoice_ids"]) == 1
    invoice = done["invoice"]
    assert (invoice["status"], invoice["total"], invoice["total_minor"]) == ("draft", "10.00", 1000)
    assert (invoice["period_start"], invoice["period_end"]) == ("2026-02-15", "2026-03-14")
    again = await _call(session, "generateInvoice", {**gen, "bill_for_date": "2026-03-15"})
    assert again["created"] is False and again["invoice_ids"] == done["invoice_ids"]

    preview = await _call(session, "previewInvoice", {"contract_id": "K1", "period_date": "2026-03-20"})
    assert (preview["status"], preview["invoice_id"], preview["total"]) == ("preview", None, "10.00")
    assert (await _call(session, "listInvoices", {"contract_id": "K1"}))["total_count"] == 1  # preview stored nothing

    listed = await _call(session, "listInvoices", {})
    assert {i["contract_id"] for i in listed["invoices"]} == {"K1", "K1B"}  # never B2's invoice
    assert listed["total_count"] == 2
    assert (await _call(session, "listInvoices", {"status": "draft", "customer_id": "C1B"}))["total_count"] == 1
    assert "unknown status" in await _error(session, "listInvoices", {"status": "paid"})
    got = await _call(session, "getInvoice", {"invoice_id": done["invoice_ids"][0]})
    assert got["lines"][0]["amount"] == "10.00"

    review = await _call(session, "reviewBillRun", {"run_id": ids["run_id"]})
    assert [d["contract_id"] for d in review["drafts"]] == ["K1B"]
    assert "first_invoice" in [f["flag"] for f in review["drafts"][0]["flags"]]
    by_period = await _call(session, "reviewBillRun", {"period_date": "2026-02-20"})
    assert {d["contract_id"] for d in by_period["drafts"]} == {"K1", "K1B"}  # K2's draft is B2's

    approved = await _call(session, "approveInvoices", {"invoice_ids": done["invoice_ids"], "note": "checked"})
    assert approved["approved"] == done["invoice_ids"]
    assert (await _call(session, "getInvoice", {"invoice_id": done["invoice_ids"][0]}))["status"] == "approved"
    text = await _error(session, "generateInvoice", {**gen, "bill_for_date": "2026-03-15"})
    assert "InvoiceAlreadyGeneratedForThisBillingPeriod" in text
    assert "invoice_not_approved" in await _error(
        session, "finalizeInvoice", {"invoice_id": review["drafts"][0]["invoice_id"]}
    )
    final = await _call(session, "finalizeInvoice", {"invoice_id": done["invoice_ids"][0]})
    assert (final["status"], final["number"]) == ("open", 1)

    manual = await _call(
        session,
        "createInvoice",
        {
            "customer_id": "C1",
            "line_items": [{"description": "Setup", "unit_price": 1250, "quantity": 2}],
            "due_date": "2026-05-01",
        },
    )
    assert (manual["status"], manual["total_minor"], manual["contract_id"]) == ("draft", 2500, None)
    other = {"customer_id": "C2", "line_items": [{"description": "X", "unit_price": 1}], "due_date": "2026-05-01"}
    assert "not_found" in await _error(session, "createInvoice", other)

    scenario = {"name": "price +10%", "changes": [{"type": "price", "product": "Platform", "percent": 10}]}
    sim = await _call(
        session, "simulateScenario", {"scenario": scenario, "from_date": "2026-02-01", "to_date": "2026-02-28"}
    )
    usd = next(t for t in sim["totals"] if t["currency"] == "USD")
    assert json.dumps(usd)  # money as strings, never floats
    assert not any(isinstance(v, float) for v in usd.values())
    bad = await _error(
        session,
        "simulateScenario",
        {
            "scenario": {"name": "x", "changes": [{"type": "churn", "contract_ids": ["K2"]}]},
            "from_date": "2026-02-01",
            "to_date": "2026-02-28",
        },
    )
    assert "K2" in bad  # another business's contract is unknown to the scenario

    # another business's contract, invoice and run are not found, exactly like ids that do not exist
    for name, args in (
        ("getContractBillingCycles", {"contract_id": "K2"}),
        ("previewInvoice", {"contract_id": "K2", "period_date": "2026-02-20"}),
        (
            "generateInvoice",
            {
                "contract_id": "K2",
                "customer_id": "C2",
                "from_date": "2026-02-01",
                "to_date": "2026-02-28",
                "bill_for_date": "2026-03-01",
            },
        ),
        ("getInvoice", {"invoice_id": ids["other_invoice"]}),
        ("approveInvoices", {"invoice_ids": [ids["other_invoice"]]}),
    ):
        assert "not_found" in await _error(session, name, args), name
    missing = await _error(session, "getInvoice", {"invoice_id": "inv_nope"})
    foreign = await _error(session, "getInvoice", {"invoice_id": ids["other_invoice"]})
    assert missing.replace("inv_nope", "X") == foreign.replace(ids["other_invoice"], "X")


def test_stdio_session_calls_every_tool_scoped_to_its_business(service_db):
    path, ids = service_db
    params = StdioServerParameters(
        command=PYTHON, args=["-m", "engine", "--db", str(path), "mcp", "--business", "B1"], cwd=str(ROOT)
    )

    async def main():
        async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
            init = await session.initialize()
            assert "getContractBillingCycles FIRST" in init.instructions
            await _exercise(session, ids)

    anyio.run(main)
    # between calls the stdio server holds no lock: this process can open the database again
    con = connect(path)
    events = con.execute("SELECT actor FROM invoice_events WHERE action = 'approved'").fetchall()
    con.close()
    assert len(events) == 1 and events[0][0].startswith("mcp:")


def test_stdio_server_refuses_an_unknown_business(service_db):
    import subprocess

    path, _ = service_db
    proc = subprocess.run(
        [PYTHON, "-m", "engine", "--db", str(path), "mcp", "--business", "NOPE"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "NOPE" in proc.stderr


# --- streamable HTTP ---------------------------------------------------------------------------------


def _http_app(path: Path):
    """The HTTP API, with /mcp mounted (engine.api.app)."""
    from engine.api.app import create_app

    return create_app(path)


@pytest.fixture
def http_server(service_db):
    """(base URL, tokens, ids): the app on 127.0.0.1 in a thread of this process, stopped after the test."""
    path, ids = service_db
    con = connect(path)
    tokens = {"B1": create_token(con, "B1", "mcp-b1"), "B2": create_token(con, "B2", "mcp-b2")}
    tokens["revoked"] = create_token(con, "B1", "old")
    revoke_token(con, "old")
    con.close()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(_http_app(path), log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started and thread.is_alive():
        time.sleep(0.02)
    assert server.started, "the server did not start"
    yield f"http://127.0.0.1:{sock.getsockname()[1]}", tokens, ids
    server.should_exit = True
    thread.join(timeout=30)
    sock.close()


def test_streamable_http_session_uses_the_tokens_business(http_server):
    url, tokens, ids = http_server

    async def main():
        headers = {"Authorization": f"Bearer {tokens['B1']}", "x-business-id": "B1"}
        async with create_mcp_http_client(headers=headers) as client:
            async with streamable_http_client(f"{url}/mcp", http_client=client) as (read, write):
                async with ClientSession(read, write) as session:
                    await session.initialize()
                    await _exercise(session, ids)
        headers = {"Authorization": f"Bearer {tokens['B2']}", "x-business-id": "B2"}
        async with create_mcp_http_client(headers=headers) as client:
            async with streamable_http_client(f"{url}/mcp", http_client=client) as (read, write):
                async with ClientSession(read, write) as session:
                    await session.initialize()
                    listed = await _call(session, "listInvoices", {})
                    assert [i["contract_id"] for i in listed["invoices"]] == ["K2"]

    anyio.run(main)


@pytest.mark.parametrize(
    "headers, status",
    [
        ({}, 401),
        ({"Authorization": "Bearer bsk_not_a_token", "x-business-id": "B1"}, 401),
        ({"Authorization": "Bearer {revoked}", "x-business-id": "B1"}, 401),
        ({"Authorization": "Bearer {B1}", "x-business-id": "B2"}, 403),
        ({"Authorization": "Bearer {B1}"}, 403),
    ],
)
def test_streamable_http_refuses_without_the_right_token(http_server, headers, status):
    url, tokens, _ = http_server
    sent = {k: v.format(**tokens) for k, v in headers.items()}
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    response = httpx.post(
        f"{url}/mcp", json=body, headers={**sent, "Accept": "application/json, text/event-stream"}, timeout=30
    )
    assert response.status_code == status
    assert response.json()["success"] is False
