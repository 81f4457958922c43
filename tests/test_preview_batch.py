"""Previews rated together (billing/preview_batch.py, api/preview_queue.py): each request gets exactly what
preview_invoice gives it alone, its invoice or its error, whatever else is in the pass."""

from __future__ import annotations

import datetime as dt
import re
import threading

import pytest
from helpers_data import add_contract, add_customer, add_line, basics

from engine.billing import preview_batch
from engine.billing.invoices import preview_invoice
from engine.billing.preview_batch import preview_invoices
from engine.errors import ValidationError
from engine.service.database import Database
from engine.service.preview_queue import PreviewQueue

MARCH = dt.date(2026, 3, 15)
BASICS = ["K-END31", "K-FLAT", "K-MIN", "K-STUB", "K-TIERS", "K-YEN"]


def alone(con, contract_id: str, date: dt.date):
    try:
        return preview_invoice(con, contract_id, date)
    except Exception as exc:
        return exc


def same(got, want) -> bool:
    if isinstance(want, Exception):
        return type(got) is type(want) and str(got) == str(want)
    return got == want


def test_a_pass_gives_each_request_its_own_preview_or_error(con):
    basics(con)
    requests = [(cid, MARCH) for cid in BASICS]
    requests += [("K-NOPE", MARCH), ("K-FLAT", dt.date(2025, 1, 1)), ("K-FLAT", MARCH), ("K-MIN", dt.date(2026, 2, 10))]
    got = preview_invoices(con, requests)
    want = [alone(con, cid, date) for cid, date in requests]
    assert len(got) == len(requests)
    assert sum(isinstance(w, Exception) for w in want) == 2  # the unknown contract, the date before it started
    for request, g, w in zip(requests, got, want, strict=True):
        assert same(g, w), request


def test_a_contract_whose_rating_fails_fails_alone(con):
    """An amount beyond exact 128-bit arithmetic fails the pass's rating: each contract is then previewed on
    its own, so the others still get their invoice and the failing one its own error."""
    add_customer(con, "C1")
    add_contract(con, "K-OK", "C1", "2026-01-01")
    add_line(con, "L-OK", "K-OK", unit_price="10")
    add_contract(con, "K-HUGE", "C1", "2026-01-01")
    add_line(con, "L-HUGE", "K-HUGE", pricing_model="per_unit", unit_price="99999999999999.9", quantity="9" * 26)
    ok, huge = preview_invoices(con, [("K-OK", MARCH), ("K-HUGE", MARCH)])
    assert ok == preview_invoice(con, "K-OK", MARCH) and ok.total_minor == 1000
    assert isinstance(huge, ValidationError) and "K-HUGE" in str(huge)


def test_previews_asked_while_the_worker_is_busy_are_rated_in_one_pass(con, monkeypatch):
    basics(con)
    entered, release = threading.Event(), threading.Event()
    real = preview_batch.preview_invoices

    def held_first_pass(cur, requests):
        if not entered.is_set():
            entered.set()
            assert release.wait(60), "the test never released the first pass"
        return real(cur, requests)

    monkeypatch.setattr("engine.service.preview_queue.preview_invoices", held_first_pass)
    previews = PreviewQueue(Database.over(con))
    try:
        first = previews.submit("K-FLAT", MARCH)
        assert entered.wait(60), "the worker never took the first preview"
        rest = [previews.submit(cid, MARCH) for cid in ["K-MIN", "K-TIERS", "K-NOPE", "K-YEN"]]
        release.set()
        assert first.result(60) == preview_invoice(con, "K-FLAT", MARCH)
        for cid, future in zip(["K-MIN", "K-TIERS", "K-NOPE", "K-YEN"], rest, strict=True):
            want = alone(con, cid, MARCH)
            if isinstance(want, Exception):
                with pytest.raises(type(want), match=re.escape(str(want))):
                    future.result(60)
            else:
                assert future.result(60) == want
        assert previews.passes == [1, 4]
    finally:
        release.set()
        previews.stop()
