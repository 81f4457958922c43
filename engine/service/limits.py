"""The bounds of one request, re-exported for the front ends (engine/limits.py holds them all)."""

from ..limits import (
    FIRST_DATE,
    LAST_DATE,
    MAX_IDS,
    MAX_ITEMS,
    MAX_LINES,
    MAX_NAME,
    MAX_PAGE,
    MAX_RANGE_YEARS,
    MAX_TEXT,
    MAX_TOKEN_NAME,
    MAX_WATERFALL_CHANGES,
    PDF_MAX_HTML_BYTES,
    REQUEST_BODY_MAX,
    REQUEST_DEADLINE_S,
    SERVER_MEMORY_LIMIT,
    beyond_money_limit,
)

__all__ = [
    "FIRST_DATE",
    "LAST_DATE",
    "MAX_IDS",
    "MAX_ITEMS",
    "MAX_LINES",
    "MAX_NAME",
    "MAX_PAGE",
    "MAX_RANGE_YEARS",
    "MAX_TEXT",
    "MAX_TOKEN_NAME",
    "MAX_WATERFALL_CHANGES",
    "PDF_MAX_HTML_BYTES",
    "REQUEST_BODY_MAX",
    "REQUEST_DEADLINE_S",
    "SERVER_MEMORY_LIMIT",
    "beyond_money_limit",
]
