"""Billsim engine: exact, explainable invoices from contract and usage tables in DuckDB.

The public surface is re-exported here; modules are named for the stage they implement:
import -> DuckDB tables -> cycles -> usage aggregation -> pricing -> invoice assembly -> persistence/export.
"""

from .db import connect, default_db_path, transaction
from .errors import (
    BillsimError,
    CycleMismatchError,
    DatabaseBusyError,
    ImportProblems,
    InvalidStateError,
    InvoiceAlreadyGeneratedForThisBillingPeriod,
    NotFoundError,
    ScenarioError,
    ValidationError,
)

__all__ = [
    "connect",
    "default_db_path",
    "transaction",
    "BillsimError",
    "CycleMismatchError",
    "DatabaseBusyError",
    "ImportProblems",
    "InvalidStateError",
    "InvoiceAlreadyGeneratedForThisBillingPeriod",
    "NotFoundError",
    "ScenarioError",
    "ValidationError",
]
