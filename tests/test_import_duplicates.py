"""Repeated ids within a file (every input table with a key): each repeat is reported on its own line, naming
the first, whether the file repeats an id or not (the importer counts the distinct ids before it looks
for the rows of a repeated one); blank ids are a missing value, not a repeat. Nothing is written."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from engine.errors import ImportProblems
from engine.ingest.import_rules import TABLES
from engine.ingest.importer import import_folder
from engine.schema import INPUT_TABLES

EXAMPLES = Path(__file__).resolve().parent / "examples"
# The worked examples hold a file of every input table with a key but businesses (tested apart below).
FOLDER_OF = {"delayed_charges": "basics", "customers": "adjustments", "contracts": "adjustments"}
FOLDER_OF |= {"order_lines": "adjustments", "usage": "adjustments", "taxes": "adjustments", "coupons": "adjustments"}


def copy_of(tmp_path: Path, case: str) -> Path:
    dst = tmp_path / case
    shutil.copytree(EXAMPLES / case, dst)
    for path in dst.iterdir():
        path.chmod(0o644)
    return dst


def lines_of(folder: Path, file: str) -> list[str]:
    return (folder / file).read_text().splitlines()


def problems_of(con, folder: Path) -> list[dict]:
    with pytest.raises(ImportProblems) as caught:
        import_folder(con, folder)
    return caught.value.problems


def nothing_written(con) -> bool:
    return all(con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] == 0 for t in INPUT_TABLES)  # noqa: S608 (test)


def test_every_keyed_input_table_is_covered_here():
    assert {name for name, table in TABLES.items() if table.key} == set(FOLDER_OF) | {"businesses"}


@pytest.mark.parametrize("table", sorted(FOLDER_OF))
def test_a_row_repeated_at_the_end_of_a_file_is_reported_on_its_line_naming_the_first(con, tmp_path, table):
    folder = copy_of(tmp_path, FOLDER_OF[table])
    file, key = f"{table}.csv", TABLES[table].key
    lines = lines_of(folder, file)
    (folder / file).write_text("\n".join([*lines, lines[1]]) + "\n")
    first_id = lines[1].split(",")[0]
    assert problems_of(con, folder) == [
        {
            "file": file,
            "line": len(lines) + 1,
            "column": key,
            "reason": f"{key} '{first_id}' appears more than once in this file (first on line 2)",
        }
    ]
    assert nothing_written(con)


def test_a_repeated_business_id_is_reported(con, tmp_path):
    folder = copy_of(tmp_path, "adjustments")
    (folder / "businesses.csv").write_text("business_id,name\nbiz-a,A\nbiz-b,B\nbiz-a,A again\n")
    problems = [p for p in problems_of(con, folder) if p["file"] == "businesses.csv"]
    assert problems == [
        {
            "file": "businesses.csv",
            "line": 4,
            "column": "business_id",
            "reason": "business_id 'biz-a' appears more than once in this file (first on line 2)",
        }
    ]


def test_an_id_three_times_and_another_twice_give_a_problem_per_repeat(con, tmp_path):
    folder = copy_of(tmp_path, "adjustments")
    lines = lines_of(folder, "usage.csv")
    first, second = lines[1], lines[2]
    (folder / "usage.csv").write_text("\n".join([*lines, first, second, first]) + "\n")
    n = len(lines)
    found = [(p["line"], p["reason"]) for p in problems_of(con, folder)]
    first_id, second_id = first.split(",")[0], second.split(",")[0]
    assert found == [
        (n + 1, f"usage_id '{first_id}' appears more than once in this file (first on line 2)"),
        (n + 2, f"usage_id '{second_id}' appears more than once in this file (first on line 3)"),
        (n + 3, f"usage_id '{first_id}' appears more than once in this file (first on line 2)"),
    ]


def test_blank_ids_are_missing_values_not_repeats(con, tmp_path):
    folder = copy_of(tmp_path, "adjustments")
    lines = lines_of(folder, "usage.csv")
    rows = [lines[1].split(",", 1)[1], lines[2].split(",", 1)[1]]  # the rows without their usage_id
    (folder / "usage.csv").write_text("\n".join([*lines, *(f" ,{r}" for r in rows)]) + "\n")
    n = len(lines)
    found = [(p["line"], p["column"], p["reason"]) for p in problems_of(con, folder)]
    assert found == [(n + 1, "usage_id", "a value is required"), (n + 2, "usage_id", "a value is required")]
