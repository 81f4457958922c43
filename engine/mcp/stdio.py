"""`billsim mcp --business B`: the MCP tools of business B over stdin/stdout, until the client closes them."""

from __future__ import annotations

from pathlib import Path

from ..service import Billsim, Caller, NotFoundError, access
from ..service.caller import default_actor
from .backends import StdioBackend
from .tools import build_server


def run_stdio(db_path: str | Path | None, business_id: str, actor: str | None = None) -> None:
    with Billsim.open(db_path) as app:  # fail now (one line) on an unreadable database or an unknown business
        known = access.business_known(app, business_id)
    if not known:
        raise NotFoundError(f"no business {business_id!r}: it has no customers in this database")
    caller = Caller.of_business(business_id, actor or f"mcp:{default_actor()}")
    build_server(StdioBackend(db_path, caller)).run("stdio")
