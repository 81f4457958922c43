"""Delayed charges onto draft invoices (spec section 4): ONE rounding and ONE way of attaching them,
used by the bill run's sweep and by batch create.

Which draft a pending charge goes onto: of the candidate drafts of its customer in its currency,

    bill run       the drafts of that run whose period_end is on or after the charge_date
    batch create   the customer's first new invoice of the batch (no date condition: it takes them all)

the one with the smallest contract_id (then period_start, invoice_id); a run's draft of a recurring template
(no contract) comes after the customer's contract drafts. Its line amount is

    amount_minor = round_half_away(amount × 10^exp)      (charge_minor_sql, the only place)

The line is quantity 1 × unit price = the charge's amount as it was given (exact: 0.125 USD), so it reads as
every priced line does; its amount is that rounded once (0.13).

A charge is pending while it has no row in delayed_charge_sweeps. A charge that cannot be computed stays
pending with its reason, and the rest goes on: an amount at or beyond money.MONEY_LIMIT, or one that would
carry its invoice's subtotal or total past the largest storable amount (a draft takes its charges in
charge_date order, so the earliest ones are those that fit).
"""

from __future__ import annotations

from decimal import Decimal

import duckdb

from ..currencies import currency_units_table
from ..models import PendingCharge
from ..money import (
    BIGINT_MAX,
    MONEY_LIMIT,
    MONEY_MAX_DIGITS,
    PRICE_UNIT,
    exact_minor,
    sql_price_scaled,
    sql_round_minor,
    to_major,
)
from .invoice_store import plain, refresh_totals, tax_sql

PENDING_SQL = """SELECT dc.* FROM delayed_charges dc
                 WHERE NOT EXISTS (SELECT 1 FROM delayed_charge_sweeps s WHERE s.charge_id = dc.charge_id)"""


def charge_minor_sql(amount: str, per_minor_12: str) -> str:
    """SQL: a charge `amount` (DECIMAL(38,12), major units) in minor units, rounded half away from zero;
    NULL when |amount| ≥ MONEY_LIMIT, where its exact integer (amount × 10^12) would not fit."""
    exact = f"(({amount}) * {PRICE_UNIT})::HUGEINT"
    return f"(CASE WHEN abs({amount}) < {MONEY_LIMIT} THEN {sql_round_minor(exact, '1', per_minor_12, '1')} END)"


def _guard_rate_sql(invoice: str, customer: str) -> str:
    """SQL: the tax rate the fits check assumes for a draft: its single tax_rate, or the sum of the rates of its
    customer's tax codes (the taxes a swept charge carries). A guard against amounts beyond BIGINT, not a tax:
    the draft's taxes are computed per code once the charges are on it (invoice_store.refresh_totals)."""
    codes = f"string_split({customer}.tax_codes, ';')"
    return f"""(CASE WHEN {customer}.tax_codes IS NULL THEN {invoice}.tax_rate
                     ELSE coalesce((SELECT sum(t.rate) FROM taxes t WHERE list_contains({codes}, t.tax_code)), 0)
                END)"""  # noqa: S608 (SQL built by the engine from its own names)


def _fits_sql(subtotal: str, tax_n: str) -> str:
    """SQL: whether a draft with this HUGEINT subtotal still has a storable subtotal and total (tax included)."""
    total = f"({subtotal} + {tax_sql(tax_n, subtotal)})"
    # CASE, not AND: the tax is computed only for a subtotal that fits (its rounding ends in a BIGINT cast)
    return f"(CASE WHEN {subtotal} <= {BIGINT_MAX} THEN {total} <= {BIGINT_MAX} ELSE false END)"


def attach_pending_charges(
    con: duckdb.DuckDBPyConnection,
    *,
    run_id: str | None = None,
    invoice_ids: list[str] | None = None,
    until_period_end: bool,
) -> tuple[int, dict[str, str]]:
    """Attach pending charges onto drafts (the caller holds the transaction) and refresh their totals.

    The candidate drafts are those of the run `run_id`, else the drafts `invoice_ids`; with
    `until_period_end` a draft takes only charges dated on or before its period_end. Returns
    (number attached, {charge_id: reason} for the charges that had a draft but could not be computed)."""
    if run_id is None and invoice_ids is None:
        raise ValueError("attach_pending_charges needs run_id or invoice_ids")
    units = currency_units_table(con)
    which, param = ("i.run_id = ?", run_id) if invoice_ids is None else ("list_contains(?, i.invoice_id)", invoice_ids)
    dated = "AND i.period_end >= p.charge_date" if until_period_end else ""
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _charge_picks AS
            WITH drafts AS (SELECT * FROM invoices i WHERE i.status = 'draft' AND {which}),
            ranked AS (
                SELECT p.charge_id, p.description, p.charge_date, p.amount, p.currency, i.invoice_id,
                       cust.tax_codes, {sql_price_scaled(_guard_rate_sql("i", "cust"))} AS tax_n,
                       {charge_minor_sql("p.amount", "cu.per_minor_12")} AS amount_minor,
                       row_number() OVER (PARTITION BY p.charge_id
                                          ORDER BY i.contract_id NULLS LAST, i.period_start, i.invoice_id) AS rank
                FROM ({PENDING_SQL}) p
                JOIN drafts i ON i.customer_id = p.customer_id AND i.currency = p.currency {dated}
                JOIN {units} cu ON cu.code = p.currency
                JOIN customers cust ON cust.customer_id = p.customer_id),
            picked AS (SELECT * EXCLUDE (rank) FROM ranked WHERE rank = 1),
            lines_sum AS (SELECT invoice_id, sum(amount_minor)::HUGEINT AS subtotal FROM invoice_lines
                          WHERE invoice_id IN (SELECT invoice_id FROM picked) GROUP BY ALL),
            running AS (
                SELECT p.*, coalesce(s.subtotal, 0) + sum(p.amount_minor::HUGEINT) OVER (
                           PARTITION BY p.invoice_id ORDER BY p.charge_date, p.charge_id
                           ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS subtotal_with
                FROM picked p LEFT JOIN lines_sum s USING (invoice_id)
                WHERE p.amount_minor IS NOT NULL)
            SELECT p.*, r.subtotal_with IS NOT NULL AND {_fits_sql("r.subtotal_with", "r.tax_n")} AS fits
            FROM picked p LEFT JOIN running r USING (charge_id)""",  # noqa: S608 (SQL expressions built by the engine from its own column names and constants; values bound)
        [param],
    )
    refused = dict(
        con.execute(
            f"""SELECT charge_id,
                       CASE WHEN amount_minor IS NULL
                            THEN 'amount ' || amount::VARCHAR || ' ' || currency || ' is too large: at most '
                                 || {MONEY_MAX_DIGITS} || ' digits before the decimal point'
                            ELSE 'too large for invoice ' || invoice_id || ': its total would pass the largest '
                                 || 'amount an invoice can hold' END
                FROM _charge_picks WHERE NOT fits"""  # noqa: S608 (SQL expressions built by the engine from its own column names and constants; values bound)
        ).fetchall()
    )
    con.execute(
        """INSERT INTO invoice_lines (invoice_id, line_no, line_id, kind, product, description, quantity,
               unit_price, active_days, period_days, amount_minor, period_start, period_end, charge_id, breakdown,
               tax_codes)
           SELECT s.invoice_id,
                  coalesce(m.last_no, 0) + row_number() OVER (PARTITION BY s.invoice_id
                                                              ORDER BY s.charge_date, s.charge_id),
                  NULL, 'delayed_charge', NULL, s.description, 1, s.amount, NULL, NULL, s.amount_minor,
                  s.charge_date, s.charge_date, s.charge_id, NULL, s.tax_codes
           FROM _charge_picks s
           LEFT JOIN (SELECT invoice_id, max(line_no) AS last_no FROM invoice_lines
                      WHERE invoice_id IN (SELECT invoice_id FROM _charge_picks) GROUP BY ALL) m USING (invoice_id)
           WHERE s.fits"""
    )
    con.execute(
        """INSERT INTO delayed_charge_sweeps (charge_id, invoice_id, run_id, swept_at)
           SELECT charge_id, invoice_id, ?, current_timestamp FROM _charge_picks WHERE fits""",
        [run_id],
    )
    attached = con.execute("SELECT count(*) FROM _charge_picks WHERE fits").fetchone()[0]
    if attached:  # only the drafts that took a charge changed
        refresh_totals(con, ids_sql="SELECT invoice_id FROM _charge_picks WHERE fits")
    return attached, refused


def sweep_delayed_charges(
    con: duckdb.DuckDBPyConnection, run_id: str, scope_customers: list[str]
) -> tuple[int, list[PendingCharge]]:
    """A bill run's sweep onto the drafts it made (the caller holds the transaction).

    Returns (number swept, charges of `scope_customers` — the customers of the run's scope — left
    pending, each with its reason)."""
    swept, refused = attach_pending_charges(con, run_id=run_id, until_period_end=True)
    return swept, _pending_with_reasons(con, run_id, scope_customers, refused)


def _pending_with_reasons(
    con: duckdb.DuckDBPyConnection, run_id: str, scope_customers: list[str], refused: dict[str, str]
) -> list[PendingCharge]:
    rows = con.execute(
        f"""WITH pending AS ({PENDING_SQL}),
            run_invoices AS (SELECT customer_id, currency, max(period_end) AS last_end
                             FROM invoices WHERE run_id = ? AND status = 'draft' GROUP BY ALL),
            any_currency AS (SELECT DISTINCT customer_id FROM invoices WHERE run_id = ?),
            refused AS (SELECT unnest(?::VARCHAR[]) AS charge_id, unnest(?::VARCHAR[]) AS reason)
            SELECT p.charge_id, p.customer_id, p.currency, p.amount, p.charge_date,
                   CASE WHEN x.reason IS NOT NULL THEN x.reason
                        WHEN a.customer_id IS NULL
                          THEN 'no invoice drafted by this run for customer ' || p.customer_id
                        WHEN r.customer_id IS NULL
                          THEN 'no ' || p.currency || ' invoice drafted by this run for customer ' || p.customer_id
                        ELSE 'charge dated ' || p.charge_date || ' is after the period end of every '
                             || p.currency || ' invoice of this run (latest ' || r.last_end || ')' END
            FROM pending p
            LEFT JOIN any_currency a USING (customer_id)
            LEFT JOIN run_invoices r USING (customer_id, currency)
            LEFT JOIN refused x USING (charge_id)
            WHERE p.customer_id IN (SELECT unnest(?::VARCHAR[]))
            ORDER BY p.charge_id""",  # noqa: S608 (SQL expressions built by the engine from its own column names and constants; values bound)
        [run_id, run_id, list(refused), list(refused.values()), scope_customers],
    ).fetchall()
    return [
        PendingCharge(
            charge_id=r[0],
            customer_id=r[1],
            currency=r[2],
            amount=_at_least_minor(plain(r[3]), r[2]),
            charge_date=r[4],
            reason=r[5],
        )  # fmt: skip
        for r in rows
    ]


def _at_least_minor(amount: Decimal, currency: str) -> Decimal:
    """A charge's amount as it was given, with the currency's decimals when it fits them (57 USD -> 57.00); one with
    more stays as it is (57.125: a pending charge is rounded only when an invoice takes it)."""
    minor = exact_minor(amount, currency)
    return amount if minor is None else to_major(minor, currency)
