"""Zenskar's billing-cycle pair as the API, the MCP tools and the CLI take it: getContractBillingCycles and
generate_invoice from raw fields (seed 002/003).

Dates arrive as `YYYY-MM-DD`, ISO-8601 date-times (`2026-04-28T00:00:00Z`) or integer UNIX seconds; a
date-time names its UTC day. No other ISO-8601 form: a week date (`2026-W01-1`) or the basic form (`20260101`) is
refused, not read as a day. A missing `bill_for_date` is not "no cycle" or a $0 invoice: it is
CycleMismatchError naming the contract's valid cycles, like dates that match no cycle.
"""

from __future__ import annotations

import datetime as dt

import duckdb

from ..billing.invoices import generate_invoice_tx
from ..date_text import iso_date_time_day, iso_day
from ..errors import CycleMismatchError, ValidationError
from ..limits import LAST_DATE, check_date, invalid_request
from ..models import BillingCycle, DraftResult, GenerateInvoiceRequest
from ..rating.cycles import billing_cycles, contract_window
from .requests import whole_number

DEFAULT_CYCLES_LIMIT = 12
MAX_CYCLES_LIMIT = 500
_UNIX_MAX = 253402300799  # 9999-12-31T23:59:59Z


def _not_a_date(field: str, value: object) -> ValidationError:
    """A date in none of the forms taken: refused as every request's field is (limits.invalid_request), whichever
    front end and whichever tool or endpoint read it (MCP's dates, Zenskar's, `billsim generate`'s)."""
    shown = value[:40] if isinstance(value, str) else value
    return invalid_request(field, f"not a date: {shown!r} (use YYYY-MM-DD, an ISO-8601 date-time or UNIX seconds)")


def _spelt_day(seconds: int) -> dt.date | None:
    """The day that 8 digits spell as YYYYMMDD (20260101: 2026-01-01), or None. Read as UNIX seconds they are a
    moment of August or September 1970: a date typed without its dashes is far likelier, so they are refused
    (naming both readings), never read as either."""
    text = str(seconds)
    return iso_day(f"{text[:4]}-{text[4:6]}-{text[6:]}") if len(text) == 8 else None


def cycle_date(value: str | int | dt.date | None, field: str) -> dt.date | None:
    """A date from `YYYY-MM-DD`, an ISO-8601 date-time (its UTC day) or UNIX seconds; None stays None."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, dt.datetime):
        return (value.astimezone(dt.UTC) if value.tzinfo else value).date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, bool):
        raise _not_a_date(field, value)
    # UNIX seconds as text are ASCII digits (requests.whole_number): int() alone would read '١٧٠٠٠٠٠٠٠٠' as seconds
    seconds = value if isinstance(value, int) else whole_number(value) if isinstance(value, str) else None
    if seconds is not None:
        if not 0 <= seconds <= _UNIX_MAX:
            raise invalid_request(field, f"UNIX seconds out of range: {value!r}")
        day = dt.datetime.fromtimestamp(seconds, dt.UTC).date()
        if written := _spelt_day(seconds):
            raise invalid_request(
                field, f"not a date: {value!r} (write {written} as YYYY-MM-DD; as UNIX seconds it would be {day})"
            )
        return day
    if not isinstance(value, str):
        raise _not_a_date(field, value)
    # in these forms only, ASCII digits (date_text.iso_day, iso_date_time_day): never an ISO week date ('2026-W01-1')
    # or the basic form ('20260101'), which fromisoformat alone also read
    text = value.strip()
    day = iso_day(text) or iso_date_time_day(text)
    if day is None:
        raise _not_a_date(field, value)
    return day


def cycle_row(c: BillingCycle) -> dict:
    """A cycle as getContractBillingCycles returns it: name, start_date, end_date, bill_for_date,
    billing_cycle_start_day (dates as YYYY-MM-DD, to be copied verbatim into generateInvoice)."""
    return {
        "name": f"{c.start_date.isoformat()} – {c.end_date.isoformat()}",
        "start_date": c.start_date.isoformat(),
        "end_date": c.end_date.isoformat(),
        "bill_for_date": c.bill_for_date.isoformat(),
        "billing_cycle_start_day": c.billing_cycle_start_day,
        "period_days": c.period_days,
    }


def contract_cycles(
    con: duckdb.DuckDBPyConnection,
    contract_id: str,
    *,
    limit: int | None = None,
    from_date: dt.date | None = None,
    to_date: dt.date | None = None,
    today: dt.date | None = None,
) -> list[dict]:
    """The contract's cycles overlapping [from_date, to_date], oldest first, at most `limit` (the latest ones).

    Defaults: from the contract's start to its end, or for an open-ended contract to the cycle after today's,
    so an assistant sees the cycles that can be invoiced now and the ones just before."""
    limit = DEFAULT_CYCLES_LIMIT if limit is None else limit
    if not 1 <= limit <= MAX_CYCLES_LIMIT:
        raise invalid_request("limit", f"must be between 1 and {MAX_CYCLES_LIMIT} (got {limit})")
    for field, value in (("from_date", from_date), ("to_date", to_date)):
        if value is not None:
            check_date(value, field)
    start, end = contract_window(con, contract_id)  # unknown contract -> NotFoundError
    today = today or dt.datetime.now(dt.UTC).date()
    lo = from_date or start
    hi = to_date or end or min(max(today, start) + dt.timedelta(days=400), LAST_DATE)
    cycles = billing_cycles(con, contract_id, lo, hi)
    if to_date is None and end is None:
        # the current cycle and the next one, not a year of future cycles
        upcoming = [c for c in cycles if c.start_date > max(today, start)]
        cycles = [c for c in cycles if c.start_date <= max(today, start)] + upcoming[:1]
    return [cycle_row(c) for c in cycles[-limit:]]


def _valid_cycles_text(con: duckdb.DuckDBPyConnection, contract_id: str, near: dt.date | None) -> str:
    """The cycles around `near` (or the latest ones) as from_date/to_date/bill_for_date triples."""
    start, end = contract_window(con, contract_id)
    if near is None:
        rows = contract_cycles(con, contract_id, limit=3)
    else:
        near = min(max(near, start), end or near, LAST_DATE)
        window = billing_cycles(
            con,
            contract_id,
            near - dt.timedelta(days=400),
            min(near + dt.timedelta(days=400), LAST_DATE),
        )
        best = sorted(window, key=lambda c: abs((c.start_date - near).days))[:3]
        rows = [cycle_row(c) for c in sorted(best, key=lambda c: c.start_date)]
    if not rows:
        return "the contract has no billing cycle"
    return "; ".join(
        f"from_date={r['start_date']} to_date={r['end_date']} bill_for_date={r['bill_for_date']} "
        f"billing_cycle_start_day={r['billing_cycle_start_day']}"
        for r in rows
    )


def generate_from_fields(
    con: duckdb.DuckDBPyConnection,
    *,
    contract_id: str,
    customer_id: str,
    from_date: str | int | dt.date | None,
    to_date: str | int | dt.date | None,
    bill_for_date: str | int | dt.date | None,
    billing_cycle_start_day: int | None = None,
    check_duplicate_invoice: bool | None = None,
    actor: str | None = None,
) -> DraftResult:
    """Zenskar generate_invoice from raw request fields (section 4), in the caller's transaction: the dates must
    be exactly one listed cycle; a missing date names the valid cycles (CycleMismatchError), never an empty or $0
    result."""
    contract_window(con, contract_id)  # an unknown contract is NotFoundError before any date is read
    dates = {
        "from_date": cycle_date(from_date, "from_date"),
        "to_date": cycle_date(to_date, "to_date"),
        "bill_for_date": cycle_date(bill_for_date, "bill_for_date"),
    }
    missing = [k for k, v in dates.items() if v is None]
    if missing:
        raise CycleMismatchError(
            f"{' and '.join(missing)} missing: generating an invoice needs the exact dates of one billing cycle of "
            f"contract {contract_id} (getContractBillingCycles or `billsim cycles` lists them); valid cycles: "
            f"{_valid_cycles_text(con, contract_id, dates['from_date'] or dates['to_date'])}"
        )
    if isinstance(billing_cycle_start_day, bool) or (
        billing_cycle_start_day is not None and not 1 <= billing_cycle_start_day <= 31
    ):
        raise invalid_request(
            "billing_cycle_start_day", f"must be a day of the month, 1-31 (got {billing_cycle_start_day})"
        )
    for field, value in dates.items():
        check_date(value, field)
    if dates["to_date"] < dates["from_date"]:
        raise CycleMismatchError(
            f"to_date {dates['to_date']} is before from_date {dates['from_date']}; valid cycles of contract "
            f"{contract_id}: {_valid_cycles_text(con, contract_id, dates['from_date'])}"
        )
    req = GenerateInvoiceRequest(
        contract_id=contract_id,
        customer_id=customer_id,
        billing_cycle_start_day=billing_cycle_start_day,
        **dates,
        **({} if check_duplicate_invoice is None else {"check_duplicate_invoice": check_duplicate_invoice}),
    )
    return generate_invoice_tx(con, req, actor=actor)
