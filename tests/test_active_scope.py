"""'Active on a date, in this scope' has one definition: the Bill run page's count is the run's own count.

Timeline around the period date D = 2026-03-15 (contracts of customers C1, C2 in business B1, C3 in B2):

    K-ENDS-ON-D      2026-01-01 … D          active (end_date inclusive)
    K-STARTS-ON-D    D …                     active (its first cycle starts on D)
    K-ENDED-BEFORE   2026-01-01 … D − 1      not active
    K-STARTS-AFTER   D + 1 …                 not active
    K-OPEN-C2        2026-01-01 …            active (open-ended)
    K-OPEN-C3        2026-02-01 …            active, other business
"""

from __future__ import annotations

import datetime as dt

import pytest
from helpers_data import add_contract, add_customer, add_line

from engine.billing.bill_run import bill_run
from engine.billing.ledger_queries import contracts_in_scope
from engine.rating.targets import count_active_contracts
from engine.scope import Scope

D = dt.date(2026, 3, 15)
CONTRACTS = [
    ("K-ENDS-ON-D", "C1", "2026-01-01", "2026-03-15"),
    ("K-STARTS-ON-D", "C1", "2026-03-15", None),
    ("K-ENDED-BEFORE", "C1", "2026-01-01", "2026-03-14"),
    ("K-STARTS-AFTER", "C2", "2026-03-16", None),
    ("K-OPEN-C2", "C2", "2026-01-01", None),
    ("K-OPEN-C3", "C3", "2026-02-01", None),
]


@pytest.fixture
def data(con):
    add_customer(con, "C1", business_id="B1")
    add_customer(con, "C2", business_id="B1")
    add_customer(con, "C3", business_id="B2")
    for contract_id, customer_id, start, end in CONTRACTS:
        add_contract(con, contract_id, customer_id, start, end_date=end, billing_cycle_start_day=1)
        add_line(con, f"L-{contract_id}", contract_id, unit_price="10")
    return con


@pytest.mark.parametrize(
    "customer_ids, business_id, expected",
    [
        pytest.param(None, None, {"K-ENDS-ON-D", "K-STARTS-ON-D", "K-OPEN-C2", "K-OPEN-C3"}, id="all contracts"),
        pytest.param(["C1"], None, {"K-ENDS-ON-D", "K-STARTS-ON-D"}, id="ending on D and starting on D"),
        pytest.param(None, "B1", {"K-ENDS-ON-D", "K-STARTS-ON-D", "K-OPEN-C2"}, id="one business"),
        pytest.param(["C2", "C3"], "B1", {"K-OPEN-C2"}, id="business and customers together"),
        pytest.param(["C3"], "B1", set(), id="customers of another business"),
        pytest.param([], None, set(), id="empty customer list: nothing"),
    ],
)
def test_the_pages_count_is_the_number_of_contracts_the_run_rates(data, customer_ids, business_id, expected):
    shown = contracts_in_scope(data, D, Scope.of(customer_ids=customer_ids, business_id=business_id))
    report = bill_run(data, D, customer_ids=customer_ids, business_id=business_id)
    rated = {
        r[0] for r in data.execute("SELECT contract_id FROM invoices WHERE run_id = ?", [report.run_id]).fetchall()
    }
    assert rated == expected
    assert shown == report.contracts_in_scope == report.drafted == len(expected)


def test_explicit_contracts_count_only_those_active_on_the_date(data):
    scope = {"contract_ids": ["K-ENDS-ON-D", "K-ENDED-BEFORE", "K-UNKNOWN"]}
    assert count_active_contracts(data, D, Scope.of(**scope)) == 1
    report = bill_run(data, D, **scope)
    assert report.contracts_in_scope == 1
    assert {f.contract_id for f in report.failed} == {"K-ENDED-BEFORE", "K-UNKNOWN"}
