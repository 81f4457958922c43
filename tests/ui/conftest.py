"""Fixtures of the workbench UI tests: a seeded temporary database per test, the app under AppTest."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from engine.db import connect

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # the pages import `views._database` like `streamlit run app.py` lets them
    sys.path.insert(0, str(ROOT))

DEMO_CONTRACTS = 16  # two of each of the demo's eight contract profiles
DEMO_USAGE_ROWS = 800


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory) -> Path:
    """The small demo, seeded once per test session; every test works on its own copy."""
    from engine.ingest.demo import seed_demo

    path = tmp_path_factory.mktemp("demo") / "demo.duckdb"
    con = connect(path)
    seed_demo(con, contracts=DEMO_CONTRACTS, usage_rows=DEMO_USAGE_ROWS, seed=7)
    con.close()
    return path


@pytest.fixture
def workbench_db(demo_template, tmp_path, monkeypatch) -> Path:
    """BILLSIM_DB -> a private copy of the seeded demo; the app's shared connection is closed after."""
    path = tmp_path / "workbench.duckdb"
    shutil.copyfile(demo_template, path)
    monkeypatch.setenv("BILLSIM_DB", str(path))
    yield path
    from views._database import forget_database

    forget_database(str(path))
