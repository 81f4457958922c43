"""Exact money (spec section 3): one rounding rule, half away from zero, to ISO 4217 minor units.

`money.round_half_away` is the Python rule; `money.sql_round_minor` is the same rule as integer SQL
for the set-based path. Both are checked against `Fraction` arithmetic written out here.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.billing.invoice_store import TAX_SQL
from engine.errors import ValidationError
from engine.money import (
    MONEY_LIMIT,
    MONEY_MAX_DIGITS,
    PRICE_SCALE,
    QTY_FAST_LIMIT,
    QTY_MAX_DIGITS,
    QTY_SCALE,
    TAX_BOUNDS,
    round_half_away,
    round_minor,
    sql_price_scaled,
    sql_price_scaled_within,
    sql_qty_scaled,
    sql_round_minor,
    tax_minor,
    to_major,
)

HUGEINT_MAX = 2**127 - 1
BIGINT_MAX = 2**63 - 1


def reference_round(value: Fraction) -> int:
    """Nearest integer, exact halves away from zero, by comparing 2·|remainder| with the denominator."""
    sign = -1 if value < 0 else 1
    mag = abs(value)
    whole = mag.numerator // mag.denominator
    if 2 * (mag - whole) >= 1:
        whole += 1
    return sign * whole


# --- the Python rule -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, expected",
    [
        ("0", 0),
        ("0.5", 1),
        ("-0.5", -1),
        ("1.5", 2),
        ("2.5", 3),
        ("-2.5", -3),
        ("0.4999999999", 0),
        ("-0.4999999999", 0),
        ("0.5000000001", 1),
        ("7096.774193548", 7097),
        ("-7096.5", -7097),
        ("123456789012345678901234567890.5", 123456789012345678901234567891),
    ],
)
def test_round_half_away_rounds_exact_halves_away_from_zero(value, expected):
    assert round_half_away(Decimal(value)) == expected


def test_round_half_away_accepts_fractions_and_ints():
    assert round_half_away(Fraction(1100, 31)) == 35  # 35.48…
    assert round_half_away(Fraction(-1, 2)) == -1
    assert round_half_away(Fraction(1, 3)) == 0
    assert round_half_away(7) == 7


@pytest.mark.parametrize(
    "amount, currency, minor",
    [
        ("0.005", "USD", 1),
        ("-0.005", "USD", -1),
        ("0.0049999999", "USD", 0),
        ("35.4838709677", "USD", 3548),
        ("1.125", "USD", 113),
        ("-1.125", "USD", -113),
        ("0.015", "USD", 2),
        ("0.5", "JPY", 1),
        ("-0.5", "JPY", -1),
        ("1.4999", "JPY", 1),
        ("7096.77", "JPY", 7097),
        ("10000", "JPY", 10000),
        ("1.2345", "KWD", 1235),
        ("-1.2345", "KWD", -1235),
        ("0.0005", "KWD", 1),
        ("0.00049", "KWD", 0),
        ("1.25", "KWD", 1250),
    ],
)
def test_round_minor_uses_the_currency_minor_units_usd_jpy_kwd(amount, currency, minor):
    assert round_minor(Decimal(amount), currency) == minor


def test_round_minor_of_an_unknown_currency_is_a_validation_error():
    with pytest.raises(ValidationError, match="ISO 4217"):
        round_minor(Decimal("1.00"), "XYZ")


@pytest.mark.parametrize(
    "subtotal, rate, tax",
    [
        (16900, "10", 1690),
        (33548, "10", 3355),  # 335.48 × 10% = 33.548 -> 33.55 (basics K-STUB)
        (7097, "10", 710),  # JPY: 709.7 -> 710
        (1005, "10", 101),
        (1004, "10", 100),
        (-1005, "10", -101),
        (16900, "8.25", 1394),
        (0, "25", 0),
        (10, "5", 1),  # 0.5 minor unit -> 1
        (123, "0", 0),
    ],
)
def test_tax_minor_is_the_rounded_rate_of_the_subtotal(subtotal, rate, tax):
    assert tax_minor(subtotal, Decimal(rate)) == tax


@pytest.mark.parametrize(
    "minor, currency, text",
    [
        (3548, "USD", "35.48"),
        (7097, "JPY", "7097"),
        (1250, "KWD", "1.250"),
        (-5, "USD", "-0.05"),
        (0, "KWD", "0.000"),
    ],
)
def test_to_major_has_exactly_the_currency_decimals(minor, currency, text):
    assert str(to_major(minor, currency)) == text


@settings(deadline=None)
@given(
    st.decimals(
        min_value=Decimal("-1e15"),
        max_value=Decimal("1e15"),
        places=12,
        allow_nan=False,
        allow_infinity=False,
    ),
    st.sampled_from(["USD", "JPY", "KWD", "CLF"]),
)
def test_round_minor_equals_the_fraction_reference(amount, currency):
    exp = {"USD": 2, "JPY": 0, "KWD": 3, "CLF": 4}[currency]
    assert round_minor(amount, currency) == reference_round(Fraction(amount) * 10**exp)


# --- the SQL twin ------------------------------------------------------------------------------------

_SQL = sql_round_minor("n", "m", "p", "q")
_SQL_TAX_BOUNDS = sql_round_minor("n", "m", "p", "q", fast=TAX_BOUNDS)
_FROM = (
    "FROM (SELECT unnest(?::VARCHAR[])::HUGEINT AS n, unnest(?::VARCHAR[])::HUGEINT AS m, "
    "unnest(?::VARCHAR[])::HUGEINT AS p, unnest(?::VARCHAR[])::HUGEINT AS q)"
)


@pytest.fixture(scope="module")
def duck():
    c = duckdb.connect()
    yield c
    c.close()


def sql_round(con, rows: list[tuple[int, int, int, int]], sql: str = _SQL) -> list[int]:
    cols = [[str(r[i]) for r in rows] for i in range(4)]
    return [r[0] for r in con.execute(f"SELECT {sql} {_FROM}", cols).fetchall()]


# The divisor shapes the engine uses: 10^(18 − exp) for line amounts, 10^(12 − exp) for minimum
# commitments and delayed charges, 10^14 for tax.
POW10 = st.sampled_from([10**k for k in (8, 9, 10, 12, 14, 15, 16, 18)])
MULT = st.one_of(st.integers(0, 1000), st.integers(0, 366 * 10**8), st.just(10**14))
DEN = st.one_of(st.integers(1, 1000), st.integers(1, 366 * 10**8 * 100))
NUM = st.one_of(
    st.integers(-(10**30), 10**30),
    st.integers(-HUGEINT_MAX, HUGEINT_MAX),
    st.integers(HUGEINT_MAX - 10**6, HUGEINT_MAX),
    st.integers(-HUGEINT_MAX, -HUGEINT_MAX + 10**6),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(NUM, MULT, POW10, DEN), min_size=1, max_size=40))
def test_sql_round_minor_equals_the_fraction_reference_or_refuses_to_overflow(duck, rows):
    """Property: round_half_away(num × mult / (pow10 × den)) computed in DuckDB HUGEINT arithmetic is
    exactly the Fraction result whenever that fits a BIGINT; otherwise DuckDB raises (never a wrong
    number). Includes numerators near ±HUGEINT max."""
    fitting, overflowing = [], []
    for n, m, p, q in rows:
        ref = reference_round(Fraction(n * m, p * q))
        (fitting if abs(ref) <= BIGINT_MAX else overflowing).append(((n, m, p, q), ref))
    if fitting:
        assert sql_round(duck, [r for r, _ in fitting]) == [ref for _, ref in fitting]
    for row, ref in overflowing[:3]:
        with pytest.raises(duckdb.Error):
            got = sql_round(duck, [row])
            pytest.fail(f"{row}: expected an overflow error (exact result {ref}), got {got}")


@pytest.mark.parametrize(
    "n, m, p, q",
    [
        (5, 1, 10, 1),
        (-5, 1, 10, 1),
        (15, 1, 10, 1),
        (-15, 1, 10, 1),
        (4, 1, 10, 1),
        (-4, 1, 10, 1),
        (1, 1, 2, 1),
        (-1, 1, 2, 1),
        (1, 1, 3, 1),
        (0, 7, 10, 3),
        (50 * 10**16, 22, 10**16, 31),  # $50 × 22/31 at scale 18 -> 3548 cents
        (HUGEINT_MAX, 1, 10**18, 10**3),
        (-HUGEINT_MAX, 1, 10**18, 10**3),  # 1.7e17, fits a BIGINT
        (HUGEINT_MAX, 366 * 10**8, 10**18, 366 * 10**8 * 100),  # 1.7e18
        # on and just past the bounds of the one-division form (LINE_BOUNDS, TAX_BOUNDS): both forms agree
        (10**26, 10**11, 10**18, 3),
        (10**26 + 1, 10**11, 10**18, 3),
        (-(10**26) - 1, 10**11 + 1, 10**18, 7),
        (10**23 - 7, 10**14, 10**19, 3),
        (10**23 + 7, 10**14, 10**19, 3),
        (10**30, 10**7, 10**18, 3 * 10**10),
        (5 * 10**17, 1, 10**18, 10**18),  # pow10 × den = 10^36: still one division
        (5 * 10**17, 1, 10**18, 10**18 + 1),  # past it: the split form
    ],
)
@pytest.mark.parametrize("sql", [_SQL, _SQL_TAX_BOUNDS], ids=["line-bounds", "tax-bounds"])
def test_sql_round_minor_named_cases(duck, n, m, p, q, sql):
    """Exact halves (±0.5, ±1.5), a third, zero, the K-STUB proration and HUGEINT-limit numerators."""
    assert sql_round(duck, [(n, m, p, q)], sql) == [reference_round(Fraction(n * m, p * q))]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.integers(-(10**26), 10**26), st.integers(0, 10**11), POW10, DEN), min_size=1, max_size=40))
def test_the_bounded_form_equals_the_reference_within_its_bounds(duck, rows):
    """`bounded=True` (the caller's types keep the values within `fast`) writes only the one-division form."""
    rows = [r for r in rows if abs(reference_round(Fraction(r[0] * r[1], r[2] * r[3]))) <= BIGINT_MAX]
    bounded = sql_round_minor("n", "m", "p", "q", bounded=True)
    assert "ELSE" not in bounded.replace("ELSE 1 END", "")  # no split form, no test per row
    if rows:
        assert sql_round(duck, rows, bounded) == [reference_round(Fraction(n * m, p * q)) for n, m, p, q in rows]


def test_sql_round_minor_refuses_bounds_that_could_overflow():
    with pytest.raises(ValueError):
        sql_round_minor("n", "m", "p", "q", fast=(10**30, 10**8))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.integers(-(10**15), 10**15), st.decimals(min_value=0, max_value=100, places=4, allow_nan=False))
def test_tax_sql_equals_tax_minor(duck, subtotal, rate):
    """The invoice tax computed in SQL (refresh_totals, rating) equals the Python tax_minor."""
    got = duck.execute(
        f"SELECT {TAX_SQL} FROM (SELECT ?::BIGINT AS subtotal_minor, ?::DECIMAL(38,12) AS tax_rate)",
        [subtotal, str(rate)],
    ).fetchone()[0]
    assert got == tax_minor(subtotal, rate) == reference_round(Fraction(subtotal) * Fraction(rate) / 100)


# --- exact scaling of quantities: a 64-bit form below QTY_FAST_LIMIT, the 128-bit cast beyond --------------

_QTY_TOP = Decimal("9" * QTY_MAX_DIGITS + "." + "9" * QTY_SCALE)  # the largest quantity below the bound 10^26
_QTY = st.decimals(
    min_value=_QTY_TOP.copy_negate(),
    max_value=_QTY_TOP,
    places=QTY_SCALE,
    allow_nan=False,
    allow_infinity=False,
)
_EDGE = Decimal(QTY_FAST_LIMIT)
_QTY_EDGES = [
    _EDGE - Decimal("0.000001"),
    -(_EDGE - Decimal("0.000001")),
    _EDGE,
    -_EDGE,
    _EDGE + Decimal("0.000001"),
    -(_EDGE + Decimal("0.000001")),
    Decimal("0.000001"),
    Decimal("-0.000001"),
    Decimal(0),
    _QTY_TOP,
    _QTY_TOP.copy_negate(),
]


def _exact_scaled(v: Decimal) -> int:
    """v × 10^6 as an exact integer (Fraction: a Decimal operation would round to 28 digits)."""
    scaled = Fraction(v) * 10**QTY_SCALE
    assert scaled.denominator == 1
    return scaled.numerator


def _sql_scaled(con, values: list[Decimal]) -> list[int]:
    """value × 10^6 by sql_qty_scaled, for DECIMAL(38,6) `values`, in their order."""
    return [
        r[0]
        for r in con.execute(
            f"SELECT {sql_qty_scaled('x')} FROM (SELECT unnest(?::VARCHAR[])::DECIMAL(38,6) AS x, "
            "generate_subscripts(?::VARCHAR[], 1) AS i) ORDER BY i",
            [[str(v) for v in values], [str(v) for v in values]],
        ).fetchall()
    ]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(
        st.one_of(
            _QTY,
            st.decimals(min_value=-_EDGE * 2, max_value=_EDGE * 2, places=QTY_SCALE, allow_nan=False),
            st.sampled_from(_QTY_EDGES),
        ),
        min_size=1,
        max_size=40,
    )
)
def test_sql_qty_scaled_is_the_exact_integer_on_both_sides_of_the_fast_limit(duck, values):
    """sql_qty_scaled(q) = q × 10^6 exactly (the Fraction product), by the 64-bit form below 10^6 and the 128-bit
    cast from 10^6 on, up to the quantity bound 10^26."""
    assert _sql_scaled(duck, values) == [_exact_scaled(v) for v in values]


def test_sql_qty_scaled_at_its_edges(duck):
    """Named edges: ±(10^6 − 10^-6) take the 64-bit form, ±10^6 and beyond the 128-bit one; each exact; NULL stays
    NULL."""
    assert _sql_scaled(duck, _QTY_EDGES) == [_exact_scaled(v) for v in _QTY_EDGES]
    assert duck.execute(f"SELECT typeof({sql_qty_scaled('1.5::DECIMAL(38,6)')})").fetchone()[0] == "HUGEINT"
    assert duck.execute(f"SELECT {sql_qty_scaled('NULL::DECIMAL(38,6)')}").fetchone()[0] is None


_MONEY_TOP = Decimal("9" * MONEY_MAX_DIGITS + "." + "9" * PRICE_SCALE)  # the largest money value below the bound


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(
        st.one_of(
            st.decimals(
                min_value=_MONEY_TOP.copy_negate(),
                max_value=_MONEY_TOP,
                places=PRICE_SCALE,
                allow_nan=False,
                allow_infinity=False,
            ),
            st.decimals(min_value=Decimal(MONEY_LIMIT), max_value=Decimal(10) ** 25, places=0, allow_nan=False),
            st.sampled_from([_MONEY_TOP, _MONEY_TOP.copy_negate(), Decimal(MONEY_LIMIT), -Decimal(MONEY_LIMIT)]),
        ),
        min_size=1,
        max_size=40,
    )
)
def test_sql_price_scaled_within_is_the_scaled_value_below_the_bound_and_null_from_it_on(duck, values):
    """Below MONEY_LIMIT: sql_price_scaled's exact integer (value × 10^12); at and beyond it NULL, never the
    overflow that sql_price_scaled raises there (a row scaled ahead of time must not fail a rating it is not in)."""
    got = [
        r[0]
        for r in duck.execute(
            f"SELECT {sql_price_scaled_within('x')} FROM (SELECT unnest(?::VARCHAR[])::DECIMAL(38,12) AS x, "
            "generate_subscripts(?::VARCHAR[], 1) AS i) ORDER BY i",
            [[str(v) for v in values], [str(v) for v in values]],
        ).fetchall()
    ]
    expected = [(Fraction(v) * 10**PRICE_SCALE).numerator if abs(v) < MONEY_LIMIT else None for v in values]
    assert got == expected
    beyond = [v for v in values if abs(v) >= MONEY_LIMIT]
    if beyond:
        with pytest.raises(duckdb.OutOfRangeException):
            duck.execute(f"SELECT {sql_price_scaled('?::DECIMAL(38,12)')}", [str(beyond[0])]).fetchall()
