"""The CLI's one JSON writer (engine/cli/common.py `print_json`): every Decimal as plain positional digits,
wherever it sits (a pydantic model, a dataclass, a dict, a list), with its value unchanged; pydantic's JSON mode
would write `2E+1` (a tax rate of 20 read back from DECIMAL), which a finance user, or a script comparing with
the HTTP API's "20", does not expect."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
from dataclasses import dataclass
from decimal import Decimal

import pytest
from pydantic import BaseModel

from engine.cli.common import Context, json_data

EXPONENT = re.compile(r"\d[eE][+-]?\d")


class _Line(BaseModel):
    amount: Decimal
    when: dt.datetime


class _Invoice(BaseModel):
    tax_rate: Decimal
    lines: list[_Line]
    totals: dict[str, Decimal]


@dataclass
class _Figures:
    factor: Decimal
    day: dt.date


@pytest.mark.parametrize(
    "value, text",
    [
        (Decimal("2E+1"), "20"),
        (Decimal("1E+9"), "1000000000"),
        (Decimal("0E-12"), "0.000000000000"),
        (Decimal("-2.5E+3"), "-2500"),
        (Decimal("1.50"), "1.50"),
        (Decimal("-0"), "-0"),
    ],
)
def test_a_decimal_is_written_as_plain_digits_with_its_value_unchanged(value, text):
    assert json_data(value) == text
    assert Decimal(json_data(value)) == value


def _printed(obj) -> str:
    out = io.StringIO()
    Context(args=None, stdout=out).print_json(obj)
    return out.getvalue()


def test_decimals_inside_models_dataclasses_dicts_and_lists_are_plain_times_utc_with_z_the_rest_as_pydantic_writes():
    invoice = _Invoice(
        tax_rate=Decimal("2E+1"),
        lines=[_Line(amount=Decimal("1E+9"), when=dt.datetime(2026, 11, 30, 8, 15))],
        totals={"tax": Decimal("0E-12")},
    )
    text = _printed({"invoice": invoice, "figures": [_Figures(Decimal("3E+2"), dt.date(2026, 11, 30))], "n": 3})
    assert not EXPONENT.search(text), text
    assert json.loads(text) == {
        "invoice": {
            "tax_rate": "20",
            "lines": [{"amount": "1000000000", "when": "2026-11-30T08:15:00.000000Z"}],
            "totals": {"tax": "0.000000000000"},
        },
        "figures": [{"factor": "300", "day": "2026-11-30"}],
        "n": 3,
    }
    assert json.loads(_printed(invoice))["tax_rate"] == "20"  # a model given alone
