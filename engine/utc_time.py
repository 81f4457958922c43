"""Times as text: the one form of every export and JSON output (docs/RULES.md, "Timestamps").

The store keeps naive UTC TIMESTAMPs with microseconds. Written out (CSV exports, audit.csv, the CLI's JSON, the HTTP
API, the MCP tools), a time is ISO 8601 in UTC with its microseconds and `Z`: `2026-12-07T04:07:58.034409Z`. Fixed
width, so text order is time order, and the exact stored instant (nothing rounded or dropped). The HTTP API's
`date-time` fields (RFC 3339) are this form too.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import AfterValidator, PlainSerializer, WithJsonSchema

UTC_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"  # strftime form (DuckDB's and Python's): 2026-12-07T04:07:58.034409Z


def as_utc(value: dt.datetime) -> dt.datetime:
    """A stored (naive UTC) or aware time as an aware UTC time."""
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def utc_text(value: dt.datetime) -> str:
    """`value` (naive: UTC, as stored) in the one written form, e.g. 2026-12-07T04:07:58.034409Z."""
    return as_utc(value).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def utc_text_sql(expr: str) -> str:
    """SQL of the same text from a TIMESTAMP expression (an engine-built column expression)."""
    return f"strftime({expr}, '{UTC_FORMAT}')"


# A time field of a model: aware UTC in Python, `utc_text` in JSON (documented as an RFC 3339 date-time).
UtcDatetime = Annotated[
    dt.datetime,
    AfterValidator(as_utc),
    PlainSerializer(utc_text, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]
