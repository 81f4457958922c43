"""Review flags (spec section 8): each fires exactly when its rule says, and not one unit short of its threshold.

Most cases bill one contract twice, January then February (a bill run each), and review the February run:
a usage line at USD 0.01 per call makes the February total (in cents) the number of calls, so a total
is chosen to the cent.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from helpers_data import add_charge, add_contract, add_customer, add_line, add_usage

from engine.billing.approval import approve_invoices, hold_invoice
from engine.billing.bill_run import bill_run
from engine.billing.lifecycle import finalize_invoice, void_invoice
from engine.errors import ValidationError
from engine.review import FLAGS, approve_unflagged, get_thresholds, review, set_thresholds

JAN, FEB, MAR = dt.date(2026, 1, 15), dt.date(2026, 2, 15), dt.date(2026, 3, 15)


def usage_contract(con, cid="K1", cust="C1", *, business="default", currency="USD", price="0.01", **kw) -> str:
    if not con.execute("SELECT count(*) FROM customers WHERE customer_id = ?", [cust]).fetchone()[0]:
        add_customer(con, cust, currency=currency, business_id=business)
    add_contract(con, cid, cust, "2026-01-01", **kw)
    add_line(con, f"{cid}-U", cid, kind="usage", pricing_model="per_unit", unit_price=price, metric="calls")
    con.execute("UPDATE order_lines SET product = 'API calls' WHERE line_id = ?", [f"{cid}-U"])
    return cid


def calls(con, cid, month: int, quantity, status="approved") -> None:
    if Decimal(str(quantity)) != 0:
        add_usage(con, cid, "calls", dt.date(2026, month, 10), str(quantity), status)


def two_runs(con, **kw):
    """Bill January and February; the review of the February run."""
    bill_run(con, JAN)
    return review(con, run_id=bill_run(con, FEB, **kw).run_id)


def flags(result, cid="K1") -> set[str]:
    (row,) = [d for d in result.drafts if d.contract_id == cid]
    return {f.flag for f in row.flags}


def feb_flags(con, jan, feb, cid="K1") -> set[str]:
    calls(con, cid, 1, jan)
    calls(con, cid, 2, feb)
    return flags(two_runs(con), cid)


# --- total_change: |Δ| > 25 % of the previous total AND > 10 major units, both strictly ---------------------


@pytest.mark.parametrize(
    ("jan", "feb", "flagged"),
    [
        (10000, 12500, False),  # USD 100.00 -> 125.00: exactly 25 %
        (10000, 12501, True),  # 25 % + 1 cent
        (10000, 7500, False),  # down exactly 25 %
        (10000, 7499, True),
        (2000, 3000, False),  # USD 20.00 -> 30.00: 50 %, but exactly USD 10.00
        (2000, 3001, True),  # USD 10.01
        (2000, 999, True),  # down USD 10.01
        (2000, 1000, False),
    ],
)
def test_total_change_threshold(con, jan, feb, flagged):
    usage_contract(con)
    assert ("total_change" in feb_flags(con, jan, feb)) is flagged


def test_total_change_reason_and_figures(con):
    usage_contract(con)
    calls(con, "K1", 1, 10000)
    calls(con, "K1", 2, 14000)
    (row,) = two_runs(con).drafts
    (flag,) = [f for f in row.flags if f.flag == "total_change"]
    assert flag.reason == "total up 40.0 % (USD 100.00 → USD 140.00), above 25 % and USD 10.00"
    assert flag.figures["previous_total"] == Decimal("100.00") and flag.figures["change"] == Decimal("40.00")
    assert (row.previous_total, row.total, row.change, row.change_percent) == (
        Decimal("100.00"),
        Decimal("140.00"),
        Decimal("40.00"),
        Decimal("40.0"),
    )


def test_total_change_minimum_with_more_decimals_than_the_currency(con):
    """min 10.005: a change of 10.01 is above it, 10.00 is not (exact, in minor units)."""
    set_thresholds(con, "default", total_change_min="10.005", actor="t")
    usage_contract(con, "K1")
    usage_contract(con, "K2")
    for cid, feb in (("K1", 3001), ("K2", 3000)):
        calls(con, cid, 1, 2000)
        calls(con, cid, 2, feb)
    result = two_runs(con)
    assert "total_change" in flags(result, "K1") and "total_change" not in flags(result, "K2")


def test_total_change_from_a_zero_previous_total_needs_only_the_minimum(con):
    usage_contract(con, "K1")
    usage_contract(con, "K2")
    calls(con, "K1", 2, 1001)  # January 0, February USD 10.01
    calls(con, "K2", 2, 1000)
    result = two_runs(con)
    assert "total_change" in flags(result, "K1") and "total_change" not in flags(result, "K2")
    (k1,) = [d for d in result.drafts if d.contract_id == "K1"]
    assert k1.previous_total == Decimal("0.00") and k1.change_percent is None


def test_thresholds_are_per_business(con):
    set_thresholds(con, "B2", total_change_percent="50", actor="t")
    usage_contract(con, "K1", "C1")  # default business: 25 %
    usage_contract(con, "K2", "C2", business="B2")
    for cid in ("K1", "K2"):
        calls(con, cid, 1, 10000)
        calls(con, cid, 2, 14000)  # +40 %
    result = two_runs(con)
    assert "total_change" in flags(result, "K1") and "total_change" not in flags(result, "K2")
    assert get_thresholds(con, "B2").total_change_percent == 50
    assert get_thresholds(con, "default").total_change_percent == 25  # no row: the defaults


# --- first invoice, previous = latest non-void invoice of the contract ---------------------------------------


def test_first_invoice_and_previous_is_the_latest_non_void(con):
    usage_contract(con)
    for month, q in ((1, 1000), (2, 5000), (3, 1100)):
        calls(con, "K1", month, q)
    jan = bill_run(con, JAN)
    assert flags(review(con, run_id=jan.run_id)) == {"first_invoice"}
    feb = bill_run(con, FEB)
    (feb_id,) = [d.invoice_id for d in review(con, run_id=feb.run_id).drafts]
    approve_invoices(con, [feb_id], actor="t")
    finalize_invoice(con, feb_id, actor="t")
    void_invoice(con, feb_id, reason="wrong usage", actor="t")
    (row,) = review(con, run_id=bill_run(con, MAR).run_id).drafts
    # February is void: March compares with January (USD 10.00 -> 11.00), not with February's 50.00
    assert row.previous_total == Decimal("10.00") and "total_change" not in {f.flag for f in row.flags}
    assert "first_invoice" not in {f.flag for f in row.flags}


# --- zero and negative totals --------------------------------------------------------------------------------


def test_zero_and_negative_totals(con):
    usage_contract(con, "K1")
    usage_contract(con, "K2")
    add_line(con, "K2-NEG", "K2", unit_price="5", discount_percent="200")  # a credit of USD 5.00
    usage_contract(con, "K3")
    calls(con, "K3", 2, 1)
    result = review(con, run_id=bill_run(con, FEB).run_id)
    assert {"zero_total", "negative_total"} & flags(result, "K1") == {"zero_total"}
    assert {"zero_total", "negative_total"} & flags(result, "K2") == {"negative_total"}
    assert not {"zero_total", "negative_total"} & flags(result, "K3")


# --- lines added and removed, usage spikes -------------------------------------------------------------------


def test_line_added_and_removed(con):
    usage_contract(con)
    add_line(con, "L-NEW", "K1", unit_price="5", start_date="2026-02-01")
    add_line(con, "L-OLD", "K1", unit_price="5", end_date="2026-01-31")
    (row,) = two_runs(con).drafts
    got = {f.flag: f for f in row.flags}
    assert got["line_added"].figures["lines"] == [{"line_id": "L-NEW", "product": "L-NEW"}]
    assert got["line_removed"].figures["lines"] == [{"line_id": "L-OLD", "product": "L-OLD"}]
    assert got["line_added"].reason == "billed now, not last time: L-NEW"


def test_no_line_change_when_the_same_lines_bill(con):
    usage_contract(con)
    add_line(con, "L-FLAT", "K1", unit_price="5")
    assert not {"line_added", "line_removed"} & feb_flags(con, 10, 10)


@pytest.mark.parametrize(
    ("jan", "feb", "flagged"),
    [("100", "300", False), ("100", "300.000001", True), ("0", "500", False), ("0.000001", "0.000004", True)],
)
def test_usage_spike_threshold(con, jan, feb, flagged):
    usage_contract(con, price="0")
    assert ("usage_spike" in feb_flags(con, jan, feb)) is flagged


def test_usage_spike_factor_per_business(con):
    set_thresholds(con, "default", usage_spike_factor="5", actor="t")
    usage_contract(con, price="0")
    result = feb_flags(con, "100", "400")
    assert "usage_spike" not in result


def test_usage_spike_reason(con):
    usage_contract(con, price="0")
    calls(con, "K1", 1, "1000")
    calls(con, "K1", 2, "4200")
    (flag,) = [f for f in two_runs(con).drafts[0].flags if f.flag == "usage_spike"]
    assert flag.reason == "usage of API calls (K1-U) up 4.2× (1,000 → 4,200), above 3×"
    assert flag.figures["lines"][0]["times"] == Decimal("4.2")


# --- pending usage, true-up, delayed charges -----------------------------------------------------------------


def test_pending_usage_in_the_cycle_only(con):
    usage_contract(con, "K1")
    usage_contract(con, "K2")
    calls(con, "K1", 2, 5, status="pending")
    calls(con, "K2", 1, 5, status="pending")  # January: not the reviewed cycle
    add_usage(con, "K2", "calls", "2026-03-01", "5", "pending")  # March: neither
    calls(con, "K2", 2, 5, status="rejected")
    result = two_runs(con)
    assert "pending_usage" in flags(result, "K1") and "pending_usage" not in flags(result, "K2")
    (k1,) = [d for d in result.drafts if d.contract_id == "K1"]
    (flag,) = [f for f in k1.flags if f.flag == "pending_usage"]
    assert flag.figures == {"pending_rows": 1}


def test_true_up_only_when_above_zero(con):
    usage_contract(con, "K1", minimum_commitment="50")  # usage USD 10.00: true-up USD 40.00
    usage_contract(con, "K2", minimum_commitment="10")  # usage USD 10.00: commitment met, true-up 0
    usage_contract(con, "K3", minimum_commitment="10.01")  # one cent short
    for cid in ("K1", "K2", "K3"):
        calls(con, cid, 2, 1000)
    result = review(con, run_id=bill_run(con, FEB).run_id)
    assert ["true_up" in flags(result, cid) for cid in ("K1", "K2", "K3")] == [True, False, True]
    (k3,) = [d for d in result.drafts if d.contract_id == "K3"]
    assert [f.figures for f in k3.flags if f.flag == "true_up"] == [{"true_up": Decimal("0.01")}]


def test_delayed_charges_swept_onto_the_draft(con):
    usage_contract(con, "K1", "C1")
    usage_contract(con, "K2", "C2")
    add_charge(con, "CH1", "C1", "12.50", "2026-02-03")
    result = review(con, run_id=bill_run(con, FEB, include_delayed_charges=True).run_id)
    assert "delayed_charges" in flags(result, "K1") and "delayed_charges" not in flags(result, "K2")
    (k1,) = [d for d in result.drafts if d.contract_id == "K1"]
    (flag,) = [f for f in k1.flags if f.flag == "delayed_charges"]
    assert flag.figures == {"charges": 1, "amount": Decimal("12.50")}
    assert flag.reason == "1 delayed charge swept onto this draft (USD 12.50)"


# --- large invoice: none by default; per business and currency, in the currency's minor units --------------


def test_large_invoice_per_currency(con):
    usage_contract(con, "K1", "C1")
    usage_contract(con, "K2", "C2")
    usage_contract(con, "K3", "C3", currency="JPY", price="1")
    usage_contract(con, "K4", "C4", currency="JPY", price="1")
    for cid, q in (("K1", 10000), ("K2", 10001), ("K3", 1000), ("K4", 1001)):
        calls(con, cid, 2, q)
    run = bill_run(con, FEB)
    assert not review(con, run_id=run.run_id).flag_counts["large_invoice"]  # none by default
    set_thresholds(con, "default", large_invoice={"USD": "100", "JPY": "1000"}, actor="t")
    result = review(con, run_id=run.run_id)
    assert {d.contract_id for d in result.drafts if "large_invoice" in {f.flag for f in d.flags}} == {"K2", "K4"}
    set_thresholds(con, "default", large_invoice={"JPY": None}, actor="t")
    assert get_thresholds(con, "default").large_invoice == {"USD": Decimal(100)}


# --- thresholds are validated ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {"total_change_percent": "-1"},
        {"total_change_min": "-0.01"},
        {"usage_spike_factor": "1000000"},
        {"total_change_percent": "1.0000001"},
        {"large_invoice": {"XYZ": "10"}},
        {"large_invoice": {"USD": "-5"}},
        {"total_change_min": "abc"},
        {"total_change_percent": 25.0},
    ],
)
def test_bad_thresholds_are_refused_and_nothing_changes(con, kwargs):
    with pytest.raises(ValidationError):
        set_thresholds(con, "default", actor="t", **kwargs)
    assert con.execute("SELECT count(*) FROM review_thresholds").fetchone()[0] == 0
    assert con.execute("SELECT count(*) FROM review_large_invoice").fetchone()[0] == 0


def test_every_bad_threshold_is_said_at_once(con):
    with pytest.raises(ValidationError) as refused:
        set_thresholds(
            con,
            "default",
            total_change_percent="-5",
            total_change_min="abc",
            large_invoice={"EUR": "1e9999", "JPY": "100.5", "XYZ": "1"},
            actor="t",
        )
    said = str(refused.value)
    for part in ("total_change_percent must be zero or more", "total_change_min: not a number", "large_invoice EUR",
                 "large_invoice JPY 100.5 has more decimals", "unknown currency 'XYZ'"):  # fmt: skip
        assert part in said, said
    assert con.execute("SELECT count(*) FROM review_thresholds").fetchone()[0] == 0


def test_thresholds_keep_what_is_not_given(con):
    set_thresholds(con, "default", total_change_percent="10", actor="ann")
    t = set_thresholds(con, "default", usage_spike_factor="2.5", actor="bob")
    got = (t.total_change_percent, t.total_change_min, t.usage_spike_factor, t.updated_by)
    assert got == (10, 10, Decimal("2.5"), "bob")


# --- the review: scope, filter, approving the unflagged ----------------------------------------------------


def test_review_by_period_date_and_flag_filter(con):
    usage_contract(con, "K1")
    usage_contract(con, "K2")
    calls(con, "K1", 1, 1000)
    calls(con, "K1", 2, 9000)  # total_change and usage_spike
    calls(con, "K2", 1, 1000)
    calls(con, "K2", 2, 1000)
    bill_run(con, JAN)
    bill_run(con, FEB)
    by_date = review(con, period_date=dt.date(2026, 2, 28))
    assert [d.contract_id for d in by_date.drafts] == ["K1", "K2"]
    assert all(d.period_start == dt.date(2026, 2, 1) for d in by_date.drafts)
    only = review(con, period_date=FEB, flags=["usage_spike", "zero_total"])
    assert [d.contract_id for d in only.drafts] == ["K1"]
    assert only.flag_counts == by_date.flag_counts and set(only.flag_counts) == set(FLAGS)
    with pytest.raises(ValidationError, match="valid flags: total_change"):
        review(con, period_date=FEB, flags=["nope"])


def test_a_business_review_is_its_part_of_the_whole_review(con):
    """review(business_id=B): B's drafts and B's unbilled cycles only, counted per flag before the flag filter,
    exactly as in the review of every business (what an HTTP or MCP caller of business B gets)."""
    usage_contract(con, "K1", "C1", business="north")
    usage_contract(con, "K2", "C2", business="south")
    usage_contract(con, "K3", "C3", business="south")
    add_customer(con, "C4", business_id="south")
    add_contract(con, "K4", "C4", "2025-11-01")  # its November and December are never billed
    add_line(con, "K4-F", "K4", kind="recurring", pricing_model="flat", unit_price="10")
    add_contract(con, "K5", "C1", "2025-12-01")  # north's: its December is never billed
    add_line(con, "K5-F", "K5", kind="recurring", pricing_model="flat", unit_price="10")
    for cid, jan, feb in (("K1", 1000, 9000), ("K2", 1000, 1000), ("K3", 1000, 9000)):
        calls(con, cid, 1, jan)
        calls(con, cid, 2, feb)
    bill_run(con, JAN)
    run = bill_run(con, FEB)
    whole = review(con, run_id=run.run_id, unbilled_limit=None)
    south = review(con, run_id=run.run_id, business_id="south")
    mine = [d for d in whole.drafts if d.business_id == "south"]
    assert [d.model_dump() for d in south.drafts] == [d.model_dump() for d in mine]
    assert {d.contract_id for d in mine} == {"K2", "K3", "K4"} and len(whole.drafts) == 5
    assert south.flag_counts == {f: sum(any(x.flag == f for x in d.flags) for d in mine) for f in FLAGS}
    assert [(u.contract_id, u.period_start) for u in south.unbilled_cycles] == [
        ("K4", dt.date(2025, 11, 1)),
        ("K4", dt.date(2025, 12, 1)),
    ]
    assert (south.unbilled_cycles_count, whole.unbilled_cycles_count) == (2, 3)
    spiked = review(con, run_id=run.run_id, business_id="south", flags=["usage_spike"])
    assert [d.contract_id for d in spiked.drafts] == ["K3"]
    assert spiked.flag_counts == south.flag_counts  # counted before the flag filter
    assert review(con, run_id=run.run_id, business_id="east").drafts == []


def test_approve_unflagged_approves_exactly_the_plain_drafts(con):
    for cid in ("K1", "K2", "K3", "K4"):
        usage_contract(con, cid)
        calls(con, cid, 1, 1000)
        calls(con, cid, 2, 1000)
    calls(con, "K2", 2, 9000)  # flagged
    bill_run(con, JAN)
    run = bill_run(con, FEB)
    ids = {d.contract_id: d.invoice_id for d in review(con, run_id=run.run_id).drafts}
    hold_invoice(con, ids["K3"], reason="customer disputes usage", actor="t")
    result = approve_unflagged(con, run.run_id, actor="ann")
    assert sorted(result.approved) == sorted([ids["K1"], ids["K4"]])
    status = dict(con.execute("SELECT contract_id, status FROM invoices WHERE run_id = ?", [run.run_id]).fetchall())
    assert status == {"K1": "approved", "K2": "draft", "K3": "held", "K4": "approved"}
    assert approve_unflagged(con, run.run_id, actor="ann").approved == []  # nothing left to approve
    events = con.execute("SELECT count(*) FROM invoice_events WHERE action = 'approved'").fetchone()[0]
    assert events == 2
