"""The workbench as a new analyst meets it: labels that follow the data, confirmations, readable tables
and charts, the sample data folder. AppTest on a private copy of the small seeded demo."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pytest

from engine.db import connect
from tests.ui.test_pages import ROOT, assert_clean, db_rows, open_page, start_app, status_of, widget

SAMPLE = ROOT / "data" / "sample"


class Browser:
    """What the browser shows in each select box.

    Streamlit's front end keeps showing the label it holds for a widget id until the server sends a
    new value (`set_value`); a keyed select box keeps its id when its options' labels change. So a
    label that changes on the server reaches the screen only if the server sends it."""

    def __init__(self) -> None:
        self.shown: dict[str, str | None] = {}

    def look(self, at) -> dict[str, str | None]:
        for box in at.selectbox:
            p = box.proto
            if p.set_value:
                self.shown[p.id] = p.raw_value
            elif p.id not in self.shown:
                self.shown[p.id] = p.options[p.default] if p.HasField("default") else None
        return {box.key: self.shown[box.proto.id] for box in at.selectbox}

    def pick(self, at, key: str, value) -> None:
        """The analyst chooses `value` in the box: the browser shows its label, the app reruns."""
        box = widget(at.selectbox, key)
        box.set_value(value)
        self.shown[box.proto.id] = box.format_func(value)
        at.run()
        assert_clean(at)
        self.look(at)


def _open_invoice(path: Path, contract_id: str = "K-000001", period: dt.date = dt.date(2026, 6, 15)):
    from engine.billing.approval import approve_invoices
    from engine.billing.invoices import draft_period_invoice
    from engine.billing.lifecycle import finalize_invoice

    con = connect(path)
    try:
        inv = draft_period_invoice(con, contract_id, period).invoice
        approve_invoices(con, [inv.invoice_id])
        return finalize_invoice(con, inv.invoice_id)
    finally:
        con.close()


def void_button(at, prefix: str, invoice_id: str):
    """The confirming button of the Void… popover (a form: the reason is sent with the click)."""
    return widget(at.button, f"FormSubmitter:{prefix}_void_{invoice_id}-Void the invoice")


def _frames(at) -> list[pd.DataFrame]:
    return [d.value for d in at.dataframe]


def _frame_with(at, column: str) -> pd.DataFrame:
    found = [f for f in _frames(at) if column in f.columns]
    assert found, f"no table with a {column!r} column: {[list(f.columns) for f in _frames(at)]}"
    return found[0]


def _texts(at) -> list[str]:
    return [e.value for kind in ("markdown", "caption", "info", "warning", "success") for e in at.get(kind)]


# --- 2. pickers show what is stored now ----------------------------------------------------------


def test_the_contract_box_names_the_contract_found_by_a_search(workbench_db):
    at = start_app()
    browser = Browser()
    open_page(at, "views/invoice_preview.py")
    assert browser.look(at)["preview_contract"].startswith("K-000001 ")
    widget(at.text_input, "preview_contract_search").set_value("K-000003").run()
    assert_clean(at)
    assert widget(at.selectbox, "preview_contract").value == "K-000003"
    assert browser.look(at)["preview_contract"].startswith("K-000003 ")


def test_the_cycle_label_follows_the_invoice_from_draft_to_open(workbench_db):
    at = start_app()
    browser = Browser()
    open_page(at, "views/invoice_preview.py")
    browser.pick(at, "preview_contract", "K-000002")
    key = "preview_cycle_K-000002"
    chosen = widget(at.selectbox, key).value
    assert "invoice" not in browser.look(at)[key]
    widget(at.button, f"draft_K-000002_{chosen}").click().run()
    assert_clean(at)
    assert browser.look(at)[key].endswith("invoice draft")
    invoice_id = db_rows(workbench_db, "SELECT invoice_id FROM invoices WHERE contract_id = 'K-000002'")[0][0]
    widget(at.button, f"preview_approve_{invoice_id}").click().run()
    assert_clean(at)
    assert browser.look(at)[key].endswith("invoice approved")
    widget(at.button, f"preview_finalize_{invoice_id}").click().run()
    assert_clean(at)
    assert browser.look(at)[key].endswith(f"invoice N-{finalized_year()}-000001 open")  # the business's prefix


def finalized_year() -> int:
    """The year an invoice finalized now gets in its number (UTC)."""
    return dt.datetime.now(dt.UTC).year


def test_the_ledger_picker_label_follows_finalize_and_void(workbench_db):
    from engine.billing.invoices import draft_period_invoice

    con = connect(workbench_db)
    draft = draft_period_invoice(con, "K-000002", dt.date(2026, 6, 15)).invoice
    con.close()
    at = start_app()
    browser = Browser()
    open_page(at, "views/ledger.py")
    browser.pick(at, "ledger_pick", draft.invoice_id)
    assert "· draft" in browser.look(at)["ledger_pick"]
    widget(at.button, f"ledger_approve_{draft.invoice_id}").click().run()
    assert_clean(at)
    assert "· approved" in browser.look(at)["ledger_pick"]
    widget(at.button, f"ledger_finalize_{draft.invoice_id}").click().run()
    assert_clean(at)
    assert browser.look(at)["ledger_pick"].startswith(f"N-{finalized_year()}-000001 · ")
    assert browser.look(at)["ledger_pick"].endswith("· open")
    widget(at.text_input, f"ledger_void_reason_{draft.invoice_id}").set_value("sent to the wrong customer")
    void_button(at, "ledger", draft.invoice_id).click().run()
    assert_clean(at)
    assert browser.look(at)["ledger_pick"].endswith("· void")


# --- 3. a refused import stays in view -------------------------------------------------------------

BAD_CUSTOMERS = (
    b"customer_id,name,business_id,email,currency,tax_rate\nCUS-NEW-1,New One,biz-north,a@example.com,XXX,5\n"
)


def test_a_refused_import_keeps_the_import_tab_open_with_its_problems_in_full(workbench_db):
    at = start_app()
    widget(at.file_uploader, "data_upload").set_value(("customers.csv", BAD_CUSTOMERS, "text/csv")).run()
    widget(at.button, "import_button").click().run()
    assert not at.exception
    assert at.session_state["data_tab"] == "Import CSV files"
    assert [e.value for e in at.error] == ["Import refused, nothing was imported: 1 problem(s)."]
    problems = at.table[0].value  # a static table wraps long reasons; nothing is cut off
    assert list(problems.columns) == ["file", "line", "column", "reason"]
    assert "XXX" in problems["reason"].iloc[0]
    assert not at.get("progress"), "no progress bar is left behind"


def test_choosing_another_file_clears_the_old_problems(workbench_db):
    at = start_app()
    widget(at.file_uploader, "data_upload").set_value(("customers.csv", BAD_CUSTOMERS, "text/csv")).run()
    widget(at.button, "import_button").click().run()
    assert at.error
    good = b"customer_id,name,business_id,email,currency,tax_rate\nCUS-NEW-2,New Two,biz-north,b@x.com,USD,5\n"
    widget(at.file_uploader, "data_upload").set_value(("customers.csv", good, "text/csv")).run()
    assert not at.error
    assert not at.table


# --- 4. money sorts as numbers over the whole ledger ----------------------------------------------


def test_the_ledger_sorts_by_total_over_every_page_and_shows_each_amount_with_its_currency(workbench_db):
    from engine.billing.bill_run import bill_run

    con = connect(workbench_db)
    bill_run(con, dt.date(2026, 9, 15))
    bill_run(con, dt.date(2026, 8, 15))
    con.close()
    at = start_app()
    open_page(at, "views/ledger.py")
    widget(at.selectbox, "ledger_page_size").set_value(25).run()
    widget(at.selectbox, "ledger_sort").set_value("total_desc").run()
    assert_clean(at)
    table = _frame_with(at, "total")
    totals = db_rows(
        workbench_db,
        "SELECT total_minor, currency FROM invoices",
    )
    from engine.money import format_money, to_major

    # sorted by the engine over every page (the page's order, not the header's), each amount with its currency
    ranked = sorted(totals, key=lambda t: to_major(*t), reverse=True)
    assert list(table["total"]) == [format_money(m, c) for m, c in ranked[: len(table)]]
    assert list(table["currency"]) == [c for _, c in ranked[: len(table)]]


# --- 5. finalize and void ask first; a void keeps its reason ---------------------------------------


def test_void_asks_for_a_reason_and_the_invoice_shows_it(workbench_db):
    inv = _open_invoice(workbench_db)
    at = start_app()
    open_page(at, "views/ledger.py")
    widget(at.selectbox, "ledger_pick").set_value(inv.invoice_id).run()
    void_button(at, "ledger", inv.invoice_id).click().run()  # no reason yet: refused, nothing changes
    assert [e.value for e in at.error] == ["Void: give the reason first (it is kept with the invoice)."]
    assert status_of(workbench_db, inv.invoice_id) == "open"
    widget(at.text_input, f"ledger_void_reason_{inv.invoice_id}").set_value("duplicate of another invoice")
    void_button(at, "ledger", inv.invoice_id).click().run()
    assert_clean(at)
    assert status_of(workbench_db, inv.invoice_id) == "void"
    assert db_rows(workbench_db, "SELECT void_reason FROM invoices WHERE invoice_id = ?", [inv.invoice_id]) == [
        ("duplicate of another invoice",)
    ]
    assert any("duplicate of another invoice" in t for t in _texts(at))


def test_finalize_is_confirmed_inside_a_popover(workbench_db):
    from engine.billing.invoices import draft_period_invoice

    con = connect(workbench_db)
    draft = draft_period_invoice(con, "K-000002", dt.date(2026, 6, 15)).invoice
    con.close()
    at = start_app()
    open_page(at, "views/ledger.py")
    widget(at.selectbox, "ledger_pick").set_value(draft.invoice_id).run()
    # a draft offers Approve and Hold…, not Finalize
    assert "Finalize…" not in [p.proto.popover.label for p in at.get("popover")]
    assert widget(at.button, f"ledger_approve_{draft.invoice_id}")
    widget(at.button, f"ledger_approve_{draft.invoice_id}").click().run()
    assert_clean(at)
    popovers = at.get("popover")
    assert "Finalize…" in [p.proto.popover.label for p in popovers]
    button = widget(at.button, f"ledger_finalize_{draft.invoice_id}")
    assert "Finalize" in button.label and button.label != "Finalize…"


def test_hold_asks_for_a_reason_blocks_approval_and_release_makes_a_draft_again(workbench_db):
    from engine.billing.invoices import draft_period_invoice

    con = connect(workbench_db)
    draft = draft_period_invoice(con, "K-000002", dt.date(2026, 6, 15)).invoice
    con.close()
    at = start_app()
    open_page(at, "views/ledger.py")
    widget(at.selectbox, "ledger_pick").set_value(draft.invoice_id).run()
    hold = f"FormSubmitter:ledger_hold_{draft.invoice_id}-Put on hold"
    widget(at.button, hold).click().run()  # no reason yet: refused, nothing changes
    assert not at.exception
    assert status_of(workbench_db, draft.invoice_id) == "draft"
    assert any("give the reason first" in e.value for e in at.error)
    widget(at.text_input, f"ledger_hold_reason_{draft.invoice_id}").set_value("seats look doubled")
    widget(at.button, hold).click().run()
    assert_clean(at)
    assert status_of(workbench_db, draft.invoice_id) == "held"
    assert any("seats look doubled" in w.value for w in at.warning)
    assert not [b for b in at.button if b.key == f"ledger_approve_{draft.invoice_id}"]  # held: no approve
    widget(at.button, f"ledger_release_{draft.invoice_id}").click().run()
    assert_clean(at)
    assert status_of(workbench_db, draft.invoice_id) == "draft"
    assert widget(at.button, f"ledger_approve_{draft.invoice_id}")
    sql = "SELECT action FROM invoice_events WHERE invoice_id = ? ORDER BY event_id"
    assert [r[0] for r in db_rows(workbench_db, sql, [draft.invoice_id])] == ["drafted", "held", "released"]


# --- 6. payments ---------------------------------------------------------------------------------


def test_after_a_partial_payment_the_amount_box_holds_the_new_balance(workbench_db):
    inv = _open_invoice(workbench_db)
    at = start_app()
    open_page(at, "views/ledger.py")
    widget(at.selectbox, "ledger_pick").set_value(inv.invoice_id).run()
    box = [t for t in at.text_input if t.key.startswith(f"pay_amount_{inv.invoice_id}")][0]
    assert box.value == str(inv.balance_due)
    box.set_value("1")
    [b for b in at.button if b.key.startswith(f"FormSubmitter:pay_{inv.invoice_id}")][0].click().run()
    assert_clean(at)
    balance = db_rows(
        workbench_db, "SELECT total_minor - total_paid_minor FROM invoices WHERE invoice_id = ?", [inv.invoice_id]
    )[0][0]
    from engine.money import to_major

    box = [t for t in at.text_input if t.key.startswith(f"pay_amount_{inv.invoice_id}")][0]
    assert box.value == str(to_major(balance, inv.currency))


@pytest.mark.parametrize("typed", ["1,00", "1e2"])
def test_a_payment_typed_with_a_decimal_comma_or_an_exponent_is_refused(workbench_db, typed):
    """'1,00' is never read as 100 (a decimal comma taken for a thousands separator), nor '1e2' as 100: the
    application layer's rule for typed amounts (requests.typed_amount), as the CLI's."""
    inv = _open_invoice(workbench_db)
    at = start_app()
    open_page(at, "views/ledger.py")
    widget(at.selectbox, "ledger_pick").set_value(inv.invoice_id).run()
    [t for t in at.text_input if t.key.startswith(f"pay_amount_{inv.invoice_id}")][0].set_value(typed)
    [b for b in at.button if b.key.startswith(f"FormSubmitter:pay_{inv.invoice_id}")][0].click().run()
    assert any("not a plain decimal amount" in e.value for e in at.error), [e.value for e in at.error]
    paid = db_rows(workbench_db, "SELECT count(*) FROM payments WHERE invoice_id = ?", [inv.invoice_id])[0][0]
    assert paid == 0


def test_a_repeated_click_reports_the_action_that_was_carried_out(workbench_db):
    """A double click runs the callback twice with the same token: the user is told the payment was
    recorded (once), never that nothing changed."""
    from streamlit.testing.v1 import AppTest

    def script():
        import streamlit as st

        from views._actions import run_action, show_flash

        calls = st.session_state.setdefault("calls", [])

        def work():
            calls.append(1)
            return "Recorded a payment of $1.00."

        if not st.session_state.get("clicked"):
            st.session_state["clicked"] = True
            run_action(("pay", 1), "Payment", work)
            run_action(("pay", 1), "Payment", work)
        elif not st.session_state.get("clicked_again"):
            st.session_state["clicked_again"] = True
            run_action(("pay", 1), "Payment", work)  # a late replay, after the first message was shown
        show_flash()

    at = AppTest.from_function(script, default_timeout=30).run()
    assert at.session_state["calls"] == [1]
    assert [s.value for s in at.success] == ["Recorded a payment of \\$1.00."]  # '$' escaped: never a formula
    assert not at.info
    at.run()
    messages = [m.value for m in (*at.success, *at.info)]
    assert len(messages) == 1 and "Recorded a payment of \\$1.00." in messages[0]
    assert "nothing changed" not in messages[0]


# --- 7. names with ids, no raw column names, one date format --------------------------------------


def test_the_ledger_names_customers_and_has_no_raw_column_names(workbench_db):
    _open_invoice(workbench_db)
    at = start_app()
    open_page(at, "views/ledger.py")
    table = _frame_with(at, "customer")
    name = db_rows(workbench_db, "SELECT name FROM customers WHERE customer_id = 'CUS-000001'")[0][0]
    assert f"{name} (CUS-000001)" in list(table["customer"])
    assert not [c for c in table.columns if "_" in c]


def test_the_data_page_tables_have_plain_column_names_and_no_none_cells(workbench_db):
    _open_invoice(workbench_db)
    at = start_app()
    assert len(at.dataframe) >= 4  # customers, invoices, usage, the table browser
    for d in at.dataframe:
        assert not [c for c in d.value.columns if "_" in c], list(d.value.columns)
        assert d.proto.HasField("placeholder") and d.proto.placeholder == "", "missing values would show as None"


@pytest.mark.parametrize(
    "page",
    ["views/billing_cycles.py", "views/bill_run.py", "views/ledger.py", "views/scenarios.py"],
)
def test_every_date_box_uses_one_date_format(workbench_db, page):
    at = start_app()
    open_page(at, page)
    boxes = at.date_input
    assert boxes
    assert {b.proto.format for b in boxes} == {"YYYY-MM-DD"}


# --- 8. charts -----------------------------------------------------------------------------------


def _figures(at) -> dict[str, dict]:
    return {c.key: c.proto for c in at.get("plotly_chart")}


def _run_scenario(at):
    widget(at.selectbox, "scn_type").set_value("usage").run()
    widget(at.selectbox, "scn_usage_metric").set_value("api_calls").run()
    widget(at.text_input, "scn_usage_percent").set_value("25")
    widget(at.button, "scn_add").click().run()
    widget(at.date_input, "scn_from").set_value(dt.date(2025, 12, 1))
    widget(at.date_input, "scn_to").set_value(dt.date(2026, 11, 30))
    widget(at.button, "scn_run").click().run()
    assert_clean(at)


def test_scenario_charts_leave_out_zero_bars_mark_a_cut_axis_and_keep_the_toolbar_off_titles(workbench_db):
    at = start_app()
    open_page(at, "views/scenarios.py")
    _run_scenario(at)
    figures = _figures(at)
    assert figures
    for key, proto in figures.items():
        spec = json.loads(proto.spec)
        config = json.loads(proto.config or "{}")
        assert config.get("displayModeBar") is False, f"{key}: the plotly toolbar would cover the title"
        if key in ("scn_chart_product", "scn_chart_movers"):
            assert all(x != 0 for t in spec["data"] for x in t["x"]), f"{key} shows bars of 0"
        if key == "scn_chart_waterfall":
            low = spec["layout"]["yaxis"]["range"][0]
            notes = [a.get("text", "") for a in spec["layout"].get("annotations", [])]
            if low > 0:
                assert any("not start at 0" in n for n in notes)


def test_scenario_results_show_every_currency_side_by_side(workbench_db):
    at = start_app()
    open_page(at, "views/scenarios.py")
    _run_scenario(at)
    currencies = {t["currency"] for t in at.session_state["scn_result"]["summary"]["totals"]}
    assert len(currencies) > 1
    totals = [d.value for d in at.dataframe if list(d.value.columns) == ["currency", "baseline", "scenario", "change"]]
    assert totals, "a table of the totals of every currency"
    assert set(totals[0]["currency"]) == currencies


def test_the_bill_run_chart_has_no_toolbar_over_its_title(workbench_db):
    at = start_app()
    open_page(at, "views/bill_run.py")
    widget(at.date_input, "run_period").set_value(dt.date(2026, 9, 15)).run()
    widget(at.button, "run_start").click().run()
    assert_clean(at)
    proto = _figures(at)["run_chart"]
    assert json.loads(proto.config or "{}").get("displayModeBar") is False
    bars = json.loads(proto.spec)["data"]
    assert bars and all(x != 0 for b in bars for x in b["x"]), "products that billed 0 are left out"
    assert {b["textposition"] for b in bars} == {"outside"}, "labels beside the bars, not squeezed inside"


# --- 9. a bill run's outcome per contract -----------------------------------------------------------


def test_a_bill_runs_outcomes_name_the_customer_and_total_and_open_the_invoice(workbench_db):
    at = start_app()
    open_page(at, "views/bill_run.py")
    widget(at.date_input, "run_period").set_value(dt.date(2026, 9, 15)).run()
    widget(at.button, "run_start").click().run()
    assert_clean(at)
    outcomes = _frame_with(at, "outcome")
    assert {"customer", "total", "invoice"} <= set(outcomes.columns)
    assert not outcomes.isna().any().any(), "no None cells"
    drafted = outcomes[outcomes["outcome"] == "drafted"]
    assert all(drafted["total"].astype(str).str.len() > 0)
    invoice_id = db_rows(workbench_db, "SELECT invoice_id FROM invoices ORDER BY invoice_id LIMIT 1")[0][0]
    widget(at.selectbox, "run_open_invoice").set_value(invoice_id).run()
    widget(at.button, "run_open_in_ledger").click().run()
    assert_clean(at)
    assert [t.value for t in at.title] == ["Ledger & export"]
    assert at.session_state["ledger_open"] == invoice_id


# --- 10. the sample data folder -------------------------------------------------------------------


def test_the_sample_data_folder_is_small_and_imports_cleanly(tmp_path):
    from engine.ingest.importer import import_folder

    files = sorted(p.name for p in SAMPLE.glob("*.csv"))
    assert files == sorted(
        ["contracts.csv", "customers.csv", "delayed_charges.csv", "order_lines.csv", "price_tiers.csv", "usage.csv"]
    )
    assert sum(p.stat().st_size for p in SAMPLE.iterdir()) < 400_000
    con = connect(tmp_path / "sample.duckdb")
    counts = import_folder(con, SAMPLE)
    assert counts["contracts"] == 20 and counts["usage"] == 500
    con.close()


def test_the_data_page_points_to_the_sample_folder(workbench_db):
    at = start_app()
    assert any("data/sample" in t for t in _texts(at))
