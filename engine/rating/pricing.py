"""Pricing models (spec section 3): THE registry of models, one small unit each, and their price SQL.

`PRICING_MODELS` is the one place a model is defined: its name, its price formula, the order-line
columns a line of it must have, and whether it is priced by tiers. The importer's field rules,
the rating SQL, the what-if changes and the workbench all read it; an unknown model raises.

Pricing never reads usage: it receives the priced quantity. Every model yields its exact price as a
HUGEINT scaled by 10^18 (quantities carry 6 decimals, prices 12, so q × unit_price is exact at 18),
plus an extra divisor for models that divide (percentage: ÷100). Rounding happens later, once,
in `money.sql_round_minor`.

Columns available to the expressions (all HUGEINT, scaled as named):
    qn    priced quantity × 10^6          upn    unit_price × 10^12
    pkgn  package_size × 10^6             freen  free_units × 10^6
    ratn  percentage_rate × 10^12         feen   fixed_fee × 10^12
    n_rows  approved usage rows counted   tier_pn  Σ of the line's tier amounts (tiered models)
The order-line columns are scaled once per order line (pipeline._scaled_order_lines_sql), qn once per rated
line (money.sql_qty_scaled). Tier expressions read one tier row: q (DECIMAL), lower and up_to (the tier's bounds,
up_to NULL when unbounded), t_upn and t_feen (its unit_price and flat_fee × 10^12), and `applies` once computed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import ValidationError
from ..money import sql_qty_scaled

E6 = "1000000::HUGEINT"


@dataclass(frozen=True)
class PriceSQL:
    numerator: str  # exact price × 10^18 (× extra_divisor)
    extra_divisor: int = 1


@dataclass(frozen=True)
class TierRule:
    """How a tiered model reads its tiers: which tiers take part, and how many units each bills."""

    applies: str  # SQL condition on one tier row
    units: str  # SQL units billed in the tier, when it applies


@dataclass(frozen=True)
class PricingModel:
    name: str
    price: PriceSQL
    # order_lines columns a line of this model must have (the importer refuses a line without them)
    required: tuple[str, ...] = ()
    # order_lines columns that must be more than 0 when given (a package of 0 units has no price)
    positive: tuple[str, ...] = ()
    # None: the model has no tiers, and a tier of such a line is refused. Otherwise the line needs tiers.
    tiers: TierRule | None = None

    @property
    def tiered(self) -> bool:
        return self.tiers is not None

    @property
    def priced_by_unit_price(self) -> bool:
        """Its line's unit_price is its price: shown on the invoice line, and a what-if may set it."""
        return "unit_price" in self.required


# price = q × unit_price
_PER_UNIT = PriceSQL("qn * upn")
# price = ceil(max(0, q − free_units) / package_size) × unit_price; ceil(a/b) = (a + b − 1) // b
# PACKAGES_SQL, the packs billed, is also a member of the line's breakdown (pipeline.py): its explanation reads it
PACKAGES_SQL = "((greatest(qn - coalesce(freen, 0), 0) + pkgn - 1) // pkgn)"
_PACKAGE = PriceSQL(f"{PACKAGES_SQL} * upn * {E6}")
# price = q × rate / 100 + fixed_fee × rows  =  (q × rate + fixed_fee × rows × 100) / 100
_PERCENTAGE = PriceSQL(f"qn * ratn + coalesce(feen, 0) * {E6} * n_rows * 100", extra_divisor=100)
# graduated and volume: the tier stage has already summed the tier amounts (see tier_amount_sql)
_TIERED = PriceSQL("tier_pn")

# In the spec's order (section 1): the importer lists the allowed values in this order.
PRICING_MODELS: dict[str, PricingModel] = {
    m.name: m
    for m in (
        PricingModel("flat", _PER_UNIT, required=("unit_price",)),
        PricingModel("per_unit", _PER_UNIT, required=("unit_price",)),
        # every tier with q > lower, for min(q, up_to) − lower units
        PricingModel("graduated", _TIERED, tiers=TierRule("q > lower", "least(q, coalesce(up_to, q)) - lower")),
        # only the tier that contains q (none when q = 0), for all of q
        PricingModel("volume", _TIERED, tiers=TierRule("q > lower AND (up_to IS NULL OR q <= up_to)", "q")),
        PricingModel("package", _PACKAGE, required=("unit_price", "package_size"), positive=("package_size",)),
        PricingModel("percentage", _PERCENTAGE, required=("percentage_rate",)),
    )
}
assert all(re.fullmatch(r"[a-z_]+", name) for name in PRICING_MODELS)  # safe to write as SQL literals


def pricing_model(name: str) -> PricingModel:
    try:
        return PRICING_MODELS[name]
    except KeyError:
        raise ValidationError(f"unknown pricing model {name!r}") from None


def model_names() -> tuple[str, ...]:
    return tuple(PRICING_MODELS)


def tiered_models() -> tuple[str, ...]:
    """Models priced by price tiers: their lines need tiers; no other line may have any."""
    return tuple(m.name for m in PRICING_MODELS.values() if m.tiered)


def unit_price_models() -> tuple[str, ...]:
    """Models whose price is the line's unit_price (times a quantity or a package count)."""
    return tuple(m.name for m in PRICING_MODELS.values() if m.priced_by_unit_price)


def models_requiring(column: str) -> tuple[str, ...]:
    return tuple(m.name for m in PRICING_MODELS.values() if column in m.required)


def models_in_sql(names: tuple[str, ...]) -> str:
    """An SQL list of model names, `('graduated', 'volume')`: names from the registry, never user text."""
    return "(" + ", ".join(f"'{pricing_model(n).name}'" for n in names) + ")"


def price_case_sql(models: tuple[str, ...] | None = None) -> tuple[str, str]:
    """(numerator, extra divisor) as CASE expressions over the row's pricing_model; with `models`, only
    theirs (the rows hold no other model: a smaller expression to plan), else every model's."""
    chosen = [PRICING_MODELS[m] for m in models] if models else list(PRICING_MODELS.values())
    nums = " ".join(f"WHEN '{m.name}' THEN {m.price.numerator}" for m in chosen)
    divs = " ".join(f"WHEN '{m.name}' THEN {m.price.extra_divisor}" for m in chosen)
    return f"(CASE pricing_model {nums} END)", f"(CASE pricing_model {divs} END)"


def _tier_case(part: str) -> str:
    whens = " ".join(f"WHEN '{m.name}' THEN {getattr(m.tiers, part)}" for m in PRICING_MODELS.values() if m.tiered)
    return f"(CASE pricing_model {whens} END)"


def tier_applies_sql() -> str:
    """Whether tier (lower, up_to] takes part in price(q), by the line's model (see PRICING_MODELS)."""
    return _tier_case("applies")


def tier_units_sql() -> str:
    """Units billed in the tier (0 when it does not apply), by the line's model."""
    return f"(CASE WHEN NOT applies THEN 0 ELSE {_tier_case('units')} END)"


def tier_amount_sql() -> str:
    """Tier amount × 10^18: units × tier unit_price + flat_fee (when the tier applies); t_upn and t_feen are the
    tier's unit_price and flat_fee × 10^12 (HUGEINT, scaled once per tier)."""
    return f"({sql_qty_scaled('units')} * t_upn + CASE WHEN applies THEN t_feen * {E6} ELSE 0 END)"
