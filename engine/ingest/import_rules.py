"""What a valid row of each input table is (spec section 1), written as SQL the importer runs set-based.

Every column has a kind. A kind knows how to cast valid text to the column's DuckDB type and which
conditions make a cell wrong, in the order they are reported (the first broken rule of a cell wins, so
`abc` is "not a number", not also "negative"). Row rules look at several typed columns of one row.
The SQL reads the staging row as `s` (trimmed text, NULL when blank) and the typed row as `t` (typed
columns by name, the original text as `raw_<name>`). Reasons are templates filled in Python only for
the problems found: `{value}` is the offending text, `{detail}` a second value, `{other_line}` a line.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..billing.numbering import DEFAULT_PREFIX
from ..currencies import MINOR_UNITS
from ..money import MONEY_MAX_DIGITS, PRICE_SCALE, QTY_MAX_DIGITS, QTY_SCALE, TAX_RATE_DECIMALS, USAGE_QTY_MAX_DIGITS
from ..rating.pricing import PRICING_MODELS, model_names, models_requiring

# The most digits before the point are the engine's exact-arithmetic bounds (derived in money.py): a
# value the import accepts is one rating can compute.
DECIMAL_KINDS = {
    # kind: (DuckDB type, most decimal places, most digits before the point)
    "price": ("DECIMAL(38,12)", PRICE_SCALE, MONEY_MAX_DIGITS),
    "quantity": ("DECIMAL(38,6)", QTY_SCALE, QTY_MAX_DIGITS),
    "usage_quantity": ("DECIMAL(18,6)", QTY_SCALE, USAGE_QTY_MAX_DIGITS),
    # tax rates (spec section 11): percent with at most 4 decimals, stored like a quantity
    "tax_rate": ("DECIMAL(38,6)", TAX_RATE_DECIMALS, QTY_MAX_DIGITS),
}
NO_TAX = "none"  # an order line's tax_codes that means exempt
RE_NUMBER = r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)"
RE_NEGATIVE = r"-.*[1-9].*"  # "-0" is zero, not negative
RE_WHOLE = r"[+-]?[0-9]+"
RE_DATE = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
RE_DATE_OR_TIMESTAMP = (  # a date, optionally with a time and a zone (Z or an offset)
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
    r"([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,9})?)?(Z|[+-][0-9]{2}(:?[0-9]{2})?)?)?"
)
RE_ZONE_AT_END = r"(Z|[+-][0-9]{2}(:?[0-9]{2})?)$"
CURRENCY_CODES = sorted(MINOR_UNITS)
LIST_SEPARATOR = ";"


def re_too_many_decimals(places: int) -> str:
    """A nonzero digit after the `places`-th decimal: trailing zeros (`12.500…0`) lose nothing."""
    return rf"[+-]?[0-9]*\.[0-9]{{{places}}}[0-9]*[1-9][0-9]*"


def re_too_many_digits(digits: int) -> str:
    """More than `digits` digits before the point, leading zeros not counted."""
    return rf"[+-]?0*[1-9][0-9]{{{digits},}}(\.[0-9]*)?"


class Bind:
    """Collects the values of one statement as named parameters: `bind(v)` returns `$p0`, `$p1`, …"""

    def __init__(self) -> None:
        self.params: dict[str, object] = {}

    def __call__(self, value: object) -> str:
        name = f"p{len(self.params)}"
        self.params[name] = value
        return "$" + name


@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # text | list | tax_codes | enum | currency | date | usage_date | whole | price | quantity | …
    required: bool = False
    default: str | None = None  # the text used when the cell is blank
    fallback: str | None = None  # our own SQL for a blank cell whose default comes from another column
    choices: tuple[str, ...] = ()
    low: int | None = None  # whole numbers: inclusive range
    high: int | None = None  # whole numbers and percentages: inclusive upper bound


@dataclass(frozen=True)
class RowRule:
    """A rule across columns of one typed row; reported on `column` with `value`/`detail` shown."""

    column: str
    when: Callable[[Bind], str]
    reason: str
    value: str
    detail: str = "NULL"


@dataclass(frozen=True)
class Ref:
    column: str
    parent: str  # the input table whose key the value must be
    noun: str  # how a finance user calls the parent row


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    key: str | None = None
    refs: tuple[Ref, ...] = ()
    row_rules: tuple[RowRule, ...] = ()
    joins: str = ""  # our own SQL joined to the staging row `s` for fallbacks

    @property
    def file(self) -> str:
        return f"{self.name}.csv"

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]


def re_plain_valid(places: int, digits: int) -> str:
    """A valid non-negative decimal within the limits: the common case, settled by one regex per cell."""
    return rf"\+?0*[0-9]{{1,{digits}}}(\.[0-9]{{0,{places}}}0*)?|\+?\.[0-9]{{1,{places}}}0*"


def fast_valid(col: Column, bind: Bind) -> str | None:
    """A cheap condition that proves a non-blank cell valid, so 10M-row files skip the detailed checks."""
    v = f"s.{col.name}"
    if col.kind in DECIMAL_KINDS and col.high is None:
        _, places, digits = DECIMAL_KINDS[col.kind]
        return f"regexp_full_match({v}, {bind(re_plain_valid(places, digits))})"
    if col.kind in ("date", "usage_date"):
        # A real date whose text is exactly DuckDB's own text for it. That text is 10 characters only as
        # YYYY-MM-DD (years 0001-9999; later years have more digits, earlier ones end in ' (BC)'), so the
        # cell matches RE_DATE and casts: valid. Cheaper than the regex (a 10M-row usage file, issue 22).
        return f"length({v}) = {bind(10)} AND CAST(TRY_CAST({v} AS DATE) AS VARCHAR) = {v}"
    return None


def cell_checks(col: Column, bind: Bind) -> list[tuple[str, str]]:
    """(condition on a non-blank `s.<col>`, reason) in reporting order; blank cells are checked apart."""
    v = f"s.{col.name}"
    if col.kind == "enum":
        return [
            (f"NOT list_contains({bind(list(col.choices))}, {v})", "'{value}' is not one of: " + ", ".join(col.choices))
        ]
    if col.kind == "currency":
        return [
            (
                f"NOT list_contains({bind(CURRENCY_CODES)}, {v})",
                "'{value}' is not an ISO 4217 currency code (three capital letters, e.g. USD, EUR, JPY)",
            )
        ]
    if col.kind == "date":
        return [
            (f"NOT regexp_full_match({v}, {bind(RE_DATE)})", "'{value}' is not a date (YYYY-MM-DD)"),
            (f"TRY_CAST({v} AS DATE) IS NULL", "'{value}' is not a real calendar date"),
        ]
    if col.kind == "usage_date":
        return [
            (
                f"NOT regexp_full_match({v}, {bind(RE_DATE_OR_TIMESTAMP)})",
                "'{value}' is not a date (YYYY-MM-DD) or an ISO timestamp (e.g. 2026-03-17T23:59:00Z)",
            ),
            (f"TRY_CAST({v} AS TIMESTAMPTZ) IS NULL", "'{value}' is not a real calendar date or time"),
        ]
    if col.kind == "whole":
        return [
            (f"NOT regexp_full_match({v}, {bind(RE_WHOLE)})", "'{value}' is not a whole number"),
            (
                f"coalesce(TRY_CAST({v} AS BIGINT) NOT BETWEEN {bind(col.low)} AND {bind(col.high)}, true)",
                f"'{{value}}' is outside the allowed range {col.low} to {col.high}",
            ),
        ]
    if col.kind in DECIMAL_KINDS:
        sql_type, places, digits = DECIMAL_KINDS[col.kind]
        checks = [
            (
                f"NOT regexp_full_match({v}, {bind(RE_NUMBER)})",
                "'{value}' is not a number (write a plain decimal such as 12.50, without thousands separators)",
            ),
            (f"regexp_full_match({v}, {bind(RE_NEGATIVE)})", f"'{{value}}' is negative: {col.name} cannot be negative"),
            (
                f"regexp_full_match({v}, {bind(re_too_many_decimals(places))})",
                f"'{{value}}' has more than {places} decimal places, the most {col.name} allows",
            ),
            (
                f"regexp_full_match({v}, {bind(re_too_many_digits(digits))})",
                f"'{{value}}' is too large: {col.name} allows at most {digits} digits before the decimal point",
            ),
        ]
        if col.high is not None:
            checks.append(
                (
                    f"TRY_CAST({v} AS {sql_type}) > {bind(col.high)}",
                    f"'{{value}}' is more than {col.high}; {col.name} is a percentage from 0 to 100",
                )
            )
        return checks
    if col.kind in ("list", "tax_codes"):
        checks = [
            (
                f"list_contains({list_items_sql(v)}, {bind('')})",
                "'{value}' has an empty item: separate the items by a single ';'",
            )
        ]
        if col.kind == "tax_codes":
            checks.append(
                (
                    f"list_contains({list_items_sql(v)}, {bind(NO_TAX)}) "
                    f"AND len(string_split({v}, {bind(LIST_SEPARATOR)})) > 1",
                    f"'{{value}}': '{NO_TAX}' (exempt) cannot be combined with tax codes",
                )
            )
        return checks
    return []  # text: any non-blank text is fine


def list_items_sql(text: str) -> str:
    """SQL: the trimmed items of a ';'-separated list (`text` an engine-built expression)."""
    return f"list_transform(string_split({text}, '{LIST_SEPARATOR}'), lambda x: trim(x))"


def canonical_list_sql(text: str) -> str:
    """SQL: a ';'-separated list as stored, its items trimmed, without repeats, sorted ('b; a;b' -> 'a;b')."""
    return f"array_to_string(list_sort(list_distinct({list_items_sql(text)})), '{LIST_SEPARATOR}')"


def typed_expr(col: Column, bind: Bind) -> str:
    """The column's value in its real type; valid text only (the checks ran first), defaults applied."""
    v = f"s.{col.name}" if col.default is None else f"coalesce(s.{col.name}, {bind(col.default)})"
    if col.kind == "date":
        v = f"TRY_CAST({v} AS DATE)"
    elif col.kind == "usage_date":
        # A timestamp counts on its UTC date; one without a zone is read as UTC, whatever the session's
        # TimeZone (a cursor does not inherit connect()'s). A bare date (10 characters) is cast directly:
        # parsing every row as TIMESTAMPTZ would be several times slower on a 10M-row file.
        v = (
            f"CASE WHEN length({v}) = {bind(10)} THEN TRY_CAST({v} AS DATE) "
            f"WHEN regexp_matches({v}, {bind(RE_ZONE_AT_END)}) "
            f"THEN timezone({bind('UTC')}, TRY_CAST({v} AS TIMESTAMPTZ))::DATE "
            f"ELSE TRY_CAST({v} AS TIMESTAMP)::DATE END"
        )
    elif col.kind == "whole":
        v = f"TRY_CAST({v} AS INTEGER)"
    elif col.kind in DECIMAL_KINDS:
        v = f"TRY_CAST({v} AS {DECIMAL_KINDS[col.kind][0]})"
    elif col.kind in ("list", "tax_codes"):
        v = canonical_list_sql(v)
    return v if col.fallback is None else f"coalesce({v}, {col.fallback})"


def _end_before_start() -> RowRule:
    return RowRule(
        "end_date",
        lambda b: "t.end_date < t.start_date",
        "end_date {value} is before start_date {detail}",
        "t.raw_end_date",
        "t.raw_start_date",
    )


# What a finance user is told an order line lacks, per column a pricing model may require.
_NEEDED = {
    "unit_price": "a unit_price",
    "package_size": "a package_size (the units in one package)",
    "percentage_rate": "a percentage_rate",
}


def _model_needs(column: str) -> RowRule:
    """A line of a model that requires `column` (pricing.PRICING_MODELS) and leaves it blank."""
    models = list(models_requiring(column))

    def when(b: Bind) -> str:
        return f"list_contains({b(models)}, t.pricing_model) AND t.raw_{column} IS NULL"

    return RowRule(column, when, "a {value} line needs " + _NEEDED[column], "t.pricing_model")


def _model_positive(column: str) -> RowRule:
    """A line of a model that needs `column` above 0 (a package of 0 units has no price)."""
    models = [m.name for m in PRICING_MODELS.values() if column in m.positive]

    def when(b: Bind) -> str:
        return f"list_contains({b(models)}, t.pricing_model) AND t.{column} = 0"

    return RowRule(column, when, f"{column} must be more than 0", f"t.raw_{column}")


def _pricing_model_rules() -> tuple[RowRule, ...]:
    """The field rules of every pricing model, read from the one registry (pricing.PRICING_MODELS)."""
    required = dict.fromkeys(c for m in PRICING_MODELS.values() for c in m.required)
    positive = dict.fromkeys(c for m in PRICING_MODELS.values() for c in m.positive)
    return (*(_model_needs(c) for c in required), *(_model_positive(c) for c in positive))


COUPON_KINDS = ("fixed", "percentage")
COUPON_FREQUENCIES = ("once", "recurring", "forever")
MAX_COUPON_PERIODS = 1200  # cycles a recurring coupon covers: 100 years of months


def _blank_rule(column: str, when_kind: str, reason: str) -> RowRule:
    return RowRule(column, lambda b: f"t.kind = {b(when_kind)} AND t.raw_{column} IS NULL", reason, "t.kind")


def _given_rule(column: str, when_kind: str, reason: str) -> RowRule:
    return RowRule(
        column, lambda b: f"t.kind = {b(when_kind)} AND t.raw_{column} IS NOT NULL", reason, f"t.raw_{column}"
    )


def _coupon_rules() -> tuple[RowRule, ...]:
    """What each kind and frequency of coupon needs (spec section 11), one rule per column a user fixes."""
    codes, exps = CURRENCY_CODES, [MINOR_UNITS[c] for c in CURRENCY_CODES]

    def decimals_beyond_currency(b: Bind) -> str:
        significant = f"length(regexp_extract(t.raw_amount, {b(r'[.]([0-9]*[1-9])0*$')}, 1))"
        return (
            f"t.kind = {b('fixed')} AND t.currency IS NOT NULL AND t.amount IS NOT NULL AND {significant} > "
            f"list_extract({b(exps)}::INTEGER[], list_position({b(codes)}::VARCHAR[], t.currency))"
        )

    return (
        _blank_rule("amount", "fixed", "a {value} coupon needs an amount (major units of its currency)"),
        _blank_rule("currency", "fixed", "a {value} coupon needs a currency (it covers invoices in that currency)"),
        RowRule(
            "amount",
            lambda b: f"t.kind = {b('fixed')} AND t.amount = 0",
            "a fixed coupon's amount must be more than 0",
            "t.raw_amount",
        ),
        RowRule(
            "amount",
            decimals_beyond_currency,
            "'{value}' has more decimals than its currency {detail} has",
            "t.raw_amount",
            "t.currency",
        ),
        _given_rule("percent", "fixed", "'{value}': a fixed coupon has an amount, not a percent"),
        _blank_rule("percent", "percentage", "a {value} coupon needs a percent (more than 0, at most 100)"),
        RowRule(
            "percent",
            lambda b: f"t.kind = {b('percentage')} AND t.percent = 0",
            "a percentage coupon's percent must be more than 0",
            "t.raw_percent",
        ),
        _given_rule("amount", "percentage", "'{value}': a percentage coupon has a percent, not an amount"),
        _given_rule("currency", "percentage", "'{value}': a percentage coupon applies in any currency, give none"),
        RowRule(
            "periods",
            lambda b: f"t.frequency = {b('recurring')} AND t.raw_periods IS NULL",
            "a recurring coupon needs periods (how many cycles it covers, at least 1)",
            "t.frequency",
        ),
        RowRule(
            "periods",
            lambda b: f"t.frequency <> {b('recurring')} AND t.raw_periods IS NOT NULL",
            "'{value}': only a recurring coupon has periods (this one is {detail})",
            "t.raw_periods",
            "t.frequency",
        ),
    )


INVOICE_PREFIX = r"[A-Za-z0-9]{1,12}"  # engine/billing/numbering.py: '<prefix>-<year>-<number>'
LOGO_FILE = r".+[.](png|jpe?g|gif|svg)"


# the staged business already has invoices with a number (finalized, under the default prefix)
_NUMBERED = "EXISTS (SELECT 1 FROM invoices i WHERE i.business_id = t.business_id AND i.number IS NOT NULL)"


def _business_rules() -> tuple[RowRule, ...]:
    """An invoice number prefix a number can be read back from and that does not rewrite numbers already issued,
    and a logo that is an image file."""
    return (
        RowRule(
            "invoice_prefix",
            lambda b: f"t.invoice_prefix IS NOT NULL AND NOT regexp_full_match(t.invoice_prefix, {b(INVOICE_PREFIX)})",
            "'{value}' is not an invoice number prefix: 1 to 12 letters or digits (e.g. INV or N)",
            "t.raw_invoice_prefix",
        ),
        # A business without a row numbers its invoices with the default prefix; its row imported later must not
        # change how the numbers already issued are written (the prefix is read when a number is shown).
        RowRule(
            "invoice_prefix",
            lambda b: f"coalesce(t.invoice_prefix, {b(DEFAULT_PREFIX)}) <> {b(DEFAULT_PREFIX)} AND {_NUMBERED}",
            f"'{{value}}': business {{detail}} has already issued invoices numbered {DEFAULT_PREFIX}-<year>-<number> "
            f"(before its row was imported), and an issued number never changes: leave invoice_prefix blank or "
            f"{DEFAULT_PREFIX}",
            "t.raw_invoice_prefix",
            "t.business_id",
        ),
        RowRule(
            "logo_path",
            lambda b: f"t.logo_path IS NOT NULL AND NOT regexp_full_match(lower(t.logo_path), {b(LOGO_FILE)})",
            "'{value}' is not an image file: a logo is a .png, .jpg, .gif or .svg file",
            "t.raw_logo_path",
        ),
    )


TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        Table(
            "customers",
            (
                Column("customer_id", "text", required=True),
                Column("name", "text", required=True),
                Column("business_id", "text", default="default"),
                Column("email", "text"),
                Column("currency", "currency", default="USD"),
                Column("tax_rate", "price", default="0", high=100),
                Column("tax_codes", "tax_codes"),
            ),
            key="customer_id",
            row_rules=(
                RowRule(
                    "tax_codes",
                    lambda b: "t.raw_tax_rate IS NOT NULL AND t.raw_tax_codes IS NOT NULL",
                    "give either tax_rate (one rate on every line) or tax_codes, not both (tax_rate is {detail})",
                    "t.raw_tax_codes",
                    "t.raw_tax_rate",
                ),
            ),
        ),
        Table(
            "contracts",
            (
                Column("contract_id", "text", required=True),
                Column("customer_id", "text", required=True),
                Column("start_date", "date", required=True),
                Column("end_date", "date"),
                Column("billing_period", "enum", default="month", choices=("month", "quarter", "year")),
                # Blank anchor = the day of start_date (spec section 1).
                Column(
                    "billing_cycle_start_day", "whole", low=1, high=31, fallback="day(TRY_CAST(s.start_date AS DATE))"
                ),
                Column("billing_timing", "enum", default="arrears", choices=("arrears", "advance")),
                # Payment terms beyond ten years are a typo, and would push due dates out of any report.
                Column("payment_terms_days", "whole", default="30", low=0, high=3650),
                Column("minimum_commitment", "price"),
                Column("proration", "enum", default="actual", choices=("actual", "none")),
                # Blank currency = the customer's (stored resolved, so billing never has to look it up).
                Column("currency", "currency", fallback="owner.currency"),
            ),
            key="contract_id",
            refs=(Ref("customer_id", "customers", "customer"),),
            row_rules=(_end_before_start(),),
            joins="LEFT JOIN _import_customer_currency owner ON owner.customer_id = s.customer_id",
        ),
        Table(
            "order_lines",
            (
                Column("line_id", "text", required=True),
                Column("contract_id", "text", required=True),
                Column("product", "text", required=True),
                Column("kind", "enum", required=True, choices=("recurring", "usage", "one_time")),
                Column(
                    "pricing_model",
                    "enum",
                    required=True,
                    choices=model_names(),
                ),
                Column("description", "text"),
                Column("unit_price", "price"),
                Column("quantity", "quantity", default="1"),
                Column("metric", "text"),
                Column("aggregation", "enum", default="sum", choices=("sum", "count", "max")),
                Column("package_size", "quantity"),
                Column("free_units", "quantity"),
                Column("percentage_rate", "price"),
                Column("fixed_fee", "price"),
                Column("discount_percent", "quantity", high=100),
                Column("start_date", "date"),
                Column("end_date", "date"),
                Column("tax_codes", "tax_codes"),
            ),
            key="line_id",
            refs=(Ref("contract_id", "contracts", "contract"),),
            row_rules=(
                RowRule(
                    "metric",
                    lambda b: f"t.kind = {b('usage')} AND t.metric IS NULL",
                    "a usage line needs a metric (the usage metric it bills)",
                    "t.kind",
                ),
                *_pricing_model_rules(),
                _end_before_start(),
            ),
        ),
        Table(
            "price_tiers",
            (
                Column("line_id", "text", required=True),
                Column("up_to", "quantity"),
                Column("unit_price", "price", required=True),
                Column("flat_fee", "price", default="0"),
            ),
            refs=(Ref("line_id", "order_lines", "order line"),),
        ),
        Table(
            "usage",
            (
                Column("usage_id", "text", required=True),
                Column("contract_id", "text", required=True),
                Column("metric", "text", required=True),
                Column("usage_date", "usage_date", required=True),
                Column("quantity", "usage_quantity", required=True),
                Column("status", "enum", default="approved", choices=("approved", "pending", "rejected")),
            ),
            key="usage_id",
            refs=(Ref("contract_id", "contracts", "contract"),),
        ),
        Table(
            "delayed_charges",
            (
                Column("charge_id", "text", required=True),
                Column("customer_id", "text", required=True),
                Column("description", "text", required=True),
                # Negative amounts (credits) are out of scope: the "price" kind refuses them.
                Column("amount", "price", required=True),
                Column("charge_date", "date", required=True),
                Column("currency", "currency", fallback="owner.currency"),
            ),
            key="charge_id",
            refs=(Ref("customer_id", "customers", "customer"),),
            joins="LEFT JOIN _import_customer_currency owner ON owner.customer_id = s.customer_id",
        ),
        Table(
            "taxes",
            (
                Column("tax_code", "text", required=True),
                Column("name", "text", required=True),
                Column("rate", "tax_rate", required=True, high=100),
                Column("business_id", "text", default="default"),
            ),
            key="tax_code",
            row_rules=(
                RowRule(
                    "tax_code",
                    lambda b: f"t.tax_code = {b(NO_TAX)}",
                    f"'{NO_TAX}' means exempt on an order line: it cannot be a tax code",
                    "t.raw_tax_code",
                ),
                RowRule(
                    "tax_code",
                    lambda b: f"contains(t.tax_code, {b(LIST_SEPARATOR)})",
                    f"'{{value}}': a tax code cannot contain '{LIST_SEPARATOR}' (it separates codes in tax_codes)",
                    "t.raw_tax_code",
                ),
            ),
        ),
        Table(
            "coupons",
            (
                Column("coupon_id", "text", required=True),
                Column("name", "text", required=True),
                Column("business_id", "text", default="default"),
                Column("kind", "enum", required=True, choices=COUPON_KINDS),
                Column("amount", "price"),
                Column("currency", "currency"),
                Column("percent", "quantity", high=100),
                Column("frequency", "enum", required=True, choices=COUPON_FREQUENCIES),
                Column("periods", "whole", low=1, high=MAX_COUPON_PERIODS),
                Column("products", "list"),
            ),
            key="coupon_id",
            row_rules=_coupon_rules(),
        ),
        Table(
            "applied_coupons",
            (
                Column("contract_id", "text", required=True),
                Column("coupon_id", "text", required=True),
                Column("applied_on", "date", required=True),
            ),
            refs=(Ref("contract_id", "contracts", "contract"), Ref("coupon_id", "coupons", "coupon")),
        ),
        Table(
            "businesses",
            (
                Column("business_id", "text", required=True),
                Column("name", "text", required=True),
                Column("address", "text"),
                Column("tax_id", "text"),
                Column("invoice_prefix", "text"),
                Column("logo_path", "text"),
            ),
            key="business_id",
            row_rules=_business_rules(),
        ),
    )
}
