"""The requests of the application layer, with the bounds of engine/limits.py: ONE definition for every front end.

The HTTP API takes these as its bodies (the seeds' names and fields: DayZero `InvoiceCreateRequest`, Zenskar
`generate_invoice`, …), so its OpenAPI schema is this code; the MCP tools, the CLI and the workbench build the
same models from what they were given (`parse`), so the same input is refused with the same code and message
everywhere (`validation_error`, naming each field and what is wrong).

Types are strict: a number where text is expected, `true` as a price, a date-time or a number as a date, a
float as an amount are refused; texts are bounded and storable (no NUL, no unpaired surrogate); dates lie in
1900-01-01 .. 2199-12-31; unknown fields are refused, so a misspelt field is never silently ignored.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from typing import Annotated, Literal, TypeVar

import pydantic
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, StrictInt, StrictStr

from .. import limits
from ..date_text import iso_day
from ..errors import ValidationError
from ..models import CREDIT_NOTE_REASONS
from ..models import RecurringConfig as EngineRecurringConfig
from ..statuses import STATUSES, InvoiceStatus
from ..validation_text import problems_text

M = TypeVar("M", bound=BaseModel)


def _day(value):
    """A date from a date or `YYYY-MM-DD` text only (never a number, a date-time or another ISO form)."""
    if isinstance(value, dt.datetime):
        raise ValueError("a date (YYYY-MM-DD) is expected, not a date-time")
    if isinstance(value, dt.date):
        return value
    day = iso_day(value)
    if day is None:
        raise ValueError("a date as YYYY-MM-DD is expected")
    return day


def _bounded_day(value: dt.date) -> dt.date:
    if not limits.FIRST_DATE <= value <= limits.LAST_DATE:  # the words of limits.check_date
        raise ValueError(f"{value} is outside {limits.FIRST_DATE} .. {limits.LAST_DATE}")
    return value


def _storable(value: str) -> str:
    problem = limits.text_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("the text is blank")
    return value


# ASCII digits only: Python's \d and Decimal() also read other scripts' digits ('١٢' as 12), which no one checking
# the amount on an invoice would read back as typed.
_PLAIN_DECIMAL = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)")


def _major(value, shown: str | None = None):
    """An amount in major units: a decimal string ("12.50"), an integer or a Decimal; never a float (JSON 12.5
    would already be inexact), a boolean, an exponent or a non-finite number. `shown`: the amount as the user typed
    it, for the words of the money bound."""
    if isinstance(value, bool):
        raise ValueError(f"an amount is a number, not {str(value).lower()}")
    if isinstance(value, float):
        raise ValueError('give the amount as a decimal string, e.g. "12.50" (a JSON number with a fraction is inexact)')
    if isinstance(value, int):
        value = Decimal(value)
    elif isinstance(value, str):
        text = value.strip()
        if not _PLAIN_DECIMAL.fullmatch(text):
            raise ValueError(f"not a plain decimal amount: {value[:40]!r} (write e.g. 12.50)")
        try:
            value = Decimal(text)
        except InvalidOperation:
            raise ValueError(f"not a plain decimal amount: {value[:40]!r}") from None
    if not isinstance(value, Decimal) or not value.is_finite():
        raise ValueError("an amount must be a finite decimal")
    if beyond := limits.beyond_money_limit(value, shown):
        raise ValueError(beyond)
    return value


# A person may group thousands with commas (1,244.10), in groups of three only: "12,50" is refused, never read as
# 1250 (a European decimal comma taken for a separator would multiply the amount by a hundred).
_GROUPED_DECIMAL = re.compile(r"[+-]?[0-9]{1,3}(,[0-9]{3})+(\.[0-9]*)?")


def typed_amount(text: str, what: str = "amount") -> Decimal:
    """An amount a person typed (the CLI's arguments, the workbench's boxes), in major units: the rule of every
    request's amounts (plain decimal digits, no exponent, within the money bound), thousands grouped by commas
    allowed. Refused as validation_error naming `what`."""
    plain = text.strip()
    if _GROUPED_DECIMAL.fullmatch(plain):
        plain = plain.replace(",", "")
    try:
        return _major(plain, text.strip())
    except ValueError as exc:
        raise ValidationError(f"{what}: {exc}") from None


# A whole number a person types or uploads (the CLI's counts, a manual invoice's quantity, a batch CSV's integer minor
# units): ASCII digits with an optional sign, spaces around ignored as for typed amounts; int() alone also reads '١٢'
# (Arabic-Indic) as 12 and '1_000' as 1000.
_WHOLE = re.compile(r"[+-]?[0-9]+")


def plain_decimal(text: str) -> Decimal | None:
    """`text` as a decimal in plain ASCII digits (no exponent, no grouping, spaces around ignored), or None; what
    is not money (a waiting time) by the digits rule of every amount."""
    plain = text.strip()
    return Decimal(plain) if _PLAIN_DECIMAL.fullmatch(plain) else None


def whole_number(text: str) -> int | None:
    """`text` as a whole number by the rule of every typed whole number, or None when it is not one."""
    plain = text.strip()
    return int(plain) if _WHOLE.fullmatch(plain) else None


def _positive(value: Decimal) -> Decimal:
    if value <= 0:
        raise ValueError(f"must be more than 0, got {value}")
    return value


def _not_negative(value: Decimal) -> Decimal:
    if value < 0:
        raise ValueError(f"cannot be negative, got {value}")
    return value


Day = Annotated[dt.date, BeforeValidator(_day), AfterValidator(_bounded_day)]
# money in major units of the invoice's currency (its decimals are the operation's to check)
Major = Annotated[Decimal, BeforeValidator(_major), AfterValidator(_not_negative)]
PositiveMajor = Annotated[Decimal, BeforeValidator(_major), AfterValidator(_positive)]
Id = Annotated[StrictStr, Field(min_length=1, max_length=limits.MAX_NAME), AfterValidator(_storable)]
Text = Annotated[StrictStr, Field(max_length=limits.MAX_TEXT), AfterValidator(_storable)]
Reason = Annotated[
    StrictStr, Field(min_length=1, max_length=limits.MAX_TEXT), AfterValidator(_storable), AfterValidator(_not_blank)
]
Minor = Annotated[StrictInt, Field(ge=-limits.MINOR_MAX, le=limits.MINOR_MAX)]
IdList = Annotated[list[Id], Field(max_length=limits.MAX_IDS)]


class Request(BaseModel):
    """Unknown fields are refused (422 over HTTP), so a misspelt field is never silently ignored."""

    model_config = ConfigDict(extra="forbid")


def parse(model: type[M], data) -> M:
    """`data` (a dict of what a front end was given) as `model`, or ValidationError naming every problem in the
    words of engine/validation_text.py (`invalid request: item 1 (line 2): amount must be more than 0, got -10`)."""
    if isinstance(data, model):
        return data
    try:
        return model.model_validate(data)
    except pydantic.ValidationError as exc:
        raise ValidationError(f"invalid request: {problems_text(exc.errors(), data)}") from None


# --- who acts ------------------------------------------------------------------------------------------


class ActorRequest(Request):
    """Who acts: the name a session's caller records with every change it makes (the audit trail's actor, an
    invoice's approved_by, a run's requested_by, a credit note's actor): a name like every other, bounded and
    storable, on one line: no tab or line break either (a text may hold them; a name in the audit trail's cell
    may not). Checked once, where a Caller is made (engine/service/caller.py)."""

    actor: Id

    @pydantic.field_validator("actor")
    @classmethod
    def _one_line(cls, value: str) -> str:
        if any(c in value for c in "\t\n\r"):
            raise ValueError("a name is one line: no tab or line break")
        return value


# --- contracts ----------------------------------------------------------------------------------------


class GeneratePeriodInvoicesRequest(Request):
    period_date: Day = Field(description="Any date within the billing period to draft (YYYY-MM-DD).")


class PreviewInvoiceRequest(Request):
    period_date: Day = Field(description="Any date within the billing period to preview (YYYY-MM-DD).")


class PeriodDateRequest(Request):
    period_date: Day


class CyclesRequest(Request):
    """A contract's billing cycles overlapping [from_date, to_date]."""

    from_date: Day
    to_date: Day


ZenskarDate = StrictStr | StrictInt
_ZDATE = "YYYY-MM-DD, ISO-8601 date-time (its UTC day, e.g. 2026-04-28T00:00:00Z) or UNIX seconds"


class GenerateInvoiceRequestSchema(Request):
    """Zenskar generate_invoice: the dates must be exactly one cycle of getContractBillingCycles."""

    customer_id: Id
    contract_id: Id
    from_date: Annotated[ZenskarDate, Field(description=_ZDATE)]
    to_date: Annotated[ZenskarDate, Field(description=_ZDATE)]
    check_duplicate_invoice: StrictBool | None = None
    bill_for_date: Annotated[ZenskarDate, Field(description=_ZDATE + "; required: it names the cycle")] | None = None
    billing_cycle_start_day: StrictInt | None = None


class ContractCyclesRequest(Request):
    """Zenskar getContractBillingCycles: the latest `limit` cycles in [from_date, to_date] (defaults: the
    contract's start up to the cycle after today's)."""

    limit: Annotated[StrictInt, Field(ge=1, le=limits.MAX_PAGE)] = 12
    from_date: ZenskarDate | None = None
    to_date: ZenskarDate | None = None


# --- invoices made by hand (DayZero) ---------------------------------------------------------------------


class LineItemRequest(Request):
    variant_id: Id | None = Field(None, description="Product variant; omit or 'custom' for a custom item.")
    quantity: Annotated[StrictInt, Field(ge=1, le=limits.MAX_QUANTITY)] = Field(
        1, description="Quantity ordered. Defaults to 1."
    )
    description: Text | None = Field(None, description="Required for custom items.")
    unit_price: Minor | None = Field(None, description="Price per unit in minor units.")
    amount: Minor | None = Field(None, description="Deprecated: taken as unit_price when unit_price is not set.")


class InvoiceRecurringConfig(EngineRecurringConfig):
    model_config = ConfigDict(extra="forbid")
    start_date: Day
    payment_terms_days: Annotated[StrictInt, Field(ge=0, le=3650)] = 30


class InvoiceCreateRequest(Request):
    customer_id: Id = Field(description="Customer to invoice.")
    currency: Annotated[StrictStr, Field(min_length=3, max_length=3)] | None = Field(
        None, description="ISO 4217 currency; defaults to the customer's."
    )
    line_items: list[LineItemRequest] = Field(min_length=1, max_length=limits.MAX_LINES)
    due_date: Day = Field(description="Payment due date in YYYY-MM-DD format.")
    description: Text | None = None
    recurring: InvoiceRecurringConfig | None = None


class BatchInvoiceItem(Request):
    customer_id: Id
    currency: Annotated[StrictStr, Field(min_length=3, max_length=3)] | None = None
    line_items: list[LineItemRequest] = Field(min_length=1, max_length=limits.MAX_LINES)
    due_date: Day
    description: Text | None = None


class BatchInvoiceRequest(Request):
    items: list[BatchInvoiceItem] = Field(max_length=limits.MAX_ITEMS, description="List of invoices to create")
    include_delayed_charges: StrictBool = False
    finalize: StrictBool = False


class ListInvoicesRequest(Request):
    status: InvoiceStatus | None = None

    @pydantic.field_validator("status", mode="before")
    @classmethod
    def _known_status(cls, value):
        if value is not None and value not in STATUSES:
            raise ValueError(f"unknown status {str(value)[:40]!r}; one of: {', '.join(STATUSES)}")
        return value

    customer_id: Id | None = None
    contract_id: Id | None = None
    run_id: Id | None = None
    period_date: Day | None = Field(None, description="the invoice's period contains this date")
    limit: Annotated[StrictInt, Field(ge=1, le=limits.MAX_PAGE)] = 50
    offset: Annotated[StrictInt, Field(ge=0, le=10**9)] = 0


# --- review and lifecycle --------------------------------------------------------------------------------


class ApproveRequest(Request):
    note: Text | None = None


class HoldRequest(Request):
    reason: Reason


class ReleaseRequest(Request):
    note: Text | None = None


class VoidRequest(Request):
    reason: Text | None = None


class FinalizeRequest(Request):
    """Finalize takes no field; a body, if sent, is an empty object (a field such as `note` or `force` is refused,
    never ignored: finalizing is irreversible)."""


class PaymentRequest(Request):
    amount: Annotated[StrictInt, Field(gt=0, le=limits.MINOR_MAX)] = Field(
        description="minor units, at most the balance due"
    )
    method: Literal["manual", "stripe"] = "manual"


# --- bill runs and scenarios -----------------------------------------------------------------------------


class BillRunRequest(Request):
    period_date: Day
    contract_ids: IdList | None = None
    customer_ids: IdList | None = None
    business_id: Id | None = Field(None, description="only this business's contracts (a token's: its own)")
    include_delayed_charges: StrictBool = False
    finalize: StrictBool = False
    catch_up: StrictBool = Field(False, description="also draft every missed cycle before the period date")


class SimulateRequest(Request):
    scenario: dict = Field(description="a scenario as in spec section 7: {name, changes: [...]}")
    from_date: Day
    to_date: Day
    contract_ids: IdList | None = None

    @pydantic.model_validator(mode="after")
    def _range(self) -> SimulateRequest:
        try:
            limits.check_range(self.from_date, self.to_date)
        except ValidationError as exc:  # its words, without the prefix the model's error gets anyway
            raise ValueError(str(exc).split(": ", 2)[-1]) from None
        return self


# --- credit notes (spec section 12) ------------------------------------------------------------------------------

CreditNoteReason = Literal[CREDIT_NOTE_REASONS]  # type: ignore[valid-type]


class CreditNoteItemRequest(Request):
    line_no: Annotated[StrictInt, Field(ge=1, le=10**9)] = Field(description="the invoice line to credit")
    amount: PositiveMajor = Field(description='major units before tax, as a decimal string ("12.50"), > 0')


class _CreditNoteLines(Request):
    items: list[CreditNoteItemRequest] | None = Field(
        None, max_length=limits.MAX_LINES, description="the lines to credit and how much (or all: everything left)"
    )
    all: StrictBool = Field(False, description="credit everything each line has left")
    refund: Major | None = Field(None, description="money paid back (at most the payments less earlier refunds)")
    credit: Major | None = Field(None, description="added to the customer's credit in the invoice's currency")
    offset: Major | None = Field(None, description="off the invoice's balance due (at most the balance due)")

    @pydantic.model_validator(mode="after")
    def _lines_or_all(self):
        if self.all and self.items:
            raise ValueError("give items or all (everything left), not both")
        return self

    def lines(self) -> list[tuple[int, Decimal]] | None:
        return None if self.items is None else [(i.line_no, i.amount) for i in self.items]


class CreditNoteRequest(_CreditNoteLines):
    """A credit note of a finalized invoice: its lines (or all), the reason, and how its total is split (without
    offset and credit: off the balance due as far as it goes, the rest to the customer's credit)."""

    reason: CreditNoteReason = Field(description="duplicate, product_unsatisfactory, order_change, fraudulent, other")
    note: Text | None = None

    @pydantic.model_validator(mode="after")
    def _something(self):
        if not self.all and not self.items:
            raise ValueError("name the lines to credit (items) or all (everything left)")
        return self


class CreditNoteEstimateRequest(_CreditNoteLines):
    """What an invoice can still be credited; with items (or all), also the note they would make."""


class ListCreditNotesRequest(Request):
    invoice_id: Id | None = None
    customer_id: Id | None = None
    limit: Annotated[StrictInt, Field(ge=1, le=limits.MAX_PAGE)] = 50
    offset: Annotated[StrictInt, Field(ge=0, le=10**9)] = 0
