"""import-drafts: a Spark run's invoices into a ledger, as the drafts of ONE recorded bill run.

    OUT/run            the run's id, date, options and the fingerprint of its inputs (run.py)
    OUT/invoices       export columns + store extras (period_days, tax_rate)
    OUT/invoice_lines  export columns + currency + store extras (active_days, period_days, charge_id, breakdown)
    OUT/invoice_adjustments  each invoice's coupons and taxes (spec section 11): export columns + currency +
                       store extras (position, applied_on, coupon_kind, face_minor)

Rules (docs/RULES.md, "Spark"):
- The ledger's input data must be the run's inputs: the fingerprint of export-inputs is recomputed over
  the ledger; any difference (rows added, changed, removed) refuses the whole folder.
- All or nothing: one transaction writes the bill_runs row (the Spark run's run_id, status completed),
  the drafts, their cycle claims, lines, delayed-charge sweeps, bill_run_items and `drafted` audit events.
- A cycle already invoiced in the ledger (a claim exists) is skipped and reported, and so is an invoice
  carrying a delayed charge the ledger already swept elsewhere: a draft is imported whole or not at all.
- Idempotent: the run's id is recorded; importing the same run again imports nothing and says so.
- Invoices keep the ids the Spark tasks gave them (the engine's own id format), so a draft in the ledger
  is found under the same id in the Spark output. Amounts go back to integer minor units exactly
  (a Parquet amount has exactly the currency's decimals).
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb

from ..billing.audit import resolve_actor
from ..billing.bill_run import stored_scope
from ..billing.invoices import record_drafted
from ..currencies import CURRENCY_UNITS_SQL, currency_units_params
from ..db import transaction
from ..errors import ValidationError
from ..scope import EVERYTHING
from .inputs import fingerprint_mismatch


def _glob(out_dir: Path, name: str) -> str:
    folder = out_dir / name
    if not folder.is_dir() or not any(folder.glob("*.parquet")):
        raise ValidationError(f"{folder}: no Parquet files (is {out_dir} the --out folder of billsim spark-run?)")
    return str(folder / "*.parquet")


def read_run(con: duckdb.DuckDBPyConnection, out_dir: Path) -> dict:
    rows = con.execute("SELECT * FROM read_parquet(?)", [_glob(out_dir, "run")]).fetchall()
    cols = [d[0] for d in con.description]
    if len(rows) != 1:
        raise ValidationError(f"{out_dir}/run: expected one run row, found {len(rows)}")
    return dict(zip(cols, rows[0], strict=True))


def _money(col: str) -> str:
    return f"({col} * cu.scale)::BIGINT"


def import_drafts(con: duckdb.DuckDBPyConnection, out_dir: Path, *, actor: str | None = None) -> dict:
    """Import the drafts of the Spark run written to `out_dir` (see the module doc); returns a summary."""
    out_dir = Path(out_dir)
    actor = resolve_actor(actor)
    run = read_run(con, out_dir)
    run_id = run["run_id"]
    summary = json.loads(run["summary"])
    base = {"run_id": run_id, "period_date": str(run["period_date"]), "out": str(out_dir)}
    problems = fingerprint_mismatch(con, json.loads(run["inputs_fingerprint"]) if run["inputs_fingerprint"] else None)
    if problems:
        raise ValidationError(
            f"{out_dir} was not billed from this ledger's data, refused (nothing imported): " + "; ".join(problems)
        )
    if con.execute("SELECT count(*) FROM bill_runs WHERE run_id = ?", [run_id]).fetchone()[0]:
        return {**base, "already_imported": True, "imported": 0, "skipped": [], "failed": summary["failed"]}
    invoices, lines = _glob(out_dir, "invoices"), _glob(out_dir, "invoice_lines")
    adjustments = _glob(out_dir, "invoice_adjustments")
    units = currency_units_params()
    with transaction(con):
        con.execute("CREATE OR REPLACE TEMP TABLE _spark_invoices AS SELECT * FROM read_parquet(?)", [invoices])
        con.execute("CREATE OR REPLACE TEMP TABLE _spark_lines AS SELECT * FROM read_parquet(?)", [lines])
        con.execute("CREATE OR REPLACE TEMP TABLE _spark_adjustments AS SELECT * FROM read_parquet(?)", [adjustments])
        bad_run = con.execute("SELECT count(*) FROM _spark_invoices WHERE run_id IS DISTINCT FROM ?", [run_id])
        if bad_run.fetchone()[0]:
            raise ValidationError(f"{out_dir}: invoices of another run than {run_id} (mixed outputs?)")
        con.execute(
            """CREATE OR REPLACE TEMP TABLE _spark_skipped AS
               SELECT i.invoice_id, i.contract_id, i.period_start, cl.invoice_id AS existing_id,
                      CASE WHEN cl.invoice_id IS NOT NULL
                           THEN 'cycle already invoiced (invoice ' || cl.invoice_id || ')'
                           WHEN x.invoice_id IS NOT NULL THEN 'invoice id already in the ledger'
                           ELSE 'delayed charge ' || s.charge_id || ' already swept onto invoice '
                                || s.swept_to END AS reason
               FROM _spark_invoices i
               LEFT JOIN invoice_cycle_claims cl USING (contract_id, period_start)
               LEFT JOIN invoices x ON x.invoice_id = i.invoice_id
               LEFT JOIN (SELECT l.invoice_id, min(l.charge_id) AS charge_id, min(w.invoice_id) AS swept_to
                          FROM _spark_lines l JOIN delayed_charge_sweeps w USING (charge_id)
                          GROUP BY ALL) s ON s.invoice_id = i.invoice_id
               WHERE cl.invoice_id IS NOT NULL OR x.invoice_id IS NOT NULL OR s.invoice_id IS NOT NULL"""
        )
        con.execute(
            """CREATE OR REPLACE TEMP TABLE _spark_keep AS
               SELECT * FROM _spark_invoices WHERE invoice_id NOT IN (SELECT invoice_id FROM _spark_skipped)"""
        )
        con.execute(
            """INSERT INTO bill_runs (run_id, period_date, scope, include_delayed_charges, finalize, status,
                   requested_by, started_at, finished_at, report)
               VALUES (?, ?, ?, ?, false, 'completed', ?, current_timestamp, current_timestamp, NULL)""",
            [
                run_id,
                run["period_date"],
                json.dumps(stored_scope(EVERYTHING), sort_keys=True),
                run["include_delayed_charges"],
                actor,
            ],
        )
        con.execute("INSERT INTO invoice_cycle_claims SELECT contract_id, period_start, invoice_id FROM _spark_keep")
        con.execute(
            f"""INSERT INTO invoices (invoice_id, business_id, customer_id, contract_id, status, currency,
                   period_start, period_end, bill_for_date, due_date, period_days, tax_rate,
                   subtotal_minor, discount_minor, tax_minor, total_minor, total_paid_minor, run_id, created_at)
               SELECT i.invoice_id, i.business_id, i.customer_id, i.contract_id, 'draft', i.currency,
                   i.period_start, i.period_end, i.bill_for_date, i.due_date, i.period_days, i.tax_rate,
                   {_money("i.subtotal")}, {_money("i.discount")}, {_money("i.tax")}, {_money("i.total")}, 0,
                   i.run_id, i.created_at
               FROM _spark_keep i JOIN {CURRENCY_UNITS_SQL} cu ON cu.code = i.currency""",  # noqa: S608 (engine-built column expressions and the currency relation; values bound)
            units,
        )
        con.execute(
            f"""INSERT INTO invoice_lines (invoice_id, line_no, line_id, kind, product, description, quantity,
                   unit_price, active_days, period_days, amount_minor, period_start, period_end, charge_id, breakdown,
                   discount_minor, tax_codes)
               SELECT l.invoice_id, l.line_no, l.line_id, l.kind, l.product, l.description, l.quantity,
                   l.unit_price, l.active_days, l.period_days, {_money("l.amount")}, l.period_start, l.period_end,
                   l.charge_id, l.breakdown, {_money("l.discount")}, l.tax_codes
               FROM _spark_lines l JOIN {CURRENCY_UNITS_SQL} cu ON cu.code = l.currency
               WHERE l.invoice_id IN (SELECT invoice_id FROM _spark_keep)""",  # noqa: S608 (engine-built column expressions and the currency relation; values bound)
            units,
        )
        kept = f"""FROM _spark_adjustments a JOIN {CURRENCY_UNITS_SQL} cu ON cu.code = a.currency
                   WHERE a.invoice_id IN (SELECT invoice_id FROM _spark_keep)"""  # noqa: S608 (engine-built column expressions and the currency relation; values bound)
        con.execute(
            f"""INSERT INTO invoice_coupons (invoice_id, position, coupon_id, applied_on, name, kind, percent,
                   face_minor, base_minor, amount_minor)
               SELECT a.invoice_id, a.position, a.code, a.applied_on, a.name, a.coupon_kind, a.rate_or_percent,
                   a.face_minor, {_money("a.base")}, {_money("a.amount")}
               {kept} AND a.kind = 'coupon'""",  # noqa: S608 (engine-built column expressions and the currency relation; values bound)
            units,
        )
        con.execute(
            f"""INSERT INTO invoice_taxes (invoice_id, tax_code, name, rate, base_minor, amount_minor)
               SELECT a.invoice_id, a.code, a.name, a.rate_or_percent, {_money("a.base")}, {_money("a.amount")}
               {kept} AND a.kind = 'tax'""",  # noqa: S608 (engine-built column expressions and the currency relation; values bound)
            units,
        )
        con.execute(
            """INSERT INTO delayed_charge_sweeps (charge_id, invoice_id, run_id, swept_at)
               SELECT charge_id, invoice_id, ?, current_timestamp FROM _spark_lines
               WHERE charge_id IS NOT NULL AND invoice_id IN (SELECT invoice_id FROM _spark_keep)""",
            [run_id],
        )
        failed = summary["failed"]
        con.execute(
            """INSERT INTO bill_run_items (run_id, contract_id, outcome, invoice_id, reason)
               SELECT ?, contract_id, 'drafted', invoice_id, NULL FROM _spark_keep
               UNION ALL SELECT ?, contract_id, 'existing', existing_id, reason FROM _spark_skipped
               UNION ALL SELECT ?, unnest(?::VARCHAR[]), 'failed', NULL, unnest(?::VARCHAR[])""",
            [run_id, run_id, run_id, [f["contract_id"] for f in failed], [f["reason"] for f in failed]],
        )
        record_drafted(con, "SELECT invoice_id FROM _spark_keep", [], actor)
        imported = con.execute("SELECT count(*) FROM _spark_keep").fetchone()[0]
        skipped = [
            {"invoice_id": r[0], "contract_id": r[1], "period_start": str(r[2]), "reason": r[3]}
            for r in con.execute(
                "SELECT invoice_id, contract_id, period_start, reason FROM _spark_skipped "
                "ORDER BY contract_id, period_start"
            ).fetchall()
        ]
        result = {**base, "already_imported": False, "imported": imported, "skipped": skipped, "failed": failed}
        report = {**summary, "imported": imported, "skipped": skipped, "source": "spark", "spark_out": str(out_dir)}
        con.execute("UPDATE bill_runs SET report = ? WHERE run_id = ?", [json.dumps(report, default=str), run_id])
    return result
