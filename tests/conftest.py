"""Shared fixtures: every test gets its own in-memory (or temp-file) database."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

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
