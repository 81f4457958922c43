"""import-drafts (all-or-nothing, claimed cycles skipped and reported, idempotent, refuses other data) and
spark-simulate (the same comparison.csv as `billsim simulate`), on the spec's 'basics' example."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest
from helpers_data import SPEC_SCENARIO
from helpers_spark import rows_of, spark_rows

from engine.billing.invoices import draft_period_invoice
from engine.cli import main
from engine.db import connect
from engine.errors import ScenarioError, ValidationError
from engine.ingest.importer import import_folder
from engine.io.export import ledger_arrow
from engine.spark.import_drafts import import_drafts
from engine.spark.simulate import spark_simulate
from engine.whatif.scenarios import parse_scenario, simulate

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
DATE = dt.date(2026, 3, 15)


@pytest.fixture(scope="module")
def ran(spark, tmp_path_factory):
    """The basics ledger, its exported inputs and one Spark run of 2026-03-15 with delayed charges."""
    tmp = tmp_path_factory.mktemp("import")
    con = connect(tmp / "ledger.duckdb")
    import_folder(con, EXAMPLES / "basics")
    con.close()
    db = ["--db", str(tmp / "ledger.duckdb")]
    assert main([*db, "export-inputs", "--out", str(tmp / "inputs")]) == 0
    run = ["spark-run", "--inputs", str(tmp / "inputs"), "--period-date", str(DATE), "--out", str(tmp / "out")]
    assert main([*db, *run, "--partitions", "2", "--include-delayed-charges"]) == 0
    return tmp


def _ledger(ran, tmp_path) -> Path:
    path = tmp_path / "ledger.duckdb"
    shutil.copy(ran / "ledger.duckdb", path)
    return path


def test_import_drafts_skips_an_invoiced_cycle_and_is_idempotent(ran, tmp_path, capsys):
    path = _ledger(ran, tmp_path)
    con = connect(path)
    existing = draft_period_invoice(con, "K-YEN", DATE).invoice.invoice_id  # drafted in the ledger first
    result = import_drafts(con, ran / "out", actor="analyst")
    assert (result["imported"], result["already_imported"]) == (5, False)
    assert [(s["contract_id"], s["reason"]) for s in result["skipped"]] == [
        ("K-YEN", f"cycle already invoiced (invoice {existing})")
    ]
    # the imported drafts are the Spark run's invoices and lines, exactly
    spark_inv, spark_lines, spark_adjustments = spark_rows(ran / "out")
    t = ledger_arrow(con)
    ledger_inv, ledger_lines, ledger_adjustments = rows_of(t["invoices"], t["invoice_lines"], t["invoice_adjustments"])
    imported = [r for r in ledger_inv if r[2] != "K-YEN"]
    assert imported == [r for r in spark_inv if r[2] != "K-YEN"]
    assert [r for r in ledger_lines if r[0] != "K-YEN"] == [r for r in spark_lines if r[0] != "K-YEN"]
    assert [r for r in ledger_adjustments if r[0] != "K-YEN"] == [r for r in spark_adjustments if r[0] != "K-YEN"]
    assert any(r[2] == "tax" for r in ledger_adjustments)  # basics' customers with a tax_rate: its one tax row
    run_id = result["run_id"]
    assert con.execute("SELECT status FROM bill_runs WHERE run_id = ?", [run_id]).fetchone() == ("completed",)
    assert con.execute("SELECT count(*) FROM invoices WHERE run_id = ? AND status = 'draft'", [run_id]).fetchone() == (
        5,
    )
    events = con.execute(
        "SELECT count(*) FROM invoice_events WHERE action = 'drafted' AND actor = 'analyst'"
    ).fetchone()[0]
    assert events == 5
    swept = con.execute("SELECT count(*) FROM delayed_charge_sweeps WHERE run_id = ?", [run_id]).fetchone()[0]
    assert swept == sum(1 for r in spark_lines if r[4] == "delayed_charge" and r[0] != "K-YEN")
    con.close()
    # again, through the command line: nothing new
    assert main(["--db", str(path), "import-drafts", str(ran / "out")]) == 0
    again = json.loads(capsys.readouterr().out)
    assert (again["already_imported"], again["imported"]) == (True, 0)
    con = connect(path)
    assert con.execute("SELECT count(*) FROM invoices").fetchone()[0] == 6
    con.close()


def test_import_drafts_refuses_a_folder_billed_from_other_data(ran, tmp_path):
    con = connect(_ledger(ran, tmp_path))
    con.execute(
        "INSERT INTO usage SELECT usage_id || '-x', contract_id, metric, usage_date, quantity, status "
        "FROM usage LIMIT 1"
    )
    with pytest.raises(ValidationError, match="usage: .* rows in the run's inputs"):
        import_drafts(con, ran / "out")
    assert con.execute("SELECT count(*) FROM invoices").fetchone()[0] == 0
    assert con.execute("SELECT count(*) FROM bill_runs").fetchone()[0] == 0


def test_spark_simulate_writes_the_same_comparison_csv_as_simulate(spark, ran, tmp_path):
    scenario = parse_scenario(SPEC_SCENARIO)
    con = connect(ran / "ledger.duckdb", read_only=True)
    frm, to = dt.date(2026, 1, 1), dt.date(2026, 4, 30)
    engine = simulate(con, scenario, frm, to, out_dir=tmp_path / "engine")
    con.close()
    summary = spark_simulate(spark, scenario, str(ran / "inputs"), frm, to, str(tmp_path / "spark"), partitions=3)
    engine_csv = (tmp_path / "engine" / "comparison.csv").read_bytes()
    assert (tmp_path / "spark" / "comparison.csv").read_bytes() == engine_csv
    assert summary["totals"] == engine["totals"] and summary["rows"] == engine["rows"] > 0
    assert summary["tax_totals"] == engine["tax_totals"] and engine["tax_totals"]  # basics: 10 % tax on ACME and KITE


def test_spark_simulate_rejects_a_scenario_naming_what_the_data_lacks(spark, ran, tmp_path):
    scenario = parse_scenario({"name": "x", "changes": [{"type": "price", "product": "Nope", "percent": 5}]})
    with pytest.raises(ScenarioError, match="unknown product 'Nope'"):
        spark_simulate(spark, scenario, str(ran / "inputs"), DATE, DATE, str(tmp_path / "out"))


def test_spark_run_of_a_missing_inputs_folder_is_one_line_and_exit_2(spark, tmp_path, capsys):
    code = main(
        ["spark-run", "--inputs", str(tmp_path / "nope"), "--period-date", "2026-03-15", "--out", str(tmp_path)]
    )
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("billsim: spark: ") and len(err.strip().splitlines()) == 1
