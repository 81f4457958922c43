"""The server's log: each request written once, at the level asked for (`billsim serve --log-level`).

Importing Streamlit gives uvicorn's loggers a console handler of Streamlit's own, at Streamlit's level (INFO), on
top of the handlers uvicorn configures for them: every request was written twice (stdout and stderr), whatever the
level asked, and a workbench session logs each of its asset and health requests. `one_log` puts uvicorn's loggers
back as uvicorn configures them, at the level asked, and keeps the workbench's own asset and health requests out
of the access log unless they fail (status 400 or more). The server calls it once both have set up.
"""

from __future__ import annotations

import logging

UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi")
# the workbench's static files and its health and host-config requests (Streamlit's), not the API's
QUIET_PREFIXES = ("/static/", "/_stcore/", "/favicon", "/media/")


class WorkbenchAssets(logging.Filter):
    """Drops uvicorn access records of a workbench asset or health request answered below 400."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args  # uvicorn.access: (client address, method, full path, HTTP version, status code)
        if isinstance(args, tuple) and len(args) == 5:
            path, status = args[2], args[4]
            if isinstance(path, str) and path.startswith(QUIET_PREFIXES) and isinstance(status, int) and status < 400:
                return False
        return True


def one_log(level: str) -> None:
    """uvicorn's loggers with their own handlers only, at `level` (a logging level name); idempotent."""
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        raise ValueError(f"unknown log level {level!r}")
    for name in UVICORN_LOGGERS:
        logger = logging.getLogger(name)
        extra = getattr(logger, "streamlit_console_handler", None)
        if extra is not None:
            logger.removeHandler(extra)
        logger.setLevel(numeric)
    # as uvicorn configures them: error and asgi records go to the handler of "uvicorn"; access has its own
    for name in ("uvicorn.error", "uvicorn.asgi"):
        logging.getLogger(name).propagate = True
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, WorkbenchAssets) for f in access.filters):
        access.addFilter(WorkbenchAssets())
