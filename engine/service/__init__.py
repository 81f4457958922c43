"""The application layer: every operation the front ends offer, written once, for a caller.

    workbench (views/) · command line (engine/cli) · HTTP API (engine/api) · MCP tools (engine/mcp)
                                   │ parse, call, format
                                   ▼
    engine.service   Billsim (one per database) → Session (caller + unit of work) → operations:
                     contracts · invoices · lifecycle · credit_notes · bill_runs · whatif · ledger · reads · access
                     · spark
                     it owns, once: tenancy, limits and input checks, one transaction per operation,
                     error codes (engine.errors)
                                   │
                                   ▼
    domain           ingest · rating · billing · review · whatif · spark · io (formats) · access
                                   │
                                   ▼
    core             errors · limits · statuses · scope · models · money · currencies · db · schema

The front ends import this package and nothing below it (an import-linter contract in pyproject.toml).
"""

from ..errors import (
    BillsimError,
    BusyError,
    DatabaseBusyError,
    ForbiddenError,
    ImportProblems,
    InvalidStateError,
    NotFoundError,
    PrinterBusyError,
    ScenarioError,
    StorageError,
    TooMuchWorkError,
    UnauthorizedError,
    ValidationError,
)
from .application import Billsim
from .caller import Caller
from .session import Session

__all__ = [
    "Billsim",
    "BillsimError",
    "BusyError",
    "Caller",
    "DatabaseBusyError",
    "ForbiddenError",
    "ImportProblems",
    "InvalidStateError",
    "NotFoundError",
    "PrinterBusyError",
    "ScenarioError",
    "Session",
    "StorageError",
    "TooMuchWorkError",
    "UnauthorizedError",
    "ValidationError",
]
