"""The HTTP API (spec section 9): `create_app(db_path)` -> a FastAPI app over one billsim database.

One DuckDB connection per process, a cursor per request (db_session.py); the caller resolved once per
request (auth.py); ids checked against the caller's business (tenancy.py); POSTs idempotent by key
(idempotency.py); bill runs in the background (bill_run_jobs.py). OpenAPI at /openapi.json, docs at /docs.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI

from ..db import connect
from . import errors
from .bill_run_jobs import BillRunJobs
from .idempotency import drop_unfinished
from .mcp_server import mount_mcp
from .preview_queue import PreviewQueue
from .routers import bill_runs, contracts, invoices, scenarios, zenskar

DESCRIPTION = """Billsim's billing engine over HTTP: the DayZero and Zenskar endpoints it mirrors, with the
same paths, fields and meanings, plus preview, review and lifecycle, bill runs and what-if.

Every request: `Authorization: Bearer <token>` and `x-business-id: <business>` (the Zenskar paths also take
`x-api-key` and `organisation`). Tokens: `billsim token create --business B --name N`. Any POST may carry an
`Idempotency-Key`. DayZero money is integer minor units."""


def create_app(db_path: str | Path | None = None) -> FastAPI:
    con = connect(db_path)
    drop_unfinished(con)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        app.state.jobs.wait_all()
        app.state.previews.stop()
        con.close()

    app = FastAPI(title="Billsim API", version="1", description=DESCRIPTION, lifespan=lifespan)
    app.state.con = con
    app.state.jobs = BillRunJobs(con)
    app.state.previews = PreviewQueue(con)  # previews asked at the same time are rated together
    errors.install(app)
    for module in (contracts, invoices, bill_runs, scenarios, zenskar):
        app.include_router(module.router)
    mount_mcp(app, con)  # the MCP tools at /mcp (streamable HTTP), behind the same bearer auth

    @app.get("/health", tags=["service"], summary="The server answers")
    def health() -> dict:
        return {"status": "ok"}

    return app
