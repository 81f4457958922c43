"""The notebooks run top to bottom on a temporary seeded demo database and produce their key outputs.

They are executed with nbclient on the `python3` kernel, which jupyter_client starts with the
interpreter running the tests (the project's .venv), so they import this checkout's `engine`.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
PLOTLY = "application/vnd.plotly.v1+json"


def execute(name: str, workdir: Path) -> nbformat.NotebookNode:
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    NotebookClient(
        nb, kernel_name="python3", timeout=600, allow_errors=False, resources={"metadata": {"path": str(workdir)}}
    ).execute()
    return nb


def outputs(nb) -> list[dict]:
    return [o for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]


def figures(nb) -> list[dict]:
    return [o["data"][PLOTLY] for o in outputs(nb) if PLOTLY in o.get("data", {})]


def texts(nb) -> str:
    return "\n".join(o.get("data", {}).get("text/plain", "") + o.get("text", "") for o in outputs(nb))


def test_notebooks_are_stored_without_outputs():
    for path in NOTEBOOKS.glob("*.ipynb"):
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
        assert not outputs(nb), f"{path.name} is committed with outputs"


@pytest.mark.slow
def test_what_if_pricing_runs_and_plots_both_scenarios(tmp_path):
    nb = execute("what_if_pricing.ipynb", tmp_path)
    assert not [o for o in outputs(nb) if o.get("output_type") == "error"]
    plots = figures(nb)
    kinds = [t["type"] for f in plots for t in f["data"]]
    assert len(plots) == 4 and kinds.count("waterfall") == 1 and "bar" in kinds
    text = texts(nb)
    assert "API calls +10%" in text and "Usage +25%" in text and "delta" in text
    assert not list(ROOT.glob("data/*.duckdb.wal"))  # the workbench database was never opened


@pytest.mark.slow
def test_bill_run_review_runs_and_shows_largest_invoices_exceptions_and_pending_usage(tmp_path):
    nb = execute("bill_run_review.ipynb", tmp_path)
    assert not [o for o in outputs(nb) if o.get("output_type") == "error"]
    assert [t["type"] for f in figures(nb) for t in f["data"]] == ["histogram"]
    text = texts(nb)
    assert "run_" in text and "drafted" in text
    assert "invoice_id" in text and "total" in text  # the largest invoices
    assert "nothing_to_bill" in text or "failed" in text or "Empty DataFrame" in text  # exceptions table
    assert "metric" in text  # pending usage per contract and metric
