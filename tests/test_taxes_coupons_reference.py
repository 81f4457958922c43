"""The coupon split and the per-code taxes of the SQL pipeline against a small reference written from spec
section 11 alone, with Fractions (it shares no code with the engine, not even its rounding).

For random invoices (order lines with amounts of either sign, codes of their own, 'none' or the customer's;
a customer with tax codes or a single tax_rate; up to three coupons of both kinds, some limited to products)
the engine must give exactly the reference's discount per line, amount and base per coupon, and base and
amount per tax. And whatever the reference says: the shares of a coupon sum to its amount, no line's discount
exceeds what it had, and every tax is computed on the discounted base."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

import pytest
from helpers_data import add_contract, add_coupon, add_customer, add_line, add_tax, apply_coupon, clear_all
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.billing.invoices import preview_invoice
from engine.db import connect

MARCH = dt.date(2026, 3, 15)
DECIMALS = {"USD": 2, "JPY": 0, "KWD": 3}
RATES = {"T1": Fraction(5), "T2": Fraction("7.25"), "T3": Fraction("2.375")}


def half_away(x: Fraction) -> int:
    """Nearest integer, halves away from zero (written here, not taken from the engine)."""
    sign = -1 if x < 0 else 1
    whole, rest = divmod(abs(x.numerator), x.denominator)
    return sign * (whole + (1 if 2 * rest >= x.denominator else 0))


@dataclass(frozen=True)
class Line:
    line_id: str
    product: str
    amount: int  # minor units
    codes: tuple[str, ...] | str | None  # own codes, 'none' (exempt) or None (the customer's)


@dataclass(frozen=True)
class Coupon:
    coupon_id: str
    fixed: int | None  # minor units
    percent: Fraction | None
    products: tuple[str, ...] | None
    applied_on: dt.date


def reference(lines: list[Line], coupons: list[Coupon], customer_codes, legacy_rate: Fraction):
    """Spec section 11, step by step: (discount per line, [(coupon, base, amount)], {code: (base, tax)})."""
    discount = {ln.line_id: 0 for ln in lines}
    taken = []
    order = sorted(coupons, key=lambda c: (c.products is None, c.applied_on, c.coupon_id))
    for c in order:
        eligible = [ln for ln in lines if c.products is None or ln.product in c.products]
        left = {ln.line_id: max(0, ln.amount - discount[ln.line_id]) for ln in eligible}
        base = sum(left.values())
        amount = min(c.fixed, base) if c.fixed is not None else half_away(Fraction(base) * c.percent / 100)
        if base:
            exact = {i: Fraction(amount * e, base) for i, e in left.items()}
            share = {i: x.numerator // x.denominator for i, x in exact.items()}
            leftover = amount - sum(share.values())
            by_remainder = sorted(exact, key=lambda i: (-(exact[i] - share[i]), i))
            for i in by_remainder[:leftover]:
                share[i] += 1
            for i, s in share.items():
                discount[i] += s
        taken.append((c.coupon_id, base, amount))
    bases: dict[str | None, int] = {}
    for ln in lines:
        codes = ln.codes if ln.codes is not None else customer_codes
        if codes == "none":
            continue
        for code in codes if codes is not None else (None,):  # None: the customer's single tax_rate
            bases[code] = bases.get(code, 0) + ln.amount - discount[ln.line_id]
    taxes = {}
    for code, base in bases.items():
        rate = legacy_rate if code is None else RATES[code]
        if code is None and rate == 0:
            continue
        taxes[code] = (base, half_away(Fraction(base) * rate / 100))
    return discount, taken, taxes


codes_st = st.lists(st.sampled_from(sorted(RATES)), min_size=1, max_size=3, unique=True).map(lambda c: tuple(sorted(c)))
line_st = st.builds(
    lambda product, amount, codes: (product, amount, codes),
    st.sampled_from(["P0", "P1", "P2"]),
    st.one_of(st.integers(-3000, 30000), st.sampled_from([0, 1, 100, 500, 1001])),
    st.one_of(st.none(), st.just("none"), codes_st),
)
coupon_st = st.builds(
    lambda fixed, percent, products, later: (fixed, percent, products, later),
    st.one_of(st.none(), st.integers(1, 40000)),
    st.sampled_from([Fraction(1, 2), Fraction(10), Fraction("33.3333"), Fraction(50), Fraction(100)]),
    st.one_of(st.none(), st.lists(st.sampled_from(["P0", "P1", "P2"]), min_size=1, max_size=2, unique=True)),
    st.booleans(),
)


@pytest.fixture(scope="module")
def db():
    con = connect(":memory:")
    yield con
    con.close()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    currency=st.sampled_from(sorted(DECIMALS)),
    raw_lines=st.lists(line_st, min_size=1, max_size=5),
    raw_coupons=st.lists(coupon_st, max_size=3),
    customer=st.one_of(codes_st, st.sampled_from([Fraction(0), Fraction("8.25"), Fraction(20)])),
)
def test_the_pipeline_equals_the_reference_and_keeps_the_split_invariants(
    db, currency, raw_lines, raw_coupons, customer
):
    con = db
    clear_all(con)
    scale = 10 ** DECIMALS[currency]
    for code, rate in RATES.items():
        add_tax(con, code, str(Decimal(rate.numerator) / Decimal(rate.denominator)))
    customer_codes = ";".join(customer) if isinstance(customer, tuple) else None
    legacy = customer if isinstance(customer, Fraction) else Fraction(0)
    add_customer(
        con,
        "C1",
        currency=currency,
        tax_codes=customer_codes,
        tax_rate=str(Decimal(legacy.numerator) / legacy.denominator),
    )
    add_contract(con, "K1", "C1", "2026-01-01", billing_cycle_start_day=1)
    lines = []
    for n, (product, amount, codes) in enumerate(raw_lines):
        line_id = f"L{(n * 7) % 10}"  # ids out of invoice order: ties must go to the smaller id, not the first line
        own = codes if codes in (None, "none") else ";".join(codes)
        add_line(con, line_id, "K1", product=product, unit_price=str(Decimal(amount) / scale), tax_codes=own)
        lines.append(Line(line_id, product, amount, codes))
    coupons = []
    for n, (fixed, percent, products, later) in enumerate(raw_coupons):
        on = dt.date(2026, 2, 1) if later else dt.date(2026, 1, 1)
        coupon_id = "ABC"[n]
        add_coupon(
            con,
            coupon_id,
            amount=None if fixed is None else str(Decimal(fixed) / scale),
            currency=currency,
            percent=None if fixed is not None else str(Decimal(percent.numerator) / percent.denominator),
            products=None if products is None else ";".join(sorted(products)),
        )
        apply_coupon(con, "K1", coupon_id, on)
        coupons.append(Coupon(coupon_id, fixed, percent if fixed is None else None, products and tuple(products), on))
    customer_side = customer if isinstance(customer, tuple) else None
    want_discount, want_coupons, want_taxes = reference(lines, coupons, customer_side, legacy)

    inv = preview_invoice(con, "K1", MARCH)
    got_discount = {ln.line_id: ln.discount_minor for ln in inv.lines}
    assert got_discount == want_discount
    assert [(c.coupon_id, c.base_minor, c.amount_minor) for c in inv.coupons] == want_coupons
    assert {t.code: (t.base_minor, t.amount_minor) for t in inv.taxes} == want_taxes
    # the invariants, on the reference itself and so on the engine that equals it
    assert sum(a for _, _, a in want_coupons) == sum(want_discount.values()) == inv.discount_minor
    for ln in lines:
        assert 0 <= want_discount[ln.line_id] <= max(0, ln.amount)
    assert inv.tax_minor == sum(t for _, t in want_taxes.values())
    assert inv.total_minor == inv.subtotal_minor - inv.discount_minor + inv.tax_minor
