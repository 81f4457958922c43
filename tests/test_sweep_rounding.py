"""A delayed charge becomes the same line whichever operation takes it (delayed_charges.charge_minor_sql):
a bill run's sweep and batch create round it once, half away from zero, to the currency's minor unit.

    0.125 USD -> 13 cents      1.0005 KWD -> 1001 fils      0.5 JPY -> 1 yen
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from fractions import Fraction

import pytest
from helpers_data import add_charge, add_contract, add_customer, add_line

from engine.billing.bill_run import bill_run
from engine.billing.manual_invoices import batch_create
from engine.currencies import minor_units
from engine.models import LineItem, ManualBatchRequest, ManualInvoiceRequest
from engine.money import round_half_away

CASES = [("0.125", "USD", 13), ("1.0005", "KWD", 1001), ("0.5", "JPY", 1), ("0.004999999999", "USD", 0)]


@pytest.mark.parametrize("amount, currency, minor", CASES)
def test_a_run_and_a_batch_make_the_same_charge_line(con, amount, currency, minor):
    assert round_half_away(Fraction(Decimal(amount)) * 10 ** minor_units(currency)) == minor
    for customer in ("C-RUN", "C-BATCH"):
        add_customer(con, customer, currency=currency)
        add_charge(con, "D1" if customer == "C-RUN" else "D2", customer, amount, "2026-03-01")
    add_contract(con, "K1", "C-RUN", "2026-01-01")
    add_line(con, "L1", "K1", unit_price="1")
    bill_run(con, dt.date(2026, 3, 15), include_delayed_charges=True)
    item = ManualInvoiceRequest(customer_id="C-BATCH", line_items=[LineItem(description="x", unit_price=100)])
    result = batch_create(con, ManualBatchRequest(items=[item], include_delayed_charges=True))
    assert result.created == 1
    lines = dict(
        con.execute(
            """SELECT charge_id, (amount_minor, quantity::INTEGER, line_no) FROM invoice_lines
               WHERE charge_id IS NOT NULL"""
        ).fetchall()
    )
    assert lines["D1"] == lines["D2"] == (minor, 1, 2)
    invoice = result.results[0].invoice
    assert invoice.subtotal_minor == 100 + minor


def test_a_batch_leaves_a_charge_it_cannot_compute_pending_and_creates_the_invoice(con):
    add_customer(con, "C1")
    add_charge(con, "HUGE", "C1", "1" + "0" * 20, "2026-03-01")
    add_charge(con, "FINE", "C1", "2.00", "2026-03-02")
    item = ManualInvoiceRequest(customer_id="C1", line_items=[LineItem(description="x", unit_price=100)])
    result = batch_create(con, ManualBatchRequest(items=[item], include_delayed_charges=True))
    assert result.created == 1 and result.results[0].invoice.subtotal_minor == 300
    swept = [r[0] for r in con.execute("SELECT charge_id FROM delayed_charge_sweeps").fetchall()]
    assert swept == ["FINE"]
