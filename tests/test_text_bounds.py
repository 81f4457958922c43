"""Names typed on the workbench have the application layer's bounds (engine/limits.py): a what-if scenario's name
and a new coupon's id and name at MAX_NAME like every other id and name, an API token's name at MAX_TOKEN_NAME, the
actor's name (who acts: --actor, "Your name", a token's name) at MAX_NAME and storable; an amount in major units
beyond the money bound is refused in the one wording every front end shows."""

from __future__ import annotations

import copy
import datetime as dt
from decimal import Decimal

import pytest

from engine.errors import ScenarioError, ValidationError
from engine.limits import MAX_NAME, MAX_TOKEN_NAME, beyond_money_limit
from engine.money import MONEY_LIMIT
from engine.service import Billsim, Caller, access, contracts, lifecycle
from engine.service.requests import CreditNoteItemRequest, parse
from engine.whatif.scenarios import parse_scenario
from tests.helpers_data import add_contract, add_customer, add_line

COUPON = {
    "type": "coupon",
    "coupon": {"coupon_id": "NEW10", "name": "New 10 %", "kind": "percentage", "percent": "10", "frequency": "forever"},
    "contract_ids": ["KA-2"],
    "applied_on": "2026-03-01",
}


def test_a_scenario_name_is_bounded_like_every_name():
    assert parse_scenario({"name": "n" * MAX_NAME, "changes": []}).name == "n" * MAX_NAME
    with pytest.raises(ScenarioError, match="name"):
        parse_scenario({"name": "n" * (MAX_NAME + 1), "changes": []})


@pytest.mark.parametrize("field", ["coupon_id", "name"])
def test_a_new_coupons_id_and_name_are_bounded_like_every_id_and_name(field):
    change = copy.deepcopy(COUPON)
    change["coupon"][field] = "c" * MAX_NAME
    parse_scenario({"name": "s", "changes": [change]})
    change["coupon"][field] = "c" * (MAX_NAME + 1)
    with pytest.raises(ScenarioError, match=field):
        parse_scenario({"name": "s", "changes": [change]})


def test_a_token_name_past_its_bound_is_refused(tmp_path):
    with Billsim.open(tmp_path / "b.duckdb") as app:
        s = app.session(Caller.local("t"))
        assert access.create(s, "biz", "t" * MAX_TOKEN_NAME)["name"] == "t" * MAX_TOKEN_NAME
        with pytest.raises(ValidationError, match=f"at most {MAX_TOKEN_NAME}"):
            access.create(s, "biz", "u" * (MAX_TOKEN_NAME + 1))


def test_the_money_bound_is_said_in_one_wording():
    assert beyond_money_limit(Decimal(MONEY_LIMIT - 1)) is None
    words = f"is beyond the largest amount ({MONEY_LIMIT:,} major units)"
    assert beyond_money_limit(Decimal("1e30"), "1e30") == f"1e30 {words}"
    assert beyond_money_limit(Decimal(-MONEY_LIMIT)) == f"{-MONEY_LIMIT} {words}"
    with pytest.raises(
        ValidationError, match=f"1000000000000000000000000000000 {words.replace('(', '[(]').replace(')', '[)]')}"
    ):
        parse(CreditNoteItemRequest, {"line_no": 1, "amount": "1000000000000000000000000000000"})


@pytest.mark.parametrize(
    ("actor", "words"),
    [
        ("a" * (MAX_NAME + 1), f"invalid request: actor: String should have at most {MAX_NAME} characters"),
        ("ana\x00", "invalid request: actor: the text contains a NUL character"),
        ("ana\u202e", "invalid request: actor: the text contains a control character (U+202E)"),
        ("eve\nmallory", "invalid request: actor: a name is one line: no tab or line break"),  # a two-line audit cell
        ("bob\tx", "invalid request: actor: a name is one line: no tab or line break"),
    ],
)
def test_an_actor_past_the_name_bound_or_not_storable_is_refused_before_anything_is_written(tmp_path, actor, words):
    """Who acts is recorded with every change (the audit trail, approved_by, a run's requested_by): a name like every
    other, refused as validation_error whichever front end named it, before anything is read or written."""
    with Billsim.open(tmp_path / "b.duckdb") as app:
        with app.database.cursor() as cur:
            add_customer(cur, "C1")
            add_contract(cur, "K1", "C1", "2026-01-01")
            add_line(cur, "L1", "K1", unit_price="10.00")
        for make in (lambda: Caller.local(actor), lambda: Caller.of_business("default", actor)):
            with pytest.raises(ValidationError) as refused:
                contracts.draft(app.session(make()), "K1", dt.date(2026, 3, 15))
            assert (refused.value.code, refused.value.message) == ("validation_error", words)
        with app.database.cursor() as cur:
            assert cur.execute("SELECT count(*) FROM invoices").fetchone()[0] == 0
            assert cur.execute("SELECT count(*) FROM invoice_events").fetchone()[0] == 0


def test_an_actor_at_the_name_bound_is_recorded_whole(tmp_path):
    actor = "a" * MAX_NAME
    with Billsim.open(tmp_path / "b.duckdb") as app:
        with app.database.cursor() as cur:
            add_customer(cur, "C1")
            add_contract(cur, "K1", "C1", "2026-01-01")
            add_line(cur, "L1", "K1", unit_price="10.00")
        s = app.session(Caller.local(actor))
        draft = contracts.draft(s, "K1", dt.date(2026, 3, 15)).invoice
        (approved,) = lifecycle.approve(s, [draft.invoice_id]).approved
        with app.database.cursor() as cur:
            assert cur.execute("SELECT DISTINCT actor FROM invoice_events").fetchall() == [(actor,)]
            assert cur.execute("SELECT approved_by FROM invoices").fetchall() == [(actor,)]
