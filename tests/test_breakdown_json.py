"""A line's breakdown JSON (rating/breakdown_json.py): only the members with a value, exact decimals as strings,
text escaped, and read back by invoice_store.line_from_row as if the missing members were null."""

from __future__ import annotations

import json
from decimal import Decimal

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.billing.invoice_store import line_from_row
from engine.rating.breakdown_json import json_object_sql, tier_json_sql

MEMBERS = [("name", "t", "text"), ("rate", "d", "decimal"), ("rows", "n", "integer"), ("tiers", "j", "json")]
ROW_SQL = "SELECT ?::VARCHAR AS t, ?::DECIMAL(38,12) AS d, ?::BIGINT AS n, ?::VARCHAR AS j"


@pytest.fixture(scope="module")
def duck():
    con = duckdb.connect()
    yield con
    con.close()


def _object(duck, t, d, n, j) -> str:
    return duck.execute(f"SELECT {json_object_sql(MEMBERS)} FROM ({ROW_SQL})", [t, d, n, j]).fetchone()[0]


@settings(max_examples=200, deadline=None)
@given(
    t=st.none() | st.text(),
    d=st.none() | st.decimals(min_value=-(10**13), max_value=10**13, places=12, allow_nan=False),
    n=st.none() | st.integers(-(2**63), 2**63 - 1),
    j=st.none() | st.sampled_from(["[]", '[{"tier_no":1}]', "null"]),
)
def test_the_object_holds_exactly_the_members_with_a_value(duck, t, d, n, j):
    t = None if t is None else t.replace("\x00", "")  # DuckDB text holds no NUL
    got = json.loads(_object(duck, t, d, n, j), parse_float=Decimal)
    want = {
        k: v
        for k, v in {"name": t, "rate": None if d is None else str(d), "rows": n, "tiers": j and json.loads(j)}.items()
        if v is not None or (k == "tiers" and j == "null")
    }
    if "rate" in got:  # DuckDB writes the DECIMAL(38,12) with its 12 decimals: the same number
        assert Decimal(got.pop("rate")) == Decimal(want.pop("rate"))
    assert got == want


def test_an_all_null_breakdown_is_an_empty_object_and_reads_as_nothing_given(duck):
    text = _object(duck, None, None, None, None)
    assert text == "{}"
    line = line_from_row({"line_no": 1, "kind": "recurring", "amount_minor": 100, "breakdown": text}, "USD")
    assert line.pricing_model is None and line.discount_percent is None and line.tiers is None


def test_quotes_and_backslashes_in_text_stay_valid_json(duck):
    assert json.loads(_object(duck, 'a "quoted" \\ name\n', None, 3, None)) == {
        "name": 'a "quoted" \\ name\n',
        "rows": 3,
    }


def test_a_tier_carries_every_member_and_up_to_null_when_unbounded(duck):
    sql = f"""SELECT {tier_json_sql()} FROM (SELECT 2 AS tier_no, 1000.000000::DECIMAL(38,6) AS lower,
                 ?::DECIMAL(38,6) AS up_to, 2294.2::DECIMAL(38,6) AS units, 0.015::DECIMAL(38,12) AS t_unit_price,
                 5::DECIMAL(38,12) AS t_flat_fee, TRUE AS applies)"""
    bounded = json.loads(duck.execute(sql, [10000]).fetchone()[0], parse_float=Decimal)
    assert bounded == {
        "tier_no": 2,
        "lower": "1000.000000",
        "up_to": "10000.000000",
        "units": "2294.200000",
        "unit_price": "0.015000000000",
        "flat_fee": "5.000000000000",
        "amount": "39.413000000000000000",  # 2294.2 × 0.015 + 5, exactly
    }
    assert json.loads(duck.execute(sql, [None]).fetchone()[0])["up_to"] is None
