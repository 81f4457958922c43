"""The workbench served by `streamlit run app.py`, driven in headless Chromium (Debian's chromium and
chromium-driver; no browser is downloaded). Screenshots go to tests/artifacts/ (git-ignored)."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

from engine.db import connect

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
CHROME_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1440,2000",
]
PAGES = [
    ("", "Data"),
    ("billing_cycles", "Billing cycles"),
    ("invoice_preview", "Invoice preview"),
    ("bill_run", "Bill run"),
    ("review", "Review"),
    ("ledger", "Ledger & export"),
    ("scenarios", "What-if scenarios"),
]
ERRORS = '[data-testid="stException"], [data-testid="stAlertContentError"]'
BUSY = '[data-testid="stStatusWidget"], [data-testid="stSkeleton"]'


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(proc: subprocess.Popen, url: str, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"streamlit exited with {proc.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.25)
    pytest.fail(f"streamlit did not answer {url} within {timeout}s:\n{log.read_text()}")


@pytest.fixture
def served_workbench(demo_template, tmp_path):
    """`streamlit run app.py` on a free 127.0.0.1 port, over a copy of the demo with a finished bill run
    (so the ledger, the report and the invoice pages have something to show)."""
    from engine.billing.bill_run import bill_run

    db = tmp_path / "browser.duckdb"
    shutil.copyfile(demo_template, db)
    con = connect(db)
    bill_run(con, dt.date(2026, 9, 15), finalize=True, include_delayed_charges=True)
    bill_run(con, dt.date(2026, 10, 15))  # drafts under review against September's invoices (Review page)
    con.close()
    port = free_port()
    log = tmp_path / "streamlit.log"
    env = {**os.environ, "BILLSIM_DB": str(db), "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false"}
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "streamlit"),
                "run",
                "app.py",
                "--server.headless=true",
                f"--server.port={port}",
                "--server.address=127.0.0.1",
                "--server.fileWatcherType=none",
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_healthy(proc, f"http://127.0.0.1:{port}/_stcore/health", log)
        yield f"http://127.0.0.1:{port}", log
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def require_chromium() -> None:
    """A missing browser fails the test (it must run in CI), it is never skipped."""
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not os.path.exists(p)]
    if missing:
        pytest.fail(
            f"{' and '.join(missing)} not found: install the Debian packages chromium and "
            "chromium-driver (`python3 tasks.py test` does when run as root)"
        )


@contextmanager
def chromium():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROME_FLAGS:
        options.add_argument(flag)
    profile = tempfile.mkdtemp(prefix="billsim-chromium-")
    options.add_argument(f"--user-data-dir={profile}")
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def wait_settled(driver, title: str, timeout: float = 45) -> None:
    """Until the page's title (or an error) is shown and the script has finished (no running indicator,
    no skeleton) for a second."""
    from selenium.webdriver.common.by import By

    deadline, calm_since, heads = time.monotonic() + timeout, None, []
    while time.monotonic() < deadline:
        heads = [h.text for h in driver.find_elements(By.CSS_SELECTOR, "h1")]
        shown = title in heads or driver.find_elements(By.CSS_SELECTOR, ERRORS)
        calm = shown and not driver.find_elements(By.CSS_SELECTOR, BUSY)
        calm_since = (calm_since or time.monotonic()) if calm else None
        if calm_since and time.monotonic() - calm_since >= 1.0:
            return
        time.sleep(0.2)
    pytest.fail(f"page {title!r} did not settle in {timeout}s; headings: {heads}")


@pytest.mark.browser
def test_every_page_shows_its_title_and_no_error_in_chromium(served_workbench):
    from selenium.webdriver.common.by import By

    require_chromium()
    base, log = served_workbench
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with chromium() as driver:
        for path, title in PAGES:
            driver.get(f"{base}/{path}")
            wait_settled(driver, title)
            shot = ARTIFACTS / f"workbench-{path or 'data'}.png"
            driver.save_screenshot(str(shot))
            errors = [e.text for e in driver.find_elements(By.CSS_SELECTOR, ERRORS)]
            assert not errors, f"{title}: {errors} (screenshot {shot})"
            assert title in [h.text for h in driver.find_elements(By.CSS_SELECTOR, "h1")]
            assert driver.title.startswith(title), driver.title
    assert "Traceback" not in log.read_text()


@pytest.mark.browser
def test_review_page_shows_the_table_and_approves_the_unflagged_drafts_in_chromium(served_workbench):
    """The newest run's drafts in the grid; 'Approve all N unflagged' approves them and says so."""
    from selenium.webdriver.common.by import By

    require_chromium()
    base, log = served_workbench
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with chromium() as driver:
        driver.get(f"{base}/review")
        wait_settled(driver, "Review")
        grids = driver.find_elements(By.CSS_SELECTOR, '[data-testid="stDataFrame"]')
        assert grids, "no review table"
        cells = grids[-1].get_attribute("textContent")  # the grid's accessible table (it draws on a canvas)
        assert "Customer" in cells and "Change %" in cells, cells[:300]
        buttons = [b for b in driver.find_elements(By.TAG_NAME, "button") if b.text.startswith("Approve all")]
        assert len(buttons) == 1, [b.text for b in driver.find_elements(By.TAG_NAME, "button")]
        count = int(buttons[0].text.split()[2].replace(",", ""))
        assert count > 0, buttons[0].text
        driver.save_screenshot(str(ARTIFACTS / "workbench-review.png"))
        buttons[0].click()
        deadline = time.monotonic() + 45
        while time.monotonic() < deadline and f"Approved {count:,} unflagged drafts" not in driver.page_source:
            time.sleep(0.2)
        wait_settled(driver, "Review")
        driver.save_screenshot(str(ARTIFACTS / "workbench-review-approved.png"))
        assert f"Approved {count:,} unflagged drafts" in driver.page_source
        assert not driver.find_elements(By.CSS_SELECTOR, ERRORS)
        after = [b.text for b in driver.find_elements(By.TAG_NAME, "button") if b.text.startswith("Approve all")]
        assert after == ["Approve all 0 unflagged"], after
    assert "Traceback" not in log.read_text()


def _near_and_visible(driver, message, button) -> tuple[bool, dict]:
    """Whether the message is drawn inside the viewport, just under (or beside) the button that was pressed."""
    m = driver.execute_script("const r = arguments[0].getBoundingClientRect(); return [r.top, r.bottom];", message)
    b = driver.execute_script("const r = arguments[0].getBoundingClientRect(); return [r.top, r.bottom];", button)
    height = driver.execute_script("return window.innerHeight")
    facts = {"message": m, "button": b, "viewport": height}
    return 0 <= m[0] and m[1] <= height and abs(m[0] - b[1]) < 160, facts


def _wait_for(driver, find, timeout: float = 45):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = find()
        if found:
            return found
        time.sleep(0.2)
    return None


@pytest.mark.browser
def test_an_actions_outcome_is_shown_next_to_its_button_and_its_popover_closes_in_chromium(served_workbench):
    """Issue 21 (2, 3): on the Review page the outcome of 'Approve all N unflagged' appears in the viewport right
    under the button pressed (not at the top of the page), and after 'Finalize' the confirmation popover is
    closed: no stale 'Finalize 0 …' left open."""
    from selenium.webdriver.common.by import By

    require_chromium()
    base, log = served_workbench
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with chromium() as driver:
        driver.set_window_size(1440, 900)  # a laptop's screen: the top of the page is out of view once scrolled
        driver.get(f"{base}/review")
        wait_settled(driver, "Review")

        def button(prefix: str):
            found = [b for b in driver.find_elements(By.TAG_NAME, "button") if b.text.startswith(prefix)]
            return found[0] if found else None

        approve = button("Approve all")
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", approve)
        approve.click()
        alert = _wait_for(
            driver,
            lambda: [
                a for a in driver.find_elements(By.CSS_SELECTOR, '[data-testid="stAlert"]') if "Approved" in a.text
            ],
        )
        wait_settled(driver, "Review")
        driver.save_screenshot(str(ARTIFACTS / "workbench-review-feedback.png"))
        assert alert, "no outcome shown"
        alert = [a for a in driver.find_elements(By.CSS_SELECTOR, '[data-testid="stAlert"]') if "Approved" in a.text]
        near, facts = _near_and_visible(driver, alert[0], button("Approve all"))
        assert near, facts

        finalize = button("Finalize ")
        assert finalize is not None and not finalize.text.startswith("Finalize 0"), finalize and finalize.text
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", finalize)
        finalize.click()
        confirm = _wait_for(
            driver,
            lambda: [
                b
                for b in driver.find_elements(By.CSS_SELECTOR, '[data-testid="stPopoverBody"] button')
                if b.text.startswith("Finalize")
            ],
        )
        assert confirm, "the confirmation did not open"
        body = driver.find_element(By.CSS_SELECTOR, '[data-testid="stPopoverBody"]').text
        assert "**" not in body and "Finalize" in body, body
        confirm[0].click()
        done = _wait_for(
            driver,
            lambda: [
                a for a in driver.find_elements(By.CSS_SELECTOR, '[data-testid="stAlert"]') if "Finalized" in a.text
            ],
        )
        wait_settled(driver, "Review")
        driver.save_screenshot(str(ARTIFACTS / "workbench-review-finalized.png"))
        assert done, "no outcome of the finalize"
        bodies = [b for b in driver.find_elements(By.CSS_SELECTOR, '[data-testid="stPopoverBody"]') if b.is_displayed()]
        assert not bodies, [b.text for b in bodies]  # closed: nothing stale left open
        assert not driver.find_elements(By.CSS_SELECTOR, ERRORS)
    assert "Traceback" not in log.read_text()
