"""The workbench pages under streamlit.testing.v1.AppTest, on a private copy of a small seeded demo."""

from __future__ import annotations

import csv
import datetime as dt
import shutil
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from engine.db import connect

ROOT = Path(__file__).resolve().parents[2]
PAGES = {
    "views/data.py": "Data",
    "views/billing_cycles.py": "Billing cycles",
    "views/invoice_preview.py": "Invoice preview",
    "views/bill_run.py": "Bill run",
    "views/review.py": "Review",
    "views/ledger.py": "Ledger & export",
    "views/scenarios.py": "What-if scenarios",
    "views/manual_invoices.py": "Manual invoices",
    "views/api.py": "API",
}


def start_app() -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.run()
    assert_clean(at)
    return at


def open_page(at: AppTest, page: str) -> AppTest:
    at.switch_page(page).run()
    assert_clean(at)
    assert [t.value for t in at.title] == [PAGES[page]]
    return at


def assert_clean(at: AppTest) -> None:
    """No exception element and no error box (a refused action would show one)."""
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def db_rows(path: Path, sql: str, params=()) -> list[tuple]:
    """Read the test database beside the app (DuckDB shares one instance per file in a process)."""
    con = connect(path)
    try:
        return con.execute(sql, list(params)).fetchall()
    finally:
        con.close()


def status_of(path: Path, invoice_id: str) -> str:
    return db_rows(path, "SELECT status FROM invoices WHERE invoice_id = ?", [invoice_id])[0][0]


def input_counts(path: Path) -> list[tuple]:
    return db_rows(path, "SELECT (SELECT count(*) FROM customers), (SELECT count(*) FROM contracts)")


def widget(items, key: str):
    found = [w for w in items if w.key == key]
    assert found, f"no widget with key {key!r}: {[w.key for w in items]}"
    return found[0]


@pytest.mark.parametrize("page", list(PAGES))
def test_every_page_renders_on_the_demo_database(workbench_db, page):
    at = start_app()
    open_page(at, page)
    assert at.session_state["db_path"] == str(workbench_db)


def test_app_opens_on_the_data_page_with_the_table_counts(workbench_db):
    at = start_app()
    assert [t.value for t in at.title] == ["Data"]
    contracts = db_rows(workbench_db, "SELECT count(*) FROM contracts")[0][0]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["contracts"] == f"{contracts:,}"


def test_pick_contract_preview_draft_finalize_then_the_export_contains_it(workbench_db):
    at = start_app()
    open_page(at, "views/billing_cycles.py")
    widget(at.text_input, "cycles_contract_search").set_value("K-000002").run()
    assert_clean(at)
    contract = widget(at.selectbox, "cycles_contract")
    assert contract.value == "K-000002"
    cid = contract.value
    cycles = widget(at.selectbox, f"cycles_pick_{cid}")
    chosen = cycles.value  # the default: the last cycle that has ended
    assert isinstance(chosen, dt.date)
    widget(at.button, "cycles_to_preview").click().run()
    assert_clean(at)
    assert [t.value for t in at.title] == ["Invoice preview"]
    open_page(at, "views/invoice_preview.py")  # AppTest keeps rerunning the page it was last told to open
    assert widget(at.selectbox, "preview_contract").value == cid
    assert widget(at.selectbox, f"preview_cycle_{cid}").value == chosen
    assert at.subheader[0].value == "Preview (nothing stored)"
    total = {m.label: m.value for m in at.metric}["Total"]

    widget(at.button, f"draft_{cid}_{chosen}").click().run()
    assert_clean(at)
    assert "Drafted invoice" in at.success[0].value
    sql = "SELECT invoice_id, status, period_start FROM invoices WHERE contract_id = ?"
    rows = db_rows(workbench_db, sql, [cid])
    assert len(rows) == 1 and rows[0][1] == "draft" and rows[0][2] == chosen
    invoice_id = rows[0][0]
    assert {m.label: m.value for m in at.metric}["Total"] == total  # the draft is the preview, stored

    at.run()  # a rerun replays nothing
    at.run()
    assert db_rows(workbench_db, "SELECT count(*) FROM invoices WHERE contract_id = ?", [cid])[0][0] == 1

    assert not [b for b in at.button if b.key == f"preview_finalize_{invoice_id}"]  # a draft is approved first
    widget(at.text_input, "actor").set_value("Ann Analyst").run()  # the sidebar's name goes to the audit trail
    widget(at.button, f"preview_approve_{invoice_id}").click().run()
    assert_clean(at)
    sql = "SELECT status, approved_by FROM invoices WHERE invoice_id = ?"
    assert db_rows(workbench_db, sql, [invoice_id]) == [("approved", "Ann Analyst")]
    widget(at.button, f"preview_finalize_{invoice_id}").click().run()
    assert_clean(at)
    sql = "SELECT action, actor FROM invoice_events WHERE invoice_id = ? ORDER BY event_id"
    assert db_rows(workbench_db, sql, [invoice_id])[1:] == [("approved", "Ann Analyst"), ("finalized", "Ann Analyst")]
    status, number = db_rows(workbench_db, "SELECT status, number FROM invoices WHERE invoice_id = ?", [invoice_id])[0]
    assert status == "open" and number == 1
    year = dt.datetime.now(dt.UTC).year  # the year it was finalized, in its number with its business's prefix
    assert at.subheader[0].value in (f"Invoice N-{year}-000001 · open", f"Invoice S-{year}-000001 · open")
    assert widget(at.text_input, f"preview_void_reason_{invoice_id}")  # an open invoice can be voided, not finalized

    open_page(at, "views/ledger.py")
    widget(at.button, "export_prepare").click().run()
    assert_clean(at)
    made = at.session_state["export_paths"]["files"]
    with open(made["invoices"], newline="") as f:
        exported = {r["invoice_id"]: r for r in csv.DictReader(f)}
    assert exported[invoice_id]["status"] == "open" and exported[invoice_id]["number"] == "1"
    with open(made["invoice_lines"], newline="") as f:
        assert any(r["invoice_id"] == invoice_id for r in csv.DictReader(f))
    assert [b.key for b in at.get("download_button")] == ["download_all", *(f"download_{name}" for name in made)]


def test_the_ledger_opens_an_invoice_and_records_payments(workbench_db):
    con = connect(workbench_db)
    from engine.billing.approval import approve_invoices
    from engine.billing.invoices import draft_period_invoice
    from engine.billing.lifecycle import finalize_invoice

    inv = draft_period_invoice(con, "K-000001", dt.date(2026, 6, 15)).invoice
    approve_invoices(con, [inv.invoice_id])
    inv = finalize_invoice(con, inv.invoice_id)
    con.close()
    at = start_app()
    open_page(at, "views/ledger.py")
    widget(at.multiselect, "ledger_status").set_value(["open"]).run()
    assert_clean(at)
    widget(at.selectbox, "ledger_pick").set_value(inv.invoice_id).run()
    assert_clean(at)
    half = inv.total / 2
    half = half.quantize(inv.total) if inv.total.as_tuple().exponent < 0 else int(half)
    # keyed by the amount paid and the balance due (a credit note changes it too)
    widget(at.text_input, f"pay_amount_{inv.invoice_id}_0_{inv.balance_due_minor}").set_value(str(half))
    widget(at.button, f"FormSubmitter:pay_{inv.invoice_id}-Record payment").click().run()
    assert_clean(at)
    assert status_of(workbench_db, inv.invoice_id) == "partially_paid"
    assert [p.value for p in at.dataframe if "method" in p.value.columns][0]["method"].tolist() == ["manual"]
    # paid in part: no Void (spec section 4: open -> void), the page says how to correct it instead
    assert not [k for k in at.session_state if str(k).startswith(f"ledger_void_reason_{inv.invoice_id}")]
    assert any("cannot be voided; correct it with a credit note" in c.value for c in at.caption)
    assert status_of(workbench_db, inv.invoice_id) == "partially_paid"


@pytest.mark.parametrize("scope", ["All contracts", "One business", "Chosen customers"])
def test_a_bill_run_from_the_page_drafts_what_the_engine_drafts(workbench_db, tmp_path, scope):
    from engine.billing.bill_run import bill_run

    twin = tmp_path / "twin.duckdb"
    shutil.copyfile(workbench_db, twin)
    period = dt.date(2026, 9, 15)
    business = db_rows(workbench_db, "SELECT min(business_id) FROM customers")[0][0]
    customers = [r[0] for r in db_rows(workbench_db, "SELECT customer_id FROM customers ORDER BY 1 LIMIT 3")]
    con = connect(twin)
    expected = bill_run(
        con,
        period,
        business_id=business if scope == "One business" else None,
        customer_ids=customers if scope == "Chosen customers" else None,
    )
    con.close()
    assert expected.drafted > 0

    at = start_app()
    open_page(at, "views/bill_run.py")
    widget(at.date_input, "run_period").set_value(period)
    widget(at.radio, "run_scope").set_value(scope).run()
    if scope == "One business":
        widget(at.selectbox, "run_business").set_value(business).run()
    if scope == "Chosen customers":
        widget(at.multiselect, "run_customers").set_value(customers).run()
    assert f"{expected.contracts_in_scope} contract(s) active on 2026-09-15 in this scope." in [
        c.value for c in at.main.caption
    ]
    widget(at.button, "run_start").click().run()
    assert_clean(at)
    drafted = db_rows(workbench_db, "SELECT count(*) FROM invoices")[0][0]
    assert drafted == expected.drafted
    assert {m.label: m.value for m in at.metric}["Drafted"] == f"{expected.drafted:,}"
    assert at.session_state["run_request"] is None
    assert at.get("plotly_chart"), "the totals-by-product chart"

    at.run()  # a rerun after the run neither bills again nor records another run
    assert db_rows(workbench_db, "SELECT count(*) FROM invoices")[0][0] == drafted
    assert db_rows(workbench_db, "SELECT count(*) FROM bill_runs")[0][0] == 1


def test_the_first_start_creates_and_seeds_an_empty_database(tmp_path, monkeypatch):
    path = tmp_path / "new" / "workbench.duckdb"
    monkeypatch.setenv("BILLSIM_DB", str(path))
    try:
        at = start_app()
        assert at.session_state["db_path"] == str(path)
        assert db_rows(path, "SELECT count(*) FROM contracts")[0][0] == 50  # the demo's default size
        assert {m.label: m.value for m in at.metric}["contracts"] == "50"
    finally:
        from views._database import forget_database

        forget_database(str(path))


def test_regenerating_the_demo_replaces_the_database_and_keeps_the_old_file(workbench_db):
    at = start_app()
    widget(at.number_input, "demo_contracts").set_value(8)
    widget(at.number_input, "demo_usage_rows").set_value(200)
    widget(at.checkbox, "demo_confirm").check().run()
    widget(at.button, "demo_button").click().run()
    assert_clean(at)
    assert at.success[0].value.startswith("Demo data regenerated")
    assert db_rows(workbench_db, "SELECT count(*) FROM contracts")[0][0] == 8
    assert db_rows(workbench_db, "SELECT count(*) FROM usage")[0][0] == 200
    assert {m.label: m.value for m in at.metric}["contracts"] == "8"
    previous = workbench_db.with_name("workbench.previous.duckdb")
    assert db_rows(previous, "SELECT count(*) FROM contracts")[0][0] == 16
    open_page(at, "views/invoice_preview.py")  # the session's cursor follows the new database


def test_an_upload_with_errors_shows_them_all_and_imports_nothing(workbench_db):
    before = input_counts(workbench_db)
    at = start_app()
    customers = (
        b"customer_id,name,business_id,email,currency,tax_rate\n"
        b"CUS-NEW-1,New One,biz-north,a@example.com,USD,5\n"
        b"CUS-NEW-2,New Two,biz-north,b@example.com,XXX,abc\n"
    )
    contracts = (
        b"contract_id,customer_id,start_date\n"  # optional columns may be left out
        b"K-NEW-1,CUS-NEW-1,2026-01-01\n"
        b"K-NEW-2,CUS-NOBODY,2026-13-01\n"
    )
    files = [("customers.csv", customers, "text/csv"), ("contracts.csv", contracts, "text/csv")]
    widget(at.file_uploader, "data_upload").set_value(files).run()
    widget(at.button, "import_button").click().run()
    assert not at.exception
    assert [e.value for e in at.error] == ["Import refused, nothing was imported: 4 problem(s)."]
    problems = at.table[0].value
    found = {(r.file, r.line, r.column) for r in problems.itertuples()}
    assert ("customers.csv", "3", "currency") in found
    assert ("customers.csv", "3", "tax_rate") in found
    assert ("contracts.csv", "3", "start_date") in found
    assert ("contracts.csv", "3", "customer_id") in found
    assert input_counts(workbench_db) == before


def test_a_clean_upload_is_imported_and_counted(workbench_db):
    at = start_app()
    customers = (
        b"customer_id,name,business_id,email,currency,tax_rate\nCUS-NEW-1,New One,biz-new,a@example.com,JPY,10\n"
    )
    widget(at.file_uploader, "data_upload").set_value(("customers.csv", customers, "text/csv")).run()
    widget(at.button, "import_button").click().run()
    assert_clean(at)
    assert "Imported 1 customers" in at.success[0].value
    assert db_rows(workbench_db, "SELECT name FROM customers WHERE customer_id = ?", ["CUS-NEW-1"]) == [("New One",)]


def test_an_action_token_is_carried_out_once(workbench_db):
    """The guard behind every write button: the same token twice (a double click, a replayed click)
    does the work once; a refused action leaves its token free for a retry."""

    def script():
        import streamlit as st

        from engine.errors import ValidationError
        from views._actions import run_action, show_flash

        calls = st.session_state.setdefault("calls", [])

        def work():
            calls.append(1)
            return "done"

        def refused():
            raise ValidationError("no")

        runs = st.session_state["runs"] = st.session_state.get("runs", 0) + 1
        if runs == 1:  # a double click
            run_action(("demo", 1), "Demo", work)
            run_action(("demo", 1), "Demo", work)
        elif runs == 3:  # another action
            run_action(("refused", 1), "Refused", refused)
        show_flash()

    at = AppTest.from_function(script, default_timeout=30).run()
    assert at.session_state["calls"] == [1]
    assert [s.value for s in at.success] == ["done"]
    assert not at.info  # the first click's message is still to be shown: the replay adds nothing
    at.run()  # kept on the next rerun, until the next action
    assert [s.value for s in at.success] == ["done"]
    at.run()  # the next action: its outcome replaces the last one's
    assert [e.value for e in at.error] == ["Refused refused: no"] and not at.success
    assert ("refused", 1) not in at.session_state["done_actions"]
