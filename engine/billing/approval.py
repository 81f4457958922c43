"""Review before approval (spec section 8): approve, hold, release.

    draft ──approve──▶ approved ──finalize──▶ open
      ▲  ╲                │
      │   hold          hold
    release ╲             │
      │      ▼            ▼
      └──────────── held (reason required)

Approving is all or nothing: one transaction, one UPDATE and one INSERT of events for any number of
invoices (a run's 50k drafts at once). An id that is already approved is reported as such and changes
nothing (a double click, or a colleague who approved it a moment earlier), so approving is idempotent;
any other status (held, finalized, void) or an unknown id refuses the whole list, naming them.
Two actors approving the same draft at once: DuckDB lets only one UPDATE of the row commit; the other
transaction is retried on a fresh snapshot, finds it approved and records nothing.
"""

from __future__ import annotations

import duckdb

from ..db import retry_on_conflict
from ..errors import InvalidStateError, NotFoundError, ValidationError
from ..models import ApprovalResult, Invoice
from .audit import record_events, resolve_actor, utcnow
from .invoice_store import load_invoice
from .numbering import invoice_named


def _statuses(con: duckdb.DuckDBPyConnection, ids: list[str]) -> dict[str, str | None]:
    rows = con.execute(
        """SELECT t.invoice_id, i.status FROM unnest(?::VARCHAR[]) AS t(invoice_id)
           LEFT JOIN invoices i USING (invoice_id)""",
        [ids],
    ).fetchall()
    return dict(rows)


def _listed(pairs: list[tuple[str, str]], limit: int = 5) -> str:
    text = ", ".join(f"{i!r} is {s}" for i, s in pairs[:limit])
    return text + (f" (+{len(pairs) - limit} more)" if len(pairs) > limit else "")


def approve_invoices_tx(
    con: duckdb.DuckDBPyConnection, invoice_ids: list[str], *, actor: str | None = None, note: str | None = None
) -> ApprovalResult:
    """Approve drafts in the caller's transaction (see module doc); refuses the whole list on a bad id."""
    ids = list(dict.fromkeys(invoice_ids))
    who = resolve_actor(actor)
    if not ids:
        return ApprovalResult(approved=[], actor=who)
    status = _statuses(con, ids)
    unknown = [i for i in ids if status[i] is None]
    if unknown:
        raise NotFoundError(f"no invoice {', '.join(map(repr, unknown[:5]))}; nothing approved")
    bad = [(i, status[i]) for i in ids if status[i] not in ("draft", "approved")]
    if bad:
        hint = "; release a held invoice first" if any(s == "held" for _, s in bad) else ""
        raise InvalidStateError(f"only drafts can be approved: {_listed(bad)}{hint}; nothing approved")
    todo = [i for i in ids if status[i] == "draft"]
    now = utcnow()
    note = (note or "").strip() or None
    record_events(
        con,
        action="approved",
        actor=who,
        invoice_ids=todo,
        status_before="draft",
        status_after="approved",
        note=note,
        occurred_at=now,
    )
    con.execute(
        """UPDATE invoices SET status = 'approved', approved_by = ?, approved_at = ?
           WHERE invoice_id IN (SELECT unnest(?::VARCHAR[])) AND status = 'draft'""",
        [who, now, todo],
    )
    return ApprovalResult(approved=todo, already_approved=[i for i in ids if status[i] == "approved"], actor=who)


def approve_invoices(
    con: duckdb.DuckDBPyConnection, invoice_ids: list[str], *, actor: str | None = None, note: str | None = None
) -> ApprovalResult:
    """draft -> approved for every id, all or nothing; already approved ids are reported, not changed."""
    return retry_on_conflict(con, lambda c: approve_invoices_tx(c, invoice_ids, actor=actor, note=note))


def approve_invoice(
    con: duckdb.DuckDBPyConnection, invoice_id: str, *, actor: str | None = None, note: str | None = None
) -> Invoice:
    approve_invoices(con, [invoice_id], actor=actor, note=note)
    return load_invoice(con, invoice_id)


def _one_status(con: duckdb.DuckDBPyConnection, invoice_id: str) -> str:
    row = con.execute("SELECT status FROM invoices WHERE invoice_id = ?", [invoice_id]).fetchone()
    if row is None:
        raise NotFoundError(f"no invoice {invoice_id!r}")
    return row[0]


def hold_invoices_tx(
    c: duckdb.DuckDBPyConnection, invoice_ids: list[str], *, reason: str, actor: str | None = None
) -> list[str]:
    """draft or approved -> held for every id, in the caller's transaction, all or nothing: an unknown id,
    or one that is not a draft or approved (already held included), refuses the whole list."""
    ids = list(dict.fromkeys(invoice_ids))
    reason = (reason or "").strip()
    if not reason:
        named = repr(ids[0]) if len(ids) == 1 else f"{len(ids)} invoices"
        raise ValidationError(f"putting invoice {named} on hold needs a reason")
    status = _statuses(c, ids)
    unknown = [i for i in ids if status[i] is None]
    if unknown:
        raise NotFoundError(f"no invoice {', '.join(map(repr, unknown[:5]))}; nothing held")
    bad = [(i, status[i]) for i in ids if status[i] not in ("draft", "approved")]
    if bad:
        if len(ids) == 1:
            invoice_id, st = bad[0]
            hint = "; it is already held (release it to change the reason)" if st == "held" else ""
            raise InvalidStateError(
                f"cannot hold invoice {invoice_named(c, invoice_id)}: it is {st} (allowed: draft, approved){hint}"
            )
        raise InvalidStateError(f"only drafts and approved invoices can be held: {_listed(bad)}; nothing held")
    for before in ("draft", "approved"):
        record_events(
            c,
            action="held",
            actor=actor,
            invoice_ids=[i for i in ids if status[i] == before],
            status_before=before,
            status_after="held",
            note=reason,
        )
    c.execute(
        """UPDATE invoices SET status = 'held', hold_reason = ?, approved_by = NULL, approved_at = NULL
           WHERE invoice_id IN (SELECT unnest(?::VARCHAR[]))""",
        [reason, ids],
    )
    return ids


def hold_invoice(con: duckdb.DuckDBPyConnection, invoice_id: str, *, reason: str, actor: str | None = None) -> Invoice:
    """draft or approved -> held, with the reason (required). A hold withdraws an approval."""
    retry_on_conflict(con, lambda c: hold_invoices_tx(c, [invoice_id], reason=reason, actor=actor))
    return load_invoice(con, invoice_id)


def release_invoices_tx(
    c: duckdb.DuckDBPyConnection, invoice_ids: list[str], *, actor: str | None = None, note: str | None = None
) -> list[str]:
    """held -> draft for every id, in the caller's transaction, all or nothing (an id not held refuses all)."""
    ids = list(dict.fromkeys(invoice_ids))
    status = _statuses(c, ids)
    unknown = [i for i in ids if status[i] is None]
    if unknown:
        raise NotFoundError(f"no invoice {', '.join(map(repr, unknown[:5]))}; nothing released")
    bad = [(i, status[i]) for i in ids if status[i] != "held"]
    if bad:
        if len(ids) == 1:
            raise InvalidStateError(
                f"cannot release invoice {invoice_named(c, bad[0][0])}: it is {bad[0][1]}, not held"
            )
        raise InvalidStateError(f"only held invoices can be released: {_listed(bad)}; nothing released")
    record_events(
        c,
        action="released",
        actor=actor,
        invoice_ids=ids,
        status_before="held",
        status_after="draft",
        note=(note or "").strip() or None,
    )
    c.execute(
        "UPDATE invoices SET status = 'draft', hold_reason = NULL WHERE invoice_id IN (SELECT unnest(?::VARCHAR[]))",
        [ids],
    )
    return ids


def release_invoice(
    con: duckdb.DuckDBPyConnection, invoice_id: str, *, actor: str | None = None, note: str | None = None
) -> Invoice:
    """held -> draft (to be reviewed and approved again); the hold reason stays in the audit trail."""
    retry_on_conflict(con, lambda c: release_invoices_tx(c, [invoice_id], actor=actor, note=note))
    return load_invoice(con, invoice_id)
