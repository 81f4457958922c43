"""A bill run drafts no invoice dated after the last date the application takes (limits.LAST_DATE, 2199-12-31).

Every date a user gives lies within 1900-01-01 .. 2199-12-31, and so does every date of an invoice a run drafts:
its period (start and end), its bill-for date and its due date. A run of a period date D drafts the cycle containing
D (ending at most a year after), billed for by the day after its end and due up to 3,650 days later (the longest
payment terms); with catch-up also the missed cycles before D; and the recurring templates' periods starting by D.
So a run of D up to LAST_SAFE_RUN_DATE stays within the bound whatever it drafts (no query); a later one is checked
on the cycles it would draft and refused whole, before anything is written (no run row, no invoice), naming the
contracts (or templates) whose invoice would leave the bound. The draft of one contract's cycle (`billsim draft`,
generate-period-invoices, Zenskar generate_invoice) is refused the same way (check_cycle_dates); a preview, which
stores nothing, still shows the cycle's dates.
"""

from __future__ import annotations

import datetime as dt

import duckdb

from ..errors import ValidationError
from ..limits import LAST_DATE
from ..models import BillingCycle
from ..rating.targets import cycles_of_date_sql, missed_cycles_sql
from ..scope import Scope
from .manual_invoices import recurring_periods_to_draft

LONGEST_TERMS_DAYS = 3650  # payment_terms_days: the import rule's bound and a recurring template's
# a cycle containing D ends by D + 365 and is billed for by the day after; then its payment terms
LAST_SAFE_RUN_DATE = LAST_DATE - dt.timedelta(days=366 + LONGEST_TERMS_DAYS)
SHOWN = 5  # contracts named in the refusal
CODE = "draft_dates_out_of_range"


def _cycles_beyond(con: duckdb.DuckDBPyConnection, period_date: dt.date, scope: Scope, catch_up: bool) -> list[tuple]:
    """(contract_id, period_start, period_end, due_date) of the cycles the run would draft with a date beyond
    LAST_DATE (those of the date, and with catch-up the missed ones), not yet invoiced; the first SHOWN and a count."""
    cycles, params = cycles_of_date_sql(period_date, scope)
    columns = "contract_id, period_start, period_end, bill_for_date, due_date"
    parts = [f"SELECT {columns} FROM ({cycles})"]  # noqa: S608 (cycle SQL built by the engine; values bound)
    if catch_up:
        missed, missed_params = missed_cycles_sql(period_date, scope)
        parts.append(f"SELECT {columns} FROM ({missed})")  # noqa: S608 (cycle SQL built by the engine; values bound)
        params = [*params, *missed_params]
    return con.execute(
        f"""SELECT contract_id, period_start, period_end, due_date, count(*) OVER () AS n
            FROM ({" UNION ALL ".join(parts)}) t
            ANTI JOIN main.invoice_cycle_claims cl
                   ON cl.contract_id = t.contract_id AND cl.period_start = t.period_start
            WHERE t.period_start <= t.period_end AND greatest(t.period_end, t.bill_for_date, t.due_date) > ?
            ORDER BY contract_id, period_start LIMIT ?""",  # noqa: S608 (cycle SQL built by the engine; values bound)
        [*params, LAST_DATE, SHOWN],
    ).fetchall()


def check_run_dates(
    con: duckdb.DuckDBPyConnection, period_date: dt.date, scope: Scope, *, catch_up: bool = False
) -> None:
    """ValidationError (code draft_dates_out_of_range) when an invoice the run of `period_date` would draft carries a
    date after LAST_DATE (see module doc); nothing is read for a date up to LAST_SAFE_RUN_DATE."""
    if period_date <= LAST_SAFE_RUN_DATE:
        return
    cycles = _cycles_beyond(con, period_date, scope, catch_up)
    templates = [p for p in recurring_periods_to_draft(con, period_date, scope) if max(p[2], p[3]) > LAST_DATE]
    if not cycles and not templates:
        return
    named = [f"contract {cid} (cycle {start} .. {end}, due {due})" for cid, start, end, due, _ in cycles] + [
        f"recurring template {tid} (period {start} .. {end}, due {due})" for tid, start, end, due in templates
    ]
    count = (cycles[0][4] if cycles else 0) + len(templates)
    more = f" and {count - SHOWN:,} more" if count > SHOWN else ""
    raise ValidationError(
        f"a bill run of {period_date} would draft {count:,} invoice(s) dated after {LAST_DATE}, the last date "
        f"accepted: {', '.join(named[:SHOWN])}{more}; nothing was run. Run an earlier period date (every run up to "
        f"{LAST_SAFE_RUN_DATE} stays within it, whatever the contracts' payment terms)",
        code=CODE,
    )


def check_cycle_dates(cycle: BillingCycle) -> None:
    """ValidationError (code draft_dates_out_of_range) when the draft of this one cycle would carry a date after
    LAST_DATE: its end, bill-for date or due date."""
    if max(cycle.end_date, cycle.bill_for_date, cycle.due_date) > LAST_DATE:
        raise ValidationError(
            f"the invoice of contract {cycle.contract_id} for the cycle {cycle.start_date} .. {cycle.end_date} would "
            f"be due {cycle.due_date}, after {LAST_DATE}, the last date accepted; nothing was drafted",
            code=CODE,
        )
