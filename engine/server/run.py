"""`billsim serve`: ONE process that holds the database and serves, over one connection, the workbench at `/`,
the HTTP API, `/docs` and the MCP tools at `/mcp`; the command line and `billsim mcp` over stdio have it carry
out their work through its control socket while it runs.

    start   take the lock beside the database (a second server on the file: exit 3 naming the first), open the
            application (memory limit, request deadline), report the bill runs a stop cut off, open the control
            socket, serve HTTP
    SIGTERM stop accepting; requests in flight get a few seconds; a bill run in progress is interrupted and rolls
            back whole (its stored run resumes when started again); the socket and the lock are removed; within
            10 s in all
"""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import TextIO

import uvicorn

from ..api.app import open_server_app
from ..service import bill_runs
from ..service.application import default_path
from ..service.caller import Caller
from ..service.database import require_database
from .asgi import server_asgi
from .control import ControlServer, RunCli
from .lock import ServerLock
from .logs import one_log

_SIGNALS = (signal.SIGTERM, signal.SIGINT)
GRACE_S = 2.0  # requests in flight at a stop may finish within this; then everything is interrupted
STOP_S = 4.0  # what is still running then is interrupted within this (a bill run rolls back)


def serve(
    db_path: str | Path | None,
    *,
    host: str,
    port: int,
    workbench: bool,
    deadline_s: float,
    memory_limit: str,
    log_level: str,
    run_cli: RunCli,
    stderr: TextIO,
    wait_seconds: float = 0.0,
) -> int:
    require_database(db_path or default_path())  # before the lock and the socket are written beside it
    db = Path(db_path or default_path()).resolve()
    url = f"http://{host}:{port}"
    lock = ServerLock(db, url)
    lock.acquire()  # DatabaseBusyError (exit 3) naming the server that already holds it
    app = control = None
    try:
        app = open_server_app(db, wait_seconds=wait_seconds, deadline_s=deadline_s, memory_limit=memory_limit)
        app.share()
        os.environ["BILLSIM_DB"] = str(db)  # the workbench's pages of this process open this database
        for run in bill_runs.history(app.session(Caller.local("billsim serve")), limit=20):
            if run["status"] == "running":
                print(
                    f"billsim: bill run {run['run_id']} (period of {run['period_date']}) was cut off by a stop; "
                    "start the same run again to resume it",
                    file=stderr,
                )
        control = ControlServer(app, lock.info.socket, run_cli)
        what = "the workbench at / and the API" if workbench else "the API"
        print(f"billsim: serving {db} on {url}: {what}, /docs, /mcp", file=stderr)
        stderr.flush()
        config = uvicorn.Config(
            server_asgi(app, workbench=workbench, log_level=log_level),
            host=host,
            port=port,
            log_level=log_level,
            timeout_graceful_shutdown=GRACE_S,
            lifespan="on",
        )
        # uvicorn handles SIGTERM/SIGINT and raises the signal again once it has stopped; these handlers take it
        # then, so the stop below always runs (the process would otherwise end before it, leaving lock and socket)
        stopped = []
        previous = {sig: signal.signal(sig, lambda signum, _frame: stopped.append(signum)) for sig in _SIGNALS}
        one_log(log_level)  # after uvicorn's set-up of its loggers (Config) and Streamlit's (at import)
        try:
            uvicorn.Server(config).run()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
    finally:
        if control is not None:
            control.close()
        if app is not None:
            app.stop(STOP_S)
        lock.release()
    return 0
