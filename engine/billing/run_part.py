"""One business's part of a bill run over every business (the tenancy rule: a business sees its own part only).

The report of such a run counts every business; its part for business B is recomputed from what the run
stored: B's contracts' outcomes (bill_run_items), B's recurring drafts, B's invoices' totals, the delayed charges
of B's customers, and B's unbilled cycles.
"""

from __future__ import annotations

from dataclasses import replace

import duckdb

from ..models import BillRunReport
from ..review.unbilled import UNBILLED_LISTED, unbilled_cycles
from ..scope import Scope
from .bill_run import run_totals
from .ownership import contract_owners, customer_businesses


def _outcomes(con: duckdb.DuckDBPyConnection, run_id: str, business_id: str) -> dict[str, int]:
    rows = con.execute(
        """SELECT b.outcome, count(*) FROM bill_run_items b
           JOIN contracts k USING (contract_id) JOIN customers c USING (customer_id)
           WHERE b.run_id = ? AND c.business_id = ? GROUP BY b.outcome""",
        [run_id, business_id],
    ).fetchall()
    return dict(rows)


def business_part(con: duckdb.DuckDBPyConnection, report: BillRunReport, business_id: str) -> BillRunReport:
    """`report` (of a run over every business) as business `business_id` sees it."""
    run_id = report.run_id
    outcomes = _outcomes(con, run_id, business_id)
    owners = contract_owners(con, [f.contract_id for f in report.failed])
    failed = [f for f in report.failed if owners.get(f.contract_id, (None, None))[1] == business_id]
    finalized, swept, recurring = con.execute(
        """SELECT (SELECT count(*) FROM invoices i WHERE i.run_id = ? AND i.business_id = ?
                     AND EXISTS (SELECT 1 FROM invoice_events e WHERE e.invoice_id = i.invoice_id
                                 AND e.action = 'approved_and_finalized')),
                  (SELECT count(*) FROM delayed_charge_sweeps s JOIN invoices i USING (invoice_id)
                   WHERE s.run_id = ? AND i.business_id = ?),
                  (SELECT count(*) FROM invoices i WHERE i.run_id = ? AND i.business_id = ?
                     AND i.recurring_template_id IS NOT NULL)""",
        [run_id, business_id, run_id, business_id, run_id, business_id],
    ).fetchone()
    charge_owners = customer_businesses(con, [p.customer_id for p in report.delayed_charges_pending])
    pending = [p for p in report.delayed_charges_pending if charge_owners.get(p.customer_id) == business_id]
    scope = replace(Scope.from_dict(report.scope), business_id=business_id)
    unbilled, unbilled_count = unbilled_cycles(con, report.period_date, scope, limit=UNBILLED_LISTED)
    return report.model_copy(
        update={
            "contracts_in_scope": sum(outcomes.values()),
            "drafted": outcomes.get("drafted", 0),
            "recurring_drafted": int(recurring),
            "existing": outcomes.get("existing", 0),
            "nothing_to_bill": outcomes.get("nothing_to_bill", 0),
            "failed": failed,
            "finalized": int(finalized) if report.finalize else 0,
            "delayed_charges_swept": int(swept),
            "delayed_charges_pending": pending,
            "totals": run_totals(con, run_id, business_id),
            "unbilled_cycles": unbilled,
            "unbilled_cycles_count": unbilled_count,
        }
    )
