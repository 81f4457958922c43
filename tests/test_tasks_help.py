"""`python3 tasks.py COMMAND --help` (and -h) is a dry run: it prints what COMMAND does and nothing else. It once
rebuilt the venv and seeded data/workbench.duckdb before printing anything.

tasks.py runs from a copy in an empty folder: had it begun its work it would have failed there at once (no
requirements.lock to hash, no .venv to run), never building anything."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

TASKS = Path(__file__).resolve().parent.parent / "tasks.py"


def _run(folder: Path, *args: str) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin", "BILLSIM_DB": str(folder / "data" / "workbench.duckdb")}
    return subprocess.run(
        [sys.executable, "tasks.py", *args], cwd=folder, capture_output=True, text=True, timeout=60, env=env
    )


@pytest.mark.parametrize("command", ["workbench", "test", "setup", "lock"])
@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_the_help_of_every_command_prints_its_usage_and_does_nothing_else(tmp_path, command, flag):
    shutil.copy(TASKS, tmp_path / "tasks.py")
    proc = _run(tmp_path, command, flag)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"usage: python3 tasks.py {command}"), proc.stdout
    assert proc.stderr == ""  # no "[tasks] creating virtual environment …", no "seeding …"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tasks.py"]


def test_a_help_flag_after_other_arguments_is_still_a_dry_run(tmp_path):
    shutil.copy(TASKS, tmp_path / "tasks.py")
    proc = _run(tmp_path, "workbench", "--log-level", "debug", "--help")
    assert proc.returncode == 0 and proc.stdout.startswith("usage: python3 tasks.py workbench"), proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tasks.py"]


@pytest.mark.parametrize("args", [[], ["help"], ["--help"], ["-h"]])
def test_the_overall_help_lists_the_commands(tmp_path, args):
    shutil.copy(TASKS, tmp_path / "tasks.py")
    proc = _run(tmp_path, *args)
    assert proc.returncode == 0 and "python3 tasks.py workbench" in proc.stdout and "--help" in proc.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tasks.py"]
