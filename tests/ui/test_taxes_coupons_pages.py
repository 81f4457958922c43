"""Taxes and coupons (spec section 11) on the workbench, under AppTest: the invoice view (Invoice preview, a stored
invoice) and the Review page's side by side show each line's coupon discount and tax codes, the coupons taken, the
tax per code and subtotal − discount + tax = total; the review's coupon_ended flag; the Data page's counts and
tables; the What-if page's coupon and tax changes and their effect per currency, month and customer. On the spec's
worked 'adjustments' folder (KA-1: two taxes and a fixed coupon; KA-2: VAT, an exempt line, two coupons that end)
and on the demo (taxes per business, exempt lines, coupons of each kind)."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from decimal import Decimal
from pathlib import Path

import pytest

from engine.db import connect
from engine.service import Billsim, Caller, contracts, invoices, reads
from engine.service.formats import format_major, format_money
from tests.ui.test_pages import assert_clean, db_rows, open_page, start_app, widget

ROOT = Path(__file__).resolve().parents[2]
ADJUSTMENTS = ROOT / "tests" / "examples" / "adjustments"
MARCH, APRIL, MAY = dt.date(2026, 3, 1), dt.date(2026, 4, 1), dt.date(2026, 5, 1)


@pytest.fixture(scope="module")
def adjustments_template(tmp_path_factory) -> Path:
    """The 'adjustments' folder imported, March billed and finalized, April's drafts under review."""
    from engine.billing.bill_run import bill_run
    from engine.ingest.importer import import_folder

    path = tmp_path_factory.mktemp("adjustments") / "adjustments.duckdb"
    con = connect(path)
    import_folder(con, ADJUSTMENTS)
    bill_run(con, dt.date(2026, 3, 15), finalize=True)
    bill_run(con, dt.date(2026, 4, 15))
    con.close()
    return path


@pytest.fixture
def adjustments_db(adjustments_template, tmp_path, monkeypatch) -> Path:
    path = tmp_path / "workbench.duckdb"
    shutil.copyfile(adjustments_template, path)
    monkeypatch.setenv("BILLSIM_DB", str(path))
    yield path
    from views._database import forget_database

    forget_database(str(path))


# The tables of a page by what they hold (AppTest does not expose a table's key unless it is selectable).
FIRST_COLUMNS = {
    "lines": ("line",),  # after '#' in the full view
    "coupons": ("coupon", "terms"),
    "taxes": ("tax",),
    "invoice totals": ("invoices", "baseline"),
    "customers": ("customer", "total, baseline"),
    "months": ("month", "before tax, baseline"),
}


def frames(at, kind: str) -> list:
    """The tables of `kind` in page order."""
    first = FIRST_COLUMNS[kind]
    out = []
    for d in at.dataframe:
        cols = [c for c in d.value.columns if c != "#"]
        if tuple(cols[: len(first)]) == first and (kind != "taxes" or "rate" in cols):
            out.append(d.value)
    return out


def frame(at, kind: str, nth: int = 0):
    found = frames(at, kind)
    assert len(found) > nth, f"no {kind} table #{nth}: {[list(d.value.columns) for d in at.dataframe]}"
    return found[nth]


def markdown(at) -> list[str]:
    return [m.value for m in at.markdown]


def metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def session(path: Path):
    return Billsim.open(path)


# --- what the engine computed, written as the pages must show it (independently of the views' code) ------------


def line_tax(codes: list[str] | None, rate: Decimal) -> str:
    if codes is None:
        return f"Tax {format(rate.normalize(), 'f')} %" if rate else ""
    return ", ".join(codes) if codes else "exempt"


def expected_lines(inv) -> list[tuple[str, str]]:
    return [
        (
            format_money(-ln.discount_minor, inv.currency) if ln.discount_minor else "",
            line_tax(ln.tax_codes, inv.tax_rate),
        )
        for ln in inv.lines
    ]


def expected_coupons(inv) -> list[tuple]:
    return [
        (
            f"{c.name} ({c.coupon_id})",
            f"{format(c.percent.normalize(), 'f')} % off"
            if c.kind == "percentage"
            else f"{format_major(c.fixed_amount, inv.currency)} off",
            format_money(-c.amount_minor, inv.currency),
        )
        for c in inv.coupons
    ]


def expected_taxes(inv) -> list[tuple]:
    return [
        (t.name, t.code or "", f"{format(t.rate.normalize(), 'f')} %", format_money(t.base_minor, inv.currency))
        + (format_money(t.amount_minor, inv.currency),)
        for t in inv.taxes
    ]


def equation(inv) -> str:
    m = lambda minor: format_money(minor, inv.currency).replace("$", "\\$")  # noqa: E731 (markdown: '$' escaped)
    return (
        f"Subtotal **{m(inv.subtotal_minor)}** − discount **{m(inv.discount_minor)}** + tax **{m(inv.tax_minor)}** "
        f"= total **{m(inv.total_minor)}**"
    )


def assert_invoice_shown(at, inv) -> None:
    """The invoice view of `inv` (show_invoice, the page's one invoice): lines, coupons, taxes, equation, metrics."""
    lines = frame(at, "lines")
    shown = list(zip(lines.get("coupon discount", [""] * len(lines)), lines.get("tax", [""] * len(lines)), strict=True))
    assert shown == expected_lines(inv)
    if inv.coupons:
        c = frame(at, "coupons")
        assert list(zip(c["coupon"], c["terms"], c["discount"], strict=True)) == expected_coupons(inv)
        assert list(c["eligible"]) == [format_money(x.base_minor, inv.currency) for x in inv.coupons]
    else:
        assert not frames(at, "coupons")
    if inv.taxes:
        t = frame(at, "taxes")
        assert [tuple(r) for r in t[["tax", "code", "rate", "base", "amount"]].itertuples(index=False)] == (
            expected_taxes(inv)
        )
    assert equation(inv) in markdown(at)
    shown_metrics = metrics(at)
    assert shown_metrics["Coupon discount"] == format_money(inv.discount_minor, inv.currency)
    assert shown_metrics["Total"] == format_money(inv.total_minor, inv.currency)
    assert format_money(inv.tax_minor, inv.currency) in {v for k, v in shown_metrics.items() if k.startswith("Tax")}


def open_preview(at, contract_id: str, period_start: dt.date):
    """The preview page on a contract's cycle (what its pickers would be set to)."""
    at.session_state["contract_id"] = at.session_state["preview_contract"] = contract_id
    at.session_state["period_start"] = at.session_state[f"preview_cycle_{contract_id}"] = period_start
    return open_page(at, "views/invoice_preview.py")


# --- the invoice view ---------------------------------------------------------------------------------------------


def test_a_preview_shows_the_lines_discounts_and_tax_codes_the_coupon_the_taxes_per_code_and_the_total(adjustments_db):
    """KA-1, May (not drafted): the spec's worked example (fee A 10.00 T10, fee B 20.00 T10+T12, a fixed coupon of
    10.00): shares 3.33 / 6.67; T10 on 20.00 = 2.00, T12 on 13.33 = 1.60; total 23.60."""
    at = open_preview(start_app(), "KA-1", MAY)
    assert at.subheader[0].value == "Preview (nothing stored)"
    with session(adjustments_db) as app:
        inv = contracts.preview(app.session(Caller.local()), "KA-1", MAY)
    assert_invoice_shown(at, inv)
    lines = frame(at, "lines")
    assert list(lines["coupon discount"]) == ["-$3.33", "-$6.67"]
    assert list(lines["tax"]) == ["T10", "T10, T12"]
    assert list(frame(at, "taxes")["amount"]) == ["$2.00", "$1.60"]
    assert "Subtotal **\\$30.00** − discount **\\$10.00** + tax **\\$3.60** = total **\\$23.60**" in markdown(at)
    assert "taxes T10 10 %, T12 12 %" in " ".join(c.value for c in at.caption)  # not 'tax rate 0%'


def test_a_stored_invoice_shows_what_it_was_computed_with_an_exempt_line_and_two_coupons(adjustments_db):
    """KA-2, March (finalized): HALFHOST 50 % of Hosting, then TWOEUR 2.00 over what is left; Calls exempt."""
    at = open_preview(start_app(), "KA-2", MARCH)
    (invoice_id,) = db_rows(
        adjustments_db, "SELECT invoice_id FROM invoices WHERE contract_id = 'KA-2' AND period_start = ?", [MARCH]
    )[0]
    with session(adjustments_db) as app:
        inv = invoices.get_invoice(app.session(Caller.local()), invoice_id)
    assert len(inv.coupons) == 2 and [ln.tax_codes for ln in inv.lines] == [["VAT19"], []]
    assert_invoice_shown(at, inv)
    assert list(frame(at, "lines")["tax"]) == ["VAT19", "exempt"]
    assert list(frame(at, "coupons")["terms"]) == ["50 % off", "€2.00 off"]


def _demo_cases(path: Path) -> dict[str, tuple[str, dt.date]]:
    """A previewable cycle of the demo for each case: a coupon, two tax codes, an exempt line, the single rate."""
    wanted = {
        "coupon": lambda inv: bool(inv.coupons),
        "two taxes": lambda inv: len([t for t in inv.taxes if t.code]) >= 2,
        "exempt line": lambda inv: any(ln.tax_codes == [] for ln in inv.lines),
        "single rate": lambda inv: bool(inv.taxes) and inv.taxes[0].code is None,
    }
    found: dict[str, tuple[str, dt.date]] = {}
    with session(path) as app:
        s = app.session(Caller.local())
        for cid in reads.contract_ids(s):
            for day in (dt.date(2026, 3, 15), dt.date(2026, 9, 15)):
                try:
                    inv = contracts.preview(s, cid, day)
                except Exception:  # noqa: BLE001 (no cycle, nothing to bill: not a case)
                    continue
                for case, fits in wanted.items():
                    if case not in found and fits(inv):
                        found[case] = (cid, inv.period_start)
    assert set(found) == set(wanted), f"the demo lacks {set(wanted) - set(found)}"
    return found


def test_the_demo_previews_show_the_coupons_taxes_and_exempt_lines_the_engine_computed(workbench_db):
    at = start_app()
    for case, (cid, start) in _demo_cases(workbench_db).items():
        open_preview(at, cid, start)
        with session(workbench_db) as app:
            inv = contracts.preview(app.session(Caller.local()), cid, start)
        assert at.subheader[0].value == "Preview (nothing stored)", case
        assert_invoice_shown(at, inv)


# --- the review -------------------------------------------------------------------------------------------------


def test_the_review_flags_the_coupons_that_ended_and_shows_both_invoices_coupons_and_taxes(adjustments_db):
    at = open_page(start_app(), "views/review.py")
    pills = widget(at.pills, "rv_flags")
    assert "coupon ended · 1" in pills.options
    pills.set_value(["coupon_ended"]).run()
    assert_clean(at)
    table = [d for d in at.dataframe if (d.key or "").startswith("rv_table_")][0]
    assert list(table.value["contract_id"]) == ["KA-2"]
    assert list(table.value["flags"][0]) == ["total change", "coupon ended"]
    at.session_state[table.key] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    at.run()
    assert_clean(at)
    texts = markdown(at)
    assert (
        "- **coupon ended**: coupons no longer applied: Half hosting (HALFHOST), Two euro (TWOEUR) "
        "(the previous invoice had them)"
    ) in texts
    draft_id, previous_id = db_rows(
        adjustments_db,
        "SELECT invoice_id FROM invoices WHERE contract_id = 'KA-2' ORDER BY period_start DESC",
    )[:2]
    with session(adjustments_db) as app:
        s = app.session(Caller.local())
        draft, previous = (invoices.get_invoice(s, i[0]) for i in (draft_id, previous_id))
    for nth, inv in enumerate((draft, previous)):  # the draft at the left, the previous invoice beside it
        lines = frame(at, "lines", nth)
        assert list(lines["tax"]) == [line_tax(ln.tax_codes, inv.tax_rate) for ln in inv.lines]
        assert list(lines.get("coupons", [""] * len(lines))) == [c for c, _ in expected_lines(inv)]
        assert list(frame(at, "taxes", nth)["amount"]) == [format_money(t.amount_minor, "EUR") for t in inv.taxes]
        assert equation(inv) in texts
    [prev] = frames(at, "coupons")  # the draft took none: both coupons ended
    assert list(zip(prev["coupon"], prev["discount"], strict=True)) == [
        ("Half hosting (HALFHOST)", "-€40.00"),
        ("Two euro (TWOEUR)", "-€2.00"),
    ]
    assert list(frame(at, "taxes", 1)["tax"]) == ["VAT (VAT19)"]


# --- the data page ----------------------------------------------------------------------------------------------


def test_the_data_page_counts_and_browses_taxes_coupons_sellers_and_what_each_invoice_took(adjustments_db):
    at = start_app()
    shown = metrics(at)
    for table in ("taxes", "coupons", "applied_coupons", "businesses", "invoice_coupons", "invoice_taxes"):
        (count,) = db_rows(adjustments_db, f"SELECT count(*) FROM {table}")[0]  # noqa: S608 (the test's own names)
        assert shown[table.replace("_", " ")] == f"{count:,}", table
    assert shown["invoice coupons"] != "0" and shown["invoice taxes"] != "0"
    for table, column in (("invoice_taxes", "tax code"), ("coupons", "kind"), ("applied_coupons", "applied on")):
        widget(at.selectbox, "browse_table").set_value(table).run()
        assert_clean(at)
        browsed = at.dataframe[-1].value  # the table browsed, last on the page
        (count,) = db_rows(adjustments_db, f"SELECT count(*) FROM {table}")[0]  # noqa: S608 (the test's own names)
        assert len(browsed) == count and column in browsed.columns, table


def test_the_folder_with_taxes_and_coupons_is_imported_from_the_data_page(workbench_db):
    at = start_app()
    files = [(p.name, p.read_bytes(), "text/csv") for p in sorted(ADJUSTMENTS.glob("*.csv"))]
    widget(at.file_uploader, "data_upload").set_value(files).run()
    widget(at.button, "import_button").click().run()
    assert_clean(at)
    assert at.success[0].value == (
        "Imported 2 customers, 2 contracts, 4 order lines, 2 usage, 3 taxes, 3 coupons, 3 applied coupons."
    )
    assert db_rows(workbench_db, "SELECT tax_codes FROM customers WHERE customer_id = 'A1'") == [("T10",)]


# --- what-if --------------------------------------------------------------------------------------------------


def whatif_page(at):
    at.session_state["scn_from"] = dt.date(2026, 1, 1)
    at.session_state["scn_to"] = dt.date(2026, 4, 30)
    return open_page(at, "views/scenarios.py")


def add_coupon(at, contracts_text: str, **fields):
    widget(at.selectbox, "scn_type").set_value("coupon").run()
    for key, value in fields.items():
        if key in ("kind", "frequency", "target"):
            widget(at.radio, f"scn_coupon_{key}").set_value(value).run()
        elif key == "applied_on":
            widget(at.date_input, "scn_coupon_applied_on").set_value(value)
        else:
            widget(at.text_input, f"scn_coupon_{key}").set_value(value)
    if contracts_text is not None:
        widget(at.text_area, "scn_coupon_contracts").set_value(contracts_text)
    return widget(at.button, "scn_add").click().run()


def invoice_totals(at) -> dict[str, tuple[str, str, str]]:
    t = frame(at, "invoice totals")
    return {r["invoices"]: (r["baseline"], r["scenario"], r["change"]) for _, r in t.iterrows()}


def test_a_coupon_built_on_the_what_if_page_shows_its_effect_per_currency_month_and_customer(adjustments_db):
    """A new coupon, 10 % forever on KA-2 from March: in March it comes after HALFHOST (limited to products) and
    TWOEUR (same date, smaller id): 10 % of the 58.00 they left = 5.80; April 8.00; the tax falls with the base;
    only A2 (EUR) moves."""
    at = whatif_page(start_app())
    add_coupon(at, "KA-2", name="Spring", percent="10", frequency="forever", applied_on=MARCH)
    assert_clean(at)
    assert [m for m in markdown(at) if m.startswith("1.")] == [
        "1. coupon WHATIF-1 (10 % off, forever) on KA-2 from 2026-03-01"
    ]
    assert widget(at.text_input, "scn_coupon_id").value == "WHATIF-2"  # the next coupon gets a new id
    widget(at.button, "scn_run").click().run()
    assert_clean(at)
    summary = at.session_state["scn_result"]["summary"]
    eur = next(t for t in summary["totals"] if t["currency"] == "EUR")
    eur_tax = next(t for t in summary["tax_totals"] if t["currency"] == "EUR")
    assert eur["delta"] == "-13.80" and Decimal(eur_tax["delta"]) < 0
    widget(at.radio, "scn_currency").set_value("EUR").run()
    totals = invoice_totals(at)
    assert totals["Before tax (lines − coupons)"][2] == "-€13.80"
    assert totals["Coupons (what they took)"][2] == "€13.80"
    assert totals["Tax"] == tuple(format_major(Decimal(eur_tax[s]), "EUR") for s in ("baseline", "scenario", "delta"))
    total_change = Decimal(eur["delta"]) + Decimal(eur_tax["delta"])
    assert totals["Total with tax"][2] == format_major(total_change, "EUR")
    customers = frame(at, "customers")
    assert list(customers["customer"]) == ["Example GmbH (A2)"]
    assert customers.iloc[0]["total change"] == format_major(total_change, "EUR")
    months = frame(at, "months").set_index("month")
    assert months.loc[dt.date(2026, 3, 1), "coupons, scenario"] == "€47.80"  # 40 + 2 + 5.80
    assert months.loc[dt.date(2026, 4, 1), "coupons, scenario"] == "€8.00"
    assert months.loc[dt.date(2026, 2, 1), "total change"] == "€0.00"
    assert widget(at.radio, "scn_measure").value == "total"  # the tax moved: totals with tax first
    bars = json.loads({c.key: c.proto for c in at.get("plotly_chart")}["scn_chart_month"].spec)
    baseline, scenario = (bars["data"][0]["y"], bars["data"][1]["y"])
    assert sum(Decimal(str(b)) - Decimal(str(s)) for b, s in zip(baseline, scenario, strict=True)) == -total_change


def test_a_tax_rate_changed_on_the_what_if_page_moves_the_tax_of_every_month_and_nothing_before_tax(adjustments_db):
    at = whatif_page(start_app())
    widget(at.selectbox, "scn_type").set_value("tax").run()
    code = widget(at.selectbox, "scn_tax_code")
    assert "VAT19 · VAT · 19 % · default" in code.options  # its name and rate now, to choose by
    code.set_value("VAT19").run()
    widget(at.text_input, "scn_tax_rate_VAT19").set_value("21")
    widget(at.button, "scn_add").click().run()
    assert_clean(at)
    assert [m for m in markdown(at) if m.startswith("1.")] == ["1. tax VAT19 = 21 %"]
    widget(at.button, "scn_run").click().run()
    assert_clean(at)
    widget(at.radio, "scn_currency").set_value("EUR").run()
    totals = invoice_totals(at)
    assert totals["Before tax (lines − coupons)"][2] == "€0.00"
    summary = at.session_state["scn_result"]["summary"]
    eur_tax = next(t for t in summary["tax_totals"] if t["currency"] == "EUR")
    assert totals["Tax"][2] == totals["Total with tax"][2] == format_major(Decimal(eur_tax["delta"]), "EUR") != "€0.00"
    months = frame(at, "months").set_index("month")
    assert months.loc[dt.date(2026, 3, 1), ["tax, baseline", "tax, scenario"]].tolist() == ["€7.35", "€8.12"]
    assert (months["before tax, baseline"] == months["before tax, scenario"]).all()
    assert list(frame(at, "customers")["customer"]) == ["Example GmbH (A2)"]
    # no product moves before tax: said in words, not drawn as an empty chart
    assert "scn_chart_product" not in {c.key for c in at.get("plotly_chart")}
    assert any("No product's amount before tax changes in EUR" in i.value for i in at.info)


def _waterfall(at) -> tuple[list[str], list[Decimal], list[str]]:
    """The waterfall's steps as drawn (labels, amounts, measures) and the captions under the charts."""
    spec = json.loads({c.key: c.proto for c in at.get("plotly_chart")}["scn_chart_waterfall"].spec)
    (trace,) = spec["data"]
    return trace["x"], [Decimal(str(y)) for y in trace["y"]], trace["measure"]


def test_the_waterfall_draws_no_step_of_0_for_a_change_of_another_currency_and_says_where_it_moves(adjustments_db):
    """A tax rate of the EUR invoices (VAT19, KA-2) and a price of a USD line (b, KA-1): the USD waterfall draws the
    price only and names the tax as moving EUR only; the EUR one (total with tax, the tax moved) draws the tax and
    names the price as moving USD only; before tax, EUR's tax step is named as moving only the tax. Every chart
    adds up in its own currency."""
    at = whatif_page(start_app())
    widget(at.selectbox, "scn_type").set_value("tax").run()
    widget(at.selectbox, "scn_tax_code").set_value("VAT19").run()
    widget(at.text_input, "scn_tax_rate_VAT19").set_value("21")
    widget(at.button, "scn_add").click().run()
    widget(at.selectbox, "scn_type").set_value("price").run()
    widget(at.radio, "scn_price_scope").set_value("One line").run()
    widget(at.text_input, "scn_price_line").set_value("b")
    widget(at.radio, "scn_price_mode").set_value("Set the unit price").run()
    widget(at.text_input, "scn_price_unit").set_value("25")
    widget(at.button, "scn_add").click().run()
    assert_clean(at)
    assert [m for m in markdown(at) if m.startswith(("1.", "2."))] == ["1. tax VAT19 = 21 %", "2. price line b = 25"]
    widget(at.button, "scn_run").click().run()
    assert_clean(at)

    widget(at.radio, "scn_currency").set_value("USD").run()
    widget(at.radio, "scn_measure").set_value("before_tax").run()
    labels, amounts, measures = _waterfall(at)
    assert labels == ["Baseline", "price line b = 25", "Scenario"]  # no $0 bar for the EUR tax
    assert amounts == [Decimal("100"), Decimal("20"), Decimal("120")]  # 4 cycles × (25 − 20)
    assert measures == ["absolute", "relative", "total"]
    assert any("tax VAT19 = 21 % (moves EUR only)" in c.value for c in at.caption), [c.value for c in at.caption]

    widget(at.radio, "scn_currency").set_value("EUR").run()
    widget(at.radio, "scn_measure").set_value("total").run()
    summary = at.session_state["scn_result"]["summary"]
    eur_tax = next(t for t in summary["tax_totals"] if t["currency"] == "EUR")
    labels, amounts, _ = _waterfall(at)
    assert labels == ["Baseline", "tax VAT19 = 21 %", "Scenario"]
    assert amounts[1] == Decimal(eur_tax["delta"]) != 0 and amounts[0] + amounts[1] == amounts[2]
    assert amounts[0] == Decimal("258") + Decimal(eur_tax["baseline"])  # total with tax, EUR alone
    assert any("price line b = 25 (moves USD only)" in c.value for c in at.caption), [c.value for c in at.caption]

    widget(at.radio, "scn_measure").set_value("before_tax").run()
    labels, amounts, _ = _waterfall(at)
    assert labels == ["Baseline", "Scenario"] and amounts == [Decimal("258")] * 2
    assert any("tax VAT19 = 21 % (moves only the tax in EUR)" in c.value for c in at.caption)
    assert_clean(at)


def test_the_coupon_form_says_what_is_missing_or_taken_and_adds_nothing(adjustments_db):
    at = whatif_page(start_app())
    add_coupon(at, "")
    assert [e.value for e in at.error] == ["Coupon: list the contracts it is applied to (or choose 'Every contract')."]
    add_coupon(at, "KA-1", id="TENOFF")
    assert any("'TENOFF' already exists" in e.value for e in at.error)
    add_coupon(at, "KA-9", id="NEW")
    assert any("unknown contract(s) 'KA-9'" in e.value for e in at.error)
    assert at.session_state["scn_changes"] == []
    add_coupon(at, "KA-1", id="ONE")
    add_coupon(at, "KA-2", id="ONE")  # a second change making the same coupon
    assert any("'ONE' created by more than one change" in e.value for e in at.error)
    assert [c["coupon"]["coupon_id"] for c in at.session_state["scn_changes"]] == ["ONE"]


def test_a_product_coupon_on_the_demo_takes_its_share_per_product_and_customer(workbench_db):
    """A fixed coupon limited to one product, applied to every contract with a line of that product."""
    # a product and the currency most of the contracts with a line of it bill in
    product, currency = db_rows(
        workbench_db,
        """SELECT o.product, k.currency FROM order_lines o JOIN contracts k USING (contract_id)
           WHERE o.kind = 'recurring' GROUP BY ALL ORDER BY count(*) DESC, 1, 2 LIMIT 1""",
    )[0]
    at = whatif_page(start_app())
    at.session_state["scn_from"], at.session_state["scn_to"] = dt.date(2026, 1, 1), dt.date(2026, 6, 30)
    widget(at.selectbox, "scn_type").set_value("coupon").run()
    widget(at.radio, "scn_coupon_kind").set_value("fixed").run()
    widget(at.text_input, "scn_coupon_name").set_value("Product promo")
    widget(at.text_input, "scn_coupon_amount").set_value("5")
    widget(at.selectbox, "scn_coupon_currency").set_value(currency)
    widget(at.multiselect, "scn_coupon_limited_to").set_value([product])
    widget(at.radio, "scn_coupon_frequency").set_value("recurring").run()
    widget(at.radio, "scn_coupon_target").set_value("products").run()
    widget(at.multiselect, "scn_coupon_products").set_value([product])
    widget(at.date_input, "scn_coupon_applied_on").set_value(dt.date(2026, 1, 1))
    widget(at.button, "scn_add").click().run()
    assert_clean(at)
    assert [m for m in markdown(at) if m.startswith("1.")] == [
        f"1. coupon WHATIF-1 ({format_major(Decimal(5), currency)} off, recurring 3 cycles, {product} only) on "
        f"contracts with {product} from 2026-01-01"
    ]
    widget(at.button, "scn_run").click().run()
    assert_clean(at)
    result = at.session_state["scn_result"]
    sim = result["sim"]
    moved = sim.customers_changed()
    assert moved.get(currency), "the coupon reached customers of its currency"
    if len(result["summary"]["totals"]) > 1:
        widget(at.radio, "scn_currency").set_value(currency).run()
    products = [
        r for r in sim.by_product().itertuples() if r.currency == currency and r.product == "Coupon: Product promo"
    ]
    assert products and products[0].delta < 0
    assert len(frame(at, "customers")) == moved[currency]


def test_the_manual_invoice_estimate_names_the_customers_tax_codes_not_a_rate_of_0(adjustments_db):
    """A1 has tax code T10 (its tax_rate is 0): a custom line of 100.00 is taxed 10.00 by T10."""
    at = open_page(start_app(), "views/manual_invoices.py")
    widget(at.text_input, "manual_customer_search").set_value("A1").run()
    widget(at.selectbox, "manual_customer").set_value("A1").run()
    key = [e.key for e in at.get("arrow_data_frame") if (e.key or "").startswith("manual_lines")] or ["manual_lines_0"]
    at.session_state[key[0]] = {"edited_rows": {"0": {"description": "Setup", "unit_price": "100", "quantity": "1"}}}
    at.run()
    assert_clean(at)
    totals = [m.value for m in at.markdown if m.value.startswith("**Total ")]
    # '$' escaped: "$110.00**: subtotal $" was drawn as a formula
    assert totals == ["**Total \\$110.00**: subtotal \\$100.00 + tax \\$10.00 (taxes T10 10 %, the customer's)"]
