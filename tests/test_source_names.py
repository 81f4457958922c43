"""A source schema name reaches SQL as an identifier, so every entry point checks it against the one
allow-list (rating.sources.check_source): a name that is not a plain identifier raises."""

from __future__ import annotations

import datetime as dt

import pytest
from helpers_data import add_contract, add_customer, add_line

from engine.rating import cycles, usage_aggregation

D = dt.date(2026, 3, 15)
EVIL = "main.contracts WHERE 1=0; DROP TABLE customers; --"


@pytest.fixture
def one(con):
    add_customer(con, "C1")
    add_contract(con, "K1", "C1", "2026-01-01")
    add_line(con, "L1", "K1", unit_price="1.00")
    return con


@pytest.mark.parametrize(
    "call",
    [
        lambda con, s: cycles.billing_cycles(con, "K1", D, D, s),
        lambda con, s: cycles.contract_window(con, "K1", s),
        lambda con, s: cycles.check_date_in_contract(con, "K1", D, s),
        lambda con, s: cycles.cycle_of_date(con, "K1", D, s),
        lambda con, s: usage_aggregation.pending_usage(con, "K1", D, D, s),
        lambda con, s: usage_aggregation.aggregate_usage(con, s),
    ],
    ids=["billing_cycles", "contract_window", "check_date_in_contract", "cycle_of_date", "pending_usage", "aggregate"],
)
def test_a_malicious_source_name_raises_before_any_sql_runs(one, call):
    with pytest.raises(ValueError, match="bad source schema name"):
        call(one, EVIL)
    assert one.execute("SELECT count(*) FROM customers").fetchone()[0] == 1


def test_the_default_source_still_reads_the_main_schema(one):
    assert [c.start_date for c in cycles.billing_cycles(one, "K1", D, D)] == [dt.date(2026, 3, 1)]
