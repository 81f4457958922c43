"""What the workbench's pages read besides the operations: the data page's counts and tables, the pickers'
searches, a contract's timeline, a run's figures, the review's data version. Money leaves as integer minor units
with its currency (the page formats it), never a float. A local user's reads (every business).
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from ..billing import ledger_queries as q
from ..billing.ownership import business_contract_ids
from ..review import FLAGS
from ..schema import INPUT_TABLES
from ..statuses import STATUSES
from . import tenancy
from .session import Session

BROWSABLE_TABLES = q.BROWSABLE_TABLES
INVOICE_STATUSES = STATUSES
REVIEW_FLAGS = FLAGS
DATA_FILES = INPUT_TABLES  # the tables of a data folder, in import order (spec section 1)


def _local(s: Session) -> None:
    tenancy.local_only(s.caller, "the workbench's reads")


def table_counts(s: Session) -> dict[str, int]:
    _local(s)
    with s.cursor() as cur:
        return q.table_counts(cur)


def customer_counts(s: Session) -> pd.DataFrame:
    _local(s)
    with s.cursor() as cur:
        return q.customer_counts(cur)


def invoice_counts(s: Session) -> list[dict]:
    _local(s)
    with s.cursor() as cur:
        return q.invoice_counts(cur)


def usage_counts(s: Session) -> pd.DataFrame:
    _local(s)
    with s.cursor() as cur:
        return q.usage_counts(cur)


def browse_table(s: Session, table: str, limit: int, offset: int) -> tuple[pd.DataFrame, int]:
    _local(s)
    with s.cursor() as cur:
        return q.browse_table(cur, table, limit, offset)


def search_contracts(s: Session, text: str, limit: int) -> list[dict]:
    _local(s)
    with s.cursor() as cur:
        return q.search_contracts(cur, text, limit)


def contract_details(s: Session, contract_id: str) -> dict | None:
    _local(s)
    with s.cursor() as cur:
        return q.contract_details(cur, contract_id)


def search_customers(s: Session, text: str, limit: int) -> list[dict]:
    _local(s)
    with s.cursor() as cur:
        return q.search_customers(cur, text, limit)


def customer_names(s: Session, customer_ids: list[str]) -> dict[str, str]:
    _local(s)
    with s.cursor() as cur:
        return q.customer_names(cur, list(customer_ids))


def businesses(s: Session) -> list[str]:
    _local(s)
    with s.cursor() as cur:
        return q.businesses(cur)


def business_names(s: Session) -> dict[str, str]:
    """business id -> the name of businesses.csv (the seller on the documents)."""
    _local(s)
    with s.cursor() as cur:
        return q.business_names(cur)


def invoice_currencies(s: Session) -> list[str]:
    _local(s)
    with s.cursor() as cur:
        return q.invoice_currencies(cur)


def usage_date_range(s: Session) -> tuple[dt.date | None, dt.date | None]:
    _local(s)
    with s.cursor() as cur:
        return q.usage_date_range(cur)


def contract_invoices(s: Session, contract_id: str) -> list[dict]:
    """Every invoice of a contract (void ones too), oldest cycle first."""
    with s.cursor() as cur:
        tenancy.contract(cur, s.caller, contract_id)
        return q.contract_invoices(cur, contract_id)


def pending_usage_by_cycle(s: Session, contract_id: str, spans: list[tuple[dt.date, dt.date]]) -> dict[dt.date, int]:
    with s.cursor() as cur:
        tenancy.contract(cur, s.caller, contract_id)
        return q.pending_usage_by_cycle(cur, contract_id, list(spans))


def invoice_payments(s: Session, invoice_id: str) -> list[dict]:
    with s.cursor() as cur:
        tenancy.invoices(cur, s.caller, [invoice_id])
        return q.invoice_payments(cur, invoice_id)


def invoice_number_ranges(s: Session, invoice_ids: list[str]) -> list[dict]:
    """Per business, the first and last number among these invoices (right after finalizing them)."""
    with s.cursor() as cur:
        tenancy.invoices(cur, s.caller, list(invoice_ids))
        return q.invoice_number_ranges(cur, list(invoice_ids))


def review_version(s: Session) -> tuple:
    """What any review depends on that changes without a new run (part of a cached review's key)."""
    with s.cursor() as cur:
        return q.review_version(cur)


def taxes(s: Session) -> list[dict]:
    """The taxes loaded (the caller's business's): code, name, rate (percent), how many customers and lines use it."""
    with s.cursor() as cur:
        return q.loaded_taxes(cur, s.caller.business_id)


def coupons(s: Session) -> list[dict]:
    """The coupons loaded (the caller's business's), with how many contracts each is applied to."""
    with s.cursor() as cur:
        return q.loaded_coupons(cur, s.caller.business_id)


def data_version(s: Session) -> tuple:
    """What changes with any write by anyone (an API call, the CLI beside the server): the workbench drops its
    cached reads when it changed, so a change made elsewhere shows on the next rerun."""
    with s.cursor() as cur:
        return q.data_version(cur)


def contract_ids(s: Session) -> list[str]:
    """Every contract the caller may see."""
    with s.cursor() as cur:
        return business_contract_ids(cur, s.caller.business_id)
