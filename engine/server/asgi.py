"""ONE ASGI application for the server: the workbench (Streamlit's ASGI `st.App`) at `/`, and beside it the HTTP
API with its seed paths, `/docs`, `/openapi.json`, `/health` and the MCP tools at `/mcp` (the FastAPI app of
engine/api), all over the server's one application (one DuckDB connection).

    /api/…  /invoices/…  /contracts/…  /docs  /openapi.json  /redoc  /mcp  /health   ->  the HTTP API (as is)
    everything else                                                                ->  the workbench
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

from starlette.types import ASGIApp, Receive, Scope, Send
from streamlit import config as streamlit_config
from streamlit.starlette import App as StreamlitApp

from ..api.app import create_app
from ..service import Billsim
from .logs import one_log

ROOT = Path(__file__).resolve().parents[2]  # the project: app.py and views/
API_PREFIXES = ("/api/", "/invoices/", "/contracts/", "/docs", "/openapi.json", "/redoc", "/mcp", "/health")


class ApiFirst:
    """The server's ASGI app: an HTTP request of the API goes straight to the API's app; everything else (the
    workbench, its websocket, the lifespan that starts both) to Streamlit's. Streamlit's own middleware (a path
    check that answers a bare text "Bad Request" to a %00 or a `..`) is the workbench's; the API answers every
    request with its own JSON error shape."""

    def __init__(self, api: ASGIApp, workbench: ASGIApp, prefixes: tuple[str, ...] = API_PREFIXES) -> None:
        self.api, self.workbench, self.prefixes = api, workbench, prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(self.prefixes):
            await self.api(scope, receive, send)
        else:
            await self.workbench(scope, receive, send)


def server_asgi(billsim: Billsim, *, workbench: bool = True, log_level: str | None = None) -> ASGIApp:
    """The server's ASGI app over `billsim`: the API alone (`workbench=False`), or the workbench with the API.
    `log_level`: uvicorn's loggers are put back to it once Streamlit has set up at start (engine/server/logs.py)."""
    api = create_app(billsim=billsim)
    if not workbench:
        return api
    if str(ROOT) not in sys.path:  # the pages import `views.…`, as under `streamlit run app.py`
        sys.path.insert(0, str(ROOT))
    # A server runs the code it started with. Streamlit's file watcher (on by default, for `streamlit run` while
    # developing) reloaded the pages' modules when a file changed under a running server: a cached read then failed
    # on every load ("Can't pickle <class 'engine.models.Invoice'>: it's not the same object") until a restart,
    # and its inotify queue overflowed into the log.
    streamlit_config.set_option("server.fileWatcherType", "none", where_defined="billsim serve")
    # .streamlit/config.toml says the same, but Streamlit reads it from the working directory: a server started
    # elsewhere showed Streamlit's "Deploy" button and would send usage statistics.
    streamlit_config.set_option("client.toolbarMode", "minimal", where_defined="billsim serve")
    streamlit_config.set_option("browser.gatherUsageStats", False, where_defined="billsim serve")

    @contextlib.asynccontextmanager
    async def lifespan(_app):
        if log_level is not None:  # Streamlit has loaded its config at start: its loggers' levels are set
            one_log(log_level)
        async with api.router.lifespan_context(api):  # the API's own start and stop (the MCP sessions)
            yield None

    return ApiFirst(api, StreamlitApp(ROOT / "app.py", lifespan=lifespan))
