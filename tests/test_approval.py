"""Review before approval (spec section 8): approve, hold, release, finalize only approved, redraft."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import threading

import pytest
from helpers_data import add_contract, add_customer, add_line, add_usage

from engine.billing.approval import approve_invoices, hold_invoice, release_invoice
from engine.billing.audit import invoice_events
from engine.billing.bill_run import bill_run
from engine.billing.invoice_store import load_invoice
from engine.billing.invoices import draft_period_invoice, redraft_invoice
from engine.billing.lifecycle import delete_draft, finalize_invoice, void_invoice
from engine.billing.manual_invoices import batch_create
from engine.db import connect
from engine.errors import InvalidStateError, InvoiceNotApprovedError, NotFoundError, ValidationError
from engine.models import LineItem, ManualBatchRequest, ManualInvoiceRequest

MARCH = dt.date(2026, 3, 15)


def _contracts(con, n: int) -> list[str]:
    add_customer(con, "C1")
    ids = []
    for k in range(n):
        cid = f"K{k:03d}"
        add_contract(con, cid, "C1", "2026-01-01")
        add_line(con, f"L{k:03d}", cid, unit_price="10.00")
        ids.append(cid)
    return ids


@pytest.fixture
def drafts(con) -> list[str]:
    """Three drafts of March, one per contract."""
    _contracts(con, 3)
    report = bill_run(con, MARCH, requested_by="runner")
    assert report.drafted == 3
    return [r[0] for r in con.execute("SELECT invoice_id FROM invoices ORDER BY contract_id").fetchall()]


def _status(con, invoice_id: str) -> str:
    return con.execute("SELECT status FROM invoices WHERE invoice_id = ?", [invoice_id]).fetchone()[0]


def _actions(con, invoice_id: str) -> list[str]:
    return [e["action"] for e in invoice_events(con, invoice_id)]


# --- approve -----------------------------------------------------------------------------------


def test_approve_records_who_and_when_and_one_event_each(con, drafts):
    result = approve_invoices(con, drafts[:2], actor="ann", note="checked against last month")
    assert result.approved == drafts[:2] and result.already_approved == [] and result.actor == "ann"
    inv = load_invoice(con, drafts[0])
    assert (inv.status, inv.approved_by) == ("approved", "ann") and inv.approved_at is not None
    assert _status(con, drafts[2]) == "draft"
    event = invoice_events(con, drafts[0])[-1]
    assert (event["action"], event["actor"], event["status_before"], event["status_after"], event["note"]) == (
        "approved",
        "ann",
        "draft",
        "approved",
        "checked against last month",
    )


def test_approving_again_changes_nothing_and_records_nothing(con, drafts):
    approve_invoices(con, [drafts[0]], actor="ann")
    again = approve_invoices(con, [drafts[0], drafts[1]], actor="bob")
    assert again.approved == [drafts[1]] and again.already_approved == [drafts[0]]
    assert load_invoice(con, drafts[0]).approved_by == "ann"  # the first approval stands
    assert _actions(con, drafts[0]).count("approved") == 1


def test_a_held_or_unknown_id_refuses_the_whole_list(con, drafts):
    hold_invoice(con, drafts[1], reason="customer disputes usage", actor="ann")
    with pytest.raises(InvalidStateError, match=f"'{drafts[1]}' is held.*nothing approved"):
        approve_invoices(con, drafts, actor="bob")
    with pytest.raises(NotFoundError, match="'nope'"):
        approve_invoices(con, [drafts[0], "nope"], actor="bob")
    assert [_status(con, i) for i in drafts] == ["draft", "held", "draft"]
    assert all("approved" not in _actions(con, i) for i in drafts)


def test_a_finalized_invoice_cannot_be_approved(con, drafts):
    approve_invoices(con, [drafts[0]])
    finalize_invoice(con, drafts[0])
    with pytest.raises(InvalidStateError, match="is open"):
        approve_invoices(con, [drafts[0]])


class _InterruptAfterApproving:
    """A connection that is interrupted (KeyboardInterrupt, like Ctrl-C) right after the approving UPDATE
    ran and before the transaction commits."""

    def __init__(self, con):
        self._con = con

    def execute(self, sql, *args):
        result = self._con.execute(sql, *args)
        if sql.lstrip().startswith("UPDATE invoices SET status = 'approved'"):
            raise KeyboardInterrupt
        return result

    def __getattr__(self, name):
        return getattr(self._con, name)


def test_an_interrupted_approval_of_many_leaves_none_approved(con):
    _contracts(con, 200)
    bill_run(con, MARCH)
    ids = [r[0] for r in con.execute("SELECT invoice_id FROM invoices").fetchall()]
    with pytest.raises(KeyboardInterrupt):
        approve_invoices(_InterruptAfterApproving(con), ids, actor="ann")
    assert con.execute("SELECT DISTINCT status FROM invoices").fetchall() == [("draft",)]
    assert con.execute("SELECT count(*) FROM invoice_events WHERE action = 'approved'").fetchone()[0] == 0
    # and the same list approves whole afterwards
    assert len(approve_invoices(con, ids, actor="ann").approved) == 200
    assert con.execute("SELECT DISTINCT status FROM invoices").fetchall() == [("approved",)]
    assert con.execute("SELECT count(*) FROM invoice_events WHERE action = 'approved'").fetchone()[0] == 200


def _approve_at_once(con, invoice_ids: list[str], actors: list[str]) -> dict[str, object]:
    """Each actor approves the same list in its own thread and cursor, all released together."""
    barrier = threading.Barrier(len(actors))
    outcomes: dict[str, object] = {}

    def work(actor: str) -> None:
        cur = con.cursor()
        try:
            barrier.wait()
            outcomes[actor] = approve_invoices(cur, invoice_ids, actor=actor)
        except Exception as exc:  # returned to the test, which asserts on it
            outcomes[actor] = exc
        finally:
            cur.close()

    threads = [threading.Thread(target=work, args=(a,)) for a in actors]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return outcomes


def test_two_actors_approving_at_once_leave_one_approval_event(con, drafts):
    for _ in range(5):  # several rounds: the two may collide in different places
        con.execute("UPDATE invoices SET status = 'draft', approved_by = NULL, approved_at = NULL")
        con.execute("DELETE FROM invoice_events WHERE action = 'approved'")  # test reset, not engine code
        outcomes = _approve_at_once(con, drafts, ["ann", "bob"])
        assert not any(isinstance(o, Exception) for o in outcomes.values()), outcomes
        approved = [set(o.approved) for o in outcomes.values()]
        assert approved[0] | approved[1] == set(drafts) and not approved[0] & approved[1]
        events = con.execute(
            "SELECT invoice_id, actor FROM invoice_events WHERE action = 'approved' ORDER BY invoice_id"
        ).fetchall()
        assert sorted(i for i, _ in events) == sorted(drafts)  # one approval event per invoice
        stored = dict(con.execute("SELECT invoice_id, approved_by FROM invoices").fetchall())
        assert stored == dict(events)  # the event's actor is the one the invoice names


# --- hold and release --------------------------------------------------------------------------


def test_hold_needs_a_reason_and_blocks_approval_and_finalize(con, drafts):
    inv = drafts[0]
    with pytest.raises(ValidationError, match="reason"):
        hold_invoice(con, inv, reason="   ", actor="ann")
    held = hold_invoice(con, inv, reason="usage looks doubled", actor="ann")
    assert (held.status, held.hold_reason) == ("held", "usage looks doubled")
    with pytest.raises(InvalidStateError, match="release a held invoice first"):
        approve_invoices(con, [inv])
    with pytest.raises(InvoiceNotApprovedError, match="release it"):
        finalize_invoice(con, inv)
    with pytest.raises(InvalidStateError, match="already held"):
        hold_invoice(con, inv, reason="again", actor="ann")
    released = release_invoice(con, inv, actor="bob", note="usage confirmed")
    assert (released.status, released.hold_reason) == ("draft", None)
    with pytest.raises(InvalidStateError, match="not held"):
        release_invoice(con, inv)
    assert _actions(con, inv) == ["drafted", "held", "released"]
    held_event, released_event = invoice_events(con, inv)[1:]
    assert (held_event["note"], held_event["actor"]) == ("usage looks doubled", "ann")
    assert (released_event["note"], released_event["actor"]) == ("usage confirmed", "bob")


def test_holding_an_approved_invoice_withdraws_the_approval(con, drafts):
    approve_invoices(con, [drafts[0]], actor="ann")
    held = hold_invoice(con, drafts[0], reason="wait for the credit note", actor="bob")
    assert (held.status, held.approved_by, held.approved_at) == ("held", None, None)
    assert invoice_events(con, drafts[0])[-1]["status_before"] == "approved"
    released = release_invoice(con, drafts[0])
    assert released.status == "draft"  # approved again only by a new approval


def test_hold_of_a_finalized_invoice_is_refused(con, drafts):
    approve_invoices(con, [drafts[0]])
    finalize_invoice(con, drafts[0])
    with pytest.raises(InvalidStateError, match="is open"):
        hold_invoice(con, drafts[0], reason="too late")


# --- finalize ----------------------------------------------------------------------------------


def test_finalize_refuses_a_draft_and_takes_an_approved_invoice(con, drafts):
    with pytest.raises(InvoiceNotApprovedError, match="approve it first") as info:
        finalize_invoice(con, drafts[0])
    assert info.value.code == "invoice_not_approved"
    assert _status(con, drafts[0]) == "draft"
    approve_invoices(con, [drafts[0]], actor="ann")
    inv = finalize_invoice(con, drafts[0], actor="bob")
    assert (inv.status, inv.number, inv.approved_by) == ("open", 1, "ann")
    final = invoice_events(con, drafts[0])[-1]
    assert (final["action"], final["actor"], final["status_before"], final["changes"]) == (
        "finalized",
        "bob",
        "approved",
        {"number": 1},
    )


def test_a_finalizing_bill_run_approves_and_finalizes_in_one_recorded_step(con):
    _contracts(con, 3)
    report = bill_run(con, MARCH, finalize=True, requested_by="night-run")
    assert (report.finalized, report.requested_by) == (3, "night-run")
    rows = con.execute("SELECT status, approved_by, number FROM invoices ORDER BY number").fetchall()
    assert rows == [("open", "night-run", 1), ("open", "night-run", 2), ("open", "night-run", 3)]
    events = con.execute(
        "SELECT action, actor, status_before, status_after FROM invoice_events ORDER BY event_id"
    ).fetchall()
    assert (
        events
        == [("drafted", "night-run", None, "draft")] * 3
        + [("approved_and_finalized", "night-run", "draft", "open")] * 3
    )


def test_batch_create_with_finalize_approves_and_finalizes(con):
    add_customer(con, "C1")
    item = ManualInvoiceRequest(customer_id="C1", line_items=[LineItem(description="Setup", unit_price=5000)])
    out = batch_create(con, ManualBatchRequest(items=[item, item], finalize=True), actor="ops")
    assert [r.invoice.status for r in out.results] == ["open", "open"]
    for r in out.results:
        assert _actions(con, r.invoice.invoice_id) == ["created", "approved_and_finalized"]
        assert r.invoice.approved_by == "ops"


# --- redraft, delete, void -----------------------------------------------------------------------


@pytest.mark.parametrize("state", ["approved", "held"])
def test_redraft_of_an_approved_or_held_invoice_makes_a_plain_draft(con, state):
    add_customer(con, "C1")
    add_contract(con, "K1", "C1", "2026-01-01")
    add_line(con, "L1", "K1", kind="usage", pricing_model="per_unit", unit_price="2", metric="api")
    add_usage(con, "K1", "api", "2026-03-10", "10")
    inv = draft_period_invoice(con, "K1", MARCH).invoice.invoice_id
    if state == "approved":
        approve_invoices(con, [inv], actor="ann")
    else:
        hold_invoice(con, inv, reason="late usage expected", actor="ann")
    add_usage(con, "K1", "api", "2026-03-20", "5")
    again = redraft_invoice(con, inv, actor="bob")
    assert (again.status, again.approved_by, again.approved_at, again.hold_reason) == ("draft", None, None, None)
    assert again.total_minor == 3000
    last = invoice_events(con, inv)[-1]
    assert (last["action"], last["actor"], last["status_before"], last["status_after"]) == (
        "redrafted",
        "bob",
        state,
        "draft",
    )
    assert last["changes"] == {"total_minor_before": 2000, "total_minor": 3000}


def test_an_approved_or_held_invoice_can_be_deleted_and_a_void_needs_finalizing(con, drafts):
    approve_invoices(con, [drafts[0]])
    hold_invoice(con, drafts[1], reason="duplicate")
    with pytest.raises(InvalidStateError, match="delete the draft instead"):
        void_invoice(con, drafts[0])
    delete_draft(con, drafts[0], actor="ann")
    delete_draft(con, drafts[1], actor="ann")
    assert con.execute("SELECT count(*) FROM invoices").fetchone()[0] == 1
    assert [e["status_before"] for e in invoice_events(con) if e["action"] == "deleted"] == ["approved", "held"]


# --- command line --------------------------------------------------------------------------------


def _billsim(db_path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "engine", "--db", str(db_path), *args], capture_output=True, text=True, check=False
    )


def test_cli_approve_hold_release_finalize_with_exit_codes(db_path):
    con = connect(db_path)
    _contracts(con, 2)
    draft_period_invoice(con, "K000", MARCH)
    draft_period_invoice(con, "K001", MARCH)
    a, b = [r[0] for r in con.execute("SELECT invoice_id FROM invoices ORDER BY contract_id").fetchall()]
    con.close()

    refused = _billsim(db_path, "finalize", a)
    assert refused.returncode == 2 and refused.stdout == ""
    assert refused.stderr.count("\n") == 1 and "not approved" in refused.stderr

    held = _billsim(db_path, "hold", b, "--reason", "check the seats", "--actor", "ann")
    assert held.returncode == 0 and json.loads(held.stdout)["hold_reason"] == "check the seats"
    assert _billsim(db_path, "hold", b).returncode == 2  # --reason is required
    blocked = _billsim(db_path, "approve", a, b)
    assert blocked.returncode == 2 and "is held" in blocked.stderr
    assert _billsim(db_path, "--actor", "bob", "release", b).returncode == 0

    approved = _billsim(db_path, "approve", a, b, "--note", "ok", "--actor", "carol")
    assert approved.returncode == 0
    assert json.loads(approved.stdout) == {"approved": [a, b], "already_approved": [], "actor": "carol"}
    assert json.loads(_billsim(db_path, "approve", a).stdout)["already_approved"] == [a]
    done = _billsim(db_path, "finalize", a, "--actor", "dave")
    assert done.returncode == 0 and json.loads(done.stdout)["number"] == 1
    assert _billsim(db_path, "approve").returncode == 2  # no invoice named

    con = connect(db_path)
    actors = con.execute(
        "SELECT action, actor FROM invoice_events WHERE action <> 'drafted' ORDER BY event_id"
    ).fetchall()
    con.close()
    assert actors == [("held", "ann"), ("released", "bob"), ("approved", "carol"), ("approved", "carol")] + [
        ("finalized", "dave")
    ]
