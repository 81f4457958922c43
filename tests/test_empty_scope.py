"""An empty list is an empty scope: nothing is billed. Only None means "no restriction" (docs/RULES.md).

bill_run(con, D)                      -> every active contract
bill_run(con, D, contract_ids=[])     -> none: 0 contracts in scope, nothing drafted or swept
"""

from __future__ import annotations

import datetime as dt

import pytest
from helpers_data import add_charge, add_contract, add_customer, add_line, stored_invoices

from engine.billing.bill_run import bill_run

MARCH = dt.date(2026, 3, 15)


@pytest.fixture
def two_customers(con):
    for cust in ("C1", "C2"):
        add_customer(con, cust)
        add_contract(con, f"K-{cust}", cust, "2026-01-01")
        add_line(con, f"L-{cust}", f"K-{cust}", unit_price="10.00")
        add_charge(con, f"DC-{cust}", cust, "1.00", "2026-03-01")
    return con


@pytest.mark.parametrize(
    "scope", [dict(contract_ids=[]), dict(customer_ids=[]), dict(contract_ids=[], customer_ids=[])]
)
def test_a_run_over_an_empty_list_drafts_nothing_and_sweeps_nothing(two_customers, scope):
    con = two_customers
    report = bill_run(con, MARCH, include_delayed_charges=True, finalize=True, **scope)
    assert (report.contracts_in_scope, report.drafted, report.finalized) == (0, 0, 0)
    assert report.delayed_charges_swept == 0 and report.delayed_charges_pending == []
    assert stored_invoices(con) == []
    assert report.scope["contract_ids"] == scope.get("contract_ids")
    assert report.scope["customer_ids"] == scope.get("customer_ids")


def test_an_empty_scope_and_no_scope_are_different_runs(two_customers):
    """The stored scope keeps [] apart from None, so the run with no filter is not mistaken for it."""
    con = two_customers
    empty = bill_run(con, MARCH, contract_ids=[])
    everything = bill_run(con, MARCH)
    assert empty.run_id != everything.run_id
    assert (empty.drafted, everything.drafted) == (0, 2)


def test_a_simulation_over_an_empty_contract_list_rates_no_cycle(two_customers):
    from engine.whatif.scenarios import parse_scenario, simulate

    scenario = parse_scenario({"name": "up", "changes": [{"type": "price", "percent": 10}]})
    summary = simulate(two_customers, scenario, dt.date(2026, 1, 1), dt.date(2026, 3, 31), contract_ids=[])
    assert summary["cycles"] == 0 and summary["rows"] == 0


def test_a_ledger_filter_with_an_empty_list_matches_no_invoice(two_customers, tmp_path):
    import csv

    from engine.io.export import export_ledger, ledger_frames

    con = two_customers
    bill_run(con, MARCH)
    frame, total = ledger_frames(con, {"customer_id": []})
    assert (len(frame), total) == (0, 0)
    paths = export_ledger(con, tmp_path, filters={"customer_id": []})
    with paths["invoices"].open() as f:
        assert list(csv.DictReader(f)) == []
