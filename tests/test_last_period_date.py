"""The last date billed (cycles.LAST_PERIOD_DATE): a yearly arrears cycle containing it, due 3650 days
after its bill_for_date (the longest payment terms an import accepts), still ends by 9999-12-31.

    LAST_PERIOD_DATE        cycle end       bill_for        due (+3650 d)
    9988-12-31              9989-12-30      9989-12-31      ≤ 9999-12-31
"""

from __future__ import annotations

import datetime as dt

import pytest
from helpers_data import add_contract, add_customer, add_line

from engine.billing.bill_run import bill_run
from engine.billing.invoices import preview_invoice
from engine.errors import ValidationError
from engine.rating.cycles import LAST_PERIOD_DATE, billing_cycles, cycle_of_date


@pytest.fixture
def yearly(con):
    add_customer(con, "C1")
    add_contract(con, "K1", "C1", "2026-12-31", billing_period="year", payment_terms_days=3650)
    add_line(con, "L1", "K1", unit_price="1.00")
    return con


def test_the_cycle_of_the_last_date_and_its_due_date_are_real_dates(yearly):
    cycle = cycle_of_date(yearly, "K1", LAST_PERIOD_DATE)
    assert cycle.start_date == LAST_PERIOD_DATE
    assert cycle.due_date <= dt.date(9999, 12, 31)
    assert preview_invoice(yearly, "K1", LAST_PERIOD_DATE).due_date == cycle.due_date


def test_one_day_later_is_refused_everywhere_it_enters(yearly):
    later = LAST_PERIOD_DATE + dt.timedelta(days=1)
    for call in (
        lambda: cycle_of_date(yearly, "K1", later),
        lambda: preview_invoice(yearly, "K1", later),
        lambda: billing_cycles(yearly, "K1", dt.date(2026, 1, 1), later),
        lambda: bill_run(yearly, later),
    ):
        with pytest.raises(ValidationError, match="9999-12-31"):
            call()
    assert yearly.execute("SELECT count(*) FROM invoices").fetchone()[0] == 0
