"""Invoice numbers as the customer sees them (engine/billing/numbering.py): '<prefix>-<year finalized>-<6 digits>',
the business's prefix from businesses.csv or INV, the same text from Python and from SQL."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from engine.billing.bill_run import bill_run
from engine.billing.numbering import DEFAULT_PREFIX, businesses_join, invoice_number, invoice_number_sql
from engine.db import connect
from engine.errors import ImportProblems
from engine.ingest.importer import import_folder


@pytest.mark.parametrize(
    ("prefix", "finalized", "number", "expected"),
    [
        ("N", dt.datetime(2026, 3, 1, 12), 1, "N-2026-000001"),
        (None, dt.datetime(2026, 12, 31, 23, 59), 12, "INV-2026-000012"),
        ("S", dt.date(2027, 1, 1), 999_999, "S-2027-999999"),
        ("S", dt.date(2027, 1, 1), 1_234_567, "S-2027-1234567"),  # never cut to six digits
        ("N", dt.date(2026, 1, 1), None, None),  # a draft has no number
        ("N", None, 5, None),
    ],
)
def test_the_number_as_the_customer_sees_it_in_python_and_in_sql(prefix, finalized, number, expected):
    assert invoice_number(prefix, finalized, number) == expected
    con = connect(":memory:")
    try:
        con.execute("INSERT INTO businesses (business_id, name, invoice_prefix) VALUES ('b1', 'B', ?)", [prefix])
        row = con.execute(
            f"""SELECT {invoice_number_sql("i", "b")} FROM (SELECT 'b1' AS business_id, ?::BIGINT AS number,
                       ?::TIMESTAMP AS finalized_at) i {businesses_join("i", "b")}""",  # noqa: S608 (the engine's own SQL)
            [number, finalized],
        ).fetchone()
    finally:
        con.close()
    assert row[0] == expected
    assert DEFAULT_PREFIX == "INV"
    if expected:  # a credit note of spec section 12 will be '<invoice number>-CN<n>'
        assert f"{expected}-CN1".count("-") == 3


EXAMPLE = Path(__file__).resolve().parent / "examples" / "adjustments"


def _businesses(folder: Path, prefix: str) -> Path:
    folder.mkdir()
    (folder / "businesses.csv").write_text(f"business_id,name,invoice_prefix\ndefault,Example Billing,{prefix}\n")
    return folder


def _numbers(con) -> list[str]:
    heads = con.execute(
        f"SELECT {invoice_number_sql('i', 'b')} FROM invoices i {businesses_join('i', 'b')} "  # noqa: S608 (the engine's own SQL)
        "WHERE i.number IS NOT NULL ORDER BY i.number"
    ).fetchall()
    return [h[0] for h in heads]


def test_a_business_row_imported_after_its_first_numbers_cannot_rewrite_them(tmp_path):
    """Invoices finalized before the business had a row are numbered INV-…; importing its row with another prefix
    would change how those issued numbers are written, so it is refused (nothing imported). Blank or INV is kept."""
    con = connect(":memory:")
    try:
        import_folder(con, EXAMPLE)
        bill_run(con, dt.date(2026, 3, 15), finalize=True, requested_by="t")
        issued = _numbers(con)
        assert issued and all(n.startswith("INV-2026-") for n in issued)

        with pytest.raises(ImportProblems) as caught:
            import_folder(con, _businesses(tmp_path / "n", "N"))
        (problem,) = caught.value.problems
        assert (problem["file"], problem["line"], problem["column"]) == ("businesses.csv", 2, "invoice_prefix")
        assert "'N': business default has already issued invoices numbered INV-" in problem["reason"]
        assert con.execute("SELECT count(*) FROM businesses").fetchone()[0] == 0
        assert _numbers(con) == issued

        assert import_folder(con, _businesses(tmp_path / "inv", "INV"))["businesses"] == 1
        assert _numbers(con) == issued
    finally:
        con.close()


def test_a_business_with_no_number_issued_yet_takes_any_prefix(tmp_path):
    con = connect(":memory:")
    try:
        import_folder(con, EXAMPLE)
        bill_run(con, dt.date(2026, 3, 15), requested_by="t")  # drafts only: no number issued
        assert import_folder(con, _businesses(tmp_path / "n", "N"))["businesses"] == 1
        bill_run(con, dt.date(2026, 4, 15), finalize=True, requested_by="t")
        assert _numbers(con) and all(n.startswith("N-2026-") for n in _numbers(con))
    finally:
        con.close()
