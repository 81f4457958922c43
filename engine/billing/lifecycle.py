"""Invoice lifecycle (spec sections 4 and 8): finalize, void, delete a draft, record payments.

    draft ──approve──▶ approved ──finalize──▶ open ──payment──▶ partially_paid ──▶ manual_paid | stripe_paid
      │  ◀─release── held ◀─hold─┘               │                 │
    delete (draft, approved or held)            void ◀─────────────┘

Approve / hold / release live in approval.py; finalize takes only `approved` invoices, except on the
auto-finalize paths (bill run and batch `finalize`), which approve and finalize in one step
(`approve=True`, one event `approved_and_finalized`). Every change writes its audit event (audit.py)
in its own transaction.

A finalized invoice never changes: every write re-reads the status inside its own transaction.
Numbers come from invoice_number_counters: sequential and gapless per business, never reused.
The counter is written BEFORE the numbers are derived from it, so two cursors finalizing at once
collide on the counter row (DuckDB raises a conflict) instead of both reading the same old value;
the loser's transaction is rolled back whole and retried, so a failed finalize consumes no number.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import duckdb

from ..currencies import minor_units
from ..db import retry_on_conflict
from ..errors import InvalidStateError, InvoiceNotApprovedError, NotFoundError, ValidationError
from ..models import Invoice
from ..money import exact_minor, to_major
from ..statuses import PAID, PAYABLE, UNDER_REVIEW, InvoiceStatus
from .audit import record_events, resolve_actor
from .credit_notes import apply_customer_credit_tx, return_applied_credit_tx
from .invoice_store import BALANCE_DUE_TERMS, load_invoice
from .numbering import invoice_named

PAID_STATUS = {"manual": "manual_paid", "stripe": "stripe_paid"}


def _utcnow() -> dt.datetime:
    # Naive UTC, like every TIMESTAMP column of the store (cursors do not inherit SET TimeZone).
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _invoice_state(con: duckdb.DuckDBPyConnection, invoice_id: str) -> tuple[str, str, int, int]:
    """(status, currency, balance_due_minor, credit_notes_total_minor) as this transaction sees them
    (balance_due = total − credits_applied − total_paid − credit offsets: spec section 12)."""
    total, applied, paid, offset = BALANCE_DUE_TERMS
    row = con.execute(
        f"""SELECT status, currency, {total} - {applied} - {paid} - {offset}, credit_notes_total_minor
            FROM invoices WHERE invoice_id = ?""",  # noqa: S608 (column names from the engine's constant; values bound)
        [invoice_id],
    ).fetchone()
    if row is None:
        raise NotFoundError(f"no invoice {invoice_id!r}")
    return row


def _require(
    con: duckdb.DuckDBPyConnection, status: str, allowed: tuple[str, ...], invoice_id: str, action: str, hint: str = ""
) -> None:
    if status not in allowed:
        named = invoice_named(con, invoice_id)
        raise InvalidStateError(
            f"cannot {action} invoice {named}: it is {status} (allowed: {', '.join(allowed)}){hint}"
        )


# --- finalize ---------------------------------------------------------------------------------


def finalize_invoices_tx(
    con: duckdb.DuckDBPyConnection, invoice_ids: list[str], *, actor: str | None = None, approve: bool = False
) -> int:
    """Finalize approved invoices in the caller's transaction, numbering each business's in list order.

    Set-based for bill runs of 100k invoices: one counter upsert per statement, one UPDATE, one INSERT
    of events. Every id must be approved (with `approve`, the auto-finalize paths: a draft too, approved
    and finalized in this one step): unknown -> NotFoundError, draft/held -> InvoiceNotApprovedError,
    other status -> InvalidStateError, so the caller's transaction never half-finalizes a list.
    Returns the number of invoices finalized.
    """
    ids = list(dict.fromkeys(invoice_ids))  # first occurrence fixes the order
    if not ids:
        return 0
    allowed = ["approved", "draft"] if approve else ["approved"]
    bad = con.execute(
        """SELECT t.invoice_id, i.status FROM unnest(?::VARCHAR[]) AS t(invoice_id)
           LEFT JOIN invoices i USING (invoice_id)
           WHERE i.status IS NULL OR NOT list_contains(?::VARCHAR[], i.status) LIMIT 5""",
        [ids, allowed],
    ).fetchall()
    if bad:
        unknown = [i for i, s in bad if s is None]
        if unknown:
            raise NotFoundError(f"no invoice {', '.join(map(repr, unknown))}")
        listed = ", ".join(f"{i!r} is {s}" for i, s in bad)
        if all(s in UNDER_REVIEW for _, s in bad):
            raise InvoiceNotApprovedError(f"only approved invoices can be finalized: {listed}; approve it first")
        raise InvalidStateError(f"only approved invoices can be finalized: {listed}")
    who, now = resolve_actor(actor), _utcnow()
    # the status each invoice had, for its event (the UPDATE below overwrites it)
    con.execute(
        """CREATE OR REPLACE TEMP TABLE _finalizing AS
           SELECT t.invoice_id, t.ord, i.status AS status_before
           FROM unnest(?::VARCHAR[]) WITH ORDINALITY AS t(invoice_id, ord) JOIN invoices i USING (invoice_id)""",
        [ids],
    )
    # 1) Reserve numbers: last_number += invoices per business. A concurrent finalize of the same
    #    business conflicts right here (or at commit), before any number is handed out.
    reserved = con.execute(
        """INSERT INTO invoice_number_counters
           SELECT i.business_id, count(*) FROM _finalizing t
           JOIN invoices i USING (invoice_id) GROUP BY i.business_id
           ON CONFLICT (business_id) DO UPDATE
               SET last_number = invoice_number_counters.last_number + excluded.last_number
           RETURNING business_id, last_number""",
    ).fetchall()
    # 2) number = (last_number before) + position of the invoice among its business's invoices
    #           = reserved last_number − count + row_number. A draft approved in this same step
    #    carries the approval too (who and when), like one approved first.
    con.execute(
        """UPDATE invoices SET status = 'open', number = s.last_number - s.cnt + s.rn, finalized_at = ?,
               approved_by = CASE WHEN s.status_before = 'draft' THEN ? ELSE invoices.approved_by END,
               approved_at = CASE WHEN s.status_before = 'draft' THEN ? ELSE invoices.approved_at END
           FROM (SELECT t.invoice_id, t.status_before, r.last_number,
                        row_number() OVER (PARTITION BY i.business_id ORDER BY t.ord) AS rn,
                        count(*) OVER (PARTITION BY i.business_id) AS cnt
                 FROM _finalizing t
                 JOIN invoices i USING (invoice_id)
                 JOIN (SELECT unnest(?::VARCHAR[]) AS business_id, unnest(?::BIGINT[]) AS last_number) r
                   USING (business_id)) s
           WHERE invoices.invoice_id = s.invoice_id""",
        [now, who, now, [b for b, _ in reserved], [n for _, n in reserved]],
    )
    # 3) the customers' credit (spec section 12), in number order per customer and currency
    apply_customer_credit_tx(con, "_finalizing")
    for action, before in (("finalized", "approved"), ("approved_and_finalized", "draft")):
        record_events(
            con,
            action=action,
            actor=who,
            occurred_at=now,
            from_sql="""SELECT t.invoice_id, t.status_before, 'open' AS status_after,
                               (CASE WHEN i.credits_applied_minor = 0 THEN json_object('number', i.number)
                                     ELSE json_object('number', i.number,
                                                      'credits_applied_minor', i.credits_applied_minor) END
                               )::VARCHAR AS changes
                        FROM _finalizing t JOIN invoices i USING (invoice_id)
                        WHERE t.status_before = ? ORDER BY t.ord""",
            params=[before],
        )
    return len(ids)


def finalize_invoices(con: duckdb.DuckDBPyConnection, invoice_ids: list[str], *, actor: str | None = None) -> int:
    """Finalize approved invoices, all or nothing, numbered in list order (per business); retried on
    concurrent finalizes. Any id not approved refuses the whole list. Returns how many were finalized."""
    return retry_on_conflict(con, lambda c: finalize_invoices_tx(c, invoice_ids, actor=actor))


def finalize_invoice_tx(c: duckdb.DuckDBPyConnection, invoice_id: str, *, actor: str | None = None) -> None:
    """`finalize_invoice` in the caller's transaction, with the message that names what to do first."""
    status = _invoice_state(c, invoice_id)[0]
    if status in UNDER_REVIEW and status != "approved":
        hint = "release it, then approve it" if status == "held" else "approve it"
        raise InvoiceNotApprovedError(
            f"cannot finalize invoice {invoice_id!r}: it is {status}, not approved; {hint} first"
        )
    _require(c, status, ("approved",), invoice_id, "finalize")
    finalize_invoices_tx(c, [invoice_id], actor=actor)


def finalize_invoice(con: duckdb.DuckDBPyConnection, invoice_id: str, *, actor: str | None = None) -> Invoice:
    """approved -> open with the business's next number; retried on concurrent finalizes.
    A draft or held invoice is refused (`invoice_not_approved`): approve it first."""
    retry_on_conflict(con, lambda c: finalize_invoice_tx(c, invoice_id, actor=actor))
    return load_invoice(con, invoice_id)


# --- void and delete --------------------------------------------------------------------------


def void_invoice_tx(
    c: duckdb.DuckDBPyConnection, invoice_id: str, reason: str | None = None, *, actor: str | None = None
) -> None:
    """`void_invoice` in the caller's transaction."""
    reason = (reason or "").strip() or None
    status, _, _, credited = _invoice_state(c, invoice_id)
    hint = "; delete the draft instead" if status in UNDER_REVIEW else ""
    if status != InvoiceStatus.PARTIALLY_PAID:  # paid in part: refused below, naming what was paid and the way out
        _require(c, status, (InvoiceStatus.OPEN,), invoice_id, "void", hint)
    if credited:  # its credit notes already corrected part of it: a void would cancel that part twice
        raise InvalidStateError(
            f"cannot void invoice {invoice_named(c, invoice_id)}: credit notes corrected it already; credit what is "
            "left instead (a credit note of everything left)"
        )
    paid, currency = c.execute(
        "SELECT total_paid_minor, currency FROM invoices WHERE invoice_id = ?", [invoice_id]
    ).fetchone()
    if paid:  # spec section 4: open -> void; a void would leave the money received on nothing
        raise InvalidStateError(
            f"cannot void invoice {invoice_named(c, invoice_id)}: {to_major(paid, currency)} {currency} was paid on "
            "it; issue a credit note of everything left instead, refunding what was paid or keeping it as the "
            "customer's credit"
        )
    returned = return_applied_credit_tx(c, invoice_id)  # the customer's credit it took at finalize goes back
    c.execute(
        "UPDATE invoices SET status = 'void', voided_at = ?, void_reason = ? WHERE invoice_id = ?",
        [_utcnow(), reason, invoice_id],
    )
    c.execute("DELETE FROM invoice_cycle_claims WHERE invoice_id = ?", [invoice_id])
    released = c.execute(
        "DELETE FROM delayed_charge_sweeps WHERE invoice_id = ? RETURNING charge_id", [invoice_id]
    ).fetchall()
    record_events(  # what the void changed besides the status: the credit given back, the charges pending again
        c,
        action="voided",
        actor=actor,
        invoice_ids=[invoice_id],
        status_before=status,
        status_after="void",
        note=reason,
        changes={
            "credits_returned": str(to_major(returned, currency)),
            "credits_returned_minor": returned,
            "currency": currency,
            "released_delayed_charges": sorted(r[0] for r in released),
        },
    )


def void_invoice(
    con: duckdb.DuckDBPyConnection, invoice_id: str, reason: str | None = None, *, actor: str | None = None
) -> Invoice:
    """open -> void (spec section 4); an invoice something was paid on is refused (a credit note of everything left
    corrects it, refunding or crediting the payment). It keeps its number; its cycle claim and its delayed charges
    are released: a void invoice collects nothing, so the cycle may be drafted again and the
    charges billed on the next invoice that sweeps them. `reason` is kept with the invoice (a blank
    one counts as none). The customer credit it took at finalize goes back to the customer; an invoice
    with credit notes cannot be voided (credit what is left instead). The `voided` event's changes say what the void
    gave back: the credit returned and the delayed charges pending again."""
    retry_on_conflict(con, lambda c: void_invoice_tx(c, invoice_id, reason, actor=actor))
    return load_invoice(con, invoice_id)


# What corrects a finalized invoice instead of a delete (spec section 4: it never changes); a void one needs nothing.
# Something paid on it: a void is refused too (void_invoice_tx), a credit note corrects it.
_FINALIZED_HINT: dict[str, str] = {InvoiceStatus.OPEN.value: "; void it or issue a credit note instead"} | {
    str(status): "; issue a credit note instead" for status in (InvoiceStatus.PARTIALLY_PAID, *PAID)
}


def delete_draft_tx(c: duckdb.DuckDBPyConnection, invoice_id: str, *, actor: str | None = None) -> list[str]:
    """`delete_draft` in the caller's transaction."""
    status = _invoice_state(c, invoice_id)[0]
    _require(c, status, UNDER_REVIEW, invoice_id, "delete", _FINALIZED_HINT.get(status, ""))
    record_events(
        c,
        action="deleted",
        actor=actor,
        from_sql="""SELECT invoice_id, status AS status_before, NULL AS status_after,
                           json_object('business_id', business_id, 'customer_id', customer_id,
                                       'contract_id', contract_id, 'total_minor', total_minor,
                                       'currency', currency)::VARCHAR AS changes
                    FROM invoices WHERE invoice_id = ?""",
        params=[invoice_id],
    )
    released = c.execute(
        "DELETE FROM delayed_charge_sweeps WHERE invoice_id = ? RETURNING charge_id", [invoice_id]
    ).fetchall()
    for table in (
        "invoice_lines",
        "invoice_taxes",
        "invoice_coupons",
        "invoice_cycle_claims",
        "idempotency_keys",
        "invoices",
    ):
        c.execute(f"DELETE FROM {table} WHERE invoice_id = ?", [invoice_id])  # noqa: S608 (table names from the engine's allow-lists (schema.INPUT_TABLES, import_rules.TABLES); values bound)
    return sorted(r[0] for r in released)


def delete_draft(con: duckdb.DuckDBPyConnection, invoice_id: str, *, actor: str | None = None) -> list[str]:
    """Delete an invoice not yet finalized (draft, approved or held) with its lines, its cycle claim and
    its idempotency key. Its swept delayed charges become pending again; returns their charge ids.
    The `deleted` event keeps who it was for (business, customer, contract, total): the row is gone.
    """
    return retry_on_conflict(con, lambda c: delete_draft_tx(c, invoice_id, actor=actor))


# --- payments ---------------------------------------------------------------------------------


def _payment_minor(amount: Decimal, currency: str) -> int:
    """A payment in major units -> exact minor units; more decimals than the currency has is an error."""
    if not isinstance(amount, Decimal) or not amount.is_finite():
        raise ValidationError(f"payment amount must be a finite decimal, got {amount!r}")
    minor = exact_minor(amount, currency)
    if minor is None:
        raise ValidationError(f"payment {amount:f} has more decimals than {currency} allows ({minor_units(currency)})")
    return minor


def record_payment_tx(
    c: duckdb.DuckDBPyConnection,
    invoice_id: str,
    amount: Decimal,
    method: str = "manual",
    *,
    actor: str | None = None,
) -> None:
    """`record_payment` in the caller's transaction (the API stores its idempotent response in the same one)."""
    if method not in PAID_STATUS:
        raise ValidationError(f"unknown payment method {method!r}: use 'manual' or 'stripe'")
    status, currency, balance, _ = _invoice_state(c, invoice_id)
    _require(c, status, PAYABLE, invoice_id, "pay")
    minor = _payment_minor(amount, currency)
    if minor <= 0:
        raise ValidationError(f"payment must be positive, got {amount:f} {currency}")
    if minor > balance:  # the amount as given: a huge one has more digits than to_major can quantize
        raise ValidationError(
            f"payment {amount:f} {currency} exceeds the balance due "
            f"{to_major(balance, currency)} {currency} of invoice {invoice_named(c, invoice_id)}",
            code="payment_exceeds_balance",  # as a credit note's offset_exceeds_balance
        )
    new_status = "partially_paid" if minor < balance else PAID_STATUS[method]
    payment_id = "pay_" + uuid.uuid4().hex[:20]
    c.execute("INSERT INTO payments VALUES (?, ?, ?, ?, ?)", [payment_id, invoice_id, minor, method, _utcnow()])
    record_events(
        c,
        action="payment_recorded",
        actor=actor,
        invoice_ids=[invoice_id],
        status_before=status,
        status_after=new_status,
        changes={
            "payment_id": payment_id,
            "amount": str(to_major(minor, currency)),
            "amount_minor": minor,
            "currency": currency,
            "method": method,
        },
    )
    c.execute(
        "UPDATE invoices SET total_paid_minor = total_paid_minor + ?, status = ? WHERE invoice_id = ?",
        [minor, new_status, invoice_id],
    )


def record_payment(
    con: duckdb.DuckDBPyConnection,
    invoice_id: str,
    amount: Decimal,
    method: str = "manual",
    *,
    actor: str | None = None,
) -> Invoice:
    """Record a payment (major units) against an open or partially paid invoice.

    0 < amount ≤ balance_due. status -> partially_paid while a balance remains, else manual_paid
    or stripe_paid by `method`.
    """
    retry_on_conflict(con, lambda c: record_payment_tx(c, invoice_id, amount, method, actor=actor))
    return load_invoice(con, invoice_id)
