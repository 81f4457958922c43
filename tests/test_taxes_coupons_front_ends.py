"""Taxes and coupons (spec section 11) through every front end, on the worked 'adjustments' example: the HTTP API's
DayZero invoice carries `discount_amount` and `taxes` (minor units) beside the seeds' fields, the MCP tools the
engine's invoice (discount, taxes, coupons), the CLI lists what is loaded (`billsim taxes`, `billsim coupons`);
the review flags `coupon_ended` when the previous invoice had a coupon this draft lacks."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import anyio
import pytest
from fastapi.testclient import TestClient
from mcp import Client

from engine.access.tokens import create_token
from engine.api.app import create_app, open_server_app
from engine.cli import main as cli_main
from engine.mcp.backends import FixedBackend
from engine.mcp.tools import build_server
from engine.service import Billsim, Caller, bill_runs, ledger

EXAMPLE = Path(__file__).resolve().parent / "examples" / "adjustments"


@pytest.fixture(scope="module")
def db(tmp_path_factory) -> tuple[Path, str]:
    path = tmp_path_factory.mktemp("adjustments") / "a.duckdb"
    with Billsim.open(path) as app:
        s = app.session(Caller.local("t"))
        ledger.import_data(s, EXAMPLE)
        for date in ("2026-03-15", "2026-04-15"):
            bill_runs.run(s, {"period_date": date})
        with app.database.cursor() as cur:
            token = create_token(cur, "default", "t")
    return path, token


def _cli(path: Path, *argv: str) -> list | dict:
    out, err = io.StringIO(), io.StringIO()
    assert cli_main(["--db", str(path), *argv], stdout=out, stderr=err) == 0, err.getvalue()
    return json.loads(out.getvalue())


def test_the_cli_lists_the_taxes_and_coupons_loaded(db):
    path, _ = db
    taxes = {t["tax_code"]: t for t in _cli(path, "taxes")}
    assert {c: t["rate"] for c, t in taxes.items()} == {"T10": "10", "T12": "12", "VAT19": "19"}
    assert (taxes["T10"]["customers"], taxes["T12"]["order_lines"]) == (1, 1)
    coupons = {c["coupon_id"]: c for c in _cli(path, "coupons")}
    assert set(coupons) == {"TENOFF", "HALFHOST", "TWOEUR"}
    assert (coupons["HALFHOST"]["frequency"], coupons["HALFHOST"]["periods"], coupons["HALFHOST"]["applied"]) == (
        "recurring",
        2,
        1,
    )


def test_http_and_mcp_carry_the_discount_and_each_tax(db):
    """KA-2 in March: HALFHOST 50 % of Hosting (40.00), then TWOEUR 2.00 split 1.33 / 0.67; VAT19 on 38.67 = 7.35,
    the usage line exempt: total 100.00 − 42.00 + 7.35 = 65.35 (spec example)."""
    path, token = db
    app = open_server_app(path)
    try:
        with TestClient(create_app(billsim=app)) as http:
            auth = {"Authorization": f"Bearer {token}", "x-business-id": "default"}
            page = http.get(
                "/api/v1/invoices", params={"contract_id": "KA-2", "period_date": "2026-03-15"}, headers=auth
            )
            (invoice,) = page.json()["data"]
            assert (invoice["subtotal"], invoice["discount_amount"], invoice["tax"], invoice["total"]) == (
                10000,
                4200,
                735,
                6535,
            )
            assert invoice["taxes"] == [{"code": "VAT19", "name": "VAT", "rate": "19", "base": 3867, "amount": 735}]
            assert [c["coupon_id"] for c in invoice["coupons"]] == ["HALFHOST", "TWOEUR"]
            assert {li["line_id"]: li["discount_amount"] for li in invoice["line_items"]} == {"c": 4133, "d": 67}
            preview = http.post(
                "/api/v1/contracts/KA-1/preview-invoice", json={"period_date": "2026-03-15"}, headers=auth
            ).json()
            assert (preview["discount_amount"], preview["tax"], preview["total"]) == (1000, 360, 2360)
            assert [(t["code"], t["base"], t["amount"]) for t in preview["taxes"]] == [
                ("T10", 2000, 200),
                ("T12", 1333, 160),
            ]
        server = build_server(FixedBackend(app, Caller.of_business("default", "mcp")))

        async def call():
            async with Client(server) as client:
                return await client.call_tool("getInvoice", {"invoice_id": invoice["id"]})

        got = anyio.run(call).structured_content
        assert (got["discount"], got["tax"], got["total"]) == ("42.00", "7.35", "65.35")
        assert [(t["code"], t["amount"]) for t in got["taxes"]] == [("VAT19", "7.35")]
    finally:
        app.close()


def test_the_review_flags_a_coupon_that_ended(db):
    """April: KA-2's HALFHOST (2 periods) and TWOEUR (once) are over; KA-1's TENOFF (forever) goes on."""
    path, _ = db
    with Billsim.open(path) as app:
        review = bill_runs.review_drafts(app.session(Caller.local("t")), period_date="2026-04-15")
    flagged = {d.contract_id: {f.flag: f for f in d.flags} for d in review.drafts}
    ended = flagged["KA-2"]["coupon_ended"]
    assert ended.reason == (
        "coupons no longer applied: Half hosting (HALFHOST), Two euro (TWOEUR) (the previous invoice had them)"
    )
    assert [c["coupon_id"] for c in ended.figures["coupons"]] == ["HALFHOST", "TWOEUR"]
    assert "coupon_ended" not in flagged["KA-1"]
    assert review.flag_counts["coupon_ended"] == 1
    with contextlib.suppress(KeyError):
        assert "coupon_ended" not in {f.flag for f in review.drafts[0].flags} or review.drafts[0].contract_id == "KA-2"
