"""Sweeping delayed charges onto the invoices a bill run drafted (spec section 4).

Each pending charge goes, once, onto ONE invoice: of the customer's invoices drafted by that run
in the charge's currency whose period_end is on or after its charge_date, the one with the
smallest contract_id. A charge with no such invoice stays pending, reported with the reason.
A charge is pending while it has no row in delayed_charge_sweeps.
"""

from __future__ import annotations

import duckdb

from ..models import PendingCharge
from ..money import sql_round_minor
from ..rating.pipeline import ensure_currency_table
from .invoice_store import plain, refresh_totals

PENDING_SQL = """SELECT dc.* FROM delayed_charges dc
                 WHERE NOT EXISTS (SELECT 1 FROM delayed_charge_sweeps s WHERE s.charge_id = dc.charge_id)"""

# amount (DECIMAL(38,12), major units) -> minor units of its currency, rounded half away from zero
_AMOUNT_MINOR = sql_round_minor("(p.amount * 1000000000000)::HUGEINT", "1", "cu.per_minor_12", "1")


def sweep_delayed_charges(con: duckdb.DuckDBPyConnection, run_id: str) -> tuple[int, list[PendingCharge]]:
    """Attach pending charges to the run's drafts (caller holds the transaction).

    Returns (number swept, charges of the run's customers left pending with their reason)."""
    ensure_currency_table(con)
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _sweep AS
            WITH pending AS ({PENDING_SQL}),
            candidates AS (
                SELECT p.charge_id, p.description, p.charge_date, i.invoice_id, {_AMOUNT_MINOR} AS amount_minor,
                       row_number() OVER (PARTITION BY p.charge_id ORDER BY i.contract_id, i.period_start) AS rank
                FROM pending p
                JOIN invoices i ON i.customer_id = p.customer_id AND i.currency = p.currency
                               AND i.period_end >= p.charge_date AND i.run_id = ? AND i.status = 'draft'
                JOIN _currency_units cu ON cu.code = p.currency)
            SELECT * EXCLUDE (rank) FROM candidates WHERE rank = 1""",
        [run_id],
    )
    con.execute(
        """INSERT INTO invoice_lines (invoice_id, line_no, line_id, kind, product, description, quantity,
               unit_price, active_days, period_days, amount_minor, period_start, period_end, charge_id, breakdown)
           SELECT s.invoice_id,
                  m.last_no + row_number() OVER (PARTITION BY s.invoice_id ORDER BY s.charge_date, s.charge_id),
                  NULL, 'delayed_charge', NULL, s.description, 1, NULL, NULL, NULL, s.amount_minor,
                  s.charge_date, s.charge_date, s.charge_id, NULL
           FROM _sweep s
           JOIN (SELECT invoice_id, max(line_no) AS last_no FROM invoice_lines
                 WHERE invoice_id IN (SELECT invoice_id FROM _sweep) GROUP BY ALL) m USING (invoice_id)"""
    )
    con.execute(
        """INSERT INTO delayed_charge_sweeps (charge_id, invoice_id, run_id, swept_at)
                   SELECT charge_id, invoice_id, ?, current_timestamp FROM _sweep""",
        [run_id],
    )
    swept = con.execute("SELECT count(*) FROM _sweep").fetchone()[0]
    if swept:
        refresh_totals(con, run_id=run_id)
    return swept, _pending_with_reasons(con, run_id)


def _pending_with_reasons(con: duckdb.DuckDBPyConnection, run_id: str) -> list[PendingCharge]:
    rows = con.execute(
        f"""WITH pending AS ({PENDING_SQL}),
            run_invoices AS (SELECT customer_id, currency, max(period_end) AS last_end
                             FROM invoices WHERE run_id = ? AND status = 'draft' GROUP BY ALL),
            any_currency AS (SELECT DISTINCT customer_id FROM invoices WHERE run_id = ?)
            SELECT p.charge_id, p.customer_id, p.currency, p.amount, p.charge_date,
                   CASE WHEN a.customer_id IS NULL
                          THEN 'no invoice drafted by this run for customer ' || p.customer_id
                        WHEN r.customer_id IS NULL
                          THEN 'no ' || p.currency || ' invoice drafted by this run for customer ' || p.customer_id
                        ELSE 'charge dated ' || p.charge_date || ' is after the period end of every '
                             || p.currency || ' invoice of this run (latest ' || r.last_end || ')' END
            FROM pending p
            LEFT JOIN any_currency a USING (customer_id)
            LEFT JOIN run_invoices r USING (customer_id, currency)
            WHERE p.customer_id IN (SELECT customer_id FROM _run_scope)
            ORDER BY p.charge_id""",
        [run_id, run_id],
    ).fetchall()
    return [
        PendingCharge(
            charge_id=r[0], customer_id=r[1], currency=r[2], amount=plain(r[3]), charge_date=r[4], reason=r[5]
        )
        for r in rows
    ]
