"""MCP `startBillRun`: the bill run the workbench, the CLI (`billsim run`) and the HTTP API (POST /api/v1/bill-runs)
start, as an MCP tool. Inside the server (/mcp, or `billsim mcp` beside it) it runs in the background and is
followed with getBillRun; over stdio, where the database is closed after each call, it is done when the call
returns. A business bills only its own contracts.

Two businesses: B1 (customer C1, contract K1 at 10.00 a month), B2 (customer C2, contract K2 at 20.00 a month)."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest
from mcp import Client

from engine.db import connect
from engine.mcp.backends import FixedBackend, StdioBackend
from engine.mcp.tools import build_server
from engine.service import Billsim, Caller
from tests.helpers_data import add_contract, add_customer, add_line

JOB_DEADLINE_S = 60.0  # turns a run that never ends into a failure; no test asserts a duration


@pytest.fixture
def path(tmp_path) -> Path:
    db = tmp_path / "m.duckdb"
    con = connect(db)
    add_customer(con, "C1", business_id="B1")
    add_contract(con, "K1", "C1", "2026-01-01")
    add_line(con, "L1", "K1", unit_price="10.00", product="Platform")
    add_customer(con, "C2", business_id="B2")
    add_contract(con, "K2", "C2", "2026-01-01")
    add_line(con, "L2", "K2", unit_price="20.00", product="Platform")
    con.close()
    return db


def _call(backend, tool: str, args: dict):
    server = build_server(backend)

    async def call():
        async with Client(server) as client:
            return await client.call_tool(tool, args)

    return anyio.run(call)


def _drafts(path: Path) -> list[tuple]:
    con = connect(path)
    try:
        return con.execute("SELECT contract_id, status, run_id FROM invoices ORDER BY contract_id").fetchall()
    finally:
        con.close()


def test_inside_the_server_the_run_starts_in_the_background_and_getbillrun_follows_it(path):
    with Billsim.open(path) as app:
        backend = FixedBackend(app, Caller.of_business("B1", "mcp:B1"))
        started = _call(backend, "startBillRun", {"period_date": "2026-03-15"})
        assert not started.is_error, started.content
        run_id = started.structured_content["run_id"]
        assert started.structured_content["status"] in ("queued", "running", "completed")
        app.jobs.wait_all(JOB_DEADLINE_S)
        followed = _call(backend, "getBillRun", {"run_id": run_id})
        assert not followed.is_error, followed.content
        report = followed.structured_content["report"]
        assert (followed.structured_content["status"], report["drafted"]) == ("completed", 1)
        assert [t["total"] for t in report["totals"]] == ["10.00"]
    assert _drafts(path) == [("K1", "draft", run_id)]  # B1's contract only: K2 is B2's


def test_over_stdio_the_run_is_done_when_the_call_returns_and_a_second_call_drafts_nothing_twice(path):
    backend = StdioBackend(path, Caller.of_business("B2", "mcp:B2"))
    first = _call(backend, "startBillRun", {"period_date": "2026-03-15"})
    assert not first.is_error, first.content
    got = first.structured_content
    assert (got["status"], got["report"]["drafted"], got["report"]["existing"]) == ("completed", 1, 0)
    again = _call(backend, "startBillRun", {"period_date": "2026-03-15"}).structured_content
    assert (again["report"]["drafted"], again["report"]["existing"]) == (0, 1)
    assert _drafts(path) == [("K2", "draft", got["run_id"])]


def test_finalize_finalizes_every_draft_of_the_run(path):
    backend = StdioBackend(path, Caller.of_business("B1", "mcp:B1"))
    got = _call(backend, "startBillRun", {"period_date": "2026-03-15", "finalize": True}).structured_content
    assert (got["report"]["drafted"], got["report"]["finalized"]) == (1, 1)
    assert _drafts(path) == [("K1", "open", got["run_id"])]


@pytest.mark.parametrize(
    ("args", "code"),
    [
        ({"period_date": "2026-03-15", "contract_ids": ["K2"]}, "contract_not_found"),  # another business's
        ({"period_date": "not a date"}, "validation_error"),
        ({"period_date": "2026-03-15", "business_id": "B2"}, "validation_error"),  # no such argument
        ({"period_date": "2026-03-15", "finalize": "yes"}, "validation_error"),
        ({}, "validation_error"),
    ],
)
def test_refusals_name_their_code_and_draft_nothing(path, args, code):
    result = _call(StdioBackend(path, Caller.of_business("B1", "mcp:B1")), "startBillRun", args)
    assert result.is_error and f"{code}:" in result.content[0].text, result.content
    assert _drafts(path) == []


def test_a_null_date_is_refused_in_the_fields_words_not_the_schemas_branches(path):
    result = _call(StdioBackend(path, Caller.of_business("B1", "mcp:B1")), "startBillRun", {"period_date": None})
    text = result.content[0].text
    assert result.is_error and "validation_error: invalid request: period_date: Input should be" in text, text
    assert "period_date.str" not in text and "period_date.int" not in text
