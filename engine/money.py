"""Exact money: the one definition of rounding and of minor-unit conversion.

Amounts are `Decimal` in Python, DECIMAL in DuckDB, and integer minor units once rounded.
Rounding is half away from zero (`round_half_away`), done once per invoice line and once
for tax. `sql_round_minor` is the same rule written as integer SQL for the set-based path;
`tests/test_money.py` checks that the two agree.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

from .currencies import MINOR_UNITS, SYMBOLS, minor_units

BIGINT_MAX = 2**63 - 1  # amounts are stored as BIGINT minor units

# --- magnitude bounds: ONE definition, read by the importer (it refuses beyond them) and the engine ---
# Rating turns each stored decimal into an exact integer, `value × 10^s` (s = its column's scale), in
# DuckDB's DECIMAL(38, s) arithmetic before the cast to HUGEINT (e.g. `unit_price * 1000000000000`).
# The product keeps scale s, so it must fit 38 digits of which s are decimals:
#     |value| · 10^s < 10^(38 − s)   ⇔   |value| < 10^(38 − 2s)
#     money (prices, fees, rates, commitments, delayed charges; DECIMAL(38,12), s = 12):  < 10^14
#     quantities (line quantity, package size, free units, tier bounds; DECIMAL(38,6), s = 6):  < 10^26
# A money value below its bound is, on its own (quantity 1, a whole period), also a storable amount
# in every currency: 10^14 major units × 10^4 (the most minor-unit decimals, CLF) = 10^18 < BIGINT_MAX.
# Products of in-range values can still exceed what a line holds (10^14 × 10^26): that contract or
# that charge then fails alone, with its reason (bill runs isolate it).
PRICE_SCALE = 12  # decimals of a money value in major units
QTY_SCALE = 6  # decimals of a quantity
DECIMAL_DIGITS = 38
MONEY_MAX_DIGITS = DECIMAL_DIGITS - 2 * PRICE_SCALE  # 14 digits before the point
QTY_MAX_DIGITS = DECIMAL_DIGITS - 2 * QTY_SCALE  # 26 digits before the point
USAGE_QTY_MAX_DIGITS = 12  # usage.quantity is the narrower DECIMAL(18,6) (10M-row tables)
TAX_RATE_DECIMALS = 4  # a tax rate (taxes.csv, spec section 11): percent, at most 4 decimals, from 0 to 100
MONEY_LIMIT = 10**MONEY_MAX_DIGITS  # exclusive: |money value| < MONEY_LIMIT
PRICE_UNIT = 10**PRICE_SCALE  # a money value (DECIMAL(38,12)) × PRICE_UNIT is an exact integer
if MONEY_LIMIT * 10 ** max(MINOR_UNITS.values()) > BIGINT_MAX:
    raise AssertionError("a money value within the bound must be a storable amount in every currency")


def round_half_away(value: Decimal | Fraction | int) -> int:
    """THE rounding rule: nearest integer, halves away from zero (2.5 -> 3, -2.5 -> -3)."""
    frac = Fraction(value)
    num, den = frac.numerator, frac.denominator
    q, r = divmod(abs(num), den)
    if 2 * r >= den:
        q += 1
    return q if num >= 0 else -q


def round_minor(amount: Decimal | Fraction, currency: str) -> int:
    """Round an exact amount in MAJOR units to integer minor units of `currency`."""
    return round_half_away(Fraction(amount) * 10 ** minor_units(currency))


def tax_minor(subtotal_minor: int, tax_rate: Decimal) -> int:
    """tax = round(subtotal × tax_rate / 100), once, at invoice level (already in minor units)."""
    return round_half_away(Fraction(subtotal_minor) * Fraction(tax_rate) / 100)


def to_major(minor: int, currency: str) -> Decimal:
    """THE minor -> major conversion: integer minor units -> Decimal with exactly the currency's decimals."""
    # scaleb keeps every digit and sets the exponent to exactly -exp ('0.00', '-0.05', '7097'): no quantize
    # needed (|minor| < 2^63 stays far inside the 28-digit context), and a review of 50k drafts calls this often
    return Decimal(minor).scaleb(-minor_units(currency))


def exact_minor(amount: Decimal, currency: str) -> int | None:
    """Major units -> integer minor units when exact (35.48 USD -> 3548); None when the amount has more
    decimals than the currency (12.345 USD), which only rounding could make minor units."""
    scaled = amount.scaleb(minor_units(currency))
    return int(scaled) if scaled == scaled.to_integral_value() else None


def format_money(minor: int, currency: str) -> str:
    """THE display text of an amount: '$1,234.50', '¥7,097', 'KWD 1.250' (display only, never parsed)."""
    value = to_major(minor, currency)
    exp = minor_units(currency)
    text = f"{abs(value):,.{exp}f}"
    sign = "-" if value < 0 else ""
    sym = SYMBOLS.get(currency)
    return f"{sign}{sym}{text}" if sym and len(sym) <= 3 and currency != "KWD" else f"{sign}{currency} {text}"


def format_major(amount: Decimal, currency: str) -> str:
    """Display text of an amount in major units: '$35.48'. One with more decimals than the currency has
    (not rounded yet, e.g. a pending delayed charge) is shown exactly with its code: '18.405 USD'."""
    minor = exact_minor(amount, currency)
    if minor is None:
        return f"{format(amount.normalize(), 'f')} {currency}"
    return format_money(minor, currency)


def format_code(minor: int, currency: str) -> str:
    """An amount as the review writes it: the ISO code and the exact major units with thousands separators,
    'AUD 5,496.98', 'USD -5.00', 'JPY 7,097' (display only, never parsed). The review's reasons write it in SQL
    (sql_code_money_text: the same text) and the workbench's Review page writes its amounts beside them with this:
    a reason read over the CLI, the HTTP API or MCP names its currency unambiguously, and the page agrees with it."""
    return f"{currency} {to_major(minor, currency):,}"


def format_code_major(amount: Decimal, currency: str) -> str:
    """format_code of an amount in major units ('AUD 5,496.98'); one with more decimals than the currency has is
    written exactly ('USD 10.005'), as the reasons write a threshold."""
    minor = exact_minor(amount, currency)
    if minor is None:
        return f"{currency} {amount.normalize():,f}"
    return format_code(minor, currency)


def _scaled_text(minor: str, exp: int) -> str:
    """Two forms of the same text: a 64-bit one for the amounts of every day, which DuckDB writes about five times
    faster (benchmarks/README.md, issue 22), and the 128-bit one beyond it. DECIMAL(w,0) × 10^-exp is exact (a
    decimal product keeps every digit) and DuckDB writes a DECIMAL with exactly its scale's decimals and a leading 0
    ('-0.05'). With w = 17 − exp the product is a DECIMAL(18, exp), 64 bits: |minor| < 10^w (for cents, below
    10^13 major units)."""
    if exp == 0:
        fast, wide, bound = f"(({minor})::BIGINT)::VARCHAR", f"(({minor})::HUGEINT)::VARCHAR", BIGINT_MAX + 1
    else:
        unit = f"0.{'0' * (exp - 1)}1"
        wide = f"((({minor})::DECIMAL(38,0) * {unit})::VARCHAR)"
        if exp > 12:  # no 64-bit form worth having
            return wide
        fast = f"((({minor})::DECIMAL({17 - exp},0) * {unit})::VARCHAR)"
        bound = 10 ** (17 - exp)
    return f"(CASE WHEN ({minor}) > -{bound} AND ({minor}) < {bound} THEN {fast} ELSE {wide} END)"


def sql_major_text(minor: str, exp: str | int) -> str:
    """SQL text of integer `minor` in major units with exactly `exp` decimals: 3550, 2 -> '35.50';
    -5, 2 -> '-0.05'; 7097, 0 -> '7097'. The same value as `to_major`, written from integers (no float).

    `exp` is an int, or an SQL expression whose value is the minor-unit decimals of a currency (any other
    value gives NULL). Arguments are engine-built SQL (column names), never user values."""
    if isinstance(exp, int):
        return _scaled_text(minor, exp)
    whens = " ".join(f"WHEN {e} THEN {_scaled_text(minor, e)}" for e in sorted(set(MINOR_UNITS.values())))
    return f"(CASE ({exp}) {whens} END)"


def sql_grouped_money_text(minor: str, exp: str, scale: str) -> str:
    """SQL text of integer `minor` in major units with thousands separators, the text Python writes as
    f"{to_major(minor, currency):,}": 123456789, 2 -> '1,234,567.89'; -5, 2 -> '-0.05'; 7097, 0 -> '7,097'.
    `exp` and `scale` are SQL expressions for the currency's decimals and 10^exp (CURRENCY_UNITS_TABLE's
    `exp` and `scale` columns); engine-built SQL (column names), never user values. Exact integer SQL: BIGINT
    arithmetic when |minor| < 2^63 (DuckDB formats a HUGEINT ten times slower), HUGEINT beyond."""
    big = f"({minor})::BIGINT"
    fast = (
        f"CASE WHEN {big} < 0 THEN '-' ELSE '' END || format('{{:,}}', abs({big}) // ({scale})::BIGINT) || "
        f"CASE WHEN ({exp}) > 0 THEN '.' || lpad((abs({big}) % ({scale})::BIGINT)::VARCHAR, ({exp}), '0') ELSE '' END"
    )
    a = f"abs(({minor})::HUGEINT)"
    wide = (
        f"CASE WHEN ({minor}) < 0 THEN '-' ELSE '' END || format('{{:,}}', {a} // ({scale})) || "
        f"CASE WHEN ({exp}) > 0 THEN '.' || lpad(({a} % ({scale}))::VARCHAR, ({exp}), '0') ELSE '' END"
    )
    return f"(CASE WHEN ({minor}) BETWEEN -{BIGINT_MAX} AND {BIGINT_MAX} THEN {fast} ELSE {wide} END)"


def sql_code_money_text(minor: str, currency: str, exp: str, scale: str) -> str:
    """SQL text of format_code: `currency` (an SQL expression of the ISO code) and integer `minor` in major units
    with thousands separators ('AUD 5,496.98', 'USD -5.00'); `exp`, `scale` as sql_grouped_money_text takes them.
    Engine-built SQL, never user values."""
    return f"({currency} || ' ' || {sql_grouped_money_text(minor, exp, scale)})"


def sql_plain_text(value: str) -> str:
    """SQL text of a DECIMAL with a scale above 0 without its trailing zeros, the text Python writes as
    format(value.normalize(), 'f'): 25.000000 -> '25', 2.500000 -> '2.5', 0.000000 -> '0'."""
    return f"rtrim(rtrim(({value})::VARCHAR, '0'), '.')"


def sql_grouped_text(text: str) -> str:
    """SQL: a plain decimal text ('-1234567.5', '0.000001': an SQL expression) with thousands separators in its
    integer part, the text Python writes as f"{Decimal(text):,}" ('-1,234,567.5'). At most 38 digits."""
    t = f"({text})"
    whole = f"split_part(ltrim({t}, '-'), '.', 1)"
    # BIGINT below 10^18 (DuckDB formats a HUGEINT ten times slower)
    grouped = (
        f"CASE WHEN length({whole}) <= 18 THEN format('{{:,}}', {whole}::BIGINT) "
        f"ELSE format('{{:,}}', {whole}::HUGEINT) END"
    )
    return (
        f"(CASE WHEN starts_with({t}, '-') THEN '-' ELSE '' END || {grouped} || "
        f"CASE WHEN contains({t}, '.') THEN '.' || split_part({t}, '.', 2) ELSE '' END)"
    )


# Where the one-division rounding below cannot overflow HUGEINT (2·|num|·mult + pow10·den < 2^127):
# |num| ≤ n_max and mult ≤ m_max with n_max·m_max ≤ 10^37, and pow10·den ≤ 10^36.
LINE_BOUNDS = (10**26, 10**11)  # line amounts: mult = days × discount factor ≤ 366·10^8
TAX_BOUNDS = (10**23, 10**14)  # tax: num = a BIGINT subtotal, mult = tax rate × 10^12 ≤ 10^14


def sql_price_scaled(value: str) -> str:
    """SQL: the money value `value` (DECIMAL(38,12), an engine-built expression) as the exact integer
    value × PRICE_UNIT, a HUGEINT — how rating, tax and the review compare and multiply money exactly."""
    return f"(({value}) * {PRICE_UNIT})::HUGEINT"


QTY_UNIT = 10**QTY_SCALE  # a quantity (DECIMAL(38,6)) × QTY_UNIT is an exact integer
# Below this magnitude a quantity takes DuckDB's 64-bit DECIMAL(18,6): value × 10^6 held at scale 6 is an
# integer below 10^(6 + 6 + 6) = 10^18, within DECIMAL(18) (no overflow), and the cast to BIGINT divides an
# int64 by 10^6, exactly (no remainder). A 128-bit cast divides bit by bit, ten times slower.
QTY_FAST_LIMIT = 10 ** (18 - 2 * QTY_SCALE)


def sql_qty_scaled(value: str) -> str:
    """SQL: the quantity `value` (a DECIMAL of at most 6 decimals, an engine-built expression) as the exact
    integer value × QTY_UNIT, a HUGEINT: by 64-bit arithmetic when |value| < QTY_FAST_LIMIT (10^6), else by
    the 128-bit cast. The same integer either way (tests/test_money.py)."""
    v = f"({value})"
    fast = f"({v}::DECIMAL(18,6) * {QTY_UNIT})::BIGINT::HUGEINT"
    return (
        f"(CASE WHEN {v} > -{QTY_FAST_LIMIT} AND {v} < {QTY_FAST_LIMIT} THEN {fast} "
        f"ELSE ({v} * {QTY_UNIT})::HUGEINT END)"
    )


def sql_price_scaled_within(value: str) -> str:
    """SQL: `sql_price_scaled(value)` when |value| < MONEY_LIMIT (where the product value × 10^12 fits its
    DECIMAL(38,12): never an overflow), else NULL. For scaling ahead of time rows that may never be rated (every
    order line of the contracts rated): a rated row whose value is beyond the bound (NULL here) takes
    `coalesce(scaled_within, sql_price_scaled(value))`, the same error as before, and only for its own row."""
    return f"(CASE WHEN abs({value}) < {MONEY_LIMIT} THEN {sql_price_scaled(value)} END)"


def sql_tax_minor(base: str, rate_n: str) -> str:
    """SQL: tax = round(base × rate / 100), half away from zero (the one tax rounding, once per tax of an invoice).

    `base` is an amount in minor units (BIGINT), `rate_n` the rate in percent × 10^12 as a HUGEINT (a rate
    of DECIMAL(38,12)); both engine-built SQL expressions."""
    return sql_round_minor(base, rate_n, f"{100 * PRICE_UNIT}::HUGEINT", "1", fast=TAX_BOUNDS)


def _hugeint(n: int) -> str:
    return f"{n}::HUGEINT"


def sql_round_minor(
    num: str, mult: str, pow10: str, den: str, fast: tuple[int, int] = LINE_BOUNDS, *, bounded: bool = False
) -> str:
    """SQL for round_half_away(num × mult / (pow10 × den)) over HUGEINT, without overflow.

    `num` is an exact amount as a scaled integer, `mult` and `den` non-negative integers (days,
    discount and tax factors), `pow10` the power of ten that brings `num` to minor units.
    Usual sizes take one division:  |x| = (2·|num|·mult + pow10·den) // (2·pow10·den), when
    |num| ≤ n_max and mult ≤ m_max (`fast`, a pair whose product is at most 10^37).
    Any larger amount takes the split form, where every product stays far below HUGEINT's 1.7e38:
    num = Q·pow10 + R, so num·mult/(pow10·den) = Q·mult/den + R·mult/(pow10·den).
    `bounded`: the caller's types keep every value within `fast` (e.g. day counts), so only the one-division
    form is written — a smaller expression, no test per row.
    The arguments are SQL expressions built by the engine (column names), never user values.
    """
    a = f"abs(({num})::HUGEINT)"
    n_max, m_max = fast
    if n_max * m_max > 10**37:
        raise ValueError(f"bounds {fast} could overflow HUGEINT")
    fits = (
        f"({a} <= {_hugeint(n_max)} AND ({mult}) <= {_hugeint(m_max)} "
        f"AND ({pow10})::HUGEINT * ({den}) <= {_hugeint(10**36)})"
    )
    one_division = f"((2 * {a} * ({mult}) + ({pow10})::HUGEINT * ({den})) // (2 * ({pow10})::HUGEINT * ({den})))"
    if bounded:
        return f"((CASE WHEN ({num}) < 0 THEN -1 ELSE 1 END) * {one_division})::BIGINT"
    q_m = f"(({a} // ({pow10})) * ({mult}))"
    r_m = f"(({a} % ({pow10})) * ({mult}))"
    whole1 = f"({q_m} // ({den}))"
    rest = f"((({q_m} % ({den})) * ({pow10})) + {r_m})"
    big_den = f"(({pow10})::HUGEINT * ({den}))"
    whole2 = f"({rest} // {big_den})"
    rem2 = f"({rest} % {big_den})"
    split = f"({whole1} + {whole2} + CASE WHEN 2 * {rem2} >= {big_den} THEN 1 ELSE 0 END)"
    mag = f"(CASE WHEN {fits} THEN {one_division} ELSE {split} END)"
    return f"((CASE WHEN ({num}) < 0 THEN -1 ELSE 1 END) * {mag})::BIGINT"
