"""The data and the ledger as a whole (a local user's): import a data folder, the demo data, exports (ledger,
audit trail), the ledger's pages, and swapping in a freshly built database (the workbench's new demo data).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from ..billing.audit import export_audit
from ..billing.ledger_queries import is_empty, tables_with_rows
from ..errors import DatabaseBusyError, ValidationError
from ..ingest.demo import seed_demo, write_demo_folder
from ..ingest.importer import import_folder
from ..io.export import LEDGER_ORDERS, export_ledger, ledger_frames
from ..limits import check_demo_size
from ..progress import Progress
from . import tenancy
from .application import Billsim
from .caller import Caller
from .session import Session

__all__ = [
    "LEDGER_ORDERS",
    "audit_csv",
    "check_demo_size",
    "demo_folder",
    "export",
    "import_data",
    "ledger_page",
    "replace_database",
    "seed",
    "seed_if_empty",
]


def import_data(s: Session, folder: Path, *, progress: Progress | None = None) -> dict[str, int]:
    """Import a data folder (spec section 1): all or nothing, every problem named (ImportProblems)."""
    tenancy.local_only(s.caller, "importing data")
    with s.cursor() as cur:
        return import_folder(cur, Path(folder), progress=progress)


def seed(
    s: Session, *, contracts: int = 50, usage_rows: int | None = None, seed: int = 7, progress: Progress | None = None
) -> dict:
    """Seed the deterministic demo data into this database: its size within the limits (engine/limits.py), and only
    into a database that holds no data yet (the demo's rows would all be duplicates of the ones already there, or
    mixed into someone's own data): else validation_error, nothing changed."""
    tenancy.local_only(s.caller, "seeding demo data")
    check_demo_size(contracts, usage_rows)
    with s.cursor() as cur:
        held = tables_with_rows(cur)
        if held:
            shown = ", ".join(held[:3]) + (f" and {len(held) - 3} more tables" if len(held) > 3 else "")
            raise ValidationError(
                f"the database {s.app.path} already holds data ({shown}): the demo goes into a new database; use a "
                "new path (`billsim --db NEW.duckdb init --demo`), or regenerate the demo on the workbench's Data page",
                code="database_not_empty",
            )
        return seed_demo(cur, contracts=contracts, usage_rows=usage_rows, seed=seed, progress=progress)


def seed_if_empty(s: Session) -> bool:
    """Seed the demo into a brand-new, empty database (the workbench's first start); True when it did."""
    with s.cursor() as cur:
        if not is_empty(cur):
            return False
        seed_demo(cur)
    return True


def demo_folder(out: Path, *, contracts: int = 50, usage_rows: int | None = None, seed: int = 7) -> dict[str, int]:
    """Write the deterministic demo data as a data folder (no database involved; its size within the limits)."""
    check_demo_size(contracts, usage_rows)
    return write_demo_folder(Path(out), contracts=contracts, usage_rows=usage_rows, seed=seed)


def export(s: Session, out: Path, fmt: str = "csv", *, filters: dict | None = None) -> dict[str, Path]:
    """invoices, invoice_lines, invoice_adjustments, credit_notes and credit_note_items (spec sections 6, 11, 12) as
    CSV or Parquet files in `out` (one snapshot)."""
    tenancy.local_only(s.caller, "exporting the ledger")
    with s.cursor() as cur:
        return export_ledger(cur, Path(out), fmt=fmt, filters=filters)


def ledger_page(s: Session, filters: dict | None, order: str, limit: int, offset: int) -> tuple[pd.DataFrame, int]:
    """One page of the ledger in `order` (sorted over every matching invoice), and the count of the filter."""
    tenancy.local_only(s.caller, "the ledger's pages")
    with s.cursor() as cur:
        return ledger_frames(cur, filters=filters, limit=limit, offset=offset, order=order)


def audit_csv(s: Session, out: Path) -> Path:
    """The audit trail of every invoice change as audit.csv (formula-safe)."""
    tenancy.local_only(s.caller, "exporting the audit trail")
    with s.cursor() as cur:
        return export_audit(cur, Path(out))


def replace_database(app: Billsim, build: Callable[[Session], dict], actor: str | None = None) -> dict:
    """Build a new database beside the application's file with `build(session)`, then swap it in.

    The old database serves until the new one is complete; a failed build leaves it untouched. The old file is
    kept as `<stem>.previous<suffix>`. `app` is closed: the caller opens the file again. (Imports only add rows
    and the engine has no operation that empties a database: this is how the demo data is regenerated.)"""
    if app.is_shared:
        raise DatabaseBusyError(
            "the database is held by `billsim serve`, which other people use through its API and workbench: stop "
            "the server to replace the database with new demo data"
        )
    path = Path(app.path)
    fresh = path.with_name(f"{path.stem}.building{path.suffix}")
    previous = path.with_name(f"{path.stem}.previous{path.suffix}")
    for leftover in (fresh, Path(f"{fresh}.wal")):
        leftover.unlink(missing_ok=True)
    new = Billsim.open(fresh)
    try:
        counts = build(new.session(Caller.local(actor)))
    except BaseException:
        new.close()
        fresh.unlink(missing_ok=True)
        raise
    new.close()
    app.close()
    Path(f"{previous}.wal").unlink(missing_ok=True)
    if path.exists():
        os.replace(path, previous)
    if Path(f"{path}.wal").exists():
        os.replace(f"{path}.wal", f"{previous}.wal")
    os.replace(fresh, path)
    return counts
