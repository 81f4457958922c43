"""Invoice lines (spec section 3): aggregation, windows, proration, discounts, one-time lines, minimum
commitment, tax, minor units, and the properties of issue 3 (stub sums, total = Σ lines + tax).

Timelines: `|` a boundary, `S`/`E` contract start/end, `[a, b]` a line's active window.
"""

from __future__ import annotations

import calendar
import datetime as dt
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest
from helpers_data import (
    add_contract,
    add_customer,
    add_line,
    add_usage,
    basics,
    clear_all,
    stored_invoices,
    stored_lines,
)
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from engine.billing.bill_run import bill_run
from engine.billing.invoices import NothingToBill, draft_period_invoice, preview_invoice
from engine.db import connect
from engine.money import round_half_away, tax_minor
from engine.rating.adjustments import STAGES as ADJUSTMENT_STAGES

D = dt.date.fromisoformat
MARCH = D("2026-03-15")


def amounts(inv) -> dict:
    """{line_id or kind: amount} of an invoice."""
    return {ln.line_id or ln.kind: ln.amount for ln in inv.lines}


@pytest.fixture
def k1(con):
    """Customer C1 (USD, no tax), contract K1 monthly from 2026-01-01, anchor 1."""
    add_customer(con, "C1")
    add_contract(con, "K1", "C1", "2026-01-01", billing_cycle_start_day=1)
    return con


# --- usage aggregation -----------------------------------------------------------------------------


def test_aggregation_sum_count_and_max_of_the_same_rows(k1):
    """Rows 5, 7, 3 of metric m in March: sum 15, count 3, max 7 (each priced at 1.00 per unit)."""
    con = k1
    for agg in ("sum", "count", "max"):
        add_line(
            con,
            f"L-{agg}",
            "K1",
            kind="usage",
            pricing_model="per_unit",
            unit_price="1.00",
            metric="m",
            aggregation=agg,
        )
    for day, q in [("2026-03-02", "5"), ("2026-03-09", "7"), ("2026-03-30", "3")]:
        add_usage(con, "K1", "m", day, q)
    inv = preview_invoice(con, "K1", MARCH)
    assert amounts(inv) == {"L-sum": Decimal("15.00"), "L-count": Decimal("3.00"), "L-max": Decimal("7.00")}
    assert {ln.line_id: ln.quantity for ln in inv.lines} == {"L-sum": 15, "L-count": 3, "L-max": 7}


def test_pending_and_rejected_usage_is_never_billed_and_a_usage_line_without_usage_is_a_line_of_zero(k1):
    """Only pending (900) and rejected (800) rows: the usage line is there, with quantity 0 and amount 0;
    the preview lists the pending row as not billed."""
    con = k1
    add_line(con, "L-U", "K1", kind="usage", pricing_model="per_unit", unit_price="1.00", metric="m")
    add_usage(con, "K1", "m", "2026-03-05", "900", "pending", usage_id="P1")
    add_usage(con, "K1", "m", "2026-03-06", "800", "rejected", usage_id="R1")
    inv = preview_invoice(con, "K1", MARCH)
    (ln,) = inv.lines
    assert (ln.line_id, ln.quantity, ln.amount, inv.total) == ("L-U", 0, Decimal("0.00"), Decimal("0.00"))
    assert [p["usage_id"] for p in inv.pending_usage] == ["P1"]


def test_usage_of_another_contract_or_metric_is_not_counted(k1):
    con = k1
    add_contract(con, "K2", "C1", "2026-01-01")
    add_line(con, "L-U", "K1", kind="usage", pricing_model="per_unit", unit_price="1.00", metric="m")
    add_usage(con, "K1", "m", "2026-03-05", "10")
    add_usage(con, "K1", "other", "2026-03-05", "100")
    add_usage(con, "K2", "m", "2026-03-05", "1000")
    assert amounts(preview_invoice(con, "K1", MARCH)) == {"L-U": Decimal("10.00")}


def test_usage_on_the_edge_days_of_the_cycle_is_counted_and_outside_it_is_not(k1):
    """Cycle [Mar1, Mar31]: rows on Feb28 (1), Mar1 (10), Mar31 (100), Apr1 (1000) -> 110."""
    con = k1
    add_line(con, "L-U", "K1", kind="usage", pricing_model="per_unit", unit_price="1.00", metric="m")
    for day, q in [("2026-02-28", "1"), ("2026-03-01", "10"), ("2026-03-31", "100"), ("2026-04-01", "1000")]:
        add_usage(con, "K1", "m", day, q)
    assert amounts(preview_invoice(con, "K1", MARCH)) == {"L-U": Decimal("110.00")}


def test_usage_on_the_edge_days_of_a_line_window_is_counted_and_outside_it_is_not(k1):
    """Line window [Mar10, Mar20] inside the March cycle: rows on Mar9, Mar10, Mar20, Mar21 -> 10 + 100."""
    con = k1
    add_line(
        con,
        "L-U",
        "K1",
        kind="usage",
        pricing_model="per_unit",
        unit_price="1.00",
        metric="m",
        start_date="2026-03-10",
        end_date="2026-03-20",
    )
    for day, q in [("2026-03-09", "1"), ("2026-03-10", "10"), ("2026-03-20", "100"), ("2026-03-21", "1000")]:
        add_usage(con, "K1", "m", day, q)
    (ln,) = preview_invoice(con, "K1", MARCH).lines
    assert (ln.amount, ln.period_start, ln.period_end) == (
        Decimal("110.00"),
        D("2026-03-10"),
        D("2026-03-20"),
    )


def test_usage_after_the_contract_end_is_not_counted(con):
    """S=Jan1, E=Mar20: the last cycle is [Mar1, Mar20]; a row on Mar21 is outside the contract."""
    add_customer(con, "C1")
    add_contract(con, "K1", "C1", "2026-01-01", end_date="2026-03-20")
    add_line(con, "L-U", "K1", kind="usage", pricing_model="per_unit", unit_price="1.00", metric="m")
    add_usage(con, "K1", "m", "2026-03-20", "5")
    add_usage(con, "K1", "m", "2026-03-21", "50")
    assert amounts(preview_invoice(con, "K1", MARCH)) == {"L-U": Decimal("5.00")}


def test_a_usage_row_with_an_iso_timestamp_is_stored_as_its_utc_date_and_billed_in_that_cycle(con, tmp_path):
    """usage.csv rows `2026-03-31T23:30:00Z` (UTC date Mar31) and `2026-03-31T22:00:00-05:00` (UTC date
    Apr1) and `2026-04-01T01:00:00+02:00` (UTC date Mar31): the March invoice counts 1 + 100."""
    from engine.ingest.importer import import_folder

    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "customers.csv").write_text(
        "customer_id,name,business_id,email,currency,tax_rate\nC1,One,default,,USD,0\n"
    )
    (folder / "contracts.csv").write_text(
        "contract_id,customer_id,start_date,end_date,billing_period,billing_cycle_start_day,billing_timing,"
        "payment_terms_days,minimum_commitment,proration,currency\nK1,C1,2026-01-01,,month,1,arrears,30,,actual,\n"
    )
    (folder / "order_lines.csv").write_text(
        "line_id,contract_id,product,kind,pricing_model,description,unit_price,quantity,metric,aggregation,"
        "package_size,free_units,percentage_rate,fixed_fee,discount_percent,start_date,end_date\n"
        "L-U,K1,API,usage,per_unit,,1.00,,m,sum,,,,,,,\n"
    )
    (folder / "usage.csv").write_text(
        "usage_id,contract_id,metric,usage_date,quantity,status\n"
        "U1,K1,m,2026-03-31T23:30:00Z,1,approved\n"
        "U2,K1,m,2026-03-31T22:00:00-05:00,10,approved\n"
        "U3,K1,m,2026-04-01T01:00:00+02:00,100,approved\n"
    )
    import_folder(con, Path(folder))
    stored = dict(con.execute("SELECT usage_id, usage_date FROM usage").fetchall())
    assert stored == {"U1": D("2026-03-31"), "U2": D("2026-04-01"), "U3": D("2026-03-31")}
    assert amounts(preview_invoice(con, "K1", MARCH)) == {"L-U": Decimal("101.00")}


def test_a_timestamp_without_an_offset_counts_on_the_same_date_whatever_the_session_time_zone(con, tmp_path):
    """`2026-03-31T23:30:00` (no offset) is read as UTC: stored as Mar31 also when the import runs on a
    cursor (a new DuckDB connection: it does NOT inherit connect()'s `SET TimeZone = 'UTC'`, it starts
    in the machine's zone), here one in America/New_York where the same text would be Apr1 03:30 UTC."""
    from engine.ingest.importer import import_folder

    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "customers.csv").write_text("customer_id,name\nC1,One\n")
    (folder / "contracts.csv").write_text("contract_id,customer_id,start_date\nK1,C1,2026-01-01\n")
    (folder / "usage.csv").write_text(
        "usage_id,contract_id,metric,usage_date,quantity\nU1,K1,m,2026-03-31T23:30:00,1\n"
    )
    cur = con.cursor()
    try:
        cur.execute("SET TimeZone = 'America/New_York'")
        import_folder(cur, folder)
    finally:
        cur.close()
    assert con.execute("SELECT usage_date FROM usage").fetchall() == [(D("2026-03-31"),)]


# --- windows, proration, discounts ------------------------------------------------------------------


def test_ramp_two_recurring_lines_with_consecutive_windows_split_one_cycle(k1):
    """Price ramp inside March (31 days):

    |Mar1 ........ Mar15|Mar16 ........ Mar31|
    [L-A 100.00: 15/31 ] [L-B 200.00: 16/31 ]   -> 48.39 + 103.23
    """
    con = k1
    add_line(con, "L-A", "K1", unit_price="100.00", end_date="2026-03-15")
    add_line(con, "L-B", "K1", unit_price="200.00", start_date="2026-03-16")
    inv = preview_invoice(con, "K1", MARCH)
    assert amounts(inv) == {"L-A": Decimal("48.39"), "L-B": Decimal("103.23")}
    a, b = inv.lines
    assert (a.period_start, a.period_end, a.proration_factor) == (D("2026-03-01"), D("2026-03-15"), "15/31")
    assert (b.period_start, b.period_end, b.proration_factor) == (D("2026-03-16"), D("2026-03-31"), "16/31")
    # outside its window a line has no line at all
    assert amounts(preview_invoice(con, "K1", D("2026-04-10"))) == {"L-B": Decimal("200.00")}
    assert amounts(preview_invoice(con, "K1", D("2026-02-10"))) == {"L-A": Decimal("100.00")}


def test_ramp_of_two_usage_lines_on_one_metric_splits_the_usage_by_window(k1):
    """[Mar1, Mar15] at 1.00 and [Mar16, Mar31] at 2.00; rows Mar15 (10) and Mar16 (10) -> 10 + 20."""
    con = k1
    add_line(
        con,
        "L-A",
        "K1",
        kind="usage",
        pricing_model="per_unit",
        unit_price="1.00",
        metric="m",
        end_date="2026-03-15",
    )
    add_line(
        con,
        "L-B",
        "K1",
        kind="usage",
        pricing_model="per_unit",
        unit_price="2.00",
        metric="m",
        start_date="2026-03-16",
    )
    add_usage(con, "K1", "m", "2026-03-15", "10")
    add_usage(con, "K1", "m", "2026-03-16", "10")
    assert amounts(preview_invoice(con, "K1", MARCH)) == {"L-A": Decimal("10.00"), "L-B": Decimal("20.00")}


def test_proration_actual_is_active_days_over_the_full_period_days(con):
    """Spec example: $50/month, anchor 1, contract from Aug 10 -> 22/31 × 50 = 35.48."""
    add_customer(con, "C1")
    add_contract(con, "K1", "C1", "2026-08-10", billing_cycle_start_day=1)
    add_line(con, "L1", "K1", unit_price="50.00")
    (ln,) = preview_invoice(con, "K1", D("2026-08-20")).lines
    assert (ln.amount, ln.active_days, ln.period_days, ln.proration_factor) == (
        Decimal("35.48"),
        22,
        31,
        "22/31",
    )


def test_proration_none_bills_an_active_recurring_line_whole(con):
    """Same stub with proration 'none': 50.00, also for a line active only 3 days of the cycle."""
    add_customer(con, "C1")
    add_contract(con, "K1", "C1", "2026-08-10", billing_cycle_start_day=1, proration="none")
    add_line(con, "L1", "K1", unit_price="50.00")
    add_line(con, "L2", "K1", unit_price="30.00", start_date="2026-08-29")
    assert amounts(preview_invoice(con, "K1", D("2026-08-20"))) == {
        "L1": Decimal("50.00"),
        "L2": Decimal("30.00"),
    }


def test_proration_of_the_last_cycle_of_a_contract_ending_mid_cycle(con):
    """S=Jan1, E=Mar10: the March line is 10/31 × 99.00 = 31.935… -> 31.94."""
    add_customer(con, "C1")
    add_contract(con, "K1", "C1", "2026-01-01", end_date="2026-03-10")
    add_line(con, "L1", "K1", unit_price="99.00")
    assert amounts(preview_invoice(con, "K1", D("2026-03-05"))) == {"L1": Decimal("31.94")}


def test_usage_is_not_prorated_in_a_stub(con):
    """Stub [Mar10, Mar31]: 100 units at 1.00 bill 100.00, not 22/31 of it."""
    add_customer(con, "C1")
    add_contract(con, "K1", "C1", "2026-03-10", billing_cycle_start_day=1)
    add_line(con, "L-U", "K1", kind="usage", pricing_model="per_unit", unit_price="1.00", metric="m")
    add_usage(con, "K1", "m", "2026-03-12", "100")
    assert amounts(preview_invoice(con, "K1", MARCH)) == {"L-U": Decimal("100.00")}


def test_discount_applies_to_the_exact_amount_before_the_one_rounding(k1):
    """0.125 × 50 % = 0.0625 -> 0.06 (rounding first would give 0.13 × 50 % = 0.065 -> 0.07).
    Basics L-SEATS: 7 × 12.50 × 80 % = 70.00."""
    con = k1
    add_line(con, "L-D", "K1", pricing_model="per_unit", unit_price="0.125", discount_percent="50")
    add_line(
        con,
        "L-SEATS",
        "K1",
        pricing_model="per_unit",
        unit_price="12.50",
        quantity="7",
        discount_percent="20",
    )
    assert amounts(preview_invoice(con, "K1", MARCH)) == {"L-D": Decimal("0.06"), "L-SEATS": Decimal("70.00")}


def test_discount_and_proration_are_combined_exactly_before_rounding(con):
    """50.00 × 22/31 × 90 % = 31.935… -> 31.94 (rounding the prorated 35.48 first gives 31.93)."""
    add_customer(con, "C1")
    add_contract(con, "K1", "C1", "2026-03-10", billing_cycle_start_day=1)
    add_line(con, "L1", "K1", unit_price="50.00", discount_percent="10")
    assert amounts(preview_invoice(con, "K1", MARCH)) == {"L1": Decimal("31.94")}


def test_a_hundred_percent_discount_is_a_line_of_zero(k1):
    add_line(k1, "L1", "K1", unit_price="50.00", discount_percent="100")
    assert amounts(preview_invoice(k1, "K1", MARCH)) == {"L1": Decimal("0.00")}


# --- one-time lines ------------------------------------------------------------------------------------


def test_one_time_line_is_billed_whole_only_in_the_cycle_containing_its_start(k1):
    """One-time 300.00 starting Feb 15 (mid-cycle, not prorated):

    |Jan1 ...... |Feb1 .. [Feb15 ........ |Mar1 ...
      none          300.00                  none
    """
    con = k1
    add_line(con, "L-BASE", "K1", unit_price="10.00")
    add_line(con, "L-ONCE", "K1", kind="one_time", unit_price="150.00", quantity="2", start_date="2026-02-15")
    assert "L-ONCE" not in amounts(preview_invoice(con, "K1", D("2026-01-20")))
    feb = preview_invoice(con, "K1", D("2026-02-03"))
    assert amounts(feb)["L-ONCE"] == Decimal("300.00")
    assert "L-ONCE" not in amounts(preview_invoice(con, "K1", MARCH))


def test_one_time_line_without_a_start_is_billed_in_the_contracts_first_cycle_even_a_stub(con):
    """Basics K-STUB: stub [Mar10, Mar31] gets the whole onboarding fee 300.00; April does not."""
    add_customer(con, "C1")
    add_contract(con, "K1", "C1", "2026-03-10", billing_cycle_start_day=1, billing_timing="advance")
    add_line(con, "L-SETUP", "K1", kind="one_time", unit_price="300.00")
    add_line(con, "L-STUB", "K1", unit_price="50.00")
    assert amounts(preview_invoice(con, "K1", MARCH)) == {
        "L-SETUP": Decimal("300.00"),
        "L-STUB": Decimal("35.48"),
    }
    assert amounts(preview_invoice(con, "K1", D("2026-04-02"))) == {"L-STUB": Decimal("50.00")}


def test_one_time_line_starting_on_a_boundary_belongs_to_the_cycle_that_starts_there(k1):
    add_line(k1, "L-ONCE", "K1", kind="one_time", unit_price="5.00", start_date="2026-03-01")
    assert amounts(preview_invoice(k1, "K1", MARCH)) == {"L-ONCE": Decimal("5.00")}
    with pytest.raises(NothingToBill):
        preview_invoice(k1, "K1", D("2026-02-28"))


def test_a_cycle_whose_lines_all_lie_outside_their_windows_has_nothing_to_bill(k1):
    add_line(k1, "L1", "K1", unit_price="10.00", start_date="2026-05-01")
    with pytest.raises(NothingToBill):
        preview_invoice(k1, "K1", MARCH)
    with pytest.raises(NothingToBill):
        draft_period_invoice(k1, "K1", MARCH)
    assert stored_invoices(k1) == []


# --- minimum commitment -----------------------------------------------------------------------------


def test_minimum_commitment_true_up_tops_the_lines_up_to_the_minimum(con):
    """Basics K-MIN: usage 1234 × 0.10 = 123.40 < 500 -> true-up 376.60 (no line_id); total 500.00."""
    add_customer(con, "C1", currency="CAD")
    add_contract(con, "K1", "C1", "2026-01-01", minimum_commitment="500")
    add_line(con, "L-HOURS", "K1", kind="usage", pricing_model="per_unit", unit_price="0.10", metric="events")
    add_usage(con, "K1", "events", "2026-03-10", "1234")
    inv = preview_invoice(con, "K1", MARCH)
    assert amounts(inv) == {"L-HOURS": Decimal("123.40"), "minimum_commitment_true_up": Decimal("376.60")}
    true_up = inv.lines[-1]
    assert (true_up.kind, true_up.line_id, true_up.line_no) == ("minimum_commitment_true_up", None, 2)
    assert (inv.subtotal, inv.currency) == (Decimal("500.00"), "CAD")


def test_minimum_commitment_of_a_stub_is_prorated_by_contract_days(con):
    """S=Mar10, anchor 1, minimum 310.00: committed 22/31 × 310 = 220.00; lines 50.00 -> true-up 170.00."""
    add_customer(con, "C1")
    add_contract(con, "K1", "C1", "2026-03-10", billing_cycle_start_day=1, minimum_commitment="310")
    add_line(con, "L-U", "K1", kind="usage", pricing_model="per_unit", unit_price="1.00", metric="m")
    add_usage(con, "K1", "m", "2026-03-11", "50")
    inv = preview_invoice(con, "K1", MARCH)
    assert amounts(inv) == {"L-U": Decimal("50.00"), "minimum_commitment_true_up": Decimal("170.00")}
    assert inv.total == Decimal("220.00")


def test_minimum_commitment_with_proration_none_is_the_whole_minimum_in_a_stub(con):
    add_customer(con, "C1")
    add_contract(con, "K1", "C1", "2026-03-10", billing_cycle_start_day=1, minimum_commitment="310", proration="none")
    add_line(con, "L-U", "K1", kind="usage", pricing_model="per_unit", unit_price="1.00", metric="m")
    add_usage(con, "K1", "m", "2026-03-11", "50")
    assert amounts(preview_invoice(con, "K1", MARCH))["minimum_commitment_true_up"] == Decimal("260.00")


def test_minimum_commitment_true_up_is_never_negative(k1):
    """Lines 600.00 above a 500 minimum: no true-up amount (a line of 0 at most); total 600.00."""
    con = k1
    con.execute("UPDATE contracts SET minimum_commitment = 500")
    add_line(con, "L1", "K1", unit_price="600.00")
    inv = preview_invoice(con, "K1", MARCH)
    assert sum(ln.amount for ln in inv.lines if ln.kind == "minimum_commitment_true_up") == 0
    assert inv.total == Decimal("600.00")


def test_minimum_commitment_compares_with_the_rounded_line_amounts(k1):
    """Lines 0.005 + 0.005 round to 0.01 + 0.01 = 0.02 each; minimum 1.00 -> true-up 0.98 (not 0.99)."""
    con = k1
    con.execute("UPDATE contracts SET minimum_commitment = 1")
    add_line(con, "L1", "K1", pricing_model="per_unit", unit_price="0.005")
    add_line(con, "L2", "K1", pricing_model="per_unit", unit_price="0.005")
    inv = preview_invoice(con, "K1", MARCH)
    assert amounts(inv) == {
        "L1": Decimal("0.01"),
        "L2": Decimal("0.01"),
        "minimum_commitment_true_up": Decimal("0.98"),
    }


def test_a_true_up_alone_makes_an_invoice(k1):
    """A cycle whose only order line is outside its window still owes the minimum: true-up only."""
    con = k1
    con.execute("UPDATE contracts SET minimum_commitment = 100")
    add_line(con, "L1", "K1", unit_price="10.00", start_date="2026-06-01")
    inv = preview_invoice(con, "K1", MARCH)
    assert amounts(inv) == {"minimum_commitment_true_up": Decimal("100.00")}


# --- tax and currencies --------------------------------------------------------------------------------


def test_tax_is_computed_once_on_the_subtotal_not_per_line(con):
    """Two lines of 0.05 at 10 %: tax = round(0.10 × 10 %) = 0.01, not 0.01 + 0.01."""
    add_customer(con, "C1", tax_rate="10")
    add_contract(con, "K1", "C1", "2026-01-01")
    add_line(con, "L1", "K1", unit_price="0.05")
    add_line(con, "L2", "K1", unit_price="0.05")
    inv = preview_invoice(con, "K1", MARCH)
    assert (inv.subtotal, inv.tax, inv.total) == (Decimal("0.10"), Decimal("0.01"), Decimal("0.11"))


def test_tax_at_a_fractional_rate_rounds_half_away(con):
    """169.00 at 8.25 % = 13.9425 -> 13.94; 335.48 at 10 % = 33.548 -> 33.55."""
    add_customer(con, "C1", tax_rate="8.25")
    add_customer(con, "C2", tax_rate="10")
    add_contract(con, "K1", "C1", "2026-01-01")
    add_contract(con, "K2", "C2", "2026-01-01")
    add_line(con, "L1", "K1", unit_price="169.00")
    add_line(con, "L2", "K2", unit_price="335.48")
    assert preview_invoice(con, "K1", MARCH).tax == Decimal("13.94")
    assert preview_invoice(con, "K2", MARCH).tax == Decimal("33.55")


def test_jpy_has_no_minor_unit(con):
    """Basics K-YEN: ¥10000 × 22/31 = 7096.77 -> 7097; tax 10 % = 709.7 -> 710; total 7807."""
    add_customer(con, "C1", currency="JPY", tax_rate="10")
    add_contract(con, "K1", "C1", "2026-03-10", billing_cycle_start_day=1)
    add_line(con, "L-YEN", "K1", unit_price="10000")
    inv = preview_invoice(con, "K1", MARCH)
    assert (inv.currency, inv.subtotal, inv.tax, inv.total) == (
        "JPY",
        Decimal("7097"),
        Decimal("710"),
        Decimal("7807"),
    )
    assert inv.lines[0].amount_minor == 7097


def test_kwd_has_three_decimals(con):
    """KWD 1.2345 × 3 = 3.7035 -> 3.704 (half away); tax 5 % = 0.1852 -> 0.185."""
    add_customer(con, "C1", currency="KWD", tax_rate="5")
    add_contract(con, "K1", "C1", "2026-01-01")
    add_line(con, "L1", "K1", pricing_model="per_unit", unit_price="1.2345", quantity="3")
    inv = preview_invoice(con, "K1", MARCH)
    assert (inv.subtotal, inv.tax, inv.total) == (Decimal("3.704"), Decimal("0.185"), Decimal("3.889"))
    assert (inv.subtotal_minor, inv.total_minor) == (3704, 3889)


def test_the_contract_currency_is_the_invoice_currency(con):
    """A USD customer with a EUR contract gets a EUR invoice."""
    add_customer(con, "C1", currency="USD")
    add_contract(con, "K1", "C1", "2026-01-01", currency="EUR")
    add_line(con, "L1", "K1", unit_price="10.00")
    assert preview_invoice(con, "K1", MARCH).currency == "EUR"


# --- properties --------------------------------------------------------------------------------------


def boundary(y: int, m: int, anchor: int) -> dt.date:
    return dt.date(y, m, min(anchor, calendar.monthrange(y, m)[1]))


def add_months(y: int, m: int, n: int) -> tuple[int, int]:
    idx = y * 12 + (m - 1) + n
    return idx // 12, idx % 12 + 1


@pytest.fixture(scope="module")
def mcon():
    c = connect(":memory:")
    yield c
    c.close()


EXP = {"USD": 2, "JPY": 0, "KWD": 3}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    anchor=st.integers(1, 31),
    year=st.integers(2023, 2030),
    month=st.integers(1, 12),
    period=st.sampled_from(["month", "quarter", "year"]),
    currency=st.sampled_from(list(EXP)),
    price=st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("99999"), places=4, allow_nan=False),
    quantity=st.integers(1, 9),
    cuts=st.lists(st.floats(0.01, 0.99), min_size=1, max_size=3),
)
def test_a_full_period_prorated_over_the_pieces_that_make_it_up_adds_up_to_the_full_price(
    mcon, anchor, year, month, period, currency, price, quantity, cuts
):
    """Property: one full period [B0, B1) cut into pieces; the recurring line of each piece is
    price × quantity × piece days / period_days, rounded once, and the pieces add up to the full price
    within one minor unit per piece. Pieces are (a) consecutive line windows (ramps) of one contract,
    and (b) for monthly periods, stub cycles of contracts that start and end inside the period.

        |B0 ...... c1 ...... c2 ...... |B1
        [piece 1 ][ piece 2 ][ piece 3 ]
    """
    con = mcon
    clear_all(con)
    months = {"month": 1, "quarter": 3, "year": 12}[period]
    b0 = boundary(year, month, anchor)
    b1 = boundary(*add_months(year, month, months), anchor)
    days = (b1 - b0).days
    offsets = sorted({max(1, min(days - 1, int(c * days))) for c in cuts})
    starts = [b0] + [b0 + dt.timedelta(days=o) for o in offsets]
    pieces = [(s, e - dt.timedelta(days=1)) for s, e in zip(starts, starts[1:] + [b1], strict=True)]
    full = Fraction(price) * quantity
    add_customer(con, "C1", currency=currency)
    add_contract(con, "K-RAMP", "C1", b0, billing_period=period, billing_cycle_start_day=anchor)
    for i, (s, e) in enumerate(pieces):
        add_line(
            con,
            f"L{i}",
            "K-RAMP",
            pricing_model="per_unit",
            unit_price=price,
            quantity=quantity,
            start_date=s,
            end_date=e,
        )
    inv = preview_invoice(con, "K-RAMP", b0)
    assert inv.period_days == days and (inv.period_start, inv.period_end) == (b0, b1 - dt.timedelta(days=1))
    got = {ln.line_id: ln.amount_minor for ln in inv.lines}
    scale = 10 ** EXP[currency]
    for i, (s, e) in enumerate(pieces):
        assert got[f"L{i}"] == round_half_away(full * scale * ((e - s).days + 1) / days)
    assert abs(sum(got.values()) - round_half_away(full * scale)) <= len(pieces)
    if period == "month":
        stub_total = 0
        for i, (s, e) in enumerate(pieces):
            add_contract(con, f"K-STUB{i}", "C1", s, end_date=e, billing_cycle_start_day=anchor)
            add_line(con, f"S{i}", f"K-STUB{i}", pricing_model="per_unit", unit_price=price, quantity=quantity)
            stub = preview_invoice(con, f"K-STUB{i}", s)
            assert (stub.period_start, stub.period_end, stub.period_days) == (s, e, days)
            stub_total += stub.subtotal_minor
        assert abs(stub_total - round_half_away(full * scale)) <= len(pieces)


line_spec = st.fixed_dictionaries(
    {
        "kind": st.sampled_from(["recurring", "usage", "one_time"]),
        "price": st.decimals(min_value=0, max_value=Decimal("5000"), places=6, allow_nan=False),
        "quantity": st.integers(0, 20),
        "discount": st.one_of(st.none(), st.integers(0, 100)),
        "window": st.one_of(st.none(), st.tuples(st.integers(0, 40), st.integers(0, 40))),
        "usage": st.lists(
            st.tuples(st.integers(0, 40), st.decimals(min_value=0, max_value=1000, places=3, allow_nan=False)),
            max_size=4,
        ),
    }
)
contract_spec = st.fixed_dictionaries(
    {
        "currency": st.sampled_from(list(EXP)),
        "tax": st.decimals(min_value=0, max_value=30, places=3, allow_nan=False),
        "start": st.integers(0, 60),
        "anchor": st.integers(1, 31),
        "proration": st.sampled_from(["actual", "none"]),
        "lines": st.lists(line_spec, min_size=1, max_size=4),
    }
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(contracts=st.lists(contract_spec, min_size=1, max_size=5))
def test_random_invoices_total_is_the_sum_of_rounded_lines_plus_tax_once(mcon, contracts):
    """Property: for random contracts (currencies, tax rates, anchors, windows, discounts, proration) a
    bill run stores invoices whose every line is the exactly computed amount rounded once, whose subtotal
    is Σ rounded lines, tax = round(subtotal × rate / 100) and total = subtotal + tax."""
    con = mcon
    clear_all(con)
    base = D("2026-01-01")
    period_date = D("2026-03-15")
    spec_by_line = {}
    for ci, c in enumerate(contracts):
        cid = f"K{ci}"
        add_customer(con, f"C{ci}", currency=c["currency"], tax_rate=c["tax"])
        add_contract(
            con,
            cid,
            f"C{ci}",
            base + dt.timedelta(days=c["start"]),
            billing_cycle_start_day=c["anchor"],
            proration=c["proration"],
        )
        for li, ln in enumerate(c["lines"]):
            lid = f"L{ci}-{li}"
            window = None
            if ln["window"]:
                a, b = sorted(ln["window"])
                window = (D("2026-02-20") + dt.timedelta(days=a), D("2026-02-20") + dt.timedelta(days=b))
            add_line(
                con,
                lid,
                cid,
                kind=ln["kind"],
                pricing_model="per_unit",
                unit_price=ln["price"],
                quantity=ln["quantity"],
                metric=lid if ln["kind"] == "usage" else None,
                discount_percent=ln["discount"],
                start_date=window[0] if window else None,
                end_date=window[1] if window else None,
            )
            if ln["kind"] == "usage":
                for day, q in ln["usage"]:  # each usage line has a metric of its own
                    add_usage(con, cid, lid, D("2026-02-20") + dt.timedelta(days=day), q)
            spec_by_line[lid] = (c, ln, window)
    report = bill_run(con, period_date)
    assert report.failed == []
    invoices = stored_invoices(con)
    assume(invoices)
    for inv in invoices:
        lines = stored_lines(con, inv["invoice_id"])
        assert inv["subtotal_minor"] == sum(ln["amount_minor"] for ln in lines)
        assert inv["tax_minor"] == tax_minor(inv["subtotal_minor"], inv["tax_rate"])
        assert inv["total_minor"] == inv["subtotal_minor"] + inv["tax_minor"]
        scale = 10 ** EXP[inv["currency"]]
        ps, pe, pdays = inv["period_start"], inv["period_end"], inv["period_days"]
        for ln in lines:
            c, spec, window = spec_by_line[ln["line_id"]]
            ws, we = max(ps, window[0]) if window else ps, min(pe, window[1]) if window else pe
            price = Fraction(spec["price"])
            if spec["kind"] == "usage":
                q = sum(
                    (
                        Fraction(qty)
                        for day, qty in spec["usage"]
                        if ws <= D("2026-02-20") + dt.timedelta(days=day) <= we
                    ),
                    Fraction(0),
                )
                exact = q * price
            elif spec["kind"] == "one_time":
                exact = spec["quantity"] * price
            else:
                factor = Fraction((we - ws).days + 1, pdays) if c["proration"] == "actual" else 1
                exact = spec["quantity"] * price * factor
            exact *= Fraction(100 - (spec["discount"] or 0), 100)
            assert ln["amount_minor"] == round_half_away(exact * scale), ln


def _temp_tables(con) -> set[str]:
    return {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables() WHERE temporary").fetchall()}


def test_a_bulk_rating_frees_its_intermediate_stages_and_a_bill_run_its_results_once_stored(con, monkeypatch):
    """Over KEEP_STAGES_UP_TO rated lines the rating drops the stages only it reads (gigabytes at 1M contracts);
    a bill run drops the rated tables once it has stored them. A small rating (a preview) keeps them."""
    from engine.rating import pipeline

    basics(con)
    preview_invoice(con, "K-FLAT", MARCH)
    # a preview keeps them (no coupon stage without coupons)
    assert set(pipeline.INTERMEDIATE_STAGES) - set(ADJUSTMENT_STAGES) <= _temp_tables(con)
    monkeypatch.setattr(pipeline, "KEEP_STAGES_UP_TO", 0)
    report = bill_run(con, MARCH)
    assert report.drafted == 6 and not report.failed
    left = _temp_tables(con)
    rated = {"_rated_lines", "_rated_invoices", "_rated_taxes", "_coupon_shares", "_new_ids"}
    assert not left & {*pipeline.INTERMEDIATE_STAGES, *rated}, left
    # the run stored what the stages held: every invoice has its lines
    bare = "SELECT count(*) FROM invoices i WHERE NOT EXISTS (FROM invoice_lines l WHERE l.invoice_id = i.invoice_id)"
    assert con.execute(bare).fetchone() == (0,)
