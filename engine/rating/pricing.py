"""Pricing models (spec section 3): price(q) of an already-aggregated quantity, one small unit each.

Pricing never reads usage: it receives the priced quantity. Every model yields its exact price as a
HUGEINT scaled by 10^18 (quantities carry 6 decimals, prices 12, so q × unit_price is exact at 18),
plus an extra divisor for models that divide (percentage: ÷100). Rounding happens later, once,
in `money.sql_round_minor`.

Columns available to the expressions (all HUGEINT, scaled as named):
    qn    priced quantity × 10^6          upn    unit_price × 10^12
    pkgn  package_size × 10^6             freen  free_units × 10^6
    ratn  percentage_rate × 10^12         feen   fixed_fee × 10^12
    n_rows  approved usage rows counted   tier_pn  Σ of the line's tier amounts (tiered models)
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ValidationError

E6 = "1000000::HUGEINT"


@dataclass(frozen=True)
class PriceSQL:
    numerator: str  # exact price × 10^18 (× extra_divisor)
    extra_divisor: int = 1


def _per_unit() -> PriceSQL:
    # price = q × unit_price
    return PriceSQL("qn * upn")


def _package() -> PriceSQL:
    # price = ceil(max(0, q − free_units) / package_size) × unit_price; ceil(a/b) = (a + b − 1) // b
    packages = "((greatest(qn - coalesce(freen, 0), 0) + pkgn - 1) // pkgn)"
    return PriceSQL(f"{packages} * upn * {E6}")


def _percentage() -> PriceSQL:
    # price = q × rate / 100 + fixed_fee × rows  =  (q × rate + fixed_fee × rows × 100) / 100
    return PriceSQL(f"qn * ratn + coalesce(feen, 0) * {E6} * n_rows * 100", extra_divisor=100)


def _tiered() -> PriceSQL:
    # graduated and volume: the tier stage has already summed the tier amounts (see tier_amount_sql)
    return PriceSQL("tier_pn")


MODELS = {
    "flat": _per_unit,
    "per_unit": _per_unit,
    "package": _package,
    "percentage": _percentage,
    "graduated": _tiered,
    "volume": _tiered,
}
TIERED = ("graduated", "volume")


def price_sql(model: str) -> PriceSQL:
    try:
        return MODELS[model]()
    except KeyError:
        raise ValidationError(f"unknown pricing model {model!r}") from None


def price_case_sql() -> tuple[str, str]:
    """(numerator, extra divisor) as CASE expressions over the row's pricing_model."""
    nums = " ".join(f"WHEN '{m}' THEN {price_sql(m).numerator}" for m in MODELS)
    divs = " ".join(f"WHEN '{m}' THEN {price_sql(m).extra_divisor}" for m in MODELS)
    return f"(CASE pricing_model {nums} END)", f"(CASE pricing_model {divs} END)"


def tier_applies_sql() -> str:
    """Whether tier (lower, up_to] takes part in price(q).

    graduated: every tier with q > lower;  volume: only the tier that contains q (0 -> none)."""
    return "(CASE pricing_model WHEN 'graduated' THEN q > lower ELSE q > lower AND (up_to IS NULL OR q <= up_to) END)"


def tier_units_sql() -> str:
    """Units billed in the tier: graduated min(q, up_to) − lower; volume all of q."""
    return (
        "(CASE WHEN NOT applies THEN 0 WHEN pricing_model = 'graduated' "
        "THEN least(q, coalesce(up_to, q)) - lower ELSE q END)"
    )


def tier_amount_sql() -> str:
    """Tier amount × 10^18: units × tier unit_price + flat_fee (when the tier applies)."""
    return (
        f"((units * 1000000)::HUGEINT * (t_unit_price * 1000000000000)::HUGEINT "
        f"+ CASE WHEN applies THEN (t_flat_fee * 1000000000000)::HUGEINT * {E6} ELSE 0 END)"
    )
