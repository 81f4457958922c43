"""The audit trail (spec section 8): every change of an invoice is one row of `invoice_events`.

Events are written by the function that makes the change, in ITS transaction, so a change and its
event commit or roll back together. Nothing updates or deletes an event: this module only INSERTs,
and exports. Writes are set-based (one INSERT … SELECT per action), so a bill run of 100k drafts
records its 100k `drafted` events in one statement.

Actions: created (manual invoice), drafted, redrafted, approved, held, released, finalized,
approved_and_finalized (the auto-finalize paths), voided (note = reason), payment_recorded, deleted, and
credit_note_issued (spec section 12: note = the reason and the note; the status does not change).
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
from pathlib import Path

import duckdb

from ..db import transaction
from ..io.csv_guard import guard_formula_sql
from ..utc_time import utc_text_sql
from .numbering import businesses_join, invoice_number_sql

ACTIONS = (
    "created",
    "drafted",
    "redrafted",
    "approved",
    "held",
    "released",
    "finalized",
    "approved_and_finalized",
    "voided",
    "payment_recorded",
    "deleted",
    "credit_note_issued",
)


def default_actor() -> str:
    """Who acts when no one is named: the OS user (the one place this is decided)."""
    try:
        return getpass.getuser() or "unknown"
    except Exception:  # no user name in the environment (some containers): getpass raises OSError/KeyError
        return "unknown"


def resolve_actor(actor: str | None) -> str:
    """A named actor (trimmed), else the OS user. Blank counts as none."""
    name = (actor or "").strip()
    return name or default_actor()


def utcnow() -> dt.datetime:
    # Naive UTC, like every TIMESTAMP column of the store (cursors do not inherit SET TimeZone).
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def changes_json(changes: dict | None) -> str | None:
    """An event's `changes` as stored: compact JSON (`{"number":7,"credits_applied_minor":100}`), as DuckDB's
    json_object writes the events built in SQL, text as is (not \\u-escaped)."""
    return None if changes is None else json.dumps(changes, separators=(",", ":"), ensure_ascii=False)


def record_events(
    con: duckdb.DuckDBPyConnection,
    *,
    action: str,
    actor: str | None,
    invoice_ids: list[str] | None = None,
    from_sql: str | None = None,
    params: list | None = None,
    status_before: str | None = None,
    status_after: str | None = None,
    note: str | None = None,
    changes: dict | None = None,
    occurred_at: dt.datetime | None = None,
) -> int:
    """Append one event per invoice, in the caller's transaction; returns the number written.

    Either `invoice_ids` (every event gets `status_before`/`status_after`/`changes` as given), or
    `from_sql`: an engine-built SELECT (values bound through `params`) with the columns `invoice_id`,
    `status_before`, `status_after` and `changes` (JSON text or NULL) — for per-invoice figures.
    """
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    if (invoice_ids is None) == (from_sql is None):
        raise ValueError("record_events needs exactly one of invoice_ids and from_sql")
    head = [occurred_at or utcnow(), resolve_actor(actor), action, note]
    if invoice_ids is not None:
        if not invoice_ids:
            return 0
        source = """SELECT unnest(?::VARCHAR[]) AS invoice_id, ?::VARCHAR AS status_before,
                           ?::VARCHAR AS status_after, ?::VARCHAR AS changes"""
        params = [list(invoice_ids), status_before, status_after, changes_json(changes)]
    row = con.execute(
        f"""INSERT INTO invoice_events (invoice_id, occurred_at, actor, action, status_before, status_after,
                                        note, changes)
            SELECT e.invoice_id, ?, ?, ?, e.status_before, e.status_after, ?, e.changes
            FROM ({from_sql if from_sql is not None else source}) e""",  # noqa: S608 (conditions and subqueries built by the engine with ? placeholders; values bound)
        [*head, *(params or [])],
    ).fetchone()
    return int(row[0]) if row else 0


def invoice_events(con: duckdb.DuckDBPyConnection, invoice_id: str | None = None) -> list[dict]:
    """Events in the order they happened (of one invoice, or all), `changes` parsed."""
    cur = con.execute(
        """SELECT event_id, invoice_id, occurred_at, actor, action, status_before, status_after, note, changes
           FROM invoice_events WHERE ?::VARCHAR IS NULL OR invoice_id = ? ORDER BY event_id""",
        [invoice_id, invoice_id],
    )
    cols = [d[0] for d in cur.description]
    rows = [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]
    for r in rows:
        r["changes"] = json.loads(r["changes"]) if r["changes"] else None
    return rows


AUDIT_COLUMNS = [
    "event_id",
    "occurred_at",
    "invoice_id",
    "number",
    "business_id",
    "customer_id",
    "actor",
    "action",
    "status_before",
    "status_after",
    "note",
    "changes",
    "invoice_number",  # the number as the customer sees it (numbering.py), as invoices.csv writes it, after the rest
]
_AUDIT_TEXT = {"invoice_id", "business_id", "customer_id", "actor", "action", "status_before", "status_after", "note"}


def _audit_sql() -> str:
    # A deleted invoice's row is gone: its 'deleted' event carries business and customer in `changes`.
    exprs = {
        "event_id": "e.event_id",
        "occurred_at": utc_text_sql("e.occurred_at"),
        "invoice_id": "e.invoice_id",
        "number": "i.number",
        "business_id": "coalesce(i.business_id, d.business_id)",
        "customer_id": "coalesce(i.customer_id, d.customer_id)",
        "actor": "e.actor",
        "action": "e.action",
        "status_before": "e.status_before",
        "status_after": "e.status_after",
        "note": "e.note",
        # one style for every row, compact (`{"number":7}`), whoever wrote it and when (older rows were spaced): the
        # file's one place. JSON text starts with { or [, never a formula character; guarded anyway, one rule for all
        "changes": "json(e.changes)::VARCHAR",
        "invoice_number": invoice_number_sql("i", "bz"),
    }
    select = ",\n       ".join(
        f"{guard_formula_sql(exprs[c]) if c in _AUDIT_TEXT or c == 'changes' else exprs[c]} AS {c}"
        for c in AUDIT_COLUMNS
    )
    return f"""SELECT {select}
FROM invoice_events e
LEFT JOIN invoices i USING (invoice_id)
{businesses_join("i", "bz")}
LEFT JOIN (SELECT invoice_id, any_value(changes->>'business_id') AS business_id,
                  any_value(changes->>'customer_id') AS customer_id
           FROM invoice_events WHERE action = 'deleted' GROUP BY invoice_id) d USING (invoice_id)
ORDER BY e.event_id"""  # noqa: S608 (conditions and subqueries built by the engine with ? placeholders; values bound)


def export_audit(con: duckdb.DuckDBPyConnection, out: Path) -> Path:
    """Write `audit.csv` (formula-safe); `out` is the file, or a folder to write audit.csv into."""
    out = Path(out)
    path = out / "audit.csv" if out.is_dir() else out
    path.parent.mkdir(parents=True, exist_ok=True)
    with transaction(con):
        con.execute(f"COPY ({_audit_sql()}) TO ? (FORMAT csv, HEADER)", [str(path)])
    return path
