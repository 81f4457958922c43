"""Every CSV file the product writes guards text cells against formula injection, by the one rule.

The writers: the ledger export (invoices.csv, invoice_lines.csv; the Ledger page's downloads) and the
what-if comparison.csv (the Scenarios page's download). The CLI's cycles CSV has dates and numbers only.
Each case names its ids, product and description with one formula prefix; every one of those cells
comes out with a leading ' in every file, and nothing else is changed.
"""

from __future__ import annotations

import csv
import datetime as dt

import pytest
from helpers_data import add_contract, add_customer, add_line

from engine.billing.bill_run import bill_run
from engine.io.csv_guard import FORMULA_PREFIXES
from engine.io.export import export_ledger
from engine.whatif.scenarios import parse_scenario, simulate

MARCH = dt.date(2026, 3, 1)


def read_csv(path) -> list[dict]:
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.parametrize("prefix", FORMULA_PREFIXES, ids=repr)
def test_text_cells_starting_with_a_formula_prefix_are_guarded_in_every_csv_written(con, tmp_path, prefix):
    text = {
        "customer_id": f"{prefix}C1",
        "contract_id": f"{prefix}K1",
        "line_id": f"{prefix}L1",
        "product": f"{prefix}SUM(A1)",
        "description": f'{prefix}HYPERLINK("http://x","y")',
    }
    add_customer(con, text["customer_id"], name=f"{prefix}Acme")
    add_contract(con, text["contract_id"], text["customer_id"], "2026-03-01", billing_cycle_start_day=1)
    add_line(
        con,
        text["line_id"],
        text["contract_id"],
        unit_price="10",
        product=text["product"],
        description=text["description"],
    )
    bill_run(con, MARCH)
    ledger = export_ledger(con, tmp_path / "ledger")
    scenario = parse_scenario({"name": "s", "changes": [{"type": "price", "percent": 10}]})
    summary = simulate(con, scenario, MARCH, MARCH, out_dir=tmp_path / "whatif")
    comparison = tmp_path / "whatif" / "comparison.csv"

    files = {
        "invoices.csv": (ledger["invoices"], ("customer_id", "contract_id")),
        "invoice_lines.csv": (ledger["invoice_lines"], ("line_id", "product", "description")),
        "comparison.csv": (comparison, ("contract_id", "customer_id", "line_id", "product")),
    }
    assert summary["comparison_csv"] == str(files["comparison.csv"][0])
    for name, (path, columns) in files.items():
        rows = [r for r in read_csv(path) if r.get("kind") != "minimum_commitment_true_up"]
        assert rows, name
        for row in rows:
            assert {c: row[c] for c in columns} == {c: "'" + text[c] for c in columns}, name
