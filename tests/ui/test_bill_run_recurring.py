"""The Bill run page counts the recurring templates' periods the run drafted (a metric of their own, and in the
outcome under the button)."""

from __future__ import annotations

import datetime as dt

from engine.billing.manual_invoices import create_invoice
from engine.db import connect
from engine.models import LineItem, ManualInvoiceRequest, RecurringConfig
from tests.ui.test_pages import assert_clean, db_rows, open_page, start_app, widget


def test_a_run_from_the_page_drafts_the_templates_periods_and_shows_their_count(workbench_db):
    customer = db_rows(workbench_db, "SELECT min(customer_id) FROM customers")[0][0]
    con = connect(workbench_db)
    template = create_invoice(
        con,
        ManualInvoiceRequest(
            customer_id=customer,
            line_items=[LineItem(description="Support plan", unit_price=5000)],
            recurring=RecurringConfig(start_date=dt.date(2026, 7, 1)),
        ),
    ).recurring_template_id
    con.close()

    at = start_app()
    open_page(at, "views/bill_run.py")
    widget(at.date_input, "run_period").set_value(dt.date(2026, 9, 15)).run()
    widget(at.button, "run_start").click().run()
    assert_clean(at)
    assert {m.label: m.value for m in at.metric}["Recurring drafted"] == "2"  # August and September
    assert any("2 recurring invoice(s) drafted" in s.value for s in at.success)
    periods = db_rows(
        workbench_db,
        "SELECT period_start FROM invoices WHERE recurring_template_id = ? ORDER BY 1",
        [template],
    )
    assert [p[0] for p in periods] == [dt.date(2026, 7, 1), dt.date(2026, 8, 1), dt.date(2026, 9, 1)]
