"""The Review page under AppTest: a run's drafts with their flags, filters, numeric sorting, the approve /
hold / finalize actions and the thresholds form, checked against the engine's review and the database."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from engine.db import connect
from engine.service import Billsim, Caller, lifecycle
from engine.service.formats import format_code_major
from tests.ui.test_pages import assert_clean, db_rows, open_page, start_app, widget

PREVIOUS, CURRENT = dt.date(2026, 3, 15), dt.date(2026, 4, 15)


@pytest.fixture(scope="module")
def review_template(tmp_path_factory) -> tuple[Path, str]:
    """A demo of 40 contracts with a March run and the April run under review (12 drafts against their March
    invoices: flagged and unflagged, several currencies, changes up and down)."""
    from engine.billing.bill_run import bill_run
    from engine.ingest.demo import seed_demo

    path = tmp_path_factory.mktemp("review") / "review.duckdb"
    con = connect(path)
    seed_demo(con, contracts=40, usage_rows=4000, seed=7)
    bill_run(con, PREVIOUS)
    run_id = bill_run(con, CURRENT).run_id
    con.close()
    return path, run_id


@pytest.fixture
def review_db(review_template, tmp_path, monkeypatch) -> tuple[Path, str]:
    path = tmp_path / "workbench.duckdb"
    shutil.copyfile(review_template[0], path)
    monkeypatch.setenv("BILLSIM_DB", str(path))
    yield path, review_template[1]
    from views._database import forget_database

    forget_database(str(path))


def engine_review(path: Path, run_id: str):
    from engine.review import review

    con = connect(path)
    try:
        return review(con, run_id=run_id)
    finally:
        con.close()


def review_page():
    at = start_app()
    return open_page(at, "views/review.py")


def grid(at):
    found = [d for d in at.dataframe if (d.key or "").startswith("rv_table_")]
    assert len(found) == 1, [d.key for d in at.dataframe]
    return found[0]


def select_rows(at, contracts: list[str]):
    """Tick the rows of these contracts (what a click on the grid's row boxes sends)."""
    table = grid(at)
    positions = [i for i, c in enumerate(table.value["contract_id"]) if c in contracts]
    assert len(positions) == len(contracts)
    at.session_state[table.key] = {"selection": {"rows": positions, "columns": [], "cells": []}}
    at.run()
    assert_clean(at)
    return at


def statuses(path: Path, run_id: str) -> dict[str, str]:
    return dict(db_rows(path, "SELECT contract_id, status FROM invoices WHERE run_id = ?", [run_id]))


def metric(at, label: str) -> str:
    return [m.value for m in at.metric if m.label == label][0]


def test_the_page_lists_the_runs_drafts_with_their_flags_and_reasons(review_db):
    path, run_id = review_db
    expected = engine_review(path, run_id)
    at = review_page()
    shown = grid(at).value
    assert list(shown["contract_id"]) == [d.contract_id for d in expected.drafts]
    assert list(shown["invoice_id"]) == [d.invoice_id for d in expected.drafts]
    by_contract = {d.contract_id: d for d in expected.drafts}
    agreed = 0
    for _, row in shown.iterrows():
        draft = by_contract[row["contract_id"]]
        assert list(row["flags"]) == [f.flag.replace("_", " ") for f in draft.flags]
        assert row["why"] == " · ".join(f.reason for f in draft.flags)
        assert row["customer"] == f"{draft.customer_name} ({draft.customer_id})"
        assert row["total"] == format_code_major(draft.total, draft.currency)  # 'JPY 568,013', 'AUD 14,447.25'
        # the amounts beside a reason are written as the reason writes them ('… (AUD 3,926.41 → AUD 5,496.98) …')
        if any(f.flag == "total_change" for f in draft.flags):
            assert f"({row['previous_total']} → {row['total']})" in row["why"], (row["why"], row["total"])
            agreed += 1
    assert agreed == expected.flag_counts["total_change"] > 0
    assert metric(at, "Drafts under review") == str(len(expected.drafts))
    assert metric(at, "Flagged") == str(sum(1 for d in expected.drafts if d.flags))
    assert metric(at, "Unbilled cycles") == f"{expected.unbilled_cycles_count:,}"
    pills = widget(at.pills, "rv_flags")
    assert f"total change · {expected.flag_counts['total_change']}" in pills.options


def test_filtering_by_a_flag_shows_only_the_drafts_with_it(review_db):
    path, run_id = review_db
    expected = engine_review(path, run_id)
    at = review_page()
    widget(at.pills, "rv_flags").set_value(["total_change"]).run()
    assert_clean(at)
    with_flag = [d.contract_id for d in expected.drafts if any(f.flag == "total_change" for f in d.flags)]
    assert len(with_flag) == expected.flag_counts["total_change"] > 0
    assert list(grid(at).value["contract_id"]) == with_flag
    widget(at.pills, "rv_flags").set_value(["total_change", "first_invoice"]).run()
    either = [d.contract_id for d in expected.drafts if {f.flag for f in d.flags} & {"total_change", "first_invoice"}]
    assert list(grid(at).value["contract_id"]) == either
    assert len(either) > len(with_flag)


def test_amounts_show_their_currency_and_sort_within_each_currency_keeping_the_order_after_an_action(review_db):
    """Issue 21 (4, 5): every amount is written by the one money formatter (a currency symbol, a JPY amount
    without decimals, every digit); 'Sort by' orders amounts within each currency and the change % over every
    draft, says so, and is kept after an action."""
    path, run_id = review_db
    drafts = engine_review(path, run_id).drafts
    at = review_page()
    shown = grid(at).value
    by_invoice = {d.invoice_id: d for d in drafts}
    for invoice_id, total, change in zip(shown["invoice_id"], shown["total"], shown["change"], strict=True):
        d = by_invoice[invoice_id]
        assert total == format_code_major(d.total, d.currency)
        assert (None if pd.isna(change) else change) == (
            None if d.change is None else format_code_major(d.change, d.currency)
        )
    assert {d.currency for d in drafts} >= {"JPY", "USD"}  # the fixture has a currency without decimals
    assert all(not t.endswith(".00") for t, d in zip(shown["total"], drafts, strict=True) if d.currency == "JPY")
    assert "Why flagged" in grid(at).proto.columns and list(shown.columns).index("why") == 2  # in view, not cut off

    widget(at.selectbox, "rv_order").set_value("change_desc").run()
    assert_clean(at)
    shown = grid(at).value
    rows = [by_invoice[i] for i in shown["invoice_id"]]
    currencies = [d.currency for d in rows]
    assert currencies == sorted(currencies)  # currency by currency …
    for cur in set(currencies):  # … and within one, the largest rise first (no previous invoice: last)
        changes = [d.change for d in rows if d.currency == cur]
        known = [c for c in changes if c is not None]
        assert known == sorted(known, reverse=True) and changes == known + [None] * (len(changes) - len(known))
    assert any("within each currency" in c.value for c in at.caption)

    widget(at.selectbox, "rv_order").set_value("change_percent_desc").run()
    percents = [by_invoice[i].change_percent for i in grid(at).value["invoice_id"]]
    known = [p for p in percents if p is not None]
    assert (
        known == sorted(known, reverse=True) and len({by_invoice[i].currency for i in grid(at).value["invoice_id"]}) > 1
    )
    order = list(grid(at).value["invoice_id"])
    widget(at.button, "rv_approve_unflagged").click().run()  # an action: the chosen order stays
    assert_clean(at)
    assert widget(at.selectbox, "rv_order").value == "change_percent_desc"
    assert list(grid(at).value["invoice_id"]) == order


def test_the_hold_reason_is_shown_in_the_table(review_db):
    path, run_id = review_db
    at = review_page()
    select_rows(at, ["K-000004"])
    widget(at.text_input, "rv_hold_reason").set_value("usage looks doubled")
    widget(at.button, "FormSubmitter:rv_hold_form-Put on hold").click().run()
    assert_clean(at)
    shown = grid(at).value.set_index("contract_id")
    assert shown.loc["K-000004", "hold_reason"] == "usage looks doubled"
    assert shown.drop(index="K-000004")["hold_reason"].isna().all()
    assert at.session_state["rv_hold_reason"] == ""  # the next hold starts with an empty reason
    assert at.session_state["rv_hold_popover"] is False  # the popover closed after its action


def test_approve_all_unflagged_approves_exactly_the_unflagged_drafts(review_db):
    path, run_id = review_db
    expected = engine_review(path, run_id)
    unflagged = {d.contract_id for d in expected.drafts if not d.flags}
    assert 0 < len(unflagged) < len(expected.drafts)
    at = review_page()
    button = widget(at.button, "rv_approve_unflagged")
    assert button.label == f"Approve all {len(unflagged)} unflagged"
    button.click().run()
    assert_clean(at)
    now = statuses(path, run_id)
    assert {c for c, s in now.items() if s == "approved"} == unflagged
    assert {c for c, s in now.items() if s == "draft"} == {d.contract_id for d in expected.drafts} - unflagged
    assert any(f"Approved {len(unflagged)} unflagged drafts" in s.value for s in at.success)
    assert metric(at, "Approved") == str(len(unflagged))  # read again after the action
    assert metric(at, "Unflagged drafts") == "0"
    actors = db_rows(path, "SELECT DISTINCT actor FROM invoice_events WHERE action = 'approved'")
    assert actors == [(at.session_state["actor"],)]


def test_hold_needs_a_reason_and_release_makes_drafts_again(review_db):
    path, run_id = review_db
    at = review_page()
    picked = ["K-000004", "K-000022"]
    select_rows(at, picked)
    hold = widget(at.button, "FormSubmitter:rv_hold_form-Put on hold")
    hold.click().run()  # no reason: refused, nothing changes
    assert any("give the reason first" in e.value for e in at.error)
    assert {c: s for c, s in statuses(path, run_id).items() if c in picked} == dict.fromkeys(picked, "draft")
    widget(at.text_input, "rv_hold_reason").set_value("usage looks doubled")
    widget(at.button, "FormSubmitter:rv_hold_form-Put on hold").click().run()
    assert_clean(at)
    now = statuses(path, run_id)
    assert [now[c] for c in picked] == ["held", "held"]
    assert sum(1 for s in now.values() if s == "held") == 2
    reasons = db_rows(path, "SELECT DISTINCT hold_reason FROM invoices WHERE status = 'held'")
    assert reasons == [("usage looks doubled",)]
    assert metric(at, "Held") == "2"
    select_rows(at, picked)
    widget(at.button, "rv_release").click().run()
    assert_clean(at)
    assert [statuses(path, run_id)[c] for c in picked] == ["draft", "draft"]


def test_finalize_confirms_count_and_totals_per_currency_then_numbers_the_invoices(review_db):
    path, run_id = review_db
    expected = engine_review(path, run_id)
    unflagged = [d for d in expected.drafts if not d.flags]
    at = review_page()
    widget(at.button, "rv_approve_unflagged").click().run()
    totals: dict[str, Decimal] = {}
    for d in unflagged:
        totals[d.currency] = totals.get(d.currency, Decimal(0)) + d.total
    text = " · ".join(format_code_major(t, c) for c, t in sorted(totals.items()))
    n = len(unflagged)
    assert any(f"**Finalize {n} approved invoices:** {text}" == m.value for m in at.markdown), text
    widget(at.button, "rv_finalize").click().run()
    assert_clean(at)
    rows = db_rows(
        path,
        "SELECT status, number FROM invoices WHERE invoice_id IN (SELECT unnest(?::VARCHAR[]))",
        [[d.invoice_id for d in unflagged]],
    )
    assert [s for s, _ in rows] == ["open"] * n
    assert all(number is not None for _, number in rows)
    done = [s.value for s in at.success if f"Finalized {n} invoice(s)" in s.value]
    assert len(done) == 1 and "-2026-" in done[0], done
    # each business by its name (businesses.csv), its id beside it
    named = dict(db_rows(path, "SELECT business_id, name FROM businesses"))
    for business_id in {r[0] for r in db_rows(path, "SELECT business_id FROM invoices WHERE number IS NOT NULL")}:
        assert f"{named[business_id]} ({business_id}):" in done[0], done[0]
    assert at.session_state["rv_finalize_popover"] is False  # closed, not left open on "Finalize 0 …"
    assert metric(at, "Drafts under review") == str(len(expected.drafts) - n)  # finalized ones left the review


def test_a_selected_draft_opens_beside_its_previous_invoice(review_db):
    path, run_id = review_db
    expected = {d.contract_id: d for d in engine_review(path, run_id).drafts}
    at = review_page()
    select_rows(at, ["K-000022"])
    assert [h.value for h in at.subheader if "K-000022" in h.value]
    texts = [m.value for m in at.markdown]
    assert any(t.startswith("**This draft**") for t in texts)
    assert any(t.startswith("**Previous invoice**") for t in texts)
    captions = " ".join(c.value for c in at.caption)
    assert expected["K-000022"].invoice_id in captions
    assert expected["K-000022"].previous_invoice_id in captions
    assert any("total change" in t and "above 25 %" in t for t in texts)


def test_saved_thresholds_change_the_flags(review_db):
    path, run_id = review_db
    before = {d.contract_id: {f.flag for f in d.flags} for d in engine_review(path, run_id).drafts}
    assert "total_change" not in before["K-000028"]  # down 9.2 % and 7.79: below 25 % and 10
    at = review_page()
    business = "biz-north"
    widget(at.selectbox, "rv_thr_business").set_value(business).run()
    widget(at.text_input, f"rv_thr_total_change_percent_{business}").set_value("-5")
    widget(at.button, f"FormSubmitter:rv_thresholds_{business}-Save thresholds").click().run()
    assert any("Total change above (%) must be zero or more" in e.value for e in at.error)
    assert db_rows(path, "SELECT count(*) FROM review_thresholds") == [(0,)]
    widget(at.text_input, f"rv_thr_total_change_percent_{business}").set_value("5")
    widget(at.text_input, f"rv_thr_total_change_min_{business}").set_value("5")
    widget(at.button, f"FormSubmitter:rv_thresholds_{business}-Save thresholds").click().run()
    assert_clean(at)
    stored = db_rows(path, "SELECT total_change_percent, total_change_min, updated_by FROM review_thresholds")
    assert stored == [(Decimal(5), Decimal(5), at.session_state["actor"])]
    shown = grid(at).value.set_index("contract_id")
    assert "total change" in list(shown.loc["K-000028", "flags"])
    after = {d.contract_id: {f.flag for f in d.flags} for d in engine_review(path, run_id).drafts}
    assert list(shown["flags"].map(len)) == [len(after[c]) for c in shown.index]


def test_unbilled_cycles_are_listed_and_a_catch_up_run_from_the_bill_run_page_drafts_them(review_db):
    path, run_id = review_db
    missed = engine_review(path, run_id).unbilled_cycles_count
    assert missed > 0
    at = review_page()
    assert metric(at, "Unbilled cycles") == f"{missed:,}"
    assert [e for e in at.expander if e.label.startswith(f"Unbilled cycles: {missed:,} cycle(s)")]
    open_page(at, "views/bill_run.py")
    widget(at.date_input, "run_period").set_value(CURRENT).run()
    widget(at.checkbox, "run_catch_up").check().run()
    widget(at.button, "run_start").click().run()
    assert_clean(at)
    new_run = db_rows(path, "SELECT run_id, scope FROM bill_runs ORDER BY started_at DESC LIMIT 1")[0]
    assert json.loads(new_run[1]).get("catch_up") is True
    assert db_rows(path, "SELECT count(*) FROM invoices WHERE run_id = ?", [new_run[0]])[0][0] == missed
    widget(at.button, "run_to_review").click().run()  # the report's link opens this run on the Review page
    assert_clean(at)
    assert [t.value for t in at.title] == ["Review"]
    assert widget(at.selectbox, "rv_run").value == new_run[0]
    assert metric(at, "Unbilled cycles") == "0"


def test_a_period_date_reviews_every_draft_of_that_period_and_approves_its_unflagged_ones(review_db):
    path, _ = review_db
    from engine.review import review

    con = connect(path)
    expected = review(con, period_date=CURRENT)
    con.close()
    at = review_page()
    widget(at.radio, "rv_mode").set_value("A period date").run()
    widget(at.date_input, "rv_period").set_value(CURRENT).run()
    assert_clean(at)
    assert list(grid(at).value["invoice_id"]) == [d.invoice_id for d in expected.drafts]
    unflagged = {d.invoice_id for d in expected.drafts if not d.flags}
    select_rows(at, [d.contract_id for d in expected.drafts[:2]])
    assert widget(at.selectbox, "rv_open").value == expected.drafts[0].invoice_id  # two selected: pick one
    widget(at.button, "rv_approve_unflagged").click().run()
    assert_clean(at)
    approved = db_rows(path, "SELECT invoice_id FROM invoices WHERE status = 'approved'")
    assert {r[0] for r in approved} == unflagged
    assert any(f"Approved {len(unflagged)} unflagged draft(s)" in s.value for s in at.success)


def test_a_first_invoice_opens_with_nothing_to_compare(review_db):
    at = review_page()
    select_rows(at, ["K-000001"])  # flagged first_invoice: the contract has no earlier invoice
    assert any("no earlier invoice to compare with" in i.value for i in at.info)
    assert not any(m.value.startswith("**Previous invoice**") for m in at.markdown)


def test_holding_a_selection_is_all_or_nothing(review_db):
    """The selection is held in one step: when one of the invoices cannot be held any more (finalized meanwhile,
    behind the page's back), none of them is, and the refusal is shown."""
    path, run_id = review_db
    at = review_page()
    picked = ["K-000004", "K-000022"]
    select_rows(at, picked)
    late = db_rows(path, "SELECT invoice_id FROM invoices WHERE run_id = ? AND contract_id = ?", [run_id, picked[1]])
    with Billsim.open(path) as app:  # another user finalizes the second one after the page was drawn
        s = app.session(Caller.local("someone else"))
        lifecycle.approve(s, [late[0][0]])
        lifecycle.finalize(s, [late[0][0]])
    widget(at.text_input, "rv_hold_reason").set_value("usage looks doubled")
    widget(at.button, "FormSubmitter:rv_hold_form-Put on hold").click().run()
    assert not at.exception
    assert [statuses(path, run_id)[c] for c in picked] == ["draft", "open"]
    assert db_rows(path, "SELECT count(*) FROM invoice_events WHERE action = 'held'") == [(0,)]
    assert any(e.value.startswith("Hold refused:") and "nothing held" in e.value for e in at.error), at.error
