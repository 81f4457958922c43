"""Typed, cached reads behind the pages: one `st.cache_data` function per read.

Each takes the database file (`db`, from `views._database.db_path()`) first, so two files never share
a cached answer, and is cleared after every write (`views._actions`). They open a cursor of the
shared connection of their own: a cached read may run on any session's thread.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager

import duckdb
import pandas as pd
import streamlit as st

from engine.io import workbench_queries as q
from engine.models import BillingCycle, InvoiceResponse, ReviewThresholds
from views._database import shared_database
from views._review_table import ReviewTable
from views._review_table import build as build_review_table

_cached = st.cache_data(show_spinner=False, max_entries=256)


@contextmanager
def _cursor(db: str) -> Iterator[duckdb.DuckDBPyConnection]:
    with shared_database(db).cursor() as cur:
        yield cur


def clear() -> None:
    """After any write: every cached read may be stale."""
    st.cache_data.clear()
    review_table.clear()


# --- data page ------------------------------------------------------------------------------------


@_cached
def table_counts(db: str) -> dict[str, int]:
    with _cursor(db) as cur:
        return q.table_counts(cur)


@_cached
def customer_counts(db: str) -> pd.DataFrame:
    with _cursor(db) as cur:
        return q.customer_counts(cur)


@_cached
def invoice_counts(db: str) -> list[dict]:
    with _cursor(db) as cur:
        return q.invoice_counts(cur)


@_cached
def usage_counts(db: str) -> pd.DataFrame:
    with _cursor(db) as cur:
        return q.usage_counts(cur)


@_cached
def browse_table(db: str, table: str, limit: int, offset: int) -> tuple[pd.DataFrame, int]:
    with _cursor(db) as cur:
        return q.browse_table(cur, table, limit, offset)


# --- contracts, customers, businesses ---------------------------------------------------------------


@_cached
def search_contracts(db: str, text: str, limit: int) -> list[dict]:
    with _cursor(db) as cur:
        return q.search_contracts(cur, text, limit)


@_cached
def contract_details(db: str, contract_id: str) -> dict | None:
    with _cursor(db) as cur:
        return q.contract_details(cur, contract_id)


@_cached
def search_customers(db: str, text: str, limit: int) -> list[dict]:
    with _cursor(db) as cur:
        return q.search_customers(cur, text, limit)


@_cached
def customer_names(db: str, customer_ids: tuple[str, ...]) -> dict[str, str]:
    with _cursor(db) as cur:
        return q.customer_names(cur, list(customer_ids))


@_cached
def businesses(db: str) -> list[str]:
    with _cursor(db) as cur:
        return q.businesses(cur)


@_cached
def invoice_currencies(db: str) -> list[str]:
    with _cursor(db) as cur:
        return q.invoice_currencies(cur)


@_cached
def usage_date_range(db: str) -> tuple[dt.date | None, dt.date | None]:
    with _cursor(db) as cur:
        return q.usage_date_range(cur)


# --- cycles and invoices -------------------------------------------------------------------------


@_cached
def billing_cycles(db: str, contract_id: str, from_date: dt.date, to_date: dt.date) -> list[BillingCycle]:
    from engine.rating.cycles import billing_cycles as cycles_of

    with _cursor(db) as cur:
        return cycles_of(cur, contract_id, from_date, to_date)


@_cached
def contract_invoices(db: str, contract_id: str) -> list[dict]:
    with _cursor(db) as cur:
        return q.contract_invoices(cur, contract_id)


@_cached
def pending_usage_by_cycle(db: str, contract_id: str, spans: tuple[tuple[dt.date, dt.date], ...]) -> dict[dt.date, int]:
    with _cursor(db) as cur:
        return q.pending_usage_by_cycle(cur, contract_id, list(spans))


@_cached
def preview_invoice(db: str, contract_id: str, period_date: dt.date) -> InvoiceResponse:
    from engine.billing.invoices import preview_invoice as preview

    with _cursor(db) as cur:
        return preview(cur, contract_id, period_date)


@_cached
def load_invoice(db: str, invoice_id: str) -> InvoiceResponse:
    from engine.billing.invoice_store import load_invoice as load

    with _cursor(db) as cur:
        return load(cur, invoice_id)


@_cached
def invoice_document_html(db: str, invoice_id: str) -> str:
    """A stored invoice's document as HTML (engine.io.documents)."""
    from engine.io.documents import render_invoice

    with _cursor(db) as cur:
        return render_invoice(cur, invoice_id, "html")


@_cached
def preview_document_html(db: str, contract_id: str, period_date: dt.date) -> str:
    """The document of the invoice a draft of this cycle would be (status preview: DRAFT mark)."""
    from engine.io.documents import render_document

    with _cursor(db) as cur:
        return render_document(cur, preview_invoice(db, contract_id, period_date), "html")


def document_pdf_later(db: str, invoice_id: str | None, contract_id: str | None, period_date: dt.date | None):
    """A callable that makes the PDF when called (st.download_button calls it on click, on another thread).
    Not cached and free of Streamlit calls: it holds the shared database taken here, on the page's thread."""
    from engine.io.documents import render_document, render_invoice

    database = shared_database(db)

    def make() -> bytes:
        with database.cursor() as cur:
            if invoice_id is not None:
                return render_invoice(cur, invoice_id, "pdf")
            from engine.billing.invoices import preview_invoice as preview

            return render_document(cur, preview(cur, contract_id, period_date), "pdf")

    return make


@_cached
def invoice_history(db: str, invoice_id: str) -> list[dict]:
    """The invoice's audit events, oldest first."""
    from engine.billing.audit import invoice_events

    with _cursor(db) as cur:
        return invoice_events(cur, invoice_id)


@_cached
def invoice_payments(db: str, invoice_id: str) -> list[dict]:
    with _cursor(db) as cur:
        return q.invoice_payments(cur, invoice_id)


@_cached
def ledger_page(db: str, filters: dict, order: str, limit: int, offset: int) -> tuple[pd.DataFrame, int]:
    """One page of the ledger in `order` (sorted by the engine over every matching invoice)."""
    from engine.io.export import ledger_frames

    with _cursor(db) as cur:
        return ledger_frames(cur, filters=filters, limit=limit, offset=offset, order=order)


# --- bill runs -----------------------------------------------------------------------------------


@_cached
def contracts_in_scope(
    db: str, period_date: dt.date, customer_ids: tuple[str, ...] | None, business_id: str | None
) -> int:
    with _cursor(db) as cur:
        return q.contracts_in_scope(
            cur, period_date, customer_ids=None if customer_ids is None else list(customer_ids), business_id=business_id
        )


@_cached
def list_runs(db: str, limit: int) -> list[dict]:
    from engine.billing.bill_run import list_runs as runs

    with _cursor(db) as cur:
        return runs(cur, limit=limit)


@_cached
def run_totals_by_product(db: str, run_id: str) -> list[dict]:
    with _cursor(db) as cur:
        return q.run_totals_by_product(cur, run_id)


@_cached
def run_outcomes(db: str, run_id: str, limit: int) -> list[dict]:
    with _cursor(db) as cur:
        return q.run_outcomes(cur, run_id, limit=limit)


# --- API tokens ----------------------------------------------------------------------------------


@_cached
def api_tokens(db: str) -> list[dict]:
    """Every API token: name, business, created, revoked (never the token or its hash)."""
    from engine.api.tokens import list_tokens

    with _cursor(db) as cur:
        return list_tokens(cur)


# --- review ----------------------------------------------------------------------------------------


def review_version(db: str) -> tuple:
    """Not cached: read on every rerun, it is part of the cached review's key (a change made elsewhere
    gives a new key, so the review is read again)."""
    with _cursor(db) as cur:
        return q.review_version(cur)


# A review of 50k drafts is a large frame: kept once for the whole server (never copied per read, as
# st.cache_data would), a few at a time. Pages treat it as read-only; clear() drops it with the rest.
@st.cache_resource(show_spinner="Reading the review…", max_entries=4)
def review_table(db: str, run_id: str | None, period_date: dt.date | None, version: tuple) -> ReviewTable:
    """The drafts under review of a run (or of the period of a date) with their flags, as one table."""
    from engine.review import review_table as review_columns

    with _cursor(db) as cur:
        return build_review_table(review_columns(cur, run_id=run_id, period_date=period_date))


@_cached
def review_thresholds(db: str, business_id: str) -> ReviewThresholds:
    from engine.review import get_thresholds

    with _cursor(db) as cur:
        return get_thresholds(cur, business_id)


def invoice_number_ranges(db: str, invoice_ids: list[str]) -> list[dict]:
    """Not cached: read once, right after the invoices were finalized (numbered)."""
    with _cursor(db) as cur:
        return q.invoice_number_ranges(cur, list(invoice_ids))
