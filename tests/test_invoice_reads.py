"""A page of invoices is read in a constant number of queries (engine/billing/invoice_reads.py), and each invoice
read that way is exactly the one `load_invoice` reads alone: lines, taxes per code, coupons (pending usage is
shown on one invoice only)."""

from __future__ import annotations

import datetime as dt

from engine.billing.bill_run import bill_run
from engine.billing.invoice_reads import find_invoices, load_invoices
from engine.billing.invoice_store import load_invoice
from engine.ingest.demo import seed_demo


def test_a_page_read_in_bulk_equals_each_invoice_read_alone(con):
    seed_demo(con, contracts=80, usage_rows=4000, seed=11)
    bill_run(con, dt.date(2026, 3, 15))
    bill_run(con, dt.date(2026, 4, 15))
    ids = [r[0] for r in con.execute("SELECT invoice_id FROM invoices ORDER BY invoice_id").fetchall()]
    bulk = load_invoices(con, list(reversed(ids)))
    assert [i.invoice_id for i in bulk] == list(reversed(ids))  # in the order asked
    alone = {i: load_invoice(con, i).model_copy(update={"pending_usage": []}) for i in ids}
    assert all(b == alone[b.invoice_id] for b in bulk)
    assert any(b.taxes and len(b.taxes) > 1 for b in bulk) and any(b.coupons for b in bulk)  # the data has both


def test_find_invoices_pages_newest_first_with_the_count_of_all(con):
    seed_demo(con, contracts=40, usage_rows=2000, seed=3)
    bill_run(con, dt.date(2026, 3, 15))
    total = con.execute("SELECT count(*) FROM invoices").fetchone()[0]
    first, count = find_invoices(con, None, limit=5)
    rest, count2 = find_invoices(con, None, limit=total, offset=5)
    assert count == count2 == total and len(first) == 5 and not set(first) & set(rest)
    assert len(first) + len(rest) == total
    empty, none = find_invoices(con, None, status="void", limit=5)
    assert (empty, none) == ([], 0)
