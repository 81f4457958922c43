"""Importing data folders and DataFrames (spec section 1): typed rows in, or every problem and nothing in."""

from __future__ import annotations

import csv
import datetime as dt
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from engine.errors import ImportProblems, ValidationError
from engine.ingest.importer import MAX_PROBLEMS, import_folder, import_frames
from engine.schema import INPUT_TABLES

ROOT = Path(__file__).resolve().parent.parent
BASICS_COUNTS = {
    "customers": 3,
    "contracts": 6,
    "order_lines": 11,
    "price_tiers": 5,
    "usage": 14,
    "delayed_charges": 3,
    # spec section 11's files: none in this folder
    "taxes": 0,
    "coupons": 0,
    "applied_coupons": 0,
    "businesses": 0,  # the optional businesses.csv is not in the folder: it imports as before
}


# -- helpers -----------------------------------------------------------------------------------------------
def edit(folder: Path, file: str, old: str, new: str) -> None:
    """Replace one exact piece of text in a CSV of the folder (it must be there)."""
    path = folder / file
    text = path.read_text()
    assert old in text, f"{old!r} not in {file}"
    path.write_text(text.replace(old, new, 1))


def set_cell(folder: Path, file: str, row: str | int, column: str, value: str) -> None:
    """Set one cell: `row` is the value of the row's first column, or its line number in the file."""
    path = folder / file
    with path.open(newline="") as fh:
        rows = list(csv.reader(fh))
    col = rows[0].index(column)
    index = row - 1 if isinstance(row, int) else next(i for i, r in enumerate(rows) if r[0] == row)
    rows[index][col] = value
    with path.open("w", newline="") as fh:
        csv.writer(fh, lineterminator="\n").writerows(rows)


def append(folder: Path, file: str, *rows: str) -> None:
    with (folder / file).open("a") as fh:
        fh.write("".join(row + "\n" for row in rows))


def write(folder: Path, file: str, text: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / file).write_text(text)


def problems_of(con, folder: Path) -> list[dict]:
    with pytest.raises(ImportProblems) as caught:
        import_folder(con, folder)
    return caught.value.problems


def only_problem(problems: list[dict]) -> dict:
    assert len(problems) == 1, problems
    return problems[0]


def assert_problem(problems: list[dict], file: str, line: int, column: str, *words: str) -> dict:
    """Exactly one problem at (file, line, column), whose reason holds every word given."""
    hits = [p for p in problems if (p["file"], p["line"], p["column"]) == (file, line, column)]
    assert len(hits) == 1, f"no single problem at {file}:{line} {column!r} in {problems}"
    for word in words:
        assert word in hits[0]["reason"], hits[0]
    return hits[0]


def counts(con) -> dict[str, int]:
    return {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in INPUT_TABLES}


def frames_of(folder: Path) -> dict[str, pd.DataFrame]:
    """The folder's CSV files as DataFrames of text, as the UI upload reads them."""
    return {p.stem: pd.read_csv(p, dtype=str, keep_default_na=False) for p in folder.glob("*.csv")}


# -- a valid folder ----------------------------------------------------------------------------------------
def test_basics_folder_imports_every_row_and_reports_the_counts(con, basics_folder):
    assert import_folder(con, basics_folder) == BASICS_COUNTS
    assert counts(con) == BASICS_COUNTS


def test_values_are_stored_exactly_with_spec_defaults(con, basics_folder):
    import_folder(con, basics_folder)
    seats = con.execute(
        "SELECT unit_price, quantity, discount_percent, aggregation FROM order_lines WHERE line_id = 'L-SEATS'"
    ).fetchone()
    assert seats == (Decimal("12.5"), Decimal("7"), Decimal("20"), "sum")  # blank aggregation = sum
    hours = con.execute("SELECT quantity, unit_price FROM order_lines WHERE line_id = 'L-HOURS'").fetchone()
    assert hours == (Decimal("1"), Decimal("0.1"))  # blank quantity = 1
    assert con.execute("SELECT typeof(unit_price), typeof(quantity) FROM order_lines LIMIT 1").fetchone() == (
        "DECIMAL(38,12)",
        "DECIMAL(38,6)",
    )
    assert con.execute("SELECT amount FROM delayed_charges WHERE charge_id = 'DC-3'").fetchone() == (Decimal("18.40"),)


def test_contract_currency_blank_is_the_customers_currency(con, basics_folder):
    import_folder(con, basics_folder)
    rows = dict(con.execute("SELECT contract_id, currency FROM contracts").fetchall())
    assert rows["K-FLAT"] == "USD" and rows["K-TIERS"] == "CAD" and rows["K-YEN"] == "JPY"


def test_delayed_charge_currency_blank_is_the_customers_and_a_given_one_is_kept(con, basics_folder):
    import_folder(con, basics_folder)
    rows = dict(con.execute("SELECT charge_id, currency FROM delayed_charges").fetchall())
    assert rows == {"DC-1": "USD", "DC-2": "EUR", "DC-3": "CAD"}


def test_blank_anchor_day_is_the_day_of_start_date_and_other_defaults_apply(con, tmp_path):
    write(tmp_path, "customers.csv", "customer_id,name\nC1,Acme\n")
    write(tmp_path, "contracts.csv", "contract_id,customer_id,start_date\nK1,C1,2026-01-17\n")
    import_folder(con, tmp_path)
    assert con.execute("SELECT business_id, currency, tax_rate FROM customers").fetchone() == (
        "default",
        "USD",
        Decimal("0"),
    )
    assert con.execute(
        "SELECT billing_period, billing_cycle_start_day, billing_timing, payment_terms_days, "
        "proration, currency, end_date FROM contracts"
    ).fetchone() == ("month", 17, "arrears", 30, "actual", "USD", None)


def test_price_tiers_are_numbered_by_bound_with_the_unbounded_tier_last(con, basics_folder):
    # The file lists the unbounded tier first: numbering follows up_to, not the file.
    write(
        basics_folder,
        "price_tiers.csv",
        "line_id,up_to,unit_price,flat_fee\nL-GRAD,,0.10,0\n"
        "L-GRAD,1000,0.50,5.00\nL-GRAD,100,1.00,0\nL-VOL,1000,0.02,0\nL-VOL,,0.015,\n",
    )
    import_folder(con, basics_folder)
    tiers = con.execute(
        "SELECT tier_no, up_to, unit_price, flat_fee FROM price_tiers WHERE line_id = 'L-GRAD' ORDER BY tier_no"
    ).fetchall()
    assert tiers == [
        (1, Decimal("100"), Decimal("1"), Decimal("0")),
        (2, Decimal("1000"), Decimal("0.5"), Decimal("5")),
        (3, None, Decimal("0.1"), Decimal("0")),
    ]


def test_usage_timestamp_counts_on_its_utc_date(con, basics_folder):
    append(
        basics_folder,
        "usage.csv",
        "U20,K-TIERS,api_calls,2026-03-31T23:30:00-05:00,1,approved",  # 04:30 UTC on April 1st
        "U21,K-TIERS,api_calls,2026-04-01T02:00:00+09:00,1,approved",  # 17:00 UTC on March 31st
        "U22,K-TIERS,api_calls,2026-04-01 00:00:00Z,1,",
    )
    import_folder(con, basics_folder)
    dates = dict(
        con.execute("SELECT usage_id, usage_date FROM usage WHERE usage_id IN ('U2', 'U20', 'U21', 'U22')").fetchall()
    )
    assert dates == {
        "U2": dt.date(2026, 3, 17),
        "U20": dt.date(2026, 4, 1),
        "U21": dt.date(2026, 3, 31),
        "U22": dt.date(2026, 4, 1),
    }


def test_a_timestamp_without_a_zone_is_read_as_utc_whatever_the_session_time_zone(con, basics_folder):
    append(basics_folder, "usage.csv", "U20,K-TIERS,api_calls,2026-03-31T03:30:00,1,approved")
    cursor = con.cursor()  # a cursor starts in the machine's time zone, not connect()'s UTC
    cursor.execute("SET TimeZone = 'Asia/Tokyo'")  # 03:30 in Tokyo would be March 30th in UTC
    import_folder(cursor, basics_folder)
    cursor.close()
    assert con.execute("SELECT usage_date FROM usage WHERE usage_id = 'U20'").fetchall() == [(dt.date(2026, 3, 31),)]


def test_a_folder_may_hold_any_subset_and_references_resolve_to_the_database(con, basics_folder, tmp_path):
    """Imports are additive: a later import's usage may refer to contracts imported before."""
    (basics_folder / "usage.csv").unlink()
    import_folder(con, basics_folder)
    later = tmp_path / "later"
    write(later, "usage.csv", "usage_id,contract_id,metric,usage_date,quantity\nU1,K-TIERS,api_calls,2026-03-02,5\n")
    assert import_folder(con, later) == {**dict.fromkeys(INPUT_TABLES, 0), "usage": 1}
    assert counts(con)["usage"] == 1


def test_trailing_zeros_beyond_the_decimal_limit_lose_nothing_and_are_accepted(con, basics_folder):
    set_cell(basics_folder, "order_lines.csv", "L-FLAT", "unit_price", "99.000000000000000000")
    import_folder(con, basics_folder)
    price = con.execute("SELECT unit_price FROM order_lines WHERE line_id = 'L-FLAT'").fetchone()
    assert price == (Decimal("99"),)


def test_cells_are_trimmed_and_blank_lines_skipped(con, basics_folder):
    edit(basics_folder, "customers.csv", "CUS-KITE,Kite Robotics KK,", "\n  CUS-KITE , Kite Robotics KK ,")
    import_folder(con, basics_folder)
    assert con.execute("SELECT name FROM customers WHERE customer_id = 'CUS-KITE'").fetchone() == ("Kite Robotics KK",)


# -- each class of error: file, line and column exactly ----------------------------------------------------
def test_unknown_column_is_named_on_the_header_line(con, basics_folder):
    edit(basics_folder, "usage.csv", "quantity,status", "quantity,status,qty")
    problems = problems_of(con, basics_folder)
    p = assert_problem(problems, "usage.csv", 1, "qty", "unknown column 'qty'")
    assert "quantity" in p["reason"]  # did you mean …


def test_missing_required_column_is_named_on_the_header_line(con, basics_folder):
    write(basics_folder, "usage.csv", "usage_id,contract_id,metric,usage_date\nU1,K-TIERS,api_calls,2026-03-02\n")
    assert_problem(problems_of(con, basics_folder), "usage.csv", 1, "quantity", "required column", "missing")


def test_bad_date_is_reported_at_its_line_and_column(con, basics_folder):
    set_cell(basics_folder, "contracts.csv", "K-STUB", "start_date", "2026-02-30")
    p = only_problem(problems_of(con, basics_folder))
    assert (p["file"], p["line"], p["column"]) == ("contracts.csv", 3, "start_date")
    assert "'2026-02-30' is not a real calendar date" in p["reason"]


def test_date_in_another_format_is_refused(con, basics_folder):
    set_cell(basics_folder, "delayed_charges.csv", "DC-3", "charge_date", "02/04/2026")
    assert_problem(problems_of(con, basics_folder), "delayed_charges.csv", 4, "charge_date", "YYYY-MM-DD")


def test_text_in_a_number_column_is_refused(con, basics_folder):
    set_cell(basics_folder, "usage.csv", "U7", "quantity", "lots")
    p = only_problem(problems_of(con, basics_folder))
    assert (p["file"], p["line"], p["column"]) == ("usage.csv", 8, "quantity")
    assert "'lots' is not a number" in p["reason"]


def test_money_with_15_decimals_is_refused(con, basics_folder):
    set_cell(basics_folder, "order_lines.csv", "L-PKG", "unit_price", "50.000000000000001")
    p = only_problem(problems_of(con, basics_folder))
    assert (p["file"], p["line"], p["column"]) == ("order_lines.csv", 8, "unit_price")
    assert "more than 12 decimal places" in p["reason"]


def test_quantity_with_7_decimals_is_refused(con, basics_folder):
    set_cell(basics_folder, "usage.csv", "U9", "quantity", "0.1234567")
    assert_problem(problems_of(con, basics_folder), "usage.csv", 10, "quantity", "more than 6 decimal places")


def test_usage_quantity_must_fit_below_10_to_the_12(con, basics_folder):
    set_cell(basics_folder, "usage.csv", "U9", "quantity", "1000000000000")
    assert_problem(problems_of(con, basics_folder), "usage.csv", 10, "quantity", "too large")


def test_negative_price_quantity_and_charge_amount_are_refused(con, basics_folder):
    set_cell(basics_folder, "order_lines.csv", "L-FLAT", "unit_price", "-99.00")
    set_cell(basics_folder, "usage.csv", "U12", "quantity", "-1234")
    set_cell(basics_folder, "delayed_charges.csv", "DC-3", "amount", "-18.40")  # credits are out of scope
    problems = problems_of(con, basics_folder)
    assert_problem(problems, "order_lines.csv", 2, "unit_price", "negative")
    assert_problem(problems, "usage.csv", 13, "quantity", "negative")
    assert_problem(problems, "delayed_charges.csv", 4, "amount", "negative")
    assert len(problems) == 3


def test_unknown_currency_is_refused(con, basics_folder):
    set_cell(basics_folder, "customers.csv", "CUS-BOREAL", "currency", "XYZ")
    problems = problems_of(con, basics_folder)
    assert_problem(problems, "customers.csv", 3, "currency", "'XYZ' is not an ISO 4217 currency code")
    assert len(problems) == 1  # its contracts inherit the bad code but are not blamed for it


def test_anchor_day_32_is_refused(con, basics_folder):
    set_cell(basics_folder, "contracts.csv", "K-END31", "billing_cycle_start_day", "32")
    p = only_problem(problems_of(con, basics_folder))
    assert (p["file"], p["line"], p["column"]) == ("contracts.csv", 6, "billing_cycle_start_day")
    assert "1 to 31" in p["reason"]


def test_enumerations_and_ranges_are_checked(con, basics_folder):
    bad = {
        "end_date": "2025-12-31",
        "billing_period": "monthly",
        "billing_timing": "later",
        "payment_terms_days": "-5",
        "proration": "partial",
    }
    for column, value in bad.items():
        set_cell(basics_folder, "contracts.csv", "K-FLAT", column, value)
    set_cell(basics_folder, "customers.csv", "CUS-ACME", "tax_rate", "110")
    set_cell(basics_folder, "order_lines.csv", "L-SEATS", "discount_percent", "120")
    set_cell(basics_folder, "usage.csv", "U13", "status", "refused")
    problems = problems_of(con, basics_folder)
    assert_problem(problems, "contracts.csv", 2, "end_date", "before start_date 2026-01-01")
    assert_problem(problems, "contracts.csv", 2, "billing_period", "'monthly' is not one of: month, quarter")
    assert_problem(problems, "contracts.csv", 2, "billing_timing", "arrears, advance")
    assert_problem(problems, "contracts.csv", 2, "payment_terms_days", "0 to")
    assert_problem(problems, "contracts.csv", 2, "proration", "actual, none")
    assert_problem(problems, "customers.csv", 2, "tax_rate", "more than 100")
    assert_problem(problems, "order_lines.csv", 3, "discount_percent", "more than 100")
    assert_problem(problems, "usage.csv", 14, "status", "approved, pending, rejected")
    assert len(problems) == 8


def test_required_value_left_blank_is_refused(con, basics_folder):
    set_cell(basics_folder, "delayed_charges.csv", "DC-3", "description", "  ")
    assert_problem(problems_of(con, basics_folder), "delayed_charges.csv", 4, "description", "value is required")


def test_contract_of_an_unknown_customer_is_refused(con, basics_folder):
    set_cell(basics_folder, "contracts.csv", "K-YEN", "customer_id", "CUS-KYTE")
    p = only_problem(problems_of(con, basics_folder))
    assert (p["file"], p["line"], p["column"]) == ("contracts.csv", 7, "customer_id")
    assert "unknown customer 'CUS-KYTE'" in p["reason"]


def test_usage_of_an_unknown_contract_is_refused(con, basics_folder):
    set_cell(basics_folder, "usage.csv", "U12", "contract_id", "K-MAX")
    p = only_problem(problems_of(con, basics_folder))
    assert (p["file"], p["line"], p["column"]) == ("usage.csv", 13, "contract_id")
    assert "unknown contract 'K-MAX'" in p["reason"]


def test_delayed_charge_of_an_unknown_customer_is_refused(con, basics_folder):
    set_cell(basics_folder, "delayed_charges.csv", "DC-3", "customer_id", "CUS-NOBODY")
    assert_problem(problems_of(con, basics_folder), "delayed_charges.csv", 4, "customer_id", "unknown customer")


def test_duplicate_id_within_a_file_names_the_first_line(con, basics_folder):
    append(basics_folder, "usage.csv", "U3,K-TIERS,api_calls,2026-04-02,1,approved")
    p = only_problem(problems_of(con, basics_folder))
    assert (p["file"], p["line"], p["column"]) == ("usage.csv", 16, "usage_id")
    assert "'U3' appears more than once in this file (first on line 4)" in p["reason"]


def test_duplicate_id_against_the_database_is_refused(con, basics_folder, tmp_path):
    import_folder(con, basics_folder)
    write(tmp_path / "more", "customers.csv", "customer_id,name\nCUS-NEW,New Co\nCUS-KITE,Kite again\n")
    p = only_problem(problems_of(con, tmp_path / "more"))
    assert (p["file"], p["line"], p["column"]) == ("customers.csv", 3, "customer_id")
    assert "already in the database" in p["reason"]
    assert counts(con)["customers"] == 3


def test_order_lines_without_their_contracts_file_or_table_are_refused(con, basics_folder):
    (basics_folder / "contracts.csv").unlink()
    (basics_folder / "usage.csv").unlink()
    problems = problems_of(con, basics_folder)
    p = assert_problem(problems, "order_lines.csv", 2, "contract_id", "unknown contract 'K-FLAT'")
    assert "this import has no contracts.csv" in p["reason"]
    assert {q["file"] for q in problems} == {"order_lines.csv"}
    assert len(problems) == 11  # every line of order_lines.csv


def test_a_tiered_line_without_tiers_is_reported_on_its_order_line(con, basics_folder):
    write(basics_folder, "price_tiers.csv", "line_id,up_to,unit_price\nL-GRAD,100,1.00\nL-GRAD,,0.10\n")
    p = only_problem(problems_of(con, basics_folder))
    assert (p["file"], p["line"], p["column"]) == ("order_lines.csv", 7, "pricing_model")  # L-VOL
    assert "a volume line needs price tiers" in p["reason"]


def test_tiered_lines_without_a_price_tiers_file_are_reported(con, basics_folder):
    (basics_folder / "price_tiers.csv").unlink()
    problems = problems_of(con, basics_folder)
    assert_problem(problems, "order_lines.csv", 6, "pricing_model", "no price_tiers.csv")
    assert_problem(problems, "order_lines.csv", 7, "pricing_model", "no price_tiers.csv")
    assert len(problems) == 2


def test_tiers_without_an_unbounded_last_tier_are_reported_on_the_highest_tier(con, basics_folder):
    set_cell(basics_folder, "price_tiers.csv", 4, "up_to", "5000")
    p = only_problem(problems_of(con, basics_folder))
    assert (p["file"], p["line"], p["column"]) == ("price_tiers.csv", 4, "up_to")
    assert "no unbounded last tier" in p["reason"]


def test_two_unbounded_tiers_are_refused(con, basics_folder):
    set_cell(basics_folder, "price_tiers.csv", 2, "up_to", "")
    assert_problem(
        problems_of(con, basics_folder),
        "price_tiers.csv",
        4,
        "up_to",
        "more than one unbounded tier",
        "first on line 2",
    )


def test_two_tiers_with_the_same_bound_are_refused(con, basics_folder):
    set_cell(basics_folder, "price_tiers.csv", 3, "up_to", "100.0")
    p = only_problem(problems_of(con, basics_folder))
    assert (p["file"], p["line"], p["column"]) == ("price_tiers.csv", 3, "up_to")
    assert "two tiers up to 100.0 (the other on line 2)" in p["reason"]


def test_tiers_of_a_non_tiered_or_unknown_line_are_refused(con, basics_folder):
    append(basics_folder, "price_tiers.csv", "L-FLAT,,1.00,0", "L-NOPE,,1.00,0")
    problems = problems_of(con, basics_folder)
    assert_problem(problems, "price_tiers.csv", 7, "line_id", "priced 'flat'", "only graduated and volume")
    assert_problem(problems, "price_tiers.csv", 8, "line_id", "unknown order line 'L-NOPE'")
    assert len(problems) == 2


def test_order_line_rules_per_pricing_model(con, basics_folder):
    set_cell(basics_folder, "order_lines.csv", "L-FLAT", "unit_price", "")
    set_cell(basics_folder, "order_lines.csv", "L-PKG", "package_size", "0")
    set_cell(basics_folder, "order_lines.csv", "L-PCT", "percentage_rate", "")
    set_cell(basics_folder, "order_lines.csv", "L-HOURS", "metric", "")
    problems = problems_of(con, basics_folder)
    assert_problem(problems, "order_lines.csv", 2, "unit_price", "a flat line needs a unit_price")
    assert_problem(problems, "order_lines.csv", 8, "package_size", "more than 0")
    assert_problem(problems, "order_lines.csv", 9, "percentage_rate", "needs a percentage_rate")
    assert_problem(problems, "order_lines.csv", 10, "metric", "a usage line needs a metric")
    assert len(problems) == 4


def test_several_problems_in_one_import_are_all_reported_in_file_and_line_order(con, basics_folder):
    set_cell(basics_folder, "customers.csv", "CUS-BOREAL", "currency", "XYZ")
    set_cell(basics_folder, "contracts.csv", "K-YEN", "customer_id", "CUS-KYTE")
    set_cell(basics_folder, "usage.csv", "U7", "quantity", "lots")
    set_cell(basics_folder, "usage.csv", "U12", "usage_date", "2026-03-32")
    set_cell(basics_folder, "delayed_charges.csv", "DC-3", "customer_id", "CUS-NOBODY")
    problems = problems_of(con, basics_folder)
    where = [(p["file"], p["line"], p["column"]) for p in problems]
    assert where == [
        ("customers.csv", 3, "currency"),
        ("contracts.csv", 7, "customer_id"),
        ("usage.csv", 8, "quantity"),
        ("usage.csv", 13, "usage_date"),
        ("delayed_charges.csv", 4, "customer_id"),
    ]


def test_many_problems_are_capped_and_their_total_given(con, basics_folder):
    append(basics_folder, "usage.csv", *(f"X{i},K-TIERS,api_calls,2026-03-02,bad," for i in range(1200)))
    with pytest.raises(ImportProblems) as caught:
        import_folder(con, basics_folder)
    problems = caught.value.problems
    assert len(problems) == MAX_PROBLEMS + 1
    assert caught.value.total == 1200
    assert "1000 of 1200 problems listed" in problems[-1]["reason"]
    first = problems[0]
    assert (first["file"], first["line"], first["column"]) == ("usage.csv", 16, "quantity")
    assert "'bad' is not a number" in first["reason"]


def test_physical_line_numbers_count_blank_lines_and_quoted_line_breaks(con, basics_folder):
    set_cell(basics_folder, "customers.csv", "CUS-BOREAL", "currency", "XYZ")
    edit(basics_folder, "customers.csv", "CUS-ACME,Acme Analytics,", '\nCUS-ACME,"Acme\nAnalytics",')
    assert_problem(problems_of(con, basics_folder), "customers.csv", 5, "currency", "XYZ")


def test_a_malformed_csv_row_is_reported_with_the_rest(con, basics_folder):
    edit(
        basics_folder,
        "usage.csv",
        "U5,K-TIERS,storage_gb,2026-03-05,1800,approved",
        "U5,K-TIERS,storage_gb,2026-03-05,1800,approved,extra",
    )
    set_cell(basics_folder, "usage.csv", "U9", "quantity", "x")
    problems = problems_of(con, basics_folder)
    assert_problem(problems, "usage.csv", 6, "", "more values than the header")
    assert_problem(problems, "usage.csv", 10, "quantity", "'x' is not a number")
    assert len(problems) == 2


def test_an_empty_file_is_refused(con, basics_folder):
    write(basics_folder, "delayed_charges.csv", "")
    assert_problem(problems_of(con, basics_folder), "delayed_charges.csv", 1, "", "empty")


def test_a_misspelt_input_file_is_refused_and_unrelated_csv_files_are_ignored(con, basics_folder):
    (basics_folder / "usage.csv").rename(basics_folder / "Usage.csv")
    write(basics_folder, "expected_invoices.csv", "anything,at,all\n")
    p = only_problem(problems_of(con, basics_folder))
    assert (p["file"], p["line"], p["column"]) == ("Usage.csv", 0, "")
    assert "usage.csv" in p["reason"]


def test_a_folder_that_does_not_exist_is_an_error(con, tmp_path):
    with pytest.raises(ValidationError, match="does not exist"):
        import_folder(con, tmp_path / "nowhere")


def test_a_file_given_as_the_data_folder_is_named_as_a_file(con, tmp_path):
    (tmp_path / "customers.csv").write_text("customer_id,name\n")
    with pytest.raises(ValidationError, match="is a file, not a folder"):
        import_folder(con, tmp_path / "customers.csv")


# -- all or nothing; re-imports ----------------------------------------------------------------------------
def test_a_bad_row_in_the_last_file_leaves_every_table_unchanged(con, basics_folder, tmp_path):
    (basics_folder / "delayed_charges.csv").rename(tmp_path / "delayed_charges.csv")
    first = import_folder(con, basics_folder)
    before = counts(con)
    assert before == {**first, "delayed_charges": 0}
    more = tmp_path / "more"
    write(more, "customers.csv", "customer_id,name\nCUS-NEW,New Co\n")
    write(more, "contracts.csv", "contract_id,customer_id,start_date\nK-NEW,CUS-NEW,2026-01-01\n")
    write(
        more,
        "order_lines.csv",
        "line_id,contract_id,product,kind,pricing_model,unit_price\nL-NEW,K-NEW,Platform,recurring,flat,10\n",
    )
    write(more, "usage.csv", "usage_id,contract_id,metric,usage_date,quantity\nU-NEW,K-NEW,x,2026-01-02,1\n")
    write(
        more,
        "delayed_charges.csv",
        "charge_id,customer_id,description,amount,charge_date\n"
        "DC-NEW,CUS-NEW,Fee,5,2026-01-05\nDC-BAD,CUS-NEW,Fee,five,2026-01-05\n",
    )
    assert_problem(problems_of(con, more), "delayed_charges.csv", 3, "amount", "not a number")
    assert counts(con) == before


def test_a_bad_row_in_a_fresh_database_writes_nothing_at_all(con, basics_folder):
    set_cell(basics_folder, "delayed_charges.csv", "DC-3", "amount", "18.4.0")
    problems_of(con, basics_folder)
    assert counts(con) == dict.fromkeys(INPUT_TABLES, 0)


def test_reimporting_a_usage_file_reports_duplicates_and_counts_nothing_twice(con, basics_folder, tmp_path):
    import_folder(con, basics_folder)
    again = tmp_path / "again"
    write(again, "usage.csv", (basics_folder / "usage.csv").read_text())
    problems = problems_of(con, again)
    assert len(problems) == 14
    assert_problem(problems, "usage.csv", 2, "usage_id", "'U1' is already in the database")
    assert counts(con)["usage"] == 14
    assert con.execute("SELECT sum(quantity) FROM usage WHERE usage_id = 'U1'").fetchone() == (Decimal("1000"),)


def test_import_leaves_no_scratch_tables_behind(con, basics_folder):
    import_folder(con, basics_folder)
    set_cell(basics_folder, "usage.csv", "U12", "contract_id", "K-MAX")
    problems_of(con, basics_folder)
    left = con.execute("SELECT table_name FROM duckdb_tables() WHERE table_name LIKE '_import%'").fetchall()
    assert left == []


# -- DataFrames: the same path -----------------------------------------------------------------------------
def test_import_frames_stores_the_same_rows_as_the_csv_path(con, basics_folder):
    from engine.db import connect

    assert import_frames(con, frames_of(basics_folder)) == BASICS_COUNTS
    other = connect(":memory:")
    import_folder(other, basics_folder)
    for table in INPUT_TABLES:
        query = f"SELECT * FROM {table} ORDER BY ALL"
        assert con.execute(query).fetchall() == other.execute(query).fetchall(), table


def test_import_frames_reports_the_same_problems_as_the_csv_path(con, basics_folder):
    set_cell(basics_folder, "usage.csv", "U7", "quantity", "lots")
    set_cell(basics_folder, "contracts.csv", "K-YEN", "customer_id", "CUS-KYTE")
    set_cell(basics_folder, "price_tiers.csv", 3, "up_to", "100")
    append(basics_folder, "usage.csv", "U3,K-TIERS,api_calls,2026-04-02,1,approved")
    from_csv = problems_of(con, basics_folder)
    with pytest.raises(ImportProblems) as caught:
        import_frames(con, frames_of(basics_folder))
    assert caught.value.problems == from_csv
    assert len(from_csv) == 4


def test_import_frames_takes_typed_columns_exactly(con):
    customers = pd.DataFrame(
        {
            "customer_id": ["C1", "C2"],
            "name": ["Acme", "Boreal"],
            "currency": ["USD", None],
            "tax_rate": [Decimal("8.25"), None],
        }
    )
    contracts = pd.DataFrame(
        {"contract_id": ["K1"], "customer_id": ["C1"], "start_date": pd.to_datetime(["2026-01-15"])}
    )
    usage = pd.DataFrame(
        {
            "usage_id": ["U1", "U2"],
            "contract_id": ["K1", "K1"],
            "metric": ["calls", "calls"],
            "usage_date": pd.to_datetime(["2026-01-31T23:00:00-05:00", "2026-02-01T01:00:00Z"], utc=True),
            "quantity": [3, 4],
        }
    )
    import_frames(con, {"customers": customers, "contracts": contracts, "usage": usage})
    assert con.execute("SELECT tax_rate, currency FROM customers ORDER BY customer_id").fetchall() == [
        (Decimal("8.25"), "USD"),
        (Decimal("0"), "USD"),
    ]
    assert con.execute("SELECT start_date FROM contracts").fetchone() == (dt.date(2026, 1, 15),)
    assert con.execute("SELECT usage_date FROM usage ORDER BY usage_id").fetchall() == [
        (dt.date(2026, 2, 1),),
        (dt.date(2026, 2, 1),),
    ]


def test_import_frames_refuses_an_unknown_table(con):
    with pytest.raises(ImportProblems) as caught:
        import_frames(con, {"invoices": pd.DataFrame({"x": [1]})})
    assert caught.value.problems[0]["file"] == "invoices.csv"
    assert "unknown table" in caught.value.problems[0]["reason"]


# -- command line ------------------------------------------------------------------------------------------
def test_cli_import_prints_the_counts(basics_folder, tmp_path):
    run = subprocess.run(
        [sys.executable, "-m", "engine", "--db", str(tmp_path / "w.duckdb"), "import", str(basics_folder)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert '"usage": 14' in run.stdout


def test_cli_import_of_bad_data_exits_2_with_the_problems_on_stderr(basics_folder, tmp_path):
    set_cell(basics_folder, "usage.csv", "U12", "contract_id", "K-MAX")
    run = subprocess.run(
        [sys.executable, "-m", "engine", "--db", str(tmp_path / "w.duckdb"), "import", str(basics_folder)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert run.returncode == 2
    assert "usage.csv:13 contract_id: unknown contract 'K-MAX'" in run.stderr
    assert "Traceback" not in run.stderr
    assert run.stdout == ""


def test_cli_import_lists_every_problem_one_per_line(basics_folder, tmp_path):
    for n in range(2, 9):  # seven bad quantities: more than the error's one-line summary shows
        set_cell(basics_folder, "usage.csv", n, "quantity", f"lots{n}")
    run = subprocess.run(
        [sys.executable, "-m", "engine", "--db", str(tmp_path / "w.duckdb"), "import", str(basics_folder)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert run.returncode == 2
    lines = run.stderr.splitlines()
    assert lines[0] == "billsim: import refused, nothing written: 7 problem(s)"
    assert [line.split(" ", 1)[0] for line in lines[1:]] == [f"usage.csv:{n}" for n in range(2, 9)]
    assert all("quantity:" in line for line in lines[1:])


def test_import_reports_progress_in_order_up_to_done(con, basics_folder):
    seen = []
    import_folder(con, basics_folder, progress=lambda done, label: seen.append((done, label)))
    fractions = [d for d, _ in seen]
    assert fractions == sorted(fractions) and fractions[0] == 0.0 and fractions[-1] == 1.0
    labels = [label for _, label in seen]
    assert "reading usage.csv" in labels and "checking every row" in labels and labels[-1] == "imported"


def test_a_refused_import_never_reports_done(con, basics_folder):
    set_cell(basics_folder, "usage.csv", "U12", "quantity", "lots")
    seen = []
    with pytest.raises(ImportProblems):
        import_folder(con, basics_folder, progress=lambda done, label: seen.append(done))
    assert seen and max(seen) < 1.0
