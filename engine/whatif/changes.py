"""What-if changes (spec section 7): one small typed unit per change type.

Each change knows three things: its shape (a pydantic model, parsed exactly: decimals never pass
through a float), what it refers to in the stored data (`problems`: unknown product, line, metric or
contract), and how it rewrites the scenario's OVERLAY (`apply`). The overlay is a private in-memory
catalog holding copies of contracts, order_lines and price_tiers plus views over customers and usage
(see `overlay.py`); the stored tables are only ever read.

Changes apply in the order they are listed, each on the result of the previous ones
(price +10% then price = 120.00 leaves 120.00; the other way round gives 132.00).

Prices stay DECIMAL(38,12): a scaled price is exact, then rounded half away from zero to 12 decimals
(only a price that already uses 11–12 decimals can lose anything):

    price' = round(price × (100 + percent) / 100, 12)
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal, Protocol

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from ..money import MONEY_LIMIT, QTY_MAX_DIGITS
from ..rating.pricing import tiered_models

PRICE_DECIMALS = 12
QTY_DECIMALS = 6
PERCENT_DECIMALS = 6
# A percent change is at most ×10,001 (+1,000,000 %): beyond it a scaled price or quantity would leave the
# exact DECIMAL(38, s) range of the columns (engine/money.py), and no finance question needs more.
PERCENT_LIMIT = Decimal(1_000_000)
# Prices and quantities a change sets stay within the magnitude bounds every stored value keeps (money.py).
MONEY_MAXIMUM = Decimal(MONEY_LIMIT) - Decimal(1).scaleb(-PRICE_DECIMALS)
QTY_MAXIMUM = Decimal(10) ** QTY_MAX_DIGITS - Decimal(1).scaleb(-QTY_DECIMALS)


def _exact_number(value):
    """A scenario's number as the rule of every amount given (engine/service/requests.py) has it: an integer, or a
    decimal as text in ASCII digits; never a float. Python's Decimal reads '١٢' (Arabic-Indic), '１２' (fullwidth)
    or '1_2' as 12, a figure no one reads back as typed; a JSON number with a fraction or an exponent (10.5, 1e1)
    arrives as a float, already inexact (0.1 is not one tenth), and a non-finite one (NaN) as a float too."""
    if isinstance(value, float):
        raise ValueError(
            f'give the number as a decimal string, e.g. "12.50" (a JSON number with a fraction or an exponent is '
            f"inexact; got {value!r})"
        )
    if isinstance(value, str) and (not value.isascii() or "_" in value):
        raise ValueError(f"not a plain decimal number: {value[:40]!r} (ASCII digits, e.g. 12.50)")
    return value


# a scenario's numbers (percents, prices, fees, amounts, rates): a Decimal from an integer or text, never a float
Number = Annotated[Decimal, BeforeValidator(_exact_number)]


def decimal_places(value: Decimal) -> int:
    exp = value.as_tuple().exponent
    return max(0, -exp) if isinstance(exp, int) else 0


def check_decimal(
    value: Decimal | None,
    places: int,
    what: str,
    *,
    minimum: Decimal | None = Decimal(0),
    maximum: Decimal | None = None,
):
    if value is None:
        return value
    if not value.is_finite():
        raise ValueError(f"{what} must be a number")
    if maximum is not None and value > maximum:
        raise ValueError(f"{what} must be at most {maximum}, got {value}")
    if decimal_places(value.normalize()) > places:
        raise ValueError(f"{what} has more than {places} decimal places: {value}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{what} must be at least {minimum}, got {value}")
    return value


def factor_of(percent: Decimal) -> Decimal:
    """(100 + percent) / 100, exactly: +10 -> 1.1, -12.5 -> 0.875."""
    return (Decimal(100) + percent).scaleb(-2)


def _percent_text(percent: Decimal) -> str:
    text = format(percent.normalize(), "f")
    return f"+{text}%" if percent >= 0 else f"{text}%"


class KnownData(Protocol):
    """What changes may refer to in the stored data (over SQL: `overlay.StoredData`)."""

    products: frozenset[str]
    metrics: frozenset[str]

    def line_model(self, line_id: str) -> str | None:
        """The pricing model of a line, None for an unknown line."""

    def lines_not_priced_by_unit_price(self, product: str | None, line_id: str | None) -> list[str]:
        """Selected lines whose model has no unit price ('L-GRAD (graduated)'), at most 11."""

    def unknown_contracts(self, contract_ids: list[str]) -> list[str]:
        """The ids that name no stored contract."""

    def coupon_exists(self, coupon_id: str) -> bool:
        """Whether a stored coupon has this id (spec section 11)."""

    def tax_code_exists(self, tax_code: str) -> bool:
        """Whether a stored tax has this code (spec section 11)."""

    def contracts_of_other_businesses(self, contract_ids: list[str], business_id: str) -> list[str]:
        """The contracts among `contract_ids` whose customer is of another business than `business_id`."""


class ChangeBase(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def label(self) -> str:  # pragma: no cover - every change overrides it
        raise NotImplementedError

    def problems(self, known: KnownData) -> list[str]:
        return []


class PriceChange(ChangeBase):
    """Scale every price of the selected lines by `percent`, or set their `unit_price`.

    Selected = lines of `product`, or the line `line_id`, or every line when neither is given.
    "Every price" = unit_price, tier unit prices and flat fees, fixed_fee and percentage_rate (the
    price of a `percentage` line), so each selected line's amount moves by exactly `percent`
    before rounding. Quantities, free units, package sizes, discounts and minimum commitments are
    not prices and do not move (a true-up moves only because the lines under it do)."""

    type: Literal["price"]
    product: str | None = None
    line_id: str | None = None
    percent: Number | None = None
    unit_price: Number | None = None

    @field_validator("percent")
    @classmethod
    def _percent(cls, v):
        return check_decimal(v, PERCENT_DECIMALS, "price percent", minimum=Decimal(-100), maximum=PERCENT_LIMIT)

    @field_validator("unit_price")
    @classmethod
    def _unit_price(cls, v):
        return check_decimal(v, PRICE_DECIMALS, "unit_price", maximum=MONEY_MAXIMUM)

    @model_validator(mode="after")
    def _one_of(self):
        if (self.percent is None) == (self.unit_price is None):
            raise ValueError("a price change needs exactly one of 'percent' or 'unit_price'")
        if self.product is not None and self.line_id is not None:
            raise ValueError("a price change selects lines by 'product' or by 'line_id', not both")
        return self

    def target(self) -> str:
        if self.line_id is not None:
            return f"line {self.line_id}"
        return self.product if self.product is not None else "all lines"

    def label(self) -> str:
        if self.percent is not None:
            return f"price {self.target()} {_percent_text(self.percent)}"
        return f"price {self.target()} = {self.unit_price}"

    def problems(self, known: KnownData) -> list[str]:
        if self.product is not None and self.product not in known.products:
            return [f"{self.label()}: unknown product {self.product!r}"]
        if self.line_id is not None and known.line_model(self.line_id) is None:
            return [f"{self.label()}: unknown line {self.line_id!r}"]
        if self.unit_price is not None:
            # a unit price means nothing to a tiered or percentage line: say so rather than do nothing
            other = known.lines_not_priced_by_unit_price(self.product, self.line_id)
            if other:
                return [
                    f"{self.label()}: lines not priced by a unit price: {', '.join(other[:10])}"
                    f"{' …' if len(other) > 10 else ''}; use a 'tiers' change or a 'percent'"
                ]
        return []


class UsageChange(ChangeBase):
    """Scale the quantity of APPROVED usage rows of `metric` (every metric when absent) by `percent`.

    Rows keep their exact scaled quantity; the usage line's priced quantity (6 decimals) is rounded
    once, half away from zero. Row counts do not change: `count` aggregations and the per-row
    fixed fee of `percentage` lines are unaffected by a quantity scaling."""

    type: Literal["usage"]
    metric: str | None = None
    percent: Number

    @field_validator("percent")
    @classmethod
    def _percent(cls, v):
        return check_decimal(v, PERCENT_DECIMALS, "usage percent", minimum=Decimal(-100), maximum=PERCENT_LIMIT)

    def label(self) -> str:
        return f"usage {self.metric or 'all metrics'} {_percent_text(self.percent)}"

    def problems(self, known: KnownData) -> list[str]:
        if self.metric is not None and self.metric not in known.metrics:
            return [f"{self.label()}: unknown metric {self.metric!r}"]
        return []


class Tier(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    up_to: Number | None
    unit_price: Number
    flat_fee: Number = Decimal(0)

    @field_validator("up_to")
    @classmethod
    def _up_to(cls, v):
        return check_decimal(v, QTY_DECIMALS, "tier up_to", maximum=QTY_MAXIMUM)

    @field_validator("unit_price", "flat_fee")
    @classmethod
    def _price(cls, v, info):
        return check_decimal(v, PRICE_DECIMALS, f"tier {info.field_name}", maximum=MONEY_MAXIMUM)


class TiersChange(ChangeBase):
    """Replace the tiers of a graduated or volume line (ordered by up_to; exactly one unbounded, last)."""

    type: Literal["tiers"]
    line_id: str
    tiers: list[Tier]

    @model_validator(mode="after")
    def _shape(self):
        if not self.tiers:
            raise ValueError(f"tiers of {self.line_id}: at least one tier is needed")
        bounds = [t.up_to for t in self.tiers]
        if bounds[-1] is not None or any(b is None for b in bounds[:-1]):
            raise ValueError(f"tiers of {self.line_id}: exactly one tier, the last, must be unbounded (up_to null)")
        bounded = bounds[:-1]
        if any(b <= 0 for b in bounded) or any(a >= b for a, b in zip(bounded, bounded[1:], strict=False)):
            raise ValueError(
                f"tiers of {self.line_id}: up_to bounds must be positive and strictly "
                f"increasing, got {[str(b) for b in bounded]}"
            )
        return self

    def label(self) -> str:
        return f"tiers {self.line_id} ({len(self.tiers)} tiers)"

    def problems(self, known: KnownData) -> list[str]:
        model = known.line_model(self.line_id)
        if model is None:
            return [f"{self.label()}: unknown line {self.line_id!r}"]
        if model not in tiered_models():
            return [f"{self.label()}: line {self.line_id} is priced {model!r}, not {' or '.join(tiered_models())}"]
        return []


class ChurnChange(ChangeBase):
    """The contracts churn: none of their cycles in the range is billed in the scenario."""

    type: Literal["churn"]
    contract_ids: list[str] = Field(min_length=1)

    def label(self) -> str:
        head = ", ".join(self.contract_ids[:3])
        more = len(self.contract_ids) - 3
        return f"churn {head}{f' and {more:,} more' if more > 0 else ''}"

    def problems(self, known: KnownData) -> list[str]:
        unknown = known.unknown_contracts(self.contract_ids)
        return [f"{self.label()}: unknown contract(s) {', '.join(map(repr, unknown))}"] if unknown else []


class MinimumCommitmentChange(ChangeBase):
    """Set (or, with amount null, remove) a contract's minimum commitment per full cycle."""

    type: Literal["minimum_commitment"]
    contract_id: str
    amount: Number | None

    @field_validator("amount")
    @classmethod
    def _amount(cls, v):
        return check_decimal(v, PRICE_DECIMALS, "minimum commitment amount", maximum=MONEY_MAXIMUM)

    def label(self) -> str:
        return f"minimum commitment {self.contract_id} = {self.amount if self.amount is not None else 'none'}"

    def problems(self, known: KnownData) -> list[str]:
        if known.unknown_contracts([self.contract_id]):
            return [f"{self.label()}: unknown contract {self.contract_id!r}"]
        return []


class ProrationChange(ChangeBase):
    """Every contract's proration becomes `value` (none: active lines bill whole)."""

    type: Literal["proration"]
    value: Literal["actual", "none"]

    def label(self) -> str:
        return f"proration {self.value}"
