"""Manual invoices: DayZero POST /invoices, /invoices/batch and recurring templates (spec section 4)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import duckdb
import pydantic
import pytest

from engine.billing.approval import approve_invoices
from engine.billing.bill_run import bill_run, claim_run, release_run, stored_run
from engine.billing.lifecycle import delete_draft, finalize_invoice, void_invoice
from engine.billing.manual_invoices import batch_create, create_invoice, draft_recurring_invoices, draft_recurring_tx
from engine.errors import NotFoundError, ValidationError
from engine.models import LineItem, ManualBatchRequest, ManualInvoiceRequest, RecurringConfig
from engine.review import review

TODAY = dt.date(2026, 3, 15)


@pytest.fixture
def db(con):
    con.execute("""INSERT INTO customers (customer_id, name, business_id, currency, tax_rate) VALUES
        ('C-USD', 'Acme', 'biz-a', 'USD', 8.25),
        ('C-JPY', 'Kite', 'biz-a', 'JPY', 10),
        ('C-KWD', 'Gulf', 'biz-b', 'KWD', 5)""")
    return con


def _req(customer: str = "C-USD", price: int = 1000, qty: str = "1", **kw) -> ManualInvoiceRequest:
    return ManualInvoiceRequest(
        customer_id=customer,
        line_items=[LineItem(description="Consulting", unit_price=price, quantity=Decimal(qty))],
        **kw,
    )


def _count(con, table: str = "invoices") -> int:
    return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


# --- create -----------------------------------------------------------------------------------


def test_new_invoice_is_a_draft_in_the_customers_currency_business_and_tax_rate(db):
    inv = create_invoice(db, _req(), today=TODAY)
    assert (inv.status, inv.currency, inv.business_id, inv.tax_rate) == ("draft", "USD", "biz-a", Decimal("8.25"))
    assert inv.number is None and inv.contract_id is None
    assert inv.due_date == TODAY + dt.timedelta(days=30)
    assert (inv.subtotal, inv.tax, inv.total) == (Decimal("10.00"), Decimal("0.83"), Decimal("10.83"))


def test_explicit_due_date_and_any_iso_currency_are_kept(db):
    inv = create_invoice(db, _req(currency="EUR", due_date=dt.date(2026, 4, 1)), today=TODAY)
    assert (inv.currency, inv.due_date, inv.total) == ("EUR", dt.date(2026, 4, 1), Decimal("10.83"))


def test_unknown_currency_is_rejected(db):
    with pytest.raises(pydantic.ValidationError, match="ISO 4217"):
        _req(currency="XYZ")
    unchecked = ManualInvoiceRequest.model_construct(**{**_req().__dict__, "currency": "XYZ"})
    with pytest.raises(ValidationError, match="ISO 4217"):
        create_invoice(db, unchecked)
    assert _count(db) == 0


def test_unknown_customer_is_not_found(db):
    with pytest.raises(NotFoundError, match="C-NOPE"):
        create_invoice(db, _req("C-NOPE"))
    assert _count(db) == 0


def test_empty_line_items_are_rejected(db):
    with pytest.raises(pydantic.ValidationError):
        ManualInvoiceRequest(customer_id="C-USD", line_items=[])
    with pytest.raises(ValidationError, match="at least one line item"):
        create_invoice(
            db,
            ManualInvoiceRequest.model_construct(
                customer_id="C-USD",
                line_items=[],
                currency=None,
                idempotency_key=None,
                recurring=None,
                due_date=None,
                description=None,
            ),
        )


@pytest.mark.parametrize("qty", ["-1", "0"])
def test_zero_or_negative_quantity_is_rejected(db, qty):
    with pytest.raises(pydantic.ValidationError, match="quantity must be positive"):
        LineItem(description="x", unit_price=100, quantity=Decimal(qty))
    item = LineItem.model_construct(description="x", unit_price=100, quantity=Decimal(qty), product=None)
    req = _req()
    req.line_items = [item]
    with pytest.raises(ValidationError, match="quantity must be positive"):
        create_invoice(db, req)
    assert _count(db) == 0


def test_negative_unit_price_is_rejected_and_nothing_written(db):
    req = ManualInvoiceRequest(
        customer_id="C-USD",
        line_items=[LineItem(description="ok", unit_price=100), LineItem(description="bad", unit_price=-1)],
    )
    with pytest.raises(ValidationError, match="line item 2: unit_price must not be negative"):
        create_invoice(db, req)
    assert (_count(db), _count(db, "invoice_lines")) == (0, 0)


def test_custom_line_stores_major_unit_price_and_rounds_amount_once_half_away(db):
    inv = create_invoice(db, _req(price=1999, qty="1.5"))  # 19.99 × 1.5 = 29.985 -> 29.99
    line = inv.lines[0]
    assert (line.kind, line.unit_price, line.quantity, line.amount_minor) == (
        "custom",
        Decimal("19.99"),
        Decimal("1.5"),
        2999,
    )
    assert line.line_id is None and line.description == "Consulting"
    assert inv.tax_minor == 247  # 2999 × 8.25 % = 247.4175


def test_jpy_amounts_and_tax_round_to_whole_yen(db):
    req = ManualInvoiceRequest(
        customer_id="C-JPY",
        line_items=[
            LineItem(description="a", unit_price=333, quantity=Decimal("1.5")),  # 499.5 -> 500
            LineItem(description="b", unit_price=101, quantity=Decimal("5")),
        ],
    )  # 505
    inv = create_invoice(db, req)
    assert [ln.amount for ln in inv.lines] == [Decimal("500"), Decimal("505")]
    # tax = round(1005 × 10 %) = round(100.5) = 101, once at invoice level
    assert (inv.subtotal, inv.tax, inv.total) == (Decimal("1005"), Decimal("101"), Decimal("1106"))


def test_kwd_amounts_and_tax_round_to_three_decimals(db):
    inv = create_invoice(db, _req("C-KWD", price=1255, qty="2.5"))  # 1.255 × 2.5 = 3.1375 -> 3.138
    assert inv.lines[0].unit_price == Decimal("1.255")
    # tax = round(3138 × 5 %) = round(156.9) = 157 fils
    assert (inv.subtotal, inv.tax, inv.total) == (Decimal("3.138"), Decimal("0.157"), Decimal("3.295"))


def test_same_idempotency_key_and_request_returns_the_same_invoice(db):
    first = create_invoice(db, _req(qty="1", idempotency_key="k-1"))
    again = create_invoice(db, _req(qty="1.000", idempotency_key="k-1"))  # the same quantity
    assert again.invoice_id == first.invoice_id
    assert _count(db) == 1


def test_same_idempotency_key_with_a_different_request_is_validation_error(db):
    create_invoice(db, _req(price=1000, idempotency_key="k-1"))
    with pytest.raises(ValidationError, match="different request"):
        create_invoice(db, _req(price=1001, idempotency_key="k-1"))
    assert _count(db) == 1


def test_deleting_a_keyed_draft_frees_its_idempotency_key(db):
    first = create_invoice(db, _req(idempotency_key="k-1"))
    delete_draft(db, first.invoice_id)
    assert create_invoice(db, _req(idempotency_key="k-1")).invoice_id != first.invoice_id


# --- recurring --------------------------------------------------------------------------------


def _monthly_from_jan31(db):
    return create_invoice(db, _req(recurring=RecurringConfig(start_date=dt.date(2026, 1, 31), payment_terms_days=10)))


def test_recurring_invoice_is_its_templates_first_period(db):
    first = _monthly_from_jan31(db)
    assert first.recurring_template_id is not None
    assert (first.period_start, first.period_end) == (dt.date(2026, 1, 31), dt.date(2026, 2, 27))
    assert first.due_date == dt.date(2026, 2, 10)  # period start + the template's terms
    assert _count(db, "recurring_templates") == 1


def test_recurring_template_drafts_one_invoice_per_started_period_idempotently(db):
    """Anchor 31, monthly:  Jan31 | Feb28 | Mar31 | Apr30 | May31;  as_of Apr 30 -> up to the Apr30 period."""
    first = _monthly_from_jan31(db)
    drafted = draft_recurring_invoices(db, dt.date(2026, 4, 30))
    assert [(i.period_start, i.period_end) for i in drafted] == [
        (dt.date(2026, 2, 28), dt.date(2026, 3, 30)),
        (dt.date(2026, 3, 31), dt.date(2026, 4, 29)),
        (dt.date(2026, 4, 30), dt.date(2026, 5, 30)),
    ]
    assert all(i.recurring_template_id == first.recurring_template_id for i in drafted)
    assert all(i.status == "draft" and i.total == first.total for i in drafted)
    assert [i.due_date for i in drafted] == [dt.date(2026, 3, 10), dt.date(2026, 4, 10), dt.date(2026, 5, 10)]
    assert [(ln.period_start, ln.amount) for ln in drafted[0].lines] == [(dt.date(2026, 2, 28), Decimal("10.00"))]
    assert draft_recurring_invoices(db, dt.date(2026, 4, 30)) == []
    assert _count(db) == 4


def test_recurring_template_redrafts_a_voided_period_but_not_before_it_starts(db):
    first = _monthly_from_jan31(db)
    assert draft_recurring_invoices(db, dt.date(2026, 1, 30)) == []
    approve_invoices(db, [first.invoice_id])  # finalize takes only approved invoices
    finalize_invoice(db, first.invoice_id)
    void_invoice(db, first.invoice_id)
    redrafted = draft_recurring_invoices(db, dt.date(2026, 2, 1))
    assert [i.period_start for i in redrafted] == [dt.date(2026, 1, 31)]


def test_quarterly_template_periods_follow_the_anchor_day(db):
    quarterly = RecurringConfig(billing_period="quarter", start_date=dt.date(2025, 11, 30))
    create_invoice(db, _req(recurring=quarterly))
    drafted = draft_recurring_invoices(db, dt.date(2026, 5, 30))
    assert [(i.period_start, i.period_end) for i in drafted] == [
        (dt.date(2026, 2, 28), dt.date(2026, 5, 29)),
        (dt.date(2026, 5, 30), dt.date(2026, 8, 29)),
    ]


# --- batch ------------------------------------------------------------------------------------


def test_batch_items_fail_alone_and_a_failed_item_writes_nothing(db):
    bad_price = ManualInvoiceRequest(
        customer_id="C-USD",
        line_items=[LineItem(description="ok", unit_price=100), LineItem(description="bad", unit_price=-5)],
    )
    resp = batch_create(db, ManualBatchRequest(items=[_req(), _req("C-NOPE"), bad_price, _req("C-JPY")]))
    assert [r.ok for r in resp.results] == [True, False, False, True]
    assert "unknown customer 'C-NOPE'" in resp.results[1].error
    assert "unit_price must not be negative" in resp.results[2].error
    assert (resp.created, resp.failed) == (2, 2)
    assert (_count(db), _count(db, "invoice_lines")) == (2, 2)


def test_batch_from_raw_json_reports_a_malformed_item_without_stopping_the_others(db):
    resp = batch_create(
        db,
        {
            "items": [
                {"customer_id": "C-USD", "line_items": [{"description": "a", "unit_price": 100, "quantity": "-1"}]},
                {"customer_id": "C-USD", "currency": "XYZ", "line_items": [{"description": "a", "unit_price": 100}]},
                {"customer_id": "C-USD", "line_items": [{"description": "a", "unit_price": 100}]},
            ]
        },
    )
    assert [r.ok for r in resp.results] == [False, False, True]
    assert "quantity must be positive" in resp.results[0].error
    assert "ISO 4217" in resp.results[1].error
    assert _count(db) == 1


@pytest.fixture
def charges(db):
    db.execute("""INSERT INTO delayed_charges VALUES
        ('DC-1', 'C-USD', 'Extra data export', 25.00, DATE '2026-03-20', 'USD'),
        ('DC-2', 'C-USD', 'Late fee', 10.00, DATE '2026-03-20', 'EUR'),
        ('DC-3', 'C-USD', 'Courier', 0.005, DATE '2026-03-01', 'USD'),
        ('DC-4', 'C-JPY', 'Shipping', 1000.5, DATE '2026-03-05', 'JPY')""")
    return db


def test_batch_delayed_charges_go_to_the_customers_first_new_invoice_in_its_currency_once(charges):
    db = charges
    items = [_req(), _req(), _req(currency="EUR"), _req("C-JPY")]
    resp = batch_create(db, ManualBatchRequest(items=items, include_delayed_charges=True))
    first, second, eur, yen = (r.invoice for r in resp.results)
    swept = [
        (ln.kind, ln.charge_id, ln.line_id, ln.description, ln.quantity, ln.period_start, ln.amount)
        for ln in first.lines[1:]
    ]
    # oldest charge first; 0.005 USD rounds half away from zero to 0.01
    assert swept == [
        ("delayed_charge", "DC-3", None, "Courier", Decimal(1), dt.date(2026, 3, 1), Decimal("0.01")),
        ("delayed_charge", "DC-1", None, "Extra data export", Decimal(1), dt.date(2026, 3, 20), Decimal("25.00")),
    ]
    assert first.subtotal == Decimal("35.01")
    assert first.tax_minor == 289  # round(3501 × 8.25 %) = round(288.8325)
    assert len(second.lines) == 1
    # The customer's FIRST new invoice is USD: the EUR charge stays pending, even for a later EUR item.
    assert len(eur.lines) == 1
    assert [(ln.charge_id, ln.amount) for ln in yen.lines[1:]] == [("DC-4", Decimal("1001"))]
    sweeps = db.execute("SELECT charge_id, invoice_id, run_id FROM delayed_charge_sweeps ORDER BY 1").fetchall()
    assert sweeps == [
        ("DC-1", first.invoice_id, None),
        ("DC-3", first.invoice_id, None),
        ("DC-4", yen.invoice_id, None),
    ]
    again = batch_create(db, ManualBatchRequest(items=[_req()], include_delayed_charges=True))
    assert len(again.results[0].invoice.lines) == 1  # swept charges are never taken twice


def test_batch_without_the_flag_takes_no_delayed_charges(charges):
    resp = batch_create(charges, ManualBatchRequest(items=[_req()]))
    assert len(resp.results[0].invoice.lines) == 1
    assert _count(charges, "delayed_charge_sweeps") == 0


def test_batch_delayed_charges_skip_a_failed_first_item(charges):
    bad = _req(currency="EUR")
    bad.line_items[0].unit_price = -1
    resp = batch_create(charges, ManualBatchRequest(items=[bad, _req(currency="EUR")], include_delayed_charges=True))
    assert not resp.results[0].ok
    assert [ln.charge_id for ln in resp.results[1].invoice.lines[1:]] == ["DC-2"]


def test_deleting_the_draft_returns_batch_swept_charges_to_pending(charges):
    resp = batch_create(charges, ManualBatchRequest(items=[_req()], include_delayed_charges=True))
    assert delete_draft(charges, resp.results[0].invoice.invoice_id) == ["DC-1", "DC-3"]
    again = batch_create(charges, ManualBatchRequest(items=[_req()], include_delayed_charges=True))
    assert {ln.charge_id for ln in again.results[0].invoice.lines[1:]} == {"DC-1", "DC-3"}


def test_batch_finalize_numbers_new_invoices_in_item_order(db):
    create_invoice(db, _req(idempotency_key="old"))
    items = [_req("C-KWD"), _req(), _req("C-NOPE"), _req("C-JPY"), _req("C-KWD"), _req(idempotency_key="old")]
    resp = batch_create(db, ManualBatchRequest(items=items, finalize=True))
    got = [(r.invoice.business_id, r.invoice.number, r.invoice.status) if r.ok else None for r in resp.results]
    assert got == [
        ("biz-b", 1, "open"),
        ("biz-a", 1, "open"),
        None,
        ("biz-a", 2, "open"),
        ("biz-b", 2, "open"),
        ("biz-a", None, "draft"),
    ]  # the replayed invoice is not new


def test_a_malformed_batch_item_names_its_line_from_1_without_pydantic_prefixes(db):
    lines = [{"description": "a", "unit_price": 100}, {"description": "b", "unit_price": 100, "quantity": "-1"}]
    resp = batch_create(db, {"items": [{"customer_id": "C-USD", "line_items": lines}]})
    assert resp.results[0].error == "line item 2: quantity: quantity must be positive"


# --- recurring templates in a bill run ---------------------------------------------------------


def _template(db, customer: str = "C-USD", start: dt.date = dt.date(2026, 1, 31)) -> str:
    rec = RecurringConfig(start_date=start, payment_terms_days=10)
    return create_invoice(db, _req(customer=customer, recurring=rec)).recurring_template_id


def _template_invoices(db, template_id: str) -> list[tuple]:
    return db.execute(
        """SELECT period_start, status, run_id FROM invoices WHERE recurring_template_id = ?
           ORDER BY period_start""",
        [template_id],
    ).fetchall()


def test_a_bill_run_drafts_the_recurring_templates_periods_due_by_its_date_counted_apart(db):
    usd, kwd = _template(db), _template(db, "C-KWD", dt.date(2026, 4, 1))
    report = bill_run(db, dt.date(2026, 4, 30), requested_by="night")
    assert (report.drafted, report.recurring_drafted) == (0, 3)  # USD Feb 28, Mar 31, Apr 30 (KWD: Apr 1, its first)
    periods = _template_invoices(db, usd)
    assert [p[0] for p in periods] == [dt.date(2026, d, m) for d, m in ((1, 31), (2, 28), (3, 31), (4, 30))]
    assert [p[2] for p in periods] == [None, report.run_id, report.run_id, report.run_id]
    assert {t.currency: t.invoices for t in report.totals} == {"USD": 3}
    events = db.execute(
        """SELECT e.actor, count(*) FROM invoice_events e JOIN invoices i USING (invoice_id)
           WHERE e.action = 'drafted' AND i.run_id = ? GROUP BY ALL""",
        [report.run_id],
    ).fetchall()
    assert events == [("night", 3)]
    assert len(_template_invoices(db, kwd)) == 1
    # each period is the template's invoice again: the same lines, amounts, tax and total as the first
    same = db.execute(
        """SELECT DISTINCT i.currency, i.tax_rate, i.subtotal_minor, i.tax_minor, i.total_minor, l.line_no, l.kind,
                  l.description, l.quantity, l.unit_price, l.amount_minor, l.period_start = i.period_start
           FROM invoices i JOIN invoice_lines l USING (invoice_id) WHERE i.recurring_template_id = ?""",
        [usd],
    ).fetchall()
    assert len(same) == 1 and same[0][2:5] == (1000, 83, 1083), same  # 10.00 USD, 8.25 % tax rounded half away
    # idempotent: the next run of the same date drafts nothing more; the stored report keeps the count
    assert bill_run(db, dt.date(2026, 4, 30)).recurring_drafted == 0
    assert stored_run(db, report.run_id)[1].recurring_drafted == 3


def test_a_runs_scope_decides_which_templates_it_drafts(db):
    usd, kwd = _template(db), _template(db, "C-KWD")
    assert bill_run(db, dt.date(2026, 2, 28), business_id="biz-b").recurring_drafted == 1
    assert len(_template_invoices(db, kwd)) == 2 and len(_template_invoices(db, usd)) == 1
    assert bill_run(db, dt.date(2026, 2, 28), customer_ids=["C-JPY"]).recurring_drafted == 0
    assert bill_run(db, dt.date(2026, 2, 28), customer_ids=[]).recurring_drafted == 0  # an empty scope bills nothing
    named = bill_run(db, dt.date(2026, 2, 28), contract_ids=["K-NONE"])  # a run of named contracts: no template
    assert named.recurring_drafted == 0 and [f.contract_id for f in named.failed] == ["K-NONE"]
    assert len(_template_invoices(db, usd)) == 1
    assert bill_run(db, dt.date(2026, 2, 28), customer_ids=["C-USD"]).recurring_drafted == 1


def test_a_finalizing_run_finalizes_its_recurring_drafts_and_they_are_not_reviewed(db):
    usd = _template(db)
    report = bill_run(db, dt.date(2026, 2, 28), finalize=True)
    assert (report.recurring_drafted, report.finalized) == (1, 1)
    assert [p[1] for p in _template_invoices(db, usd)] == ["draft", "open"]
    assert review(db, run_id=report.run_id).drafts == []  # manual invoices have no contract cycle to compare


def test_a_run_sweeps_a_pending_charge_onto_its_recurring_draft(db):
    usd = _template(db)
    db.execute("INSERT INTO delayed_charges VALUES ('DC-1', 'C-USD', 'Setup', 12.5, DATE '2026-02-10', 'USD')")
    report = bill_run(db, dt.date(2026, 2, 28), include_delayed_charges=True)
    assert (report.recurring_drafted, report.delayed_charges_swept) == (1, 1)
    feb = db.execute(
        "SELECT invoice_id FROM invoices WHERE recurring_template_id = ? AND period_start = DATE '2026-02-28'", [usd]
    ).fetchone()[0]
    assert db.execute("SELECT invoice_id FROM delayed_charge_sweeps").fetchall() == [(feb,)]


def test_two_transactions_drafting_one_template_never_make_two_invoices_of_a_period(db):
    usd = _template(db)
    first, second = db.cursor(), db.cursor()
    first.execute("BEGIN")
    second.execute("BEGIN")
    assert len(draft_recurring_tx(first, dt.date(2026, 2, 28))) == 1
    with pytest.raises(duckdb.TransactionException, match="Conflict"):
        draft_recurring_tx(second, dt.date(2026, 2, 28))
    first.execute("COMMIT")
    second.execute("ROLLBACK")
    assert draft_recurring_invoices(db, dt.date(2026, 2, 28)) == []  # what a retry finds: drafted already
    assert len(_template_invoices(db, usd)) == 2


def test_a_resumed_run_keeps_its_id_and_says_it_resumed_also_in_its_stored_report(db):
    """A server stopped mid-run leaves its run 'running' and no longer worked on (claim_run, then released as a
    restart does); the same run started again works under that id and reports resumed."""
    _template(db)
    cut_off = claim_run(db, dt.date(2026, 2, 28), requested_by="night")
    release_run(cut_off.run_id)
    again = claim_run(db, dt.date(2026, 2, 28), requested_by="night", run_id="run_new")
    assert (again.run_id, again.resumed) == (cut_off.run_id, True)
    report = bill_run(db, dt.date(2026, 2, 28), requested_by="night", claimed=again)
    assert (report.run_id, report.resumed, report.recurring_drafted) == (cut_off.run_id, True, 1)
    status, stored = stored_run(db, cut_off.run_id)
    assert (status, stored.resumed) == ("completed", True)
    assert stored_run(db, "run_new") is None
