"""The workbench's words for stored values."""

from views._format import scope_text


def test_a_run_scope_names_every_restriction_and_an_empty_list_is_not_all_contracts():
    assert scope_text({"contract_ids": None, "customer_ids": None, "business_id": None}) == "all contracts"
    assert scope_text({"contract_ids": [], "customer_ids": None, "business_id": None}) == "0 contract(s)"
    assert scope_text({"contract_ids": None, "customer_ids": ["C1", "C2"], "business_id": "acme"}) == (
        "business acme, 2 customer(s)"
    )
