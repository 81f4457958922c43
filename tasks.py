#!/usr/bin/env python3
"""Set-up and entry points that need nothing but Python and pip.

    python3 tasks.py workbench   # create/refresh .venv, seed data/workbench.duckdb, start the server (workbench + API)
    python3 tasks.py test        # create/refresh .venv, install Debian packages if missing, run pytest on every core
    python3 tasks.py setup       # only create/refresh .venv
    python3 tasks.py lock        # rewrite requirements.lock from the current .venv (maintainers)
    python3 tasks.py COMMAND --help   # what COMMAND does, and nothing else (-h too)

The virtual environment is project-local (`.venv`). It is rebuilt when `requirements.lock` or
`pyproject.toml` change (their hash is kept in `.venv/.billsim-stamp`), so a stale one is never used.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / "python"
LOCK = ROOT / "requirements.lock"
STAMP = VENV / ".billsim-stamp"
DEFAULT_DB = ROOT / "data" / "workbench.duckdb"


def _say(msg: str) -> None:
    print(f"[tasks] {msg}", file=sys.stderr, flush=True)


def _stamp() -> str:
    h = hashlib.sha256()
    for f in (LOCK, ROOT / "pyproject.toml"):
        h.update(f.read_bytes())
    return h.hexdigest()


def ensure_venv() -> None:
    """Create .venv if missing, re-install from the lock file if the lock or pyproject changed."""
    want = _stamp()
    if PY.exists() and STAMP.exists() and STAMP.read_text().strip() == want:
        return
    if not PY.exists():
        _say(f"creating virtual environment {VENV}")
        venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
    _say("installing pinned packages from requirements.lock")
    pip = [str(PY), "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run(pip + ["install", "-r", str(LOCK)], check=True)
    subprocess.run(pip + ["install", "--no-deps", "-e", str(ROOT)], check=True)
    STAMP.write_text(want + "\n")


# Debian packages the project needs beyond Python: Chromium and its driver for the browser test;
# Pango and a font for WeasyPrint's invoice PDFs (the workbench and `billsim render` need those too);
DOCUMENT_PACKAGES = ["libpango-1.0-0", "libpangoft2-1.0-0", "fonts-dejavu-core"]
# A Java runtime for PySpark (spark-run, spark-simulate and their tests, in local mode).
SPARK_PACKAGES = ["openjdk-17-jre-headless"]
BROWSER_PACKAGES = ["chromium", "chromium-driver"]


def _missing_debian(packages: list[str]) -> list[str]:
    if not shutil.which("dpkg-query"):
        return []  # not a Debian system: nothing we can check or install
    missing = []
    for name in packages:
        out = subprocess.run(["dpkg-query", "-W", "-f=${Status}", name], capture_output=True, text=True)
        if "install ok installed" not in out.stdout:
            missing.append(name)
    return missing


def ensure_debian(packages: list[str]) -> None:
    """Install the Debian packages that are missing, when we are root; otherwise say which."""
    missing = _missing_debian(packages)
    if not missing:
        return
    if hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get"):
        _say(f"installing Debian packages {' '.join(missing)}")
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(["apt-get", "update", "-q"], check=True, env=env, stdout=subprocess.DEVNULL)
        subprocess.run(
            ["apt-get", "install", "-y", "-q", "--no-install-recommends", *missing],
            check=True,
            env=env,
            stdout=subprocess.DEVNULL,
        )
    else:
        _say(f"missing Debian packages (install them as root): {' '.join(missing)}")


def ensure_database() -> None:
    db = Path(os.environ.get("BILLSIM_DB", DEFAULT_DB))
    if not db.exists():
        _say(f"seeding {db} with the demo data")
        subprocess.run([str(BIN / "billsim"), "--db", str(db), "init", "--demo"], check=True)


NO_TESTS_COLLECTED = 5  # pytest's exit code when a selection holds no test


def run_tests(rest: list[str]) -> int:
    """pytest in two passes: a worker per core (at most 4; each test file on one worker, so a file's session
    fixtures such as the SparkSession start once there), then in one process the tests marked
    `single_process` (schemathesis reports each operation as a subtest, and xdist workers drop subtest
    failures). The slowest tests are named at the end of each pass: the suite must stay under 15 minutes."""
    pytest = [str(PY), "-m", "pytest", "--durations=15"]
    passes = [
        [*pytest, "-n", "auto", "--maxprocesses", "4", "--dist", "loadfile", "-m", "not single_process", *rest],
        [*pytest, "-p", "no:xdist", "-m", "single_process", *rest],
    ]
    codes = [subprocess.run(args, cwd=ROOT).returncode for args in passes]
    ran = [code for code in codes if code != NO_TESTS_COLLECTED]
    return max(ran) if ran else NO_TESTS_COLLECTED


# What `python3 tasks.py COMMAND --help` prints: the command's help and nothing else (no venv, no database).
COMMAND_HELP = {
    "setup": """usage: python3 tasks.py setup

Create .venv from requirements.lock (and install the project into it), or rebuild it when requirements.lock or
pyproject.toml changed since it was built. Nothing else.""",
    "test": """usage: python3 tasks.py test [PYTEST ARGS ...]

Create/refresh .venv (as `setup`), install the Debian packages the tests need when missing (as root), then run
pytest in two passes: every test not marked `single_process` on a worker per core, then those marked in one
process. PYTEST ARGS are passed to both passes (e.g. `tests/test_money.py -k rounding`); for pytest's own
options run `.venv/bin/python -m pytest --help`.""",
    "workbench": """usage: python3 tasks.py workbench [BILLSIM SERVE OPTIONS ...]

Create/refresh .venv (as `setup`), install the Debian packages documents need when missing (as root), seed
$BILLSIM_DB (default data/workbench.duckdb) with the demo data when it does not exist, then run
`billsim serve --port 8501`: the workbench at http://127.0.0.1:8501/, the HTTP API, /docs and /mcp in one
process. Further options go to `billsim serve` (`.venv/bin/billsim serve --help` lists them).""",
    "lock": """usage: python3 tasks.py lock

Rewrite requirements.lock from the packages installed in .venv (maintainers).""",
}
HELP_FLAGS = ("-h", "--help")


def main(argv: list[str]) -> int:
    cmd = argv[0] if argv else "help"
    rest = argv[1:]
    if cmd in HELP_FLAGS:
        cmd = "help"
    if cmd in COMMAND_HELP and any(arg in HELP_FLAGS for arg in rest):
        print(COMMAND_HELP[cmd])  # a dry run: the command's help and nothing else
        return 0
    if cmd == "setup":
        ensure_venv()
        return 0
    if cmd == "test":
        ensure_venv()
        ensure_debian(BROWSER_PACKAGES + DOCUMENT_PACKAGES + SPARK_PACKAGES)
        return run_tests(rest)
    if cmd == "workbench":
        ensure_venv()
        ensure_debian(DOCUMENT_PACKAGES)
        ensure_database()
        os.chdir(ROOT)
        # ONE process for the workbench (at /), the HTTP API, /docs and /mcp; the CLI works beside it
        args = [str(BIN / "billsim"), "serve", "--port", "8501", *rest]
        os.execv(args[0], args)
    if cmd == "lock":
        out = subprocess.run(
            [str(PY), "-m", "pip", "freeze", "--exclude-editable"], check=True, capture_output=True, text=True
        ).stdout
        LOCK.write_text("# pinned by `python3 tasks.py lock`; installed by `python3 tasks.py setup`\n" + out)
        return 0
    print(__doc__)
    return 0 if cmd == "help" else 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
