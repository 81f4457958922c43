"""A refusal's message goes once the user's next action succeeds: on the What-if page (a change refused, then
one added and the scenario run) and on the Manual invoices page (an invoice refused, then one created)."""

from __future__ import annotations

import datetime as dt

from tests.ui.test_pages import assert_clean, db_rows, open_page, start_app, widget


def _errors(at) -> list[str]:
    return [e.value for e in at.error]


def test_a_refused_change_leaves_no_error_once_a_change_is_added_and_the_scenario_run(workbench_db):
    at = open_page(start_app(), "views/scenarios.py")
    at.session_state["scn_from"] = dt.date(2025, 1, 1)  # one month of cycles: quick
    at.session_state["scn_to"] = dt.date(2025, 1, 31)
    widget(at.selectbox, "scn_type").set_value("price").run()
    widget(at.radio, "scn_price_scope").set_value("All lines").run()
    widget(at.text_input, "scn_price_percent").set_value("1e308")
    widget(at.button, "scn_add").click().run()
    assert _errors(at), "the refusal is shown"
    assert at.session_state["scn_changes"] == []

    widget(at.text_input, "scn_price_percent").set_value("10")
    widget(at.button, "scn_add").click().run()
    assert len(at.session_state["scn_changes"]) == 1
    assert_clean(at)  # the change was added: the refusal of the one before is gone
    assert any("Added" in s.value for s in at.success), [s.value for s in at.success]

    widget(at.text_input, "scn_price_percent").set_value("1e308")
    widget(at.button, "scn_add").click().run()
    assert _errors(at)
    widget(at.button, "scn_run").click().run()
    assert_clean(at)  # the scenario of the list was run: no refusal above its results
    assert at.session_state["scn_result"]["summary"]["changes"]


def _lines(price: str) -> dict:
    """The line-item editor's state with one line at `price` (what the browser sends for a typed cell)."""
    return {"edited_rows": {0: {"description": "Setup", "unit_price": price}}, "added_rows": [], "deleted_rows": []}


def test_a_refused_manual_invoice_leaves_no_error_once_the_form_is_changed_or_one_is_created(workbench_db):
    """Create's refusal is of the form as it was clicked: it goes when the form changes (the customer chosen, the
    price corrected: the total shows above the button), and a refusal clicked again on the same form stays."""
    customer_id = db_rows(workbench_db, "SELECT customer_id FROM customers WHERE currency = 'USD' ORDER BY 1 LIMIT 1")
    at = open_page(start_app(), "views/manual_invoices.py")
    widget(at.button, "manual_create").click().run()
    assert any("choose the customer first" in e for e in _errors(at))
    widget(at.selectbox, "manual_customer").set_value(customer_id[0][0]).run()
    assert_clean(at)  # a customer is chosen: "choose the customer first" is no longer true

    at.session_state["manual_lines_0"] = _lines("12.5x")
    widget(at.button, "manual_create").click().run()
    assert any("unit price: not a plain decimal amount" in e for e in _errors(at))
    at.run()
    assert _errors(at), "the form has not changed: the refusal stays"
    at.session_state["manual_lines_0"] = _lines("12.50")
    at.run()
    assert_clean(at)  # corrected: the refusal of the price typed before is gone
    assert any(m.value.startswith("**Total ") for m in at.markdown)

    at.session_state["manual_lines_0"] = _lines("12.5x")
    widget(at.button, "manual_create").click().run()
    assert _errors(at)
    at.session_state["manual_lines_0"] = _lines("12.50")
    before = db_rows(workbench_db, "SELECT count(*) FROM invoices")[0][0]
    widget(at.button, "manual_create").click().run()  # corrected and clicked in one go
    assert db_rows(workbench_db, "SELECT count(*) FROM invoices")[0][0] == before + 1
    assert_clean(at)
    assert any("Created draft" in s.value for s in at.success)
