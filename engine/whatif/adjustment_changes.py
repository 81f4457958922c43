"""What-if changes of taxes and coupons (spec section 11), and the union of every change type.

    {"type": "coupon", "coupon": {...coupons.csv fields...}, "contract_ids": [...] | "products": [...],
     "applied_on": "D"}
        a NEW coupon, applied on `applied_on` to the listed contracts, or to every contract with a line of
        one of `products`, or (neither given) to every contract; a coupon naming a business applies only to
        that business's contracts (listing another business's contract is an error)
    {"type": "tax", "tax_code": "T", "rate": "21"}
        the rate of an existing tax code (percent, 0 to 100, at most 4 decimals)

The coupon is checked by the import's rules (engine/ingest/import_rules.py): a fixed coupon needs an amount
above 0 with no more decimals than its currency has, a percentage one 0 < percent ≤ 100, a recurring one
its periods (≥ 1); a limited coupon's products must be sold.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..currencies import MINOR_UNITS, is_currency
from ..ingest.import_rules import MAX_COUPON_PERIODS
from ..limits import MAX_NAME
from ..money import TAX_RATE_DECIMALS, format_major
from .changes import (
    PERCENT_DECIMALS,
    PRICE_DECIMALS,
    ChangeBase,
    ChurnChange,
    KnownData,
    MinimumCommitmentChange,
    Number,
    PriceChange,
    ProrationChange,
    TiersChange,
    UsageChange,
    check_decimal,
    decimal_places,
)

HUNDRED = Decimal(100)


class CouponSpec(BaseModel):
    """A coupon as a row of coupons.csv: the same fields and rules (spec section 11)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    coupon_id: str = Field(min_length=1, max_length=MAX_NAME)
    name: str = Field(min_length=1, max_length=MAX_NAME)
    business_id: str | None = None
    kind: Literal["fixed", "percentage"]
    amount: Number | None = None
    currency: str | None = None
    percent: Number | None = None
    frequency: Literal["once", "recurring", "forever"]  # import_rules.COUPON_FREQUENCIES
    periods: int | None = Field(None, ge=1, le=MAX_COUPON_PERIODS)
    products: list[str] | None = None

    @field_validator("coupon_id")
    @classmethod
    def _no_separator(cls, v: str) -> str:
        if ";" in v:
            raise ValueError(f"coupon_id {v!r} cannot contain ';'")
        return v

    @field_validator("products", mode="before")
    @classmethod
    def _products(cls, v):
        """`products` as in coupons.csv ('A;B') or as a list; items trimmed, none empty."""
        if isinstance(v, str):
            v = v.split(";")
        if isinstance(v, list):
            items = [p.strip() if isinstance(p, str) else p for p in v]
            if any(p == "" for p in items):
                raise ValueError("products has an empty item")
            return items or None
        return v

    @field_validator("amount")
    @classmethod
    def _amount(cls, v):
        return check_decimal(v, PRICE_DECIMALS, "coupon amount")

    @field_validator("percent")
    @classmethod
    def _percent(cls, v):
        return check_decimal(v, PERCENT_DECIMALS, "coupon percent")

    def terms(self) -> str:
        """'10 % off, forever', '$10.00 off, recurring 3 cycles, Hosting only', '€2.00 off, once'."""
        if self.kind == "percentage":
            off = f"{format(self.percent.normalize(), 'f')} % off"
        else:
            off = f"{format_major(self.amount, self.currency)} off"
        how = f"recurring {self.periods} cycle{'s' if self.periods != 1 else ''}" if self.periods else self.frequency
        limited = f", {', '.join(self.products)} only" if self.products else ""
        return f"{off}, {how}{limited}"

    @model_validator(mode="after")
    def _by_kind(self):
        if self.kind == "fixed":
            if self.amount is None or self.currency is None:
                raise ValueError("a fixed coupon needs an amount and a currency")
            if not is_currency(self.currency):
                raise ValueError(f"unknown currency {self.currency!r}: not an ISO 4217 code")
            if self.amount <= 0:
                raise ValueError("a fixed coupon's amount must be more than 0")
            if decimal_places(self.amount.normalize()) > MINOR_UNITS[self.currency]:
                raise ValueError(f"coupon amount {self.amount} has more decimals than {self.currency} has")
            if self.percent is not None:
                raise ValueError("a fixed coupon has an amount, not a percent")
        else:
            if self.percent is None or not (0 < self.percent <= HUNDRED):
                raise ValueError("a percentage coupon needs a percent more than 0 and at most 100")
            if self.amount is not None or self.currency is not None:
                raise ValueError("a percentage coupon has a percent, not an amount or a currency")
        if (self.frequency == "recurring") != (self.periods is not None):
            raise ValueError("a recurring coupon needs periods (at least 1); only a recurring coupon has them")
        return self


class CouponChange(ChangeBase):
    """A new coupon applied on `applied_on` to the selected contracts (see the module doc)."""

    type: Literal["coupon"]
    coupon: CouponSpec
    contract_ids: list[str] | None = Field(None, min_length=1)  # absent, not empty: every contract
    products: list[str] | None = Field(None, min_length=1)
    applied_on: dt.date

    @model_validator(mode="after")
    def _one_selection(self):
        if self.contract_ids is not None and self.products is not None:
            raise ValueError("a coupon change selects contracts by 'contract_ids' or by 'products', not both")
        return self

    def label(self) -> str:
        if self.contract_ids is not None:
            head = ", ".join(self.contract_ids[:3])
            target = head + (f" +{len(self.contract_ids) - 3}" if len(self.contract_ids) > 3 else "")
        elif self.products is not None:
            target = "contracts with " + ", ".join(self.products)
        else:
            target = "every contract"
        return f"coupon {self.coupon.coupon_id} ({self.coupon.terms()}) on {target} from {self.applied_on}"

    def problems(self, known: KnownData) -> list[str]:
        out = []
        if known.coupon_exists(self.coupon.coupon_id):
            out.append(
                f"{self.label()}: coupon {self.coupon.coupon_id!r} already exists (give the new coupon its own id)"
            )
        unknown_products = [
            p for p in [*(self.products or []), *(self.coupon.products or [])] if p not in known.products
        ]
        if unknown_products:
            out.append(f"{self.label()}: unknown product(s) {', '.join(map(repr, dict.fromkeys(unknown_products)))}")
        if self.contract_ids is not None:
            unknown = known.unknown_contracts(self.contract_ids)
            if unknown:
                out.append(f"{self.label()}: unknown contract(s) {', '.join(map(repr, unknown))}")
            elif self.coupon.business_id is not None:
                other = known.contracts_of_other_businesses(self.contract_ids, self.coupon.business_id)
                if other:
                    out.append(
                        f"{self.label()}: contract(s) {', '.join(map(repr, other))} are not of business "
                        f"{self.coupon.business_id!r}, the coupon's"
                    )
        return out


class TaxChange(ChangeBase):
    """The rate of an existing tax code."""

    type: Literal["tax"]
    tax_code: str
    rate: Number

    @field_validator("rate")
    @classmethod
    def _rate(cls, v):
        v = check_decimal(v, TAX_RATE_DECIMALS, "tax rate")
        if v > HUNDRED:
            raise ValueError(f"tax rate must be at most 100, got {v}")
        return v

    def label(self) -> str:
        return f"tax {self.tax_code} = {format(self.rate.normalize(), 'f')} %"

    def problems(self, known: KnownData) -> list[str]:
        return [] if known.tax_code_exists(self.tax_code) else [f"{self.label()}: unknown tax code {self.tax_code!r}"]


Change = Annotated[
    PriceChange
    | UsageChange
    | TiersChange
    | ChurnChange
    | MinimumCommitmentChange
    | ProrationChange
    | CouponChange
    | TaxChange,
    Field(discriminator="type"),
]
CHANGE_TYPES = ("price", "usage", "tiers", "churn", "minimum_commitment", "proration", "coupon", "tax")
