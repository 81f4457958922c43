"""Typed, cached reads behind the pages: one `st.cache_data` function per read, each one call of the application
layer (engine.service) with a Session of its own.

Each takes the database file (`db`, from `views._database.db_path()`) first, so two files never share a cached
answer, and is cleared after every write (`views._actions`). A cached read may run on any session's thread: it
takes the file's application (`views._database.application`) and a session of a local reader there.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from engine.service import Caller, Session, access, bill_runs, contracts, invoices, ledger, reads
from engine.service.formats import BillingCycle, Invoice, ReviewThresholds, Scope
from views._database import application
from views._review_table import ReviewTable
from views._review_table import build as build_review_table

_cached = st.cache_data(show_spinner=False, max_entries=256)
READER = Caller.local()  # reads change nothing: no actor of the sidebar is needed (every business)


def _session(db: str) -> Session:
    return application(db).session(READER)


def clear() -> None:
    """After any write: every cached read may be stale."""
    st.cache_data.clear()
    review_table.clear()


@st.cache_resource
def _seen_versions() -> dict:
    """db path -> the data version the cached reads were made at (one for the whole server)."""
    return {}


def refresh_if_changed(db: str) -> None:
    """Every rerun: drop the cached reads when the data changed since they were made, whoever changed it (the API,
    the CLI beside the server, another tab), so the pages show what is stored now."""
    version = reads.data_version(_session(db))
    seen = _seen_versions()
    if seen.get(db) != version:
        if db in seen:
            clear()
        seen[db] = version


# --- data page ------------------------------------------------------------------------------------


@_cached
def table_counts(db: str) -> dict[str, int]:
    return reads.table_counts(_session(db))


@_cached
def customer_counts(db: str) -> pd.DataFrame:
    return reads.customer_counts(_session(db))


@_cached
def invoice_counts(db: str) -> list[dict]:
    return reads.invoice_counts(_session(db))


@_cached
def usage_counts(db: str) -> pd.DataFrame:
    return reads.usage_counts(_session(db))


@_cached
def browse_table(db: str, table: str, limit: int, offset: int) -> tuple[pd.DataFrame, int]:
    return reads.browse_table(_session(db), table, limit, offset)


# --- contracts, customers, businesses ---------------------------------------------------------------


@_cached
def search_contracts(db: str, text: str, limit: int) -> list[dict]:
    return reads.search_contracts(_session(db), text, limit)


@_cached
def contract_details(db: str, contract_id: str) -> dict | None:
    return reads.contract_details(_session(db), contract_id)


@_cached
def search_customers(db: str, text: str, limit: int) -> list[dict]:
    return reads.search_customers(_session(db), text, limit)


@_cached
def customer_names(db: str, customer_ids: tuple[str, ...]) -> dict[str, str]:
    return reads.customer_names(_session(db), list(customer_ids))


@_cached
def businesses(db: str) -> list[str]:
    return reads.businesses(_session(db))


@_cached
def business_names(db: str) -> dict[str, str]:
    return reads.business_names(_session(db))


@_cached
def taxes(db: str) -> list[dict]:
    """The tax codes loaded (every business's): code, name, rate, business, customers and lines naming it."""
    return reads.taxes(_session(db))


@_cached
def invoice_currencies(db: str) -> list[str]:
    return reads.invoice_currencies(_session(db))


@_cached
def usage_date_range(db: str) -> tuple[dt.date | None, dt.date | None]:
    return reads.usage_date_range(_session(db))


# --- cycles and invoices -------------------------------------------------------------------------


@_cached
def billing_cycles(db: str, contract_id: str, from_date: dt.date, to_date: dt.date) -> list[BillingCycle]:
    return contracts.cycles(_session(db), contract_id, from_date, to_date)


@_cached
def contract_invoices(db: str, contract_id: str) -> list[dict]:
    return reads.contract_invoices(_session(db), contract_id)


@_cached
def pending_usage_by_cycle(db: str, contract_id: str, spans: tuple[tuple[dt.date, dt.date], ...]) -> dict[dt.date, int]:
    return reads.pending_usage_by_cycle(_session(db), contract_id, list(spans))


@_cached
def preview_invoice(db: str, contract_id: str, period_date: dt.date) -> Invoice:
    return contracts.preview(_session(db), contract_id, period_date)


@_cached
def load_invoice(db: str, invoice_id: str) -> Invoice:
    return invoices.get_invoice(_session(db), invoice_id)


@_cached
def invoice_document_html(db: str, invoice_id: str) -> str:
    """A stored invoice's document as HTML."""
    return invoices.document(_session(db), invoice_id, "html")


@_cached
def preview_document_html(db: str, contract_id: str, period_date: dt.date) -> str:
    """The document of the invoice a draft of this cycle would be (status preview: DRAFT mark)."""
    return invoices.preview_document(_session(db), contract_id, period_date, "html")


def pdf_refusal(db: str, html: str) -> str | None:
    """Why this document's PDF would be refused (too large to print), or None: the page offers its HTML instead."""
    return application(db).printer.refusal(html)


def document_pdf_later(db: str, invoice_id: str | None, contract_id: str | None, period_date: dt.date | None):
    """A callable that makes the PDF when called (views._document_download calls it when Make PDF is clicked).
    Not cached and free of Streamlit calls: it holds the application taken here."""
    app = application(db)

    def make() -> bytes:
        s = app.session(READER)
        if invoice_id is not None:
            return invoices.document(s, invoice_id, "pdf")
        return invoices.preview_document(s, contract_id, period_date, "pdf")

    return make


@_cached
def invoice_history(db: str, invoice_id: str) -> list[dict]:
    """The invoice's audit events, oldest first."""
    return invoices.history(_session(db), invoice_id)


@_cached
def invoice_payments(db: str, invoice_id: str) -> list[dict]:
    return reads.invoice_payments(_session(db), invoice_id)


@_cached
def ledger_page(db: str, filters: dict, order: str, limit: int, offset: int) -> tuple[pd.DataFrame, int]:
    """One page of the ledger in `order` (sorted by the engine over every matching invoice)."""
    return ledger.ledger_page(_session(db), filters, order, limit, offset)


# --- bill runs -----------------------------------------------------------------------------------


@_cached
def contracts_in_scope(
    db: str, period_date: dt.date, customer_ids: tuple[str, ...] | None, business_id: str | None
) -> int:
    return bill_runs.contracts_in_scope(_session(db), period_date, Scope.of(None, customer_ids, business_id))


@_cached
def cycles_not_due(
    db: str, period_date: dt.date, customer_ids: tuple[str, ...] | None, business_id: str | None, today: dt.date
) -> int:
    return bill_runs.cycles_not_due(_session(db), period_date, Scope.of(None, customer_ids, business_id), today)


@_cached
def list_runs(db: str, limit: int) -> list[dict]:
    return bill_runs.history(_session(db), limit)


@_cached
def run_totals_by_product(db: str, run_id: str) -> list[dict]:
    return bill_runs.totals_by_product(_session(db), run_id)


@_cached
def run_outcomes(db: str, run_id: str, limit: int) -> list[dict]:
    return bill_runs.outcomes(_session(db), run_id, limit=limit)


# --- API tokens ----------------------------------------------------------------------------------


@_cached
def api_tokens(db: str) -> list[dict]:
    """Every API token: name, business, created, revoked (never the token or its hash)."""
    return access.tokens(_session(db))


# --- review ----------------------------------------------------------------------------------------


def review_version(db: str) -> tuple:
    """Not cached: read on every rerun, it is part of the cached review's key (a change made elsewhere
    gives a new key, so the review is read again)."""
    return reads.review_version(_session(db))


# A review of 50k drafts is a large frame: kept once for the whole server (never copied per read, as
# st.cache_data would), a few at a time. Pages treat it as read-only; clear() drops it with the rest.
@st.cache_resource(show_spinner="Reading the review…", max_entries=4)
def review_table(db: str, run_id: str | None, period_date: dt.date | None, version: tuple) -> ReviewTable:
    """The drafts under review of a run (or of the period of a date) with their flags, as one table."""
    return build_review_table(bill_runs.review_columns(_session(db), run_id=run_id, period_date=period_date))


@_cached
def review_thresholds(db: str, business_id: str) -> ReviewThresholds:
    return bill_runs.thresholds(_session(db), business_id)


def invoice_number_ranges(db: str, invoice_ids: list[str]) -> list[dict]:
    """Not cached: read once, right after the invoices were finalized (numbered)."""
    return reads.invoice_number_ranges(_session(db), list(invoice_ids))
