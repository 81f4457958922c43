"""Typed errors of the engine. Every message names the problem in a finance user's words.

Each class carries a stable machine `code` and a `status`: the kind of failure in HTTP's vocabulary
(400 bad input, 401/403 who is asking, 404 not found, 409 the state does not allow it, 413 more work
than one request may take, 503 busy). This is the ONE table of error codes: the HTTP API answers the
status and `{"code", "message"}`, the MCP tools `code: message`, the command line the message with exit
2 (3 when busy), the workbench the message next to the action.
"""

from __future__ import annotations

MAX_MESSAGE = 2_000  # characters of a message shown to a caller: a hostile 1 MB id is not echoed back whole


def bounded(message: str) -> str:
    """The message as shown: whole when short, else its start and how much was left out."""
    if len(message) <= MAX_MESSAGE:
        return message
    return f"{message[:MAX_MESSAGE]}… ({len(message) - MAX_MESSAGE:,} more characters)"


class BillsimError(Exception):
    """Base class: a refusal with a stable code; nothing was written."""

    code = "billsim_error"
    status = 400

    def __init__(self, message: str = "", *, code: str | None = None):
        super().__init__(bounded(message))
        if code is not None:
            self.code = code

    @property
    def message(self) -> str:
        return str(self)


class BusyError(BillsimError):
    """Too much is being done at once: nothing was done, try again in a moment (HTTP 503 with Retry-After, the
    command line's exit 3)."""

    code = "busy"
    status = 503


class DatabaseBusyError(BusyError):
    code = "database_busy"


class PrinterBusyError(BusyError):
    """Every PDF printing slot of the process stayed taken for as long as a request may wait for one."""

    code = "documents_busy"


class StorageError(BillsimError):
    """The database file cannot be read or written (not a database, corrupt, disk full): no user input fixes
    it. The message names the file; over HTTP it is a 500 whose text stays in the server's log."""

    code = "database_error"
    status = 500


class PrintError(BillsimError):
    """A PDF printer's child process ended without a PDF (its reason is in the log): the HTML document is still
    there. HTTP 500."""

    code = "print_failed"
    status = 500


class SchemaError(BillsimError):
    code = "schema_error"


class NotFoundError(BillsimError):
    """Does not exist, or belongs to another business: the two must look exactly the same."""

    code = "not_found"
    status = 404

    @classmethod
    def of(cls, what: str, ident: str) -> NotFoundError:
        """`contract_not_found: unknown contract 'K-1'`, `invoice_not_found: no invoice 'inv_1'` (what: contract,
        customer, invoice, bill_run, business, …), worded as the engine words it."""
        words = what.replace("_", " ")
        text = f"unknown {words}" if what in ("contract", "customer", "business") else f"no {words}"
        return cls(f"{text} {str(ident)[:200]!r}", code=f"{what}_not_found")


class ValidationError(BillsimError):
    code = "validation_error"


# What a caller is told when DuckDB refuses a value (a conversion or an overflow): never the database's own text.
OUT_OF_RANGE_TEXT = "a value is beyond what can be stored or computed exactly (an amount, quantity or date too large)"


def out_of_range() -> ValidationError:
    """The refusal of a value DuckDB could not store or compute (ConversionException, OutOfRangeException)."""
    return ValidationError(OUT_OF_RANGE_TEXT, code="amount_out_of_range")


class UnauthorizedError(BillsimError):
    """No credentials, or a token that is unknown or revoked."""

    code = "unauthorized"
    status = 401


class ForbiddenError(BillsimError):
    """A valid token used for another business (or with none named)."""

    code = "forbidden"
    status = 403


class TooMuchWorkError(BillsimError):
    """The request needs more time or memory than one request may take (limits.py): narrow it."""

    code = "deadline_exceeded"
    status = 413


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

    code = "no_matching_cycle"


class InvoiceAlreadyGeneratedForThisBillingPeriod(BillsimError):
    code = "InvoiceAlreadyGeneratedForThisBillingPeriod"
    status = 409


class InvalidStateError(BillsimError):
    """An operation the invoice's lifecycle state does not allow (e.g. finalizing a void invoice)."""

    code = "invalid_state"
    status = 409


class ScenarioError(BillsimError):
    code = "scenario_error"


class InvoiceNotApprovedError(InvalidStateError):
    """Finalize of a draft that is not approved (spec section 8: finalize takes only approved invoices)."""

    code = "invoice_not_approved"


class NothingToBill(BillsimError):
    """The cycle has no line at all (not even a true-up): no invoice is made."""

    code = "nothing_to_bill"


class IdempotencyKeyError(BillsimError):
    """An Idempotency-Key that is not 1–255 printable characters (every front end that takes a key)."""

    code = "invalid_idempotency_key"


class IdempotencyKeyReusedError(BillsimError):
    """An Idempotency-Key already used, in this business, for a different request (by any front end)."""

    code = "idempotency_key_reused"
    status = 409


class IdempotencyKeyInProgressError(BillsimError):
    """The first request with this Idempotency-Key is still running: retry it later."""

    code = "idempotency_key_in_progress"
    status = 409
