"""The pricing-model registry (`pricing.PRICING_MODELS`) is what the importer and rating enforce.

Every check is parametrized over the registry itself, so a model added there is checked here without
a new test: its required columns are refused when blank (naming the column and the model), its
positive columns refused at 0, its tiers required (tiered) or refused (not tiered), and a line that
gives only the required fields imports.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from helpers_data import add_contract, add_customer, add_line

from engine.billing.invoices import preview_invoice
from engine.errors import ImportProblems, ValidationError
from engine.ingest.importer import import_folder
from engine.rating.pricing import PRICING_MODELS, model_names, pricing_model, tiered_models, unit_price_models

# A valid value for every column a model may require or want positive.
VALID = {"unit_price": "2.50", "package_size": "10", "percentage_rate": "2.9"}
TIER_ROWS = "L1,100,1.00\nL1,,0.50\n"
CASES_REQUIRED = [(m.name, col) for m in PRICING_MODELS.values() for col in m.required]
CASES_POSITIVE = [(m.name, col) for m in PRICING_MODELS.values() for col in m.positive]


def folder(tmp_path: Path, model: str, cells: dict[str, str], tiers: str | None) -> Path:
    """A data folder with one usage line of `model` whose optional cells are `cells` (others blank)."""
    columns = ["line_id", "contract_id", "product", "kind", "pricing_model", "metric", *VALID]
    row = {"line_id": "L1", "contract_id": "K1", "product": "P", "kind": "usage", "pricing_model": model}
    row |= {"metric": "m"} | cells
    (tmp_path / "customers.csv").write_text("customer_id,name\nC1,Acme\n")
    (tmp_path / "contracts.csv").write_text("contract_id,customer_id,start_date\nK1,C1,2026-03-01\n")
    (tmp_path / "order_lines.csv").write_text(
        ",".join(columns) + "\n" + ",".join(row.get(c, "") for c in columns) + "\n"
    )
    if tiers is not None:
        (tmp_path / "price_tiers.csv").write_text("line_id,up_to,unit_price\n" + tiers)
    return tmp_path


def required_cells(model: str) -> dict[str, str]:
    return {col: VALID[col] for col in PRICING_MODELS[model].required}


def problems(con, path: Path) -> list[dict]:
    with pytest.raises(ImportProblems) as caught:
        import_folder(con, path)
    return caught.value.problems


@pytest.mark.parametrize("model", model_names())
def test_a_line_with_only_its_models_required_fields_imports(con, tmp_path, model):
    tiers = TIER_ROWS if pricing_model(model).tiered else None
    counts = import_folder(con, folder(tmp_path, model, required_cells(model), tiers))
    assert counts["order_lines"] == 1


@pytest.mark.parametrize("model, column", CASES_REQUIRED)
def test_a_blank_required_field_is_refused_naming_the_column_and_the_model(con, tmp_path, model, column):
    cells = required_cells(model)
    del cells[column]
    tiers = TIER_ROWS if pricing_model(model).tiered else None
    (problem,) = problems(con, folder(tmp_path, model, cells, tiers))
    assert (problem["file"], problem["line"], problem["column"]) == ("order_lines.csv", 2, column)
    assert problem["reason"].startswith(f"a {model} line needs a {column}")


@pytest.mark.parametrize("model, column", CASES_POSITIVE)
def test_a_zero_positive_field_is_refused(con, tmp_path, model, column):
    (problem,) = problems(con, folder(tmp_path, model, required_cells(model) | {column: "0"}, None))
    assert (problem["column"], problem["reason"]) == (column, f"{column} must be more than 0")


@pytest.mark.parametrize("model", tiered_models())
def test_a_tiered_line_without_tiers_is_refused(con, tmp_path, model):
    (problem,) = problems(con, folder(tmp_path, model, required_cells(model), None))
    assert problem["column"] == "pricing_model" and "needs price tiers" in problem["reason"]


@pytest.mark.parametrize("model", [m for m in model_names() if m not in tiered_models()])
def test_tiers_of_a_line_whose_model_has_none_are_refused(con, tmp_path, model):
    (problem,) = problems(con, folder(tmp_path, model, required_cells(model), "L1,,0.50\n"))
    assert (problem["file"], problem["line"]) == ("price_tiers.csv", 2)
    assert f"is priced '{model}': only graduated and volume lines have price tiers" in problem["reason"]


def test_a_model_outside_the_registry_is_refused_and_the_allowed_ones_listed(con, tmp_path):
    (problem,) = problems(con, folder(tmp_path, "tiered_magic", {"unit_price": "1"}, None))
    assert problem["column"] == "pricing_model"
    assert problem["reason"].endswith("is not one of: " + ", ".join(model_names()))
    with pytest.raises(ValidationError, match="unknown pricing model 'tiered_magic'"):
        pricing_model("tiered_magic")


@pytest.mark.parametrize("model", model_names())
def test_the_invoice_line_shows_a_unit_price_only_for_models_priced_by_it(con, model):
    add_customer(con, "C1")
    add_contract(con, "K1", "C1", "2026-03-01", billing_cycle_start_day=1)
    # every line stores a unit_price; only the models priced by it show it on the invoice line
    fields = {k: v for k, v in required_cells(model).items() if k != "unit_price"}
    tiers = [("100", "1.00"), (None, "0.50")] if pricing_model(model).tiered else None
    add_line(con, "L1", "K1", kind="recurring", pricing_model=model, unit_price="2.50", tiers=tiers, **fields)
    (line,) = preview_invoice(con, "K1", dt.date(2026, 3, 15)).lines
    assert (line.unit_price is not None) == (model in unit_price_models())
