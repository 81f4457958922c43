"""ONE server process holds the database and serves the workbench at `/`, the HTTP API and MCP from one port over
one connection; the command line and `billsim mcp` over stdio work beside it (the server carries out their work
through its control socket), with the same output and exit codes as without it; SIGTERM during a bill run stops
the server within 10 s and leaves no partial run, which the next start reports and the same run resumes.

Each test starts `billsim serve` as a subprocess on a free 127.0.0.1 port over a copy of the spec's 'basics' data
with the API tests' second business (tests/api/conftest.py)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import anyio
import httpx
import pytest
from api.conftest import headers, make_database
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from ui.test_browser import ERRORS, chromium, require_chromium, wait_settled

from engine.service.faults import fifo_path

BILLSIM = Path(sys.executable).with_name("billsim")
ROOT = Path(__file__).resolve().parent.parent
START_S = 90.0  # turns a server that never answers into a failure; no test asserts a duration but the stop's


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def billsim(db: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "BILLSIM_DB": str(db)}
    return subprocess.run(
        [str(BILLSIM), "--db", str(db), "--actor", "ana", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=300,
    )


class Served:
    """`billsim serve` over `db` on a free port, stopped (SIGTERM) by `stop()`."""

    def __init__(self, db: Path, log: Path, *extra: str, env: dict | None = None) -> None:
        self.db, self.log, self.port = db, log, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._out = open(log, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [str(BILLSIM), "--db", str(db), "serve", "--port", str(self.port), *extra],
            stdout=self._out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false", **(env or {})},
        )
        deadline = time.monotonic() + START_S
        while True:
            assert self.proc.poll() is None, f"billsim serve exited: {log.read_text()[-3000:]}"
            try:
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.2)

    def stop(self) -> float:
        """SIGTERM; the seconds until the process ended."""
        t0 = time.monotonic()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._out.close()
        return time.monotonic() - t0


@pytest.fixture
def data(tmp_path):
    db, tokens = make_database(tmp_path)
    return db, tokens


@pytest.fixture
def served(data, tmp_path):
    db, tokens = data
    server = Served(db, tmp_path / "server.log")
    yield server, tokens
    server.stop()
    assert "Traceback" not in (tmp_path / "server.log").read_text()


def _ledger_text(driver) -> str:
    """The Ledger page's text and its grids' (a grid draws on a canvas; its accessible table holds the cells)."""
    from selenium.webdriver.common.by import By

    grids = driver.find_elements(By.CSS_SELECTOR, '[data-testid="stDataFrame"]')
    return driver.find_element(By.TAG_NAME, "body").text + " ".join(g.get_attribute("textContent") for g in grids)


@pytest.mark.browser
def test_the_workbench_and_the_api_are_one_process_on_one_port(served, tmp_path):
    """In a real browser, the workbench at / shows what the API just drafted (on its next rerun), from the same
    port and process; the database is held once, by that process."""
    from selenium.webdriver.common.by import By

    require_chromium()
    server, tokens = served
    with chromium() as driver:
        driver.get(f"{server.url}/ledger")
        wait_settled(driver, "Ledger & export")
        before = _ledger_text(driver)
        assert not driver.find_elements(By.CSS_SELECTOR, ERRORS)
        with httpx.Client(base_url=server.url, headers=headers(tokens["north"], "biz-north"), timeout=60) as api:
            made = api.post("/api/v1/contracts/K-FLAT/generate-period-invoices", json={"period_date": "2026-03-15"})
            assert made.status_code == 201, made.text
            invoice_id = made.json()["data"]["invoice"]["id"]
            assert api.get("/docs").status_code == 200 and api.get("/openapi.json").status_code == 200
        assert invoice_id not in before
        driver.get(f"{server.url}/ledger")  # the next rerun
        wait_settled(driver, "Ledger & export")
        driver.save_screenshot(str(tmp_path / "ledger-after-api.png"))
        assert "K-FLAT" in _ledger_text(driver) and not driver.find_elements(By.CSS_SELECTOR, ERRORS)
    info = json.loads(Path(f"{server.db}.server.json").read_text())
    assert info["pid"] == server.proc.pid and info["url"] == server.url
    # the HTTP draft is the workbench's: the CLI beside the server sees it too, through the same process
    listed = billsim(server.db, "review", "--period-date", "2026-03-15")
    assert listed.returncode == 0, listed.stderr
    assert invoice_id in listed.stdout


@pytest.mark.browser
def test_a_token_made_on_the_workbench_works_over_http_at_once(served, tmp_path):
    """The other way round: the API page of the workbench makes a token (shown once); curl-like, the API accepts
    it on the very next request, from the same process."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    require_chromium()
    server, _ = served
    with chromium() as driver:
        driver.get(f"{server.url}/api")
        wait_settled(driver, "API")
        name = driver.find_element(By.CSS_SELECTOR, 'input[aria-label="Name"]')
        name.send_keys("browser-bot", Keys.TAB)
        time.sleep(0.5)
        button = [b for b in driver.find_elements(By.TAG_NAME, "button") if b.text == "Create token"]
        assert len(button) == 1
        button[0].click()
        deadline = time.monotonic() + 45
        token = None
        while token is None and time.monotonic() < deadline:
            found = [w for w in driver.find_element(By.TAG_NAME, "body").text.split() if w.startswith("bsk_")]
            token = found[0] if found else None
            time.sleep(0.2)
        driver.save_screenshot(str(tmp_path / "api-page-token.png"))
        assert token, "the new token is shown once on the page"
    listed = httpx.get(f"{server.url}/api/v1/invoices", headers=headers(token, "biz-north"))
    assert listed.status_code == 200, listed.text


def _normalised(report: dict) -> dict:
    return {k: v for k, v in report.items() if k not in ("run_id", "started_at", "finished_at", "duration_s")}


def test_the_cli_beside_a_running_server_answers_as_without_it(data, tmp_path):
    """preview, run, export, token create/revoke and audit: the same output and exit codes whether the command
    opens the file itself or the server that holds it carries it out (two copies of one database)."""
    db, _ = data
    alone = tmp_path / "alone.duckdb"
    shutil.copyfile(db, alone)
    work = tmp_path / "work"
    work.mkdir()
    server = Served(db, tmp_path / "server.log")
    try:
        outputs = {}
        for name, path in (("served", db), ("alone", alone)):
            runs = {
                "preview": billsim(path, "preview", "K-FLAT", "--period-date", "2026-03-15", cwd=work),
                "bad": billsim(path, "preview", "K-NOPE", "--period-date", "2026-03-15", cwd=work),
                "run": billsim(path, "run", "--period-date", "2026-03-15", "--quiet", cwd=work),
                "export": billsim(path, "export", "--out", f"exp-{name}", cwd=work),
                "token": billsim(path, "token", "create", "--business", "biz-north", "--name", "cli", cwd=work),
                "audit": billsim(path, "audit", "--out", f"audit-{name}.csv", cwd=work),
            }
            outputs[name] = runs
        served, alone_runs = outputs["served"], outputs["alone"]
        for command in served:
            assert served[command].returncode == alone_runs[command].returncode, command
        assert served["preview"].stdout == alone_runs["preview"].stdout
        assert served["bad"].stderr == alone_runs["bad"].stderr == "billsim: unknown contract 'K-NOPE'\n"
        assert _normalised(json.loads(served["run"].stdout)) == _normalised(json.loads(alone_runs["run"].stdout))
        assert json.loads(served["export"].stdout) == {
            "invoices": "exp-served/invoices.csv",
            "invoice_lines": "exp-served/invoice_lines.csv",
            "invoice_adjustments": "exp-served/invoice_adjustments.csv",
            "credit_notes": "exp-served/credit_notes.csv",
            "credit_note_items": "exp-served/credit_note_items.csv",
            "customer_credit_movements": "exp-served/customer_credit_movements.csv",
        }  # the user's relative path, as without the server, written where the user is
        for table in ("invoices", "invoice_lines"):
            rows = [(work / f"exp-{n}" / f"{table}.csv").read_text().splitlines() for n in ("served", "alone")]
            assert len(rows[0]) == len(rows[1]) > 1 and rows[0][0] == rows[1][0]
        assert (work / "audit-served.csv").exists()
        assert json.loads(served["audit"].stdout) == {"audit": "audit-served.csv"}
        token = json.loads(served["token"].stdout)["token"]
        api = httpx.Client(base_url=server.url, headers=headers(token, "biz-north"), timeout=30)
        assert api.get("/api/v1/invoices").status_code == 200
        revoked = billsim(db, "token", "revoke", "cli")
        assert revoked.returncode == 0, revoked.stderr
        assert api.get("/api/v1/invoices").status_code == 401  # the very next request
        # the audit trail names the CLI's user, as when the command opens the file itself
        assert ",ana," in (work / "audit-served.csv").read_text()
    finally:
        server.stop()


def test_mcp_over_stdio_works_beside_the_server(served):
    server, _ = served

    async def main():
        params = StdioServerParameters(
            command=str(BILLSIM), args=["--db", str(server.db), "mcp", "--business", "biz-north"]
        )
        async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            assert "previewInvoice" in {t.name for t in (await session.list_tools()).tools}
            preview = await session.call_tool("previewInvoice", {"contract_id": "K-FLAT", "period_date": "2026-03-15"})
            assert not preview.is_error and preview.structured_content["status"] == "preview"
            other = await session.call_tool("previewInvoice", {"contract_id": "K-SOUTH", "period_date": "2026-03-15"})
            assert other.is_error and "contract_not_found" in other.content[0].text

    anyio.run(main)


def test_a_second_server_on_the_same_file_is_refused_naming_the_first(served):
    server, _ = served
    second = billsim(server.db, "serve", "--port", str(free_port()))
    assert second.returncode == 3
    assert f"pid {server.proc.pid}" in second.stderr and server.url in second.stderr


def test_sigterm_during_a_bill_run_stops_within_10_s_and_leaves_no_partial_run(data, tmp_path):
    """The run is held inside its transaction (a named pause point), the server is sent SIGTERM: it ends within
    10 s, nothing of the run is stored, the next start reports the run, and starting it again resumes it."""
    db, tokens = data
    pauses = tmp_path / "pauses"
    pauses.mkdir()
    point = "bill_run:storing drafts"
    os.mkfifo(fifo_path(pauses, point))
    env = {"BILLSIM_PAUSE_AT": point, "BILLSIM_PAUSE_DIR": str(pauses)}
    server = Served(db, tmp_path / "server.log", "--no-workbench", env=env)
    auth = headers(tokens["north"], "biz-north")
    run_id = httpx.post(f"{server.url}/api/v1/bill-runs", json={"period_date": "2026-03-15"}, headers=auth).json()[
        "run_id"
    ]
    holder = open(fifo_path(pauses, point), "wb")  # noqa: SIM115 - returns once the run waits at the point
    try:
        took = server.stop()
    finally:
        holder.close()
    assert took < 10, took
    assert not Path(f"{db}.server.json").exists() and not Path(f"{db}.sock").exists()
    invoices = billsim(db, "review", "--period-date", "2026-03-15")
    assert invoices.returncode == 0 and json.loads(invoices.stdout)["drafts"] == []  # nothing of the run
    restarted = Served(db, tmp_path / "server2.log", "--no-workbench")
    try:
        assert f"bill run {run_id}" in (tmp_path / "server2.log").read_text()
        status = httpx.get(f"{restarted.url}/api/v1/bill-runs/{run_id}", headers=auth).json()
        assert status["status"] == "interrupted", status
    finally:
        restarted.stop()
    resumed = billsim(db, "run", "--period-date", "2026-03-15", "--business", "biz-north", "--quiet")
    assert resumed.returncode == 0, resumed.stderr
    report = json.loads(resumed.stdout)
    assert report["run_id"] == run_id and report["resumed"] is True and report["drafted"] > 0


def test_the_log_writes_each_request_once_at_the_level_asked_and_not_the_workbenchs_assets(data, tmp_path):
    """Streamlit's own handler on uvicorn's loggers wrote every request twice, at INFO whatever --log-level said
    (engine/server/logs.py). At `--log-level info` each request is one line and the workbench's asset and health
    requests none; at the default (warning) no request is logged."""
    db, _ = data
    paths = ("/", "/_stcore/health", "/health", "/health")
    logs = {}
    for level in ("info", None):
        log = tmp_path / f"server-{level}.log"
        server = Served(db, log, *(["--log-level", level] if level else []))
        polled = log.read_text().count('"GET /health ')  # the start-up's own polls of /health
        for path in paths:
            assert httpx.get(f"{server.url}{path}", timeout=30).status_code == 200
        server.stop()
        logs[level] = (log.read_text(), polled)
    text, polled = logs["info"]
    assert text.count('"GET /health ') == polled + 2, text[-3000:]
    assert text.count('"GET / ') == 1, text[-3000:]
    assert "_stcore" not in text, text[-3000:]
    text, _ = logs[None]
    assert '"GET ' not in text, text[-3000:]
    assert "Traceback" not in logs["info"][0] + text
