"""Deleting a draft (spec section 4: "A draft can be deleted; a finalized invoice can never change") through the
HTTP API (`DELETE /api/v1/invoices/{id}`), the MCP tools (`deleteInvoice`) and the command line (`billsim
delete INV`), over ONE server application as in test_front_ends.py (the workbench's "Delete draft…" is tested
in tests/ui/test_delete_draft_page.py).

    biz-north's K-TIERS (CUS-BOREAL, CAD): April's run with delayed charges sweeps DC-3 (Courier, 18.40)
    biz-north's K-FLAT: March finalized;   biz-south: another business
"""

from __future__ import annotations

import json

import anyio
import pytest
from fastapi.testclient import TestClient
from mcp import Client

from engine.api.app import create_app, open_server_app
from engine.mcp.backends import FixedBackend
from engine.mcp.tools import build_server
from engine.service import Caller

from .conftest import headers, make_database
from .test_front_ends import World, _error_everywhere, _http

APRIL = "2026-04-15"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Its own two-business database and server application (the four front ends over it)."""
    db, tokens = make_database(tmp_path_factory.mktemp("delete_draft"))
    app = open_server_app(db)
    with TestClient(create_app(billsim=app)) as http:
        yield World(db=db, app=app, http=http, tokens=tokens)
    app.close()


def _rows(world: World, sql: str, params: list | None = None) -> list[tuple]:
    with world.app.database.cursor() as cur:
        return cur.execute(sql, params or []).fetchall()


def _delete_http(world: World, business: str, invoice_id: str):
    token = world.tokens[{"biz-north": "north", "biz-south": "south"}[business]]
    return _http(world.http.delete(f"/api/v1/invoices/{invoice_id}", headers=headers(token, business)))


def _delete(world: World, front: str, invoice_id: str):
    """(ok, data) of a delete through one front end."""
    if front == "http":
        got = _delete_http(world, "biz-north", invoice_id)
        assert got.ok and got.status == 200, got
        return got.data
    if front == "mcp":
        got = world.mcp("biz-north", "deleteInvoice", {"invoice_id": invoice_id})
        assert got.ok, got
        return got.data
    code, out, err = world.cli("delete", invoice_id, "--actor", "cli-user")
    assert code == 0 and err == "", err
    return json.loads(out)


def _april_draft(world: World) -> str:
    """K-TIERS's April invoice, drafted by a run that sweeps the customer's pending delayed charge DC-3 onto it."""
    code, out, err = world.cli(
        "run", "--period-date", APRIL, "--contract", "K-TIERS", "--include-delayed-charges", "--quiet"
    )
    assert code == 0, err
    assert json.loads(out)["drafted"] == 1, out
    (invoice_id,) = _rows(
        world,
        "SELECT invoice_id FROM invoices WHERE contract_id = 'K-TIERS' AND period_start = '2026-04-01' "
        "AND status <> 'void'",
    )[0]
    assert _rows(world, "SELECT charge_id FROM delayed_charge_sweeps WHERE invoice_id = ?", [invoice_id]) == [("DC-3",)]
    return invoice_id


@pytest.fixture(scope="module")
def finalized(world) -> str:
    code, out, err = world.cli("run", "--period-date", "2026-03-15", "--contract", "K-FLAT", "--finalize", "--quiet")
    assert code == 0, err
    return _rows(world, "SELECT invoice_id FROM invoices WHERE contract_id = 'K-FLAT' AND status = 'open'")[0][0]


@pytest.mark.parametrize(
    "front, status, actor",
    [("http", "draft", "north-ci"), ("mcp", "approved", "mcp:biz-north"), ("cli", "held", "cli-user")],
)
def test_a_draft_is_deleted_its_charges_are_pending_again_and_its_cycle_is_drafted_again(world, front, status, actor):
    invoice_id = _april_draft(world)
    if status == "approved":
        assert world.cli("approve", invoice_id)[0] == 0
    elif status == "held":
        assert world.cli("hold", invoice_id, "--reason", "wrong customer")[0] == 0

    done = _delete(world, front, invoice_id)

    assert done == {
        "invoice_id": invoice_id,
        "deleted": True,
        "status_before": status,
        "customer_id": "CUS-BOREAL",
        "contract_id": "K-TIERS",
        "period_start": "2026-04-01",
        "released_delayed_charges": ["DC-3"],
    }
    for table in ("invoices", "invoice_lines", "invoice_cycle_claims", "delayed_charge_sweeps"):
        assert _rows(world, f"SELECT count(*) FROM {table} WHERE invoice_id = ?", [invoice_id]) == [(0,)], table
    assert _rows(world, "SELECT count(*) FROM delayed_charge_sweeps WHERE charge_id = 'DC-3'") == [(0,)]  # pending
    event = _rows(
        world, "SELECT actor, status_before, status_after FROM invoice_events WHERE invoice_id = ? AND action = ?",
        [invoice_id, "deleted"],
    )  # fmt: skip
    assert event == [(actor, status, None)]
    # the cycle is free: the next run drafts it again and sweeps the charge again
    again = _april_draft(world)
    assert again != invoice_id
    # a second delete of the same id: not found, the same everywhere
    http = _delete_http(world, "biz-north", invoice_id)
    mcp = world.mcp("biz-north", "deleteInvoice", {"invoice_id": invoice_id})
    _error_everywhere(world, http, mcp, world.cli("delete", invoice_id), "invoice_not_found", 404)
    assert _delete(world, "cli", again)["released_delayed_charges"] == ["DC-3"]  # leave the cycle free


def test_a_finalized_invoice_is_refused_everywhere_and_nothing_changes(world, finalized):
    number = _rows(world, "SELECT number FROM invoices WHERE invoice_id = ?", [finalized])[0][0]
    state = "SELECT status, number, total_minor FROM invoices WHERE invoice_id = ?"
    before = _rows(world, state, [finalized]), _rows(world, "SELECT count(*) FROM invoice_events")
    before_lines = _rows(world, "SELECT count(*) FROM invoice_lines WHERE invoice_id = ?", [finalized])
    http = _delete_http(world, "biz-north", finalized)
    mcp = world.mcp("biz-north", "deleteInvoice", {"invoice_id": finalized})
    _error_everywhere(world, http, mcp, world.cli("delete", finalized), "invalid_state", 409)
    assert http.message.startswith("cannot delete invoice ") and "it is open" in http.message, http.message
    assert http.message.endswith("; void it or issue a credit note instead"), http.message
    code, out, err = world.cli("delete", world.get("biz-north", f"/api/v1/invoices/{finalized}").data["number"])
    assert (code, out) == (2, "") and err.strip() == f"billsim: {http.message}"  # named by its number: the same
    assert number is not None
    after = _rows(world, state, [finalized]), _rows(world, "SELECT count(*) FROM invoice_events")
    assert after == before
    assert _rows(world, "SELECT count(*) FROM invoice_lines WHERE invoice_id = ?", [finalized]) == before_lines


def test_another_businesss_draft_is_not_found_exactly_like_nothing_and_stays(world):
    invoice_id = _april_draft(world)
    http = _delete_http(world, "biz-south", invoice_id)
    missing = _delete_http(world, "biz-south", "inv-nope")
    assert (http.status, http.code) == (missing.status, missing.code) == (404, "invoice_not_found")
    assert http.message.replace(invoice_id, "X") == missing.message.replace("inv-nope", "X")
    mcp = world.mcp("biz-south", "deleteInvoice", {"invoice_id": invoice_id})
    assert (mcp.code, mcp.message) == ("invoice_not_found", http.message)
    assert _rows(world, "SELECT status FROM invoices WHERE invoice_id = ?", [invoice_id]) == [("draft",)]
    assert _rows(world, "SELECT charge_id FROM delayed_charge_sweeps WHERE invoice_id = ?", [invoice_id]) == [("DC-3",)]
    assert _rows(
        world, "SELECT count(*) FROM invoice_events WHERE invoice_id = ? AND action = 'deleted'", [invoice_id]
    )[0] == (0,)
    assert _delete(world, "http", invoice_id)["invoice_id"] == invoice_id  # its own business may


def test_voiding_a_draft_says_to_delete_it_and_every_front_end_can(world):
    invoice_id = _april_draft(world)
    http = world.post("biz-north", f"/api/v1/invoices/{invoice_id}/void", {"reason": "x"})
    assert (http.status, http.code) == (409, "invalid_state") and http.message.endswith("; delete the draft instead")
    assert _delete(world, "mcp", invoice_id)["released_delayed_charges"] == ["DC-3"]


def test_the_delete_is_published_in_the_openapi_description_and_the_mcp_tool_list(world):
    operation = world.http.get("/openapi.json").json()["paths"]["/api/v1/invoices/{invoice_id}"]["delete"]
    assert operation["summary"] == "Delete a draft"
    assert {"200", "404", "409"} <= set(operation["responses"])
    assert "a second DELETE" in operation["description"]
    server = build_server(FixedBackend(world.app, Caller.of_business("biz-north", "t")))

    async def listed():
        async with Client(server) as client:
            return (await client.list_tools()).tools

    tool = {t.name: t for t in anyio.run(listed)}["deleteInvoice"]
    assert tool.annotations.destructive_hint is True and tool.annotations.read_only_hint is False
