"""generate_invoice (Zenskar generate_invoice, spec section 4): the request's dates must be exactly one
listed cycle; a mismatch names the nearest valid cycles; ownership and duplicates are checked.

K1: monthly, anchor 1, arrears, from 2026-01-01 (cycles [Mar1, Mar31] B=Apr1, [Apr1, Apr30] B=May1 …)
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from helpers_data import add_contract, add_customer, add_line, stored_invoices

from engine.billing.approval import approve_invoices, hold_invoice, release_invoice
from engine.billing.invoices import draft_period_invoice, generate_invoice
from engine.billing.lifecycle import finalize_invoice
from engine.errors import (
    BillsimError,
    CycleMismatchError,
    InvoiceAlreadyGeneratedForThisBillingPeriod,
    NotFoundError,
    ValidationError,
)
from engine.models import GenerateInvoiceRequest

D = dt.date.fromisoformat


@pytest.fixture
def k1(con):
    add_customer(con, "C1")
    add_customer(con, "C2")
    add_contract(con, "K1", "C1", "2026-01-01", billing_cycle_start_day=1)
    add_line(con, "L1", "K1", unit_price="40.00")
    add_contract(
        con,
        "K-STUB",
        "C1",
        "2026-03-10",
        billing_cycle_start_day=1,
        billing_timing="advance",
        payment_terms_days=15,
    )
    add_line(con, "L2", "K-STUB", unit_price="50.00")
    add_contract(con, "K-END", "C1", "2026-01-01", end_date="2026-03-14", billing_cycle_start_day=1)
    add_line(con, "L3", "K-END", unit_price="31.00")
    return con


def req(
    contract_id="K1",
    customer_id="C1",
    from_date="2026-03-01",
    to_date="2026-03-31",
    bill_for_date="2026-04-01",
    **kw,
) -> GenerateInvoiceRequest:
    return GenerateInvoiceRequest(
        contract_id=contract_id,
        customer_id=customer_id,
        from_date=D(from_date),
        to_date=D(to_date),
        bill_for_date=D(bill_for_date),
        **kw,
    )


def test_exact_cycle_generates_its_invoice(k1):
    result = generate_invoice(k1, req(billing_cycle_start_day=1))
    assert result.created
    inv = result.invoice
    assert (inv.period_start, inv.period_end, inv.bill_for_date, inv.due_date, inv.total) == (
        D("2026-03-01"),
        D("2026-03-31"),
        D("2026-04-01"),
        D("2026-05-01"),
        Decimal("40.00"),
    )


def test_exact_stub_cycle_of_an_advance_contract(k1):
    """K-STUB: S=Mar10, advance: [Mar10, Mar31] B=Mar10 -> 22/31 × 50 = 35.48, due Mar25."""
    inv = generate_invoice(
        k1, req("K-STUB", from_date="2026-03-10", to_date="2026-03-31", bill_for_date="2026-03-10")
    ).invoice
    assert (inv.total, inv.due_date) == (Decimal("35.48"), D("2026-03-25"))


def test_exact_last_cycle_of_a_contract_ending_mid_cycle(k1):
    """K-END: E=Mar14: [Mar1, Mar14] B=Mar15 -> 14/31 × 31 = 14.00."""
    inv = generate_invoice(k1, req("K-END", to_date="2026-03-14", bill_for_date="2026-03-15")).invoice
    assert inv.total == Decimal("14.00")


@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param(dict(to_date="2026-03-30"), id="end one day short"),
        pytest.param(dict(from_date="2026-03-02"), id="start one day late"),
        pytest.param(dict(to_date="2026-04-30", bill_for_date="2026-05-01"), id="two cycles at once"),
        pytest.param(dict(bill_for_date="2026-03-01"), id="advance bill_for_date on an arrears contract"),
        pytest.param(dict(billing_cycle_start_day=15), id="wrong anchor day"),
    ],
)
def test_dates_that_match_no_cycle_are_a_cycle_mismatch_naming_the_nearest_cycles(k1, kwargs):
    """Never a silent empty result or a $0 invoice: a CycleMismatchError that names the valid March
    cycle, and nothing written."""
    with pytest.raises(CycleMismatchError) as err:
        generate_invoice(k1, req(**kwargs))
    text = str(err.value)
    assert "from_date=2026-03-01 to_date=2026-03-31 bill_for_date=2026-04-01" in text
    asked = text.split(" is not a billing cycle")[0]  # the request as given, every field that decided it
    assert all(f"{k}={v}" in asked for k, v in kwargs.items()), text
    assert stored_invoices(k1) == []


def test_a_mismatch_near_a_stub_names_the_stub_and_the_next_cycle(k1):
    """K-STUB asked for the full March [Mar1, Mar31]: the contract only has the stub [Mar10, Mar31]."""
    with pytest.raises(CycleMismatchError) as err:
        generate_invoice(k1, req("K-STUB", bill_for_date="2026-03-01"))
    text = str(err.value)
    assert "from_date=2026-03-10 to_date=2026-03-31 bill_for_date=2026-03-10" in text
    assert "from_date=2026-04-01 to_date=2026-04-30 bill_for_date=2026-04-01" in text


def test_dates_before_the_contract_start_are_a_clear_error_naming_its_first_cycle(k1):
    with pytest.raises(BillsimError) as err:
        generate_invoice(k1, req("K-STUB", from_date="2026-02-01", to_date="2026-02-28", bill_for_date="2026-02-01"))
    assert "2026-03-10" in str(err.value)
    assert stored_invoices(k1) == []


def test_a_customer_that_does_not_own_the_contract_is_an_error(k1):
    with pytest.raises(ValidationError, match="C2 does not own contract K1"):
        generate_invoice(k1, req(customer_id="C2"))
    assert stored_invoices(k1) == []


def test_an_unknown_contract_is_not_found(k1):
    with pytest.raises(NotFoundError, match="unknown contract"):
        generate_invoice(k1, req("K-NOPE"))


def test_check_duplicate_invoice_true_refuses_a_second_invoice_for_the_cycle(k1):
    first = generate_invoice(k1, req(check_duplicate_invoice=True)).invoice
    approve_invoices(k1, [first.invoice_id])  # approved counts as generated (spec section 8)
    with pytest.raises(InvoiceAlreadyGeneratedForThisBillingPeriod, match=first.invoice_id):
        generate_invoice(k1, req(check_duplicate_invoice=True))
    assert len(stored_invoices(k1)) == 1


def test_check_duplicate_invoice_true_returns_a_draft_or_held_invoice_of_the_cycle(k1):
    # a plain draft (or a held one) is still under review: not "already generated", it is returned
    first = generate_invoice(k1, req(check_duplicate_invoice=True)).invoice
    again = generate_invoice(k1, req(check_duplicate_invoice=True))
    assert not again.created and again.invoice.invoice_id == first.invoice_id
    hold_invoice(k1, first.invoice_id, reason="checking the usage", actor="ann")
    again = generate_invoice(k1, req(check_duplicate_invoice=True))
    assert not again.created and again.invoice.status == "held"
    release_invoice(k1, first.invoice_id, actor="ann")
    approve_invoices(k1, [first.invoice_id], actor="ann")
    finalize_invoice(k1, first.invoice_id, actor="ann")  # finalized: generated, too
    with pytest.raises(InvoiceAlreadyGeneratedForThisBillingPeriod, match="open"):
        generate_invoice(k1, req(check_duplicate_invoice=True))
    assert len(stored_invoices(k1)) == 1


def test_check_duplicate_invoice_true_also_sees_an_approved_draft_made_by_draft_period_invoice(k1):
    made = draft_period_invoice(k1, "K1", D("2026-03-20")).invoice
    approve_invoices(k1, [made.invoice_id])
    with pytest.raises(InvoiceAlreadyGeneratedForThisBillingPeriod):
        generate_invoice(k1, req())


def test_check_duplicate_invoice_false_returns_the_existing_invoice(k1):
    first = generate_invoice(k1, req(check_duplicate_invoice=False))
    again = generate_invoice(k1, req(check_duplicate_invoice=False))
    assert first.created and not again.created
    assert again.invoice == first.invoice
    assert len(stored_invoices(k1)) == 1


def test_the_error_code_of_a_duplicate_is_the_zenskar_name():
    assert InvoiceAlreadyGeneratedForThisBillingPeriod.code == "InvoiceAlreadyGeneratedForThisBillingPeriod"
