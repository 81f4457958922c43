"""Minor -> major conversion and display: one Python function each, and one SQL text that agrees with them."""

from __future__ import annotations

from decimal import Decimal

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.currencies import MINOR_UNITS
from engine.money import (
    exact_minor,
    format_code,
    format_code_major,
    format_major,
    format_money,
    sql_code_money_text,
    sql_grouped_money_text,
    sql_grouped_text,
    sql_major_text,
    sql_plain_text,
    to_major,
)

CURRENCIES = sorted(MINOR_UNITS)


@pytest.fixture(scope="module")
def duck():
    con = duckdb.connect()
    yield con
    con.close()


@settings(max_examples=300, deadline=None)
@given(
    minor=st.one_of(st.integers(-(2**63), 2**63 - 1), st.integers(-1000, 1000)),
    currency=st.sampled_from(CURRENCIES),
)
def test_sql_major_text_is_the_text_of_to_major_for_every_currency(duck, minor, currency):
    exp = MINOR_UNITS[currency]
    # exp as an SQL expression with its scale column, as the writers join them
    sql = f"SELECT {sql_major_text('m', 'e')} FROM (SELECT ?::BIGINT AS m, ?::INTEGER AS e)"
    assert duck.execute(sql, [minor, exp]).fetchone()[0] == str(to_major(minor, currency))


@pytest.mark.parametrize(
    "minor, exp, text",
    [
        (3550, 2, "35.50"),
        (-5, 2, "-0.05"),
        (7097, 0, "7097"),
        (-7097, 0, "-7097"),
        (1250, 3, "1.250"),
        (0, 6, "0.000000"),
    ],
)
def test_sql_major_text_with_a_literal_exponent(duck, minor, exp, text):
    sql = f"SELECT {sql_major_text('m', exp)} FROM (SELECT ?::BIGINT AS m)"
    assert duck.execute(sql, [minor]).fetchone()[0] == text


def _boundaries() -> list[tuple[int, int]]:
    """Amounts at and around the edge between the 64-bit and the 128-bit text of each exponent, and the ends of
    BIGINT, HUGEINT amounts beyond it too (a sum of amounts can be one)."""
    cases = []
    for exp in (0, 1, 2, 3, 4, 6, 12, 13):
        edge = 2**63 if exp == 0 else 10 ** (17 - exp)
        for minor in (edge - 1, edge, edge + 1, 2**63 - 1, 2**63, 10**24 + 7, 0, 1, 5):
            cases += [(minor, exp), (-minor, exp)]
    return cases


@pytest.mark.parametrize("minor, exp", _boundaries())
def test_sql_major_text_is_exact_on_both_sides_of_its_64_bit_form(duck, minor, exp):
    sql = f"SELECT {sql_major_text('m', exp)}, {sql_major_text('m', 'e')} FROM (SELECT ?::HUGEINT m, ?::INTEGER e)"
    literal, by_column = duck.execute(sql, [minor, exp]).fetchone()
    digits = str(abs(minor)).rjust(exp + 1, "0")  # the text by hand: every digit, exp of them after the point
    expected = ("-" if minor < 0 else "") + (f"{digits[:-exp]}.{digits[-exp:]}" if exp else digits)
    assert literal == expected
    if exp in set(MINOR_UNITS.values()):
        assert by_column == expected


@pytest.mark.parametrize(
    "amount, currency, minor",
    [
        ("35.48", "USD", 3548),
        ("35.480000", "USD", 3548),
        ("12.345", "USD", None),
        ("7097", "JPY", 7097),
        ("0.5", "JPY", None),
        ("1.250", "KWD", 1250),
    ],
)
def test_exact_minor_converts_only_amounts_the_currency_can_hold(amount, currency, minor):
    assert exact_minor(Decimal(amount), currency) == minor


@pytest.mark.parametrize(
    "amount, currency, text",
    [
        ("35.48", "USD", "$35.48"),
        ("18.405", "USD", "18.405 USD"),
        ("-1234.5", "USD", "-$1,234.50"),
        ("7097", "JPY", "¥7,097"),
        ("1.25", "KWD", "KWD 1.250"),
    ],
)
def test_format_major_is_format_money_of_the_exact_minor_amount_else_the_exact_text(amount, currency, text):
    assert format_major(Decimal(amount), currency) == text
    minor = exact_minor(Decimal(amount), currency)
    if minor is not None:
        assert text == format_money(minor, currency)


@settings(max_examples=300, deadline=None)
@given(
    minor=st.one_of(st.integers(-(2**63), 2**63 - 1), st.integers(-(2**70), 2**70), st.integers(-100_000, 100_000)),
    currency=st.sampled_from(CURRENCIES),
)
def test_sql_grouped_money_text_is_the_grouped_text_of_to_major(duck, minor, currency):
    """The reasons' amounts: f"{to_major(m, c):,}" (BIGINT and beyond, every currency's decimals)."""
    exp = MINOR_UNITS[currency]
    args = "SELECT ?::HUGEINT AS m, ?::INTEGER AS e, ?::HUGEINT AS s"
    sql = f"SELECT {sql_grouped_money_text('m', 'e', 's')} FROM ({args})"
    assert duck.execute(sql, [minor, exp, 10**exp]).fetchone()[0] == f"{to_major(minor, currency):,}"


@settings(max_examples=300, deadline=None)
@given(
    minor=st.one_of(st.integers(-(2**63), 2**63 - 1), st.integers(-(2**70), 2**70), st.integers(-100_000, 100_000)),
    currency=st.sampled_from(CURRENCIES),
)
def test_the_reasons_amount_text_is_format_code(duck, minor, currency):
    """One rule for an amount of the review: the reasons write it in SQL, the Review page beside them in Python."""
    args = "SELECT ?::VARCHAR AS c, ?::HUGEINT AS m, ?::INTEGER AS e, ?::HUGEINT AS s"
    sql = f"SELECT {sql_code_money_text('m', 'c', 'e', 's')} FROM ({args})"
    exp = MINOR_UNITS[currency]
    assert duck.execute(sql, [currency, minor, exp, 10**exp]).fetchone()[0] == format_code(minor, currency)


@pytest.mark.parametrize(
    "amount, currency, text",
    [
        ("5496.98", "AUD", "AUD 5,496.98"),
        ("-5", "USD", "USD -5.00"),
        ("-0.05", "USD", "USD -0.05"),
        ("568013", "JPY", "JPY 568,013"),
        ("1.25", "KWD", "KWD 1.250"),
        ("10.005", "USD", "USD 10.005"),  # more decimals than the currency: exactly, as a reason's threshold
        ("12345.0050", "USD", "USD 12,345.005"),
    ],
)
def test_format_code_major_writes_the_code_and_the_exact_amount(amount, currency, text):
    assert format_code_major(Decimal(amount), currency) == text
    minor = exact_minor(Decimal(amount), currency)
    if minor is not None:
        assert text == format_code(minor, currency)


@settings(max_examples=300, deadline=None)
@given(value=st.decimals(min_value=-(10**21) + 1, max_value=10**21 - 1, places=6, allow_nan=False))
def test_sql_plain_and_grouped_text_are_pythons_texts_of_a_quantity(duck, value):
    """A DECIMAL(38,6) without trailing zeros (format(normalize, 'f')), and that text with thousands separators.
    (Within 28 digits, where Python's normalize is exact; beyond, the SQL text keeps every digit.)"""
    sql = f"SELECT {sql_plain_text('v')}, {sql_grouped_text(sql_plain_text('v'))} FROM (SELECT ?::DECIMAL(38,6) AS v)"
    plain = format(value.normalize(), "f")
    assert duck.execute(sql, [value]).fetchone() == (plain, f"{Decimal(plain):,}")
