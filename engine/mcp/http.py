"""The MCP tools over streamable HTTP at /mcp of the server, behind the HTTP API's own authentication.

Every request to /mcp is authenticated exactly as the API's routes are (engine.service.access.caller_from_headers:
`Authorization: Bearer <token>` and `x-business-id`; no or bad token 401, another business 403, the same error
body). The caller (business, actor `api:<token name>`) is put in the request's state for the tools.
"""

from __future__ import annotations

import contextlib

import anyio
from mcp.server.streamable_http_manager import StreamableHTTPASGIApp
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.routing import Route

from ..service import Billsim, BillsimError
from ..service.access import caller_from_headers
from .backends import CALLER_KEY, SharedBackend
from .tools import build_server

MCP_PATH = "/mcp"


class BearerAuth:
    """ASGI wrapper: authenticates every request, then hands it to the MCP app with the caller in its state."""

    def __init__(self, inner, app: Billsim):
        self.inner, self.app = inner, app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.inner(scope, receive, send)
            return
        headers = Headers(scope=scope)
        try:
            caller = await anyio.to_thread.run_sync(
                lambda: caller_from_headers(self.app, headers, MCP_PATH, actor_prefix="api:")
            )
        except BillsimError as exc:
            body = {"success": False, "code": exc.code, "message": str(exc)}
            extra = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
            await JSONResponse(body, status_code=exc.status, headers=extra)(scope, receive, send)
            return
        scope.setdefault("state", {})[CALLER_KEY] = caller
        await self.inner(scope, receive, send)


class McpHttp:
    """The tools over streamable HTTP for an application: `endpoint` (auth included) to route at /mcp, and
    `lifespan()` to run while the application runs (the SDK's session manager)."""

    def __init__(self, app: Billsim):
        self.server = build_server(SharedBackend(app))
        # builds the session manager; binding is the application's (127.0.0.1 only: DNS-rebinding checks on)
        self.server.streamable_http_app(streamable_http_path=MCP_PATH, host="127.0.0.1")
        self.endpoint = BearerAuth(StreamableHTTPASGIApp(self.server.session_manager), app)

    def lifespan(self):
        return self.server.session_manager.run()

    def mount(self, asgi_app) -> None:
        """Route /mcp of a Starlette or FastAPI app here and run the session manager in its lifespan."""
        asgi_app.router.routes.append(Route(MCP_PATH, endpoint=self.endpoint, methods=["GET", "POST", "DELETE"]))
        previous = asgi_app.router.lifespan_context

        @contextlib.asynccontextmanager
        async def lifespan(a):
            async with previous(a) as state:  # the app's resources outlive the MCP sessions
                async with self.lifespan():
                    yield state

        asgi_app.router.lifespan_context = lifespan
