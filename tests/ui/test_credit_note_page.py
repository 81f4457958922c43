"""Credit notes on the workbench (spec section 12) under AppTest, on a private copy of the small seeded demo:
the Ledger's "Credit note…" of a finalized invoice (its lines with what each can still be credited, the note it
would make shown before the confirmation, then its credit notes and balance), the customer's credit where the
customer is, and a draft's credit available beside its total on the Invoice preview and the Review page."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from pathlib import Path

import pytest

from engine.money import tax_minor
from engine.service import (
    Billsim,
    Caller,
    ValidationError,
    bill_runs,
    contracts,
    credit_notes,
    invoices,
    lifecycle,
)
from engine.service.formats import MAX_TEXT, format_money
from tests.ui.test_pages import assert_clean, db_rows, open_page, start_app, widget

JUNE, JULY = dt.date(2026, 6, 15), dt.date(2026, 7, 15)


def _open_invoice(path: Path, contract_id: str = "K-000001", period: dt.date = JUNE, paid: bool = False):
    """The contract's invoice of `period`, drafted, approved and finalized (and paid in full)."""
    with Billsim.open(path) as app:
        s = app.session(Caller.local("ana"))
        draft = contracts.draft(s, contract_id, period).invoice
        lifecycle.approve(s, [draft.invoice_id])
        (inv,) = lifecycle.finalize(s, [draft.invoice_id])
        if paid:
            inv = lifecycle.pay(s, inv.invoice_id, amount=inv.balance_due)
        return inv


def _customer_credit(path: Path, contract_id: str = "K-000001"):
    """June's invoice paid in full, then credited entirely: its total becomes the customer's credit."""
    inv = _open_invoice(path, contract_id, paid=True)
    with Billsim.open(path) as app:
        note = credit_notes.create(app.session(Caller.local("ana")), inv.invoice_id, {"all": True, "reason": "other"})
    assert note.credit_minor == inv.total_minor > 0
    return inv, note


# CommonMark's backslash escapes (views._format.markdown_escaped): the character itself is what the page shows
_ESCAPED = re.compile(r"\\([!-/:-@\[-`{-~])")


def _shown(markdown: str) -> str:
    """A markdown element's text as the page shows it: its backslash escapes read."""
    return _ESCAPED.sub(r"\1", markdown)


def _texts(at, *, raw: bool = False) -> list[str]:
    """The markdown texts of the page (as shown; `raw`: as written, escapes and all)."""
    texts = [e.value for kind in ("markdown", "caption", "info", "warning", "success") for e in at.get(kind)]
    return texts if raw else [_shown(t) for t in texts]


def _errors(at) -> list[str]:
    return [_shown(e.value) for e in at.error]


def _page_order(node) -> list[str]:
    """The page's metrics, notices and expanders, top to bottom, as 'kind: label or text'."""
    out = []
    for child in getattr(node, "children", {}).values():
        kind = getattr(child, "type", "")
        if kind in ("metric", "expander", "info"):
            out.append(f"{kind}: {getattr(child, 'label', None) or getattr(child, 'value', '')}")
        out.extend(_page_order(child))
    return out


def _credit_is_beside_the_total(at) -> None:
    """The credit notice comes right after the totals (Balance due, the last metric), before the expanders that
    follow them (history, the document): a user reading the draft's total reads the credit next."""
    order = _page_order(at.main)
    after = order[order.index("metric: Balance due") + 1]
    assert after.startswith("info: Total") and "customer credit available" in after, order


def _ledger_with(inv):
    at = start_app()
    open_page(at, "views/ledger.py")
    widget(at.selectbox, "ledger_pick").set_value(inv.invoice_id).run()
    assert_clean(at)
    return at


def _review_button(at, invoice_id: str):
    return widget(at.button, f"ledger_cn_review_{invoice_id}")


def test_a_credit_note_is_reviewed_then_issued_from_the_ledger_and_the_invoice_shows_it(workbench_db):
    inv = _open_invoice(workbench_db)
    line = next(ln for ln in inv.lines if ln.amount_minor > 0)
    at = _ledger_with(inv)
    creditable = [t for t in _texts(at) if f"Line {line.line_no}:" in t]
    assert creditable and "can still be credited" in creditable[0]
    amount = Decimal(line.amount_minor // 2 or 1).scaleb(-2)  # half the line (demo currencies have 2 decimals)
    widget(at.text_input, f"cn_line_{inv.invoice_id}_{line.line_no}").set_value(str(amount))
    widget(at.selectbox, f"cn_reason_{inv.invoice_id}").set_value("product_unsatisfactory")
    widget(at.text_input, f"cn_note_{inv.invoice_id}").set_value("two days of outage")
    _review_button(at, inv.invoice_id).click().run()
    assert_clean(at)
    assert db_rows(workbench_db, "SELECT count(*) FROM credit_notes") == [(0,)]  # shown, not issued yet
    with Billsim.open(workbench_db) as app:  # what the page shows is the engine's own estimate
        expected = credit_notes.estimate(
            app.session(Caller.local()), inv.invoice_id, {"items": [{"line_no": line.line_no, "amount": amount}]}
        ).credit_note
    shown = " ".join(_texts(at))
    assert f"The credit note {expected.invoice_number}-CN1 would be" in shown
    assert "total " in shown and "Reason: product unsatisfactory" in shown
    issue = widget(at.button, f"ledger_cn_issue_{inv.invoice_id}")
    assert issue.label == f"Issue credit note {expected.invoice_number}-CN1"
    issue.click().run()
    assert_clean(at)
    rows = db_rows(
        workbench_db,
        "SELECT number, subtotal_minor, total_minor, offset_minor, reason, note, actor FROM credit_notes",
    )
    assert rows == [
        (
            f"{expected.invoice_number}-CN1",
            expected.subtotal_minor,
            expected.total_minor,
            expected.total_minor,  # an open invoice: all off the balance due
            "product_unsatisfactory",
            "two days of outage",
            at.session_state["actor"],
        )
    ]
    assert any(f"Issued credit note {expected.invoice_number}-CN1" in _shown(s.value) for s in at.success)
    notes = [d.value for d in at.dataframe if "credit note" in d.value.columns]
    assert notes and list(notes[0]["credit note"]) == [f"{expected.invoice_number}-CN1"]
    balance = [m.value for m in at.metric if m.label == "Balance due"]
    with Billsim.open(workbench_db) as app:
        now = invoices.get_invoice(app.session(Caller.local()), inv.invoice_id)
    assert now.balance_due_minor == inv.total_minor - expected.total_minor
    assert any(b.endswith(f"{now.balance_due:,}") for b in balance), balance


def test_a_credit_note_beyond_a_line_is_refused_on_the_page_and_nothing_is_written(workbench_db):
    inv = _open_invoice(workbench_db)
    line = next(ln for ln in inv.lines if ln.amount_minor > 0)
    at = _ledger_with(inv)
    too_much = Decimal(line.amount_minor - line.discount_minor + 1).scaleb(-2)
    widget(at.text_input, f"cn_line_{inv.invoice_id}_{line.line_no}").set_value(str(too_much))
    _review_button(at, inv.invoice_id).click().run()
    assert [e.value for e in at.error] and "can still be credited at most" in at.error[0].value
    assert not [b for b in at.button if b.key == f"ledger_cn_issue_{inv.invoice_id}"]  # nothing to confirm
    assert db_rows(workbench_db, "SELECT count(*) FROM credit_notes") == [(0,)]


def test_everything_left_credits_the_whole_invoice_and_then_nothing_is_left(workbench_db):
    inv = _open_invoice(workbench_db)
    at = _ledger_with(inv)
    widget(at.checkbox, f"cn_all_{inv.invoice_id}").check()
    _review_button(at, inv.invoice_id).click().run()
    assert_clean(at)
    widget(at.button, f"ledger_cn_issue_{inv.invoice_id}").click().run()
    assert_clean(at)
    assert db_rows(workbench_db, "SELECT sum(total_minor) FROM credit_notes") == [(inv.total_minor,)]
    assert any("nothing is left to credit" in t for t in _texts(at))
    assert not [t for t in at.text_input if t.key.startswith(f"cn_line_{inv.invoice_id}_")]


def test_the_customers_credit_shows_on_its_invoices_and_beside_a_drafts_total_on_the_preview(workbench_db):
    june, note = _customer_credit(workbench_db)
    at = _ledger_with(june)
    credit_text = next(t for t in _texts(at) if t.startswith("Customer credit of"))
    assert june.customer_id in credit_text
    open_page(at, "views/invoice_preview.py")
    widget(at.selectbox, "preview_contract").set_value("K-000001").run()
    july = next(o for o in widget(at.selectbox, "preview_cycle_K-000001").options if o.startswith("2026-07"))
    july_start = dt.date.fromisoformat(july[:10])
    widget(at.selectbox, "preview_cycle_K-000001").set_value(july_start).run()
    assert_clean(at)
    info = [_shown(i.value) for i in at.info if "customer credit available" in i.value]
    assert info, [i.value for i in at.info]
    with Billsim.open(workbench_db) as app:
        preview = contracts.preview(app.session(Caller.local()), "K-000001", july_start)
    asked = max(preview.total_minor - note.credit_minor, 0)
    assert "once finalized the customer is asked for" in info[0]
    assert f"{Decimal(preview.total_minor).scaleb(-2):,}" in info[0]  # beside its total
    assert f"{Decimal(asked).scaleb(-2):,}**" in info[0]
    _credit_is_beside_the_total(at)

    widget(at.button, "draft_K-000001_" + str(july_start)).click().run()  # the stored draft: the same place
    assert_clean(at)
    _credit_is_beside_the_total(at)
    july_draft = db_rows(workbench_db, "SELECT invoice_id FROM invoices WHERE status = 'draft'")[0][0]
    with Billsim.open(workbench_db) as app:
        draft = invoices.get_invoice(app.session(Caller.local()), july_draft)
    at = _ledger_with(draft)
    _credit_is_beside_the_total(at)  # the Ledger's opened draft too, once
    assert sum("customer credit available" in i.value for i in at.info) == 1


def test_the_review_page_shows_a_drafts_customer_credit_beside_its_total(workbench_db):
    _customer_credit(workbench_db)
    with Billsim.open(workbench_db) as app:
        bill_runs.run(app.session(Caller.local("ana")), {"period_date": JULY, "contract_ids": ["K-000001"]})
    at = start_app()
    open_page(at, "views/review.py")
    table = next(d for d in at.dataframe if (d.key or "").startswith("rv_table_"))
    at.session_state[table.key] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    at.run()
    assert_clean(at)
    assert any("customer credit available" in i.value for i in at.info), [i.value for i in at.info]


def test_the_form_offers_no_more_refund_than_can_still_be_credited_and_says_what_was_paid(workbench_db):
    """The analyst's trial: a paid invoice with a credit note of about half already offered a refund of the whole
    payment, more than could still be credited. The refund offered is what is left, of the amount paid."""
    inv = _open_invoice(workbench_db, paid=True)
    line = max(inv.lines, key=lambda ln: ln.amount_minor)
    with Billsim.open(workbench_db) as app:
        s = app.session(Caller.local("ana"))
        half = Decimal(line.amount_minor // 2).scaleb(-2)
        # paid in full, nothing due: the note goes to the customer's credit
        credit_notes.create(
            s, inv.invoice_id, {"items": [{"line_no": line.line_no, "amount": str(half)}], "reason": "other"}
        )
        left = credit_notes.estimate(s, inv.invoice_id, {}).creditable_total_minor
    assert 0 < left < inv.total_minor
    at = _ledger_with(inv)
    (limits,) = [t for t in _texts(at) if t.startswith("At most ")]
    left_text, paid_text = format_money(left, inv.currency), format_money(inv.total_minor, inv.currency)
    assert f"At most {left_text} (tax included) can still be credited" in limits, limits
    assert f"up to {left_text} refunded (of {paid_text} paid)" in limits, limits


def test_the_payment_box_follows_the_balance_left_by_a_credit_note_and_goes_when_nothing_is_due(workbench_db):
    inv = _open_invoice(workbench_db)
    line = next(ln for ln in inv.lines if ln.amount_minor > 0)
    with Billsim.open(workbench_db) as app:
        s = app.session(Caller.local("ana"))
        credit_notes.create(
            s, inv.invoice_id, {"items": [{"line_no": line.line_no, "amount": "1.00"}], "reason": "other"}
        )
        now = invoices.get_invoice(s, inv.invoice_id)
    at = _ledger_with(inv)
    box = widget(at.text_input, f"pay_amount_{inv.invoice_id}_0_{now.balance_due_minor}")
    assert box.value == str(now.balance_due) and now.balance_due_minor < inv.total_minor
    with Billsim.open(workbench_db) as app:
        credit_notes.create(app.session(Caller.local("ana")), inv.invoice_id, {"all": True, "reason": "other"})
    at.run()
    assert_clean(at)
    assert not [t for t in at.text_input if t.key.startswith(f"pay_amount_{inv.invoice_id}")]  # nothing is due
    assert not [p for p in at.get("popover") if p.proto.popover.label == "Void…"]  # credited: it cannot be voided


def test_the_note_box_takes_exactly_what_the_service_takes(workbench_db):
    """A note of the application layer's bound (MAX_TEXT, not a copy of it) is issued; one more is refused by the
    service, and by the review with its length, the note kept in the box (nothing reviewed, nothing issued)."""
    inv = _open_invoice(workbench_db)
    longest = "n" * MAX_TEXT
    with Billsim.open(workbench_db) as app, pytest.raises(ValidationError, match="note"):
        credit_notes.create(
            app.session(Caller.local("ana")), inv.invoice_id, {"all": True, "reason": "other", "note": longest + "n"}
        )
    at = _ledger_with(inv)
    widget(at.checkbox, f"cn_all_{inv.invoice_id}").check().run()
    widget(at.text_input, f"cn_note_{inv.invoice_id}").set_value(longest + "n")
    _review_button(at, inv.invoice_id).click().run()
    assert not at.exception
    assert _errors(at) == [
        f"Credit note refused: the note is {MAX_TEXT + 1:,} characters long; a credit note keeps at most "
        f"{MAX_TEXT:,}: shorten it (what you typed is still in the box)"
    ]
    assert widget(at.text_input, f"cn_note_{inv.invoice_id}").value == longest + "n"  # not lost
    assert not [b for b in at.button if b.key == f"ledger_cn_issue_{inv.invoice_id}"]
    widget(at.text_input, f"cn_note_{inv.invoice_id}").set_value(longest)
    _review_button(at, inv.invoice_id).click().run()
    widget(at.button, f"ledger_cn_issue_{inv.invoice_id}").click().run()
    assert_clean(at)
    assert db_rows(workbench_db, "SELECT length(note) FROM credit_notes") == [(len(longest),)]


def test_the_note_box_has_no_bound_the_browser_would_drop_a_longer_paste_by(workbench_db):
    """Streamlit's browser side drops a change longer than a box's max_chars, so a paste of more than 2,000
    characters left the box empty: the box has no max_chars (the review refuses a longer note, above)."""
    at = _ledger_with(_open_invoice(workbench_db))
    box = next(t for t in at.text_input if t.key.startswith("cn_note_"))
    assert box.proto.max_chars == 0
    assert f"{MAX_TEXT:,}" in box.proto.help


def test_the_line_amounts_are_disabled_while_everything_left_is_ticked(workbench_db):
    """'Everything left on every line' credits every line in full: the per-line amounts are not used then, so they
    cannot be typed (and come back when it is unticked)."""
    inv = _open_invoice(workbench_db)
    at = _ledger_with(inv)

    def line_boxes():
        boxes = [t for t in at.text_input if t.key.startswith(f"cn_line_{inv.invoice_id}_")]
        assert boxes
        return boxes

    assert not any(b.proto.disabled for b in line_boxes())
    widget(at.checkbox, f"cn_all_{inv.invoice_id}").check().run()
    assert_clean(at)
    assert all(b.proto.disabled for b in line_boxes())
    widget(at.checkbox, f"cn_all_{inv.invoice_id}").uncheck().run()
    assert not any(b.proto.disabled for b in line_boxes())


def test_amounts_typed_before_ticking_everything_left_come_back_when_it_is_unticked(workbench_db):
    """The analyst types amounts in the lines' boxes, ticks 'Everything left on every line' (the boxes, disabled,
    read 'everything left'), unticks it: the amounts typed are back in their boxes, and reviewing credits them."""
    inv = _open_invoice(workbench_db)
    lines = [ln for ln in inv.lines if ln.amount_minor > 0][:2]
    assert len(lines) == 2
    at = _ledger_with(inv)
    typed = {ln.line_no: amount for ln, amount in zip(lines, ("1.25", "2.50"), strict=True)}
    for n, amount in typed.items():
        widget(at.text_input, f"cn_line_{inv.invoice_id}_{n}").set_value(amount)
    widget(at.checkbox, f"cn_all_{inv.invoice_id}").check().run()
    assert_clean(at)
    ticked = [widget(at.text_input, f"cn_line_{inv.invoice_id}_{n}") for n in typed]
    assert [(b.value, b.proto.disabled, b.proto.placeholder) for b in ticked] == [("", True, "everything left")] * 2
    widget(at.checkbox, f"cn_all_{inv.invoice_id}").uncheck().run()
    assert_clean(at)
    assert {n: widget(at.text_input, f"cn_line_{inv.invoice_id}_{n}").value for n in typed} == typed
    _review_button(at, inv.invoice_id).click().run()
    assert_clean(at)
    plan = at.session_state[f"cn_plan_{inv.invoice_id}"]
    assert plan["body"] == {"items": [{"line_no": n, "amount": Decimal(a)} for n, a in typed.items()]}
    assert plan["note_plan"].subtotal_minor == 375  # 1.25 + 2.50 (demo currencies have 2 decimals)


def _issue_button(at, invoice_id: str):
    return [b for b in at.button if b.key == f"ledger_cn_issue_{invoice_id}"]


def test_changing_a_field_after_the_review_voids_it_and_issue_issues_only_what_is_reviewed_and_shown(workbench_db):
    """The analyst's trial: line 2 = 50.00 and 20 to credit, Review; line 2 changed to 150.00 and the credit box
    cleared. The old review goes at once (no Issue until reviewed again); an Issue click that carries the changed
    fields with it issues nothing; reviewed again, the note issued is the one shown: 150.00 and its tax, nothing
    to credit."""
    inv = _open_invoice(workbench_db)
    at = _ledger_with(inv)
    line, credit = f"cn_line_{inv.invoice_id}_2", f"cn_credit_{inv.invoice_id}"
    widget(at.text_input, line).set_value("50.00")
    widget(at.text_input, credit).set_value("20")
    _review_button(at, inv.invoice_id).click().run()
    assert_clean(at)
    assert _issue_button(at, inv.invoice_id)
    widget(at.text_input, line).set_value("150.00")
    widget(at.text_input, credit).set_value("")
    at.run()  # the change reruns once a review is shown
    assert_clean(at)
    assert not _issue_button(at, inv.invoice_id)
    assert not [t for t in _texts(at) if "would be" in t]  # the old review is gone
    assert any("changed after the review" in i.value for i in at.info)
    # the Issue click of the old review, with the fields changed and sent together with it (no rerun between)
    _review_button(at, inv.invoice_id).click().run()
    issue = _issue_button(at, inv.invoice_id)[0]
    widget(at.text_input, line).set_value("50.00")
    issue.click().run()
    assert db_rows(workbench_db, "SELECT count(*) FROM credit_notes") == [(0,)]
    assert _errors(at) == [
        "Credit note refused: the form was changed after the review, so the note reviewed is not what the form "
        "holds now: review the credit note again, then issue it"
    ]
    assert not _issue_button(at, inv.invoice_id)
    widget(at.text_input, line).set_value("150.00")
    _review_button(at, inv.invoice_id).click().run()
    shown = at.session_state[f"cn_plan_{inv.invoice_id}"]["note_plan"]
    assert (shown.subtotal_minor, shown.credit_minor) == (15000, 0)
    _issue_button(at, inv.invoice_id)[0].click().run()
    assert_clean(at)
    assert db_rows(
        workbench_db, "SELECT subtotal_minor, tax_minor, total_minor, offset_minor, credit_minor FROM credit_notes"
    ) == [(15000, shown.tax_minor, shown.total_minor, shown.total_minor, 0)]


def test_after_a_note_is_issued_the_form_starts_fresh(workbench_db):
    """CN1 with 10.00 to the customer's credit, a reason and a note; the next note starts from an empty form, so
    'Everything left' reviewed credits nothing to the customer (the balance due takes it all)."""
    inv = _open_invoice(workbench_db)
    at = _ledger_with(inv)
    i = inv.invoice_id
    widget(at.text_input, f"cn_line_{i}_1").set_value("50.00")
    widget(at.text_input, f"cn_credit_{i}").set_value("10")
    widget(at.selectbox, f"cn_reason_{i}").set_value("order_change")
    widget(at.text_input, f"cn_note_{i}").set_value("first note")
    _review_button(at, i).click().run()
    _issue_button(at, i)[0].click().run()
    assert_clean(at)
    assert db_rows(workbench_db, "SELECT credit_minor, reason FROM credit_notes") == [(1000, "order_change")]
    boxes = {t.key: t.value for t in at.text_input if t.key.startswith("cn_") and i in t.key}
    assert {f"cn_line_{i}_1", f"cn_note_{i}", f"cn_refund_{i}", f"cn_credit_{i}"} <= set(boxes)
    assert boxes and set(boxes.values()) == {""}, boxes
    assert widget(at.selectbox, f"cn_reason_{i}").value == "duplicate"
    assert widget(at.checkbox, f"cn_all_{i}").value is False
    widget(at.checkbox, f"cn_all_{i}").check().run()
    _review_button(at, i).click().run()
    assert_clean(at)
    plan = at.session_state[f"cn_plan_{i}"]
    assert plan["body"] == {"all": True} and plan["note"] is None
    assert plan["note_plan"].credit_minor == 0 and plan["note_plan"].offset_minor == plan["note_plan"].total_minor


@pytest.mark.parametrize(
    ("box", "typed"),
    [
        ("line", ""),
        ("line", "   "),
        ("line", "abc"),
        ("line", "nan"),
        ("line", "Infinity"),
        ("line", "1e3"),
        ("line", "12,50"),
        ("line", "-5"),
        ("line", "0"),
        ("line", "1.234"),
        ("line", "9" * 40),
        ("refund", "nan"),
        ("refund", "-1"),
        ("credit", "1e9"),
        ("credit", "9" * 40),
    ],
)
def test_whatever_is_typed_the_review_says_what_is_wrong_and_shows_no_traceback(workbench_db, box, typed):
    """Review with no amount (the analyst's AttributeError at _plan_view) or with an amount no request takes: a
    refusal in words, nothing to issue, never a traceback."""
    inv = _open_invoice(workbench_db)
    at = _ledger_with(inv)
    i = inv.invoice_id
    if box == "line":
        widget(at.text_input, f"cn_line_{i}_1").set_value(typed)
    else:
        widget(at.text_input, f"cn_line_{i}_1").set_value("1.00")
        widget(at.text_input, f"cn_{box}_{i}").set_value(typed)
    _review_button(at, i).click().run()
    assert not at.exception, [e.value for e in at.exception]
    (error,) = _errors(at)
    assert error.startswith("Credit note refused: ")
    if not typed.strip():
        assert (
            error
            == "Credit note refused: enter an amount for at least one line (or tick 'Everything left on every line')"
        )
    assert not _issue_button(at, i)


def test_the_last_notes_tax_is_said_as_what_is_left_of_the_invoices_tax(workbench_db):
    """GST 10 %: CN1 credits 0.05 of line 1 (tax round(0.5) = 0.01); everything left then takes what is left of the
    invoice's tax, 370.34, where 10 % of the 3,703.45 credited would be 370.35: the review says so instead of
    stating that arithmetic."""
    inv = _open_invoice(workbench_db)
    (gst,) = inv.taxes
    with Billsim.open(workbench_db) as app:
        credit_notes.create(
            app.session(Caller.local("ana")),
            inv.invoice_id,
            {"items": [{"line_no": 1, "amount": "0.05"}], "reason": "other"},
        )
    at = _ledger_with(inv)
    widget(at.checkbox, f"cn_all_{inv.invoice_id}").check().run()
    _review_button(at, inv.invoice_id).click().run()
    assert_clean(at)
    note = at.session_state[f"cn_plan_{inv.invoice_id}"]["note_plan"]
    left = gst.amount_minor - 1
    assert note.tax_minor == left and note.subtotal_minor == gst.base_minor - 5
    assert tax_minor(note.subtotal_minor, gst.rate) == left + 1  # 10 % of 3,703.45 = 370.345 -> 370.35
    shown = " ".join(_texts(at))
    assert f"{gst.name} ({gst.code}) 10 %, what is left of the invoice's tax: A$370.34" in shown, shown
    assert "10 % of" not in shown


def test_the_issued_note_is_announced_under_the_form_not_at_the_top_of_the_page(workbench_db):
    """Like every Ledger action, the outcome of "Issue credit note …" is shown under the buttons that made it: in
    the Credit note… expander (kept open), not above the page's filters."""
    inv = _open_invoice(workbench_db)
    at = _ledger_with(inv)
    widget(at.text_input, f"cn_line_{inv.invoice_id}_1").set_value("1.00")
    _review_button(at, inv.invoice_id).click().run()
    _issue_button(at, inv.invoice_id)[0].click().run()
    assert_clean(at)
    (form,) = [e for e in at.expander if e.label == "Credit note…"]
    assert [s.value for s in form.success if s.value.startswith("Issued credit note")]
    assert form.proto.expanded  # kept open: the message is not hidden in a closed expander
    assert [s.value for s in at.success if s.value.startswith("Issued credit note")] == [
        s.value for s in form.success if s.value.startswith("Issued credit note")
    ]  # shown once, there


def test_a_product_name_is_shown_as_it_is_never_read_as_markdown(workbench_db):
    """A product's name is the user's text: its '*', '_', backticks, '[', '#' … are escaped in the line's label, so
    the page shows the name as it is (no emphasis, code, link or heading), and only the label's own bold is bold."""
    from markdown_it import MarkdownIt

    name = "*Seats* __pro__ `v2` [docs](https://example.com) # 1 <b>x</b> ~~old~~ $5$"
    with Billsim.open(workbench_db) as app, app.database.cursor() as cur:
        cur.execute(
            "UPDATE order_lines SET product = ? WHERE contract_id = ? AND kind = 'recurring'", [name, "K-000001"]
        )
    inv = _open_invoice(workbench_db)
    at = _ledger_with(inv)
    (label,) = [t for t in _texts(at, raw=True) if t.startswith("Line ") and "Seats" in t]
    assert _shown(label).startswith(f"Line 1: {name} — "), _shown(label)
    rendered = MarkdownIt("commonmark").enable("strikethrough").render(label)
    assert rendered.count("<strong>") == 1 and "<strong>can still be credited " in rendered, rendered
    for markup in ("<em>", "<code>", "<a ", "<h1>", "<b>", "<s>"):
        assert markup not in rendered, rendered
    assert "$" not in re.sub(r"\\.", "", label)  # every '$' escaped: no formula


def test_a_dollar_in_a_line_is_never_read_as_a_formula(workbench_db):
    """The form's line labels carry the product's name and amounts in dollars: every '$' is escaped, so the
    markdown never reads text between two of them as a LaTeX formula."""
    with Billsim.open(workbench_db) as app, app.database.cursor() as cur:
        cur.execute(
            "UPDATE order_lines SET product = 'Seats $x$ plan' WHERE contract_id = ? AND kind = 'recurring'",
            ["K-000001"],
        )
    inv = _open_invoice(workbench_db)
    at = _ledger_with(inv)
    lines = [t for t in _texts(at, raw=True) if t.startswith("Line ")]
    assert lines and all("$" not in t.replace("\\$", "") for t in lines), lines
    assert any("Seats \\$x\\$ plan" in t for t in lines), lines
