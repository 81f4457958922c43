"""Cycles a bill run would draft before they are due: the Bill run page warns about them before the run starts.

A run drafts the cycle of its date for every active contract (spec section 2), whether or not that cycle has
ended. On 2026-12-06, a run of 2026-11-30 drafts a monthly arrears cycle anchored on the 28th (11-28 … 12-27,
billed for 12-28) before its usage is complete; engine.rating.targets.count_not_due counts those.
"""

from __future__ import annotations

import datetime as dt

import pytest
from helpers_data import add_contract, add_customer, add_line

from engine.billing.bill_run import bill_run
from engine.rating.targets import count_not_due
from engine.scope import Scope
from engine.service import Billsim, Caller, bill_runs

D, TODAY = dt.date(2026, 11, 30), dt.date(2026, 12, 6)


def add_data(con) -> None:
    add_customer(con, "C1", business_id="B1")
    add_customer(con, "C2", business_id="B2")
    # 11-28 … 12-27, arrears: billed for 12-28, after today
    add_contract(con, "K-28", "C1", "2026-01-28", billing_cycle_start_day=28)
    # 11-01 … 11-30, arrears: billed for 12-01, before today
    add_contract(con, "K-1", "C1", "2026-01-01")
    # 11-28 … 12-27 billed in advance: billed for 11-28
    add_contract(con, "K-ADV", "C1", "2026-01-28", billing_cycle_start_day=28, billing_timing="advance")
    # quarterly from 10-01: 10-01 … 12-31, billed for 2027-01-01; another business
    add_contract(con, "K-Q", "C2", "2026-10-01", billing_period="quarter")
    for k in ("K-28", "K-1", "K-ADV", "K-Q"):
        add_line(con, f"L-{k}", k, unit_price="10")


@pytest.fixture
def data(con):
    add_data(con)
    return con


def test_only_cycles_billed_after_today_count(data):
    assert count_not_due(data, D, TODAY) == 2  # K-28 and K-Q
    assert count_not_due(data, D, dt.date(2026, 12, 28)) == 1  # K-28 is due on its bill-for date
    assert count_not_due(data, D, dt.date(2027, 1, 1)) == 0
    assert count_not_due(data, D, TODAY, Scope.of(business_id="B1")) == 1
    assert count_not_due(data, D, TODAY, Scope.of(["K-1", "K-ADV"])) == 0


def test_a_cycle_already_drafted_is_not_counted(data):
    bill_run(data, D, contract_ids=["K-28"])
    assert count_not_due(data, D, TODAY) == 1  # K-Q only: the run leaves K-28's draft as it is


def test_the_service_applies_the_callers_scope(tmp_path):
    with Billsim.open(tmp_path / "b.duckdb") as app:
        with app.database.cursor() as cur:
            add_data(cur)
        local = app.session(Caller.local("t"))
        assert bill_runs.cycles_not_due(local, D, Scope.of(), TODAY) == 2
        assert bill_runs.cycles_not_due(local, D, Scope.of(business_id="B2"), TODAY) == 1
        # a business's caller counts its own contracts only, whatever scope it asks for
        north = app.session(Caller.of_business("B1", "t"))
        assert bill_runs.cycles_not_due(north, D, Scope.of(), TODAY) == 1
