"""Preview, draft, redraft (spec section 4): one computation, idempotent per (contract, cycle), atomic.

preview(K, D)  == draft(K, D)           same data -> same invoice (but id, status, created_at)
draft(K, D) twice                       -> the first invoice, created = False, nothing changes
redraft(draft) after data changed       -> same id, new amounts; finalized invoices refuse
"""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal

import pytest
from helpers_data import (
    add_charge,
    add_contract,
    add_customer,
    add_line,
    add_usage,
    basics,
    clear_all,
    stored_invoices,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.billing.approval import approve_invoices
from engine.billing.bill_run import bill_run
from engine.billing.invoices import NothingToBill, draft_period_invoice, preview_invoice, redraft_invoice
from engine.db import connect
from engine.errors import BillsimError, InvalidStateError, NotFoundError, ValidationError

D = dt.date.fromisoformat
MARCH = D("2026-03-15")
BASICS = ["K-END31", "K-FLAT", "K-MIN", "K-STUB", "K-TIERS", "K-YEN"]
NOT_COMPARED = {"invoice_id", "status", "created_at"}


def snapshot(con) -> dict:
    """Every row of the ledger tables, to prove that an operation changed nothing."""
    return {
        t: sorted(map(repr, con.execute(f"SELECT * FROM {t}").fetchall()))
        for t in ("invoices", "invoice_lines", "invoice_cycle_claims", "delayed_charge_sweeps")
    }


@pytest.fixture
def usage_contract(con):
    """K1 (USD, 10 % tax) monthly from Jan 1: a 20.00 platform fee and API calls at 0.10 per call."""
    add_customer(con, "C1", tax_rate="10")
    add_contract(con, "K1", "C1", "2026-01-01")
    add_line(con, "L-FEE", "K1", unit_price="20.00")
    add_line(con, "L-API", "K1", kind="usage", pricing_model="per_unit", unit_price="0.10", metric="api")
    add_usage(con, "K1", "api", "2026-03-03", "100")
    return con


# --- preview == draft -------------------------------------------------------------------------------


@pytest.mark.parametrize("contract_id", BASICS)
def test_preview_equals_the_draft_made_from_the_same_data(con, contract_id):
    """Every field of the invoice and of each line (breakdown, tiers, proration, totals) but the id,
    the status and created_at; pending usage is compared in its own test below."""
    basics(con)
    preview = preview_invoice(con, contract_id, MARCH)
    assert stored_invoices(con) == [], "a preview stores nothing"
    result = draft_period_invoice(con, contract_id, MARCH)
    assert result.created
    skip = NOT_COMPARED | {"pending_usage"}
    assert preview.model_dump(exclude=skip) == result.invoice.model_dump(exclude=skip)
    assert (preview.invoice_id, preview.status, result.invoice.status) == (None, "preview", "draft")


def test_preview_and_draft_show_the_same_pending_usage(con):
    """Basics K-MIN has a pending row (U14, 700 events) in March: the preview lists it as not billed;
    the draft made from the same data must be identical (spec section 4), so it lists it too."""
    basics(con)
    preview = preview_invoice(con, "K-MIN", MARCH)
    assert [p["usage_id"] for p in preview.pending_usage] == ["U14"]
    drafted = draft_period_invoice(con, "K-MIN", MARCH).invoice
    assert drafted.pending_usage == preview.pending_usage


def test_preview_stores_nothing_and_changes_nothing(usage_contract):
    con = usage_contract
    before = snapshot(con)
    preview_invoice(con, "K1", MARCH)
    assert snapshot(con) == before


# --- idempotent drafts --------------------------------------------------------------------------------


def test_draft_is_idempotent_per_contract_and_cycle(usage_contract):
    """Second draft for any date of the same cycle: the same invoice, created = False, no row changed."""
    con = usage_contract
    first = draft_period_invoice(con, "K1", MARCH)
    assert first.created and first.invoice.total == Decimal("33.00")  # (20 + 10) × 1.10
    before = snapshot(con)
    for day in ("2026-03-15", "2026-03-01", "2026-03-31"):
        again = draft_period_invoice(con, "K1", D(day))
        assert not again.created
        assert again.invoice == first.invoice
    assert snapshot(con) == before


def test_a_second_draft_after_usage_changed_still_returns_the_existing_invoice_unchanged(usage_contract):
    """Idempotency wins over new data: the new usage shows only after a redraft."""
    con = usage_contract
    first = draft_period_invoice(con, "K1", MARCH)
    add_usage(con, "K1", "api", "2026-03-04", "50")
    again = draft_period_invoice(con, "K1", MARCH)
    assert not again.created and again.invoice.total == first.invoice.total


def test_drafts_of_different_cycles_are_different_invoices(usage_contract):
    con = usage_contract
    march = draft_period_invoice(con, "K1", MARCH).invoice
    april = draft_period_invoice(con, "K1", D("2026-04-15")).invoice
    assert march.invoice_id != april.invoice_id
    assert (april.period_start, april.period_end) == (D("2026-04-01"), D("2026-04-30"))


def test_nothing_to_bill_when_the_cycle_has_no_line(con):
    """A contract whose only line starts in June: no invoice for March, nothing written."""
    add_customer(con, "C1")
    add_contract(con, "K1", "C1", "2026-01-01")
    add_line(con, "L1", "K1", unit_price="10.00", start_date="2026-06-01")
    with pytest.raises(NothingToBill, match="nothing to bill"):
        draft_period_invoice(con, "K1", MARCH)
    assert stored_invoices(con) == []
    assert con.execute("SELECT count(*) FROM invoice_cycle_claims").fetchone()[0] == 0


def test_draft_of_a_date_outside_the_contract_or_an_unknown_contract_writes_nothing(usage_contract):
    con = usage_contract
    with pytest.raises(ValidationError, match="outside contract"):
        draft_period_invoice(con, "K1", D("2025-12-31"))
    with pytest.raises(NotFoundError):
        draft_period_invoice(con, "NOPE", MARCH)
    assert stored_invoices(con) == []


# --- redraft ---------------------------------------------------------------------------------------------


def test_redraft_after_usage_changed_replaces_the_draft_in_place(usage_contract):
    """Same id, new amount (150 calls instead of 100), one claim, no stale line left."""
    con = usage_contract
    first = draft_period_invoice(con, "K1", MARCH).invoice
    add_usage(con, "K1", "api", "2026-03-20", "50")
    redrafted = redraft_invoice(con, first.invoice_id)
    assert redrafted.invoice_id == first.invoice_id
    assert {ln.line_id: ln.amount for ln in redrafted.lines} == {
        "L-FEE": Decimal("20.00"),
        "L-API": Decimal("15.00"),
    }
    assert (redrafted.subtotal, redrafted.tax, redrafted.total) == (
        Decimal("35.00"),
        Decimal("3.50"),
        Decimal("38.50"),
    )
    assert redrafted.status == "draft"
    assert con.execute("SELECT count(*) FROM invoice_lines WHERE invoice_id = ?", [first.invoice_id]).fetchone()[0] == 2
    assert con.execute("SELECT invoice_id FROM invoice_cycle_claims").fetchall() == [(first.invoice_id,)]
    assert len(stored_invoices(con)) == 1
    assert redrafted.model_dump(exclude=NOT_COMPARED | {"pending_usage"}) == preview_invoice(
        con, "K1", MARCH
    ).model_dump(exclude=NOT_COMPARED | {"pending_usage"})


def test_redraft_that_finds_nothing_to_bill_leaves_the_draft_as_it_was(usage_contract):
    """All lines removed from the data: the redraft fails and rolls back whole."""
    con = usage_contract
    first = draft_period_invoice(con, "K1", MARCH).invoice
    before = snapshot(con)
    con.execute("DELETE FROM order_lines")
    with pytest.raises(NothingToBill):
        redraft_invoice(con, first.invoice_id)
    assert snapshot(con) == before


def test_redraft_keeps_the_delayed_charges_swept_onto_the_draft(con):
    """A run swept a 25.00 charge onto the draft; after a redraft the charge line is still there, once."""
    add_customer(con, "C1")
    add_contract(con, "K1", "C1", "2026-01-01")
    add_line(con, "L1", "K1", unit_price="10.00")
    add_charge(con, "DC1", "C1", "25.00", "2026-03-02")
    bill_run(con, MARCH, include_delayed_charges=True)
    (inv,) = stored_invoices(con)
    con.execute("UPDATE order_lines SET unit_price = 12")
    redrafted = redraft_invoice(con, inv["invoice_id"])
    assert sorted((ln.kind, ln.amount) for ln in redrafted.lines) == [
        ("delayed_charge", Decimal("25.00")),
        ("recurring", Decimal("12.00")),
    ]
    assert redrafted.subtotal == Decimal("37.00")
    assert [ln.line_no for ln in redrafted.lines] == [1, 2]


def test_redraft_refuses_a_finalized_invoice_and_changes_nothing(usage_contract):
    from engine.billing.lifecycle import finalize_invoice

    con = usage_contract
    first = draft_period_invoice(con, "K1", MARCH).invoice
    approve_invoices(con, [first.invoice_id])  # finalize takes only approved invoices
    finalize_invoice(con, first.invoice_id)
    add_usage(con, "K1", "api", "2026-03-20", "50")
    before = snapshot(con)
    with pytest.raises(InvalidStateError, match="only drafts"):
        redraft_invoice(con, first.invoice_id)
    assert snapshot(con) == before


def test_redraft_of_a_bill_runs_draft_keeps_the_run_it_came_from(con):
    """A run drafted the invoice; a redraft replaces its amounts, not its provenance (run_id)."""
    add_customer(con, "C1")
    add_contract(con, "K1", "C1", "2026-01-01")
    add_line(con, "L1", "K1", unit_price="10.00")
    report = bill_run(con, MARCH)
    (inv,) = stored_invoices(con)
    con.execute("UPDATE order_lines SET unit_price = 11")
    redrafted = redraft_invoice(con, inv["invoice_id"])
    assert redrafted.total == Decimal("11.00")
    assert redrafted.run_id == report.run_id


def test_redraft_of_an_unknown_invoice_is_not_found(con):
    with pytest.raises(NotFoundError):
        redraft_invoice(con, "inv_nope")


# --- void and delete free the cycle -------------------------------------------------------------------


def test_a_voided_invoices_cycle_may_be_drafted_again(usage_contract):
    """draft -> finalize (#1) -> void (keeps #1) -> draft again: a new draft; one claim, on the new one."""
    from engine.billing.lifecycle import finalize_invoice, void_invoice

    con = usage_contract
    first = draft_period_invoice(con, "K1", MARCH).invoice
    approve_invoices(con, [first.invoice_id])  # finalize takes only approved invoices
    finalize_invoice(con, first.invoice_id)
    voided = void_invoice(con, first.invoice_id)
    assert (voided.status, voided.number) == ("void", 1)
    again = draft_period_invoice(con, "K1", MARCH)
    assert again.created and again.invoice.invoice_id != first.invoice_id
    assert again.invoice.total == first.total
    assert con.execute("SELECT invoice_id FROM invoice_cycle_claims").fetchall() == [(again.invoice.invoice_id,)]
    statuses = sorted(i["status"] for i in stored_invoices(con))
    assert statuses == ["draft", "void"]


def test_a_deleted_drafts_cycle_may_be_drafted_again(usage_contract):
    from engine.billing.lifecycle import delete_draft

    con = usage_contract
    first = draft_period_invoice(con, "K1", MARCH).invoice
    delete_draft(con, first.invoice_id)
    again = draft_period_invoice(con, "K1", MARCH)
    assert again.created and len(stored_invoices(con)) == 1


# --- a contract whose amounts do not fit ------------------------------------------------------------


@pytest.fixture
def overflowing(con):
    """K-BAD: 10^20 units × 10^20 per unit: no amount can hold it (the rating overflows)."""
    add_customer(con, "C1")
    add_contract(con, "K-BAD", "C1", "2026-01-01")
    add_line(
        con,
        "L-BAD",
        "K-BAD",
        pricing_model="per_unit",
        unit_price="100000000000000000000",
        quantity="100000000000000000000",
    )
    return con


@pytest.mark.parametrize("operation", [preview_invoice, draft_period_invoice])
def test_preview_or_draft_of_an_overflowing_contract_is_a_typed_error_and_writes_nothing(overflowing, operation):
    """Bad input is 'a clear, typed error; nothing written' (issue 3): a BillsimError naming the
    contract, not a raw DuckDB exception (which the CLI would print as a traceback)."""
    with pytest.raises(BillsimError, match="K-BAD"):
        operation(overflowing, "K-BAD", MARCH)
    assert stored_invoices(overflowing) == []


# --- concurrency --------------------------------------------------------------------------------------


def test_eight_threads_drafting_the_same_cycle_make_exactly_one_invoice(tmp_path):
    """8 cursors of one FILE database, released together by a barrier, draft K1's March cycle:
    exactly one invoice, one claim, one created = True, and every thread gets that invoice."""
    con = connect(tmp_path / "race.duckdb")
    try:
        add_customer(con, "C1")
        add_contract(con, "K1", "C1", "2026-01-01")
        add_line(con, "L1", "K1", unit_price="10.00")
        add_line(con, "L2", "K1", kind="usage", pricing_model="per_unit", unit_price="1", metric="m")
        add_usage(con, "K1", "m", "2026-03-02", "5")
        n = 8
        barrier = threading.Barrier(n)
        results, errors = [None] * n, []

        def worker(i: int) -> None:
            cur = con.cursor()
            try:
                barrier.wait()
                results[i] = draft_period_invoice(cur, "K1", D("2026-03-01") + dt.timedelta(days=i))
            except Exception as exc:  # reported below with the thread number
                errors.append((i, repr(exc)))
            finally:
                cur.close()

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert errors == []
        assert sum(r.created for r in results) == 1
        assert len({r.invoice.invoice_id for r in results}) == 1
        assert con.execute("SELECT count(*) FROM invoices").fetchone()[0] == 1
        assert con.execute("SELECT count(*) FROM invoice_cycle_claims").fetchone()[0] == 1
        assert con.execute("SELECT count(*) FROM invoice_lines").fetchone()[0] == 2
    finally:
        con.close()


# --- preview == draft on random data ------------------------------------------------------------------

_MODELS = ["flat", "per_unit", "graduated", "volume", "package", "percentage"]
_line = st.fixed_dictionaries(
    {
        "kind": st.sampled_from(["recurring", "usage", "one_time"]),
        "model": st.sampled_from(_MODELS),
        "price": st.decimals(min_value=0, max_value=Decimal("500"), places=4, allow_nan=False),
        "quantity": st.integers(0, 50),
        "discount": st.one_of(st.none(), st.integers(0, 100)),
        "aggregation": st.sampled_from(["sum", "count", "max"]),
        "usage": st.lists(
            st.tuples(
                st.integers(0, 60),
                st.integers(0, 5000),
                st.sampled_from(["approved", "approved", "pending", "rejected"]),
            ),
            max_size=5,
        ),
    }
)
_contract = st.fixed_dictionaries(
    {
        "currency": st.sampled_from(["USD", "JPY", "KWD", "EUR"]),
        "tax": st.integers(0, 25),
        "start": st.integers(0, 80),
        "anchor": st.integers(1, 31),
        "timing": st.sampled_from(["arrears", "advance"]),
        "period": st.sampled_from(["month", "quarter", "year"]),
        "proration": st.sampled_from(["actual", "none"]),
        "minimum": st.one_of(st.none(), st.integers(0, 2000)),
        "lines": st.lists(_line, min_size=1, max_size=4),
    }
)


@pytest.fixture(scope="module")
def mcon():
    c = connect(":memory:")
    yield c
    c.close()


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(contracts=st.lists(_contract, min_size=1, max_size=4))
def test_preview_equals_draft_for_random_contracts_of_every_model(mcon, contracts):
    """Property: for random contracts (every line kind and pricing model, tiers, windows, minimums,
    pending usage, currencies, timings) the preview of the period of 2026-03-15 and the draft made right
    after it are the same invoice but id, status and created_at; and a second draft changes nothing."""
    con = mcon
    clear_all(con)
    day0 = D("2026-01-01")
    for ci, c in enumerate(contracts):
        cid = f"K{ci}"
        add_customer(con, f"C{ci}", currency=c["currency"], tax_rate=c["tax"])
        add_contract(
            con,
            cid,
            f"C{ci}",
            day0 + dt.timedelta(days=c["start"]),
            billing_cycle_start_day=c["anchor"],
            billing_timing=c["timing"],
            billing_period=c["period"],
            proration=c["proration"],
            minimum_commitment=c["minimum"],
        )
        for li, ln in enumerate(c["lines"]):
            lid = f"L{ci}-{li}"
            tiers = (
                [("100", ln["price"], "1.5"), ("1000", "0.25"), (None, "0.05")]
                if ln["model"] in ("graduated", "volume")
                else None
            )
            add_line(
                con,
                lid,
                cid,
                kind=ln["kind"],
                pricing_model=ln["model"],
                unit_price=ln["price"],
                quantity=ln["quantity"],
                metric=lid,
                aggregation=ln["aggregation"],
                package_size="10" if ln["model"] == "package" else None,
                free_units="5" if ln["model"] == "package" else None,
                percentage_rate="2.5" if ln["model"] == "percentage" else None,
                fixed_fee="0.30" if ln["model"] == "percentage" else None,
                discount_percent=ln["discount"],
                tiers=tiers,
            )
            for day, q, status in ln["usage"]:
                add_usage(con, cid, lid, D("2026-02-10") + dt.timedelta(days=day), q, status)
    skip = NOT_COMPARED | {"pending_usage"}
    for ci, c in enumerate(contracts):
        cid = f"K{ci}"
        if day0 + dt.timedelta(days=c["start"]) > MARCH:
            continue
        try:
            preview = preview_invoice(con, cid, MARCH)
        except NothingToBill:
            with pytest.raises(NothingToBill):
                draft_period_invoice(con, cid, MARCH)
            continue
        drafted = draft_period_invoice(con, cid, MARCH)
        assert drafted.created
        assert preview.model_dump(exclude=skip) == drafted.invoice.model_dump(exclude=skip)
        before = snapshot(con)
        assert draft_period_invoice(con, cid, MARCH).invoice == drafted.invoice
        assert snapshot(con) == before


def test_every_preview_equals_its_bill_run_invoice_on_generated_data(con):
    """A one-contract rating is written for the contract's shape (its pricing models, a minimum commitment or
    not: rating.pipeline._Shape) and scales each rated line's prices itself; a bill run rates all contracts at
    once, every model and the true-up, with prices scaled ahead once per order line and tier (`ahead`). The same
    invoice either way, for every contract of a generated ledger (each model, with and without commitments)."""
    from engine.billing.invoice_store import load_invoice
    from engine.ingest.demo import seed_demo

    seed_demo(con, contracts=150, usage_rows=15_000, seed=5)
    shapes = con.execute(
        """SELECT count(DISTINCT c.contract_id) FILTER (WHERE c.minimum_commitment IS NULL
                     AND NOT EXISTS (SELECT 1 FROM order_lines o WHERE o.contract_id = c.contract_id
                                     AND o.pricing_model IN ('graduated', 'volume'))),
                  count(DISTINCT c.contract_id) FILTER (WHERE c.minimum_commitment IS NOT NULL)
           FROM contracts c"""
    ).fetchone()
    assert min(shapes) > 5, "the ledger must hold both plain and committed contracts"
    report = bill_run(con, MARCH)
    drafted = con.execute("SELECT contract_id, invoice_id FROM invoices WHERE run_id = ?", [report.run_id]).fetchall()
    assert len(drafted) > 60
    skip = NOT_COMPARED | {"run_id", "number"}
    for contract_id, invoice_id in drafted:
        preview = preview_invoice(con, contract_id, MARCH)
        assert preview.model_dump(exclude=skip) == load_invoice(con, invoice_id).model_dump(exclude=skip), contract_id
