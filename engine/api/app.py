"""The HTTP API (spec section 9): `create_app(db_path)` -> a FastAPI app over one billsim database.

An adapter over the application layer (engine.service): the server's one `Billsim` (one DuckDB connection with
DuckDB's memory_limit, a cursor per request, a deadline per request, bill runs in the background, previews
asked together rated together); the caller resolved once per request (auth.py); every body read whole, bounded
and checked (body_guard.py); POSTs idempotent by key (idempotency.py). OpenAPI at /openapi.json, docs at /docs,
the MCP tools at /mcp.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI

from ..mcp.http import McpHttp
from ..service import Billsim
from ..service.access import drop_unfinished_claims
from ..service.limits import REQUEST_DEADLINE_S, SERVER_MEMORY_LIMIT
from . import errors
from .body_guard import BodyGuard
from .routers import bill_runs, contracts, credit_notes, invoices, scenarios, zenskar

DESCRIPTION = """Billsim's billing engine over HTTP: the DayZero and Zenskar endpoints it mirrors, with the
same paths, fields and meanings, plus preview, review and lifecycle, credit notes, bill runs and what-if.

Every request: `Authorization: Bearer <token>` and `x-business-id: <business>` (the Zenskar paths also take
`x-api-key` and `organisation`). Tokens: `billsim token create --business B --name N`. Any POST may carry an
`Idempotency-Key`. DayZero money is integer minor units."""


def open_server_app(
    db_path: str | Path | None = None,
    *,
    wait_seconds: float = 0.0,
    deadline_s: float = REQUEST_DEADLINE_S,
    memory_limit: str = SERVER_MEMORY_LIMIT,
) -> Billsim:
    """The server's application over the database at `db_path`: DuckDB's memory limit for the process, a deadline
    per request (its query is interrupted: 413 deadline_exceeded), previews asked at the same time rated together."""
    return Billsim.open(
        db_path,
        wait_seconds=wait_seconds,
        memory_limit=memory_limit,
        deadline_s=deadline_s,
        batch_previews=True,
    )


def create_app(db_path: str | Path | None = None, *, billsim: Billsim | None = None) -> FastAPI:
    """The API over `billsim` (a server's application), or over one opened here on `db_path`."""
    owned = billsim is None
    app_ = billsim if billsim is not None else open_server_app(db_path)
    drop_unfinished_claims(app_)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        if owned:
            app_.close()

    app = FastAPI(title="Billsim API", version="1", description=DESCRIPTION, lifespan=lifespan)
    app.state.billsim = app_
    errors.install(app)
    for module in (contracts, invoices, credit_notes, bill_runs, scenarios, zenskar):
        app.include_router(module.router)
    McpHttp(app_).mount(app)  # the MCP tools at /mcp (streamable HTTP), behind the same bearer auth
    app.add_middleware(BodyGuard)

    @app.get("/health", tags=["service"], summary="The server answers")
    def health() -> dict:
        return {"status": "ok"}

    return app
