"""Shared fixtures: every test gets its own in-memory (or temp-file) database."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import engine.whatif.scenarios as scenarios_module
from engine.db import connect

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = Path(__file__).resolve().parent / "examples"


@pytest.fixture
def con():
    c = connect(":memory:")
    yield c
    c.close()


@pytest.fixture
def db_path(tmp_path):
    return tmp_path / "test.duckdb"


@pytest.fixture
def basics_folder(tmp_path):
    """A private copy of the spec's worked 'basics' case (tests/examples/basics)."""
    dst = tmp_path / "basics"
    shutil.copytree(EXAMPLES / "basics", dst)
    return dst


@pytest.fixture
def count_ratings(monkeypatch):
    """How many times the baseline and the scenario were rated since the fixture was made (the module's own
    functions, called through)."""
    calls = {"baseline": 0, "scenario": 0}
    rate_baseline, rate_scenario = scenarios_module._rate_baseline, scenarios_module._rate_scenario

    def baseline(*args, **kw):
        calls["baseline"] += 1
        return rate_baseline(*args, **kw)

    def scenario(*args, **kw):
        calls["scenario"] += 1
        return rate_scenario(*args, **kw)

    monkeypatch.setattr(scenarios_module, "_rate_baseline", baseline)
    monkeypatch.setattr(scenarios_module, "_rate_scenario", scenario)
    return calls
