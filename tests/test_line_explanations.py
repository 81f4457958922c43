"""Every invoice line explains its amount (docs/RULES.md "What a line shows"), from ONE place
(engine/billing/line_explanation.py), on the document (HTML, PDF), the CLI's JSON, the HTTP API and MCP:

    package     KP (GBP): 5,710 SMS, 500 free, packs of 1,000 at £39.50 -> 6 packs = £237.00
    percentage  KQ (CAD, tax_rate 0): 715.61 × 2.9 % + 0.40 × 1 usage row = 21.15269 -> CA$21.15
    true-up     KM (USD): commitment 500.00 − order lines 239.00 + 3 × 0.05 = 260.85
    charge      CH1 of CC: 12.125 CAD, swept by a run -> quantity 1 × unit price 12.125 = CA$12.13

A line that is quantity × unit price (flat, per-unit) or lists its tiers (graduated, volume) has no explanation and
shows its unit price as before."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from decimal import Decimal
from pathlib import Path

import anyio
import pypdf
import pytest
from fastapi.testclient import TestClient
from helpers_data import (
    PACKAGE,
    PERCENTAGE,
    TRUE_UP,
    add_contract,
    add_customer,
    add_line,
    add_tiers,
    add_usage,
    explained,
)
from mcp import Client

from engine.access.tokens import create_token
from engine.api.app import create_app, open_server_app
from engine.billing.bill_run import bill_run
from engine.billing.invoice_store import load_invoice
from engine.billing.invoices import draft_period_invoice, preview_invoice
from engine.cli import main as cli_main
from engine.db import connect
from engine.io.documents import render_document, render_invoice
from engine.io.export import export_ledger
from engine.mcp.backends import FixedBackend
from engine.mcp.tools import build_server
from engine.service import Caller

MARCH = dt.date(2026, 3, 15)


def _line(invoice, key: str):
    """The line of order line `key`, or the one line of kind `key` (true-up, delayed charge)."""
    (line,) = [ln for ln in invoice.lines if key in (ln.line_id, ln.kind)]
    return line


def _cells(html: str) -> list[list[str]]:
    """The lines table's rows as the text of their cells (markup dropped)."""
    body = html[html.index('<table class="lines items">') : html.index('<table class="totals">')]
    rows = re.findall(r"<tr>(.*?)</tr>", body, re.S)
    return [
        [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", c)).strip() for c in re.findall(r"<td.*?>(.*?)</td>", r, re.S)]
        for r in rows
    ]


# --- the engine and the document ------------------------------------------------------------------------------------


def test_a_package_line_shows_its_units_free_units_and_packs_not_quantity_times_unit_price(con):
    explained(con)
    inv = preview_invoice(con, "KP", MARCH)
    line = _line(inv, "LP")
    assert (line.quantity, line.unit_price, line.amount) == (Decimal(5710), Decimal("39.5"), Decimal("237.00"))
    assert (line.package_size, line.free_units, line.packages) == (Decimal(1000), Decimal(500), 6)
    assert line.explanation == PACKAGE
    row = [r for r in _cells(render_document(con, inv, "html")) if r and r[0].startswith("SMS")][0]
    assert PACKAGE in row[0]
    assert row[1:] == ["5,710", "", "£237.00"]  # no '£39.50' beside 5,710: the price is per pack


@pytest.mark.parametrize(
    "usage, free, text, packs",
    [
        ("300", "500", "300 units − 500 free = 0 → 0 packs of 1,000 × £39.50", 0),  # all free
        ("1000", None, "1,000 units → 1 pack of 1,000 × £39.50", 1),  # exactly one pack, no free units
        ("1000.5", None, "1,000.5 units → 2 packs of 1,000 × £39.50", 2),  # a part pack is a whole pack
    ],
)
def test_package_boundaries_explain_the_packs_the_amount_bills(con, usage, free, text, packs):
    add_customer(con, "CG", currency="GBP")
    add_contract(con, "KP", "CG", "2026-01-01")
    add_line(
        con,
        "LP",
        "KP",
        kind="usage",
        pricing_model="package",
        metric="sms",
        unit_price="39.50",
        package_size="1000",
        free_units=free,
    )
    add_usage(con, "KP", "sms", "2026-03-03", usage)
    line = _line(preview_invoice(con, "KP", MARCH), "LP")
    assert (line.explanation, line.packages, line.amount_minor) == (text, packs, packs * 3950)


def test_a_percentage_line_shows_its_rate_and_fixed_fee_per_usage_row(con):
    explained(con)
    inv = preview_invoice(con, "KQ", MARCH)
    line = _line(inv, "LQ")
    assert (line.quantity, line.unit_price, line.amount) == (Decimal("715.61"), None, Decimal("21.15"))
    assert (line.percentage_rate, line.fixed_fee, line.usage_rows) == (Decimal("2.9"), Decimal("0.4"), 1)
    assert line.explanation == PERCENTAGE
    assert PERCENTAGE in render_document(con, inv, "html")


def test_the_true_up_shows_the_commitment_and_the_order_lines_it_is_checked_against(con):
    explained(con)
    line = _line(preview_invoice(con, "KM", MARCH), "minimum_commitment_true_up")
    assert (line.minimum_commitment, line.committed_minor, line.order_lines_total_minor) == (Decimal(500), 50000, 23915)
    assert (line.committed, line.order_lines_total, line.amount_minor) == (Decimal("500.00"), Decimal("239.15"), 26085)
    assert line.explanation == TRUE_UP


def test_a_prorated_true_up_shows_the_days_and_a_met_commitment_says_so(con):
    """KS starts 2026-03-10, anchor 1: its stub March 10-31 is 22 of 31 days. 500 × 22/31 = 354.84; the platform fee
    239 × 22/31 = 169.61; true-up 185.23. KN's commitment of 100.00 is met by its 239.00."""
    add_customer(con, "CU", currency="USD")
    add_contract(con, "KS", "CU", "2026-03-10", billing_cycle_start_day=1, minimum_commitment="500")
    add_line(con, "LS", "KS", product="Platform", unit_price="239.00")
    add_contract(con, "KN", "CU", "2026-01-01", minimum_commitment="100")
    add_line(con, "LN", "KN", product="Platform", unit_price="239.00")
    inv = preview_invoice(con, "KS", MARCH)
    line = _line(inv, "minimum_commitment_true_up")
    assert line.explanation == "commitment $500.00 × 22/31 days = $354.84 − order lines $169.61 = $185.23"
    assert line.amount_minor == 18523
    details = [r[0] for r in _cells(render_document(con, inv, "html")) if r and r[0].startswith("Minimum")][0]
    assert "prorated 22/31" not in details  # said once, in the explanation
    met = _line(preview_invoice(con, "KN", MARCH), "minimum_commitment_true_up")
    assert met.explanation == "commitment $100.00, met by order lines $239.00: nothing to add"
    assert met.amount_minor == 0


def test_flat_per_unit_and_tiered_lines_explain_themselves_as_before(con):
    add_customer(con, "CU", currency="USD")
    add_contract(con, "K1", "CU", "2026-01-01")
    add_line(con, "L-FLAT", "K1", product="Platform", unit_price="100.00")
    add_line(con, "L-SEAT", "K1", pricing_model="per_unit", product="Seats", unit_price="12.50", quantity="7")
    add_line(
        con,
        "L-GRAD",
        "K1",
        kind="usage",
        pricing_model="graduated",
        metric="calls",
        tiers=[("1000", "0.01"), (None, "0.005")],
    )
    add_line(con, "L-VOL", "K1", kind="usage", pricing_model="volume", metric="gb", tiers=[("10", "2"), (None, "1.5")])
    add_usage(con, "K1", "calls", "2026-03-10", "1500")
    add_usage(con, "K1", "gb", "2026-03-10", "25")
    inv = preview_invoice(con, "K1", MARCH)
    assert [ln.explanation for ln in inv.lines] == [None] * 4
    rows = {r[0].split(" ")[0]: r for r in _cells(render_document(con, inv, "html")) if r}
    assert rows["Platform"][1:] == ["1", "$100.00", "$100.00"]
    assert rows["Seats"][1:] == ["7", "$12.50", "$87.50"]
    assert "tier 1: 1,000 × $0.01" in rows["L-GRAD"][0] and rows["L-GRAD"][2] == ""
    assert "tier 2: 25 × $1.50" in rows["L-VOL"][0] and rows["L-VOL"][2] == ""


def test_the_pdf_carries_the_explanations(con):
    explained(con)
    text = pypdf.PdfReader(
        io.BytesIO(render_invoice(con, draft_period_invoice(con, "KP", MARCH).invoice.invoice_id, "pdf"))
    )
    text = " ".join(p.extract_text() for p in text.pages)
    assert "5,210 → 6 packs of 1,000 × £39.50" in " ".join(text.split())


# --- delayed charges and a customer without tax ---------------------------------------------------------------------


def test_a_delayed_charge_line_is_one_times_the_charge_amount_everywhere(con, tmp_path):
    """Quantity 1 × unit price 12.125 CAD (the charge as given), amount rounded once: CA$12.13."""
    explained(con)
    bill_run(con, MARCH, contract_ids=["KQ"], include_delayed_charges=True)
    (invoice_id,) = con.execute("SELECT invoice_id FROM invoices WHERE contract_id = 'KQ'").fetchone()
    line = _line(load_invoice(con, invoice_id), "delayed_charge")
    assert (line.quantity, line.unit_price, line.amount_minor) == (Decimal(1), Decimal("12.125"), 1213)
    row = [r for r in _cells(render_invoice(con, invoice_id, "html")) if r and r[0].startswith("Courier")][0]
    assert row[1:] == ["1", "12.125 CAD", "CA$12.13"]
    export_ledger(con, tmp_path)
    with open(tmp_path / "invoice_lines.csv", newline="") as f:
        (exported,) = [r for r in csv.DictReader(f) if r["kind"] == "delayed_charge"]
    assert (exported["quantity"], exported["unit_price"], exported["amount"]) == ("1", "12.125", "12.13")


def test_a_customer_without_tax_gets_no_tax_row_on_the_document(con):
    """RULES: the single tax_rate 0 is not listed (invoice_adjustments.csv has no row for it): nor on the document."""
    explained(con)
    untaxed = render_document(con, preview_invoice(con, "KQ", MARCH), "html")
    assert "Tax (" not in untaxed and "CA$21.15" in untaxed
    taxed = render_document(con, preview_invoice(con, "KP", MARCH), "html")
    assert "Tax (20 %)" in taxed and "£47.40" in taxed  # 20 % of 237.00


# --- the CLI, the HTTP API and MCP ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def db(tmp_path_factory) -> tuple[Path, str]:
    path = tmp_path_factory.mktemp("explained") / "e.duckdb"
    con = connect(path)
    explained(con)
    draft_period_invoice(con, "KM", MARCH)
    token = create_token(con, "default", "t")
    con.close()
    return path, token


def _cli(path: Path, *argv: str) -> dict:
    out, err = io.StringIO(), io.StringIO()
    assert cli_main(["--db", str(path), *argv], stdout=out, stderr=err) == 0, err.getvalue()
    return json.loads(out.getvalue())


def test_the_cli_json_carries_each_lines_explanation_and_figures(db):
    path, _ = db
    (line,) = _cli(path, "preview", "KP", "--period-date", "2026-03-15")["lines"]
    assert (line["explanation"], line["packages"], line["package_size"], line["free_units"]) == (
        PACKAGE,
        6,
        "1000",
        "500",
    )
    (line,) = _cli(path, "preview", "KQ", "--period-date", "2026-03-15")["lines"]
    assert (line["explanation"], line["percentage_rate"], line["fixed_fee"], line["usage_rows"]) == (
        PERCENTAGE,
        "2.9",
        "0.4",
        1,
    )
    lines = _cli(path, "draft", "KM", "--period-date", "2026-03-15")["invoice"]["lines"]
    true_up = [ln for ln in lines if ln["kind"] == "minimum_commitment_true_up"][0]
    assert (true_up["explanation"], true_up["minimum_commitment"], true_up["committed_minor"]) == (
        TRUE_UP,
        "500",
        50000,
    )
    assert true_up["order_lines_total_minor"] == 23915


def test_a_dayzero_line_items_quantity_is_an_integer_when_whole_and_its_exact_decimal_beside_it(db):
    """Seed 004 gives a line item's `quantity` as an integer; the HTTP answer wrote it as a string ("5710"). Whole:
    the integer (and quantity_decimal); a usage quantity of 715.61: null and its exact decimal, never a float. MCP
    and the CLI keep their own shape (exact decimal strings) and the same quantity."""
    path, token = db
    app = open_server_app(path)
    try:
        auth = {"Authorization": f"Bearer {token}", "x-business-id": "default"}
        with TestClient(create_app(billsim=app)) as http:
            got = {}
            for contract in ("KP", "KQ"):
                r = http.post(
                    f"/api/v1/contracts/{contract}/preview-invoice", json={"period_date": "2026-03-15"}, headers=auth
                )
                (got[contract],) = [(i["quantity"], i["quantity_decimal"]) for i in r.json()["line_items"]]
            assert got == {"KP": (5710, "5710"), "KQ": (None, "715.61")}, got
            assert type(got["KP"][0]) is int
            made = http.post(
                "/api/v1/invoices",
                json={
                    "customer_id": "CG",
                    "line_items": [{"description": "Setup", "unit_price": 1250, "quantity": 3}],
                    "due_date": "2026-07-31",
                },
                headers=auth,
            )
            assert made.status_code == 201, made.text
            (item,) = made.json()["line_items"]
            assert (item["quantity"], item["quantity_decimal"], item["amount"]) == (3, "3", 3750)  # as it was sent
            (listed,) = [
                i["line_items"]
                for i in http.get("/api/v1/invoices", params={"customer_id": "CG"}, headers=auth).json()["data"]
                if i["id"] == made.json()["id"]
            ]
            assert [li["quantity"] for li in listed] == [3]
        server = build_server(FixedBackend(app, Caller.of_business("default", "mcp")))

        async def call(tool: str, args: dict):
            async with Client(server) as client:
                return (await client.call_tool(tool, args)).structured_content

        for contract, (_, exact) in got.items():
            mcp = anyio.run(call, "previewInvoice", {"contract_id": contract, "period_date": "2026-03-15"})
            assert [ln["quantity"] for ln in mcp["lines"]] == [exact]
    finally:
        app.close()
    for contract, (_, exact) in got.items():
        assert [ln["quantity"] for ln in _cli(path, "preview", contract, "--period-date", "2026-03-15")["lines"]] == [
            exact
        ]


def test_the_http_api_and_mcp_carry_each_lines_explanation(db):
    path, token = db
    app = open_server_app(path)
    try:
        auth = {"Authorization": f"Bearer {token}", "x-business-id": "default"}
        with TestClient(create_app(billsim=app)) as http:
            preview = http.post(
                "/api/v1/contracts/KP/preview-invoice", json={"period_date": "2026-03-15"}, headers=auth
            )
            (item,) = preview.json()["line_items"]
            assert (item["explanation"], item["packages"], item["package_size"], item["free_units"]) == (
                PACKAGE,
                6,
                "1000",
                "500",
            )
            assert (item["pricing_model"], item["unit_price"], item["amount"]) == ("package", 3950, 23700)
            preview = http.post(
                "/api/v1/contracts/KQ/preview-invoice", json={"period_date": "2026-03-15"}, headers=auth
            )
            (item,) = preview.json()["line_items"]
            assert (item["explanation"], item["percentage_rate"], item["fixed_fee_decimal"], item["usage_rows"]) == (
                PERCENTAGE,
                "2.9",
                "0.4",
                1,
            )
            page = http.get("/api/v1/invoices", params={"contract_id": "KM"}, headers=auth).json()["data"]
            (invoice,) = page
            got = http.get(f"/api/v1/invoices/{invoice['id']}", headers=auth).json()
            true_up = [li for li in got["line_items"] if li["kind"] == "minimum_commitment_true_up"][0]
            assert (true_up["explanation"], true_up["minimum_commitment_decimal"]) == (TRUE_UP, "500")
            assert (true_up["committed"], true_up["order_lines_total"], true_up["amount"]) == (50000, 23915, 26085)
        server = build_server(FixedBackend(app, Caller.of_business("default", "mcp")))

        async def call(tool: str, args: dict):
            async with Client(server) as client:
                return (await client.call_tool(tool, args)).structured_content

        got = anyio.run(call, "getInvoice", {"invoice_id": invoice["id"]})
        assert TRUE_UP in [ln["explanation"] for ln in got["lines"]]
        got = anyio.run(call, "previewInvoice", {"contract_id": "KP", "period_date": "2026-03-15"})
        assert [ln["explanation"] for ln in got["lines"]] == [PACKAGE]
    finally:
        app.close()


def test_over_http_a_prorated_discounted_or_tiered_line_carries_what_the_cli_shows(tmp_path):
    """RULES "What a line shows": every front end lets its reader recompute a line. The HTTP line items had no
    proration, no discount and no tiers (the CLI, MCP and the document had them): they carry the same figures now.
    KR starts 2026-03-10 (a flat 31.00 line with 10 % off, prorated 22/31) and has a graduated usage line."""
    path = tmp_path / "r.duckdb"
    con = connect(path)
    add_customer(con, "CR")
    add_contract(con, "KR", "CR", "2026-03-10", billing_cycle_start_day=1)  # a stub: 03-10 .. 03-31
    add_line(con, "LR", "KR", product="Seats", unit_price="31.00", discount_percent="10")
    add_line(con, "LT", "KR", kind="usage", pricing_model="graduated", product="Calls", metric="calls")
    add_tiers(con, "LT", [("1000", "0.01"), (None, "0.005")])
    add_usage(con, "KR", "calls", "2026-03-20", "1500")
    token = create_token(con, "default", "t")
    con.close()
    cli = {ln["line_id"]: ln for ln in _cli(path, "preview", "KR", "--period-date", "2026-03-15")["lines"]}
    app = open_server_app(path)
    try:
        auth = {"Authorization": f"Bearer {token}", "x-business-id": "default"}
        with TestClient(create_app(billsim=app)) as http:
            body = http.post("/api/v1/contracts/KR/preview-invoice", json={"period_date": "2026-03-15"}, headers=auth)
            items = {li["line_id"]: li for li in body.json()["line_items"]}
    finally:
        app.close()
    seats, calls = items["LR"], items["LT"]
    assert (seats["active_days"], seats["period_days"], seats["proration_factor"]) == (22, 31, "22/31")
    assert seats["discount_percent"] == "10" and seats["amount"] == 1980  # 31.00 × 22/31 × 0.9
    for field in ("active_days", "period_days", "proration_factor", "discount_percent"):
        assert seats[field] == cli["LR"][field], field
    assert [(t["units"], t["unit_price"], t["amount"]) for t in calls["tiers"]] == [
        (t["units"], t["unit_price"], t["amount"]) for t in cli["LT"]["tiers"]
    ]
    assert sum(Decimal(t["amount"]) for t in calls["tiers"]) * 100 == calls["amount"]  # 10.00 + 2.50
