"""Importing taxes.csv, coupons.csv, applied_coupons.csv and the tax_codes columns (spec section 11):
all-or-nothing, every problem named with its file, line, column and reason.

The folder is the spec's worked 'adjustments' example (tests/examples/adjustments); each test breaks one
cell and checks that exactly that problem is reported and that nothing is written."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest

from engine.errors import ImportProblems
from engine.ingest.importer import import_folder
from engine.schema import INPUT_TABLES

EXAMPLE = Path(__file__).resolve().parent / "examples" / "adjustments"
COUNTS = {
    "customers": 2,
    "contracts": 2,
    "order_lines": 4,
    "price_tiers": 0,
    "usage": 2,
    "delayed_charges": 0,
    "taxes": 3,
    "coupons": 3,
    "applied_coupons": 3,
    "businesses": 0,  # the optional businesses.csv: not in this folder
}


@pytest.fixture
def folder(tmp_path) -> Path:
    dst = tmp_path / "adjustments"
    shutil.copytree(EXAMPLE, dst)
    for path in dst.iterdir():
        path.chmod(0o644)
    return dst


def set_cell(folder: Path, file: str, key: str, column: str, value: str) -> int:
    """Set the cell of `column` in the row whose first cell is `key`; returns its line number."""
    path = folder / file
    with path.open(newline="") as fh:
        rows = list(csv.reader(fh))
    index = next(i for i, r in enumerate(rows) if r[0] == key)
    rows[index][rows[0].index(column)] = value
    with path.open("w", newline="") as fh:
        csv.writer(fh, lineterminator="\n").writerows(rows)
    return index + 1


def add_column(folder: Path, file: str, column: str, value: str = "") -> None:
    """A new last column `column`, `value` in every row."""
    path = folder / file
    with path.open(newline="") as fh:
        rows = list(csv.reader(fh))
    rows = [rows[0] + [column]] + [r + [value] for r in rows[1:]]
    with path.open("w", newline="") as fh:
        csv.writer(fh, lineterminator="\n").writerows(rows)


def append(folder: Path, file: str, row: str) -> int:
    with (folder / file).open("a") as fh:
        fh.write(row + "\n")
    return (folder / file).read_text().count("\n")


def the_problem(con, folder: Path) -> dict:
    """The import is refused with exactly one problem, and nothing is written."""
    with pytest.raises(ImportProblems) as caught:
        import_folder(con, folder)
    problems = caught.value.problems
    assert len(problems) == 1, problems
    assert all(con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] == 0 for t in INPUT_TABLES)
    return problems[0]


def at(problem: dict, file: str, line: int, column: str, *words: str) -> None:
    assert (problem["file"], problem["line"], problem["column"]) == (file, line, column), problem
    for word in words:
        assert word in problem["reason"], problem


def test_the_example_imports_with_codes_stored_sorted_and_none_kept(con, folder):
    assert import_folder(con, folder) == COUNTS
    assert con.execute("SELECT line_id, tax_codes FROM order_lines ORDER BY 1").fetchall() == [
        ("a", None),
        ("b", "T10;T12"),
        ("c", None),
        ("d", "none"),
    ]
    assert con.execute("SELECT products FROM coupons WHERE coupon_id = 'HALFHOST'").fetchone() == ("Hosting",)


def test_codes_are_trimmed_deduplicated_and_sorted(con, folder):
    set_cell(folder, "order_lines.csv", "b", "tax_codes", " T12 ; T10;T12")
    import_folder(con, folder)
    assert con.execute("SELECT tax_codes FROM order_lines WHERE line_id = 'b'").fetchone() == ("T10;T12",)


@pytest.mark.parametrize(("file", "key"), [("customers.csv", "A1"), ("order_lines.csv", "a")])
def test_an_unknown_tax_code_is_named(con, folder, file, key):
    line = set_cell(folder, file, key, "tax_codes", "T10;NOPE")
    at(the_problem(con, folder), file, line, "tax_codes", "unknown tax code 'NOPE'")


@pytest.mark.parametrize(("file", "key"), [("customers.csv", "A1"), ("order_lines.csv", "a")])
def test_a_tax_code_of_another_business_is_named(con, folder, file, key):
    add_column(folder, "taxes.csv", "business_id")
    append(folder, "taxes.csv", "OTHER,Other tax,5,biz-other")
    line = set_cell(folder, file, key, "tax_codes", "OTHER")
    at(the_problem(con, folder), file, line, "tax_codes", "'OTHER'", "biz-other")


def test_a_customer_with_both_tax_rate_and_tax_codes_is_refused(con, folder):
    line = set_cell(folder, "customers.csv", "A1", "tax_rate", "8")
    at(the_problem(con, folder), "customers.csv", line, "tax_codes", "either tax_rate", "not both")


def test_none_cannot_be_combined_with_codes_and_an_empty_item_is_refused(con, folder):
    line = set_cell(folder, "order_lines.csv", "d", "tax_codes", "none;T10")
    at(the_problem(con, folder), "order_lines.csv", line, "tax_codes", "'none'", "cannot be combined")
    set_cell(folder, "order_lines.csv", "d", "tax_codes", "T10;;T12")
    at(the_problem(con, folder), "order_lines.csv", line, "tax_codes", "empty item")


@pytest.mark.parametrize(
    ("rate", "words"),
    [
        ("-1", ["negative"]),
        ("8.87501", ["more than 4 decimal places"]),
        ("100.5", ["more than 100"]),
        ("x", ["number"]),
    ],
)
def test_a_tax_rate_must_be_0_to_100_with_at_most_4_decimals(con, folder, rate, words):
    line = set_cell(folder, "taxes.csv", "T12", "rate", rate)
    at(the_problem(con, folder), "taxes.csv", line, "rate", *words)


def test_a_tax_rate_with_4_decimals_and_a_zero_rate_import(con, folder):
    set_cell(folder, "taxes.csv", "T12", "rate", "8.8750")
    set_cell(folder, "taxes.csv", "T10", "rate", "0")
    import_folder(con, folder)
    assert con.execute("SELECT rate FROM taxes WHERE tax_code = 'T12'").fetchone()[0] == pytest.approx(8.875)


def test_a_coupon_of_another_business_than_the_contracts_is_refused_on_its_application(con, folder):
    add_column(folder, "coupons.csv", "business_id")
    set_cell(folder, "coupons.csv", "TENOFF", "business_id", "biz-other")
    at(the_problem(con, folder), "applied_coupons.csv", 2, "coupon_id", "'TENOFF'", "biz-other")


@pytest.mark.parametrize(
    ("column", "value", "words"),
    [("amount", "", ["fixed coupon needs an amount"]), ("currency", "", ["fixed coupon needs a currency"])],
)
def test_a_fixed_coupon_needs_an_amount_and_a_currency(con, folder, column, value, words):
    line = set_cell(folder, "coupons.csv", "TENOFF", column, value)
    at(the_problem(con, folder), "coupons.csv", line, column, *words)


def test_a_fixed_coupon_amount_has_at_most_its_currencys_decimals(con, folder):
    line = set_cell(folder, "coupons.csv", "TENOFF", "amount", "10.005")
    at(the_problem(con, folder), "coupons.csv", line, "amount", "more decimals than its currency USD")


@pytest.mark.parametrize(("percent", "words"), [("0", ["more than 0"]), ("100.01", ["more than 100"])])
def test_a_percentage_is_more_than_0_and_at_most_100(con, folder, percent, words):
    line = set_cell(folder, "coupons.csv", "HALFHOST", "percent", percent)
    at(the_problem(con, folder), "coupons.csv", line, "percent", *words)


def test_a_percentage_of_100_imports(con, folder):
    set_cell(folder, "coupons.csv", "HALFHOST", "percent", "100")
    assert import_folder(con, folder) == COUNTS


@pytest.mark.parametrize(("periods", "words"), [("", ["recurring coupon needs periods"]), ("0", ["outside"])])
def test_a_recurring_coupon_needs_periods_of_at_least_1(con, folder, periods, words):
    line = set_cell(folder, "coupons.csv", "HALFHOST", "periods", periods)
    at(the_problem(con, folder), "coupons.csv", line, "periods", *words)


def test_an_unknown_product_of_a_coupon_is_named(con, folder):
    line = set_cell(folder, "coupons.csv", "HALFHOST", "products", "Hosting;Housing")
    at(the_problem(con, folder), "coupons.csv", line, "products", "unknown product 'Housing'")


def test_the_same_coupon_applied_twice_to_a_contract_on_one_date_is_refused(con, folder):
    line = append(folder, "applied_coupons.csv", "KA-1,TENOFF,2026-03-01")
    at(the_problem(con, folder), "applied_coupons.csv", line, "applied_on", "'TENOFF'", "KA-1", "line 2")


def test_the_same_coupon_on_another_date_is_a_second_application(con, folder):
    append(folder, "applied_coupons.csv", "KA-1,TENOFF,2026-04-01")
    assert import_folder(con, folder)["applied_coupons"] == 4


def test_an_application_already_in_the_database_is_a_duplicate(con, folder, tmp_path):
    import_folder(con, folder)
    again = tmp_path / "again"
    again.mkdir()
    (again / "applied_coupons.csv").write_text("contract_id,coupon_id,applied_on\nKA-1,TENOFF,2026-03-01\n")
    with pytest.raises(ImportProblems) as caught:
        import_folder(con, again)
    [problem] = caught.value.problems
    at(problem, "applied_coupons.csv", 2, "applied_on", "already applied", "in the database")


def test_an_application_of_an_unknown_coupon_or_contract_is_named(con, folder):
    append(folder, "applied_coupons.csv", "KA-9,NOPE,2026-03-01")
    with pytest.raises(ImportProblems) as caught:
        import_folder(con, folder)
    found = {(p["line"], p["column"]) for p in caught.value.problems}
    assert found == {(5, "contract_id"), (5, "coupon_id")}


def test_every_problem_is_reported_at_once(con, folder):
    set_cell(folder, "customers.csv", "A1", "tax_codes", "NOPE")
    set_cell(folder, "coupons.csv", "TENOFF", "amount", "")
    set_cell(folder, "taxes.csv", "T12", "rate", "-3")
    with pytest.raises(ImportProblems) as caught:
        import_folder(con, folder)
    files = sorted(p["file"] for p in caught.value.problems)
    assert files == ["coupons.csv", "customers.csv", "taxes.csv"]
