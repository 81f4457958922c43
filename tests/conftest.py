"""Shared fixtures: every test gets its own in-memory (or temp-file) database."""

from __future__ import annotations

import shutil
from concurrent.futures import Future
from pathlib import Path

import pytest

import engine.whatif.scenarios as scenarios_module
import views._whatif_steps as whatif_steps
from engine.db import connect

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = Path(__file__).resolve().parent / "examples"


class _AtOnce:
    """An executor that works a job out as it is handed over: its Future is done when `submit` returns."""

    def submit(self, fn, *args) -> Future:
        job: Future = Future()
        try:
            job.set_result(fn(*args))
        except BaseException as exc:  # noqa: BLE001 (handed to the Future, as an executor does)
            job.set_exception(exc)
        return job


@pytest.fixture(autouse=True)
def _whatif_steps_at_once(request, monkeypatch):
    """The What-if page hands its waterfall by change to a worker thread after the results are shown; a page test
    reads the page right after its run, so the worker would race it. Here the waterfall is worked out when handed
    over, unless the test is marked `steps_in_background` (the page used while the worker works)."""
    if request.node.get_closest_marker("steps_in_background") is None:
        monkeypatch.setattr(whatif_steps, "_WORKERS", _AtOnce())


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
    functions, called through; a baseline restored from the application's kept one is not rated)."""
    calls = {"baseline": 0, "scenario": 0}
    rate_baseline, rate_scenario = scenarios_module._rate_baseline, scenarios_module._rate_scenario

    def baseline(*args, **kw):
        cycles, restored = rate_baseline(*args, **kw)
        calls["baseline"] += 0 if restored else 1
        return cycles, restored

    def scenario(*args, **kw):
        calls["scenario"] += 1
        return rate_scenario(*args, **kw)

    monkeypatch.setattr(scenarios_module, "_rate_baseline", baseline)
    monkeypatch.setattr(scenarios_module, "_rate_scenario", scenario)
    return calls
