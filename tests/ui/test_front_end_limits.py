"""The workbench refuses what the other front ends refuse, with the application layer's own message (the HTTP API,
the MCP tools and the CLI: tests/api/test_front_ends.py): too long a text, an amount beyond what can be stored.
Nothing is written."""

from __future__ import annotations

import pytest
from test_pages import db_rows, open_page, start_app, widget

from engine.service import Billsim, Caller, ValidationError, invoices
from engine.service.limits import MAX_TEXT


def _a_customer(path) -> str:
    return db_rows(path, "SELECT customer_id FROM customers WHERE currency = 'USD' ORDER BY 1 LIMIT 1")[0][0]


def _service_refusal(path, body: dict) -> str:
    """What the service says of this DayZero body (the message every front end shows)."""
    with Billsim.open(path) as app, pytest.raises(ValidationError) as refused:
        invoices.create(app.session(Caller.local("t")), body)
    return str(refused.value)


def _manual(path, *, description: str = "", lines: dict) -> tuple:
    customer_id = _a_customer(path)
    at = open_page(start_app(), "views/manual_invoices.py")
    widget(at.selectbox, "manual_customer").set_value(customer_id).run()
    at.session_state["manual_lines_0"] = {"edited_rows": {0: lines}, "added_rows": [], "deleted_rows": []}
    if description:
        widget(at.text_input, "manual_description").set_value(description)
    widget(at.button, "manual_create").click().run()
    return at, customer_id


def test_a_description_over_the_bound_is_refused_with_the_services_message(workbench_db):
    """The invoice's Description box stops at the bound (it takes no more than the application layer's MAX_TEXT); a
    line's description past it (a cell's value not typed in the browser) is refused with the service's words."""
    before = db_rows(workbench_db, "SELECT count(*) FROM invoices")
    at, customer_id = _manual(workbench_db, lines={"description": "x" * (MAX_TEXT + 1), "unit_price": "1"})
    expected = _service_refusal(
        workbench_db,
        {
            "customer_id": customer_id,
            "line_items": [{"description": "x" * (MAX_TEXT + 1), "unit_price": 100}],
            "due_date": "2026-07-31",
        },
    )
    assert "description" in expected and "2000" in expected
    assert any(expected in e.value for e in at.error), [e.value for e in at.error]
    assert db_rows(workbench_db, "SELECT count(*) FROM invoices") == before
    assert widget(at.text_input, "manual_description").proto.max_chars == MAX_TEXT


def test_an_amount_beyond_what_can_be_stored_is_refused_and_nothing_is_written(workbench_db):
    before = db_rows(workbench_db, "SELECT count(*) FROM invoices")
    at, _ = _manual(workbench_db, lines={"description": "Big", "unit_price": "92233720368547758.08"})
    assert at.error, "the page says why"
    assert not at.exception
    assert db_rows(workbench_db, "SELECT count(*) FROM invoices") == before
