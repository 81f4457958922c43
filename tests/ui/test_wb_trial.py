"""Defects an analyst found trying the workbench (s27): the bill run's totals add up (with the coupon discount),
the not-due warning says what it counts, free-text boxes bounded at the application layer's limits (a refusal of a
popover's action said inside it), a unit price beyond the money bound refused in the user's units, the What-if
month chart by month with labelled bars, a credit note's credited lines, businesses by name, the Ledger's number
column, a payment refusal gone with the next action. AppTest on private copies of the small demo."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest

from engine.db import connect
from engine.limits import MAX_NAME, MAX_TEXT, MAX_TOKEN_NAME, MONEY_LIMIT
from engine.rating.targets import count_not_due
from engine.service import Billsim, Caller, bill_runs, contracts, credit_notes, lifecycle
from engine.service.formats import format_major
from tests.helpers_data import add_contract, add_customer, add_line
from tests.ui.test_pages import assert_clean, db_rows, open_page, start_app, widget
from tests.ui.test_workbench_ux import frame_with, mixed_db, mixed_template  # noqa: F401 (fixtures)

JUNE = dt.date(2026, 6, 15)


def _finalized(path, contract_id: str = "K-000001", period: dt.date = JUNE):
    with Billsim.open(path) as app:
        s = app.session(Caller.local("ana"))
        draft = contracts.draft(s, contract_id, period).invoice
        lifecycle.approve(s, [draft.invoice_id])
        (inv,) = lifecycle.finalize(s, [draft.invoice_id])
        return inv


# --- 1. the bill run's totals add up ---------------------------------------------------------------------------


def test_the_run_reports_totals_per_currency_add_up_with_the_coupon_discount(workbench_db):
    with Billsim.open(workbench_db) as app:
        report = bill_runs.run(app.session(Caller.local("ana")), {"period_date": dt.date(2026, 9, 15)})
    assert any(t.discount for t in report.totals), "the demo's coupons take something in this run"
    at = start_app()
    open_page(at, "views/bill_run.py")
    table = frame_with(at, "coupon discount").set_index("currency")
    for t in report.totals:
        row = table.loc[t.currency]
        assert t.subtotal - t.discount + t.tax == t.total  # the engine's figures add up ...
        assert list(row[["subtotal", "coupon discount", "tax", "total"]]) == [  # ... and the row shows each of them
            format_major(t.subtotal, t.currency),
            format_major(-t.discount if t.discount else t.discount, t.currency),
            format_major(t.tax, t.currency),
            format_major(t.total, t.currency),
        ]


# --- 2. the not-due warning says what it counts ----------------------------------------------------------------


def test_the_not_due_warning_counts_advance_cycles_too_and_says_their_bill_for_date_is_after_today(workbench_db):
    """A cycle billed in advance that starts after today is dated in the future like an arrears cycle not ended: the
    warning counts both (engine.rating.targets.count_not_due) and says why in words true of both."""
    today = dt.date.today()
    later = today + dt.timedelta(days=400)
    con = connect(workbench_db)
    add_customer(con, "C-ADV")
    add_contract(con, "K-ADV", "C-ADV", "2020-01-01", billing_timing="advance")  # monthly, open-ended
    add_line(con, "L-ADV", "K-ADV", unit_price="10")
    expected = count_not_due(con, later, today)
    advance = con.execute("SELECT count(*) FROM contracts WHERE billing_timing = 'advance'").fetchone()[0]
    con.close()
    assert expected >= advance >= 1  # every cycle of that date is in the future, the advance ones too

    at = start_app()
    open_page(at, "views/bill_run.py")
    widget(at.date_input, "run_period").set_value(later).run()
    assert_clean(at)
    (warned,) = [w.value for w in at.warning if "not due yet" in w.value]
    assert warned.startswith(f"{expected:,} of the cycles this run would draft are not due yet: their bill-for date")
    assert f"is after today ({today.isoformat()})" in warned
    assert "billed in arrears, they end" not in warned  # not the words of one billing mode


# --- 3. free-text boxes bounded; a popover's refusal said inside it --------------------------------------------


def _max_chars(items, key: str) -> int:
    return widget(items, key).proto.max_chars


def test_every_free_text_box_stops_at_the_application_layers_limit(mixed_db):  # noqa: F811 (the fixture)
    path, kinds = mixed_db
    draft = db_rows(path, "SELECT invoice_id FROM invoices WHERE status = 'draft' LIMIT 1")[0][0]
    at = start_app()
    assert _max_chars(at.text_input, "actor") == MAX_NAME
    open_page(at, "views/ledger.py")
    widget(at.selectbox, "ledger_pick").set_value(draft).run()
    assert _max_chars(at.text_input, f"ledger_hold_reason_{draft}") == MAX_TEXT
    widget(at.selectbox, "ledger_pick").set_value(kinds["jpy_open"]).run()
    assert _max_chars(at.text_input, f"ledger_void_reason_{kinds['jpy_open']}") == MAX_TEXT
    open_page(at, "views/review.py")
    assert _max_chars(at.text_input, "rv_hold_reason") == MAX_TEXT
    open_page(at, "views/manual_invoices.py")
    assert _max_chars(at.text_input, "manual_description") == MAX_TEXT
    assert _max_chars(at.text_input, "manual_customer_search") == MAX_NAME
    open_page(at, "views/scenarios.py")
    assert _max_chars(at.text_input, "scn_name") == MAX_NAME
    widget(at.selectbox, "scn_type").set_value("coupon").run()
    assert _max_chars(at.text_input, "scn_coupon_id") == _max_chars(at.text_input, "scn_coupon_name") == MAX_NAME
    open_page(at, "views/api.py")
    assert _max_chars(at.text_input, "api_token_name") == MAX_TOKEN_NAME


def _popover(at, label: str):
    found = [p for p in at.get("popover") if p.proto.popover.label == label]
    assert len(found) == 1, (
        [p.proto.popover.label for p in at.get("popover")],
        [e.value for e in at.error],
        [e.value for e in at.exception],
    )
    (found,) = found
    return found


def test_a_refused_hold_is_said_inside_its_popover(mixed_db):  # noqa: F811 (the fixture)
    """Hold… refused by the application layer (a reason it cannot store: a NUL character; one too long no longer gets
    past the box): the refusal is shown inside the popover, which stays open, not under it where the popover covers
    it."""
    path, _ = mixed_db
    draft = db_rows(path, "SELECT invoice_id FROM invoices WHERE status = 'draft' LIMIT 1")[0][0]
    at = start_app()
    open_page(at, "views/ledger.py")
    widget(at.selectbox, "ledger_pick").set_value(draft).run()
    at.session_state[f"ledger_hold_reason_{draft}"] = "usage\x00doubled"
    widget(at.button, f"FormSubmitter:ledger_hold_{draft}-Put on hold").click().run()
    inside = [e.value for e in _popover(at, "Hold…").get("error")]
    assert len(inside) == 1 and inside[0].startswith("Hold refused: invalid request: reason"), inside
    assert [e.value for e in at.error] == inside  # said once, there
    assert db_rows(path, "SELECT status FROM invoices WHERE invoice_id = ?", [draft]) == [("draft",)]


# --- 4. a unit price typed by the rule of every typed amount (requests.typed_amount) ------------------------------


def _create_with_price(price: str, quantity: str = "1"):
    return _create_with_price_on(start_app(), price, quantity)


def _create_with_price_on(at, price: str, quantity: str = "1"):
    at.switch_page("views/manual_invoices.py").run()
    assert not at.exception, [e.value for e in at.exception]
    widget(at.selectbox, "manual_customer").set_value(USD_CUSTOMER).run()
    at.session_state["manual_lines_0"] = {
        "edited_rows": {0: {"description": "Consulting", "unit_price": price, "quantity": quantity}},
        "added_rows": [],
        "deleted_rows": [],
    }
    widget(at.button, "manual_create").click().run()
    return at


USD_CUSTOMER = "CUS-000003"  # the small demo's customer billed in USD
BEYOND = f"is beyond the largest amount ({MONEY_LIMIT:,} major units)"


@pytest.mark.parametrize(
    ("price", "refusal"),
    [
        # an exponent is no amount anyone types: refused as such (it was read as 10^30, then refused as too large)
        ("1e30", "line 1: unit price: not a plain decimal amount: '1e30' (write e.g. 12.50)"),
        ("1e2", "line 1: unit price: not a plain decimal amount: '1e2' (write e.g. 12.50)"),  # it was 100.00
        ("12,50", "line 1: unit price: not a plain decimal amount: '12,50' (write e.g. 12.50)"),  # never 1250
        ("١٢", "line 1: unit price: not a plain decimal amount: '١٢' (write e.g. 12.50)"),  # never 12
        # beyond the money bound: in the units and the form typed, with the words every page uses
        (f"{MONEY_LIMIT:,}", f"line 1: unit price: {MONEY_LIMIT:,} {BEYOND}"),
        (str(MONEY_LIMIT * 10), f"line 1: unit price: {MONEY_LIMIT * 10} {BEYOND}"),
        ("12.505", "line 1: unit price 12.505 has more decimals than USD has"),
    ],
)
def test_a_unit_price_is_refused_by_the_rule_of_every_typed_amount(workbench_db, price, refusal):
    at = _create_with_price(price)
    (shown,) = [e.value for e in at.error]
    assert shown == f"Create invoice refused: {refusal}"
    assert "9223372036854775807" not in shown
    assert db_rows(workbench_db, "SELECT count(*) FROM invoices WHERE contract_id IS NULL") == [(0,)]


@pytest.mark.parametrize("quantity", ["٣", "３", "1_0"])
def test_a_quantity_in_other_digits_is_refused_never_read_as_a_number(workbench_db, quantity):
    at = _create_with_price("12.50", quantity)
    assert [e.value for e in at.error] == [
        f"Create invoice refused: line 1: quantity {quantity!r} is not a whole number (write e.g. 3)"
    ]
    assert db_rows(workbench_db, "SELECT count(*) FROM invoices WHERE contract_id IS NULL") == [(0,)]


def test_a_unit_price_with_thousands_grouped_by_commas_is_read_exactly(workbench_db):
    at = _create_with_price("1,244.10")
    assert_clean(at)
    (line,) = db_rows(
        workbench_db,
        "SELECT i.customer_id, i.currency, l.unit_price, l.amount_minor FROM invoice_lines l JOIN invoices i "
        "USING (invoice_id) WHERE i.contract_id IS NULL",
    )
    assert line == (USD_CUSTOMER, "USD", Decimal("1244.10"), 124410)


# --- 5. the What-if month chart: months, labelled bars ---------------------------------------------------------


def test_the_month_chart_shows_months_and_labels_each_bar_with_its_exact_amount(workbench_db):
    at = start_app()
    open_page(at, "views/scenarios.py")
    widget(at.date_input, "scn_from").set_value(dt.date(2026, 1, 1)).run()
    widget(at.date_input, "scn_to").set_value(dt.date(2026, 6, 30)).run()
    widget(at.button, "scn_run").click().run()  # the change the form shows (a price change) is run
    assert_clean(at)
    cur = at.session_state["scn_currency"] if "scn_currency" in at.session_state else None
    spec = json.loads({c.key: c.proto for c in at.get("plotly_chart")}["scn_chart_month"].spec)
    baseline, scenario = spec["data"]
    assert baseline["x"] == ["Jan 2026", "Feb 2026", "Mar 2026", "Apr 2026", "May 2026", "Jun 2026"]
    assert spec["layout"]["xaxis"]["type"] == "category"
    months = at.session_state["scn_result"]["effects"]["months"]
    cur = cur or months["currency"].iloc[0]
    part = months[months["currency"] == cur]
    measure = {"before_tax": "", "tax": "tax_", "total": "total_"}[at.session_state["scn_measure"]]
    assert baseline["text"] == [format_major(Decimal(v), cur) for v in part[f"{measure}baseline"]]
    assert scenario["text"] == [format_major(Decimal(v), cur) for v in part[f"{measure}scenario"]]


# --- 6. a credit note's credited lines -------------------------------------------------------------------------


def test_the_credit_notes_table_names_the_lines_credited(workbench_db):
    inv = _finalized(workbench_db)
    line = next(ln for ln in inv.lines if ln.amount_minor > 0)
    with Billsim.open(workbench_db) as app:
        credit_notes.create(
            app.session(Caller.local("ana")),
            inv.invoice_id,
            {"items": [{"line_no": line.line_no, "amount": Decimal("0.01")}], "reason": "other"},
        )
    at = start_app()
    open_page(at, "views/ledger.py")
    widget(at.selectbox, "ledger_pick").set_value(inv.invoice_id).run()
    notes = frame_with(at, "credit note")
    assert "lines" not in notes.columns
    assert list(notes["credited lines"]) == [f"line {line.line_no}"]


# --- 7. businesses by name; the number column ------------------------------------------------------------------


def test_the_data_page_names_the_businesses(mixed_db):  # noqa: F811 (the fixture)
    path, _ = mixed_db
    names = dict(db_rows(path, "SELECT business_id, name FROM businesses"))
    assert names
    at = start_app()
    counts = frame_with(at, "customers")
    shown = set(counts["business"])
    assert {f"{n} ({b})" for b, n in names.items() if n} & shown, shown
    assert not shown & set(names), shown  # never an id alone when the business has a name
    invoices = frame_with(at, "balance due")
    assert not set(invoices["business"]) & set(names)


def test_the_ledgers_number_column_is_wide_enough_for_a_whole_number(mixed_db):  # noqa: F811 (the fixture)
    at = start_app()
    open_page(at, "views/ledger.py")
    (table,) = [d for d in at.dataframe if "balance due" in d.value.columns]
    config = json.loads(table.proto.columns)
    assert config["number"]["width"] >= 130  # "N-2026-000001" whole at the table's font


# --- 8. a payment refusal goes with the next action ------------------------------------------------------------


def test_a_refused_payment_goes_once_the_analyst_does_something_else(workbench_db):
    inv = _finalized(workbench_db)
    at = start_app()
    open_page(at, "views/ledger.py")
    widget(at.selectbox, "ledger_pick").set_value(inv.invoice_id).run()
    box = [t for t in at.text_input if t.key.startswith(f"pay_amount_{inv.invoice_id}")][0]
    box.set_value("not money")
    [b for b in at.button if b.key.startswith(f"FormSubmitter:pay_{inv.invoice_id}")][0].click().run()
    refused = [e.value for e in at.error]
    assert len(refused) == 1 and refused[0].startswith("Payment refused:"), refused
    widget(at.selectbox, "ledger_sort").set_value("total_desc").run()  # anything else
    assert_clean(at)
    assert not [e.value for e in at.error]
    # a later refusal is shown in its turn (the mark was the first refusal's own), then goes the same way
    box = [t for t in at.text_input if t.key.startswith(f"pay_amount_{inv.invoice_id}")][0]
    box.set_value("still not money")
    [b for b in at.button if b.key.startswith(f"FormSubmitter:pay_{inv.invoice_id}")][0].click().run()
    assert [e.value for e in at.error] == [
        "Payment refused: payment: not a plain decimal amount: 'still not money' (write e.g. 12.50)"
    ]
    widget(at.selectbox, "ledger_sort").set_value("newest").run()
    assert not [e.value for e in at.error]


# --- "Your name": the actor of every change, refused by the application layer as every name ---------------------


def test_a_name_the_application_layer_refuses_is_said_in_the_sidebar_and_refuses_changes_never_a_page(workbench_db):
    """A bidirectional override pasted into "Your name" (the box stops at MAX_NAME, not at control characters):
    the sidebar says why, the pages still draw (their reads record no actor), and a change is refused in words
    with nothing written."""
    at = start_app()
    at.sidebar.text_input(key="actor").set_value("ana\u202e").run()
    (said,) = [e.value for e in at.sidebar.error]
    assert said == (
        "Your name cannot be recorded with a change: invalid request: actor: the text contains a control character "
        "(U+202E)"
    )
    at.switch_page("views/scenarios.py").run()
    assert not at.exception, [e.value for e in at.exception]
    at = _create_with_price_on(at, "12.50")
    refusals = [e.value for e in at.main.error]
    assert refusals == [
        "Create invoice refused: invalid request: actor: the text contains a control character (U+202E)"
    ]
    assert db_rows(workbench_db, "SELECT count(*) FROM invoices WHERE contract_id IS NULL") == [(0,)]


def test_the_what_if_name_and_range_survive_a_visit_to_another_page(workbench_db):
    """A trial left the What-if page for Billing cycles and came back to the default name and range (Streamlit
    forgets a widget it did not draw), beside the changes and results it had kept: Run would have billed another
    range, unsaid. The name and the range are kept now; a new session still starts from the defaults."""
    at = open_page(start_app(), "views/scenarios.py")
    defaults = (at.session_state["scn_name"], at.session_state["scn_from"], at.session_state["scn_to"])
    widget(at.text_input, "scn_name").set_value("Q3 price rise")
    widget(at.date_input, "scn_from").set_value(dt.date(2026, 1, 1))
    widget(at.date_input, "scn_to").set_value(dt.date(2026, 6, 30))
    at.run()
    open_page(at, "views/billing_cycles.py")
    open_page(at, "views/scenarios.py")
    assert widget(at.text_input, "scn_name").value == "Q3 price rise"
    assert widget(at.date_input, "scn_from").value == dt.date(2026, 1, 1)
    assert widget(at.date_input, "scn_to").value == dt.date(2026, 6, 30)
    fresh = open_page(start_app(), "views/scenarios.py")
    assert (fresh.session_state["scn_name"], fresh.session_state["scn_from"], fresh.session_state["scn_to"]) == defaults


def test_the_bill_runs_scope_and_options_survive_a_visit_to_another_page(workbench_db):
    """Back from another page, the Bill run page's scope was "All contracts" again and its options off (Streamlit
    forgets a widget it did not draw): Start would have billed every contract, without the delayed charges asked."""
    at = open_page(start_app(), "views/bill_run.py")
    widget(at.radio, "run_scope").set_value("One business").run()
    business = widget(at.selectbox, "run_business").options[-1]
    widget(at.selectbox, "run_business").set_value(business)
    widget(at.checkbox, "run_delayed").check()
    widget(at.checkbox, "run_catch_up").check()
    at.run()
    open_page(at, "views/review.py")
    open_page(at, "views/bill_run.py")
    assert widget(at.radio, "run_scope").value == "One business"
    assert widget(at.selectbox, "run_business").value == business
    assert widget(at.checkbox, "run_delayed").value and widget(at.checkbox, "run_catch_up").value
    assert not widget(at.checkbox, "run_finalize").value


def test_the_ledgers_filters_order_and_page_size_survive_a_visit_to_another_page(workbench_db):
    """Back from an invoice's preview, the Ledger showed every invoice again, newest first, 50 a page, on page 1
    (Streamlit forgets a widget it did not draw): its filters, order, page size and page are kept now; a new session
    starts clean."""
    with Billsim.open(workbench_db) as app:
        for month in range(1, 13):  # more than a page of 25 invoices in one currency
            bill_runs.run(app.session(Caller.local("ana")), {"period_date": dt.date(2026, month, 15)})
    ((currency, invoices),) = db_rows(
        workbench_db, "SELECT currency, count(*) FROM invoices GROUP BY ALL ORDER BY 2 DESC, 1 LIMIT 1"
    )
    assert invoices > 25
    at = open_page(start_app(), "views/ledger.py")
    widget(at.multiselect, "ledger_status").select("draft")
    widget(at.multiselect, "ledger_currency").select(currency)
    widget(at.date_input, "ledger_from").set_value(dt.date(2025, 1, 1))
    widget(at.selectbox, "ledger_sort").set_value("total_desc")
    widget(at.selectbox, "ledger_page_size").set_value(25)
    at.run()
    (page_key,) = [k for k in at.session_state if k.startswith("ledger_page_") and k != "ledger_page_size"]
    at.session_state[page_key] = 2  # the page picked with the pager
    at.run()
    assert_clean(at)
    (shown,) = [m.value for m in at.markdown if "invoice(s)" in m.value]
    assert " · page 2 of " in shown, shown
    open_page(at, "views/invoice_preview.py")
    open_page(at, "views/ledger.py")
    assert widget(at.multiselect, "ledger_status").value == ["draft"]
    assert widget(at.multiselect, "ledger_currency").value == [currency]
    assert widget(at.date_input, "ledger_from").value == dt.date(2025, 1, 1)
    assert widget(at.date_input, "ledger_to").value is None
    assert (widget(at.selectbox, "ledger_sort").value, widget(at.selectbox, "ledger_page_size").value) == (
        "total_desc",
        25,
    )
    assert [m.value for m in at.markdown if "invoice(s)" in m.value] == [shown]  # the same count, the same page
    assert not at.warning, [w.value for w in at.warning]
    fresh = open_page(start_app(), "views/ledger.py")
    assert widget(fresh.multiselect, "ledger_status").value == []
    assert (
        widget(fresh.selectbox, "ledger_page_size").value == 50
        and widget(fresh.date_input, "ledger_from").value is None
    )


def test_the_review_pages_run_flags_and_order_survive_a_visit_to_another_page(workbench_db):
    """Back from the Ledger, Review showed the newest run with every draft again: the run, the flags, the statuses and
    the order picked are kept now, and a run chosen on the Bill run page ("Review this run") still wins."""
    with Billsim.open(workbench_db) as app:
        s = app.session(Caller.local("ana"))
        older = bill_runs.run(s, {"period_date": dt.date(2026, 8, 15)}).run_id
        newer = bill_runs.run(s, {"period_date": dt.date(2026, 9, 15)}).run_id
    at = open_page(start_app(), "views/review.py")
    assert widget(at.selectbox, "rv_run").value == newer  # the newest by default
    widget(at.selectbox, "rv_run").set_value(older).run()
    widget(at.pills, "rv_flags").set_value(["total_change", "first_invoice"])
    widget(at.pills, "rv_statuses").set_value(["draft"])
    order = widget(at.selectbox, "rv_order").options[-1]
    widget(at.selectbox, "rv_order").set_value(order).run()
    open_page(at, "views/ledger.py")
    open_page(at, "views/review.py")
    assert widget(at.selectbox, "rv_run").value == older
    assert widget(at.pills, "rv_flags").value == ["total_change", "first_invoice"]
    assert widget(at.pills, "rv_statuses").value == ["draft"]
    assert widget(at.selectbox, "rv_order").value == order
    at.session_state["rv_run"] = newer  # what the Bill run page's "Review this run" sets (views/_routing.go_to)
    at.run()
    assert widget(at.selectbox, "rv_run").value == newer


def test_the_what_if_forms_change_survives_a_visit_to_another_page(workbench_db):
    """A trial came back to the What-if page to find the form at Price / A product / 10 % again, the usage change it
    was making gone (Streamlit forgets a widget it did not draw): the form's change is kept now."""
    at = open_page(start_app(), "views/scenarios.py")
    widget(at.selectbox, "scn_type").set_value("usage").run()
    metric = widget(at.selectbox, "scn_usage_metric").options[-1]
    widget(at.selectbox, "scn_usage_metric").set_value(metric)
    widget(at.text_input, "scn_usage_percent").set_value("40")
    at.run()
    open_page(at, "views/billing_cycles.py")
    open_page(at, "views/scenarios.py")
    assert widget(at.selectbox, "scn_type").value == "usage"
    assert widget(at.selectbox, "scn_usage_metric").value == metric
    assert widget(at.text_input, "scn_usage_percent").value == "40"
    assert not at.warning, [w.value for w in at.warning]
    widget(at.selectbox, "scn_type").set_value("price").run()  # the price form's own defaults
    assert widget(at.text_input, "scn_price_percent").value == "10"
    fresh = open_page(start_app(), "views/scenarios.py")
    assert widget(fresh.selectbox, "scn_type").value == "price"
