"""Magnitudes: what the importer accepts, rating computes exactly (money.MONEY_MAX_DIGITS, QTY_MAX_DIGITS).

    money values (prices, fees, commitments, delayed charges)   < 10^14   (14 digits before the point)
    quantities (line quantity, package size, tier bounds)       < 10^26   (26 digits)

At the bound the engine's amounts equal the Fraction definition (money.round_half_away); one past it the
import is refused with file, line, column and reason. What in-range values can still overflow (a sum of
huge charges beyond BIGINT minor units) fails alone: a bill run completes and reports it.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from fractions import Fraction

import pandas as pd
import pytest
from helpers_data import add_charge, add_contract, add_customer, add_line, stored_invoices

from engine.billing.bill_run import bill_run
from engine.billing.invoices import preview_invoice
from engine.currencies import minor_units
from engine.errors import ImportProblems
from engine.ingest.importer import import_frames
from engine.money import MONEY_LIMIT, MONEY_MAX_DIGITS, QTY_MAX_DIGITS, round_half_away

MARCH = dt.date(2026, 3, 15)
MONEY_AT_BOUND = "99999999999999.999999999999"  # 10^14 − 10^-12, the largest money value
MONEY_PAST = "100000000000000"  # 10^14
QTY_AT_BOUND = "99999999999999999999999999.999999"  # 10^26 − 10^-6
QTY_PAST = "100000000000000000000000000"


def frames(**tables: list[dict]) -> dict[str, pd.DataFrame]:
    """CSV-like frames (text cells) with a customer C1 and a contract K1 unless given."""
    base = {
        "customers": [{"customer_id": "C1", "name": "One", "currency": "USD"}],
        "contracts": [{"contract_id": "K1", "customer_id": "C1", "start_date": "2026-01-01"}],
    }
    base.update(tables)
    return {name: pd.DataFrame(rows, dtype=str) for name, rows in base.items()}


def line(**cells) -> dict:
    return {"line_id": "L1", "contract_id": "K1", "product": "P", "kind": "recurring", "pricing_model": "flat", **cells}


# --- import: at the bound accepted, one past it refused -------------------------------------------------------

CASES = {
    "unit_price": lambda v: frames(order_lines=[line(unit_price=v)]),
    "quantity": lambda v: frames(order_lines=[line(unit_price="1", quantity=v)]),
    "minimum_commitment": lambda v: frames(
        contracts=[{"contract_id": "K1", "customer_id": "C1", "start_date": "2026-01-01", "minimum_commitment": v}]
    ),
    "amount": lambda v: frames(
        delayed_charges=[
            {"charge_id": "D1", "customer_id": "C1", "description": "x", "amount": v, "charge_date": "2026-03-01"}
        ]
    ),
    "fixed_fee": lambda v: frames(order_lines=[line(pricing_model="percentage", percentage_rate="1", fixed_fee=v)]),
}
FILE_OF = {
    "unit_price": "order_lines.csv",
    "quantity": "order_lines.csv",
    "fixed_fee": "order_lines.csv",
    "minimum_commitment": "contracts.csv",
    "amount": "delayed_charges.csv",
}


@pytest.mark.parametrize("column", sorted(CASES))
def test_a_value_at_the_bound_imports(con, column):
    value = QTY_AT_BOUND if column == "quantity" else MONEY_AT_BOUND
    import_frames(con, CASES[column](value))


@pytest.mark.parametrize("column", sorted(CASES))
def test_one_past_the_bound_is_refused_with_file_line_column_and_reason(con, column):
    value, digits = (QTY_PAST, QTY_MAX_DIGITS) if column == "quantity" else (MONEY_PAST, MONEY_MAX_DIGITS)
    with pytest.raises(ImportProblems) as err:
        import_frames(con, CASES[column](value))
    [problem] = err.value.problems
    assert (problem["file"], problem["line"], problem["column"]) == (FILE_OF[column], 2, column)
    assert "too large" in problem["reason"] and f"at most {digits} digits" in problem["reason"]
    assert con.execute("SELECT count(*) FROM customers").fetchone()[0] == 0


def test_the_bounds_are_the_ones_derived_for_exact_arithmetic():
    assert (MONEY_MAX_DIGITS, QTY_MAX_DIGITS, MONEY_LIMIT) == (14, 26, 10**14)


# --- rating at the bound equals the Fraction definition --------------------------------------------------------


def expected_minor(amount: Fraction, currency: str) -> int:
    return round_half_away(amount * 10 ** minor_units(currency))


@pytest.mark.parametrize("currency", ["USD", "JPY", "KWD", "CLF"])
@pytest.mark.parametrize("start", ["2026-01-01", "2026-03-10"], ids=["whole period", "stub 22/31"])
def test_a_price_at_the_bound_rates_exactly(con, currency, start):
    add_customer(con, "C1", currency=currency)
    add_contract(con, "K1", "C1", start, billing_cycle_start_day=1)
    add_line(con, "L1", "K1", unit_price=MONEY_AT_BOUND)
    days = 31 if start == "2026-01-01" else 22
    inv = preview_invoice(con, "K1", MARCH)
    assert inv.lines[0].amount_minor == expected_minor(Fraction(Decimal(MONEY_AT_BOUND)) * Fraction(days, 31), currency)


def test_a_quantity_at_the_bound_times_the_smallest_price_rates_exactly(con):
    add_customer(con, "C1")
    add_contract(con, "K1", "C1", "2026-01-01")
    add_line(con, "L1", "K1", pricing_model="per_unit", unit_price="0.000000000001", quantity=QTY_AT_BOUND)
    inv = preview_invoice(con, "K1", MARCH)
    exact = Fraction(Decimal(QTY_AT_BOUND)) * Fraction(Decimal("0.000000000001"))
    assert inv.lines[0].amount_minor == expected_minor(exact, "USD")


def test_a_minimum_commitment_at_the_bound_rates_exactly(con):
    add_customer(con, "C1", currency="CLF")
    add_contract(con, "K1", "C1", "2026-03-10", billing_cycle_start_day=1, minimum_commitment=MONEY_AT_BOUND)
    add_line(con, "L1", "K1", unit_price="1")
    inv = preview_invoice(con, "K1", MARCH)
    committed = expected_minor(Fraction(Decimal(MONEY_AT_BOUND)) * Fraction(22, 31), "CLF")
    assert inv.subtotal_minor == committed


@pytest.mark.parametrize("currency", ["USD", "CLF", "JPY"])
def test_a_delayed_charge_at_the_bound_is_swept_exactly(con, currency):
    add_customer(con, "C1", currency=currency)
    add_contract(con, "K1", "C1", "2026-01-01")
    add_line(con, "L1", "K1", unit_price="1")
    add_charge(con, "D1", "C1", MONEY_AT_BOUND, "2026-03-01")
    report = bill_run(con, MARCH, include_delayed_charges=True)
    assert report.delayed_charges_swept == 1
    [inv] = stored_invoices(con)
    charge = expected_minor(Fraction(Decimal(MONEY_AT_BOUND)), currency)
    assert inv["subtotal_minor"] == 10 ** minor_units(currency) + charge


# --- what in-range values can still overflow fails alone ----------------------------------------------------------


def test_charges_that_would_carry_an_invoice_past_bigint_stay_pending_and_the_run_completes(con):
    """CLF (4 decimals): each charge of 99,999,999,999,999 CLF is 10^18 − 10^4 minor units; nine fit an
    invoice's BIGINT total, the tenth would not. It stays pending with the reason; the other contract's
    invoice and its charge are drafted as usual."""
    add_customer(con, "C1", currency="CLF")
    add_contract(con, "K1", "C1", "2026-01-01")
    add_line(con, "L1", "K1", unit_price="1")
    for n in range(10):
        add_charge(con, f"D{n}", "C1", "99999999999999", f"2026-03-{n + 1:02d}")
    add_customer(con, "C2")
    add_contract(con, "K2", "C2", "2026-01-01")
    add_line(con, "L2", "K2", unit_price="10.00")
    add_charge(con, "OK", "C2", "2.50", "2026-03-01")
    report = bill_run(con, MARCH, include_delayed_charges=True)
    assert report.drafted == 2 and report.delayed_charges_swept == 10
    [pending] = report.delayed_charges_pending
    assert pending.charge_id == "D9" and "too large" in pending.reason
    k1 = next(i for i in stored_invoices(con) if i["contract_id"] == "K1")
    assert k1["total_minor"] == 10**4 + 9 * (10**18 - 10**4)
    k2 = next(i for i in stored_invoices(con) if i["contract_id"] == "K2")
    assert k2["total_minor"] == 1250


def test_a_charge_beyond_the_bound_stays_pending_with_a_reason_and_the_others_are_swept(con):
    """Written to the store without the importer (which refuses it): the sweep still cannot compute it."""
    add_customer(con, "C1")
    add_contract(con, "K1", "C1", "2026-01-01")
    add_line(con, "L1", "K1", unit_price="1")
    add_charge(con, "HUGE", "C1", "1" + "0" * 20, "2026-03-01")
    add_charge(con, "FINE", "C1", "3.00", "2026-03-02")
    report = bill_run(con, MARCH, include_delayed_charges=True)
    assert report.delayed_charges_swept == 1
    [pending] = report.delayed_charges_pending
    assert pending.charge_id == "HUGE" and "too large" in pending.reason
    [inv] = stored_invoices(con)
    assert inv["total_minor"] == 400
