"""Bill runs (spec section 4): one invoice per active contract for the period of a date, idempotent,
delayed charges swept by the rule, scopes, failure isolation, totals per currency.

Delayed-charge rule: a pending charge goes ONCE onto the customer's invoice DRAFTED BY THAT RUN, in the
charge's currency, with period_end ≥ charge_date, smallest contract_id first; otherwise it stays
pending and the run reports why.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import pytest
from helpers_data import (
    add_charge,
    add_contract,
    add_customer,
    add_line,
    add_usage,
    basics,
    stored_invoices,
    stored_lines,
)

from engine.billing.bill_run import bill_run
from engine.billing.invoices import draft_period_invoice
from engine.money import to_major

D = dt.date.fromisoformat
MARCH = D("2026-03-15")
CASE = json.loads((Path(__file__).parent / "examples" / "basics" / "case.json").read_text())


def charge_lines(con) -> dict[str, tuple[str, int]]:
    """{charge_id: (contract_id of the invoice it went onto, amount_minor)}."""
    return {
        r[0]: (r[1], r[2])
        for r in con.execute(
            """SELECT l.charge_id, i.contract_id, l.amount_minor
               FROM invoice_lines l JOIN invoices i USING (invoice_id) WHERE l.kind = 'delayed_charge'"""
        ).fetchall()
    }


# --- the basics case: inserted row by row, and imported from its CSV folder ---------------------------------


def load_basics(con, how: str, folder: Path) -> None:
    if how == "rows":
        basics(con)
    else:
        from engine.ingest.importer import import_folder

        import_folder(con, folder)


@pytest.mark.parametrize("how", ["rows", "import_folder"])
def test_run_over_the_basics_data_drafts_one_invoice_per_active_contract_exactly_as_the_worked_case(
    con, basics_folder, how
):
    """period date 2026-03-15, with delayed charges: the six invoices of case.json, field by field
    (the same whether the data came from tests/helpers_data.basics or the importer)."""
    load_basics(con, how, basics_folder)
    report = bill_run(con, MARCH, include_delayed_charges=True)
    assert (report.contracts_in_scope, report.drafted, report.existing, report.failed) == (6, 6, 0, [])
    got = {i["contract_id"]: i for i in stored_invoices(con)}
    assert sorted(got) == sorted(e["contract_id"] for e in CASE["invoices"])
    for e in CASE["invoices"]:
        inv = got[e["contract_id"]]
        cur = inv["currency"]
        assert cur == e["currency"]
        for field in ("period_start", "period_end", "bill_for_date", "due_date"):
            assert inv[field].isoformat() == e[field], (e["contract_id"], field)
        for field in ("subtotal", "tax", "total"):
            assert to_major(inv[f"{field}_minor"], cur) == Decimal(e[field]), (e["contract_id"], field)
        have = sorted(
            (ln["line_id"] or "", ln["kind"], to_major(ln["amount_minor"], cur))
            for ln in stored_lines(con, inv["invoice_id"])
        )
        want = sorted((ln["line_id"], ln["kind"], Decimal(ln["amount"])) for ln in e["lines"])
        assert have == want, e["contract_id"]
        assert inv["status"] == "draft" and inv["run_id"] == report.run_id


def test_a_second_run_for_the_same_date_finds_every_invoice_existing_and_makes_no_duplicate(con):
    basics(con)
    first = bill_run(con, MARCH, include_delayed_charges=True)
    before = con.execute("SELECT invoice_id, total_minor FROM invoices ORDER BY 1").fetchall()
    second = bill_run(con, MARCH, include_delayed_charges=True)
    assert second.run_id != first.run_id
    assert (second.drafted, second.existing, second.failed, second.delayed_charges_swept) == (0, 6, [], 0)
    assert con.execute("SELECT invoice_id, total_minor FROM invoices ORDER BY 1").fetchall() == before
    assert (
        con.execute("""SELECT count(*) FROM (SELECT contract_id, period_start FROM invoices
                          WHERE status <> 'void' GROUP BY ALL HAVING count(*) > 1)""").fetchone()[0]
        == 0
    )
    assert second.totals == []
    outcomes = dict(
        con.execute("SELECT contract_id, outcome FROM bill_run_items WHERE run_id = ?", [second.run_id]).fetchall()
    )
    assert set(outcomes.values()) == {"existing"} and len(outcomes) == 6


def test_basics_charges_go_to_the_smallest_contract_and_the_others_stay_pending_with_reasons(con):
    """DC-1 (USD, Mar20) -> K-END31 (smallest of K-END31, K-FLAT, K-STUB; its period ends Mar30);
    DC-2 is EUR and ACME has no EUR invoice; DC-3 (Apr2) is after every BOREAL period end (Mar31)."""
    basics(con)
    report = bill_run(con, MARCH, include_delayed_charges=True)
    assert report.delayed_charges_swept == 1
    assert charge_lines(con) == {"DC-1": ("K-END31", 2500)}
    pending = {p.charge_id: p for p in report.delayed_charges_pending}
    assert sorted(pending) == ["DC-2", "DC-3"]
    assert "no EUR invoice" in pending["DC-2"].reason
    assert "2026-04-02 is after" in pending["DC-3"].reason and "(latest 2026-03-31)" in pending["DC-3"].reason
    assert pending["DC-3"].amount == Decimal("18.4") and pending["DC-3"].currency == "CAD"
    # written with the currency's decimals (18.40 CAD, as every amount of a report is), its value unchanged
    assert report.model_dump(mode="json")["delayed_charges_pending"][1]["amount"] == "18.40"


# --- delayed-charge sweep rule ---------------------------------------------------------------------------


@pytest.fixture
def two_contracts(con):
    """Customer C1 (USD) with contracts K-B and K-A (monthly from Jan 1) and K-C (from Mar 20, anchor 20)."""
    add_customer(con, "C1")
    for cid in ("K-B", "K-A"):
        add_contract(con, cid, "C1", "2026-01-01")
        add_line(con, f"L-{cid}", cid, unit_price="10.00")
    return con


def test_a_charge_goes_onto_the_run_invoice_of_the_smallest_contract_id(two_contracts):
    con = two_contracts
    add_charge(con, "DC1", "C1", "5.00", "2026-03-10")
    bill_run(con, MARCH, include_delayed_charges=True)
    assert charge_lines(con) == {"DC1": ("K-A", 500)}
    totals = {i["contract_id"]: i["total_minor"] for i in stored_invoices(con)}
    assert totals == {"K-A": 1500, "K-B": 1000}


def test_a_charge_dated_on_the_period_end_is_swept_and_one_day_later_is_not(two_contracts):
    con = two_contracts
    add_charge(con, "ON-END", "C1", "1.00", "2026-03-31")
    add_charge(con, "AFTER", "C1", "2.00", "2026-04-01")
    report = bill_run(con, MARCH, include_delayed_charges=True)
    assert set(charge_lines(con)) == {"ON-END"}
    assert [p.charge_id for p in report.delayed_charges_pending] == ["AFTER"]
    assert "2026-04-01" in report.delayed_charges_pending[0].reason


def test_a_charge_skips_contracts_whose_period_ends_before_it(con):
    """K-A's cycle ends Mar 19 (anchor 20), K-B's Mar 31: a Mar 25 charge goes to K-B although K-A < K-B.

    K-A  |Feb20 ............ Mar19|             charge Mar25
    K-B  |Mar1 ........................... Mar31|
    """
    add_customer(con, "C1")
    add_contract(con, "K-A", "C1", "2026-01-20", billing_cycle_start_day=20)
    add_contract(con, "K-B", "C1", "2026-01-01")
    add_line(con, "L-A", "K-A", unit_price="1.00")
    add_line(con, "L-B", "K-B", unit_price="1.00")
    add_charge(con, "DC1", "C1", "3.00", "2026-03-25")
    bill_run(con, D("2026-03-15"), include_delayed_charges=True)
    assert charge_lines(con) == {"DC1": ("K-B", 300)}


def test_a_charge_only_goes_onto_an_invoice_in_its_currency(con):
    add_customer(con, "C1", currency="USD")
    add_contract(con, "K-A", "C1", "2026-01-01")
    add_contract(con, "K-B", "C1", "2026-01-01", currency="EUR")
    add_line(con, "L-A", "K-A", unit_price="1.00")
    add_line(con, "L-B", "K-B", unit_price="1.00")
    add_charge(con, "DC-EUR", "C1", "7.00", "2026-03-01", currency="EUR")
    add_charge(con, "DC-GBP", "C1", "9.00", "2026-03-01", currency="GBP")
    report = bill_run(con, MARCH, include_delayed_charges=True)
    assert charge_lines(con) == {"DC-EUR": ("K-B", 700)}
    (pending,) = report.delayed_charges_pending
    assert pending.charge_id == "DC-GBP" and "GBP" in pending.reason


def test_a_charge_is_swept_once_only_and_later_runs_take_the_still_pending_ones(two_contracts):
    """March run sweeps DC-MAR; the April run does not sweep it again but takes DC-APR (dated Apr 2)."""
    con = two_contracts
    add_charge(con, "DC-MAR", "C1", "5.00", "2026-03-10")
    add_charge(con, "DC-APR", "C1", "6.00", "2026-04-02")
    march = bill_run(con, MARCH, include_delayed_charges=True)
    april = bill_run(con, D("2026-04-15"), include_delayed_charges=True)
    assert (march.delayed_charges_swept, april.delayed_charges_swept) == (1, 1)
    rows = con.execute("""SELECT l.charge_id, i.period_start
                          FROM invoice_lines l JOIN invoices i USING (invoice_id)
                          WHERE l.kind = 'delayed_charge' ORDER BY 1""").fetchall()
    assert rows == [("DC-APR", D("2026-04-01")), ("DC-MAR", D("2026-03-01"))]
    assert april.delayed_charges_pending == []


def test_a_charge_goes_only_onto_invoices_drafted_by_that_run(two_contracts):
    """K-A's March invoice was drafted before the run (by draft_period_invoice): the run finds it existing
    and puts the charge on K-B, the smallest contract among the invoices IT drafted."""
    con = two_contracts
    draft_period_invoice(con, "K-A", MARCH)
    add_charge(con, "DC1", "C1", "5.00", "2026-03-10")
    report = bill_run(con, MARCH, include_delayed_charges=True)
    assert (report.drafted, report.existing) == (1, 1)
    assert charge_lines(con) == {"DC1": ("K-B", 500)}


def test_a_run_without_delayed_charges_leaves_them_pending(two_contracts):
    con = two_contracts
    add_charge(con, "DC1", "C1", "5.00", "2026-03-10")
    report = bill_run(con, MARCH)
    assert report.delayed_charges_swept == 0 and charge_lines(con) == {}
    assert con.execute("SELECT count(*) FROM delayed_charge_sweeps").fetchone()[0] == 0


def test_a_charge_with_sub_minor_decimals_is_rounded_once_half_away(two_contracts):
    con = two_contracts
    add_charge(con, "DC1", "C1", "0.125", "2026-03-10")
    bill_run(con, MARCH, include_delayed_charges=True)
    assert charge_lines(con) == {"DC1": ("K-A", 13)}
    inv = next(i for i in stored_invoices(con) if i["contract_id"] == "K-A")
    assert inv["subtotal_minor"] == 1013 and inv["total_minor"] == 1013


# --- who is billed: active contracts and scopes ---------------------------------------------------------


@pytest.fixture
def tenants(con):
    """Businesses north (C-N1, C-N2) and south (C-S); one contract each, plus inactive ones."""
    add_customer(con, "C-N1", business_id="north")
    add_customer(con, "C-N2", business_id="north")
    add_customer(con, "C-S", business_id="south", currency="EUR")
    for cid, cust in (("K-N1", "C-N1"), ("K-N2", "C-N2"), ("K-S", "C-S")):
        add_contract(con, cid, cust, "2026-01-01")
        add_line(con, f"L-{cid}", cid, unit_price="10.00")
    add_contract(con, "K-LATER", "C-N1", "2026-03-16")  # starts the day after the period date
    add_line(con, "L-LATER", "K-LATER", unit_price="10.00")
    add_contract(con, "K-ENDED", "C-N1", "2025-01-01", end_date="2026-03-14")  # ended the day before
    add_line(con, "L-ENDED", "K-ENDED", unit_price="10.00")
    add_contract(con, "K-EDGE", "C-N2", "2026-03-15", end_date="2026-03-15")  # active exactly that day
    add_line(con, "L-EDGE", "K-EDGE", unit_price="31.00")
    return con


def test_a_run_bills_exactly_the_contracts_active_on_the_date(tenants):
    report = bill_run(tenants, MARCH)
    assert sorted(i["contract_id"] for i in stored_invoices(tenants)) == ["K-EDGE", "K-N1", "K-N2", "K-S"]
    assert (report.contracts_in_scope, report.drafted) == (4, 4)
    edge = next(i for i in stored_invoices(tenants) if i["contract_id"] == "K-EDGE")
    assert (edge["period_start"], edge["period_end"], edge["total_minor"]) == (MARCH, MARCH, 100)


@pytest.mark.parametrize(
    "scope, expected",
    [
        pytest.param(dict(contract_ids=["K-N2"]), ["K-N2"], id="contract"),
        pytest.param(dict(customer_ids=["C-N1"]), ["K-N1"], id="customer"),
        pytest.param(dict(business_id="north"), ["K-EDGE", "K-N1", "K-N2"], id="business"),
        pytest.param(dict(business_id="south"), ["K-S"], id="other business"),
    ],
)
def test_a_run_limited_to_a_scope_drafts_only_that_scope(tenants, scope, expected):
    report = bill_run(tenants, MARCH, **scope)
    assert sorted(i["contract_id"] for i in stored_invoices(tenants)) == expected
    assert report.drafted == len(expected)
    assert report.scope == {
        "contract_ids": scope.get("contract_ids"),
        "customer_ids": scope.get("customer_ids"),
        "business_id": scope.get("business_id"),
    }


def test_a_scoped_run_names_unknown_and_inactive_contracts_as_failed(tenants):
    report = bill_run(tenants, MARCH, contract_ids=["K-N1", "K-NOPE", "K-LATER"])
    failed = {f.contract_id: f.reason for f in report.failed}
    assert set(failed) == {"K-NOPE", "K-LATER"}
    assert "unknown" in failed["K-NOPE"] and "not active" in failed["K-LATER"]
    assert report.drafted == 1


def test_an_active_contract_without_a_line_in_the_cycle_is_reported_nothing_to_bill(con):
    add_customer(con, "C1")
    add_contract(con, "K-EMPTY", "C1", "2026-01-01")
    add_contract(con, "K-OK", "C1", "2026-01-01")
    add_line(con, "L-OK", "K-OK", unit_price="1.00")
    report = bill_run(con, MARCH)
    assert (report.drafted, report.nothing_to_bill) == (1, 1)
    outcome = con.execute(
        "SELECT outcome FROM bill_run_items WHERE run_id = ? AND contract_id = 'K-EMPTY'", [report.run_id]
    ).fetchone()
    assert outcome == ("nothing_to_bill",)


# --- failure isolation and totals -------------------------------------------------------------------------


def test_a_contract_whose_rating_overflows_is_reported_failed_and_the_others_are_drafted(con):
    """K-BAD: 10^20 units × 10^20 per unit overflows HUGEINT: it fails with the reason, nothing of it is
    stored, and K-1 … K-5 are drafted in the same run."""
    add_customer(con, "C1")
    for i in range(1, 6):
        add_contract(con, f"K-{i}", "C1", "2026-01-01")
        add_line(con, f"L-{i}", f"K-{i}", unit_price="10.00")
    add_contract(con, "K-BAD", "C1", "2026-01-01")
    con.execute(
        """INSERT INTO order_lines (line_id, contract_id, product, kind, pricing_model, unit_price, quantity)
                   VALUES ('L-BAD', 'K-BAD', 'Huge', 'recurring', 'per_unit', ?, ?)""",
        [Decimal("1e20"), Decimal("1e20")],
    )
    report = bill_run(con, MARCH)
    assert [f.contract_id for f in report.failed] == ["K-BAD"]
    reason = report.failed[0].reason
    assert reason.startswith("rating failed: ") and "Overflow" in reason
    assert report.drafted == 5
    assert sorted(i["contract_id"] for i in stored_invoices(con)) == [f"K-{i}" for i in range(1, 6)]
    outcome = con.execute("SELECT outcome, reason FROM bill_run_items WHERE contract_id = 'K-BAD'").fetchone()
    assert outcome == ("failed", reason)


def test_a_price_beyond_the_bound_fails_only_a_contract_that_bills_it(con):
    """Money values are scaled ahead of time, once per order line and per tier: a price beyond the bound (10^20,
    stored without the importer) in a line or tier not billed this cycle (it starts next year) fails nothing,
    nor does it fail the contracts around it (K-2X sorts among K-1 … K-5); the contract billing one (K-3X)
    fails alone, as before."""
    add_customer(con, "C1")
    for i in range(1, 6):
        add_contract(con, f"K-{i}", "C1", "2026-01-01")
        add_line(con, f"L-{i}", f"K-{i}", unit_price="10.00")
    add_contract(con, "K-2X", "C1", "2026-01-01")
    add_line(con, "L-2X", "K-2X", unit_price="7.00")
    for line_id, model, tiers in (("L-2X-LATER", "flat", None), ("L-2X-TIERS", "graduated", [(None, "1.00")])):
        add_line(con, line_id, "K-2X", pricing_model=model, tiers=tiers, start_date="2027-01-01")
    con.execute("UPDATE order_lines SET unit_price = 1e20 WHERE line_id = 'L-2X-LATER'")
    con.execute("UPDATE price_tiers SET unit_price = 1e20, flat_fee = -1e20 WHERE line_id = 'L-2X-TIERS'")
    add_contract(con, "K-3X", "C1", "2026-01-01")
    add_line(con, "L-3X", "K-3X", unit_price="1.00")
    con.execute("UPDATE order_lines SET unit_price = -1e20 WHERE line_id = 'L-3X'")
    report = bill_run(con, MARCH)
    assert [f.contract_id for f in report.failed] == ["K-3X"]
    assert "Overflow" in report.failed[0].reason
    assert report.drafted == 6
    amounts = dict(con.execute("SELECT contract_id, subtotal_minor FROM invoices").fetchall())
    assert amounts == {**{f"K-{i}": 1000 for i in range(1, 6)}, "K-2X": 700}


def test_a_usage_overflow_fails_only_its_contract(con):
    """A usage line priced at 10^20 per unit on 10^11 units: overflows the BIGINT minor units."""
    add_customer(con, "C1")
    add_contract(con, "K-OK", "C1", "2026-01-01")
    add_line(con, "L-OK", "K-OK", unit_price="10.00")
    add_contract(con, "K-BAD", "C1", "2026-01-01")
    add_line(
        con,
        "L-BAD",
        "K-BAD",
        kind="usage",
        pricing_model="per_unit",
        unit_price="100000000000000000000",
        metric="m",
    )
    add_usage(con, "K-BAD", "m", "2026-03-02", "100000000000")
    report = bill_run(con, MARCH)
    assert [f.contract_id for f in report.failed] == ["K-BAD"]
    assert [i["contract_id"] for i in stored_invoices(con)] == ["K-OK"]


def test_the_run_report_totals_per_currency_equal_the_sums_of_the_stored_invoices(con):
    """Customers in USD (tax 10 %), EUR, JPY (tax 8 %), with usage and delayed charges swept in."""
    add_customer(con, "C-USD", tax_rate="10")
    add_customer(con, "C-EUR", currency="EUR")
    add_customer(con, "C-JPY", currency="JPY", tax_rate="8")
    for cust, n in (("C-USD", 3), ("C-EUR", 2), ("C-JPY", 2)):
        for i in range(n):
            cid = f"K-{cust}-{i}"
            add_contract(con, cid, cust, f"2026-0{1 + i}-1{i}")
            add_line(con, f"L-{cid}", cid, unit_price="33.33")
            add_line(con, f"U-{cid}", cid, kind="usage", pricing_model="per_unit", unit_price="0.017", metric="m")
            add_usage(con, cid, "m", "2026-03-12", str(1000 + 7 * i))
    add_charge(con, "DC-USD", "C-USD", "12.345", "2026-03-01")
    add_charge(con, "DC-JPY", "C-JPY", "999.5", "2026-03-01")
    report = bill_run(con, MARCH, include_delayed_charges=True)
    assert report.delayed_charges_swept == 2
    sums = defaultdict(lambda: [0, 0, 0, 0])
    for inv in stored_invoices(con):
        s = sums[inv["currency"]]
        s[0] += 1
        s[1] += inv["subtotal_minor"]
        s[2] += inv["tax_minor"]
        s[3] += inv["total_minor"]
        assert inv["subtotal_minor"] == sum(ln["amount_minor"] for ln in stored_lines(con, inv["invoice_id"]))
    got = {t.currency: (t.invoices, t.subtotal, t.tax, t.total) for t in report.totals}
    assert got == {
        cur: (n, to_major(sub, cur), to_major(tax, cur), to_major(tot, cur)) for cur, (n, sub, tax, tot) in sums.items()
    }
    assert sorted(got) == ["EUR", "JPY", "USD"]


def test_a_run_with_finalize_numbers_its_invoices_per_business_sequentially_from_one(tenants):
    """Businesses north (3 drafts) and south (1): numbers 1..3 and 1, every invoice open."""
    report = bill_run(tenants, MARCH, finalize=True)
    assert report.finalized == 4
    rows = tenants.execute("""SELECT c.business_id, i.number, i.status FROM invoices i
                              JOIN customers c USING (customer_id) ORDER BY 1, 2""").fetchall()
    assert rows == [("north", 1, "open"), ("north", 2, "open"), ("north", 3, "open"), ("south", 1, "open")]


# --- two runs at once ---------------------------------------------------------------------------------------


def test_a_run_started_while_an_identical_run_is_in_progress_does_not_merge_into_it(tmp_path):
    """Run A (file database) is rating when run B, same date and scope, starts on another cursor
    (deterministically: from A's progress callback) and completes first.

        A: start ── rating ·············· (B runs here) ·············· store → conflict → retry → done
        B:                 start ─ rate ─ store ─ commit

    Whatever the outcome, every contract has one invoice, and each run's record is consistent: one
    item per contract per run, and the stored report says what that run did. B must not "resume" A's
    run_id while A is alive (resuming is for crashed runs): two live runs writing one run_id leave
    'drafted' AND 'existing' items for every contract and A's report (drafted 0) over B's."""
    from engine.db import connect

    con = connect(tmp_path / "runs.duckdb")
    try:
        add_customer(con, "C1")
        for i in range(5):
            add_contract(con, f"K{i}", "C1", "2026-01-01")
            add_line(con, f"L{i}", f"K{i}", unit_price="1.00")
        reports = {}

        def start_b(done: float, label: str) -> None:
            if label.startswith("rating") and "B" not in reports:
                cur = con.cursor()
                try:
                    reports["B"] = bill_run(cur, MARCH)
                finally:
                    cur.close()

        cur_a = con.cursor()
        try:
            reports["A"] = bill_run(cur_a, MARCH, progress=start_b)
        finally:
            cur_a.close()
        assert con.execute("SELECT count(*), count(DISTINCT contract_id) FROM invoices").fetchone() == (5, 5)
        assert reports["A"].drafted + reports["B"].drafted == 5
        dup_items = con.execute("""SELECT run_id, contract_id, list(outcome) FROM bill_run_items
                                   GROUP BY ALL HAVING count(*) > 1""").fetchall()
        assert dup_items == []
        for r in reports.values():
            stored = json.loads(con.execute("SELECT report FROM bill_runs WHERE run_id = ?", [r.run_id]).fetchone()[0])
            assert (stored["drafted"], stored["existing"]) == (r.drafted, r.existing)
        assert reports["A"].run_id != reports["B"].run_id
    finally:
        con.close()
