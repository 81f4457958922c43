"""A real `billsim serve` on a free 127.0.0.1 port over a test database with two businesses.

    biz-north: the spec's worked 'basics' case (tests/examples/basics)
    biz-south: one customer CUS-SOUTH with K-SOUTH (USD 40.00 a month from 2026-01-01)

Tokens are made with the engine before the server opens the database (one process at a time may).
The server is polled on /health with a bounded deadline only to turn a hang into a failure.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from engine.access.tokens import create_token, revoke_token
from engine.db import connect
from engine.ingest.importer import import_folder

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
BILLSIM = Path(sys.executable).with_name("billsim")
START_DEADLINE_S = 60.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_database(folder: Path) -> tuple[Path, dict[str, str]]:
    """The two-business database and its tokens {north, south, south_revoked}."""
    data = folder / "data"
    shutil.copytree(EXAMPLES / "basics", data)
    with open(data / "customers.csv", "a") as f:
        f.write("CUS-SOUTH,South Supply,biz-south,ap@south.example,USD,0\n")
    with open(data / "contracts.csv", "a") as f:
        f.write("K-SOUTH,CUS-SOUTH,2026-01-01,,month,1,arrears,30,,actual,\n")
    with open(data / "order_lines.csv", "a") as f:
        f.write("L-SOUTH,K-SOUTH,Platform,recurring,flat,Platform fee,40.00,1,,,,,,,,,\n")
    db = folder / "api.duckdb"
    con = connect(db)
    import_folder(con, data)
    tokens = {
        "north": create_token(con, "biz-north", "north-ci"),
        "south": create_token(con, "biz-south", "south-ci"),
        "south_revoked": create_token(con, "biz-south", "south-old"),
    }
    revoke_token(con, "south-old")
    con.close()
    return db, tokens


@dataclass
class Server:
    db: Path
    port: int
    log: Path
    proc: subprocess.Popen | None = None
    env: dict[str, str] = field(default_factory=dict)  # e.g. the pause points of engine/api/faults.py

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Server:
        env = {**os.environ, "BILLSIM_DB": str(self.db), **self.env}
        self._log = open(self.log, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [str(BILLSIM), "--db", str(self.db), "serve", "--no-workbench", "--port", str(self.port)],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        deadline = time.monotonic() + START_DEADLINE_S
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"billsim serve exited: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.url}/health", timeout=1.0).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"billsim serve did not answer within {START_DEADLINE_S} s")
            time.sleep(0.1)

    def kill(self) -> None:
        """SIGKILL: the process dies where it is (no shutdown, no rollback but the database's own)."""
        self.proc.kill()
        self.proc.wait()
        self.proc = None
        self._log.close()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        self._log.close()

    def server_errors(self) -> list[str]:
        """Tracebacks the server logged (a 500 is a bug: every test module checks there are none)."""
        text = self.log.read_text(errors="replace")
        return [line for line in text.splitlines() if "Traceback" in line or "unexpected error" in line]


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    folder = tmp_path_factory.mktemp("api")
    db, tokens = make_database(folder)
    server = Server(db=db, port=free_port(), log=folder / "server.log").start()
    server.tokens = tokens
    yield server
    server.stop()
    assert server.server_errors() == [], server.log.read_text()[-4000:]


def headers(token: str, business: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "x-business-id": business}


POLL_DEADLINE_S = 60.0  # turns a run that never ends into a failure; no test asserts a duration


def wait_run(client: httpx.Client, run_id: str) -> dict:
    """A background bill run's body once it is no longer running."""
    deadline = time.monotonic() + POLL_DEADLINE_S
    while True:
        body = client.get(f"/api/v1/bill-runs/{run_id}").json()
        if body["status"] != "running":
            return body
        assert time.monotonic() < deadline, body
        time.sleep(0.05)


@pytest.fixture(scope="module")
def north(api):
    with httpx.Client(base_url=api.url, headers=headers(api.tokens["north"], "biz-north"), timeout=60) as c:
        yield c


@pytest.fixture(scope="module")
def south(api):
    with httpx.Client(base_url=api.url, headers=headers(api.tokens["south"], "biz-south"), timeout=60) as c:
        yield c
