"""One request is bounded in time and memory, and the server lives on after a request over its bounds: a request
whose query runs past the deadline is interrupted and answered 413 deadline_exceeded (over HTTP and MCP alike,
never a 500), the next request is served; the server's connection carries DuckDB's memory_limit."""

from __future__ import annotations

import anyio
import pytest
from fastapi.testclient import TestClient
from mcp import Client

from engine.api.app import create_app, open_server_app
from engine.ingest.demo import seed_demo
from engine.mcp.backends import FixedBackend
from engine.mcp.tools import build_server
from engine.service import Billsim, Caller, TooMuchWorkError, whatif

from .conftest import headers, make_database

SCENARIO = {"name": "x", "changes": [{"type": "price", "percent": 10}, {"type": "usage", "percent": 5}]}
TEN_YEARS = {"from_date": "2020-01-01", "to_date": "2029-12-31"}


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory):
    """The two businesses of the API tests, plus a few hundred demo contracts (a simulation of ten years of them
    takes far longer than the tight deadline below)."""
    folder = tmp_path_factory.mktemp("bounds")
    db, tokens = make_database(folder)
    with Billsim.open(db) as app, app.database.cursor() as cur:
        # the engine's seeding, below the application layer's rule that a user seeds only an empty database
        seed_demo(cur, contracts=300, usage_rows=30_000)
    return db, tokens


def test_a_request_past_its_deadline_is_interrupted_and_the_server_lives_on(demo_db):
    db, tokens = demo_db
    app = open_server_app(db, deadline_s=0.05)
    try:
        with TestClient(create_app(billsim=app)) as http:
            h = headers(tokens["north"], "biz-north")
            r = http.post("/api/v1/scenarios/simulate", json={"scenario": SCENARIO, **TEN_YEARS}, headers=h)
            assert r.status_code == 413, r.text
            assert r.json()["code"] == "deadline_exceeded" and "0.05 s" in r.json()["message"]
            server = build_server(FixedBackend(app, Caller.of_business("biz-north", "mcp")))

            async def call():
                async with Client(server) as client:
                    return await client.call_tool("simulateScenario", {"scenario": SCENARIO, **TEN_YEARS})

            result = anyio.run(call)
            assert result.is_error and "deadline_exceeded" in result.content[0].text
            # the server goes on: a small request right after is answered
            ok = http.post("/api/v1/contracts/K-FLAT/preview-invoice", json={"period_date": "2026-03-15"}, headers=h)
            assert ok.status_code == 200, ok.text
    finally:
        app.close()


def test_without_a_deadline_the_same_work_completes(demo_db):
    """The refusal above is the deadline's, not the work's: a local session has none and finishes it."""
    db, _ = demo_db
    with Billsim.open(db) as app:
        s = app.session(Caller.local("t"))
        summary = whatif.simulate_request(s, {"scenario": SCENARIO, **TEN_YEARS})
    assert summary["cycles"] > 0


def test_the_service_says_too_much_work_as_its_own_error(demo_db):
    db, _ = demo_db
    with Billsim.open(db, deadline_s=0.05) as app:
        with pytest.raises(TooMuchWorkError) as refused:
            whatif.simulate_request(app.session(Caller.local("t")), {"scenario": SCENARIO, **TEN_YEARS})
    assert refused.value.status == 413


def test_the_server_connection_holds_a_memory_limit(demo_db):
    db, _ = demo_db
    app = open_server_app(db, memory_limit="1GB")
    try:
        with app.database.cursor() as cur:
            limit = cur.execute("SELECT current_setting('memory_limit')").fetchone()[0]
    finally:
        app.close()
    assert limit == "953.6 MiB"  # DuckDB shows 1 GB (10^9 bytes) in binary units
