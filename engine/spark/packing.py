"""The input tables as ONE customer-keyed DataFrame, and back into an engine database in a task.

Spark groups one DataFrame at a time, so every input row travels in one shape: a table tag `_t`, the
customer key `_k` and typed SLOTS that each table fills with its own columns by type, in the order of the
engine's schema (`engine.schema`, read from an in-memory engine database, so a new column needs no
change here):

    s0..   VARCHAR -> string        d0..  DATE -> date        i0..  INTEGER -> int
    p0..   DECIMAL(38,12) -> decimal(38,12)    q0..  DECIMAL(38,6) and DECIMAL(18,6) -> decimal(38,6)

A usage row (the bulk) fills 4 strings, a date and a quantity; the rest of its slots are null. Decimals
travel as Arrow decimal128 and are inserted into the engine's own column types, so no value is ever
rounded or passed through a float. Usage, order lines, applied coupons and tiers get their customer through
their contract (and line).

Taxes and coupons (spec section 11) belong to a business, not to a customer: any partition may need any of
them. They are small (tens per business), so they are not repartitioned: `shared_tables` reads them once on
the driver as Arrow, the task function carries them, and every task inserts them whole (SHARED_TABLES).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import duckdb

from ..db import connect
from ..schema import INPUT_TABLES

_SLOT_OF_TYPE = {
    "VARCHAR": "s",
    "DATE": "d",
    "INTEGER": "i",
    "DECIMAL(38,12)": "p",
    "DECIMAL(38,6)": "q",
    "DECIMAL(18,6)": "q",
}
SPARK_TYPES = {"s": "string", "d": "date", "i": "int", "p": "decimal(38,12)", "q": "decimal(38,6)"}
SHARED_TABLES = ("taxes", "coupons", "businesses")  # a few rows per business: sent to every task
TABLE_TAG = "_t"
CUSTOMER_KEY = "_k"


@dataclass(frozen=True)
class Layout:
    columns: dict[str, list[tuple[str, str]]]  # table -> [(column, slot)] in schema order
    slots: list[str]  # every slot, in DataFrame order

    def tag(self, table: str) -> int:
        return INPUT_TABLES.index(table)


@cache
def layout() -> Layout:
    """The slot layout of the engine's input tables (from the schema of a fresh in-memory database)."""

    con = connect(":memory:")
    try:
        columns: dict[str, list[tuple[str, str]]] = {}
        widest: dict[str, int] = {}
        for table in INPUT_TABLES:
            rows = con.execute(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = 'main' AND table_name = ? ORDER BY ordinal_position",
                [table],
            ).fetchall()
            used: dict[str, int] = {}
            cols = []
            for name, data_type in rows:
                kind = _SLOT_OF_TYPE.get(data_type)
                if kind is None:
                    raise TypeError(f"{table}.{name}: type {data_type} has no Spark slot (add it to packing.py)")
                cols.append((name, f"{kind}{used.get(kind, 0)}"))
                used[kind] = used.get(kind, 0) + 1
            columns[table] = cols
            for kind, n in used.items():
                widest[kind] = max(widest.get(kind, 0), n)
        slots = [f"{kind}{n}" for kind in SPARK_TYPES for n in range(widest.get(kind, 0))]
        return Layout(columns=columns, slots=slots)
    finally:
        con.close()


def table_path(inputs: str, table: str) -> str:
    return inputs.rstrip("/") + "/" + table


def read_inputs(spark, inputs: str) -> dict:
    """The six input tables as DataFrames (Parquet folders or files under `inputs`, any URI Spark reads)."""
    return {t: spark.read.parquet(table_path(inputs, t)) for t in INPUT_TABLES}


def shared_tables(frames: dict) -> dict:
    """The SHARED_TABLES as Arrow tables (collected on the driver: a few rows per business)."""
    return {t: frames[t].toArrow() for t in SHARED_TABLES}


def packed_frame(frames: dict):
    """One DataFrame of every input row but the SHARED_TABLES': `_t`, `_k` (customer_id) and the slots."""
    from pyspark.sql import functions as F

    lay = layout()
    owner = frames["contracts"].select("contract_id", F.col("customer_id").alias(CUSTOMER_KEY))
    line_owner = frames["order_lines"].select("line_id", "contract_id").join(owner, "contract_id")
    keyed = {
        "customers": frames["customers"].withColumn(CUSTOMER_KEY, F.col("customer_id")),
        "contracts": frames["contracts"].withColumn(CUSTOMER_KEY, F.col("customer_id")),
        "delayed_charges": frames["delayed_charges"].withColumn(CUSTOMER_KEY, F.col("customer_id")),
        "order_lines": frames["order_lines"].join(owner, "contract_id"),
        "price_tiers": frames["price_tiers"].join(line_owner.select("line_id", CUSTOMER_KEY), "line_id"),
        "usage": frames["usage"].join(owner, "contract_id"),
        "applied_coupons": frames["applied_coupons"].join(owner, "contract_id"),
    }
    packed = None
    for table in (t for t in INPUT_TABLES if t not in SHARED_TABLES):
        filled = dict((slot, col) for col, slot in lay.columns[table])
        cols = [F.lit(lay.tag(table)).cast("int").alias(TABLE_TAG), F.col(CUSTOMER_KEY)]
        for slot in lay.slots:
            source = F.col(filled[slot]) if slot in filled else F.lit(None)
            cols.append(source.cast(SPARK_TYPES[slot[0]]).alias(slot))
        frame = keyed[table].select(*cols)
        packed = frame if packed is None else packed.unionByName(frame)
    return packed


def unpack_into(con: duckdb.DuckDBPyConnection, packed, shared: dict) -> None:
    """Insert a task's packed rows (an Arrow table) and the `shared` tables (Arrow, by name) into the engine's
    input tables of `con`."""
    lay = layout()
    con.register("_packed", packed)
    try:
        for table in INPUT_TABLES:
            names = ", ".join(f'"{c}"' for c, _ in lay.columns[table])
            if table in SHARED_TABLES:
                con.register("_shared", shared[table])
                try:
                    con.execute(f"INSERT INTO main.{table} ({names}) SELECT {names} FROM _shared")  # noqa: S608 (table and column names from the engine's schema catalog; no values)
                finally:
                    con.unregister("_shared")
                continue
            slots = ", ".join(slot for _, slot in lay.columns[table])
            con.execute(
                f"INSERT INTO main.{table} ({names}) SELECT {slots} FROM _packed WHERE {TABLE_TAG} = ?",  # noqa: S608 (table and column names from the engine's schema catalog; no values)
                [lay.tag(table)],
            )
    finally:
        con.unregister("_packed")
