"""The one rule of an amount a person types or a request carries (engine/service/requests.py: `typed_amount` for the
CLI's arguments and the workbench's boxes, `Major` / `PositiveMajor` for the requests' amounts): ASCII digits, an
optional sign and point, thousands grouped by commas in groups of three (typed only), no exponent, within the money
bound. Digits of other scripts (Arabic-Indic '١٢', fullwidth '１２', Devanagari '१२') are refused, never read as 12;
so are they in a what-if scenario's numbers (engine/whatif/changes.py `Number`).
"""

from __future__ import annotations

import unicodedata
from decimal import Decimal

import pytest

from engine.cli import build_parser
from engine.errors import ScenarioError, ValidationError
from engine.money import MONEY_LIMIT
from engine.service.requests import CreditNoteItemRequest, CreditNoteRequest, parse, typed_amount, whole_number
from engine.whatif.scenarios import parse_scenario

NOT_ASCII = ["١٢", "١٢.٥٠", "١,٢٣٤.٥", "12.٥", "１２", "१२", "۱۲"]


@pytest.mark.parametrize(
    ("typed", "amount"),
    [("12.50", "12.50"), (" 12 ", "12"), ("1,244.10", "1244.10"), ("-3", "-3"), (".5", "0.5"), ("+7.", "7")],
)
def test_a_typed_amount_in_ascii_digits_is_read_exactly(typed, amount):
    got = typed_amount(typed)
    assert got == Decimal(amount) and str(got) == amount


@pytest.mark.parametrize("typed", NOT_ASCII)
def test_a_typed_amount_in_other_digits_is_refused(typed):
    with pytest.raises(ValidationError, match=r"^payment: not a plain decimal amount: ") as refused:
        typed_amount(typed, "payment")
    assert refused.value.code == "validation_error"


@pytest.mark.parametrize("typed", ["1e2", "12,50", "1,00", "nan", "Infinity", "0x10", ""])
def test_a_typed_amount_with_an_exponent_or_a_decimal_comma_is_refused(typed):
    with pytest.raises(ValidationError, match="not a plain decimal amount"):
        typed_amount(typed)


def test_a_typed_amount_beyond_the_money_bound_is_refused_in_the_common_words():
    with pytest.raises(ValidationError, match=rf"is beyond the largest amount \({MONEY_LIMIT:,} major units\)"):
        typed_amount(f"{MONEY_LIMIT:,}")
    assert typed_amount(f"{MONEY_LIMIT - 1:,}") == MONEY_LIMIT - 1


@pytest.mark.parametrize("amount", NOT_ASCII)
def test_a_requests_amount_in_other_digits_is_refused(amount):
    with pytest.raises(ValidationError, match=r"^invalid request: amount: not a plain decimal amount"):
        parse(CreditNoteItemRequest, {"line_no": 1, "amount": amount})  # PositiveMajor
    with pytest.raises(ValidationError, match=r"^invalid request: refund: not a plain decimal amount"):
        parse(CreditNoteRequest, {"reason": "other", "all": True, "refund": amount})  # Major


COUPON = {"coupon_id": "C", "name": "C", "kind": "percentage", "percent": "10", "frequency": "forever"}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"type": "price", "percent": "١٠"}, "percent"),
        ({"type": "price", "unit_price": "١٠"}, "unit_price"),
        ({"type": "usage", "percent": "１０"}, "percent"),
        ({"type": "tiers", "line_id": "L1", "tiers": [{"up_to": None, "unit_price": "١"}]}, "unit_price"),
        (
            {
                "type": "tiers",
                "line_id": "L1",
                "tiers": [{"up_to": "١٠", "unit_price": "1"}, {"up_to": None, "unit_price": "1"}],
            },
            "up_to",
        ),
        ({"type": "minimum_commitment", "contract_id": "K1", "amount": "१००"}, "amount"),
        ({"type": "tax", "tax_code": "T", "rate": "١٠"}, "rate"),
        (
            {
                "type": "coupon",
                "coupon": {**COUPON, "percent": "١٠"},
                "contract_ids": ["K1"],
                "applied_on": "2026-03-01",
            },
            "percent",
        ),
    ],
)
def test_a_scenarios_number_in_other_digits_is_refused(change, field):
    with pytest.raises(ScenarioError, match=rf"{field}: not a plain decimal number: "):
        parse_scenario({"name": "s", "changes": [change]})
    parse_scenario({"name": "s", "changes": [_in_ascii(change)]})  # the same change in ASCII digits is taken


def _in_ascii(value):
    """`value` with every digit of another script in its texts written in ASCII ('١٠' -> '10')."""
    if isinstance(value, dict):
        return {k: _in_ascii(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_in_ascii(v) for v in value]
    if isinstance(value, str):
        return "".join(str(unicodedata.digit(c)) if c.isdigit() else c for c in value)
    return value


# --- whole numbers a person types (requests.whole_number: the CLI's counts, the workbench's quantity, the CSV's) ----


@pytest.mark.parametrize(("typed", "number"), [("12", 12), (" 12 ", 12), ("-3", -3), ("+7", 7), ("0", 0)])
def test_a_typed_whole_number_in_ascii_digits_is_read(typed, number):
    assert whole_number(typed) == number


@pytest.mark.parametrize("typed", [*NOT_ASCII, "1_000", "1 000", "12.0", "1e3", "", "+", "0x10"])
def test_a_typed_whole_number_in_other_digits_or_with_separators_is_not_one(typed):
    assert whole_number(typed) is None


@pytest.mark.parametrize(
    "argv",
    [
        ["credit-note", "list", "--limit", "١٢"],
        ["credit-note", "list", "--offset", "1_000"],
        ["init", "--contracts", "１２"],
        ["init", "--seed", "१२"],
        ["generate", "K1", "--customer", "C1", "--from", "2026-03-01", "--to", "2026-03-31",
         "--billing-cycle-start-day", "١"],
        ["credit-note", "create", "INV", "--reason", "other", "--line", "١=5"],
        ["serve", "--port", "8_000"],
        ["--wait", "١", "balances"],
    ],
)  # fmt: skip
def test_the_clis_whole_numbers_are_ascii_digits_else_a_usage_error_naming_the_option(argv, capsys):
    """int() alone read '١٢' as 12 and '1_000' as 1000 (float() the same for --wait): exit 2, the option named."""
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(argv)
    assert exited.value.code == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    option = next((a for a in reversed(argv) if a.startswith("--")), None)
    assert f"argument {option}" in line and ("not a whole number" in line or "not LINE_NO=AMOUNT" in line
                                              or "not a number of seconds" in line), line  # fmt: skip


def test_the_clis_whole_numbers_in_ascii_digits_are_taken():
    args = build_parser().parse_args(["credit-note", "list", "--limit", " 12 ", "--offset", "+3"])
    assert (args.limit, args.offset) == (12, 3)
    assert build_parser().parse_args(["credit-note", "create", "INV", "--reason", "other", "--line", "2=5"]).line == [
        (2, Decimal(5))
    ]
