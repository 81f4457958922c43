"""The server's ASGI app (engine/server/asgi.py): a server runs the code it started with."""

from __future__ import annotations

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
