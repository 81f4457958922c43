"""Unbilled cycles and catch-up: cycles that ended before a run's date with no invoice are reported with every
run and review, and `catch_up=True` drafts each of them once."""

from __future__ import annotations

import datetime as dt

from helpers_data import add_contract, add_customer, add_line

from engine.billing.approval import approve_invoices
from engine.billing.bill_run import bill_run
from engine.billing.lifecycle import finalize_invoice, void_invoice
from engine.review import review, unbilled_cycles
from engine.scope import Scope

APR = dt.date(2026, 4, 15)


def d(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def cycles_of(report) -> list[tuple]:
    return [(c.contract_id, c.period_start, c.period_end) for c in report.unbilled_cycles]


def invoices(con, cid="K1") -> list[tuple]:
    return con.execute(
        "SELECT period_start, run_id FROM invoices WHERE contract_id = ? AND status <> 'void' ORDER BY 1", [cid]
    ).fetchall()


def test_three_missed_months_reported_then_caught_up_once(con):
    add_customer(con, "C1")
    add_contract(con, "K1", "C1", "2026-01-01")
    add_line(con, "L1", "K1", unit_price="100")
    plain = bill_run(con, APR)  # bills April only
    assert plain.drafted == 1 and plain.unbilled_cycles_count == 3
    assert cycles_of(plain) == [
        ("K1", d("2026-01-01"), d("2026-01-31")),
        ("K1", d("2026-02-01"), d("2026-02-28")),
        ("K1", d("2026-03-01"), d("2026-03-31")),
    ]
    assert [c.bill_for_date for c in plain.unbilled_cycles] == [d("2026-02-01"), d("2026-03-01"), d("2026-04-01")]

    caught = bill_run(con, APR, catch_up=True)
    assert (caught.drafted, caught.existing, caught.unbilled_cycles_count, caught.catch_up) == (3, 1, 0, True)
    assert caught.contracts_in_scope == 1
    starts = [r[0] for r in invoices(con)]
    assert starts == [d("2026-01-01"), d("2026-02-01"), d("2026-03-01"), d("2026-04-01")]
    outcomes = con.execute(
        "SELECT outcome, count(*) FROM bill_run_items WHERE run_id = ? GROUP BY 1 ORDER BY 1", [caught.run_id]
    ).fetchall()
    assert outcomes == [("drafted", 3), ("existing", 1)]

    again = bill_run(con, APR, catch_up=True)
    assert (again.drafted, again.existing, again.unbilled_cycles_count) == (0, 1, 0)
    assert len(invoices(con)) == 4


def test_catch_up_from_nothing_drafts_every_cycle_in_one_run(con):
    add_customer(con, "C1")
    add_contract(con, "K1", "C1", "2026-01-01")
    add_line(con, "L1", "K1", unit_price="100")
    report = bill_run(con, APR, catch_up=True)
    assert report.drafted == 4 and {r[1] for r in invoices(con)} == {report.run_id}
    assert review(con, run_id=report.run_id).unbilled_cycles == []


def test_what_counts_as_missed(con):
    add_customer(con, "C1")
    # advance billing: the April cycle is billed by the run itself; Jan-Mar are missed
    add_contract(con, "K-ADV", "C1", "2026-01-01", billing_timing="advance")
    add_line(con, "L-ADV", "K-ADV", unit_price="10")
    # ended before the date: its last (stub) cycle is missed although the contract is no longer active
    add_contract(con, "K-END", "C1", "2026-02-01", end_date="2026-03-10")
    add_line(con, "L-END", "K-END", unit_price="10")
    # a line only from March: January and February have nothing to bill and are not missed
    add_contract(con, "K-LATE", "C1", "2026-01-01")
    add_line(con, "L-LATE", "K-LATE", unit_price="10", start_date="2026-03-01")
    # ...unless there is a minimum commitment (a true-up line every cycle)
    add_contract(con, "K-MIN", "C1", "2026-03-01", minimum_commitment="10")
    # a one-time fee only: just the cycle of its date has something to bill
    add_contract(con, "K-ONCE", "C1", "2026-01-01")
    add_line(con, "L-ONCE", "K-ONCE", kind="one_time", unit_price="50", start_date="2026-02-10")
    # starts on the date: nothing before it
    add_contract(con, "K-NEW", "C1", "2026-04-15")
    add_line(con, "L-NEW", "K-NEW", unit_price="10")
    # a quarterly contract: its first quarter ended on 2026-03-31
    add_contract(con, "K-Q", "C1", "2026-01-01", billing_period="quarter")
    add_line(con, "L-Q", "K-Q", unit_price="10")
    listed, total = unbilled_cycles(con, APR)
    got = [(c.contract_id, str(c.period_start), str(c.period_end)) for c in listed]
    assert got == [
        ("K-ADV", "2026-01-01", "2026-01-31"),
        ("K-ADV", "2026-02-01", "2026-02-28"),
        ("K-ADV", "2026-03-01", "2026-03-31"),
        ("K-END", "2026-02-01", "2026-02-28"),
        ("K-END", "2026-03-01", "2026-03-10"),
        ("K-LATE", "2026-03-01", "2026-03-31"),
        ("K-MIN", "2026-03-01", "2026-03-31"),
        ("K-ONCE", "2026-02-01", "2026-02-28"),
        ("K-Q", "2026-01-01", "2026-03-31"),
    ]
    assert total == len(got)
    assert unbilled_cycles(con, APR, limit=2) == (listed[:2], total)
    assert unbilled_cycles(con, APR, Scope.of(customer_ids=["nobody"])) == ([], 0)

    report = bill_run(con, APR, catch_up=True)
    assert report.unbilled_cycles_count == 0 and not report.failed
    assert [r[0] for r in invoices(con, "K-END")] == [d("2026-02-01"), d("2026-03-01")]
    # a run scoped to one contract reports and catches up that contract only
    assert unbilled_cycles(con, dt.date(2026, 6, 15), Scope.of(["K-Q"])) == ([], 0)


def test_a_voided_invoice_leaves_its_cycle_unbilled_again(con):
    add_customer(con, "C1")
    add_contract(con, "K1", "C1", "2026-01-01")
    add_line(con, "L1", "K1", unit_price="100")
    bill_run(con, APR, catch_up=True)
    (jan,) = [r[0] for r in con.execute("SELECT invoice_id FROM invoices WHERE period_start = '2026-01-01'").fetchall()]
    approve_invoices(con, [jan], actor="t")
    finalize_invoice(con, jan, actor="t")
    void_invoice(con, jan, reason="wrong price", actor="t")
    report = bill_run(con, APR)
    assert cycles_of(report) == [("K1", d("2026-01-01"), d("2026-01-31"))]
    assert review(con, period_date=APR).unbilled_cycles == report.unbilled_cycles
    assert bill_run(con, APR, catch_up=True).drafted == 1


def test_catch_up_resumes_only_as_catch_up(con):
    """A catch-up run is its own run: its stored scope says so, so a plain run never resumes it."""
    add_customer(con, "C1")
    add_contract(con, "K1", "C1", "2026-01-01")
    add_line(con, "L1", "K1", unit_price="100")
    report = bill_run(con, APR, catch_up=True)
    assert report.scope["catch_up"] is True
    assert "catch_up" not in bill_run(con, APR).scope
