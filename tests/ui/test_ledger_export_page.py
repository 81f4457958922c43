"""The Ledger page: its table (the columns an analyst scans first, first) and its export, every file `billsim
export` writes (invoices, invoice_lines, invoice_adjustments, credit_notes, credit_note_items,
customer_credit_movements), byte for byte the CLI's, each on its own and all six in one zip."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from engine.cli import main as billsim
from engine.service import Billsim, Caller, credit_notes, ledger
from tests.ui.test_credit_note_page import _open_invoice
from tests.ui.test_pages import assert_clean, open_page, start_app, widget

FILES = (
    "invoices",
    "invoice_lines",
    "invoice_adjustments",
    "credit_notes",
    "credit_note_items",
    "customer_credit_movements",
)


def _with_a_credit_note(path: Path) -> None:
    """A finalized invoice with a credit note of everything left, 1.00 of it to the customer's credit: every file of
    the export has rows (the credit movement too)."""
    inv = _open_invoice(path)
    with Billsim.open(path) as app:
        credit_notes.create(
            app.session(Caller.local("ana")), inv.invoice_id, {"all": True, "reason": "other", "credit": "1.00"}
        )


def _prepared():
    at = open_page(start_app(), "views/ledger.py")
    widget(at.button, "export_prepare").click().run()
    assert_clean(at)
    return at, at.session_state["export_paths"]


def test_the_page_offers_every_file_of_billsim_export_byte_for_byte_and_all_of_them_in_one_zip(workbench_db, tmp_path):
    _with_a_credit_note(workbench_db)
    at, made = _prepared()
    buttons = {b.key: b for b in at.get("download_button")}  # what the user is offered
    assert list(buttons) == ["download_all", *(f"download_{name}" for name in FILES)]
    assert buttons["download_all"].proto.label.startswith("Download all 6 files (ledger-export-csv-")
    assert buttons["download_credit_note_items"].proto.label.startswith("credit_note_items.csv (")
    cli_out = tmp_path / "cli"
    assert billsim(["--db", str(workbench_db), "export", "--out", str(cli_out)], stdout=io.StringIO()) == 0

    page_files = {name: Path(path) for name, path in made["files"].items()}
    assert list(page_files) == list(FILES)
    for name, path in page_files.items():
        cli_bytes = (cli_out / f"{name}.csv").read_bytes()
        assert path.read_bytes() == cli_bytes, name
        assert cli_bytes.count(b"\n") > 1, f"{name}.csv has rows"  # a header alone would prove little
    with zipfile.ZipFile(made["zip"]) as archive:
        assert archive.namelist() == [f"{name}.csv" for name in FILES]
        for name in FILES:
            assert archive.read(f"{name}.csv") == (cli_out / f"{name}.csv").read_bytes(), name


def test_a_filtered_parquet_export_is_the_engines_export_of_the_same_filters(workbench_db, tmp_path):
    _with_a_credit_note(workbench_db)
    at = open_page(start_app(), "views/ledger.py")
    widget(at.multiselect, "ledger_status").set_value(["open"]).run()
    widget(at.radio, "export_format").set_value("parquet").run()
    widget(at.button, "export_prepare").click().run()
    assert_clean(at)
    made = at.session_state["export_paths"]
    assert made["filtered"] and made["fmt"] == "parquet"
    with Billsim.open(workbench_db) as app:
        expected = ledger.export(
            app.session(Caller.local()), tmp_path, "parquet", filters={"status": ["open", "partially_paid"]}
        )
    assert list(made["files"]) == list(expected) == list(FILES)
    for name, path in expected.items():
        assert Path(made["files"][name]).read_bytes() == path.read_bytes(), name
    with zipfile.ZipFile(made["zip"]) as archive:
        assert archive.namelist() == [f"{name}.parquet" for name in FILES]


def test_the_ledger_table_starts_with_the_columns_an_analyst_scans_first(workbench_db):
    _open_invoice(workbench_db)
    at = open_page(start_app(), "views/ledger.py")
    table = next(d.value for d in at.dataframe if "invoice" in d.value.columns)
    first = ["number", "customer", "status", "total", "balance due", "due date"]
    assert list(table.columns[: len(first)]) == first
    assert {"period start", "period end", "contract", "business", "currency", "invoice"} <= set(table.columns)
