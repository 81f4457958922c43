"""Invoice lifecycle: numbering, void, delete, payments (spec section 4, lifecycle)."""

from __future__ import annotations

import datetime as dt
import json
import threading
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.billing.approval import approve_invoices
from engine.billing.invoice_store import load_invoice, refresh_totals
from engine.billing.lifecycle import (
    delete_draft,
    finalize_invoice,
    finalize_invoices_tx,
    record_payment,
    void_invoice,
)
from engine.cli import main as cli_main
from engine.db import connect, transaction
from engine.errors import InvalidStateError, NotFoundError, ValidationError

CUSTOMERS = [
    ("C-N", "North", "biz-north", "USD"),
    ("C-S", "South", "biz-south", "USD"),
    ("C-Y", "Yen", "biz-north", "JPY"),
]


def _customers(con) -> None:
    for cid, name, biz, cur in CUSTOMERS:
        con.execute(
            "INSERT INTO customers (customer_id, name, business_id, currency) VALUES (?, ?, ?, ?)",
            [cid, name, biz, cur],
        )


def _draft(
    con,
    invoice_id: str,
    *,
    customer: str = "C-N",
    contract: str | None = None,
    period_start: dt.date = dt.date(2026, 3, 1),
    total_minor: int = 10_000,
) -> str:
    """A contract draft as a bill run stores it: invoice, one line, and its cycle claim."""
    biz, cur = {c[0]: (c[2], c[3]) for c in CUSTOMERS}[customer]
    contract = contract or f"K-{invoice_id}"
    con.execute(
        """INSERT INTO invoices (invoice_id, business_id, customer_id, contract_id, status, currency,
               period_start, period_end, subtotal_minor, tax_minor, total_minor, created_at)
           VALUES (?, ?, ?, ?, 'draft', ?, ?, ?, ?, 0, ?, now()::TIMESTAMP)""",
        [
            invoice_id,
            biz,
            customer,
            contract,
            cur,
            period_start,
            period_start + dt.timedelta(days=30),
            total_minor,
            total_minor,
        ],
    )
    con.execute(
        "INSERT INTO invoice_lines (invoice_id, line_no, line_id, kind, amount_minor) "
        "VALUES (?, 1, 'L-1', 'recurring', ?)",
        [invoice_id, total_minor],
    )
    con.execute("INSERT INTO invoice_cycle_claims VALUES (?, ?, ?)", [contract, period_start, invoice_id])
    return invoice_id


def _finalize(con, invoice_id: str):
    """Approve a draft (finalize takes only approved invoices, spec section 8), then finalize it."""
    row = con.execute("SELECT status FROM invoices WHERE invoice_id = ?", [invoice_id]).fetchone()
    if row and row[0] == "draft":
        approve_invoices(con, [invoice_id], actor="tester")
    return finalize_invoice(con, invoice_id)


def _numbers(con, business: str) -> list[int]:
    return [
        r[0]
        for r in con.execute(
            "SELECT number FROM invoices WHERE business_id = ? AND number IS NOT NULL ORDER BY number", [business]
        ).fetchall()
    ]


@pytest.fixture
def db(con):
    _customers(con)
    return con


# --- finalize ---------------------------------------------------------------------------------


def test_finalize_numbers_each_business_1_to_n_gapless_and_independently(db):
    order = [("a1", "C-N"), ("b1", "C-S"), ("a2", "C-N"), ("a3", "C-Y"), ("b2", "C-S")]
    for inv, cust in order:
        _draft(db, inv, customer=cust)
    got = {inv: _finalize(db, inv) for inv, _ in order}
    assert [got[i].number for i in ("a1", "a2", "a3")] == [1, 2, 3]  # C-Y is also biz-north
    assert [got[i].number for i in ("b1", "b2")] == [1, 2]
    assert all(g.status == "open" for g in got.values())
    assert db.execute("SELECT count(*) FROM invoices WHERE finalized_at IS NULL").fetchone()[0] == 0
    assert dict(db.execute("SELECT * FROM invoice_number_counters").fetchall()) == {"biz-north": 3, "biz-south": 2}


def test_finalize_invoices_tx_numbers_each_business_in_list_order(db):
    for inv, cust in [("x", "C-N"), ("y", "C-S"), ("z", "C-N"), ("w", "C-S")]:
        _draft(db, inv, customer=cust)
    approve_invoices(db, ["x", "y", "z", "w"], actor="tester")
    with transaction(db):
        assert finalize_invoices_tx(db, ["z", "w", "x", "y", "z"]) == 4  # a repeated id counts once
    numbers = dict(db.execute("SELECT invoice_id, number FROM invoices").fetchall())
    assert numbers == {"z": 1, "x": 2, "w": 1, "y": 2}


def test_finalize_invoices_tx_with_a_non_draft_finalizes_nothing(db):
    _draft(db, "a")
    _draft(db, "b")
    _finalize(db, "a")
    approve_invoices(db, ["b"], actor="tester")
    with pytest.raises(InvalidStateError, match="'a' is open"):
        with transaction(db):
            finalize_invoices_tx(db, ["b", "a"])
    assert load_invoice(db, "b").status == "approved"
    assert _numbers(db, "biz-north") == [1]


def test_failed_finalize_consumes_no_number(db):
    _draft(db, "a")
    _draft(db, "b")
    assert _finalize(db, "a").number == 1
    with pytest.raises(NotFoundError):
        _finalize(db, "no-such-invoice")
    with pytest.raises(InvalidStateError, match="it is open"):
        _finalize(db, "a")
    assert _finalize(db, "b").number == 2


def test_finalize_of_void_invoice_is_invalid_state(db):
    _draft(db, "a")
    _finalize(db, "a")
    void_invoice(db, "a")
    with pytest.raises(InvalidStateError, match="it is void"):
        _finalize(db, "a")
    assert load_invoice(db, "a").number == 1


# --- void ------------------------------------------------------------------------------------


def test_void_keeps_number_sets_voided_at_and_frees_the_cycle_claim(db):
    _draft(db, "a", contract="K-1", period_start=dt.date(2026, 3, 1))
    _finalize(db, "a")
    voided = void_invoice(db, "a")
    assert (voided.status, voided.number) == ("void", 1)
    assert db.execute("SELECT voided_at IS NOT NULL FROM invoices WHERE invoice_id = 'a'").fetchone()[0]
    assert db.execute("SELECT count(*) FROM invoice_cycle_claims").fetchone()[0] == 0
    # The cycle can be drafted again, and the new invoice gets the next number (1 is never reused).
    _draft(db, "a2", contract="K-1", period_start=dt.date(2026, 3, 1))
    assert _finalize(db, "a2").number == 2


def test_void_of_draft_or_paid_invoice_is_invalid_state(db):
    _draft(db, "d")
    with pytest.raises(InvalidStateError, match="delete the draft instead"):
        void_invoice(db, "d")
    _draft(db, "p", total_minor=500)
    _finalize(db, "p")
    record_payment(db, "p", Decimal("5.00"))
    with pytest.raises(InvalidStateError, match=r"it is manual_paid \(allowed: open\)$"):  # a paid-in-part one is never
        void_invoice(db, "p")  # voided either: not listed as allowed


def test_void_of_an_invoice_paid_in_part_is_refused_and_nothing_changes(db):
    """Spec section 4: open -> void. A void of an invoice something was paid on would leave the money received on
    nothing: refused, naming the amount and the way out (a credit note of everything left)."""
    _draft(db, "a", total_minor=1000)
    _finalize(db, "a")
    record_payment(db, "a", Decimal("2.50"))
    with pytest.raises(InvalidStateError, match=r"2\.50 USD was paid on it; issue a credit note of everything left"):
        void_invoice(db, "a", reason="wrong customer")
    row = db.execute("SELECT status, total_paid_minor, void_reason FROM invoices WHERE invoice_id = 'a'").fetchone()
    assert row == ("partially_paid", 250, None)
    assert db.execute("SELECT count(*) FROM invoice_cycle_claims WHERE invoice_id = 'a'").fetchone()[0] == 1


def test_void_returns_its_delayed_charges_to_pending(db):
    _draft(db, "a")
    _sweep(db, "a", "DC-1")
    _finalize(db, "a")
    void_invoice(db, "a")
    assert db.execute("SELECT count(*) FROM delayed_charge_sweeps").fetchone()[0] == 0
    # The void invoice itself is unchanged: its line still names the charge it billed.
    assert (
        db.execute("SELECT charge_id FROM invoice_lines WHERE invoice_id = 'a' AND line_no = 2").fetchone()[0] == "DC-1"
    )


# --- delete ----------------------------------------------------------------------------------


def _sweep(con, invoice_id: str, charge_id: str) -> None:
    con.execute(
        "INSERT INTO delayed_charges VALUES (?, 'C-N', 'Courier', 18.40, DATE '2026-03-02', 'USD')", [charge_id]
    )
    con.execute(
        "INSERT INTO invoice_lines (invoice_id, line_no, kind, description, amount_minor, charge_id) "
        "VALUES (?, 2, 'delayed_charge', 'Courier', 1840, ?)",
        [invoice_id, charge_id],
    )
    con.execute("INSERT INTO delayed_charge_sweeps VALUES (?, ?, 'run-1', now()::TIMESTAMP)", [charge_id, invoice_id])


def test_delete_draft_removes_lines_claim_and_returns_delayed_charges_to_pending(db):
    _draft(db, "a", contract="K-1")
    _sweep(db, "a", "DC-1")
    assert delete_draft(db, "a") == ["DC-1"]
    for table in ("invoices", "invoice_lines", "invoice_cycle_claims", "delayed_charge_sweeps"):
        assert db.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 0, table
    assert db.execute("SELECT count(*) FROM delayed_charges").fetchone()[0] == 1


def test_finalized_invoice_cannot_be_deleted_or_changed(db):
    _draft(db, "a")
    before = _finalize(db, "a")
    with pytest.raises(InvalidStateError, match="it is open .*; void it or issue a credit note instead"):
        delete_draft(db, "a")
    with pytest.raises(InvalidStateError):
        _finalize(db, "a")
    # Even a totals refresh after its lines changed leaves a finalized invoice alone.
    db.execute("UPDATE invoice_lines SET amount_minor = 1 WHERE invoice_id = 'a'")
    refresh_totals(db, invoice_ids=["a"])
    assert load_invoice(db, "a").total_minor == before.total_minor
    assert db.execute("SELECT count(*) FROM invoice_cycle_claims").fetchone()[0] == 1


def test_delete_of_unknown_invoice_is_not_found(db):
    with pytest.raises(NotFoundError):
        delete_draft(db, "nope")


# --- payments --------------------------------------------------------------------------------


@pytest.fixture
def open_invoice(db):
    _draft(db, "a", total_minor=10_000)  # 100.00 USD
    _finalize(db, "a")
    return "a"


def test_partial_payment_makes_invoice_partially_paid(db, open_invoice):
    inv = record_payment(db, open_invoice, Decimal("40.25"))
    assert (inv.status, inv.total_paid, inv.balance_due) == ("partially_paid", Decimal("40.25"), Decimal("59.75"))
    inv = record_payment(db, open_invoice, Decimal("59.75"))
    assert (inv.status, inv.balance_due_minor) == ("manual_paid", 0)
    assert db.execute("SELECT sum(amount_minor), count(*) FROM payments").fetchone() == (10_000, 2)


def test_full_payment_by_stripe_makes_invoice_stripe_paid(db, open_invoice):
    assert record_payment(db, open_invoice, Decimal("100"), method="stripe").status == "stripe_paid"
    with pytest.raises(InvalidStateError, match="stripe_paid"):
        record_payment(db, open_invoice, Decimal("1"))


@pytest.mark.parametrize(
    "amount, message",
    [
        (Decimal("100.01"), "exceeds the balance due 100.00"),
        (Decimal("0"), "must be positive"),
        (Decimal("-5"), "must be positive"),
        (Decimal("1.005"), "more decimals than USD"),
    ],
)
def test_bad_payment_is_validation_error_and_writes_nothing(db, open_invoice, amount, message):
    with pytest.raises(ValidationError, match=message):
        record_payment(db, open_invoice, amount)
    assert db.execute("SELECT count(*) FROM payments").fetchone()[0] == 0
    inv = load_invoice(db, open_invoice)
    assert (inv.status, inv.total_paid_minor) == ("open", 0)


def test_overpaying_the_remaining_balance_is_validation_error(db, open_invoice):
    record_payment(db, open_invoice, Decimal("60"))
    with pytest.raises(ValidationError, match="balance due 40.00"):
        record_payment(db, open_invoice, Decimal("40.01"))
    assert load_invoice(db, open_invoice).total_paid_minor == 6000


def test_payment_of_draft_or_unknown_method_is_refused(db):
    _draft(db, "d")
    with pytest.raises(InvalidStateError, match="it is draft"):
        record_payment(db, "d", Decimal("1"))
    with pytest.raises(ValidationError, match="payment method"):
        record_payment(db, "d", Decimal("1"), method="cash")


def test_jpy_payment_takes_whole_yen_only(db):
    _draft(db, "y", customer="C-Y", total_minor=7807)
    _finalize(db, "y")
    with pytest.raises(ValidationError, match="JPY"):
        record_payment(db, "y", Decimal("0.5"))
    assert record_payment(db, "y", Decimal("7807")).status == "manual_paid"


# --- properties and concurrency ----------------------------------------------------------------

_OPS = st.lists(
    st.tuples(
        st.sampled_from(["create", "finalize", "void", "delete", "finalize_open"]),
        st.integers(0, 30),
        st.sampled_from(["C-N", "C-S"]),
    ),
    max_size=40,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=_OPS)
def test_random_lifecycle_keeps_numbers_1_to_n_per_business_without_gaps_or_reuse(ops):
    con = connect(":memory:")
    _customers(con)
    assigned: dict[str, int] = {}  # invoice -> the number it got; must never change
    try:
        for step, (op, pick, customer) in enumerate(ops):
            drafts = [
                r[0]
                for r in con.execute(
                    "SELECT invoice_id FROM invoices WHERE status = 'draft' ORDER BY invoice_id"
                ).fetchall()
            ]
            opens = [
                r[0]
                for r in con.execute(
                    "SELECT invoice_id FROM invoices WHERE status = 'open' ORDER BY invoice_id"
                ).fetchall()
            ]
            if op == "create":
                _draft(con, f"i{step:03d}", customer=customer)
            elif op == "finalize" and drafts:
                inv = _finalize(con, drafts[pick % len(drafts)])
                assigned[inv.invoice_id] = inv.number
            elif op == "delete" and drafts:
                delete_draft(con, drafts[pick % len(drafts)])
            elif op == "void" and opens:
                void_invoice(con, opens[pick % len(opens)])
            elif op == "finalize_open" and opens:
                with pytest.raises(InvalidStateError):
                    _finalize(con, opens[pick % len(opens)])
            for business in ("biz-north", "biz-south"):
                numbers = _numbers(con, business)
                assert numbers == list(range(1, len(numbers) + 1))
            stored = dict(con.execute("SELECT invoice_id, number FROM invoices WHERE number IS NOT NULL").fetchall())
            assert stored == assigned
    finally:
        con.close()


def _finalize_at_once(con, invoice_ids: list[str]) -> list[object]:
    """Finalize each id in its own thread and cursor, all released together; number or error per id."""
    barrier = threading.Barrier(len(invoice_ids))
    outcomes: list[object] = [None] * len(invoice_ids)

    def work(k: int) -> None:
        cur = con.cursor()
        try:
            barrier.wait()
            outcomes[k] = finalize_invoice(cur, invoice_ids[k]).number
        except Exception as exc:  # returned to the test, which asserts on it
            outcomes[k] = exc
        finally:
            cur.close()

    threads = [threading.Thread(target=work, args=(k,)) for k in range(len(invoice_ids))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return outcomes


def test_four_threads_finalizing_drafts_of_one_business_get_numbers_1_to_4(db):
    for rnd in range(5):  # several rounds: the first creates the counter row, later ones update it
        ids = [_draft(db, f"r{rnd}t{t}") for t in range(4)]
        approve_invoices(db, ids, actor="tester")
        assert sorted(_finalize_at_once(db, ids)) == [4 * rnd + k for k in range(1, 5)]
    assert _numbers(db, "biz-north") == list(range(1, 21))


def test_two_threads_finalizing_the_same_draft_finalize_it_once(db):
    _draft(db, "a")
    approve_invoices(db, ["a"], actor="tester")
    outcomes = _finalize_at_once(db, ["a", "a"])
    assert sorted(type(o).__name__ for o in outcomes) == ["InvalidStateError", "int"]
    assert _numbers(db, "biz-north") == [1]


# --- command line ------------------------------------------------------------------------------


def test_cli_finalize_pay_and_void_print_the_invoice(db_path, capsys):
    con = connect(db_path)
    _customers(con)
    _draft(con, "a", total_minor=1000)
    con.close()
    assert cli_main(["--db", str(db_path), "finalize", "a"]) == 2
    assert "invoice_not_approved" not in capsys.readouterr().out
    assert cli_main(["--db", str(db_path), "approve", "a"]) == 0
    assert json.loads(capsys.readouterr().out)["approved"] == ["a"]
    assert cli_main(["--db", str(db_path), "finalize", "a"]) == 0
    assert json.loads(capsys.readouterr().out)["number"] == 1
    assert cli_main(["--db", str(db_path), "pay", "a", "2.50", "--method", "stripe"]) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "partially_paid"
    assert cli_main(["--db", str(db_path), "void", "a"]) == 2  # paid in part: a credit note corrects it
    assert "was paid on it" in capsys.readouterr().err
    con = connect(db_path)
    _draft(con, "b", total_minor=1000)
    con.close()
    assert cli_main(["--db", str(db_path), "approve", "b"]) == 0
    assert cli_main(["--db", str(db_path), "finalize", "b"]) == 0
    capsys.readouterr()
    assert cli_main(["--db", str(db_path), "void", "b"]) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "void"
    assert cli_main(["--db", str(db_path), "pay", "b", "1"]) == 2
    assert "it is void" in capsys.readouterr().err
