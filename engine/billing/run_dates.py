"""A bill run drafts no invoice dated after the last date the application takes (limits.LAST_DATE, 2199-12-31).

Every date a user gives lies within 1900-01-01 .. 2199-12-31, and so does every date of an invoice a run drafts:
its period (start and end), its bill-for date and its due date. A run of a period date D drafts the cycle containing
D (ending at most a year after), billed for by the day after its end and due up to 3,650 days later (the longest
payment terms); with catch-up also the missed cycles before D; and the recurring templates' periods starting by D.
So a run of D up to LAST_SAFE_RUN_DATE stays within the bound whatever it drafts (no query); a later one is checked
inside the run's own transaction, on the drafts it made there (check_run_drafts: of the contracts in scope as that
transaction sees them, only those with something to bill, recurring periods too), and refused whole: the
transaction is rolled back (no invoice) and the run's row removed (bill_run: no run left 'running'), naming the
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

LONGEST_TERMS_DAYS = 3650  # payment_terms_days: the import rule's bound and a recurring template's
# a cycle containing D ends by D + 365 and is billed for by the day after; then its payment terms
LAST_SAFE_RUN_DATE = LAST_DATE - dt.timedelta(days=366 + LONGEST_TERMS_DAYS)
SHOWN = 5  # contracts named in the refusal
CODE = "draft_dates_out_of_range"


def check_run_drafts(con: duckdb.DuckDBPyConnection, run_id: str, period_date: dt.date) -> None:
    """ValidationError (code draft_dates_out_of_range) when a draft the run `run_id` made in the caller's transaction
    (not committed yet: the caller rolls it back) carries a date after LAST_DATE; nothing is read for a run of a date
    up to LAST_SAFE_RUN_DATE."""
    if period_date <= LAST_SAFE_RUN_DATE:
        return
    beyond = con.execute(
        """SELECT contract_id, recurring_template_id, period_start, period_end, due_date, count(*) OVER () AS n
           FROM invoices
           WHERE run_id = ? AND greatest(period_end, bill_for_date, due_date) > ?
           ORDER BY recurring_template_id NULLS FIRST, contract_id, recurring_template_id, period_start
           LIMIT ?""",
        [run_id, LAST_DATE, SHOWN],
    ).fetchall()
    if not beyond:
        return
    named = [
        f"contract {contract} (cycle {start} .. {end}, due {due})"
        if template is None
        else f"recurring template {template} (period {start} .. {end}, due {due})"
        for contract, template, start, end, due, _ in beyond
    ]
    count = beyond[0][5]
    more = f" and {count - SHOWN:,} more" if count > SHOWN else ""
    raise ValidationError(
        f"a bill run of {period_date} would draft {count:,} invoice(s) dated after {LAST_DATE}, the last date "
        f"accepted: {', '.join(named)}{more}; nothing was run. Run an earlier period date (every run up to "
        f"{LAST_SAFE_RUN_DATE} stays within it, whatever the contracts' payment terms)",
        code=CODE,
    )


def refused_for_dates(exc: BaseException) -> bool:
    """Whether `exc` is check_run_drafts' refusal."""
    return isinstance(exc, ValidationError) and exc.code == CODE


def check_cycle_dates(cycle: BillingCycle) -> None:
    """ValidationError (code draft_dates_out_of_range) when the draft of this one cycle would carry a date after
    LAST_DATE: its end, bill-for date or due date."""
    if max(cycle.end_date, cycle.bill_for_date, cycle.due_date) > LAST_DATE:
        raise ValidationError(
            f"the invoice of contract {cycle.contract_id} for the cycle {cycle.start_date} .. {cycle.end_date} would "
            f"be due {cycle.due_date}, after {LAST_DATE}, the last date accepted; nothing was drafted",
            code=CODE,
        )
