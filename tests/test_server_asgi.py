"""The server's ASGI app (engine/server/asgi.py): a server runs the code it started with."""

from __future__ import annotations

import anyio
import httpx
from streamlit import config as streamlit_config

from engine.server.asgi import server_asgi
from engine.service import Billsim


def test_the_served_workbench_does_not_watch_its_files(tmp_path):
    """Streamlit's file watcher reloaded the pages' modules under a running server when a file changed (a cached
    preview then failed on every load until a restart, and inotify overflowed into the log): it is off there."""
    before = streamlit_config.get_option("server.fileWatcherType")
    try:
        streamlit_config.set_option("server.fileWatcherType", "auto")
        with Billsim.open(tmp_path / "s.duckdb") as app:
            server_asgi(app, workbench=True)
        assert streamlit_config.get_option("server.fileWatcherType") == "none"
    finally:
        streamlit_config.set_option("server.fileWatcherType", before)


def test_the_served_workbench_shows_no_deploy_button_and_sends_no_statistics_wherever_it_starts(tmp_path):
    """.streamlit/config.toml is read from the working directory: a server started elsewhere showed Streamlit's
    "Deploy" button. The server sets both options itself."""
    names = ("client.toolbarMode", "browser.gatherUsageStats")
    before = {n: streamlit_config.get_option(n) for n in names}
    try:
        streamlit_config.set_option("client.toolbarMode", "auto")
        streamlit_config.set_option("browser.gatherUsageStats", True)
        with Billsim.open(tmp_path / "s.duckdb") as app:
            server_asgi(app, workbench=True)
        assert streamlit_config.get_option("client.toolbarMode") == "minimal"
        assert streamlit_config.get_option("browser.gatherUsageStats") is False
    finally:
        for n, v in before.items():
            streamlit_config.set_option(n, v)


def test_an_api_path_streamlit_would_refuse_gets_the_apis_json_error(tmp_path):
    """Streamlit's path check answered a bare text "Bad Request" (no code, no content type) to an API path holding
    %00 or an encoded `..`: the API's requests go to the API's app, which answers with its JSON error shape."""
    with Billsim.open(tmp_path / "s.duckdb") as app:
        server = server_asgi(app, workbench=True)

        async def get(path: str) -> httpx.Response:
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=server), base_url="http://t") as client:
                return await client.get(path)

        for path in ("/api/v1/invoices/%00", "/api/v1/invoices/..%2F..%2Fetc", "/contracts/%00/billing_cycles"):
            r = anyio.run(get, path)
            assert r.status_code in (401, 404) and r.headers["content-type"] == "application/json", (path, r.text)
            assert r.json()["success"] is False and r.json()["code"], r.text
