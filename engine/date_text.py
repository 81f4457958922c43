"""Dates written as text: the ONE rule of every front end and of the engine's own filters (the requests' `Day`, the
CLI's date arguments, Zenskar's dates, the ledger export's period filters).

A date is YYYY-MM-DD in ASCII digits, nothing around. `date.fromisoformat` alone (Python 3.11) also reads an ISO week
date ('2026-W01-1' is 2025-12-29, same length) and the basic form ('20260101'): forms a person typing them meant
something else by, or that no one checking the invoice reads back as typed.
"""

from __future__ import annotations

import datetime as dt
import re

_ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# Seed 002's "ISO-8601 string" (2026-04-28T00:00:00Z): a YYYY-MM-DD day, T, hours and minutes, seconds and a fraction
# if given, then Z or an offset ±HH:MM if given (RFC 3339's profile of ISO-8601; t and z as RFC 3339 allows).
# datetime.fromisoformat alone also took '2026-W01-1T00:00', '20260428T000000', '2026-04-28X00:00', '2026-04-28T00'.
_ISO_DATE_TIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,9})?)?([Zz]|[+-][0-9]{2}:[0-9]{2})?"
)


def iso_day(text: str) -> dt.date | None:
    """`text` as a calendar date written YYYY-MM-DD (ASCII digits, nothing around), or None when it is not one or
    is no day (2026-02-30)."""
    if not isinstance(text, str) or not _ISO_DAY.fullmatch(text):
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return None


def iso_date_time_day(text: str) -> dt.date | None:
    """The UTC day of `text` written as an ISO-8601 date-time (`2026-04-28T00:00:00Z`, `2026-04-28T09:30+02:00`; no
    offset: the day as written), or None when it is not one in that form or names no moment (hour 25)."""
    if not isinstance(text, str) or not _ISO_DATE_TIME.fullmatch(text):
        return None
    try:
        stamp = dt.datetime.fromisoformat(text.upper().replace("Z", "+00:00"))
    except ValueError:
        return None
    return (stamp.astimezone(dt.UTC) if stamp.tzinfo else stamp).date()
