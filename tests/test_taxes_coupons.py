"""Taxes and coupons (spec section 11), each rule at its edge, through the one rating pipeline.

Every case is a monthly contract from 2026-01-01 (anchor 1, arrears) billed for March 2026 unless it says
otherwise:

    Jan 1        Feb 1        Mar 1        Apr 1        May 1
    |   cycle 1   |   cycle 2   |   cycle 3   |   cycle 4   |

A coupon covers the contract's cycles whose start_date ≥ applied_on (once: the first; recurring: the first
`periods`; forever: all). Amounts in the comments are major units; assertions compare integer minor units.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from helpers_data import (
    add_charge,
    add_contract,
    add_coupon,
    add_customer,
    add_line,
    add_tax,
    apply_coupon,
    stored_invoices,
    stored_lines,
)

from engine.billing.approval import approve_invoices
from engine.billing.bill_run import bill_run
from engine.billing.invoices import draft_period_invoice, preview_invoice, redraft_invoice
from engine.billing.lifecycle import finalize_invoice, void_invoice
from engine.billing.manual_invoices import create_invoice
from engine.models import LineItem, ManualInvoiceRequest

MARCH = dt.date(2026, 3, 15)


def invoice(con, date=MARCH, contract="K1"):
    return preview_invoice(con, contract, date)


def discounts(inv) -> dict[str, int]:
    return {ln.line_id: ln.discount_minor for ln in inv.lines if ln.line_id}


def taxes(inv) -> dict[str | None, tuple[int, int]]:
    """code -> (base, amount) in minor units."""
    return {t.code: (t.base_minor, t.amount_minor) for t in inv.taxes}


def usd_contract(con, *, tax_codes=None, tax_rate="0", currency="USD", start="2026-01-01", **kw):
    add_customer(con, "C1", currency=currency, tax_rate=tax_rate, tax_codes=tax_codes)
    add_contract(con, "K1", "C1", start, billing_cycle_start_day=1, **kw)


# --- the spec's worked example (Lago's documented figures) ----------------------------------------------------------


def test_lagos_example_shares_333_and_667_taxes_on_the_discounted_base_total_2360(con):
    """fee A 10.00 (T10), fee B 20.00 (T10, T12), fixed coupon 10.00: shares 3.33 / 6.67; T10 on 20.00 = 2.00,
    T12 on 13.33 = 1.60; subtotal 30.00, discount 10.00, tax 3.60, total 23.60."""
    add_tax(con, "T10", "10")
    add_tax(con, "T12", "12")
    usd_contract(con, tax_codes="T10")
    add_line(con, "A", "K1", unit_price="10.00")
    add_line(con, "B", "K1", unit_price="20.00", tax_codes="T10;T12")
    add_coupon(con, "TEN", amount="10.00")
    apply_coupon(con, "K1", "TEN", "2026-01-01")
    inv = invoice(con)
    assert discounts(inv) == {"A": 333, "B": 667}
    assert taxes(inv) == {"T10": (2000, 200), "T12": (1333, 160)}
    assert (inv.subtotal_minor, inv.discount_minor, inv.tax_minor, inv.total_minor) == (3000, 1000, 360, 2360)
    [coupon] = inv.coupons
    assert (coupon.coupon_id, coupon.base_minor, coupon.amount_minor) == ("TEN", 3000, 1000)


# --- coupon amounts --------------------------------------------------------------------------------------------------


def test_a_fixed_coupon_larger_than_what_it_discounts_takes_only_what_is_left(con):
    """A fixed 100.00 on 30.00 of lines takes 30.00: the invoice is 0 (no unused amount carried over)."""
    usd_contract(con, tax_rate="10")
    add_line(con, "A", "K1", unit_price="10.00")
    add_line(con, "B", "K1", unit_price="20.00")
    add_coupon(con, "BIG", amount="100.00")
    apply_coupon(con, "K1", "BIG", "2026-01-01")
    inv = invoice(con)
    assert discounts(inv) == {"A": 1000, "B": 2000}
    assert (inv.discount_minor, inv.tax_minor, inv.total_minor) == (3000, 0, 0)
    assert inv.coupons[0].fixed_amount == 100 and inv.coupons[0].amount_minor == 3000


def test_a_percentage_coupon_rounds_once_half_away_from_zero(con):
    """12.5 % of 0.20 = 0.025 -> 0.03 (half away from zero), split 0.01 / 0.02 by largest remainder."""
    usd_contract(con)
    add_line(con, "A", "K1", unit_price="0.05")
    add_line(con, "B", "K1", unit_price="0.15")
    add_coupon(con, "P", percent="12.5")
    apply_coupon(con, "K1", "P", "2026-01-01")
    inv = invoice(con)
    assert inv.discount_minor == 3
    # exact shares 0.75 and 2.25 cents: floors 0 + 2, the left-over cent to A (remainder 0.75 > 0.25)
    assert discounts(inv) == {"A": 1, "B": 2}


def test_two_coupons_apply_in_order_each_on_what_the_earlier_left(con):
    """applied_on orders them: 50 % (Jan 1) of 100.00 = 50.00, then 10 % (Feb 1) of the 50.00 left = 5.00."""
    usd_contract(con)
    add_line(con, "A", "K1", unit_price="100.00")
    add_coupon(con, "Z-HALF", percent="50")
    add_coupon(con, "A-TENTH", percent="10")
    apply_coupon(con, "K1", "Z-HALF", "2026-01-01")
    apply_coupon(con, "K1", "A-TENTH", "2026-02-01")
    inv = invoice(con)
    assert [(c.coupon_id, c.base_minor, c.amount_minor) for c in inv.coupons] == [
        ("Z-HALF", 10000, 5000),
        ("A-TENTH", 5000, 500),
    ]
    assert inv.discount_minor == 5500


def test_on_the_same_date_coupons_apply_in_coupon_id_order(con):
    """Both on Jan 1: FIX (fixed 30.00) before PCT (50 %): 30.00, then 50 % of 70.00 = 35.00 (not 50 + 30)."""
    usd_contract(con)
    add_line(con, "A", "K1", unit_price="100.00")
    add_coupon(con, "PCT", percent="50")
    add_coupon(con, "FIX", amount="30.00")
    apply_coupon(con, "K1", "PCT", "2026-01-01")
    apply_coupon(con, "K1", "FIX", "2026-01-01")
    inv = invoice(con)
    assert [(c.coupon_id, c.amount_minor) for c in inv.coupons] == [("FIX", 3000), ("PCT", 3500)]


def test_a_product_limited_coupon_discounts_only_its_products_and_applies_first(con):
    """HOST (50 % of Hosting, applied later) still applies before ALL (fixed 10.00, applied earlier), which then
    splits over what is left: Hosting 40.00 and Calls 20.00 -> 6.67 / 3.33."""
    usd_contract(con)
    add_line(con, "H", "K1", product="Hosting", unit_price="80.00")
    add_line(con, "C", "K1", product="Calls", unit_price="20.00")
    add_coupon(con, "HOST", percent="50", products="Hosting")
    add_coupon(con, "ALL", amount="10.00")
    apply_coupon(con, "K1", "ALL", "2026-01-01")
    apply_coupon(con, "K1", "HOST", "2026-02-01")
    inv = invoice(con)
    assert [(c.coupon_id, c.base_minor, c.amount_minor) for c in inv.coupons] == [
        ("HOST", 8000, 4000),
        ("ALL", 6000, 1000),
    ]
    assert discounts(inv) == {"H": 4000 + 667, "C": 333}


def test_a_product_limited_coupon_without_its_products_on_the_invoice_takes_nothing(con):
    usd_contract(con)
    add_line(con, "C", "K1", product="Calls", unit_price="20.00")
    add_coupon(con, "HOST", percent="50", products="Hosting")
    apply_coupon(con, "K1", "HOST", "2026-01-01")
    inv = invoice(con)
    assert [(c.coupon_id, c.base_minor, c.amount_minor) for c in inv.coupons] == [("HOST", 0, 0)]
    assert inv.total_minor == 2000


def test_a_fixed_coupon_in_another_currency_is_not_applied(con):
    usd_contract(con, currency="EUR")
    add_line(con, "A", "K1", unit_price="100.00")
    add_coupon(con, "USD10", amount="10.00", currency="USD")
    add_coupon(con, "EUR5", amount="5.00", currency="EUR")
    apply_coupon(con, "K1", "USD10", "2026-01-01")
    apply_coupon(con, "K1", "EUR5", "2026-01-01")
    inv = invoice(con)
    assert [c.coupon_id for c in inv.coupons] == ["EUR5"] and inv.discount_minor == 500


# --- which cycles a coupon covers ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("frequency", "periods", "covered"),
    [("once", None, ["2026-03-01"]), ("recurring", 2, ["2026-03-01", "2026-04-01"]), ("forever", None, None)],
)
def test_once_recurring_and_forever_count_the_cycles_starting_on_or_after_applied_on(con, frequency, periods, covered):
    """Applied Feb 15: the Feb cycle started before it; Mar is the first covered cycle.

    Feb 1 | applied Feb 15 | Mar 1 (n=1) | Apr 1 (n=2) | May 1 (n=3) | Jun 1 (n=4)"""
    usd_contract(con)
    add_line(con, "A", "K1", unit_price="100.00")
    add_coupon(con, "C", percent="10", frequency=frequency, periods=periods)
    apply_coupon(con, "K1", "C", "2026-02-15")
    starts = ["2026-02-01", "2026-03-01", "2026-04-01", "2026-05-01", "2026-06-01"]
    got = [s for s in starts if invoice(con, dt.date.fromisoformat(s)).discount_minor]
    assert got == (covered if covered is not None else starts[1:])


def test_a_coupon_applied_on_a_cycle_start_covers_that_cycle(con):
    usd_contract(con)
    add_line(con, "A", "K1", unit_price="100.00")
    add_coupon(con, "C", percent="10", frequency="once")
    apply_coupon(con, "K1", "C", "2026-03-01")
    assert [invoice(con, dt.date(2026, m, 5)).discount_minor for m in (2, 3, 4)] == [0, 1000, 0]


def test_a_stub_first_cycle_is_the_first_covered_cycle_when_applied_before_the_contract_starts(con):
    """Contract from Jan 20 (anchor 1): cycles [Jan 20–31] (stub), [Feb], [Mar]; a recurring-2 coupon applied
    on Jan 1 covers the stub and February, not March."""
    usd_contract(con, start="2026-01-20")
    add_line(con, "A", "K1", unit_price="31.00")
    add_coupon(con, "C", percent="10", frequency="recurring", periods=2)
    apply_coupon(con, "K1", "C", "2026-01-01")
    dates = [dt.date(2026, 1, 25), dt.date(2026, 2, 5), dt.date(2026, 3, 5)]
    assert [invoice(con, d).discount_minor > 0 for d in dates] == [True, True, False]
    assert invoice(con, dates[0]).lines[0].amount_minor == 1200  # 12/31 × 31.00, prorated before the coupon


def test_cycles_are_counted_on_quarterly_periods_and_anchor_31(con):
    """Quarterly from Jan 31 (anchor 31): cycles start Jan 31, Apr 30, Jul 31, Oct 31. Applied May 1, a
    recurring-2 coupon covers the Jul 31 and Oct 31 cycles (Apr 30 started before it)."""
    usd_contract(con, start="2026-01-31", billing_period="quarter")
    con.execute("UPDATE contracts SET billing_cycle_start_day = 31")
    add_line(con, "A", "K1", unit_price="300.00")
    add_coupon(con, "C", percent="10", frequency="recurring", periods=2)
    apply_coupon(con, "K1", "C", "2026-05-01")
    dates = [dt.date(2026, 5, 15), dt.date(2026, 8, 15), dt.date(2026, 11, 15), dt.date(2027, 2, 15)]
    assert [invoice(con, d).discount_minor > 0 for d in dates] == [False, True, True, False]


# --- true-up, exempt lines, several taxes ------------------------------------------------------------------------


def test_the_true_up_is_computed_before_coupons_and_is_never_discounted(con):
    """Minimum 100.00, line 60.00 -> true-up 40.00 (on the undiscounted amounts); 50 % takes 30.00 of the order line
    only. Tax 10 % (customer code) on 30.00 + 40.00 = 7.00."""
    add_tax(con, "T10", "10")
    usd_contract(con, tax_codes="T10", minimum_commitment="100")
    add_line(con, "A", "K1", unit_price="60.00")
    add_coupon(con, "HALF", percent="50")
    apply_coupon(con, "K1", "HALF", "2026-01-01")
    inv = invoice(con)
    true_up = next(ln for ln in inv.lines if ln.kind == "minimum_commitment_true_up")
    assert (true_up.amount_minor, true_up.discount_minor, true_up.tax_codes) == (4000, 0, ["T10"])
    assert (inv.subtotal_minor, inv.discount_minor) == (10000, 3000)
    assert taxes(inv) == {"T10": (7000, 700)} and inv.total_minor == 7700


def test_an_exempt_line_carries_no_tax_and_two_taxes_on_one_line_are_each_rounded_once(con):
    """A 10.01 (STATE 6.25 %, CITY 2.375 %), B 5.00 'none'. STATE: 10.01 × 6.25 % = 0.625625 -> 0.63;
    CITY: 10.01 × 2.375 % = 0.2377375 -> 0.24."""
    add_tax(con, "STATE", "6.25")
    add_tax(con, "CITY", "2.375")
    usd_contract(con, tax_codes="CITY;STATE")
    add_line(con, "A", "K1", unit_price="10.01")
    add_line(con, "B", "K1", unit_price="5.00", tax_codes="none")
    inv = invoice(con)
    assert taxes(inv) == {"CITY": (1001, 24), "STATE": (1001, 63)}
    assert [ln.tax_codes for ln in inv.lines] == [["CITY", "STATE"], []]
    assert inv.total_minor == 1501 + 87


def test_a_tax_rate_customer_with_a_coupon_pays_its_one_rate_on_the_discounted_subtotal(con):
    """No codes: the single tax_rate 10 % on 100.00 − 25.00 = 75.00 -> 7.50, shown as one tax without code."""
    usd_contract(con, tax_rate="10")
    add_line(con, "A", "K1", unit_price="100.00")
    add_coupon(con, "Q", amount="25.00")
    apply_coupon(con, "K1", "Q", "2026-01-01")
    inv = invoice(con)
    assert [(t.code, t.name, t.rate, t.base_minor, t.amount_minor) for t in inv.taxes] == [(None, "Tax", 10, 7500, 750)]
    assert (inv.tax_rate, inv.total_minor) == (10, 8250)


def test_a_customer_with_tax_codes_has_tax_rate_0_and_its_taxes_listed(con):
    add_tax(con, "VAT", "20")
    usd_contract(con, tax_codes="VAT")
    add_line(con, "A", "K1", unit_price="10.00")
    inv = invoice(con)
    assert inv.tax_rate == 0 and taxes(inv) == {"VAT": (1000, 200)} and inv.tax_minor == 200


# --- rounding in other currencies ------------------------------------------------------------------------------------


def test_jpy_rounds_to_whole_yen_and_kwd_to_fils(con):
    """JPY: 10 % of ¥1,005 = 100.5 -> ¥101; VAT 10 % of ¥904 = 90.4 -> ¥90.
    KWD: 10 % of 1.005 = 0.1005 -> 0.101; VAT 10 % of 0.904 = 0.0904 -> 0.090."""
    add_tax(con, "VAT", "10")
    for code, price in (("JPY", "1005"), ("KWD", "1.005")):
        add_customer(con, f"C-{code}", currency=code, tax_codes="VAT")
        add_contract(con, f"K-{code}", f"C-{code}", "2026-01-01", billing_cycle_start_day=1)
        add_line(con, f"L-{code}", f"K-{code}", unit_price=price)
        add_coupon(con, f"P-{code}", percent="10")
        apply_coupon(con, f"K-{code}", f"P-{code}", "2026-01-01")
    for contract in ("K-JPY", "K-KWD"):
        inv = invoice(con, contract=contract)
        assert (inv.subtotal_minor, inv.discount_minor, inv.tax_minor, inv.total_minor) == (1005, 101, 90, 994)
    assert str(invoice(con, contract="K-KWD").discount) == "0.101"


# --- the largest-remainder split -------------------------------------------------------------------------------------


def test_a_tie_in_the_split_goes_to_the_smaller_line_id(con):
    """0.01 over two lines of 5.00: both exact shares are 0.005 (same remainder); L-A gets the cent even though
    L-B comes first on the invoice (recurring before usage)."""
    usd_contract(con)
    add_line(con, "L-B", "K1", unit_price="5.00")
    add_line(con, "L-A", "K1", kind="one_time", unit_price="5.00", start_date="2026-03-01")
    add_coupon(con, "CENT", amount="0.01")
    apply_coupon(con, "K1", "CENT", "2026-01-01")
    inv = invoice(con)
    assert [ln.line_id for ln in inv.lines] == ["L-B", "L-A"]
    assert discounts(inv) == {"L-A": 1, "L-B": 0}


def test_a_credit_line_takes_no_share_and_does_not_lower_the_base(con):
    """Lines 30.00, 10.00 and a credit of −15.00 (negative unit price): 50 % of 40.00 = 20.00, split 15.00 / 5.00;
    the credit keeps its amount. Subtotal 25.00, total 5.00."""
    usd_contract(con)
    add_line(con, "A", "K1", unit_price="30.00")
    add_line(con, "B", "K1", unit_price="10.00")
    add_line(con, "CREDIT", "K1", unit_price="-15.00")
    add_coupon(con, "HALF", percent="50")
    apply_coupon(con, "K1", "HALF", "2026-01-01")
    inv = invoice(con)
    assert discounts(inv) == {"A": 1500, "B": 500, "CREDIT": 0}
    assert (inv.coupons[0].base_minor, inv.subtotal_minor, inv.total_minor) == (4000, 2500, 500)


# --- one computation everywhere; stored with the invoice ---------------------------------------------------------


def _coded_contract(con):
    add_tax(con, "T10", "10")
    add_tax(con, "T12", "12")
    usd_contract(con, tax_codes="T10")
    add_line(con, "A", "K1", unit_price="10.00")
    add_line(con, "B", "K1", unit_price="20.00", tax_codes="T10;T12")
    add_coupon(con, "TEN", amount="10.00")
    apply_coupon(con, "K1", "TEN", "2026-01-01")


def test_preview_draft_and_bill_run_store_the_same_discount_taxes_and_coupons(con):
    _coded_contract(con)
    preview = invoice(con)
    drafted = draft_period_invoice(con, "K1", MARCH).invoice
    for field in ("subtotal_minor", "discount_minor", "tax_minor", "total_minor", "taxes", "coupons"):
        assert getattr(drafted, field) == getattr(preview, field), field
    assert [(ln.discount_minor, ln.tax_codes) for ln in drafted.lines] == [(333, ["T10"]), (667, ["T10", "T12"])]
    run = bill_run(con, dt.date(2026, 4, 15))
    assert (run.totals[0].discount, run.totals[0].total) == (Decimal("10.00"), Decimal("23.60"))


def test_a_swept_delayed_charge_carries_the_customers_codes_keeps_the_discount_and_is_taxed(con):
    """The charge 5.00 (T10) joins the T10 base: 20.00 + 5.00 = 25.00 -> 2.50; T12 stays 1.60; discount 10.00."""
    _coded_contract(con)
    add_charge(con, "D1", "C1", "5.00", "2026-03-10")
    bill_run(con, MARCH, include_delayed_charges=True)
    [head] = stored_invoices(con)
    charge = stored_lines(con, head["invoice_id"])[-1]
    assert (charge["kind"], charge["tax_codes"], charge["discount_minor"]) == ("delayed_charge", "T10", 0)
    assert (head["subtotal_minor"], head["discount_minor"], head["tax_minor"]) == (3500, 1000, 410)
    assert head["total_minor"] == 3500 - 1000 + 410
    rows = con.execute("SELECT tax_code, base_minor, amount_minor FROM invoice_taxes ORDER BY 1").fetchall()
    assert rows == [("T10", 2500, 250), ("T12", 1333, 160)]


def test_a_manual_invoice_taxes_its_custom_lines_per_code_of_the_customer(con):
    add_tax(con, "STATE", "6.25")
    add_tax(con, "CITY", "2")
    add_customer(con, "C1", tax_codes="CITY;STATE")
    inv = create_invoice(
        con,
        ManualInvoiceRequest(customer_id="C1", line_items=[LineItem(description="Audit", unit_price=10001)]),
        today=MARCH,
    )
    assert inv.lines[0].tax_codes == ["CITY", "STATE"]
    assert taxes(inv) == {"CITY": (10001, 200), "STATE": (10001, 625)}  # 200.02 -> 200; 625.0625 -> 625
    assert inv.total_minor == 10001 + 825 and inv.discount_minor == 0


def test_a_redraft_computes_coupons_again_and_a_void_keeps_them(con):
    _coded_contract(con)
    inv = draft_period_invoice(con, "K1", MARCH).invoice
    con.execute("UPDATE coupons SET amount = 4 WHERE coupon_id = 'TEN'")
    redrafted = redraft_invoice(con, inv.invoice_id)
    assert redrafted.discount_minor == 400 and redrafted.coupons[0].amount_minor == 400
    approve_invoices(con, [inv.invoice_id], actor="a")
    finalize_invoice(con, inv.invoice_id)
    voided = void_invoice(con, inv.invoice_id, reason="test")
    assert voided.status == "void"
    assert (voided.discount_minor, len(voided.coupons), len(voided.taxes)) == (400, 1, 2)


def test_a_ledger_without_taxes_or_coupons_rates_with_the_single_tax_rate_as_before(con):
    """No taxes.csv, coupons or codes: tax = round(subtotal × rate / 100) on the whole subtotal, one tax row."""
    usd_contract(con, tax_rate="8.25")
    add_line(con, "A", "K1", unit_price="112.50")
    inv = invoice(con)
    assert (inv.tax_minor, inv.discount_minor, inv.total_minor) == (928, 0, 12178)  # 9.28125 -> 9.28
    assert [(t.code, t.base_minor, t.amount_minor) for t in inv.taxes] == [(None, 11250, 928)]
    assert inv.coupons == [] and inv.lines[0].tax_codes is None
