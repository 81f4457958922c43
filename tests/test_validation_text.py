"""engine/validation_text.py: a pydantic ValidationError's problems in a finance user's words, positions from 1
(the front ends' parity over the same input is in tests/api/test_front_ends.py)."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

import pydantic
import pytest
from pydantic import BaseModel, Field

from engine.validation_text import problem_text, problems_text, singular


class _Item(BaseModel):
    line_no: int
    amount: Decimal = Field(gt=0)


class _Tier(BaseModel):
    up_to: int


class _Change(BaseModel):
    type: Literal["price"] = "price"
    percent: Decimal
    tiers: list[_Tier] = []


class _Body(BaseModel):
    items: list[_Item] = []
    changes: list[_Change] = []
    taxes: list[int] = []
    due_date: str = "x"


def _errors(data) -> list[dict]:
    with pytest.raises(pydantic.ValidationError) as caught:
        _Body.model_validate(data)
    return caught.value.errors()


@pytest.mark.parametrize(
    "name, one", [("items", "item"), ("line_items", "line item"), ("changes", "change"), ("taxes", "tax"),
                  ("entries", "entry"), ("addresses", "address"), ("statuses", "status"), ("data", "data")],
)  # fmt: skip
def test_a_list_is_named_in_the_singular(name, one):
    assert singular(name) == one


def test_positions_count_from_1_and_an_item_names_its_invoice_line():
    data = {"items": [{"line_no": 4, "amount": "1"}, {"line_no": 2, "amount": "-10"}]}
    assert problems_text(_errors(data), data) == "item 2 (line 2): amount: Input should be greater than 0"
    assert problems_text(_errors(data)) == "item 2: amount: Input should be greater than 0"  # no input to look into


def test_nested_positions_each_get_their_name_and_every_problem_is_listed():
    data = {
        "changes": [{"percent": "1"}, {"percent": "ten", "tiers": [{"up_to": 1}, {"up_to": "x"}]}],
        "taxes": [1, "y"],
    }
    assert problems_text(_errors(data), data) == (
        "change 2: percent: Input should be a valid decimal; "
        "change 2: tier 2: up_to: Input should be a valid integer, unable to parse string as an integer; "
        "tax 2: Input should be a valid integer, unable to parse string as an integer"
    )
    assert problems_text(_errors(data), data, limit=1) == "change 2: percent: Input should be a valid decimal"


def test_a_message_that_reads_on_follows_its_field_and_pydantic_prefixes_and_tags_are_dropped():
    err = {"loc": ("items", 0, "amount"), "msg": "Value error, must be more than 0, got -10"}
    assert problem_text(err) == "item 1: amount must be more than 0, got -10"
    tagged = {"loc": ("changes", 0, "price", "function-after[_check(), int]", "percent"), "msg": "Value error, bad"}
    assert problem_text(tagged, skip={"price"}) == "change 1: percent: bad"
    assert problem_text({"loc": (), "msg": "Value error, give items or all, not both"}) == "give items or all, not both"
    assert problem_text({"loc": (2, "due_date"), "msg": "Field required"}) == "item 3: due_date: Field required"
    assert (
        problem_text({"loc": ("recurring", "interval"), "msg": "Field required"})
        == "recurring.interval: Field required"
    )


def test_a_body_that_is_not_json_is_said_so_at_its_character_not_as_a_list_position():
    error = {"type": "json_invalid", "loc": ("body", 29), "msg": "JSON decode error", "input": {}}
    assert (
        problem_text(error, skip=("body",)) == "the request body is not valid JSON (at character 29): JSON decode error"
    )


def test_a_value_matching_no_member_of_a_union_is_one_problem_of_its_field():
    """pydantic names each member of a union it tried by an internal tag (`period_date.str`, `period_date.int`):
    the caller reads one problem of the field it sent, not the schema's branches (an MCP trial)."""

    class Req(BaseModel):
        period_date: str | int
        days: int | None = None

    with pytest.raises(pydantic.ValidationError) as exc:
        Req.model_validate({"period_date": None, "days": "x"}, strict=True)
    assert problems_text(exc.value.errors()) == (
        "period_date: Input should be a valid string or a valid integer; days: Input should be a valid integer"
    )
