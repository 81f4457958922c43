"""Comparing a Spark run's output with the single-machine engine's ledger, ids aside."""

from __future__ import annotations

from pathlib import Path

import duckdb

from engine.io.export import ADJUSTMENT_COLUMNS, INVOICE_COLUMNS, LINE_COLUMNS, ledger_arrow

# ids and stamps differ by construction; everything else must be equal
_INVOICE_IGNORED = {"invoice_id", "run_id", "created_at"}
INVOICE_KEY = ["contract_id", "period_start"]


def _invoice_cols() -> list[str]:
    return [c for c in INVOICE_COLUMNS if c not in _INVOICE_IGNORED]


def _line_cols() -> list[str]:
    return [c for c in LINE_COLUMNS if c != "invoice_id"] + ["currency"]


def rows_of(invoices, lines, adjustments=None) -> tuple[list[tuple], ...]:
    """(invoices, lines[, adjustments]) as sorted tuples keyed by (contract_id, period_start) instead of
    invoice ids; the adjustments (coupons and taxes, spec section 11) when given."""
    con = duckdb.connect()
    con.register("inv", invoices)
    con.register("lin", lines)
    inv = con.execute(f"SELECT {', '.join(_invoice_cols())} FROM inv ORDER BY ALL").fetchall()
    cols = ", ".join(f"l.{c}" for c in _line_cols())
    lin = con.execute(
        f"SELECT i.contract_id, i.period_start AS invoice_period, {cols} "
        "FROM lin l JOIN inv i USING (invoice_id) ORDER BY ALL"
    ).fetchall()
    if adjustments is None:
        return inv, lin
    con.register("adj", adjustments)
    cols = ", ".join(f"a.{c}" for c in ADJUSTMENT_COLUMNS if c != "invoice_id")
    adj = con.execute(
        f"SELECT i.contract_id, i.period_start AS invoice_period, {cols} "
        "FROM adj a JOIN inv i USING (invoice_id) ORDER BY ALL"
    ).fetchall()
    return inv, lin, adj


def engine_rows(con) -> tuple[list[tuple], ...]:
    """(invoices, lines, adjustments) of a ledger."""
    t = ledger_arrow(con)
    return rows_of(t["invoices"], t["invoice_lines"], t["invoice_adjustments"])


def spark_rows(out: Path) -> tuple[list[tuple], ...]:
    """(invoices, lines, adjustments) of a spark-run output folder."""
    inv = duckdb.sql(f"SELECT * FROM read_parquet('{out}/invoices/*.parquet')").to_arrow_table()
    lin = duckdb.sql(f"SELECT * FROM read_parquet('{out}/invoice_lines/*.parquet')").to_arrow_table()
    adj = duckdb.sql(f"SELECT * FROM read_parquet('{out}/invoice_adjustments/*.parquet')").to_arrow_table()
    return rows_of(inv, lin, adj)
