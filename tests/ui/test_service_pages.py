"""The Manual invoices and API pages under AppTest, on a private copy of the small demo: an invoice created
from the form (exact minor units, optional recurring template), a batch from uploaded JSON and CSV with each
item's own result, and API tokens created (shown once), listed and revoked."""

from __future__ import annotations

import json

import pandas as pd
from test_pages import assert_clean, db_rows, open_page, start_app, widget

from engine.access.tokens import business_of_token
from engine.service import Billsim, Caller, invoices, lifecycle


def _a_customer(path) -> tuple[str, str]:
    return db_rows(path, "SELECT customer_id, currency FROM customers WHERE currency = 'USD' ORDER BY 1 LIMIT 1")[0]


def _results(at):
    """The batch results table (the dataframe with a Result column)."""
    (table,) = [d.value for d in at.dataframe if "Result" in d.value.columns]
    return table


def test_create_one_invoice_from_the_form(workbench_db):
    customer_id, _ = _a_customer(workbench_db)
    at = open_page(start_app(), "views/manual_invoices.py")
    widget(at.selectbox, "manual_customer").set_value(customer_id).run()
    at.session_state["manual_lines_0"] = {
        "edited_rows": {0: {"description": "Consulting", "unit_price": "1250.50", "quantity": "2"}},
        "added_rows": [{"description": "Travel", "unit_price": "99.99"}],
        "deleted_rows": [],
    }
    widget(at.text_input, "manual_description").set_value("March work")
    widget(at.checkbox, "manual_recurring").check().run()
    widget(at.button, "manual_create").click().run()
    assert_clean(at)
    assert any("Created draft" in s.value for s in at.success)
    rows = db_rows(
        workbench_db,
        """SELECT i.total_minor, i.status, i.description, i.recurring_template_id IS NOT NULL
           FROM invoices i WHERE i.customer_id = ? AND i.contract_id IS NULL""",
        [customer_id],
    )
    assert len(rows) == 1
    total, status, description, has_template = rows[0]
    assert (status, description, has_template) == ("draft", "March work", True)
    lines = db_rows(
        workbench_db,
        """SELECT l.description, l.amount_minor FROM invoice_lines l JOIN invoices i USING (invoice_id)
           WHERE i.customer_id = ? AND i.contract_id IS NULL ORDER BY l.line_no""",
        [customer_id],
    )
    assert lines == [("Consulting", 250100), ("Travel", 9999)]
    # the form is emptied after the invoice is created: a second click creates nothing
    widget(at.button, "manual_create").click().run()
    assert any("at least one line item" in e.value for e in at.error)
    count = db_rows(
        workbench_db, "SELECT count(*) FROM invoices WHERE customer_id = ? AND contract_id IS NULL", [customer_id]
    )
    assert count == [(1,)]


def test_a_line_added_with_plus_starts_with_quantity_1_and_empty_cells_never_none(workbench_db):
    """The editor's "+" fills a new row from each column's `default`: quantity 1, description and unit price
    empty (no default: None, which the editor shows as the text "None"). The row, filled in, is a line of 1."""
    customer_id, _ = _a_customer(workbench_db)
    at = open_page(start_app(), "views/manual_invoices.py")
    (editor,) = [d for d in at.dataframe if d.proto.id.endswith("-manual_lines_0")]
    columns = json.loads(editor.proto.columns)
    defaults = {name: columns[name].get("default") for name in ("description", "unit_price", "quantity")}
    assert defaults == {"description": "", "unit_price": "", "quantity": "1"}
    assert editor.value.to_dict("records") == [defaults]  # a new row starts as the first row does

    widget(at.selectbox, "manual_customer").set_value(customer_id).run()
    at.session_state["manual_lines_0"] = {
        "edited_rows": {0: {"description": "Consulting", "unit_price": "100"}},
        "added_rows": [{**defaults, "description": "Travel", "unit_price": "20"}],  # "+", then two cells typed
        "deleted_rows": [],
    }
    widget(at.button, "manual_create").click().run()
    assert_clean(at)
    lines = db_rows(
        workbench_db,
        """SELECT l.description, l.quantity, l.amount_minor FROM invoice_lines l JOIN invoices i USING (invoice_id)
           WHERE i.customer_id = ? AND i.contract_id IS NULL ORDER BY l.line_no""",
        [customer_id],
    )
    assert [(d, int(q), a) for d, q, a in lines] == [("Consulting", 1, 10000), ("Travel", 1, 2000)]


def test_a_price_with_too_many_decimals_is_refused_not_rounded(workbench_db):
    customer_id, _ = _a_customer(workbench_db)
    at = open_page(start_app(), "views/manual_invoices.py")
    widget(at.selectbox, "manual_customer").set_value(customer_id).run()
    at.session_state["manual_lines_0"] = {
        "edited_rows": {0: {"description": "Odd", "unit_price": "1.005"}},
        "added_rows": [],
        "deleted_rows": [],
    }
    widget(at.button, "manual_create").click().run()
    assert any("more decimals" in e.value for e in at.error)
    assert db_rows(workbench_db, "SELECT count(*) FROM invoices WHERE contract_id IS NULL") == [(0,)]


def test_a_quantity_must_be_a_whole_number(workbench_db):
    """A DayZero line item's quantity is a whole number (the service's request model): a fraction is refused
    with the line named, and nothing is created."""
    customer_id, _ = _a_customer(workbench_db)
    at = open_page(start_app(), "views/manual_invoices.py")
    widget(at.selectbox, "manual_customer").set_value(customer_id).run()
    at.session_state["manual_lines_0"] = {
        "edited_rows": {0: {"description": "Hours", "unit_price": "80", "quantity": "2.5"}},
        "added_rows": [],
        "deleted_rows": [],
    }
    widget(at.button, "manual_create").click().run()
    assert [e.value for e in at.error] == [
        "Create invoice refused: line 1: quantity '2.5' is not a whole number (write e.g. 3)"
    ]
    assert db_rows(workbench_db, "SELECT count(*) FROM invoices WHERE contract_id IS NULL") == [(0,)]


def test_batch_from_json_and_csv_shows_each_items_result(workbench_db):
    customer_id, _ = _a_customer(workbench_db)
    body = {
        "items": [
            {
                "customer_id": customer_id,
                "line_items": [{"description": "A", "unit_price": 1000}],
                "due_date": "2026-05-01",
            },
            {"customer_id": "NOPE", "line_items": [{"description": "B", "unit_price": 1}], "due_date": "2026-05-01"},
        ]
    }
    at = open_page(start_app(), "views/manual_invoices.py")
    widget(at.file_uploader, "manual_batch_file").set_value(
        ("batch.json", json.dumps(body).encode(), "application/json")
    )
    at.run()
    widget(at.button, "manual_batch_create").click().run()
    assert_clean(at)
    table = _results(at)
    assert list(table["Result"]) == ["created", "refused"]
    assert "NOPE" in table["Error"][1]

    csv_text = (
        "invoice,customer_id,due_date,line_description,unit_price,quantity\n"
        f"x,{customer_id},2026-06-01,Setup,5000,1\n"
        f"x,{customer_id},2026-06-01,Support,250,4\n"
    )
    widget(at.file_uploader, "manual_batch_file").set_value(("batch.csv", csv_text.encode(), "text/csv"))
    at.run()
    widget(at.checkbox, "manual_finalize").check().run()
    widget(at.button, "manual_batch_create").click().run()
    assert_clean(at)
    table = _results(at)
    assert list(table["Result"]) == ["created"] and list(table["Status"]) == ["open"]
    assert db_rows(workbench_db, "SELECT subtotal_minor FROM invoices WHERE invoice_id = ?", [table["Invoice"][0]]) == [
        (6000,)
    ]


def test_api_tokens_are_shown_once_listed_and_revoked(workbench_db):
    business = db_rows(workbench_db, "SELECT min(business_id) FROM customers")[0][0]
    at = open_page(start_app(), "views/api.py")
    widget(at.selectbox, "api_token_business").set_value(business)
    widget(at.text_input, "api_token_name").set_value("finance-bot")
    widget(at.button, "api_create_token").click().run()
    assert_clean(at)
    shown = [c.value for c in at.code]
    assert len(shown) == 1 and shown[0].startswith("bsk_")
    assert any("shown only once" in w.value for w in at.warning)
    (token,) = shown
    from engine.db import connect

    con = connect(workbench_db)
    try:
        assert business_of_token(con, token) == business
    finally:
        con.close()
    listed = at.dataframe[0].value
    assert list(listed["Name"]) == ["finance-bot"] and list(listed["Status"]) == ["active"]

    at.run()  # any later run: the token is gone from the page for good
    assert not at.code or all(not c.value.startswith("bsk_") for c in at.code)

    widget(at.selectbox, "api_revoke_choice").set_value("finance-bot").run()
    widget(at.button, "api_revoke_confirm").click().run()
    assert_clean(at)
    assert list(at.dataframe[0].value["Status"]) == ["revoked"]
    assert db_rows(workbench_db, "SELECT revoked_at IS NOT NULL FROM api_tokens") == [(True,)]


def test_the_ledger_shows_what_was_typed_on_a_manual_invoice_its_description_and_its_lines(workbench_db):
    """The Manual invoices form's Description ("shown on the invoice") and each line's description are on the
    Ledger's opened invoice, as on its document: the analyst sees what they typed."""
    customer_id, _ = _a_customer(workbench_db)
    with Billsim.open(workbench_db) as app:
        body = {
            "customer_id": customer_id,
            "line_items": [{"description": "Onsite workshop", "unit_price": 5000}],
            "due_date": "2026-07-01",
            "description": "March consulting for ACME",
        }
        manual = invoices.create(app.session(Caller.local("test")), body).invoice
    at = open_page(start_app(), "views/ledger.py")
    widget(at.selectbox, "ledger_pick").set_value(manual.invoice_id).run()
    assert_clean(at)
    assert "**Description:** March consulting for ACME" in [m.value for m in at.markdown]
    (lines,) = [d.value for d in at.dataframe if "line" in d.value.columns and "amount" in d.value.columns]
    assert lines["line"].tolist() == ["Onsite workshop"]


def test_a_void_reason_reads_as_typed_never_as_markdown(workbench_db):
    """A void reason is the analyst's text: '*' or a '$' in it were rendered as emphasis or the start of a formula."""
    customer_id, _ = _a_customer(workbench_db)
    with Billsim.open(workbench_db) as app:
        s = app.session(Caller.local("test"))
        body = {
            "customer_id": customer_id,
            "line_items": [{"description": "Setup", "unit_price": 5000}],
            "due_date": "2026-07-01",
        }
        draft = invoices.create(s, body).invoice
        lifecycle.approve(s, [draft.invoice_id])
        lifecycle.finalize(s, [draft.invoice_id])
        lifecycle.void(s, draft.invoice_id, "billed *twice*: $50 and $50")
    at = open_page(start_app(), "views/ledger.py")
    widget(at.selectbox, "ledger_pick").set_value(draft.invoice_id).run()
    assert_clean(at)
    assert [w.value for w in at.warning if w.value.startswith("Voided")] == [
        "Voided: billed \\*twice\\*\\: \\$50 and \\$50"
    ]


def test_the_ledger_shows_a_manual_invoice_with_its_panel_and_the_export(workbench_db):
    """A manual invoice has no period: the ledger's table, its picker label, the opened invoice and the export
    section all render (a missing period start once crashed the page: NaTType does not support strftime)."""
    customer_id, _ = _a_customer(workbench_db)
    with Billsim.open(workbench_db) as app:
        body = {
            "customer_id": customer_id,
            "line_items": [{"description": "Setup", "unit_price": 5000}],
            "due_date": "2026-07-01",
        }
        manual = invoices.create(app.session(Caller.local("test")), body).invoice
    at = open_page(start_app(), "views/ledger.py")
    headers = [h.value for h in at.subheader]
    assert headers == ["Invoice", "Export"]
    table = [d.value for d in at.dataframe if "invoice" in d.value.columns][0]
    row = table[table["invoice"] == manual.invoice_id].iloc[0]
    assert row["contract"] == "manual" and pd.isna(row["period start"])  # shown blank
    picker = widget(at.selectbox, "ledger_pick")
    mine = [o for o in picker.options if o.startswith(f"{manual.invoice_id} · ")]  # a draft: its id, no number yet
    assert len(mine) == 1 and " · manual · " in mine[0] and mine[0].endswith(" · draft"), picker.options
    picker.set_value(manual.invoice_id).run()
    assert_clean(at)
    assert [h.value for h in at.subheader] == ["Invoice", "Export"]
    shown = " ".join(m.value for m in at.markdown)
    assert "manual invoice" in shown and f"`{manual.invoice_id}`" in shown
    widget(at.button, "export_prepare").click().run()
    assert_clean(at)
    assert widget(at.button, "ledger_document_make_pdf").label == "Make PDF"  # the document's PDF, printed on click
    assert [b.key for b in at.get("download_button")] == [
        "ledger_document_html",  # the document's HTML, always at hand
        "download_all",
        "download_invoices",
        "download_invoice_lines",
        "download_invoice_adjustments",
        "download_credit_notes",
        "download_credit_note_items",
        "download_customer_credit_movements",
    ]
