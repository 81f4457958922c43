"""The importer's fast paths (import_rules.fast_valid): the cheap condition that proves a cell valid, so a
10M-row file skips the detailed checks. It must never pass a cell that a detailed check refuses (else a bad
value would be stored without its reason), and it must cover the common valid cells (else it saves nothing)."""

from __future__ import annotations

import duckdb
import pytest

from engine.errors import ImportProblems
from engine.ingest.import_rules import TABLES, Bind, Column, cell_checks, fast_valid
from engine.ingest.importer import import_folder

# Cells DuckDB reads as a date although they are not YYYY-MM-DD (its date parser takes other separators and
# one-digit months), cells whose text is not their date's own, and real dates at the ends of the range.
DATES_VALID = ["2026-03-17", "2024-02-29", "0005-01-01", "0001-01-01", "9999-12-31"]
DATES_TRICKY = [
    "2026/01/05",
    "2026 01 05",
    "2026-1-05 ",
    "2026-01-5 ",
    "2026-1-5",
    "26-01-05",
    "-001-01-01",
    "+026-01-05",
    "0000-01-01",
    "2026-02-29",
    "2026-13-01",
    "10000-01-01",
    "2026-01-05 (BC)",
    "2026-01-05T10:00:00Z",
    "２０２６-01-05",
    "infinity",
]
DECIMALS_VALID = ["12.50", "0", "+.5", "007.250000", "1207.6"]
DECIMALS_TRICKY = ["1e3", "-0", "-1", "1.1234567", "1,5", " 1", "1_000", "0x10", "NaN", "inf", ".", "1.2.3", "9" * 20]
CELLS = {
    "date": (DATES_VALID, DATES_TRICKY),
    "usage_date": (DATES_VALID, DATES_TRICKY),
    "price": (DECIMALS_VALID, DECIMALS_TRICKY + ["1." + "0" * 12 + "1"]),
    "quantity": (DECIMALS_VALID, DECIMALS_TRICKY),
    "usage_quantity": (DECIMALS_VALID, DECIMALS_TRICKY + ["1" + "0" * 12]),
}


def _with_fast_path() -> dict[str, Column]:
    """One column of each kind that has a fast path, from the real tables."""
    found: dict[str, Column] = {}
    for table in TABLES.values():
        for col in table.columns:
            if col.kind not in found and fast_valid(col, Bind()) is not None:
                found[col.kind] = col
    return found


COLUMNS = _with_fast_path()


def _verdicts(col: Column, cells: list[str]) -> dict[str, tuple[bool, int | None]]:
    """Each cell: (the fast path passes it, the first detailed check that refuses it or None)."""
    bind = Bind()
    fast = fast_valid(col, bind)
    first = " ".join(f"WHEN {cond} THEN {i}" for i, (cond, _) in enumerate(cell_checks(col, bind)))
    params = bind.params | {"cells": cells}
    rows = duckdb.connect().execute(
        f"SELECT s.{col.name}, coalesce({fast}, false), CASE {first} END "  # noqa: S608 (the engine's own SQL)
        f"FROM (SELECT unnest($cells) AS {col.name}) s",
        params,
    )
    return {cell: (passed, refused) for cell, passed, refused in rows.fetchall()}


def test_every_kind_with_a_fast_path_is_covered_here():
    assert set(COLUMNS) == set(CELLS)


@pytest.mark.parametrize("kind", sorted(CELLS))
def test_the_fast_path_never_passes_a_cell_a_detailed_check_refuses(kind):
    valid, tricky = CELLS[kind]
    verdicts = _verdicts(COLUMNS[kind], valid + tricky)
    wrongly_passed = {cell: refused for cell, (passed, refused) in verdicts.items() if passed and refused is not None}
    assert wrongly_passed == {}
    # the tricky cells are there to be refused: most of them are (else the list tests nothing)
    assert sum(refused is not None for cell, (_, refused) in verdicts.items() if cell in tricky) >= len(tricky) - 2


@pytest.mark.parametrize("kind", sorted(CELLS))
def test_the_common_valid_cells_take_the_fast_path(kind):
    valid, _ = CELLS[kind]
    assert {cell: passed for cell, (passed, _) in _verdicts(COLUMNS[kind], valid).items()} == dict.fromkeys(valid, True)


def test_a_usage_date_duckdb_would_read_but_not_yyyy_mm_dd_is_refused_with_its_reason(con, tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "customers.csv").write_text("customer_id,name\nC1,Acme\n")
    (folder / "contracts.csv").write_text("contract_id,customer_id,start_date\nK1,C1,2026-01-01\n")
    (folder / "usage.csv").write_text(
        "usage_id,contract_id,metric,usage_date,quantity\n"
        "U1,K1,calls,2026-01-05,1\n"
        "U2,K1,calls,2026/01/05,1\n"
        "U3,K1,calls,2026-1-05,1\n"
    )
    with pytest.raises(ImportProblems) as caught:
        import_folder(con, folder)
    reasons = {(p["line"], p["column"]): p["reason"] for p in caught.value.problems}
    assert reasons == {
        (3, "usage_date"): "'2026/01/05' is not a date (YYYY-MM-DD) or an ISO timestamp (e.g. 2026-03-17T23:59:00Z)",
        (4, "usage_date"): "'2026-1-05' is not a date (YYYY-MM-DD) or an ISO timestamp (e.g. 2026-03-17T23:59:00Z)",
    }
    assert con.execute("SELECT count(*) FROM usage").fetchone()[0] == 0
