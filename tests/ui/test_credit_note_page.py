"""Credit notes on the workbench (spec section 12) under AppTest, on a private copy of the small seeded demo:
the Ledger's "Credit note…" of a finalized invoice (its lines with what each can still be credited, the note it
would make shown before the confirmation, then its credit notes and balance), the customer's credit where the
customer is, and a draft's credit available beside its total on the Invoice preview and the Review page."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

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


def _texts(at) -> list[str]:
    return [e.value for kind in ("markdown", "caption", "info", "warning", "success") for e in at.get(kind)]


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
    assert any(f"Issued credit note {expected.invoice_number}-CN1" in s.value for s in at.success)
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
    info = [i.value for i in at.info if "customer credit available" in i.value]
    assert info, [i.value for i in at.info]
    with Billsim.open(workbench_db) as app:
        preview = contracts.preview(app.session(Caller.local()), "K-000001", july_start)
    asked = max(preview.total_minor - note.credit_minor, 0)
    assert "once finalized the customer is asked for" in info[0]
    assert f"{Decimal(preview.total_minor).scaleb(-2):,}" in info[0]  # beside its total
    assert f"{Decimal(asked).scaleb(-2):,}**" in info[0]


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
    """The Note box stops at the application layer's bound (not a copy of it): a note of that many characters is
    issued, one more is refused by the service (the box would have let the review step accept it before)."""
    inv = _open_invoice(workbench_db)
    at = _ledger_with(inv)
    box = widget(at.text_input, f"cn_note_{inv.invoice_id}")
    assert box.proto.max_chars > 0
    longest = "n" * box.proto.max_chars
    with Billsim.open(workbench_db) as app, pytest.raises(ValidationError, match="note"):
        credit_notes.create(
            app.session(Caller.local("ana")), inv.invoice_id, {"all": True, "reason": "other", "note": longest + "n"}
        )
    widget(at.checkbox, f"cn_all_{inv.invoice_id}").check().run()
    widget(at.text_input, f"cn_note_{inv.invoice_id}").set_value(longest)
    _review_button(at, inv.invoice_id).click().run()
    widget(at.button, f"ledger_cn_issue_{inv.invoice_id}").click().run()
    assert_clean(at)
    assert db_rows(workbench_db, "SELECT length(note) FROM credit_notes") == [(len(longest),)]


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
