"""'Delete draft…' on the workbench (spec section 4: a draft can be deleted, a finalized invoice never changes) under
AppTest, on a private copy of the small seeded demo: from the Ledger (the invoice leaves the list, the outcome
names the delayed charges pending again) and from the Invoice preview (the cycle is back to its preview, to be
drafted again). The HTTP, MCP and CLI deletes are tested in tests/api/test_delete_draft.py."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from engine.service import Billsim, Caller, bill_runs, contracts, lifecycle
from tests.ui.test_pages import assert_clean, db_rows, open_page, start_app, widget

JUNE = dt.date(2026, 6, 15)
CONTRACT, CHARGE = "K-000011", "DC-000002"  # the demo's June run with delayed charges sweeps DC-000002 onto it


def _run_june(path: Path) -> str:
    """K-000011's June invoice, drafted by a run that sweeps its customer's pending charge DC-000002 onto it."""
    with Billsim.open(path) as app:
        s = app.session(Caller.local("ana"))
        bill_runs.run(s, {"period_date": JUNE, "contract_ids": [CONTRACT], "include_delayed_charges": True})
    sql = (
        "SELECT invoice_id FROM invoices WHERE contract_id = ? AND status <> 'void' "
        "AND ? BETWEEN period_start AND period_end"
    )
    (invoice_id,) = db_rows(path, sql, [CONTRACT, JUNE])[0]
    assert db_rows(path, "SELECT charge_id FROM delayed_charge_sweeps WHERE invoice_id = ?", [invoice_id]) == [
        (CHARGE,)
    ]
    return invoice_id


def _ledger_ids(at) -> list[str]:
    found = [d.value for d in at.dataframe if "balance due" in d.value.columns]
    assert len(found) == 1
    return list(found[0]["invoice"])


def test_a_draft_is_deleted_from_the_ledger_after_a_confirmation_and_leaves_the_list(workbench_db):
    invoice_id = _run_june(workbench_db)
    with Billsim.open(workbench_db) as app:
        kept = _draft_of(app, "K-000002")  # another invoice, still listed after the delete
    at = start_app()
    widget(at.text_input, "actor").set_value("Ann Analyst").run()
    open_page(at, "views/ledger.py")
    assert invoice_id in _ledger_ids(at)
    widget(at.selectbox, "ledger_pick").set_value(invoice_id).run()
    assert_clean(at)
    popovers = [p.proto.popover.label for p in at.get("popover")]
    assert "Delete draft…" in popovers, popovers  # the confirmation holds the button
    confirm = [m.value for m in at.markdown if m.value.startswith("Delete this draft of ")]
    assert confirm and invoice_id in confirm[0] and "Its cycle can be drafted again" in confirm[0], confirm
    assert "Its delayed charge (" in confirm[0] and "becomes pending again" in confirm[0], confirm

    widget(at.button, f"ledger_delete_{invoice_id}").click().run()
    assert_clean(at)
    said = [s.value for s in at.success]
    assert said == [
        f"Deleted the draft invoice `{invoice_id}`. Its cycle can be drafted again. "
        f"1 delayed charge ({CHARGE}) is pending again."
    ], said
    assert _ledger_ids(at) == [kept]
    assert widget(at.selectbox, "ledger_pick").value is None
    assert db_rows(workbench_db, "SELECT count(*) FROM invoices WHERE invoice_id = ?", [invoice_id]) == [(0,)]
    assert db_rows(workbench_db, "SELECT count(*) FROM delayed_charge_sweeps WHERE charge_id = ?", [CHARGE]) == [(0,)]
    events = "SELECT action, actor, status_before FROM invoice_events WHERE invoice_id = ? ORDER BY event_id"
    assert db_rows(workbench_db, events, [invoice_id])[-1] == ("deleted", "Ann Analyst", "draft")

    at.run()  # a rerun replays nothing (the token is done) and the message stays
    assert_clean(at)
    assert len(at.success) == 1 and at.success[0].value == said[0]
    again = _run_june(workbench_db)  # the cycle is free and the charge pending: the next run takes both again
    assert again != invoice_id


def test_a_held_invoice_offers_delete_beside_release_and_a_finalized_one_offers_none(workbench_db):
    held = _run_june(workbench_db)
    with Billsim.open(workbench_db) as app:
        s = app.session(Caller.local("ana"))
        lifecycle.hold(s, [held], "duplicate of the manual invoice")
        (other,) = lifecycle.approve(s, [_draft_of(app, "K-000002")]).approved
        lifecycle.finalize(s, [other])
    at = start_app()
    open_page(at, "views/ledger.py")
    widget(at.selectbox, "ledger_pick").set_value(other).run()
    assert_clean(at)
    assert not [b for b in at.button if b.key == f"ledger_delete_{other}"]
    assert "Delete draft…" not in [p.proto.popover.label for p in at.get("popover")]

    widget(at.selectbox, "ledger_pick").set_value(held).run()
    assert_clean(at)
    assert widget(at.button, f"ledger_release_{held}")
    widget(at.button, f"ledger_delete_{held}").click().run()
    assert_clean(at)
    assert at.success[0].value.startswith(f"Deleted the held invoice `{held}`.")
    assert db_rows(workbench_db, "SELECT count(*) FROM invoices WHERE invoice_id = ?", [held]) == [(0,)]


def _draft_of(app: Billsim, contract_id: str) -> str:
    return contracts.draft(app.session(Caller.local("ana")), contract_id, JUNE).invoice.invoice_id


def test_a_draft_deleted_on_the_invoice_preview_leaves_the_cycle_to_be_drafted_again(workbench_db):
    invoice_id = _run_june(workbench_db)
    period_start = db_rows(workbench_db, "SELECT period_start FROM invoices WHERE invoice_id = ?", [invoice_id])[0][0]
    at = start_app()
    at.session_state["contract_id"] = CONTRACT
    at.session_state["period_start"] = period_start
    open_page(at, "views/invoice_preview.py")
    assert widget(at.selectbox, f"preview_cycle_{CONTRACT}").value == period_start
    assert at.subheader[0].value == "Invoice · draft"  # the stored draft, with its actions
    widget(at.button, f"preview_delete_{invoice_id}").click().run()
    assert_clean(at)
    assert at.subheader[0].value == "Preview (nothing stored)"
    assert at.success[0].value.startswith(f"Deleted the draft invoice `{invoice_id}`. Its cycle can be drafted again.")
    widget(at.button, f"draft_{CONTRACT}_{period_start}").click().run()  # drafted again from the page
    assert_clean(at)
    rows = db_rows(workbench_db, "SELECT invoice_id, status FROM invoices WHERE contract_id = ?", [CONTRACT])
    assert len(rows) == 1 and rows[0][0] != invoice_id and rows[0][1] == "draft", rows
