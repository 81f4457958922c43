"""A bill run drafts no invoice dated after limits.LAST_DATE (2199-12-31), the last date every front end takes
(engine/billing/run_dates.py): a run whose drafts would carry a later period end, bill-for date or due date is
refused whole in its own transaction (draft_dates_out_of_range: no invoice, no run row left), naming the contracts;
only the drafts it would make count (a contract with nothing to bill does not refuse it; one added after the run was
started does). The draft of one cycle likewise. A run up to LAST_SAFE_RUN_DATE stays within the bound whatever it
drafts. Through the CLI and the HTTP API: tests/api/test_front_ends.py."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from helpers_data import add_contract, add_customer, add_line

from engine.billing.bill_run import bill_run, claim_run
from engine.billing.invoices import draft_period_invoice, preview_invoice
from engine.billing.manual_invoices import create_invoice
from engine.billing.run_dates import CODE, LAST_SAFE_RUN_DATE, LONGEST_TERMS_DAYS
from engine.errors import ValidationError
from engine.limits import LAST_DATE
from engine.models import LineItem, ManualInvoiceRequest, RecurringConfig

LAST_MONTH = dt.date(2199, 12, 15)  # its monthly cycle, billed in arrears, is due in 2200


@pytest.fixture
def ledger(con):
    add_customer(con, "C1")
    add_contract(con, "K1", "C1", "2199-01-01")  # monthly, in arrears, 30 days
    add_line(con, "L1", "K1", unit_price="10.00")
    add_contract(con, "K2", "C1", "2199-01-01", billing_timing="advance", payment_terms_days=0)
    add_line(con, "L2", "K2", unit_price="5.00")
    return con


def _written(con) -> tuple[int, int]:
    return (
        con.execute("SELECT count(*) FROM invoices").fetchone()[0],
        con.execute("SELECT count(*) FROM bill_runs").fetchone()[0],
    )


def test_a_run_whose_drafts_would_be_due_after_the_bound_is_refused_before_anything_is_written(ledger):
    with pytest.raises(ValidationError) as refused:
        bill_run(ledger, LAST_MONTH)
    assert refused.value.code == CODE == "draft_dates_out_of_range"
    message = refused.value.message
    assert message.startswith(f"a bill run of {LAST_MONTH} would draft 1 invoice(s) dated after {LAST_DATE}")
    assert "contract K1 (cycle 2199-12-01 .. 2199-12-31, due 2200-01-31)" in message  # K2, in advance, is due 12-01
    assert f"every run up to {LAST_SAFE_RUN_DATE} stays within it" in message
    assert _written(ledger) == (0, 0)  # no invoice, no run row left 'running'
    claim = claim_run(ledger, LAST_MONTH)  # a background start claims first (its row is recorded), then runs
    assert _written(ledger) == (0, 1)
    with pytest.raises(ValidationError) as refused:
        bill_run(ledger, LAST_MONTH, claimed=claim)
    assert refused.value.code == CODE
    assert _written(ledger) == (0, 0)  # the claimed run's row is gone with it


def test_a_contract_with_nothing_to_bill_in_the_run_does_not_refuse_it(ledger):
    """K9's December would be due in 2200, but K9 has no line: the run drafts nothing for it, so nothing of the
    run is dated beyond the bound (the check is of the drafts the run makes, not of the cycles it looks at)."""
    add_contract(ledger, "K9", "C1", "2199-01-01")  # monthly, in arrears, 30 days; no order line
    report = bill_run(ledger, LAST_MONTH, contract_ids=["K2", "K9"])
    assert (report.drafted, report.nothing_to_bill) == (1, 1)
    assert ledger.execute("SELECT contract_id, due_date FROM invoices").fetchall() == [("K2", dt.date(2199, 12, 1))]


def test_a_contract_added_after_the_run_was_started_is_checked_in_the_runs_transaction(ledger):
    """Between the start of a run (its row recorded) and its transaction another writer adds K5, whose December
    is due in 2200: the run, which sees K5 in its transaction, is refused; nothing is written."""
    ledger.execute("DELETE FROM order_lines WHERE contract_id = 'K1'")  # K1 has nothing to bill: K2 alone is drafted
    writer = ledger.cursor()

    def progress(_done: float, label: str) -> None:
        if label == "starting bill run":  # the run is being recorded, its transaction not begun
            add_contract(writer, "K5", "C1", "2199-01-01")
            add_line(writer, "L5", "K5", unit_price="3.00")

    with pytest.raises(ValidationError) as refused:
        bill_run(ledger, LAST_MONTH, progress=progress)
    assert refused.value.code == CODE and "contract K5 (cycle 2199-12-01 .. 2199-12-31, due 2200-01-31)" in str(
        refused.value
    )
    assert _written(ledger) == (0, 0)
    assert bill_run(ledger, LAST_MONTH, contract_ids=["K2"]).drafted == 1


def test_the_run_of_the_month_before_is_drafted_with_every_date_within_the_bound(ledger):
    report = bill_run(ledger, dt.date(2199, 11, 15))
    assert report.drafted == 2
    latest = ledger.execute("SELECT max(greatest(period_end, due_date)) FROM invoices").fetchone()[0]
    assert latest == dt.date(2199, 12, 31)  # K1's November, due 30 days after 12-01: the last day accepted
    with pytest.raises(ValidationError, match="contract K1 .*due 2200-01-31"):
        bill_run(ledger, dt.date(2199, 12, 1))  # and K1's December is due after it


def test_a_catch_up_run_is_refused_for_a_missed_cycle_due_after_the_bound(ledger):
    add_contract(ledger, "K3", "C1", "2199-10-01", end_date="2199-11-30", payment_terms_days=60)
    add_line(ledger, "L3", "K3", unit_price="1.00")
    bill_run(ledger, dt.date(2199, 10, 15), contract_ids=["K3"])  # K3's October, due 2199-12-31
    before = _written(ledger)
    assert bill_run(ledger, dt.date(2199, 11, 29), contract_ids=["K1", "K2"]).drafted == 2
    with pytest.raises(ValidationError) as refused:  # K3 ended: only catch-up drafts its November, due 2200-01-30
        bill_run(ledger, dt.date(2199, 12, 1), contract_ids=["K2", "K3"], catch_up=True)
    assert refused.value.code == CODE and "contract K3 (cycle 2199-11-01 .. 2199-11-30, due 2200-01-30)" in str(
        refused.value
    )
    assert _written(ledger) == (before[0] + 2, before[1] + 1)  # the refused run wrote nothing


def test_a_recurring_templates_period_due_after_the_bound_refuses_the_run(ledger):
    create_invoice(
        ledger,
        ManualInvoiceRequest(
            customer_id="C1",
            line_items=[LineItem(description="Support", unit_price=1000, quantity=Decimal(1))],
            recurring=RecurringConfig(start_date=dt.date(2199, 11, 1), payment_terms_days=45),
        ),
    )
    before = _written(ledger)
    with pytest.raises(ValidationError) as refused:
        bill_run(ledger, dt.date(2199, 12, 1), contract_ids=None, customer_ids=["C1"])
    assert refused.value.code == CODE
    assert "recurring template tpl_" in str(refused.value) and "due 2200-01-15" in str(refused.value)
    assert _written(ledger) == before


def test_the_draft_of_one_cycle_beyond_the_bound_is_refused_the_same_way(ledger):
    with pytest.raises(ValidationError) as refused:
        draft_period_invoice(ledger, "K1", LAST_MONTH)
    assert refused.value.code == CODE
    assert str(refused.value) == (
        "the invoice of contract K1 for the cycle 2199-12-01 .. 2199-12-31 would be due 2200-01-31, after "
        "2199-12-31, the last date accepted; nothing was drafted"
    )
    assert _written(ledger) == (0, 0)
    assert draft_period_invoice(ledger, "K2", LAST_MONTH).invoice.due_date == dt.date(2199, 12, 1)
    assert preview_invoice(ledger, "K1", LAST_MONTH).due_date == dt.date(2200, 1, 31)  # a preview stores nothing


def test_a_run_up_to_the_date_that_needs_no_check_stays_within_the_bound_with_the_longest_terms(con):
    """The derivation of LAST_SAFE_RUN_DATE: yearly cycles containing it (the longest), billed in arrears and in
    advance, due after the longest payment terms, all end and fall due by the bound."""
    add_customer(con, "C1")
    for days_before in (0, 1, 59, 183, 364):
        for timing in ("arrears", "advance"):
            cid = f"K{days_before}-{timing}"
            start = LAST_SAFE_RUN_DATE - dt.timedelta(days=days_before)
            add_contract(
                con,
                cid,
                "C1",
                start,
                billing_period="year",
                billing_timing=timing,
                payment_terms_days=LONGEST_TERMS_DAYS,
            )
            add_line(con, f"L-{cid}", cid, unit_price="1.00")
    assert bill_run(con, LAST_SAFE_RUN_DATE).drafted == 10
    assert con.execute("SELECT max(greatest(period_end, due_date)) FROM invoices").fetchone()[0] <= LAST_DATE
