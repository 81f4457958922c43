"""engine/server/logs.py: uvicorn's loggers as uvicorn configures them, at the level asked, and the workbench's own
asset and health requests kept out of the access log unless they fail (the server test checks the whole)."""

from __future__ import annotations

import logging

import pytest

from engine.server.logs import UVICORN_LOGGERS, WorkbenchAssets, one_log


def access(path: str, status: int) -> logging.LogRecord:
    return logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("1.2.3.4:5", "GET", path, "1.1", status),
        None,
    )


@pytest.mark.parametrize(
    ("path", "status", "kept"),
    [
        ("/static/js/index.js", 200, False),
        ("/_stcore/health", 200, False),
        ("/_stcore/stream", 101, False),
        ("/favicon.png", 304, False),
        ("/_stcore/health", 503, True),  # a failing one is kept
        ("/static/missing.js", 404, True),
        ("/", 200, True),
        ("/health", 200, True),  # the API's
        ("/api/v1/invoices", 200, True),
    ],
)
def test_only_the_workbenchs_answered_assets_are_dropped(path, status, kept):
    assert WorkbenchAssets().filter(access(path, status)) is kept


def test_a_record_of_another_shape_is_kept():
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, "plain", None, None)
    assert WorkbenchAssets().filter(record) is True


@pytest.fixture
def restored():
    saved = {
        n: (logging.getLogger(n).level, list(logging.getLogger(n).handlers), logging.getLogger(n).propagate,
            list(logging.getLogger(n).filters), logging.getLogger(n).__dict__.get("streamlit_console_handler"))
        for n in UVICORN_LOGGERS
    }  # fmt: skip
    yield
    for n, (level, handlers, propagate, filters, marked) in saved.items():
        logger = logging.getLogger(n)
        logger.__dict__.pop("streamlit_console_handler", None)
        if marked is not None:
            logger.streamlit_console_handler = marked
        logger.setLevel(level)
        logger.handlers[:] = handlers
        logger.propagate = propagate
        logger.filters[:] = filters


def test_streamlits_handler_goes_the_level_is_the_one_asked_and_errors_reach_uvicorns_handler(restored):
    own, streamlits = logging.StreamHandler(), logging.StreamHandler()
    for name in UVICORN_LOGGERS:
        logger = logging.getLogger(name)
        logger.handlers[:] = [own, streamlits] if name in ("uvicorn", "uvicorn.access") else [streamlits]
        logger.streamlit_console_handler = streamlits  # as streamlit.logger.setup_formatter marks it
        logger.propagate = False
        logger.setLevel(logging.INFO)
    one_log("warning")
    one_log("warning")  # idempotent
    for name in UVICORN_LOGGERS:
        logger = logging.getLogger(name)
        assert streamlits not in logger.handlers and logger.level == logging.WARNING
    assert logging.getLogger("uvicorn").handlers == [own] and logging.getLogger("uvicorn.access").handlers == [own]
    assert logging.getLogger("uvicorn.error").propagate and logging.getLogger("uvicorn.asgi").propagate
    assert sum(isinstance(f, WorkbenchAssets) for f in logging.getLogger("uvicorn.access").filters) == 1


def test_an_unknown_level_is_refused(restored):
    with pytest.raises(ValueError, match="unknown log level"):
        one_log("loud")
