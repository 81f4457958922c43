"""Where taxes and coupons (spec section 11) come out: the ledger export (invoices.csv and invoice_lines.csv
gain `discount` and `tax_codes`, invoice_adjustments.csv), the invoice document, what-if scenarios, and the
same figures for a preview, a draft and a bill run of a generated ledger with coupons and taxes everywhere."""

from __future__ import annotations

import csv
import datetime as dt
import shutil
from decimal import Decimal
from pathlib import Path

import pytest
from helpers_data import add_contract, add_coupon, add_customer, add_line, add_tax, apply_coupon

from engine.billing.bill_run import bill_run
from engine.billing.invoice_store import load_invoice
from engine.billing.invoices import draft_period_invoice, preview_invoice
from engine.errors import ScenarioError
from engine.ingest.demo import seed_demo
from engine.ingest.importer import import_folder
from engine.io.documents import render_invoice
from engine.io.export import export_ledger
from engine.whatif.scenarios import parse_scenario, simulate

EXAMPLES = Path(__file__).resolve().parent / "examples"
MARCH = dt.date(2026, 3, 15)


def _read(path) -> list[dict]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture
def adjustments(con, tmp_path):
    """The spec's worked 'adjustments' case imported and billed for March (KA-1 USD, KA-2 EUR)."""
    folder = tmp_path / "adjustments"
    shutil.copytree(EXAMPLES / "adjustments", folder)
    import_folder(con, folder)
    bill_run(con, MARCH)
    return con


def _ids(con) -> dict[str, str]:
    return dict(con.execute("SELECT contract_id, invoice_id FROM invoices").fetchall())


# --- export ---------------------------------------------------------------------------------------------------------


def test_the_export_writes_discounts_line_codes_and_one_adjustment_row_per_coupon_and_tax(adjustments, tmp_path):
    paths = export_ledger(adjustments, tmp_path)
    ids = _ids(adjustments)
    invoices = {r["invoice_id"]: r for r in _read(paths["invoices"])}
    assert [invoices[ids[k]]["discount"] for k in ("KA-1", "KA-2")] == ["10.00", "42.00"]
    lines = [(r["line_id"], r["discount"], r["tax_codes"]) for r in _read(paths["invoice_lines"])]
    assert sorted(lines) == [
        ("a", "3.33", "T10"),
        ("b", "6.67", "T10;T12"),
        ("c", "41.33", "VAT19"),
        ("d", "0.67", "none"),
    ]
    rows = [
        {k: v for k, v in r.items() if k != "invoice_id"}
        for r in _read(paths["invoice_adjustments"])
        if r["invoice_id"] == ids["KA-1"]
    ]
    assert rows == [
        {
            "kind": "coupon",
            "code": "TENOFF",
            "name": "Ten off",
            "rate_or_percent": "",
            "base": "30.00",
            "amount": "10.00",
        },
        {"kind": "tax", "code": "T10", "name": "Tax ten", "rate_or_percent": "10", "base": "20.00", "amount": "2.00"},
        {
            "kind": "tax",
            "code": "T12",
            "name": "Tax twelve",
            "rate_or_percent": "12",
            "base": "13.33",
            "amount": "1.60",
        },
    ]
    ka2 = [
        (r["kind"], r["code"], r["rate_or_percent"], r["amount"])
        for r in _read(paths["invoice_adjustments"])
        if r["invoice_id"] == ids["KA-2"]
    ]
    assert ka2 == [
        ("coupon", "HALFHOST", "50", "40.00"),
        ("coupon", "TWOEUR", "", "2.00"),
        ("tax", "VAT19", "19", "7.35"),
    ]


def test_adjustment_text_is_formula_guarded_and_amounts_have_the_currencys_decimals(con, tmp_path):
    """A coupon named like a formula is written with a leading '; KWD amounts have 3 decimals, JPY none."""
    add_tax(con, "VAT", "5", name="@VAT")
    for cur, price in (("KWD", "1.005"), ("JPY", "1005")):
        add_customer(con, f"C-{cur}", currency=cur, tax_codes="VAT")
        add_contract(con, f"K-{cur}", f"C-{cur}", "2026-01-01", billing_cycle_start_day=1)
        add_line(con, f"L-{cur}", f"K-{cur}", unit_price=price)
        add_coupon(con, f"=P-{cur}", percent="10", name='=HYPERLINK("http://x","y")')
        apply_coupon(con, f"K-{cur}", f"=P-{cur}", "2026-01-01")
    bill_run(con, MARCH)
    rows = _read(export_ledger(con, tmp_path)["invoice_adjustments"])
    coupons = [r for r in rows if r["kind"] == "coupon"]
    assert {r["name"] for r in coupons} == {'\'=HYPERLINK("http://x","y")'}
    assert {r["code"] for r in coupons} == {"'=P-KWD", "'=P-JPY"}
    assert {r["name"] for r in rows if r["kind"] == "tax"} == {"'@VAT"}
    by_code = {(r["kind"], r["code"]): r for r in rows}
    assert (by_code[("coupon", "'=P-KWD")]["base"], by_code[("coupon", "'=P-KWD")]["amount"]) == ("1.005", "0.101")
    assert (by_code[("coupon", "'=P-JPY")]["base"], by_code[("coupon", "'=P-JPY")]["amount"]) == ("1005", "101")
    assert sorted(r["amount"] for r in rows if r["kind"] == "tax") == ["0.045", "45"]  # 5 % of 0.904 / ¥904


def test_the_parquet_export_has_typed_adjustments_with_their_currency(adjustments, tmp_path):
    path = export_ledger(adjustments, tmp_path, "parquet")["invoice_adjustments"]
    types = dict(
        adjustments.execute(
            "SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM read_parquet(?))", [str(path)]
        ).fetchall()
    )
    assert types["base"] == types["amount"] == "DECIMAL(38,4)" and types["currency"] == "VARCHAR"
    rows = adjustments.execute(
        "SELECT code, amount, currency FROM read_parquet(?) WHERE kind = 'tax' ORDER BY code", [str(path)]
    ).fetchall()
    assert rows == [
        ("T10", Decimal("2.0000"), "USD"),
        ("T12", Decimal("1.6000"), "USD"),
        ("VAT19", Decimal("7.3500"), "EUR"),
    ]


# --- document -------------------------------------------------------------------------------------------------------


def test_the_document_shows_each_coupon_then_each_tax_with_its_rate_and_base(adjustments):
    html = render_invoice(adjustments, _ids(adjustments)["KA-1"], "html")
    order = [
        html.index(text)
        for text in (
            "Subtotal",
            "Discount: Ten off",
            "-$10.00",
            "Tax ten (T10) 10 % of $20.00",
            "Tax twelve (T12) 12 % of $13.33",
            "$1.60",
            "$23.60",
        )
    ]
    assert order == sorted(order)
    assert "tax exempt" in render_invoice(adjustments, _ids(adjustments)["KA-2"], "html")


# --- what-if --------------------------------------------------------------------------------------------------------


def _coupon_change(**over) -> dict:
    change = {
        "type": "coupon",
        "coupon": {
            "coupon_id": "NEW10",
            "name": "New 10 %",
            "kind": "percentage",
            "percent": "10",
            "frequency": "forever",
        },
        "contract_ids": ["KA-2"],
        "applied_on": "2026-03-01",
    }
    return {**change, **over}


def test_a_coupon_scenario_adds_its_coupon_rows_and_lowers_the_tax(adjustments):
    """NEW10 (10 % forever, from Mar 1) on KA-2 in March: after HALFHOST (limited to products: first) took
    40.00 of 100.00, NEW10 applies before TWOEUR (same date, smaller id): 10 % of 60.00 = 6.00, a row of
    −6.00; TWOEUR still takes its 2.00. The scenario's tax is what a preview of the same data says."""
    scenario = parse_scenario({"name": "new coupon", "changes": [_coupon_change()]})
    summary = simulate(adjustments, scenario, dt.date(2026, 3, 1), dt.date(2026, 3, 31))
    rows = adjustments.execute(
        "SELECT contract_id, kind, line_id, baseline_minor, scenario_minor FROM _scenario_comparison ORDER BY ALL"
    ).fetchall()
    assert ("KA-2", "coupon", "NEW10", 0, -600) in rows
    assert ("KA-2", "coupon", "TWOEUR", -200, -200) in rows
    assert all(b == s for c, k, _, b, s in rows if c == "KA-1")
    eur = next(t for t in summary["totals"] if t["currency"] == "EUR")
    eur_tax = next(t for t in summary["tax_totals"] if t["currency"] == "EUR")
    assert (eur["delta"], eur_tax["baseline"]) == ("-6.00", "7.35")
    # the scenario's tax is the tax of a preview of the same data: add the coupon for real
    add_coupon(adjustments, "NEW10", percent="10")
    apply_coupon(adjustments, "KA-2", "NEW10", "2026-03-01")
    assert Decimal(eur_tax["scenario"]) == preview_invoice(adjustments, "KA-2", MARCH).tax


def test_a_tax_scenario_moves_the_tax_only(adjustments):
    scenario = parse_scenario({"name": "VAT 21", "changes": [{"type": "tax", "tax_code": "VAT19", "rate": "21"}]})
    summary = simulate(adjustments, scenario, dt.date(2026, 3, 1), dt.date(2026, 3, 31))
    eur = next(t for t in summary["totals"] if t["currency"] == "EUR")
    assert eur["delta"] == "0.00"  # lines and coupons do not move
    # 19 % → 21 % of 38.67: 7.35 → 8.12 (8.1207)
    assert summary["tax_totals"] == [
        {"currency": "EUR", "baseline": "7.35", "scenario": "8.12", "delta": "0.77"},
        {"currency": "USD", "baseline": "3.60", "scenario": "3.60", "delta": "0.00"},
    ]


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"type": "tax", "tax_code": "NOPE", "rate": "5"}, "unknown tax code 'NOPE'"),
        (
            _coupon_change(
                coupon={"coupon_id": "TENOFF", "name": "x", "kind": "percentage", "percent": "5", "frequency": "once"}
            ),
            "'TENOFF' already exists",
        ),
        (_coupon_change(products=["Nope"], contract_ids=None), "unknown product(s) 'Nope'"),
        (_coupon_change(contract_ids=["KA-9"]), "unknown contract(s) 'KA-9'"),
    ],
)
def test_a_scenario_naming_what_the_data_lacks_is_refused(adjustments, change, named):
    with pytest.raises(ScenarioError, match=named.replace("(", r"\(").replace(")", r"\)")):
        simulate(adjustments, parse_scenario({"name": "x", "changes": [change]}), MARCH, MARCH)


@pytest.mark.parametrize(
    ("coupon", "named"),
    [
        ({"kind": "fixed", "amount": "5"}, "fixed coupon needs an amount and a currency"),
        ({"kind": "fixed", "amount": "5.001", "currency": "USD"}, "more decimals than USD"),
        ({"kind": "percentage", "percent": "0"}, "more than 0 and at most 100"),
        ({"kind": "percentage", "percent": "10", "frequency": "recurring"}, "needs periods"),
    ],
)
def test_a_malformed_coupon_is_refused_when_the_scenario_is_read(coupon, named):
    body = {"coupon_id": "X", "name": "X", "frequency": "once", **coupon}
    with pytest.raises(ScenarioError, match=named):
        parse_scenario({"name": "x", "changes": [_coupon_change(coupon=body)]})


def test_a_tax_rate_beyond_100_or_4_decimals_is_refused():
    for rate in ("100.5", "7.12345", "-1"):
        with pytest.raises(ScenarioError):
            parse_scenario({"name": "x", "changes": [{"type": "tax", "tax_code": "T", "rate": rate}]})


# --- one computation everywhere --------------------------------------------------------------------------------------


def test_preview_draft_and_bill_run_agree_on_a_generated_ledger_with_taxes_and_coupons_on_every_contract(con):
    seed_demo(con, contracts=120, usage_rows=6000, seed=3, adjustments="every")
    report = bill_run(con, MARCH)
    drafted = con.execute("SELECT contract_id, invoice_id FROM invoices WHERE run_id = ?", [report.run_id]).fetchall()
    assert len(drafted) > 40
    coupons = con.execute("SELECT count(*) FROM invoice_coupons WHERE amount_minor > 0").fetchone()[0]
    taxes = con.execute("SELECT count(DISTINCT tax_code) FROM invoice_taxes").fetchone()[0]
    assert coupons > len(drafted) and taxes >= 8
    skip = {"invoice_id", "status", "run_id", "created_at", "number", "pending_usage"}
    for contract_id, invoice_id in drafted:
        stored = load_invoice(con, invoice_id).model_dump(exclude=skip)
        assert preview_invoice(con, contract_id, MARCH).model_dump(exclude=skip) == stored, contract_id
        again = draft_period_invoice(con, contract_id, MARCH)
        assert not again.created and again.invoice.model_dump(exclude=skip) == stored
