"""The bounds every front end holds, in ONE place: hostile input is normal input.

The application layer (engine/service) checks requests against these before the engine sees them, so the
workbench, the command line, the HTTP API and the MCP tools refuse the same input with the same code.

    dates                1900-01-01 .. 2199-12-31
    a what-if range      at most 10 years; its waterfall by change (one rating per change) of at most 8 changes
    lines of an invoice  at most 1,000 (items of a batch: 1,000)
    texts                ids and names 200 characters, descriptions / notes / reasons 2,000; no NUL or
                         other control character (tab and line breaks allowed), no bidirectional override,
                         no unpaired surrogate (it cannot be stored as UTF-8)
    amounts              integer minor units within BIGINT; decimals finite, within the money bound
    one request          DuckDB memory_limit of the server, and a deadline that interrupts its query
    the demo             at most 1,000,000 contracts and 100,000,000 usage rows
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

from .errors import ValidationError
from .money import BIGINT_MAX, MONEY_LIMIT

FIRST_DATE = dt.date(1900, 1, 1)
LAST_DATE = dt.date(2199, 12, 31)
MAX_RANGE_YEARS = 10  # a what-if bills every cycle starting in its range: at most this many years of them
MAX_WATERFALL_CHANGES = 8  # a simulation's waterfall by change re-rates once per change: asked with more, none
# a what-if baseline kept in memory for the next simulation of the same data (whatif/kept_baseline.py): at most this
# many rated rows (≈ 94 bytes a row with its targets and taxes: ≈ 0.5 GB; a year of 100k contracts is 1.44M rows)
KEPT_BASELINE_MAX_ROWS = 5_000_000
MAX_LINES = 1000  # lines of one invoice made by hand
MAX_ITEMS = 1000  # invoices of one batch
MAX_NAME = 200  # an id or a name
MAX_TOKEN_NAME = 100  # an API token's name (it is its actor's name over the API: api:<name>)
MAX_TEXT = 2000  # a description, a note, a reason
MAX_IDS = 100_000  # ids named in one request (a run's contracts or customers)
MAX_PAGE = 500  # rows of one page of a list
# the demo's size (`billsim init --demo`, `billsim demo`, the Data page): the largest the project measures
# (benchmarks: 1M contracts, 100M usage rows, ≈ 1.8 GB); beyond, a typo fills a disk
MAX_DEMO_CONTRACTS = 1_000_000
MAX_DEMO_USAGE_ROWS = 100_000_000
MINOR_MAX = BIGINT_MAX  # integer minor units, as stored
MAX_QUANTITY = 10**15  # quantity of a line made by hand

# One request of the server: DuckDB's memory for the whole process, and the time one request may take
# before its query is interrupted (a bill run started over HTTP works in the background, without one).
SERVER_MEMORY_LIMIT = "4GB"
REQUEST_DEADLINE_S = 60.0
PDF_SLOTS = 1  # documents printed to PDF at once in one process (service/printing.py: they share its interpreter)
PDF_WAIT_S = 10.0  # the longest a request waits for the printer before it is refused as busy
PDF_MAX_HTML_BYTES = 2**20  # a document printed to PDF: at most this much HTML (about 16 s of printing)
PDF_PRINT_S = 40.0  # the longest one document prints (a child process, then stopped): with PDF_WAIT_S, within
# REQUEST_DEADLINE_S
REQUEST_BODY_MAX = 8 * 1024 * 1024  # bytes of one HTTP request body


# Every bound refused here is `validation_error` with the words the request models use (engine/service/requests),
# so the same input reads the same whichever check met it first: "invalid request: <field>: <what is wrong>".


def invalid_request(field: str, what: str) -> ValidationError:
    """The refusal of one field of a request, as the request models word it (engine/service/requests.parse)."""
    return ValidationError(f"invalid request: {field}: {what}")


def check_date(value: dt.date, field: str = "date") -> dt.date:
    if not FIRST_DATE <= value <= LAST_DATE:
        raise invalid_request(field, f"{value} is outside {FIRST_DATE} .. {LAST_DATE}")
    return value


def check_range(first: dt.date, last: dt.date, what: str = "the range") -> None:
    """A what-if range: last on or after first, at most MAX_RANGE_YEARS long."""
    if last < first:
        raise invalid_request(what, f"to_date {last} is before from_date {first}")
    try:
        limit = first.replace(year=first.year + MAX_RANGE_YEARS)
    except ValueError:  # 29 February
        limit = first.replace(year=first.year + MAX_RANGE_YEARS, day=28)
    if last >= limit:
        raise invalid_request(
            what, f"{first} .. {last} is longer than {MAX_RANGE_YEARS} years; ask for a shorter range"
        )


# What a stored text may not hold: NUL; the other C0 controls but tab, line feed and carriage return; DEL and the
# C1 controls; the bidirectional overrides and isolates ("Trojan Source"). Invisible on a document, they make its
# text read otherwise than it is stored.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def text_problem(value: str) -> str | None:
    """Why `value` cannot be stored as a text a request gives (a name, a description, a note), or None."""
    found = _CONTROL.search(value)
    if found:
        char = found.group()
        return (
            "the text contains a NUL character"
            if char == "\x00"
            else f"the text contains a control character (U+{ord(char):04X})"
        )
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "the text contains an unpaired surrogate"
    return None


def check_minor(value: int, field: str = "amount") -> int:
    if not -MINOR_MAX <= value <= MINOR_MAX:
        raise invalid_request(field, f"{value} is beyond the largest storable amount")
    return value


def beyond_money_limit(amount: Decimal, shown: str | None = None) -> str | None:
    """What is wrong with an amount in major units at or beyond the money bound (money.MONEY_LIMIT), in the one
    wording every front end shows ("1E+30 is beyond the largest amount (100,000,000,000,000 major units)"; `shown`:
    the amount as the user typed it); None when it is within."""
    if abs(amount) < MONEY_LIMIT:
        return None
    return f"{amount if shown is None else shown} is beyond the largest amount ({MONEY_LIMIT:,} major units)"


def check_demo_size(contracts: int, usage_rows: int | None) -> None:
    """The demo's size within MAX_DEMO_CONTRACTS and MAX_DEMO_USAGE_ROWS (validation_error before anything runs)."""
    if not 0 <= contracts <= MAX_DEMO_CONTRACTS:
        raise invalid_request("contracts", f"must be from 0 to {MAX_DEMO_CONTRACTS:,}, got {contracts:,}")
    if usage_rows is not None and not 0 <= usage_rows <= MAX_DEMO_USAGE_ROWS:
        raise invalid_request("usage_rows", f"must be from 0 to {MAX_DEMO_USAGE_ROWS:,}, got {usage_rows:,}")
