"""Typed errors of the engine. Every message names the problem in a finance user's words."""

from __future__ import annotations


class BillsimError(Exception):
    """Base class: the CLI prints these as one line on stderr and exits non-zero."""

    code = "billsim_error"


class DatabaseBusyError(BillsimError):
    code = "database_busy"


class SchemaError(BillsimError):
    code = "schema_error"


class NotFoundError(BillsimError):
    code = "not_found"


class ValidationError(BillsimError):
    code = "validation_error"


class ImportProblems(BillsimError):
    """An import was refused; `problems` lists every (file, line, column, reason)."""

    code = "import_failed"

    def __init__(self, problems: list[dict]):
        self.problems = problems
        head = "; ".join(f"{p['file']}:{p['line']} {p['column']}: {p['reason']}" for p in problems[:5])
        more = f" (+{len(problems) - 5} more)" if len(problems) > 5 else ""
        super().__init__(f"import refused, nothing written: {len(problems)} problem(s): {head}{more}")


class CycleMismatchError(BillsimError):
    """Dates that match no billing cycle of the contract; names the nearest valid cycles."""

    code = "cycle_mismatch"


class InvoiceAlreadyGeneratedForThisBillingPeriod(BillsimError):
    code = "InvoiceAlreadyGeneratedForThisBillingPeriod"


class InvalidStateError(BillsimError):
    """An operation the invoice's lifecycle state does not allow (e.g. finalizing a void invoice)."""

    code = "invalid_state"


class ScenarioError(BillsimError):
    code = "scenario_error"


class InvoiceNotApprovedError(InvalidStateError):
    """Finalize of a draft that is not approved (spec section 8: finalize takes only approved invoices)."""

    code = "invoice_not_approved"
