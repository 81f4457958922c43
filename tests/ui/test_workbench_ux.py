"""Issue 21, the workbench as analysts use it: every page on a ledger holding every kind of invoice (a bill run,
a manual invoice; finalized, paid, held and void; JPY, KWD and USD), money by the one formatter, a void invoice
owing nothing, 'open' keeping a partly paid invoice, the import's problems, the what-if run, the manual invoice's
total before Create, the bill run's date, and the smaller points. AppTest on private copies of the small demo."""

from __future__ import annotations

import csv
import datetime as dt
import shutil
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from engine.db import connect
from engine.rating.targets import count_not_due
from engine.service import Billsim, Caller, bill_runs, invoices, lifecycle
from engine.service.formats import format_major, format_money
from tests.helpers_data import add_contract, add_customer, add_line
from tests.ui.test_pages import PAGES, assert_clean, db_rows, open_page, start_app, widget

SEPTEMBER, OCTOBER = dt.date(2026, 9, 15), dt.date(2026, 10, 15)


def _one(path: Path, sql: str, params=()) -> str:
    return db_rows(path, sql, params)[0][0]


@pytest.fixture(scope="module")
def mixed_template(tmp_path_factory) -> tuple[Path, dict]:
    """The small demo with a finalized September run (USD, JPY, …), an October run under review (one draft held),
    a KWD manual invoice finalized and partly paid, a USD invoice paid in full, a GBP one void, a JPY one open."""
    from engine.db import connect
    from engine.ingest.demo import seed_demo

    path = tmp_path_factory.mktemp("mixed") / "mixed.duckdb"
    con = connect(path)
    seed_demo(con, contracts=16, usage_rows=800, seed=7)
    con.close()
    kinds: dict[str, str] = {}
    with Billsim.open(path) as app:
        s = app.session(Caller.local("fixture"))
        bill_runs.run(s, {"period_date": SEPTEMBER, "finalize": True})
        bill_runs.run(s, {"period_date": OCTOBER})
        rows = db_rows(path, "SELECT invoice_id, currency, status FROM invoices ORDER BY contract_id, period_start")
        by = {}
        for invoice_id, currency, status in rows:
            by.setdefault((currency, status), []).append(invoice_id)
        kinds["held"] = by[("USD", "draft")][0]
        lifecycle.hold(s, [kinds["held"]], "usage looks doubled")
        kinds["paid"] = by[("USD", "open")][0]
        total = Decimal(_one(path, "SELECT total_minor FROM invoices WHERE invoice_id = ?", [kinds["paid"]])) / 100
        lifecycle.pay(s, kinds["paid"], amount=total, method="manual")
        kinds["void"] = by[("GBP", "open")][0]
        lifecycle.void(s, kinds["void"], "billed twice")
        kinds["jpy_open"] = by[("JPY", "draft")][0]  # October's JPY draft, finalized
        lifecycle.approve(s, [kinds["jpy_open"]])
        lifecycle.finalize(s, [kinds["jpy_open"]])
        customer = _one(path, "SELECT customer_id FROM customers ORDER BY customer_id LIMIT 1")
        manual = invoices.create(
            s,
            {
                "customer_id": customer,
                "currency": "KWD",
                "line_items": [{"description": "Consulting", "unit_price": 1250, "quantity": 3}],
                "due_date": "2026-12-31",
            },
        ).invoice
        kinds["manual"] = manual.invoice_id
        lifecycle.approve(s, [manual.invoice_id])
        lifecycle.finalize(s, [manual.invoice_id])
        lifecycle.pay(s, manual.invoice_id, amount=Decimal("1.000"), method="manual")
    return path, kinds


@pytest.fixture
def mixed_db(mixed_template, tmp_path, monkeypatch) -> tuple[Path, dict]:
    path = tmp_path / "workbench.duckdb"
    shutil.copyfile(mixed_template[0], path)
    monkeypatch.setenv("BILLSIM_DB", str(path))
    yield path, mixed_template[1]
    from views._database import forget_database

    forget_database(str(path))


def ledger_table(at) -> pd.DataFrame:
    return frame_with(at, "balance due")


def frame_with(at, column: str) -> pd.DataFrame:
    """The table having this column (a table without selection has no key under AppTest)."""
    found = [d.value for d in at.dataframe if column in d.value.columns]
    assert len(found) == 1, [list(d.value.columns) for d in at.dataframe]
    return found[0]


def test_the_mixed_ledger_holds_every_kind_of_invoice(mixed_db):
    path, kinds = mixed_db
    statuses = dict(db_rows(path, "SELECT invoice_id, status FROM invoices"))
    assert statuses[kinds["held"]] == "held" and statuses[kinds["paid"]] in ("paid", "manual_paid")
    assert statuses[kinds["void"]] == "void" and statuses[kinds["manual"]] == "partially_paid"
    currencies = {c for (c,) in db_rows(path, "SELECT DISTINCT currency FROM invoices")}
    assert {"JPY", "KWD", "USD"} <= currencies
    assert {"draft", "open"} <= set(statuses.values())


@pytest.mark.parametrize("page", list(PAGES))
def test_every_page_renders_without_an_error_on_the_mixed_ledger(mixed_db, page):
    at = start_app()
    open_page(at, page)


def test_the_ledger_opens_every_kind_of_invoice_without_an_error(mixed_db):
    path, kinds = mixed_db
    at = start_app()
    open_page(at, "views/ledger.py")
    for kind, invoice_id in kinds.items():
        widget(at.selectbox, "ledger_pick").set_value(invoice_id).run()
        assert_clean(at)
        assert any(invoice_id in m.value for m in at.markdown), kind


def test_money_in_the_ledger_is_written_with_its_currency_by_the_one_formatter(mixed_db):
    path, kinds = mixed_db
    at = start_app()
    open_page(at, "views/ledger.py")
    widget(at.selectbox, "ledger_page_size").set_value(250).run()
    table = ledger_table(at).set_index("invoice")
    stored = db_rows(path, "SELECT invoice_id, total_minor, currency FROM invoices")
    for invoice_id, total_minor, currency in stored:
        assert table.loc[invoice_id, "total"] == format_money(total_minor, currency)
    jpy = table[table["currency"] == "JPY"]["total"]
    assert len(jpy) and all(t.startswith("¥") and "." not in t for t in jpy)  # no '.00', every digit
    total = _one(path, "SELECT total_minor FROM invoices WHERE invoice_id = ?", [kinds["manual"]])
    assert table.loc[kinds["manual"], "total"] == format_money(total, "KWD")  # three decimals: 'KWD 4.125'
    assert table.loc[kinds["manual"], "balance due"] == format_money(total - 1000, "KWD")  # 1.000 paid


def test_a_void_invoice_owes_nothing_on_the_invoice_the_ledger_and_the_data_page(mixed_db):
    path, kinds = mixed_db
    at = start_app()
    open_page(at, "views/ledger.py")
    widget(at.selectbox, "ledger_page_size").set_value(250).run()
    assert ledger_table(at).set_index("invoice").loc[kinds["void"], "balance due"] == "none (void)"
    widget(at.selectbox, "ledger_pick").set_value(kinds["void"]).run()
    assert {m.label: m.value for m in at.metric}["Balance due"] == "none (void)"
    open_page(at, "views/data.py")
    counts = frame_with(at, "invoices")
    void = counts[counts["status"] == "void"]
    assert len(void) == 1 and list(void["balance due"]) == ["none (void)"]
    assert all("none" not in b for b in counts[counts["status"] != "void"]["balance due"])


def test_the_open_filter_keeps_an_invoice_after_a_first_payment(mixed_db):
    path, kinds = mixed_db
    at = start_app()
    open_page(at, "views/ledger.py")
    widget(at.multiselect, "ledger_status").set_value(["open"]).run()
    assert_clean(at)
    shown = ledger_table(at)
    assert kinds["manual"] in set(shown["invoice"])  # partly paid: still open to the customer
    assert set(shown["status"]) == {"open", "partially paid"}
    assert kinds["paid"] not in set(shown["invoice"]) and kinds["void"] not in set(shown["invoice"])


def test_a_filter_matching_nothing_leaves_no_invoice_to_open_and_nothing_to_export(mixed_db):
    at = start_app()
    open_page(at, "views/ledger.py")
    headers = {h.value for h in at.subheader}
    assert {"Invoice", "Export"} <= headers
    widget(at.text_input, "ledger_customer").set_value("NOBODY-AT-ALL").run()
    assert_clean(at)
    assert any(i.value == "No invoice matches." for i in at.info)
    assert not {"Invoice", "Export"} & {h.value for h in at.subheader}
    assert not [s for s in at.selectbox if s.key == "ledger_pick"]
    assert not [b for b in at.button if b.key == "export_prepare"]


def test_invoice_numbers_carry_the_business_prefix_and_year_on_the_ledger_and_in_the_export(mixed_db):
    path, kinds = mixed_db
    at = start_app()
    open_page(at, "views/ledger.py")
    widget(at.selectbox, "ledger_page_size").set_value(250).run()
    table = ledger_table(at).set_index("invoice")
    rows = db_rows(
        path,
        "SELECT i.invoice_id, i.number, year(i.finalized_at), b.invoice_prefix FROM invoices i "
        "LEFT JOIN businesses b USING (business_id)",
    )
    for invoice_id, number, year, prefix in rows:
        expected = "" if number is None else f"{prefix}-{year}-{number:06d}"
        assert table.loc[invoice_id, "number"] == expected
    # the picker names a manual invoice's contract "manual", never the frame's NaN (a page of mixed invoices)
    options = widget(at.selectbox, "ledger_pick").options
    assert any(" · manual · " in o for o in options) and not any(" · nan · " in o for o in options), options
    assert {p for *_, p in rows} == {"N", "S"}  # the demo's businesses.csv
    widget(at.button, "export_prepare").click().run()
    with open(at.session_state["export_paths"]["files"]["invoices"], newline="") as f:
        reader = csv.DictReader(f)
        exported = {r["invoice_id"]: r for r in reader}
        # the spec's columns first (number among them), the project's additions after them
        assert reader.fieldnames.index("invoice_number") > reader.fieldnames.index("created_at")
        assert "number" in reader.fieldnames
    assert exported[kinds["manual"]]["invoice_number"] == table.loc[kinds["manual"], "number"] != ""
    assert exported[kinds["held"]]["invoice_number"] == ""  # a draft has no number yet


def test_invoice_lines_show_unit_prices_with_their_currency_and_the_proration_once(mixed_db):
    from views._invoice_view import lines_frame

    path, kinds = mixed_db
    with Billsim.open(path) as app:
        inv = invoices.get_invoice(app.session(Caller.local()), kinds["manual"])
        recurring = [
            invoices.get_invoice(app.session(Caller.local()), i)
            for (i,) in db_rows(path, "SELECT DISTINCT invoice_id FROM invoice_lines WHERE active_days IS NOT NULL")
        ]
    frame = lines_frame(inv)
    assert list(frame["unit price"]) == ["KWD 1.250"]
    prorated = [(ln, lines_frame(i)) for i in recurring for ln in i.lines if ln.active_days is not None]
    assert prorated
    ln, lines = prorated[0]
    assert "proration" not in lines.columns  # once: the days
    row = lines[lines["#"] == ln.line_no].iloc[0]
    assert row["days"] == f"{ln.active_days} of {ln.period_days}"
    owner = [i for i in recurring if ln in i.lines][0]
    assert row["unit price"] == format_major(ln.unit_price, owner.currency)  # '$49.00', not '49'


# --- import ---------------------------------------------------------------------------------------------


def _upload(at, files: dict[str, bytes]):
    widget(at.file_uploader, "data_upload").set_value([(n, b, "text/csv") for n, b in files.items()]).run()
    widget(at.button, "import_button").click().run()
    return at


def test_import_problems_are_counted_per_reason_filtered_and_downloadable(mixed_db):
    sample = Path(__file__).resolve().parents[2] / "data" / "sample"
    at = start_app()
    open_page(at, "views/data.py")
    assert any("this database already holds them" in c.value for c in at.caption)  # the sample is not for here
    files = {f"{name}.csv": (sample / f"{name}.csv").read_bytes() for name in ("customers", "contracts")}
    bad = b"usage_id,contract_id,metric,usage_date,quantity\nU-NEW-1,K-000001,api_calls,2026-01-05,-12\n"
    files["usage.csv"] = bad
    _upload(at, files)
    problems = at.session_state["import_problems"]
    assert len(problems) > 10
    counts = frame_with(at, "problems")
    assert counts["problems"].sum() == len(problems)
    assert counts["problems"].is_monotonic_decreasing
    negative = [p for p in problems if p["file"] == "usage.csv"]
    assert [p["reason"] for p in negative] == ["'-12' is negative: quantity cannot be negative"]  # said in full
    widget(at.multiselect, "import_problem_files").set_value(["usage.csv"]).run()
    assert [list(t.value["reason"]) for t in at.table] == [["'-12' is negative: quantity cannot be negative"]]
    assert any(c.value.startswith(f"1 of {len(problems):,} shown") for c in at.caption)
    widget(at.multiselect, "import_problem_files").set_value([]).run()
    kind = counts["reason"].iloc[0]
    widget(at.multiselect, "import_problem_kinds").set_value([kind]).run()
    assert len(at.table[0].value) == counts["problems"].iloc[0]
    download = [d for d in at.get("download_button") if d.key == "import_problems_csv"]
    assert download and download[0].proto.label == "Download the problems (CSV)"


def test_a_businesses_file_is_imported_and_names_the_seller_on_the_document(mixed_db, tmp_path):
    path, kinds = mixed_db
    logo = tmp_path / "logo.png"
    logo.write_bytes(b"\x89PNG\r\n\x1a\nfake")
    at = start_app()
    open_page(at, "views/data.py")
    bad = b"business_id,name,address,tax_id,invoice_prefix,logo_path\nbiz-west,West Ltd,,,N-1,x.txt\n"
    _upload(at, {"businesses.csv": bad})
    reasons = {(p["file"], p["line"], p["column"]): p["reason"] for p in at.session_state["import_problems"]}
    assert reasons[("businesses.csv", 2, "invoice_prefix")].startswith("'N-1' is not an invoice number prefix")
    assert reasons[("businesses.csv", 2, "logo_path")].startswith("'x.txt' is not an image file")
    assert db_rows(path, "SELECT count(*) FROM businesses WHERE business_id = 'biz-west'") == [(0,)]
    good = f"business_id,name,address,tax_id,invoice_prefix,logo_path\nbiz-west,West Ltd,1 Main St,TX-9,W,{logo}\n"
    _upload(at, {"businesses.csv": good.encode()})
    assert_clean(at)
    assert db_rows(path, "SELECT name, tax_id, invoice_prefix FROM businesses WHERE business_id = 'biz-west'") == [
        ("West Ltd", "TX-9", "W")
    ]
    from engine.db import connect
    from engine.io.documents import seller_of

    con = connect(path)
    try:
        seller = seller_of(con, "biz-west")
        north = seller_of(con, "biz-north")
    finally:
        con.close()
    assert seller["name"] == "West Ltd" and seller["details"] == ["1 Main St", "Tax ID TX-9"]
    assert seller["logo"].startswith("data:image/png;base64,")
    assert north["name"] == "Northwind Billing Ltd" and north["logo"] is None
    with Billsim.open(path) as app:
        html = invoices.document(app.session(Caller.local()), kinds["manual"], "html")
    business = _one(path, "SELECT business_id FROM invoices WHERE invoice_id = ?", [kinds["manual"]])
    name = {"biz-north": "Northwind Billing Ltd", "biz-south": "Southern Cross Services Pty Ltd"}[business]
    seller = html.split('<td class="seller">', 1)[1].split("</td>", 1)[0]
    assert name in seller and business not in seller and "Tax ID" in seller  # not the internal id


# --- what-if ---------------------------------------------------------------------------------------------


def _scenario_page(at):
    at.session_state["scn_from"] = dt.date(2026, 1, 1)
    at.session_state["scn_to"] = dt.date(2026, 3, 31)
    return open_page(at, "views/scenarios.py")


def test_a_run_without_an_added_change_runs_the_change_shown_and_results_go_stale(mixed_db):
    at = _scenario_page(start_app())
    assert at.session_state["scn_changes"] == []
    widget(at.button, "scn_run").click().run()
    assert_clean(at)
    assert at.session_state["scn_changes"] == [
        {"type": "price", "product": at.session_state["scn_price_product"], "percent": "10"}
    ]
    result = at.session_state["scn_result"]
    assert result["summary"]["changes"]  # the pre-filled +10 % was billed, not an empty scenario
    assert not [w for w in at.warning if w.value.startswith("Stale")]
    widget(at.text_input, "scn_name").set_value("Renamed").run()  # a new name alone changes no figure
    assert not [w for w in at.warning if w.value.startswith("Stale")]
    charts = {c.key: c for c in at.get("plotly_chart")}
    assert "scn_chart_movers" in charts
    import json

    movers = json.loads(charts["scn_chart_movers"].proto.spec)["data"][0]
    assert movers["text"] and all(t for t in movers["text"])  # each bar labelled with its amount
    widget(at.button, "scn_remove_0").click().run()  # the scenario changed: the results are of the old one
    assert [w for w in at.warning if w.value.startswith("Stale")]


def test_an_incomplete_change_is_refused_beside_the_run_button_and_draws_nothing(mixed_db):
    at = _scenario_page(start_app())
    at.session_state["scn_result"] = None
    widget(at.selectbox, "scn_type").set_value("churn").run()
    widget(at.button, "scn_run").click().run()  # an empty churn list: refused beside the button
    assert [e.value for e in at.error] and not at.session_state.get("scn_result")


# --- manual invoice, bill run, smaller points --------------------------------------------------------------


def test_the_manual_invoice_page_shows_the_total_with_tax_before_create_and_speaks_plainly(mixed_db):
    path, _ = mixed_db
    at = start_app()
    open_page(at, "views/manual_invoices.py")
    texts = " ".join(c.value for c in at.caption) + " ".join(m.value for m in at.markdown)
    assert "DayZero" not in texts and "POST /" not in texts
    assert {d.proto.format for d in at.date_input} == {"YYYY-MM-DD"}
    customer_id, rate, currency = db_rows(
        path, "SELECT customer_id, tax_rate, currency FROM customers WHERE tax_rate > 0 ORDER BY customer_id LIMIT 1"
    )[0]
    widget(at.text_input, "manual_customer_search").set_value(customer_id).run()
    widget(at.selectbox, "manual_customer").set_value(customer_id).run()
    edits = {"edited_rows": {"0": {"description": "Setup", "unit_price": "100", "quantity": "2"}}}
    key = [e.key for e in at.get("arrow_data_frame") if (e.key or "").startswith("manual_lines")] or ["manual_lines_0"]
    at.session_state[key[0]] = edits
    at.run()
    before = db_rows(path, "SELECT count(*) FROM invoices")
    totals = [m.value for m in at.markdown if m.value.startswith("**Total ")]
    assert totals, [m.value for m in at.markdown]
    widget(at.button, "manual_create").click().run()
    assert_clean(at)
    made = db_rows(
        path, "SELECT subtotal_minor, tax_minor, total_minor, currency FROM invoices ORDER BY created_at DESC LIMIT 1"
    )[0]
    assert db_rows(path, "SELECT count(*) FROM invoices")[0][0] == before[0][0] + 1
    shown = totals[0].replace("\\$", "$")  # markdown: every '$' escaped, so two amounts never make a formula
    assert shown.startswith(f"**Total {format_money(made[2], made[3])}**")
    assert f"tax {format_money(made[1], made[3])}" in shown and made[1] > 0


def test_the_bill_run_starts_only_for_the_date_its_button_names(mixed_db):
    """The Start button names the date the run is for (what the date field holds: a date typed outside the field's
    range shows in red while the field keeps its last date). A date typed and sent together with the click (the
    button still named the old one) starts nothing; the button, drawn again, names the new date."""
    path, _ = mixed_db
    at = start_app()
    open_page(at, "views/bill_run.py")
    field = widget(at.date_input, "run_period")
    start = widget(at.button, "run_start")
    assert start.label == f"Start bill run for {field.value.isoformat()}"
    # the engine's own date bounds, not Streamlit's default of ten years around the value: 2099 is taken
    assert (field.min, field.max) == (dt.date(1900, 1, 1), dt.date(2199, 12, 31))
    before = db_rows(path, "SELECT count(*) FROM bill_runs")

    field.set_value(dt.date(2026, 11, 15))  # not confirmed: sent with the click of the button naming the old date
    start.click().run()
    assert not at.exception and not at.error
    assert db_rows(path, "SELECT count(*) FROM bill_runs") == before, "nothing started"
    warned = " ".join(w.value for w in at.warning)
    assert "Not started" in warned and "2026-11-15" in warned, warned
    start = widget(at.button, "run_start")
    assert start.label == "Start bill run for 2026-11-15"

    start.click().run()
    assert_clean(at)
    latest = db_rows(path, "SELECT period_date FROM bill_runs ORDER BY started_at DESC LIMIT 1")
    assert latest == [(dt.date(2026, 11, 15),)]
    assert any("for the period of 2026-11-15 finished" in s.value for s in at.success), [s.value for s in at.success]
    history = frame_with(at, "by")
    assert "already invoiced" in history.columns and "existing" not in history.columns


def test_the_demo_confirmation_is_unticked_after_a_regeneration(mixed_db):
    at = start_app()
    open_page(at, "views/data.py")
    widget(at.number_input, "demo_contracts").set_value(3)
    widget(at.checkbox, "demo_confirm").check().run()
    widget(at.button, "demo_button").click().run()
    assert_clean(at)
    assert widget(at.checkbox, "demo_confirm").value is False
    assert widget(at.button, "demo_button").proto.disabled


def test_the_bill_run_warns_of_cycles_it_would_draft_before_they_are_due(mixed_db):
    """A run bills the cycle containing its date, ended or not: the page says how many of the cycles it would draft
    are billed in arrears and not due yet (engine.rating.targets.count_not_due), before the run starts."""
    path, _ = mixed_db
    today = dt.date.today()
    con = connect(path)
    add_customer(con, "C-NOT-DUE")
    add_contract(con, "K-NOT-DUE", "C-NOT-DUE", "2020-01-01")  # monthly, in arrears, open-ended
    add_line(con, "L-NOT-DUE", "K-NOT-DUE", unit_price="10")
    expected = count_not_due(con, today, today)
    con.close()
    assert expected >= 1  # at least K-NOT-DUE: its cycle of today ends on or after today

    at = start_app()
    open_page(at, "views/bill_run.py")
    widget(at.date_input, "run_period").set_value(today).run()
    assert_clean(at)
    warned = [w.value for w in at.warning if "not due yet" in w.value]
    assert len(warned) == 1 and warned[0].startswith(f"{expected:,} of the cycles"), warned

    widget(at.date_input, "run_period").set_value(dt.date(2019, 6, 15)).run()  # before every contract: none due
    assert_clean(at)
    assert not [w.value for w in at.warning if "not due yet" in w.value]
