"""Where a tool call's Session comes from.

StdioBackend    `billsim mcp --business B`: the database opened for the call and closed after it (the
                file is free between calls), the caller business B with actor mcp:<OS user> or --actor
SharedBackend   streamable HTTP at /mcp of the server: the server's application, the caller of the request
                (authenticated by engine/mcp/http.py exactly as the HTTP API's routes are)
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError

from ..service import Billsim, Caller, Session

CALLER_KEY = "billsim_caller"  # the authenticated caller in the ASGI request's state


class Backend(Protocol):
    # whether work started in the background goes on after the call (the application outlives it)
    background: bool

    def session(self, ctx: Context) -> contextlib.AbstractContextManager[Session]: ...


class StdioBackend:
    background = False  # the database is closed after each call: a run in the background would be interrupted

    def __init__(self, db_path: str | Path | None, caller: Caller, wait: float = 10.0):
        self.db_path, self.caller, self.wait = db_path, caller, wait
        self._lock = threading.Lock()  # one call at a time holds the file (DuckDB: one writing process)

    @contextlib.contextmanager
    def session(self, ctx: Context) -> Iterator[Session]:
        with self._lock:
            # opened for one call: no what-if baseline to keep for the next
            app = Billsim.open(self.db_path, wait_seconds=self.wait, create=False, keep_baselines=False)
            try:
                yield app.session(self.caller)
            finally:
                app.close()


class FixedBackend:
    """An application already open, for one caller: the tools of business B inside the server that holds the
    database (a `billsim mcp --business B` beside the server has its calls carried out here)."""

    background = True

    def __init__(self, app: Billsim, caller: Caller):
        self.app, self.caller = app, caller

    @contextlib.contextmanager
    def session(self, ctx: Context) -> Iterator[Session]:
        yield self.app.session(self.caller)


class SharedBackend:
    background = True

    def __init__(self, app: Billsim):
        self.app = app

    @contextlib.contextmanager
    def session(self, ctx: Context) -> Iterator[Session]:
        request = ctx.request_context.request if ctx is not None else None
        caller = getattr(request, "scope", {}).get("state", {}).get(CALLER_KEY) if request is not None else None
        if not isinstance(caller, Caller):  # the auth wrapper always sets it; never serve an unauthenticated call
            raise ToolError("unauthorized: no authenticated business for this call")
        yield self.app.session(caller)
