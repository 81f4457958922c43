"""Credit notes and customer credit (spec section 12), each rule at its edge.

Every case bills monthly contracts from 2026-01-01 (anchor 1, arrears) and finalizes March's invoice:

    Jan 1        Feb 1        Mar 1        Apr 1        May 1
    |   cycle 1   |   cycle 2   |   cycle 3   |   cycle 4   |
                               ^ the March run (period date 2026-03-15) drafts and finalizes cycle 3

Amounts in the comments are major units; assertions compare integer minor units.
"""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal

import pytest
from helpers_data import add_contract, add_coupon, add_customer, add_line, add_tax, apply_coupon
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hs

from engine.billing.approval import approve_invoices
from engine.billing.bill_run import bill_run
from engine.billing.credit_notes import (
    create_credit_note_tx,
    credit_available_minor,
    credit_balances,
    estimate_credit_note,
    load_credit_note,
    split_by_largest_remainder,
)
from engine.billing.invoice_store import load_invoice
from engine.billing.lifecycle import finalize_invoice, record_payment, record_payment_tx, void_invoice
from engine.db import connect, retry_on_conflict
from engine.errors import BillsimError, InvalidStateError, ValidationError

MARCH, FEBRUARY = dt.date(2026, 3, 15), dt.date(2026, 2, 15)


def issue(con, invoice_id, *, lines=None, everything=False, reason="order_change", **split):
    """Issue a note ({line_no: 'amount'} or everything left) and read it back."""
    items = None if lines is None else [(n, Decimal(a)) for n, a in lines.items()]
    note_id = retry_on_conflict(
        con,
        lambda c: create_credit_note_tx(
            c,
            invoice_id,
            reason=reason,
            items=items,
            everything=everything,
            actor="ana",
            **{k: Decimal(v) for k, v in split.items()},
        ),
    )
    return load_credit_note(con, note_id)


def march_invoice(con, contract="K1", date=MARCH) -> str:
    bill_run(con, date, contract_ids=[contract], finalize=True, requested_by="ana")
    return con.execute(
        "SELECT invoice_id FROM invoices WHERE contract_id = ? AND period_start <= ? AND period_end >= ?",
        [contract, date, date],
    ).fetchone()[0]


def simple(con, *prices, tax_rate="10", currency="USD") -> str:
    """Customer C1 (tax_rate), contract K1 with one flat line per price (L1, L2, …); March's invoice finalized."""
    add_customer(con, "C1", currency=currency, tax_rate=tax_rate)
    add_contract(con, "K1", "C1", "2026-01-01", billing_cycle_start_day=1)
    for k, price in enumerate(prices, 1):
        add_line(con, f"L{k}", "K1", unit_price=price)
    return march_invoice(con)


def snapshot(con) -> tuple:
    """Everything a credit note writes."""
    return (
        con.execute("SELECT * FROM invoices ORDER BY invoice_id").fetchall(),
        con.execute("SELECT count(*) FROM credit_notes").fetchone(),
        con.execute("SELECT count(*) FROM credit_note_items").fetchone(),
        con.execute("SELECT count(*) FROM credit_note_taxes").fetchone(),
        con.execute("SELECT * FROM customer_credit ORDER BY ALL").fetchall(),
        con.execute("SELECT count(*) FROM customer_credit_entries").fetchone(),
        con.execute("SELECT count(*) FROM invoice_events").fetchone(),
    )


# --- what a line can be credited -----------------------------------------------------------------------------------


def test_a_line_credited_in_two_notes_then_fully_has_nothing_left(con):
    """L1 100.00 + L2 50.00, 10 % tax: 30.00 of L1, then 70.00 (all that is left); a third cent is refused."""
    inv = simple(con, "100.00", "50.00")
    first = issue(con, inv, lines={1: "30.00"})
    assert (first.subtotal_minor, first.tax_minor, first.total_minor) == (3000, 300, 3300)
    assert [ln.creditable_minor for ln in estimate_credit_note(con, inv).lines] == [7000, 5000]
    second = issue(con, inv, lines={1: "70.00"})
    assert (second.subtotal_minor, second.tax_minor) == (7000, 700)
    lines = estimate_credit_note(con, inv).lines
    assert [(ln.credited_minor, ln.creditable_minor) for ln in lines] == [(10000, 0), (0, 5000)]
    with pytest.raises(ValidationError) as refused:
        issue(con, inv, lines={1: "0.01"})
    assert refused.value.code == "credit_exceeds_line" and "at most 0.00 USD" in str(refused.value)
    assert [first.number, second.number] == ["INV-2026-000001-CN1", "INV-2026-000001-CN2"]


def test_a_credit_note_is_numbered_after_its_invoice_with_the_business_prefix(con):
    con.execute("INSERT INTO businesses (business_id, name, invoice_prefix) VALUES ('default', 'North', 'NOR')")
    inv = simple(con, "100.00")
    assert issue(con, inv, lines={1: "1.00"}).number == "NOR-2026-000001-CN1"


def test_a_line_can_be_credited_only_what_its_discount_left(con):
    """A 25 % coupon on L1 100.00: the line can be credited 75.00, not 100.00."""
    add_customer(con, "C1")
    add_contract(con, "K1", "C1", "2026-01-01", billing_cycle_start_day=1)
    add_line(con, "L1", "K1", unit_price="100.00")
    add_coupon(con, "Q", percent="25")
    apply_coupon(con, "K1", "Q", "2026-01-01")
    inv = march_invoice(con)
    assert estimate_credit_note(con, inv).lines[0].creditable_minor == 7500
    with pytest.raises(ValidationError) as refused:
        issue(con, inv, lines={1: "75.01"})
    assert refused.value.code == "credit_exceeds_line"
    assert issue(con, inv, lines={1: "75.00"}).total_minor == 7500


@pytest.mark.parametrize(
    "lines, code",
    [
        ({9: "1.00"}, "line_not_found"),
        ({1: "0"}, "validation_error"),
        ({1: "-1.00"}, "validation_error"),
        ({1: "1.005"}, "validation_error"),  # more decimals than USD has
    ],
)
def test_a_bad_line_is_refused_and_nothing_is_written(con, lines, code):
    inv = simple(con, "10.00")
    before = snapshot(con)
    with pytest.raises(ValidationError) as refused:
        issue(con, inv, lines=lines)
    assert refused.value.code == code
    assert snapshot(con) == before


# --- the tax of a note: per code, the last note takes exactly what is left -----------------------------------------


def test_every_note_of_an_invoice_with_several_taxes_and_a_coupon_sums_to_its_total_to_the_minor_unit(con):
    """T10 10 %, T12 12 %, T55 5.5 %; lines A 10.00 (T10), B 20.00 (T10, T12), C 33.33 (T55), D 7.77 (exempt); a
    12.5 % coupon. Notes of odd amounts (each rounded on its own), then everything left: per code the notes sum to
    the invoice's tax, and in all to its total."""
    for code, rate in (("T10", "10"), ("T12", "12"), ("T55", "5.5")):
        add_tax(con, code, rate)
    add_customer(con, "C1", tax_codes="T10")
    add_contract(con, "K1", "C1", "2026-01-01", billing_cycle_start_day=1)
    add_line(con, "A", "K1", unit_price="10.00")
    add_line(con, "B", "K1", unit_price="20.00", tax_codes="T10;T12")
    add_line(con, "C", "K1", unit_price="33.33", tax_codes="T55")
    add_line(con, "D", "K1", unit_price="7.77", tax_codes="none")
    add_coupon(con, "P", percent="12.5")
    apply_coupon(con, "K1", "P", "2026-01-01")
    inv_id = march_invoice(con)
    inv = load_invoice(con, inv_id)
    assert inv.discount_minor > 0 and len(inv.taxes) == 3
    notes = [
        issue(con, inv_id, lines={1: "3.33", 3: "11.11"}),
        issue(con, inv_id, lines={2: "0.01"}),
        issue(con, inv_id, lines={2: "9.99", 4: "1.01"}),
        issue(con, inv_id, lines={3: "0.07"}),
        issue(con, inv_id, everything=True),
    ]
    assert sum(n.total_minor for n in notes) == inv.total_minor
    assert sum(n.subtotal_minor for n in notes) == inv.subtotal_minor - inv.discount_minor
    for tax in inv.taxes:
        credited = sum(t.amount_minor for n in notes for t in n.taxes if t.code == tax.code)
        assert credited == tax.amount_minor, tax.code
    for n in notes:  # each note: items + tax = total, the items' taxes = its tax, split = total
        assert n.subtotal_minor + n.tax_minor == n.total_minor
        assert sum(i.tax_minor for i in n.items) == n.tax_minor
        assert n.offset_minor + n.refund_minor + n.credit_minor == n.total_minor
    # a note's tax per code is round(base × rate / 100) until the code's lines are all credited: 11.11 × 5.5 %
    t55 = next(t for t in notes[0].taxes if t.code == "T55")
    assert (t55.base_minor, t55.amount_minor) == (1111, 61)  # 61.105 cents, half away from zero
    assert load_invoice(con, inv_id).balance_due_minor == 0


def test_a_notes_tax_never_takes_more_than_the_invoice_has_left_of_a_code(con):
    """Four lines of 0.05 at 10 %: the invoice's tax is round(0.02) = 0.02; one line per note: round(0.005) = 0.01,
    0.01, then nothing is left (0 although round(0.005) is 0.01), and the last note takes the rest: 0."""
    inv_id = simple(con, "0.05", "0.05", "0.05", "0.05")
    assert load_invoice(con, inv_id).tax_minor == 2
    taxes = [issue(con, inv_id, lines={n: "0.05"}).tax_minor for n in (1, 2, 3, 4)]
    assert taxes == [1, 1, 0, 0]


def test_the_last_note_of_a_code_takes_exactly_what_is_left_even_below_its_rounding(con):
    """Three lines of 0.05 at 10 %: tax round(0.015) = 0.02. Notes of 0.05 each: 0.01, 0.01, then the last one takes
    what is left, 0.00 — and a note of two lines at once after the first takes 0.01 (everything left)."""
    inv_id = simple(con, "0.05", "0.05", "0.05")
    assert issue(con, inv_id, lines={1: "0.05"}).tax_minor == 1
    last = issue(con, inv_id, lines={2: "0.05", 3: "0.05"})
    assert last.tax_minor == 1  # left exactly, though round(0.01) would be 0.01 too
    assert sum(i.tax_minor for i in last.items) == 1 and [i.tax_minor for i in last.items] == [1, 0]


def test_items_share_a_codes_tax_by_largest_remainder_ties_to_the_smaller_line():
    assert split_by_largest_remainder(10, {1: 1, 2: 1, 3: 1}) == {1: 4, 2: 3, 3: 3}
    assert split_by_largest_remainder(7, {5: 300, 2: 100}) == {5: 5, 2: 2}  # 5.25 / 1.75: the .75 gets the unit
    assert split_by_largest_remainder(0, {1: 5}) == {1: 0}


def test_an_invoice_with_a_negative_line_can_never_be_credited_beyond_its_total(con):
    """L1 100.00 and a credit line L2 −60.00: the invoice is 40.00 + 4.00 tax. L1 alone could be credited 100.00;
    the note is refused beyond what is left of the invoice's total (44.00)."""
    inv_id = simple(con, "100.00", "-60.00")
    with pytest.raises(ValidationError) as refused:
        issue(con, inv_id, lines={1: "100.00"})
    assert refused.value.code == "credit_exceeds_invoice"
    assert issue(con, inv_id, lines={1: "40.00"}).total_minor == 4400  # 40.00 + its tax 4.00, all that was left
    assert load_invoice(con, inv_id).balance_due_minor == 0


# --- the split: offset, refund, credit ----------------------------------------------------------------------------


def test_without_a_split_the_note_goes_off_the_balance_due_and_the_rest_to_the_customers_credit(con):
    """Invoice 110.00, paid 80.00 (balance 30.00); a note of 55.00: 30.00 off the balance, 25.00 to credit."""
    inv_id = simple(con, "50.00", "50.00")
    record_payment(con, inv_id, Decimal("80.00"))
    note = issue(con, inv_id, lines={1: "50.00"})
    assert (note.total_minor, note.offset_minor, note.refund_minor, note.credit_minor) == (5500, 3000, 0, 2500)
    inv = load_invoice(con, inv_id)
    assert (inv.balance_due_minor, inv.credit_offset_minor, inv.status) == (0, 3000, "partially_paid")
    assert credit_available_minor(con, "C1", "USD") == 2500


def test_an_explicit_split_must_add_up_and_each_part_keep_its_limit(con):
    """Invoice 110.00, paid 80.00: a note of 55.00 with refund 20.00 and credit 5.00 -> offset 30.00."""
    inv_id = simple(con, "50.00", "50.00")
    record_payment(con, inv_id, Decimal("80.00"))
    note = issue(con, inv_id, lines={1: "50.00"}, refund="20.00", credit="5.00")
    assert (note.offset_minor, note.refund_minor, note.credit_minor) == (3000, 2000, 500)
    assert load_invoice(con, inv_id).refunded_minor == 2000


@pytest.mark.parametrize(
    "split, code, words",
    [
        ({"refund": "80.01"}, "refund_exceeds_payments", "refund 80.01 USD is more than the payments"),
        ({"offset": "30.01", "credit": "24.99"}, "offset_exceeds_balance", "offset 30.01 USD is more than the balance"),
        ({"offset": "10.00", "credit": "10.00"}, "split_mismatch", "must be the credit note's total 55.00 USD"),
        ({"refund": "60.00"}, "split_mismatch", "does not add up"),  # within the payments, beyond the note
        ({"credit": "-1.00"}, "validation_error", "cannot be negative"),
    ],
)
def test_a_split_beyond_a_limit_is_refused_naming_it_and_nothing_is_written(con, split, code, words):
    inv_id = simple(con, "50.00", "50.00")
    record_payment(con, inv_id, Decimal("80.00"))  # balance due 30.00
    before = snapshot(con)
    with pytest.raises(ValidationError) as refused:
        issue(con, inv_id, lines={1: "50.00"}, **split)
    assert refused.value.code == code and words in str(refused.value)
    assert snapshot(con) == before


def test_a_refund_needs_payments_and_earlier_refunds_count(con):
    inv_id = simple(con, "50.00", "50.00")
    record_payment(con, inv_id, Decimal("30.00"))
    issue(con, inv_id, lines={1: "10.00"}, refund="11.00")
    with pytest.raises(ValidationError) as refused:
        issue(con, inv_id, lines={1: "20.00"}, refund="19.01")
    assert refused.value.code == "refund_exceeds_payments" and "refunded 11.00 USD" in str(refused.value)


def test_the_estimates_refund_and_offset_are_what_the_next_note_can_take_never_beyond_what_is_left(con):
    """Invoice 110.00 paid in full, a note of 55.00 (credited) already: 55.00 is left to credit, so the next note
    refunds at most 55.00 (of the 110.00 paid), and that refund is accepted. Unpaid with a note of 55.00 to the
    customer's credit: the balance due stays 110.00, the next note offsets at most 55.00."""
    inv_id = simple(con, "50.00", "50.00")
    record_payment(con, inv_id, Decimal("110.00"))
    issue(con, inv_id, lines={1: "50.00"}, credit="55.00")
    est = estimate_credit_note(con, inv_id)
    assert (est.creditable_total_minor, est.paid_less_refunds_minor, est.max_refund_minor) == (5500, 11000, 5500)
    assert est.max_refund == Decimal("55.00") and est.paid_less_refunds == Decimal("110.00")
    note = issue(con, inv_id, everything=True, refund=str(est.max_refund))
    assert (note.total_minor, note.refund_minor) == (5500, 5500)
    assert estimate_credit_note(con, inv_id).paid_less_refunds_minor == 5500  # what is left of the payments

    other = simple_second_invoice(con)
    issue(con, other, lines={1: "50.00"}, credit="55.00")
    est = estimate_credit_note(con, other)
    assert (est.balance_due_minor, est.creditable_total_minor, est.max_offset_minor) == (11000, 5500, 5500)
    assert (est.max_refund_minor, est.paid_less_refunds_minor) == (0, 0)  # nothing paid


def simple_second_invoice(con) -> str:
    """A second customer and contract like `simple`'s (two flat lines of 50.00, tax 10 %): March's invoice of K2,
    finalized."""
    add_customer(con, "C2", tax_rate="10")
    add_contract(con, "K2", "C2", "2026-01-01", billing_cycle_start_day=1)
    for k in (1, 2):
        add_line(con, f"M{k}", "K2", unit_price="50.00")
    return march_invoice(con, "K2")


# --- which invoices can be credited -------------------------------------------------------------------------------


def test_a_draft_or_approved_invoice_is_refused_and_nothing_is_written(con):
    add_customer(con, "C1", tax_rate="10")
    add_contract(con, "K1", "C1", "2026-01-01", billing_cycle_start_day=1)
    add_line(con, "L1", "K1", unit_price="10.00")
    bill_run(con, MARCH)
    inv_id = con.execute("SELECT invoice_id FROM invoices").fetchone()[0]
    for status in ("draft", "approved"):
        if status == "approved":
            approve_invoices(con, [inv_id], actor="ana")
        before = snapshot(con)
        with pytest.raises(InvalidStateError) as refused:
            issue(con, inv_id, everything=True)
        assert f"it is {status}" in str(refused.value) and "finalize it first" in str(refused.value)
        assert snapshot(con) == before


def test_a_void_invoice_is_refused_and_one_with_credit_notes_cannot_be_voided(con):
    inv_id = simple(con, "10.00", "20.00")
    issue(con, inv_id, lines={1: "1.00"})
    with pytest.raises(InvalidStateError) as refused:
        void_invoice(con, inv_id, "wrong")
    assert "credit notes corrected it already" in str(refused.value)
    assert load_invoice(con, inv_id).status == "open"
    con.execute("UPDATE invoices SET status = 'void' WHERE invoice_id = ?", [inv_id])  # voided before (no notes)
    before = snapshot(con)
    with pytest.raises(InvalidStateError) as refused:
        issue(con, inv_id, lines={2: "1.00"})
    assert "it is void" in str(refused.value)
    assert snapshot(con) == before


def test_a_paid_invoice_can_be_credited_and_keeps_its_status(con):
    """Paid in full (manual_paid): nothing is due, so a note goes to the customer's credit, or is refunded."""
    inv_id = simple(con, "10.00")
    record_payment(con, inv_id, Decimal("11.00"))
    note = issue(con, inv_id, lines={1: "5.00"})
    assert (note.offset_minor, note.credit_minor) == (0, 550)
    assert load_invoice(con, inv_id).status == "manual_paid"


# --- balance due and payments ----------------------------------------------------------------------------------------


def test_a_payment_beyond_the_balance_left_by_a_credit_note_is_refused(con):
    """110.00, a note of 33.00 off the balance: 77.00 due; 77.01 is refused, 77.00 pays it."""
    inv_id = simple(con, "30.00", "70.00")
    issue(con, inv_id, lines={1: "30.00"})
    assert load_invoice(con, inv_id).balance_due_minor == 7700
    with pytest.raises(ValidationError, match="exceeds the balance due 77.00 USD"):
        record_payment(con, inv_id, Decimal("77.01"))
    assert record_payment(con, inv_id, Decimal("77.00")).status == "manual_paid"


def test_a_credit_note_is_an_event_of_its_invoice_with_actor_reason_and_note(con):
    inv_id = simple(con, "10.00")
    note_id = retry_on_conflict(
        con,
        lambda c: create_credit_note_tx(
            c, inv_id, reason="duplicate", items=[(1, Decimal("2.00"))], note="billed twice", actor="bea"
        ),
    )
    event = con.execute(
        """SELECT actor, action, status_before, status_after, note, changes->>'credit_note_id', changes->>'total'
           FROM invoice_events WHERE invoice_id = ? ORDER BY event_id DESC LIMIT 1""",
        [inv_id],
    ).fetchone()
    assert event == ("bea", "credit_note_issued", "open", "open", "duplicate: billed twice", note_id, "2.20")


# --- customer credit -----------------------------------------------------------------------------------------------


def _credit_from_february(con, amount: str) -> None:
    """February's invoice of K1 finalized and paid; a note of `amount` (before tax, no tax) all to credit."""
    feb = march_invoice(con, "K1", FEBRUARY)
    total = load_invoice(con, feb).total
    record_payment(con, feb, total)
    note = issue(con, feb, lines={1: amount})
    assert note.credit_minor == note.total_minor


def test_credit_is_applied_to_the_next_invoice_in_its_currency_only(con):
    """C1 holds 30.00 USD credit. March: K1 (USD, 40.00) takes 30.00; K-EUR (EUR, 25.00) takes nothing."""
    add_customer(con, "C1", currency="USD", tax_rate="0")
    add_contract(con, "K1", "C1", "2026-01-01", billing_cycle_start_day=1)
    add_contract(con, "K-EUR", "C1", "2026-01-01", billing_cycle_start_day=1, currency="EUR")
    add_line(con, "L1", "K1", unit_price="40.00")
    add_line(con, "L-EUR", "K-EUR", unit_price="25.00")
    _credit_from_february(con, "30.00")
    assert [(b.currency, b.balance_minor) for b in credit_balances(con, None)] == [("USD", 3000)]
    bill_run(con, MARCH, finalize=True)
    by_currency = {
        r[0]: r[1:]
        for r in con.execute(
            """SELECT currency, credits_applied_minor, total_minor, total_minor - credits_applied_minor
               FROM invoices WHERE period_start = '2026-03-01'"""
        ).fetchall()
    }
    assert by_currency == {"USD": (3000, 4000, 1000), "EUR": (0, 2500, 2500)}
    assert credit_available_minor(con, "C1", "USD") == 0
    usd = con.execute("SELECT invoice_id FROM invoices WHERE currency = 'USD' AND period_start = '2026-03-01'")
    assert load_invoice(con, usd.fetchone()[0]).balance_due_minor == 1000


def test_invoices_finalized_together_take_the_credit_in_number_order(con):
    """50.00 credit; K1 and K2 (40.00 each) finalized by one run: the first numbered takes 40.00, the next 10.00."""
    add_customer(con, "C1", tax_rate="0")
    add_contract(con, "K1", "C1", "2026-01-01", billing_cycle_start_day=1)
    add_contract(con, "K2", "C1", "2026-03-01", billing_cycle_start_day=1)
    add_line(con, "L1", "K1", unit_price="40.00")
    add_line(con, "L2", "K2", unit_price="40.00")
    _credit_from_february(con, "40.00")
    con.execute("UPDATE customer_credit SET balance_minor = 5000")  # 50.00, to share between two invoices
    bill_run(con, MARCH, finalize=True)
    rows = con.execute(
        "SELECT number, credits_applied_minor FROM invoices WHERE period_start = '2026-03-01' ORDER BY number"
    ).fetchall()
    assert [applied for _, applied in rows] == [4000, 1000]
    entries = con.execute(
        "SELECT kind, sum(amount_minor) FROM customer_credit_entries GROUP BY kind ORDER BY kind"
    ).fetchall()
    assert entries == [("applied", -5000), ("credit_note", 4000)]  # the history (the test added 10.00 by hand)


def test_a_draft_takes_no_credit_until_it_is_finalized_and_a_void_gives_it_back(con):
    add_customer(con, "C1", tax_rate="0")
    add_contract(con, "K1", "C1", "2026-01-01", billing_cycle_start_day=1)
    add_line(con, "L1", "K1", unit_price="40.00")
    _credit_from_february(con, "15.00")
    bill_run(con, MARCH)
    draft = con.execute("SELECT invoice_id FROM invoices WHERE status = 'draft'").fetchone()[0]
    assert load_invoice(con, draft).credits_applied_minor == 0 and credit_available_minor(con, "C1", "USD") == 1500
    approve_invoices(con, [draft], actor="ana")
    inv = finalize_invoice(con, draft)
    assert (inv.credits_applied_minor, inv.balance_due_minor) == (1500, 2500)
    event = con.execute(
        "SELECT changes FROM invoice_events WHERE invoice_id = ? AND action = 'finalized'", [draft]
    ).fetchone()[0]
    assert '"credits_applied_minor":1500' in event
    void_invoice(con, draft, "billed in error")
    assert credit_available_minor(con, "C1", "USD") == 1500


def test_an_invoice_fully_covered_by_credit_owes_nothing_and_takes_no_payment(con):
    add_customer(con, "C1", tax_rate="0")
    add_contract(con, "K1", "C1", "2026-01-01", billing_cycle_start_day=1)
    add_line(con, "L1", "K1", unit_price="40.00")
    _credit_from_february(con, "40.00")
    con.execute("UPDATE customer_credit SET balance_minor = 9000")
    inv = load_invoice(con, march_invoice(con))
    assert (inv.credits_applied_minor, inv.balance_due_minor, inv.status) == (4000, 0, "open")
    assert credit_available_minor(con, "C1", "USD") == 5000
    with pytest.raises(ValidationError, match="exceeds the balance due 0.00"):
        record_payment(con, inv.invoice_id, Decimal("0.01"))


# --- at the same moment ----------------------------------------------------------------------------------------------


def _at_once(con, calls) -> list[object]:
    """Each call(cursor) in its own thread, released together; its result or its error."""
    barrier = threading.Barrier(len(calls))
    outcomes: list[object] = [None] * len(calls)

    def work(k: int) -> None:
        cur = con.cursor()
        try:
            barrier.wait()
            outcomes[k] = calls[k](cur)
        except Exception as exc:  # returned to the test, which asserts on it
            outcomes[k] = exc
        finally:
            cur.close()

    threads = [threading.Thread(target=work, args=(k,)) for k in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return outcomes


def test_notes_issued_at_the_same_moment_on_one_invoice_never_credit_more_than_it_holds(con):
    """Four threads each credit 60.00 of a 100.00 line: one note is issued, the others are refused (their
    transaction re-ran on what the first left)."""
    inv_id = simple(con, "100.00")

    def credit_60(cur):
        return retry_on_conflict(
            cur,
            lambda c: create_credit_note_tx(c, inv_id, reason="duplicate", items=[(1, Decimal("60.00"))], actor="t"),
        )

    outcomes = _at_once(con, [credit_60] * 4)
    issued = [o for o in outcomes if isinstance(o, str)]
    refused = [o for o in outcomes if isinstance(o, BillsimError)]
    assert len(issued) == 1 and len(refused) == 3, outcomes
    assert {e.code for e in refused} == {"credit_exceeds_line"}
    inv = load_invoice(con, inv_id)
    assert (
        inv.credit_notes_total_minor == 6600 == con.execute("SELECT sum(total_minor) FROM credit_notes").fetchone()[0]
    )


def test_notes_for_different_lines_at_the_same_moment_are_both_issued_numbered_1_and_2(con):
    inv_id = simple(con, "10.00", "20.00")

    def credit(line_no):
        return lambda cur: retry_on_conflict(
            cur,
            lambda c: create_credit_note_tx(c, inv_id, reason="other", items=[(line_no, Decimal("1.00"))], actor="t"),
        )

    outcomes = _at_once(con, [credit(1), credit(2)])
    assert all(isinstance(o, str) for o in outcomes), outcomes
    numbers = [r[0] for r in con.execute("SELECT sequence FROM credit_notes ORDER BY sequence").fetchall()]
    assert numbers == [1, 2] and load_invoice(con, inv_id).credit_notes_total_minor == 220


def test_two_bill_runs_finalizing_at_once_share_the_customers_credit_without_spending_it_twice(con):
    """C1 holds 50.00; two runs (K1, K2: 40.00 each) finalize at the same moment: together they take exactly 50.00,
    the balance never goes below 0."""
    add_customer(con, "C1", tax_rate="0")
    add_contract(con, "K1", "C1", "2026-01-01", billing_cycle_start_day=1)
    add_contract(con, "K2", "C1", "2026-03-01", billing_cycle_start_day=1)
    add_line(con, "L1", "K1", unit_price="40.00")
    add_line(con, "L2", "K2", unit_price="40.00")
    _credit_from_february(con, "40.00")
    con.execute("UPDATE customer_credit SET balance_minor = 5000")

    def run(contract):
        return lambda cur: bill_run(cur, MARCH, contract_ids=[contract], finalize=True, requested_by="t").finalized

    assert _at_once(con, [run("K1"), run("K2")]) == [1, 1]
    applied = sorted(
        r[0]
        for r in con.execute("SELECT credits_applied_minor FROM invoices WHERE period_start = '2026-03-01'").fetchall()
    )
    assert applied == [1000, 4000] and credit_available_minor(con, "C1", "USD") == 0


# --- any sequence of notes and payments -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def taxed_invoice():
    """One finalized invoice with three taxes, a coupon and an exempt line (lines 1–4); every example works in a
    transaction that is rolled back."""
    con = connect(":memory:")
    for code, rate in (("T10", "10"), ("T12", "12"), ("T55", "5.5")):
        add_tax(con, code, rate)
    add_customer(con, "C1", tax_codes="T10")
    add_contract(con, "K1", "C1", "2026-01-01", billing_cycle_start_day=1)
    add_line(con, "A", "K1", unit_price="10.01")
    add_line(con, "B", "K1", unit_price="20.03", tax_codes="T10;T12")
    add_line(con, "C", "K1", unit_price="33.33", tax_codes="T55")
    add_line(con, "D", "K1", unit_price="7.77", tax_codes="none")
    add_coupon(con, "P", percent="12.5")
    apply_coupon(con, "K1", "P", "2026-01-01")
    inv_id = march_invoice(con)
    yield con, inv_id
    con.close()


NOTE = hs.tuples(
    hs.just("note"),
    hs.lists(hs.tuples(hs.integers(1, 5), hs.integers(1, 120)), min_size=1, max_size=4, unique_by=lambda t: t[0]),
    hs.integers(0, 100),
    hs.booleans(),
)
OPS = hs.lists(hs.one_of(hs.tuples(hs.just("pay"), hs.integers(1, 100)), NOTE, hs.just(("all",))), max_size=8)


def _invariants(con, inv_id) -> None:
    inv = load_invoice(con, inv_id)
    notes = con.execute(
        "SELECT coalesce(sum(total_minor), 0), coalesce(sum(refund_minor), 0) FROM credit_notes WHERE invoice_id = ?",
        [inv_id],
    ).fetchone()
    assert notes[0] == inv.credit_notes_total_minor <= inv.total_minor
    assert inv.balance_due_minor >= 0
    assert notes[1] == inv.refunded_minor <= inv.total_paid_minor
    for tax in inv.taxes:
        credited = con.execute(
            """SELECT coalesce(sum(t.amount_minor), 0)
               FROM credit_note_taxes t JOIN credit_notes n USING (credit_note_id)
               WHERE n.invoice_id = ? AND t.tax_code IS NOT DISTINCT FROM ?""",
            [inv_id, tax.code],
        ).fetchone()[0]
        assert 0 <= credited <= tax.amount_minor
    for line in estimate_credit_note(con, inv_id).lines:
        assert 0 <= line.credited_minor <= line.amount_minor - line.discount_minor


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=OPS)
def test_any_sequence_of_notes_and_payments_never_credits_more_than_the_total_nor_owes_below_zero(taxed_invoice, ops):
    con, inv_id = taxed_invoice
    con.execute("BEGIN TRANSACTION")
    try:
        everything_credited = False
        for op in ops:
            est = estimate_credit_note(con, inv_id)
            before = snapshot(con)
            try:
                if op[0] == "pay":
                    amount = est.balance_due_minor * op[1] // 100
                    record_payment_tx(con, inv_id, Decimal(amount).scaleb(-2), actor="t")
                elif op[0] == "all":
                    create_credit_note_tx(con, inv_id, reason="other", everything=True, actor="t")
                    everything_credited = True
                else:
                    _, picks, refund_pct, to_credit = op
                    creditable = {ln.line_no: ln.creditable_minor for ln in est.lines}
                    items = [(n, Decimal(max(1, creditable.get(n, 0) * p // 100)).scaleb(-2)) for n, p in picks]
                    refund = Decimal(est.max_refund_minor * refund_pct // 100).scaleb(-2)
                    split = {"credit": Decimal(0)} if to_credit else {}
                    create_credit_note_tx(con, inv_id, reason="other", items=items, refund=refund, actor="t", **split)
            except BillsimError:
                assert snapshot(con) == before  # a refusal writes nothing
            _invariants(con, inv_id)
        if everything_credited:
            inv = load_invoice(con, inv_id)
            assert inv.credit_notes_total_minor == inv.total_minor
    finally:
        con.execute("ROLLBACK")
