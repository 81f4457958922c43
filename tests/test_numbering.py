"""Invoice numbers as the customer sees them (engine/billing/numbering.py): '<prefix>-<year finalized>-<6 digits>',
the business's prefix from businesses.csv or INV, the same text from Python and from SQL."""

from __future__ import annotations

import datetime as dt

import pytest

from engine.billing.numbering import DEFAULT_PREFIX, businesses_join, invoice_number, invoice_number_sql
from engine.db import connect


@pytest.mark.parametrize(
    ("prefix", "finalized", "number", "expected"),
    [
        ("N", dt.datetime(2026, 3, 1, 12), 1, "N-2026-000001"),
        (None, dt.datetime(2026, 12, 31, 23, 59), 12, "INV-2026-000012"),
        ("S", dt.date(2027, 1, 1), 999_999, "S-2027-999999"),
        ("S", dt.date(2027, 1, 1), 1_234_567, "S-2027-1234567"),  # never cut to six digits
        ("N", dt.date(2026, 1, 1), None, None),  # a draft has no number
        ("N", None, 5, None),
    ],
)
def test_the_number_as_the_customer_sees_it_in_python_and_in_sql(prefix, finalized, number, expected):
    assert invoice_number(prefix, finalized, number) == expected
    con = connect(":memory:")
    try:
        con.execute("INSERT INTO businesses (business_id, name, invoice_prefix) VALUES ('b1', 'B', ?)", [prefix])
        row = con.execute(
            f"""SELECT {invoice_number_sql("i", "b")} FROM (SELECT 'b1' AS business_id, ?::BIGINT AS number,
                       ?::TIMESTAMP AS finalized_at) i {businesses_join("i", "b")}""",  # noqa: S608 (the engine's own SQL)
            [number, finalized],
        ).fetchone()
    finally:
        con.close()
    assert row[0] == expected
    assert DEFAULT_PREFIX == "INV"
    if expected:  # a credit note of spec section 12 will be '<invoice number>-CN<n>'
        assert f"{expected}-CN1".count("-") == 3
