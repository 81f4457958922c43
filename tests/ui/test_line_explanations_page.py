"""The workbench's invoice view shows each line's explanation (docs/RULES.md "What a line shows"), the engine's text:
a package line its units, free units and packs (and no unit price beside its quantity), a percentage line its rate
and fixed fee, the true-up its commitment and the order lines; the Review page's compact lines show the explanation
in place of quantity × price. The data: tests/test_line_explanations.py `explained`."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from engine.db import connect
from engine.service import Billsim, Caller, contracts
from tests.helpers_data import PACKAGE, PERCENTAGE, TRUE_UP, explained
from tests.ui.test_pages import assert_clean, open_page, start_app

MARCH = dt.date(2026, 3, 1)


@pytest.fixture
def explained_db(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "workbench.duckdb"
    con = connect(path)
    explained(con)
    con.close()
    monkeypatch.setenv("BILLSIM_DB", str(path))
    yield path
    from views._database import forget_database

    forget_database(str(path))


def _lines(contract_id: str):
    at = start_app()
    at.session_state["contract_id"] = at.session_state["preview_contract"] = contract_id
    at.session_state["period_start"] = at.session_state[f"preview_cycle_{contract_id}"] = MARCH
    open_page(at, "views/invoice_preview.py")
    assert_clean(at)
    (lines,) = [d.value for d in at.dataframe if "line" in d.value.columns and "amount" in d.value.columns]
    return lines


@pytest.mark.parametrize(
    "contract_id, product, explanation, unit_price",
    [("KP", "SMS", PACKAGE, ""), ("KQ", "Payments", PERCENTAGE, ""), ("KM", "Platform", "", "$239.00")],
)
def test_the_invoice_view_shows_each_lines_explanation(explained_db, contract_id, product, explanation, unit_price):
    lines = _lines(contract_id).set_index("line")
    assert lines.loc[product, "explanation"] == explanation
    assert lines.loc[product, "unit price"] == unit_price  # a package's price is per pack: in its explanation
    if contract_id == "KM":
        assert TRUE_UP in list(lines["explanation"])


def test_the_review_pages_compact_lines_show_the_explanation_in_place_of_quantity_times_price(explained_db):
    from views._invoice_view import compact_lines_frame, lines_frame

    with Billsim.open(explained_db) as app:
        inv = contracts.preview(app.session(Caller.local()), "KM", dt.date(2026, 3, 15))
    compact = compact_lines_frame(lines_frame(inv)).set_index("line")
    assert compact.loc["Platform", "quantity × price"] == "1 × $239.00"
    assert compact.loc["Minimum commitment true-up", "quantity × price"] == TRUE_UP


def test_a_lines_quantity_is_grouped_as_its_explanation_writes_it(explained_db):
    """The table read `5710` beside an explanation of `5,710 units`: quantities are grouped like amounts, exact."""
    lines = _lines("KP").set_index("line")
    assert lines.loc["SMS", "quantity"] == "5,710" and PACKAGE.startswith("5,710 units")
    assert _lines("KQ").set_index("line").loc["Payments", "quantity"] == "715.61"  # every decimal kept
