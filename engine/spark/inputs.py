"""export-inputs: the six input tables of a ledger as Parquet, the layout `spark-run` reads.

    DIR/<table>/part-0.parquet     one folder per input table (spec section 1), the stored column types
    DIR/manifest.json              {"format": "billsim-inputs", "fingerprint": {...}, "exported_at": ...}

The fingerprint is, per table, its row count and the sum of a hash of every row (order-free), computed by
DuckDB over the stored tables. `spark-run` copies it into its output; `import-drafts` recomputes it over
the ledger and refuses a Spark output whose inputs were not the ledger's data as it is now.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import duckdb

from ..db import transaction
from ..errors import ValidationError
from ..schema import INPUT_TABLES

MANIFEST = "manifest.json"
FORMAT = "billsim-inputs"


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    rows = con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = 'main' AND table_name = ? "
        "ORDER BY ordinal_position",
        [table],
    ).fetchall()
    return [r[0] for r in rows]


def fingerprint(con: duckdb.DuckDBPyConnection) -> dict[str, dict]:
    """{table: {"rows": n, "hash": "<sum of row hashes>"}} over the stored input tables (one snapshot)."""
    out = {}
    for table in INPUT_TABLES:  # names from the schema's own list; columns from the catalog
        cols = ", ".join(f'"{c}"' for c in _columns(con, table))
        n, h = con.execute(f"SELECT count(*), coalesce(sum(hash({cols}))::HUGEINT, 0) FROM main.{table}").fetchone()  # noqa: S608 (table and column names from the engine's schema catalog; no values)
        out[table] = {"rows": int(n), "hash": str(h)}
    return out


def export_inputs(con: duckdb.DuckDBPyConnection, out_dir: Path) -> dict:
    """Write every input table as DIR/<table>/part-0.parquet and DIR/manifest.json; returns the manifest."""
    out_dir = Path(out_dir)
    with transaction(con):  # one snapshot: the files and the fingerprint describe the same data
        for table in INPUT_TABLES:
            folder = out_dir / table
            folder.mkdir(parents=True, exist_ok=True)
            for old in folder.glob("*.parquet"):
                old.unlink()
            con.execute(f"COPY main.{table} TO ? (FORMAT parquet)", [str(folder / "part-0.parquet")])
        manifest = {
            "format": FORMAT,
            "fingerprint": fingerprint(con),
            "exported_at": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
        }
    (out_dir / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")
    return {"out": str(out_dir), "tables": {t: manifest["fingerprint"][t]["rows"] for t in INPUT_TABLES}, **manifest}


def parse_manifest(text: str, where: str) -> dict:
    try:
        manifest = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValidationError(f"{where}: not a billsim inputs manifest ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT or "fingerprint" not in manifest:
        raise ValidationError(f"{where}: not a billsim inputs manifest (written by billsim export-inputs)")
    return manifest


def fingerprint_mismatch(con: duckdb.DuckDBPyConnection, expected: dict | None) -> list[str]:
    """What differs between the ledger's input data and a fingerprint (empty: the same data)."""
    if not expected:
        return ["the Spark run's inputs carry no fingerprint (export them with billsim export-inputs)"]
    actual = fingerprint(con)
    problems = []
    for table in INPUT_TABLES:
        a, e = actual[table], expected.get(table)
        if e is None:
            problems.append(f"{table}: not in the run's inputs")
        elif a["rows"] != e["rows"]:
            problems.append(f"{table}: {e['rows']:,} rows in the run's inputs, {a['rows']:,} in the ledger")
        elif a["hash"] != e["hash"]:
            problems.append(f"{table}: same row count ({a['rows']:,}) but different rows")
    return problems
