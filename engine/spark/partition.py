"""What one Spark task does: its customers' rows into an in-memory engine database, the engine's OWN
bill run (or what-if comparison) on them, and its rows out as Arrow. No rule of billing is written here.

A bill task's output is one Arrow shape for everything it reports (Spark maps one DataFrame at a time):

    _out        'invoice' | 'line' | 'adjustment' | 'failed' | 'pending' | 'stats'
    _json       failed contract / pending charge / the task's counts, as JSON
    i__<col>    an invoice: the Parquet export's columns (engine.io.export) and the store extras
    l__<col>    an invoice line: likewise
    a__<col>    an invoice's coupon or tax (invoice_adjustments, spec section 11): likewise

A task whose bill run raises (not a contract's rating, which the bill run isolates itself) reports
every contract of its partition active on the date as failed with the reason; the job goes on.
"""

from __future__ import annotations

import datetime as dt
import json
import warnings
from functools import cache

import pyarrow as pa

from ..billing.bill_run import bill_run
from ..db import connect
from ..io.export import ledger_arrow
from ..rating.targets import active_contracts_sql
from ..whatif.compare import COMPARISON, TAX_COMPARISON
from ..whatif.scenarios import compare_checked, parse_scenario
from .packing import unpack_into

OUT_KIND = "_out"
OUT_JSON = "_json"
INVOICE_PREFIX = "i__"
LINE_PREFIX = "l__"
ADJUSTMENT_PREFIX = "a__"
ACTOR = "spark"


@cache
def _ledger_schemas() -> dict[str, pa.Schema]:

    con = connect(":memory:")
    try:
        return {name: t.schema for name, t in ledger_arrow(con, store_extras=True).items()}
    finally:
        con.close()


def bill_output_schema() -> pa.Schema:
    schemas = _ledger_schemas()
    fields = [pa.field(OUT_KIND, pa.string()), pa.field(OUT_JSON, pa.string())]
    fields += [pa.field(INVOICE_PREFIX + f.name, f.type) for f in schemas["invoices"]]
    fields += [pa.field(LINE_PREFIX + f.name, f.type) for f in schemas["invoice_lines"]]
    fields += [pa.field(ADJUSTMENT_PREFIX + f.name, f.type) for f in schemas["invoice_adjustments"]]
    return pa.schema(fields)


def _rows(kind: str, n: int, *, json_texts=None, invoices=None, lines=None, adjustments=None) -> pa.Table:
    schema = bill_output_schema()
    arrays = []
    for f in schema:
        if f.name == OUT_KIND:
            arrays.append(pa.array([kind] * n, pa.string()))
        elif f.name == OUT_JSON:
            arrays.append(pa.array(json_texts if json_texts is not None else [None] * n, pa.string()))
        elif invoices is not None and f.name.startswith(INVOICE_PREFIX):
            arrays.append(invoices.column(f.name[len(INVOICE_PREFIX) :]))
        elif lines is not None and f.name.startswith(LINE_PREFIX):
            arrays.append(lines.column(f.name[len(LINE_PREFIX) :]))
        elif adjustments is not None and f.name.startswith(ADJUSTMENT_PREFIX):
            arrays.append(adjustments.column(f.name[len(ADJUSTMENT_PREFIX) :]))
        else:
            arrays.append(pa.nulls(n, f.type))
    return pa.Table.from_arrays(arrays, schema=schema)


def _partition_connection(batches, shared: dict):

    batches = [b for b in batches if b.num_rows]
    if not batches:  # an empty partition (no customer hashed to it)
        return None
    table = pa.Table.from_batches(batches)
    con = connect(":memory:")
    unpack_into(con, table, shared)
    return con


def _active_contracts(con, period_date: dt.date) -> list[str]:

    sql, params = active_contracts_sql(period_date)
    return [r[0] for r in con.execute(f"SELECT contract_id FROM ({sql}) ORDER BY 1", params).fetchall()]  # noqa: S608 (an engine-built query with ? placeholders; values bound)


def bill_partition(
    batches, period_date: dt.date, include_delayed_charges: bool, run_id: str, shared: dict
) -> pa.Table | None:
    """Bill one partition (and the `shared` tables, packing.SHARED_TABLES) with the engine's bill_run; the
    output rows (see the module doc)."""

    con = _partition_connection(batches, shared)
    if con is None:
        return None
    try:
        try:
            report = bill_run(
                con,
                period_date,
                include_delayed_charges=include_delayed_charges,
                requested_by=ACTOR,
                run_id=run_id,
            )
        except Exception as exc:  # the whole partition: report its contracts, never kill the job
            reason = f"partition failed: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            failed = [json.dumps({"contract_id": c, "reason": reason}) for c in _active_contracts(con, period_date)]
            stats = {"contracts_in_scope": len(failed), "failed": len(failed)}
            return pa.concat_tables(
                [_rows("failed", len(failed), json_texts=failed), _rows("stats", 1, json_texts=[json.dumps(stats)])]
            )
        ledger = ledger_arrow(con, store_extras=True)
        failed = [json.dumps(f.model_dump(mode="json")) for f in report.failed]
        pending = [json.dumps(p.model_dump(mode="json")) for p in report.delayed_charges_pending]
        stats = {
            "contracts_in_scope": report.contracts_in_scope,
            "drafted": report.drafted,
            "nothing_to_bill": report.nothing_to_bill,
            "failed": len(report.failed),
            "delayed_charges_swept": report.delayed_charges_swept,
            "delayed_charges_pending": len(pending),
        }
        return pa.concat_tables(
            [
                _rows("invoice", ledger["invoices"].num_rows, invoices=ledger["invoices"]),
                _rows("line", ledger["invoice_lines"].num_rows, lines=ledger["invoice_lines"]),
                _rows(
                    "adjustment",
                    ledger["invoice_adjustments"].num_rows,
                    adjustments=ledger["invoice_adjustments"],
                ),
                _rows("failed", len(failed), json_texts=failed),
                _rows("pending", len(pending), json_texts=pending),
                _rows("stats", 1, json_texts=[json.dumps(stats)]),
            ]
        )
    finally:
        con.close()


COMPARISON_COLUMNS = [
    "contract_id",
    "customer_id",
    "product",
    "line_id",
    "kind",
    "currency",
    "period_start",
    "baseline_minor",
    "scenario_minor",
    "delta_minor",
]


def comparison_schema() -> pa.Schema:
    return pa.schema(
        [
            pa.field(c, pa.date32() if c == "period_start" else pa.int64() if c.endswith("_minor") else pa.string())
            for c in COMPARISON_COLUMNS
        ]
    )


def simulate_partition(
    batches, scenario_json: str, from_date: dt.date, to_date: dt.date, shared: dict
) -> pa.Table | None:
    """The what-if comparison rows (minor units) of one partition, by the engine's own simulation, and its
    invoices' tax rows (kind 'tax', whatif.compare.build_tax_comparison)."""

    con = _partition_connection(batches, shared)
    if con is None:
        return None
    try:
        compare_checked(con, parse_scenario(scenario_json), from_date, to_date)
        cols = ", ".join(COMPARISON_COLUMNS)
        with warnings.catch_warnings():  # con.sql would refuse: the overlay's last DDL left a result open
            warnings.simplefilter("ignore", UserWarning)  # "extra copy": a partition's rows, small
            # the invoices' tax rows (kind 'tax') travel with the line rows; spark-simulate sums them apart
            rows = con.execute(
                f"SELECT {cols} FROM {COMPARISON} UNION ALL SELECT {cols} FROM {TAX_COMPARISON}"  # noqa: S608 (engine constants: column list and temp-table names)
            ).to_arrow_table()
        return rows.cast(comparison_schema())
    finally:
        con.close()
