"""Credit notes (spec section 12): a finalized invoice is corrected by a credit note, never changed.

    creditable(line)   = amount − discount − Σ what earlier notes took from it                 (never below 0)
    tax of a note      per tax code k of the credited lines, base_k = Σ credited amounts carrying k:
                         left_k = the invoice's tax k − Σ tax k of earlier notes
                         k's lines all fully credited after this note:  left_k        (the last note takes the rest)
                         otherwise:                                      min(round(base_k × rate / 100), left_k)
    total              = Σ items + Σ taxes  ≤  what is left of the invoice's total (total − Σ earlier notes)
    split              total = offset + refund + credit;  offset ≤ balance due;  refund ≤ payments − refunds;
                         without offset and credit given: offset = min(balance due, total − refund), the rest credit

so all the notes of an invoice sum to at most its total, to the minor unit (exactly, once everything is credited).
Each note's tax per code is shared over its items by largest remainder (ties to the smaller line number), so the
items' taxes sum to the note's tax. The note is numbered `<invoice number>-CN<n>` (engine/billing/numbering.py).

One plan (`_plan`) for the estimate and the issue: the note an estimate shows is the note issued from the same
request on the same ledger. Issuing writes the invoice's row (its credit totals): two notes on one invoice at the
same moment conflict there and the later one is re-run on what the first left (and `(invoice_id, sequence)` is
unique), so together they never credit more than the invoice holds.

Customer credit: one row per (customer, currency), written by every movement; each movement is also an entry of
its history (`customer_credit_entries`: credit_note +, applied −, void_returned +).
    at finalize, for the invoices finalized together in number order (per customer and currency):
        credits_applied = min(what the balance still holds, max(total, 0))
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from decimal import Decimal

import duckdb

from ..errors import InvalidStateError, NotFoundError, ValidationError
from ..models import (
    CREDIT_NOTE_REASONS,
    CreditableLine,
    CreditNote,
    CreditNoteEstimate,
    CreditNoteItem,
    CreditNoteTax,
    CustomerCredit,
)
from ..money import BIGINT_MAX, exact_minor, tax_minor, to_major
from ..rating.adjustments import NO_TAX
from ..statuses import FINALIZED
from .audit import record_events, resolve_actor, utcnow
from .invoice_store import TAX_ORDER, balance_due_minor, rows_as_dicts, tax_code_list
from .numbering import credit_note_number, invoice_number

REASONS = CREDIT_NOTE_REASONS
ENTRY_KINDS = ("credit_note", "applied", "void_returned")


def new_credit_note_id() -> str:
    return "cn_" + uuid.uuid4().hex[:20]


# --- what an invoice can still be credited ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Line:
    line_no: int
    line_id: str | None
    kind: str
    product: str | None
    description: str | None
    amount: int
    discount: int
    credited: int
    tax_codes: str | None  # as stored: 'T1;T2', 'none', NULL (the customer's single tax_rate)

    @property
    def creditable(self) -> int:
        return max(0, self.amount - self.discount - self.credited)

    def carries(self, key: str | None) -> bool:
        """Whether the line carries tax `key` (None: the single tax_rate, carried by lines without codes)."""
        if self.tax_codes is None:
            return key is None
        return key is not None and self.tax_codes != NO_TAX and key in self.tax_codes.split(";")


@dataclass(frozen=True)
class _Tax:
    key: str | None
    name: str
    rate: Decimal
    amount: int  # the invoice's tax of this code
    credited: int  # Σ tax of this code on earlier notes

    @property
    def left(self) -> int:
        return max(0, self.amount - self.credited)


@dataclass(frozen=True)
class _Invoice:
    invoice_id: str
    business_id: str
    customer_id: str
    status: str
    currency: str
    number_text: str | None
    total: int
    paid: int
    refunded: int
    notes_total: int
    notes: int  # how many notes it has
    balance: int
    lines: tuple[_Line, ...]
    taxes: tuple[_Tax, ...]

    @property
    def named(self) -> str:
        """How a refusal names it: its number (what a finance user sees), else its id in quotes."""
        return self.number_text or repr(self.invoice_id)

    @property
    def creditable_total(self) -> int:
        return max(0, self.total - self.notes_total)

    @property
    def max_offset(self) -> int:
        return max(0, self.balance)

    @property
    def max_refund(self) -> int:
        return max(0, self.paid - self.refunded)


def _read_invoice(con: duckdb.DuckDBPyConnection, invoice_id: str) -> _Invoice:
    """The invoice, its lines and taxes, and what its credit notes took, as this transaction sees them."""
    heads = rows_as_dicts(
        con.execute(
            "SELECT i.*, b.invoice_prefix FROM invoices i LEFT JOIN businesses b USING (business_id) "
            "WHERE i.invoice_id = ?",
            [invoice_id],
        )
    )
    if not heads:
        raise NotFoundError.of("invoice", invoice_id)
    head = heads[0]
    lines = con.execute(
        """SELECT l.line_no, l.line_id, l.kind, l.product, l.description, l.amount_minor, l.discount_minor,
                  coalesce(c.credited, 0)::BIGINT, l.tax_codes
           FROM invoice_lines l
           LEFT JOIN (SELECT ci.line_no, sum(ci.amount_minor) AS credited
                      FROM credit_note_items ci JOIN credit_notes n USING (credit_note_id)
                      WHERE n.invoice_id = ? GROUP BY ci.line_no) c USING (line_no)
           WHERE l.invoice_id = ? ORDER BY l.line_no""",
        [invoice_id, invoice_id],
    ).fetchall()
    taxes = con.execute(
        f"""SELECT t.tax_code, t.name, t.rate, t.amount_minor, coalesce(c.credited, 0)::BIGINT
            FROM invoice_taxes t
            LEFT JOIN (SELECT ct.tax_code, sum(ct.amount_minor) AS credited
                       FROM credit_note_taxes ct JOIN credit_notes n USING (credit_note_id)
                       WHERE n.invoice_id = ? GROUP BY ct.tax_code) c
              ON c.tax_code IS NOT DISTINCT FROM t.tax_code
            WHERE t.invoice_id = ? ORDER BY {TAX_ORDER}""",  # noqa: S608 (an engine constant; values bound)
        [invoice_id, invoice_id],
    ).fetchall()
    notes = con.execute("SELECT count(*) FROM credit_notes WHERE invoice_id = ?", [invoice_id]).fetchone()[0]
    return _Invoice(
        invoice_id=invoice_id,
        business_id=head["business_id"],
        customer_id=head["customer_id"],
        status=head["status"],
        currency=head["currency"],
        number_text=invoice_number(head["invoice_prefix"], head["finalized_at"], head["number"]),
        total=head["total_minor"],
        paid=head["total_paid_minor"],
        refunded=head["refunded_minor"],
        notes_total=head["credit_notes_total_minor"],
        notes=int(notes),
        balance=balance_due_minor(head),
        lines=tuple(_Line(*row) for row in lines),
        taxes=tuple(_Tax(*row) for row in taxes),
    )


def _creditable(inv: _Invoice) -> None:
    if inv.status not in FINALIZED:
        hint = "; finalize it first" if inv.status in ("draft", "approved", "held") else ""
        raise InvalidStateError(
            f"cannot credit invoice {inv.named}: it is {inv.status} (a credit note credits a finalized, "
            f"non-void invoice: {', '.join(FINALIZED)}){hint}"
        )


# --- the plan of one note (estimate and issue alike) -----------------------------------------------------------


def _minor(amount: Decimal, currency: str, what: str) -> int:
    """A major-unit amount the user gave as exact minor units; more decimals than the currency has is refused."""
    if not isinstance(amount, Decimal) or not amount.is_finite():
        raise ValidationError(f"{what} must be a finite decimal, got {amount!r}")
    minor = exact_minor(amount, currency)
    if minor is None:
        raise ValidationError(f"{what} {amount} has more decimals than {currency} allows")
    if abs(minor) > BIGINT_MAX:
        raise ValidationError(f"{what} {amount} is beyond the largest storable amount", code="amount_out_of_range")
    return minor


def split_by_largest_remainder(amount: int, weights: dict[int, int]) -> dict[int, int]:
    """`amount` (≥ 0) in whole minor units over keys in proportion to their weights (> 0): ⌊amount × w / W⌋, plus
    one unit for the keys of largest remainder (amount × w mod W); ties to the smaller key. Sums to `amount`."""
    whole = sum(weights.values())
    shares = {k: amount * w // whole for k, w in weights.items()}
    left = amount - sum(shares.values())
    for k in sorted(weights, key=lambda k: (-(amount * weights[k] % whole), k))[:left]:
        shares[k] += 1
    return shares


def _requested(inv: _Invoice, items: list[tuple[int, Decimal]] | None, everything: bool) -> dict[int, int]:
    """line_no -> amount to credit (minor units), each within what the line can still be credited."""
    if everything and items:
        raise ValidationError("give the lines to credit or all (everything left), not both")
    lines = {ln.line_no: ln for ln in inv.lines}
    if everything:
        wanted = {ln.line_no: ln.creditable for ln in inv.lines if ln.creditable > 0}
        if not wanted:
            raise ValidationError(
                f"invoice {inv.named} has nothing left to credit: every line is fully credited",
                code="nothing_to_credit",
            )
        return wanted
    if not items:
        raise ValidationError("name the lines to credit (line number and amount), or all (everything left)")
    wanted: dict[int, int] = {}
    for line_no, amount in items:
        if line_no in wanted:
            raise ValidationError(f"line {line_no} is named twice; give each line once with its amount")
        line = lines.get(line_no)
        if line is None:
            raise ValidationError(
                f"invoice {inv.named} has no line {line_no} (its lines: {', '.join(map(str, lines)) or 'none'})",
                code="line_not_found",
            )
        minor = _minor(amount, inv.currency, f"the amount of line {line_no}")
        if minor <= 0:
            raise ValidationError(f"the amount of line {line_no} must be more than 0, got {amount}")
        if minor > line.creditable:
            raise ValidationError(
                f"line {line_no} can still be credited at most {to_major(line.creditable, inv.currency)} "
                f"{inv.currency} (its amount {to_major(line.amount, inv.currency)} − discount "
                f"{to_major(line.discount, inv.currency)} − earlier credit notes "
                f"{to_major(line.credited, inv.currency)}); asked {amount}",
                code="credit_exceeds_line",
            )
        wanted[line_no] = minor
    return wanted


def _note_taxes(inv: _Invoice, wanted: dict[int, int]) -> tuple[list[tuple[_Tax, int, int]], dict[int, int]]:
    """The note's taxes [(tax, base, amount)] (module doc) and each item's share of them."""
    rows, item_tax = [], dict.fromkeys(wanted, 0)
    for tax in inv.taxes:
        carrying = [ln for ln in inv.lines if ln.carries(tax.key)]
        credited = {ln.line_no: wanted[ln.line_no] for ln in carrying if ln.line_no in wanted}
        if not credited:
            continue
        base = sum(credited.values())
        finished = all(ln.creditable == wanted.get(ln.line_no, 0) for ln in carrying)
        amount = tax.left if finished else min(tax_minor(base, tax.rate), tax.left)
        rows.append((tax, base, amount))
        if amount:
            for line_no, share in split_by_largest_remainder(amount, credited).items():
                item_tax[line_no] += share
    return rows, item_tax


def _split(
    inv: _Invoice, total: int, refund: Decimal | None, credit: Decimal | None, offset: Decimal | None
) -> tuple[int, int, int]:
    """(offset, refund, credit) of a note of `total`, each within its limit (module doc)."""
    cur = inv.currency

    def major(minor: int) -> str:
        return f"{to_major(minor, cur)} {cur}"

    r = 0 if refund is None else _minor(refund, cur, "refund")
    c = None if credit is None else _minor(credit, cur, "credit")
    o = None if offset is None else _minor(offset, cur, "offset")
    for name, value in (("refund", r), ("credit", c), ("offset", o)):
        if value is not None and value < 0:
            raise ValidationError(f"{name} cannot be negative, got {major(value)}")
    if r > inv.max_refund:
        raise ValidationError(
            f"refund {major(r)} is more than the payments less earlier refunds, {major(inv.max_refund)} "
            f"(paid {major(inv.paid)}, refunded {major(inv.refunded)})",
            code="refund_exceeds_payments",
        )
    if o is None and c is None:
        o = max(0, min(inv.max_offset, total - r))
        c = total - r - o
    elif o is None:
        o = total - r - c
    elif c is None:
        c = total - r - o
    if o < 0 or c < 0 or o + r + c != total:
        raise ValidationError(
            f"the split does not add up: offset {major(max(o, 0))} + refund {major(r)} + credit {major(max(c, 0))} "
            f"must be the credit note's total {major(total)}",
            code="split_mismatch",
        )
    if o > inv.max_offset:
        raise ValidationError(
            f"offset {major(o)} is more than the balance due {major(inv.max_offset)} of invoice {inv.named}; "
            "refund or credit the rest",
            code="offset_exceeds_balance",
        )
    return o, r, c


def _plan(
    inv: _Invoice,
    items: list[tuple[int, Decimal]] | None,
    everything: bool,
    refund: Decimal | None,
    credit: Decimal | None,
    offset: Decimal | None,
) -> CreditNote:
    """The note this request makes on `inv` (no id, number or time yet), or a refusal naming the limit."""
    _creditable(inv)
    wanted = _requested(inv, items, everything)
    tax_rows, item_tax = _note_taxes(inv, wanted)
    cur = inv.currency
    subtotal = sum(wanted.values())
    tax = sum(amount for _, _, amount in tax_rows)
    total = subtotal + tax
    if total > inv.creditable_total:
        raise ValidationError(
            f"this credit note's total {to_major(total, cur)} {cur} is more than what is left to credit of invoice "
            f"{inv.named}: {to_major(inv.creditable_total, cur)} {cur} (its total "
            f"{to_major(inv.total, cur)} − earlier credit notes {to_major(inv.notes_total, cur)})",
            code="credit_exceeds_invoice",
        )
    o, r, c = _split(inv, total, refund, credit, offset)
    lines = {ln.line_no: ln for ln in inv.lines}
    return CreditNote(
        sequence=inv.notes + 1,
        invoice_id=inv.invoice_id,
        invoice_number=inv.number_text or "",
        business_id=inv.business_id,
        customer_id=inv.customer_id,
        currency=cur,
        **{k: to_major(v, cur) for k, v in _figures(subtotal, tax, total, o, r, c).items()},
        **{f"{k}_minor": v for k, v in _figures(subtotal, tax, total, o, r, c).items()},
        items=[
            CreditNoteItem(
                line_no=n,
                line_id=lines[n].line_id,
                kind=lines[n].kind,
                product=lines[n].product,
                description=lines[n].description,
                amount=to_major(amount, cur),
                amount_minor=amount,
                tax=to_major(item_tax[n], cur),
                tax_minor=item_tax[n],
            )
            for n, amount in sorted(wanted.items())
        ],
        taxes=[
            CreditNoteTax(
                code=t.key,
                name=t.name,
                rate=_plain(t.rate),
                base=to_major(base, cur),
                amount=to_major(amount, cur),
                base_minor=base,
                amount_minor=amount,
            )
            for t, base, amount in tax_rows
        ],
    )


def _figures(subtotal: int, tax: int, total: int, offset: int, refund: int, credit: int) -> dict[str, int]:
    return {"subtotal": subtotal, "tax": tax, "total": total, "offset": offset, "refund": refund, "credit": credit}


def _plain(value) -> Decimal:
    return Decimal(format(Decimal(value).normalize(), "f"))


def _line_view(ln: _Line, currency: str) -> CreditableLine:
    return CreditableLine(
        line_no=ln.line_no,
        line_id=ln.line_id,
        kind=ln.kind,
        product=ln.product,
        description=ln.description,
        amount=to_major(ln.amount, currency),
        discount=to_major(ln.discount, currency),
        credited=to_major(ln.credited, currency),
        creditable=to_major(ln.creditable, currency),
        amount_minor=ln.amount,
        discount_minor=ln.discount,
        credited_minor=ln.credited,
        creditable_minor=ln.creditable,
        tax_codes=tax_code_list(ln.tax_codes),
    )


def estimate_credit_note(
    con: duckdb.DuckDBPyConnection,
    invoice_id: str,
    *,
    items: list[tuple[int, Decimal]] | None = None,
    everything: bool = False,
    refund: Decimal | None = None,
    credit: Decimal | None = None,
    offset: Decimal | None = None,
) -> CreditNoteEstimate:
    """What the invoice can still be credited; with lines (or `everything`), also the note they would make.
    Changes nothing. A draft or a void invoice is refused (invalid_state) like an issue."""
    inv = _read_invoice(con, invoice_id)
    _creditable(inv)
    note = None
    if items or everything:
        note = _plan(inv, items, everything, refund, credit, offset)
    cur = inv.currency
    # The most the NEXT note may offset / refund: each part of a note is at most the note's total, which is at most
    # what is left to credit; so never more than that, whatever the balance due or the payments (a paid $103.99
    # invoice with $54.07 left to credit refunds at most $54.07, not $103.99).
    figures = {
        "total": inv.total,
        "credit_notes_total": inv.notes_total,
        "creditable_total": inv.creditable_total,
        "balance_due": inv.balance,
        "max_offset": min(inv.max_offset, inv.creditable_total),
        "max_refund": min(inv.max_refund, inv.creditable_total),
        "paid_less_refunds": inv.max_refund,
    }
    return CreditNoteEstimate(
        invoice_id=invoice_id,
        invoice_number=inv.number_text,
        status=inv.status,
        currency=cur,
        **{k: to_major(v, cur) for k, v in figures.items()},
        **{f"{k}_minor": v for k, v in figures.items()},
        lines=[_line_view(ln, cur) for ln in inv.lines],
        credit_note=note,
    )


# --- issuing ---------------------------------------------------------------------------------------------------


def create_credit_note_tx(
    con: duckdb.DuckDBPyConnection,
    invoice_id: str,
    *,
    reason: str,
    items: list[tuple[int, Decimal]] | None = None,
    everything: bool = False,
    refund: Decimal | None = None,
    credit: Decimal | None = None,
    offset: Decimal | None = None,
    note: str | None = None,
    actor: str | None = None,
) -> str:
    """Issue a credit note in the caller's transaction (all or nothing): the note, its items and taxes, the
    invoice's credit totals, the customer's credit, and an audit event of the invoice. Returns its id."""
    if reason not in REASONS:
        raise ValidationError(f"unknown reason {str(reason)[:40]!r}: use one of {', '.join(REASONS)}")
    note = (note or "").strip() or None
    inv = _read_invoice(con, invoice_id)
    plan = _plan(inv, items, everything, refund, credit, offset)
    who, now = resolve_actor(actor), utcnow()
    # the invoice's row first: a note issued at the same moment on the same invoice conflicts here (the later
    # transaction is re-run on what the first left: module doc)
    con.execute(
        """UPDATE invoices SET credit_notes_total_minor = credit_notes_total_minor + ?,
               credit_offset_minor = credit_offset_minor + ?, refunded_minor = refunded_minor + ?
           WHERE invoice_id = ?""",
        [plan.total_minor, plan.offset_minor, plan.refund_minor, invoice_id],
    )
    credit_note_id = new_credit_note_id()
    number = credit_note_number(plan.invoice_number, plan.sequence)
    con.execute(
        """INSERT INTO credit_notes (credit_note_id, invoice_id, sequence, number, invoice_number, business_id,
               customer_id, currency, reason, note, subtotal_minor, tax_minor, total_minor, offset_minor,
               refund_minor, credit_minor, created_at, actor)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
        [
            credit_note_id,
            invoice_id,
            plan.sequence,
            number,
            plan.invoice_number,
            plan.business_id,
            plan.customer_id,
            plan.currency,
            reason,
            note,
            plan.subtotal_minor,
            plan.tax_minor,
            plan.total_minor,
            plan.offset_minor,
            plan.refund_minor,
            plan.credit_minor,
            now,
            who,
        ],
    )
    con.execute(
        """INSERT INTO credit_note_items (credit_note_id, line_no, amount_minor, tax_minor)
           SELECT ?, unnest(?::INTEGER[]), unnest(?::BIGINT[]), unnest(?::BIGINT[])""",
        [
            credit_note_id,
            [i.line_no for i in plan.items],
            [i.amount_minor for i in plan.items],
            [i.tax_minor for i in plan.items],
        ],
    )
    for t in plan.taxes:
        con.execute(
            "INSERT INTO credit_note_taxes VALUES (?, ?, ?, ?, ?, ?)",
            [credit_note_id, t.code, t.name, t.rate, t.base_minor, t.amount_minor],
        )
    if plan.credit_minor:
        add_customer_credit_tx(
            con, plan.customer_id, plan.currency, plan.credit_minor, "credit_note", credit_note_id=credit_note_id
        )
    cur = plan.currency
    record_events(
        con,
        action="credit_note_issued",
        actor=who,
        invoice_ids=[invoice_id],
        status_before=inv.status,
        status_after=inv.status,  # a credit note never changes the invoice's status
        note=reason + (f": {note}" if note else ""),
        occurred_at=now,
        changes={
            "credit_note_id": credit_note_id,
            "number": number,
            "reason": reason,
            "currency": cur,
            **{k: str(getattr(plan, k)) for k in ("subtotal", "tax", "total", "offset", "refund", "credit")},
            "lines": {str(i.line_no): str(i.amount) for i in plan.items},
        },
    )
    return credit_note_id


# --- reading notes back ----------------------------------------------------------------------------------------


def load_credit_notes(con: duckdb.DuckDBPyConnection, credit_note_ids: list[str]) -> list[CreditNote]:
    """The notes (in the order of the ids; unknown ones left out) with their items and taxes (three queries)."""
    ids = list(dict.fromkeys(credit_note_ids))
    if not ids:
        return []
    heads = {
        h["credit_note_id"]: h
        for h in rows_as_dicts(
            con.execute("SELECT * FROM credit_notes WHERE list_contains(?::VARCHAR[], credit_note_id)", [ids])
        )
    }
    items: dict[str, list[dict]] = {i: [] for i in heads}
    for row in rows_as_dicts(
        con.execute(
            """SELECT ci.credit_note_id, ci.line_no, ci.amount_minor, ci.tax_minor, l.line_id, l.kind, l.product,
                      l.description
               FROM credit_note_items ci JOIN credit_notes n USING (credit_note_id)
               LEFT JOIN invoice_lines l ON l.invoice_id = n.invoice_id AND l.line_no = ci.line_no
               WHERE list_contains(?::VARCHAR[], ci.credit_note_id) ORDER BY ci.credit_note_id, ci.line_no""",
            [ids],
        )
    ):
        items[row["credit_note_id"]].append(row)
    taxes: dict[str, list[dict]] = {i: [] for i in heads}
    for row in rows_as_dicts(
        con.execute(
            f"""SELECT * FROM credit_note_taxes WHERE list_contains(?::VARCHAR[], credit_note_id)
                ORDER BY credit_note_id, {TAX_ORDER}""",  # noqa: S608 (an engine constant; values bound)
            [ids],
        )
    ):
        taxes[row["credit_note_id"]].append(row)
    return [_note_from_rows(heads[i], items[i], taxes[i]) for i in ids if i in heads]


def _note_from_rows(head: dict, items: list[dict], taxes: list[dict]) -> CreditNote:
    cur = head["currency"]
    figures = {k: head[f"{k}_minor"] for k in ("subtotal", "tax", "total", "offset", "refund", "credit")}
    return CreditNote(
        credit_note_id=head["credit_note_id"],
        number=head["number"],
        sequence=head["sequence"],
        invoice_id=head["invoice_id"],
        invoice_number=head["invoice_number"],
        business_id=head["business_id"],
        customer_id=head["customer_id"],
        currency=cur,
        reason=head["reason"],
        note=head["note"],
        **{k: to_major(v, cur) for k, v in figures.items()},
        **{f"{k}_minor": v for k, v in figures.items()},
        items=[
            CreditNoteItem(
                line_no=r["line_no"],
                line_id=r["line_id"],
                kind=r["kind"],
                product=r["product"],
                description=r["description"],
                amount=to_major(r["amount_minor"], cur),
                amount_minor=r["amount_minor"],
                tax=to_major(r["tax_minor"], cur),
                tax_minor=r["tax_minor"],
            )
            for r in items
        ],
        taxes=[
            CreditNoteTax(
                code=r["tax_code"],
                name=r["name"],
                rate=_plain(r["rate"]),
                base=to_major(r["base_minor"], cur),
                amount=to_major(r["amount_minor"], cur),
                base_minor=r["base_minor"],
                amount_minor=r["amount_minor"],
            )
            for r in taxes
        ],
        created_at=head["created_at"],
        actor=head["actor"],
    )


def load_credit_note(con: duckdb.DuckDBPyConnection, credit_note_id: str) -> CreditNote:
    found = load_credit_notes(con, [credit_note_id])
    if not found:
        raise NotFoundError.of("credit_note", credit_note_id)
    return found[0]


def credit_note_business(con: duckdb.DuckDBPyConnection, credit_note_id: str) -> str | None:
    row = con.execute("SELECT business_id FROM credit_notes WHERE credit_note_id = ?", [credit_note_id]).fetchone()
    return row[0] if row else None


def numbered_credit_notes(con: duckdb.DuckDBPyConnection, number: str) -> dict[str, tuple[str, str]]:
    """credit_note_id -> (business, its number as written) of the credit notes numbered `number` whatever its letter
    case (`n-2026-000001-cn1` names N-2026-000001-CN1, as their documents show it): one per business, or several
    where businesses share a prefix or have prefixes that differ only in case."""
    rows = con.execute(
        "SELECT credit_note_id, business_id, number FROM credit_notes WHERE lower(number) = lower(?)", [number]
    ).fetchall()
    return {r[0]: (r[1], r[2]) for r in rows}


def find_credit_notes(
    con: duckdb.DuckDBPyConnection,
    business_id: str | None,
    *,
    invoice_id: str | None = None,
    customer_id: str | None = None,
    limit: int,
    offset: int = 0,
) -> tuple[list[str], int]:
    """(a page of note ids, newest first (then by number), the count of all matching). `business_id` None: every
    business."""
    where = """(?::VARCHAR IS NULL OR business_id = ?) AND (?::VARCHAR IS NULL OR invoice_id = ?)
               AND (?::VARCHAR IS NULL OR customer_id = ?)"""
    params = [business_id, business_id, invoice_id, invoice_id, customer_id, customer_id]
    rows = con.execute(
        f"""SELECT credit_note_id FROM credit_notes WHERE {where}
            ORDER BY created_at DESC, invoice_id, sequence DESC LIMIT ? OFFSET ?""",  # noqa: S608 (a constant condition with ? placeholders; values bound)
        [*params, limit, offset],
    ).fetchall()
    total = con.execute(f"SELECT count(*) FROM credit_notes WHERE {where}", params).fetchone()[0]  # noqa: S608 (a constant condition with ? placeholders; values bound)
    return [r[0] for r in rows], int(total)


# --- customer credit -------------------------------------------------------------------------------------------


def add_customer_credit_tx(
    con: duckdb.DuckDBPyConnection,
    customer_id: str,
    currency: str,
    amount_minor: int,
    kind: str,
    *,
    credit_note_id: str | None = None,
    invoice_id: str | None = None,
) -> None:
    """Add `amount_minor` (> 0) to the customer's credit in `currency`, with its entry, in the caller's
    transaction (the balance row is written: a concurrent spender conflicts)."""
    if kind not in ENTRY_KINDS or amount_minor <= 0:
        raise ValueError(f"not a credit movement: {kind} {amount_minor}")
    con.execute(
        """INSERT INTO customer_credit VALUES (?, ?, ?)
           ON CONFLICT (customer_id, currency) DO UPDATE SET balance_minor = customer_credit.balance_minor
                                                                              + excluded.balance_minor""",
        [customer_id, currency, amount_minor],
    )
    con.execute(
        """INSERT INTO customer_credit_entries (customer_id, currency, amount_minor, kind, credit_note_id,
               invoice_id, occurred_at) VALUES (?, ?, ?, ?, ?, ?, ?)""",
        [customer_id, currency, amount_minor, kind, credit_note_id, invoice_id, utcnow()],
    )


def apply_customer_credit_tx(con: duckdb.DuckDBPyConnection, finalizing: str = "_finalizing") -> int:
    """Apply customers' credit to the invoices just finalized (their ids in the temp table `finalizing`, an engine
    name; numbers assigned), in number order per customer and currency:

        credits_applied = min(max(total, 0), balance − Σ max(total, 0) of the same customer's earlier invoices)

    (never below 0). Lowers the balances and writes an `applied` entry per invoice. Returns how many took credit."""
    if not con.execute("SELECT count(*) FROM customer_credit WHERE balance_minor > 0").fetchone()[0]:
        return 0  # nobody holds credit: a bill run of 100k invoices pays one count for it
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _credit_use AS
            WITH owed AS (
                SELECT i.invoice_id, i.customer_id, i.currency, i.number, greatest(i.total_minor, 0) AS owed,
                       c.balance_minor AS balance
                FROM {finalizing} t JOIN invoices i USING (invoice_id)
                JOIN customer_credit c ON c.customer_id = i.customer_id AND c.currency = i.currency
                WHERE c.balance_minor > 0),
            ordered AS (
                SELECT *, coalesce(sum(owed) OVER (PARTITION BY customer_id, currency ORDER BY number, invoice_id
                                                   ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS before
                FROM owed)
            SELECT invoice_id, customer_id, currency, least(owed, greatest(balance - before, 0))::BIGINT AS applied
            FROM ordered WHERE least(owed, greatest(balance - before, 0)) > 0"""  # noqa: S608 (the temp table's name is the engine's own; no value)
    )
    n = con.execute("SELECT count(*) FROM _credit_use").fetchone()[0]
    if not n:
        return 0
    con.execute(
        """UPDATE invoices SET credits_applied_minor = u.applied FROM _credit_use u
           WHERE invoices.invoice_id = u.invoice_id"""
    )
    con.execute(
        """UPDATE customer_credit SET balance_minor = customer_credit.balance_minor - s.used
           FROM (SELECT customer_id, currency, sum(applied) AS used FROM _credit_use GROUP BY ALL) s
           WHERE customer_credit.customer_id = s.customer_id AND customer_credit.currency = s.currency"""
    )
    con.execute(
        """INSERT INTO customer_credit_entries (customer_id, currency, amount_minor, kind, credit_note_id, invoice_id,
               occurred_at)
           SELECT customer_id, currency, -applied, 'applied', NULL, invoice_id, ? FROM _credit_use
           ORDER BY invoice_id""",
        [utcnow()],
    )
    return int(n)


def return_applied_credit_tx(con: duckdb.DuckDBPyConnection, invoice_id: str) -> int:
    """A voided invoice gives back the customer credit it took at finalize (an entry `void_returned`)."""
    row = con.execute(
        "SELECT customer_id, currency, credits_applied_minor FROM invoices WHERE invoice_id = ?", [invoice_id]
    ).fetchone()
    if row is None or not row[2]:
        return 0
    add_customer_credit_tx(con, row[0], row[1], row[2], "void_returned", invoice_id=invoice_id)
    return int(row[2])


def credit_balances(
    con: duckdb.DuckDBPyConnection, business_id: str | None, *, customer_id: str | None = None
) -> list[CustomerCredit]:
    """Customers' credit per currency (balances above 0), by customer and currency; `business_id` None: every
    business."""
    rows = con.execute(
        """SELECT c.customer_id, cu.name, cu.business_id, c.currency, c.balance_minor
           FROM customer_credit c JOIN customers cu USING (customer_id)
           WHERE c.balance_minor > 0 AND (?::VARCHAR IS NULL OR cu.business_id = ?)
             AND (?::VARCHAR IS NULL OR c.customer_id = ?)
           ORDER BY c.customer_id, c.currency""",
        [business_id, business_id, customer_id, customer_id],
    ).fetchall()
    return [
        CustomerCredit(
            customer_id=cid,
            customer_name=name,
            business_id=biz,
            currency=cur,
            balance=to_major(minor, cur),
            balance_minor=minor,
        )
        for cid, name, biz, cur, minor in rows
    ]


def credit_to_apply(balance_minor: int, total_minor: int) -> int:
    """What finalizing an invoice of `total_minor` takes of a credit of `balance_minor` (apply_customer_credit_tx's
    rule for one invoice): min(balance, max(total, 0))."""
    return min(max(balance_minor, 0), max(total_minor, 0))


def credits_held(con: duckdb.DuckDBPyConnection, customer_ids: list[str]) -> dict[tuple[str, str], int]:
    """The credit of each of `customer_ids` per currency, {(customer_id, currency): minor} (balances above 0), in one
    query."""
    rows = con.execute(
        """SELECT customer_id, currency, balance_minor FROM customer_credit
           WHERE balance_minor > 0 AND list_contains(?::VARCHAR[], customer_id)""",
        [sorted(set(customer_ids))],
    ).fetchall()
    return {(c, cur): int(m) for c, cur, m in rows}


def credit_available_minor(con: duckdb.DuckDBPyConnection, customer_id: str, currency: str) -> int:
    """The customer's credit in `currency` now (what its next invoice in that currency takes when finalized)."""
    row = con.execute(
        "SELECT balance_minor FROM customer_credit WHERE customer_id = ? AND currency = ?", [customer_id, currency]
    ).fetchone()
    return int(row[0]) if row else 0


def load_invoice_head(con: duckdb.DuckDBPyConnection, invoice_id: str) -> dict:
    """What a credit note's document says of the invoice it corrects: its date (bill-for date, else created), its
    total and its balance due now (minor units)."""
    heads = rows_as_dicts(
        con.execute(
            "SELECT i.*, b.invoice_prefix FROM invoices i LEFT JOIN businesses b USING (business_id) "
            "WHERE i.invoice_id = ?",
            [invoice_id],
        )
    )
    if not heads:
        raise NotFoundError.of("invoice", invoice_id)
    head = heads[0]
    date: dt.date | None = head["bill_for_date"] or head["created_at"]
    return {"invoice_date": date, "total_minor": head["total_minor"], "balance_due_minor": balance_due_minor(head)}
