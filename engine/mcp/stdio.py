"""`billsim mcp --business B`: the MCP tools of business B over stdin/stdout, until the client closes them.

The database is opened for each call and closed after it, so the workbench and the CLI can use it between calls.
While `billsim serve` holds the database, each call is carried out by that server instead, through its control
socket (the same tools, the same answers): no second way to the database.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.types import CallToolResult

from ..server.client import business_known, call_tool
from ..server.lock import ServerInfo, running_server
from ..service import Billsim, Caller, NotFoundError, access
from ..service.application import default_path
from ..service.caller import default_actor
from .backends import StdioBackend
from .tools import build_server


def _forwarded(server: MCPServer, info: ServerInfo, caller: Caller) -> MCPServer:
    """`server` (its tools listed as ever) with every call carried out by the server that holds the database."""

    async def call(name: str, arguments: dict[str, Any], context=None) -> CallToolResult:
        result = await anyio.to_thread.run_sync(
            lambda: call_tool(info, caller.business_id, caller.actor, name, arguments)
        )
        return CallToolResult.model_validate(result)

    server.call_tool = call  # the SDK's handler calls it for every tools/call
    return server


def run_stdio(db_path: str | Path | None, business_id: str, actor: str | None = None) -> None:
    caller = Caller.of_business(business_id, actor or f"mcp:{default_actor()}")
    info = running_server(db_path or default_path())
    if info is None:
        with Billsim.open(
            db_path, create=False
        ) as app:  # fail now (one line) on an unreadable database or an unknown business
            known = access.business_known(app, business_id)
    else:
        known = business_known(info, business_id)
    if not known:
        raise NotFoundError(f"no business {business_id!r}: it has no customers in this database")
    server = build_server(StdioBackend(db_path, caller))
    if info is not None:
        server = _forwarded(server, info, caller)
    server.run("stdio")
