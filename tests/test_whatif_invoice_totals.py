"""What a what-if does to the invoices as the customers see them (spec section 11), beyond their lines: before tax
(lines − coupons), the coupons, the tax and the total with tax, per currency, per month and per customer
(Simulation.invoice_totals, totals_by_month, by_customer, customers_changed), on the spec's worked 'adjustments'
case; and the scenario rules the workbench's coupon form relies on (one change per new coupon id, no empty
selection, a label that names the coupon's terms)."""

from __future__ import annotations

import datetime as dt
import shutil
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest
from helpers_data import add_coupon, apply_coupon

from engine.billing.invoices import preview_invoice
from engine.errors import ScenarioError
from engine.ingest.demo import seed_demo
from engine.ingest.importer import import_folder
from engine.money import to_major
from engine.whatif.compare import INVOICE_COLUMNS
from engine.whatif.scenarios import parse_scenario, run_simulation

EXAMPLES = Path(__file__).resolve().parent / "examples"
FROM, TO = dt.date(2026, 1, 1), dt.date(2026, 4, 30)
COUPON = {
    "type": "coupon",
    "coupon": {"coupon_id": "NEW10", "name": "New 10 %", "kind": "percentage", "percent": "10", "frequency": "forever"},
    "contract_ids": ["KA-2"],
    "applied_on": "2026-03-01",
}
VAT21 = {"type": "tax", "tax_code": "VAT19", "rate": "21"}


@pytest.fixture
def adjustments(con, tmp_path):
    folder = tmp_path / "adjustments"
    shutil.copytree(EXAMPLES / "adjustments", folder)
    import_folder(con, folder)
    return con


def _sum(frame, col) -> Decimal:
    return sum(frame[col], Decimal(0))


@pytest.mark.parametrize("changes", [[COUPON], [VAT21], [COUPON, VAT21]], ids=["coupon", "tax", "both"])
def test_invoice_totals_per_month_and_per_customer_add_up_to_the_summary(adjustments, changes):
    sim = run_simulation(adjustments, parse_scenario({"name": "x", "changes": changes}), FROM, TO)
    totals = sim.invoice_totals().set_index("currency")
    lines = {t["currency"]: t for t in sim.summary["totals"]}
    taxes = {t["currency"]: t for t in sim.summary["tax_totals"]}
    assert set(totals.index) == set(lines) == {"EUR", "USD"}
    for cur, row in totals.iterrows():
        for side in ("baseline", "scenario", "delta"):
            assert row[side] == Decimal(lines[cur][side])  # before tax: the comparison rows
            assert row[f"tax_{side}"] == Decimal(taxes[cur][side])
            assert row[f"total_{side}"] == row[side] + row[f"tax_{side}"]
        coupons = sim.rows[(sim.rows["kind"] == "coupon") & (sim.rows["currency"] == cur)]
        assert row["discount_baseline"] == to_major(-int(coupons["baseline_minor"].sum()), cur)
        assert row["discount_scenario"] == to_major(-int(coupons["scenario_minor"].sum()), cur)
        months = sim.totals_by_month().query("currency == @cur")
        customers = sim.by_customer().query("currency == @cur")
        for col in INVOICE_COLUMNS:
            assert _sum(months, col) == row[col], (cur, col)
            # the customers listed are those that change: together they carry every change
            if col.endswith("delta"):
                assert _sum(customers, col) == row[col], (cur, col)
    # only KA-2 (EUR, customer A2) is touched: one customer changes, in EUR
    assert sim.customers_changed() == {"EUR": 1}
    assert list(sim.by_customer()["customer_id"]) == ["A2"]


def test_a_tax_rate_moves_the_tax_and_the_total_of_every_month_but_nothing_before_tax(adjustments):
    sim = run_simulation(adjustments, parse_scenario({"name": "VAT 21", "changes": [VAT21]}), FROM, TO)
    eur = sim.totals_by_month().query("currency == 'EUR'").set_index("month")
    assert (eur["delta"] == 0).all() and (eur["discount_delta"] == 0).all()
    assert (eur["tax_delta"] == eur["total_delta"]).all()
    # March: 19 % → 21 % of 38.67 (what the coupons left of the taxed Hosting line): 7.35 → 8.12
    march = eur.loc[dt.date(2026, 3, 1)]
    assert (march["tax_baseline"], march["tax_scenario"]) == (Decimal("7.35"), Decimal("8.12"))
    usd = sim.totals_by_month().query("currency == 'USD'")
    assert (usd["tax_delta"] == 0).all()


def test_a_coupon_scenarios_march_taxes_are_a_previews_taxes_with_the_coupon_stored(adjustments):
    """The scenario's figures of March are those of a real invoice with the coupon: coupons 40 + 6 + 2 (HALFHOST
    first, NEW10 before TWOEUR by id), the tax on what is left."""
    sim = run_simulation(adjustments, parse_scenario({"name": "c", "changes": [COUPON]}), FROM, TO)
    march = sim.totals_by_month().query("currency == 'EUR'").set_index("month").loc[dt.date(2026, 3, 1)]
    add_coupon(adjustments, "NEW10", percent="10")
    apply_coupon(adjustments, "KA-2", "NEW10", "2026-03-01")
    real = preview_invoice(adjustments, "KA-2", dt.date(2026, 3, 15))
    assert march["discount_scenario"] == real.discount == Decimal("48.00")
    assert march["tax_scenario"] == real.tax
    assert march["total_scenario"] == real.total


def test_customers_are_ordered_by_the_change_asked_for_and_cut_per_currency(adjustments):
    """A tax rise on KA-2 (EUR) and a coupon on KA-1 (USD): each currency keeps its own first customer."""
    five_usd = {
        **COUPON,
        "coupon": {
            "coupon_id": "USD5",
            "name": "Five",
            "kind": "fixed",
            "amount": "5",
            "currency": "USD",
            "frequency": "forever",
        },
        "contract_ids": ["KA-1"],
    }
    scenario = parse_scenario({"name": "x", "changes": [five_usd, VAT21]})
    sim = run_simulation(adjustments, scenario, FROM, TO)
    first = sim.by_customer(1)
    assert list(zip(first["currency"], first["customer_id"], strict=True)) == [("EUR", "A2"), ("USD", "A1")]
    by_tax = sim.by_customer(by="tax").query("currency == 'USD'")
    assert by_tax.iloc[0]["tax_delta"] < 0  # the coupon lowered A1's tax too
    assert first.iloc[0]["total_delta_percent"] == (
        (first.iloc[0]["total_delta"] * 100 / first.iloc[0]["total_baseline"]).quantize(Decimal("0.1"), ROUND_HALF_UP)
    )
    with pytest.raises(ValueError, match="before_tax, tax, total"):
        sim.by_customer(by="nothing")


def test_two_changes_cannot_create_one_coupon_id():
    """Two changes making coupon W would be one coupon applied twice over on each contract."""
    other = {**COUPON, "contract_ids": ["KA-1"]}
    with pytest.raises(ScenarioError, match="'NEW10' created by more than one change"):
        parse_scenario({"name": "x", "changes": [COUPON, other]})


@pytest.mark.parametrize("selection", [{"contract_ids": []}, {"products": []}])
def test_a_coupon_applied_to_an_empty_list_is_refused(selection):
    """Absent means every contract; an empty list is a form left empty, not 'nothing' (nor 'everything')."""
    change = {k: v for k, v in COUPON.items() if k != "contract_ids"} | selection
    with pytest.raises(ScenarioError, match="at least 1 item"):
        parse_scenario({"name": "x", "changes": [change]})


def test_a_coupon_changes_label_names_its_terms():
    fixed = {
        **COUPON,
        "coupon": {
            "coupon_id": "F",
            "name": "F",
            "kind": "fixed",
            "amount": "2",
            "currency": "EUR",
            "frequency": "recurring",
            "periods": 3,
            "products": "Hosting",
        },
        "contract_ids": None,
        "products": ["Hosting"],
    }
    assert parse_scenario({"name": "x", "changes": [COUPON, fixed]}).labels() == [
        "coupon NEW10 (10 % off, forever) on KA-2 from 2026-03-01",
        "coupon F (€2.00 off, recurring 3 cycles, Hosting only) on contracts with Hosting from 2026-03-01",
    ]


def test_coupons_are_named_as_coupons_in_the_rows_by_product(adjustments):
    """A trial read "Loyalty 5 %" among the products of "Change by product": a coupon's row says it is one."""
    sim = run_simulation(adjustments, parse_scenario({"name": "x", "changes": [COUPON]}), FROM, TO)
    coupons = set(sim.rows.loc[sim.rows["kind"] == "coupon", "product"])
    assert "New 10 %" in coupons
    products = set(sim.by_product()["product"])
    assert {f"Coupon: {name}" for name in coupons} <= products
    assert not coupons & products
    assert set(sim.rows.loc[sim.rows["kind"] != "coupon", "product"].dropna()) <= products


def test_a_long_churn_list_is_labelled_with_how_many_more_it_holds():
    """ "churn K-1, K-2, K-3 +375" read as a change of +375."""
    ids = [f"K-{i}" for i in range(1, 379)]
    assert parse_scenario({"name": "x", "changes": [{"type": "churn", "contract_ids": ids}]}).labels() == [
        "churn K-1, K-2, K-3 and 375 more"
    ]


def test_every_per_currency_table_and_summary_list_comes_by_currency_code(con):
    """Per-currency tables and lists are built in one order, by currency code, whatever moves most: the demo's
    2025 cycles in AUD, CAD, EUR and USD, a usage change moving every currency and a churned USD contract moving USD
    most (so an order by the change, or by what a join met first, would differ from run to run)."""
    seed_demo(con, contracts=16, usage_rows=800, seed=7)
    churned = con.execute(  # a USD contract billing in 2025
        "SELECT contract_id FROM contracts WHERE currency = 'USD' ORDER BY start_date, contract_id LIMIT 1"
    ).fetchone()[0]
    changes = [{"type": "usage", "percent": "25"}, {"type": "churn", "contract_ids": [churned]}]
    sim = run_simulation(
        con,
        parse_scenario({"name": "two", "changes": changes}),
        dt.date(2025, 1, 1),
        dt.date(2025, 12, 31),
        by_change=True,
    )

    def in_code_order(currencies) -> list[str]:
        currencies = list(currencies)
        assert currencies == sorted(currencies)
        return currencies

    listed = in_code_order(t["currency"] for t in sim.summary["totals"])
    assert len(listed) >= 3 and in_code_order(t["currency"] for t in sim.summary["tax_totals"]) == listed
    assert in_code_order(sim.invoice_totals()["currency"]) == listed
    months = sim.totals_by_month()
    keys = list(zip(months["currency"], months["month"], strict=True))
    assert keys == sorted(keys)
    assert len(set(in_code_order(sim.customers_changed()))) >= 2
    for frame in (sim.by_customer(), sim.by_customer(2), sim.by_product(), sim.by_month(), sim.movers(), sim.waterfall):
        assert len(set(in_code_order(frame["currency"]))) >= 2
