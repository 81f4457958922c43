"""DayZero bodies as engine requests: custom lines only, `amount` as the deprecated `unit_price`; the
workbench's batch CSV (one row per line item, grouped by `invoice`)."""

from __future__ import annotations

import pytest

from engine.errors import ValidationError
from engine.service.seed_bodies import batch_from_csv, create_request


def test_seed_line_items_become_custom_lines():
    req = create_request(
        {
            "customer_id": "C1",
            "line_items": [
                {"variant_id": "custom", "description": "A", "unit_price": 150, "quantity": 3},
                {"variant_id": None, "description": "B", "amount": 99},
                {"description": "C", "unit_price": 5, "amount": 7},
            ],
            "due_date": "2026-05-01",
        }
    )
    assert [(i.description, i.unit_price, str(i.quantity)) for i in req.line_items] == [
        ("A", 150, "3"),
        ("B", 99, "1"),
        ("C", 5, "1"),
    ]
    with pytest.raises(ValidationError, match="variant"):
        create_request({"customer_id": "C1", "line_items": [{"variant_id": "v1"}], "due_date": "2026-05-01"})
    with pytest.raises(ValidationError, match="line_items"):
        create_request({"customer_id": "C1", "line_items": [], "due_date": "2026-05-01"})


def test_batch_csv_groups_rows_by_invoice():
    body = batch_from_csv(
        "invoice,customer_id,currency,due_date,description,line_description,unit_price,quantity\n"
        "1,C1,EUR,2026-05-01,May,Setup,1000,\n"
        "1,C1,,2026-05-01,,Hours,50,8\n"
        "2,C2,,2026-05-02,,Fee,700,1\n",
        finalize=True,
    )
    assert body["finalize"] is True and body["include_delayed_charges"] is False
    first, second = body["items"]
    assert (first["customer_id"], first["currency"], first["description"]) == ("C1", "EUR", "May")
    assert first["line_items"] == [
        {"description": "Setup", "unit_price": 1000, "quantity": 1},
        {"description": "Hours", "unit_price": 50, "quantity": 8},
    ]
    assert second == {
        "customer_id": "C2",
        "due_date": "2026-05-02",
        "line_items": [{"description": "Fee", "unit_price": 700, "quantity": 1}],
    }


@pytest.mark.parametrize(
    "text, words",
    [
        ("customer_id,due_date\nC1,2026-05-01\n", "missing"),
        ("invoice,customer_id,due_date,line_description,unit_price,colour\n", "unknown CSV column"),
        ("invoice,customer_id,due_date,line_description,unit_price\n1,C1,2026-05-01,A,12.50\n", "line 2"),
        # integer minor units in ASCII digits: int() would read '١٢٥٠' as 1250 and '1_250' as 1250
        ("invoice,customer_id,due_date,line_description,unit_price\n1,C1,2026-05-01,A,١٢٥٠\n", "line 2: unit_price"),
        ("invoice,customer_id,due_date,line_description,unit_price\n1,C1,2026-05-01,A,1_250\n", "line 2: unit_price"),
        (
            "invoice,customer_id,due_date,line_description,unit_price,quantity\n1,C1,2026-05-01,A,1250,３\n",
            "line 2: unit_price",
        ),
        ("invoice,customer_id,due_date,line_description,unit_price\n1,C1,2026-05-01,,100\n", "line_description"),
        (
            "invoice,customer_id,due_date,line_description,unit_price\n1,C1,2026-05-01,A,1\n1,C2,2026-05-01,B,1\n",
            "two customers",
        ),
        ("invoice,customer_id,due_date,line_description,unit_price\n", "no rows"),
    ],
)
def test_batch_csv_problems_name_the_line(text, words):
    with pytest.raises(ValidationError, match=words):
        batch_from_csv(text)
