"""Invoice documents (spec section 8): the invoice as the customer sees it, as HTML and as PDF.

One Jinja2 template (`templates/invoice.html.j2`, autoescaped) makes the HTML; WeasyPrint prints that
same HTML to PDF, so the two never disagree. Every amount is formatted here, in Python, with
`engine.money` (the currency's decimals and symbol); the template only places text.

An invoice that is not finalized (draft, approved, held, or a preview) has no number: it shows DRAFT
in its place and a DRAFT watermark, and the customer credit finalizing it would apply (`credit_available`, set by the
application layer) with the balance due once finalized; a void invoice shows a VOID watermark and its reason, and the
customer credit it took as returned. A finalized invoice shows the customer credit applied to it and its credit notes
(spec section 12).

A credit note (`templates/credit_note.html.j2`) is headed CREDIT NOTE and names the invoice it corrects; it
shows the credited lines with their tax, each tax, the totals and how the total was split (off the invoice's
balance, refunded, credited to the customer's account).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Literal

import duckdb
import jinja2

from ..billing.credit_note_text import credit_note_tax_label
from ..billing.credit_notes import find_credit_notes, load_credit_notes, load_invoice_head
from ..billing.invoice_store import load_invoice
from ..errors import ValidationError
from ..models import CreditNote, Invoice, InvoiceLine
from ..money import format_major, format_money
from ..statuses import status_text
from .logos import logo_data_uri

Format = Literal["html", "pdf"]
FORMATS: tuple[str, ...] = ("html", "pdf")
# Statuses before finalize: no number yet, so the document must not pass for a bill to pay.
NOT_FINALIZED = ("preview", "draft", "approved", "held")
_TEMPLATES = Path(__file__).resolve().parent / "templates"
_KIND_NAMES = {
    "recurring": "recurring",
    "one_time": "one-time",
    "usage": "usage",
    "minimum_commitment_true_up": "minimum commitment true-up",
    "delayed_charge": "delayed charge",
    "custom": "",
}


@cache
def _environment() -> jinja2.Environment:
    # autoescape on for every template: names and descriptions come from imported data
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(_TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


# --- what the document shows -----------------------------------------------------------------------


def document_parties(con: duckdb.DuckDBPyConnection, invoice: Invoice | CreditNote) -> tuple[dict, dict]:
    """(seller, customer) of an invoice (or of a credit note). The seller is its business's row of businesses.csv
    (name, address, tax id, logo); a business without one is named by its id. A customer no longer in the data is
    shown by its id alone."""
    row = con.execute("SELECT name, email FROM customers WHERE customer_id = ?", [invoice.customer_id]).fetchone()
    name, email = row if row else (None, None)
    customer = {"name": name or invoice.customer_id, "email": email, "customer_id": invoice.customer_id}
    return seller_of(con, invoice.business_id), customer


def seller_of(con: duckdb.DuckDBPyConnection, business_id: str) -> dict:
    """The seller block of a document: name, the lines under it (address, tax id), the logo as a data URI."""
    row = con.execute(
        "SELECT name, address, tax_id, logo_path FROM businesses WHERE business_id = ?", [business_id]
    ).fetchone()
    if row is None:
        return {"name": business_id, "details": [], "logo": None}
    name, address, tax_id, logo_path = row
    details = [line.strip() for line in (address or "").splitlines() if line.strip()]
    if tax_id:
        details.append(f"Tax ID {tax_id}")
    return {"name": name, "details": details, "logo": logo_data_uri(logo_path)}


def _date(value: dt.date | dt.datetime | None) -> str:
    if value is None:
        return ""
    return (value.date() if isinstance(value, dt.datetime) else value).isoformat()


def _number(value: Decimal | None) -> str:
    """An exact quantity with thousands separators and no trailing zeros: 1234.500000 -> 1,234.5."""
    if value is None:
        return ""
    return format(value.normalize(), ",f")


def _line(line: InvoiceLine, inv: Invoice) -> dict:
    cur = inv.currency
    title = line.product or ""
    if line.description and line.description != line.product:
        title = f"{title} — {line.description}" if title else line.description
    details = []
    kind = _KIND_NAMES.get(line.kind, line.kind.replace("_", " "))
    if kind and kind.lower() != title.lower():  # a true-up line is titled by its kind already
        details.append(kind)
    if line.period_start and (line.period_start, line.period_end) != (inv.period_start, inv.period_end):
        details.append(f"{_date(line.period_start)} to {_date(line.period_end)}")
    # a true-up's explanation prorates the commitment itself
    prorated = line.active_days is not None and line.period_days and line.active_days != line.period_days
    if prorated and not (line.kind == "minimum_commitment_true_up" and line.explanation):
        details.append(f"prorated {line.active_days}/{line.period_days} days")
    if line.discount_percent:
        details.append(f"{_number(line.discount_percent)} % discount")
    if line.discount_minor:
        details.append(f"coupon discount {format_money(-line.discount_minor, cur)}")
    if line.tax_codes == []:
        details.append("tax exempt")
    elif line.tax_codes:
        details.append("tax " + ", ".join(line.tax_codes))
    tiers = [
        f"tier {t.tier_no}: {_number(t.units)} × {format_major(t.unit_price, cur)}"
        + (f" + {format_major(t.flat_fee, cur)}" if t.flat_fee else "")
        for t in line.tiers or []
        if t.units or t.flat_fee
    ]
    # a unit price only where quantity × unit price is the price: a package's is per pack, in its explanation
    priced_by_unit = line.unit_price is not None and not line.tiers and not line.explanation
    return {
        "title": title or kind or f"line {line.line_no}",
        "details": " · ".join(details),
        "tiers": tiers,
        "explanation": line.explanation,
        "quantity": _number(line.quantity),
        "unit_price": format_major(line.unit_price, cur) if priced_by_unit else "",
        "amount": format_money(line.amount_minor, cur),
    }


def _adjustment_rows(inv: Invoice) -> list[tuple[str, str]]:
    """(label, amount) rows between the subtotal and the total (spec section 11): each coupon (minus what it
    took), then each tax with its rate and base. The customer's single tax_rate (no code) reads as before:
    'Tax (8.25 %)'. An invoice with no tax (no code, and the single rate 0, which is not listed) shows no tax row,
    as invoice_adjustments.csv lists none (docs/RULES.md)."""
    cur = inv.currency
    rows = [(f"Discount: {c.name}", format_money(-c.amount_minor, cur)) for c in inv.coupons]
    for t in inv.taxes:
        if t.code is None:
            rows.append((f"Tax ({_number(t.rate)} %)", format_money(t.amount_minor, cur)))
        else:
            label = f"{t.name} ({t.code}) {_number(t.rate)} % of {format_money(t.base_minor, cur)}"
            rows.append((label, format_money(t.amount_minor, cur)))
    if not inv.taxes and inv.tax_minor:  # never hide an amount (every tax is listed in `taxes`)
        rows.append((f"Tax ({_number(inv.tax_rate)} %)", format_money(inv.tax_minor, cur)))
    return rows


def _credit_rows(inv: Invoice, notes: list[CreditNote]) -> tuple[list[tuple[str, str]], list[dict]]:
    """(rows between the amount paid and the balance due: the customer credit applied (and, on a void invoice, the same
    credit given back), Σ offsets of its credit notes; or, on a draft, the credit finalizing it would apply; one entry
    per credit note: number, date, reason, total and its split)."""
    cur = inv.currency
    rows = []
    if inv.credit_available_minor and inv.status in NOT_FINALIZED:
        rows.append(("Customer credit available (applied at finalize)", format_money(-inv.credit_available_minor, cur)))
    if inv.credits_applied_minor:
        rows.append(("Customer credit applied", format_money(-inv.credits_applied_minor, cur)))
    if inv.credits_returned_minor:
        rows.append(("Customer credit returned (invoice void)", format_money(inv.credits_returned_minor, cur)))
    if inv.credit_offset_minor:
        rows.append(("Credit notes (off the balance)", format_money(-inv.credit_offset_minor, cur)))
    listed = [
        {
            "number": n.number,
            "date": _date(n.created_at),
            "reason": n.reason.replace("_", " ") if n.reason else "",
            "total": format_money(n.total_minor, cur),
            "split": _split_text(n),
        }
        for n in notes
    ]
    return rows, listed


def _split_text(n: CreditNote) -> str:
    parts = [
        (n.offset_minor, "off the balance due"),
        (n.refund_minor, "refunded"),
        (n.credit_minor, "to the customer's credit"),
    ]
    return ", ".join(f"{format_money(m, n.currency)} {words}" for m, words in parts if m)


def document_context(invoice: Invoice, seller: dict, customer: dict, credit_notes: list[CreditNote] = ()) -> dict:
    """Everything the template shows, as text already formatted."""
    inv, cur = invoice, invoice.currency
    finalized = inv.status not in NOT_FINALIZED
    mark = "DRAFT" if not finalized else ("VOID" if inv.status == "void" else None)
    number = inv.invoice_number if finalized and inv.invoice_number else "DRAFT"
    dates = [("Invoice date", _date(inv.bill_for_date or inv.created_at))]
    if inv.period_start:
        dates.append(("Service period", f"{_date(inv.period_start)} to {_date(inv.period_end)}"))
    dates.append(("Due date", _date(inv.due_date)))
    refs = [("Currency", cur)]
    if inv.contract_id:
        refs.append(("Contract", inv.contract_id))
    if inv.invoice_id:
        refs.append(("Reference", inv.invoice_id))
    status = status_text(inv.status, capital=True)  # 'Paid', never the stored name (manual_paid)
    credit_rows, notes = _credit_rows(inv, list(credit_notes))
    balance_label, balance = "Balance due", format_money(inv.balance_due_minor, cur)
    if inv.status == "void":  # a void invoice is cancelled: an amount here would read as still owed
        balance = "none (void)"
    elif inv.credit_available_minor and not finalized:  # what the customer is asked for once it is finalized
        balance_label = "Balance due once finalized"
        balance = format_money(inv.balance_due_minor - inv.credit_available_minor, cur)
    return {
        "title": f"Invoice {number}" if finalized else "DRAFT invoice",
        "number": number,
        "status": status,
        "mark": mark,
        "void_reason": inv.void_reason,
        # the keys the template reads, so a caller may pass only what it knows
        "seller": {"details": [], "logo": None, **seller},
        "customer": {"email": None, "customer_id": inv.customer_id, **customer},
        "dates": [(k, v) for k, v in dates if v],
        "refs": refs,
        "description": inv.description,
        "lines": [_line(ln, inv) for ln in inv.lines],
        "subtotal": format_money(inv.subtotal_minor, cur),
        "adjustments": _adjustment_rows(inv),
        "total": format_money(inv.total_minor, cur),
        "paid": format_money(inv.total_paid_minor, cur),
        "credit_rows": credit_rows,
        "credit_notes": notes,
        "balance_label": balance_label,
        "balance_due": balance,
    }


# --- rendering ------------------------------------------------------------------------------------------


def invoice_html(invoice: Invoice, seller: dict, customer: dict, credit_notes: list[CreditNote] = ()) -> str:
    """The invoice document as one self-contained HTML page (inline CSS, no external resource)."""
    context = document_context(invoice, seller, customer, credit_notes)
    return _environment().get_template("invoice.html.j2").render(**context)


def html_to_pdf(html: str) -> bytes:
    """Print an HTML document to PDF. base_url None and no external resource: nothing is fetched."""
    import weasyprint  # imported here: it loads Pango, which the HTML path never needs

    return weasyprint.HTML(string=html, base_url=None).write_pdf()


def invoice_pdf(invoice: Invoice, seller: dict, customer: dict) -> bytes:
    return html_to_pdf(invoice_html(invoice, seller, customer))


def check_format(fmt: str) -> str:
    """`fmt` if it is a document format (html, pdf), else ValidationError."""
    if fmt not in FORMATS:
        raise ValidationError(f"unknown document format {fmt!r}: use html or pdf")
    return fmt


def document_html(con: duckdb.DuckDBPyConnection, invoice: Invoice) -> str:
    """An invoice's (stored or a preview) document as HTML, with the parties and credit notes read from `con`: all
    that needs the database (a PDF is this HTML printed, which does not)."""
    seller, customer = document_parties(con, invoice)
    notes = []
    if invoice.invoice_id is not None and invoice.credit_notes_total_minor:
        ids, _ = find_credit_notes(con, None, invoice_id=invoice.invoice_id, limit=10_000)
        notes = sorted(load_credit_notes(con, ids), key=lambda n: n.sequence)
    return invoice_html(invoice, seller, customer, notes)


def render_document(con: duckdb.DuckDBPyConnection, invoice: Invoice, fmt: str) -> str | bytes:
    """An invoice (stored or a preview) as `fmt`: HTML text or PDF bytes."""
    check_format(fmt)
    html = document_html(con, invoice)
    return html if fmt == "html" else html_to_pdf(html)


def render_invoice(con: duckdb.DuckDBPyConnection, invoice_id: str, fmt: str) -> str | bytes:
    """A stored invoice's document; an unknown invoice id is NotFoundError."""
    check_format(fmt)
    return render_document(con, load_invoice(con, invoice_id), fmt)


# --- credit notes (spec section 12) --------------------------------------------------------------------------------


def credit_note_context(note: CreditNote, invoice: dict, seller: dict, customer: dict) -> dict:
    """Everything the credit note's template shows, as text already formatted. `invoice`: the corrected invoice's
    date, total and balance due now (minor units)."""
    cur = note.currency
    taxes = [(credit_note_tax_label(t, cur), format_money(t.amount_minor, cur)) for t in note.taxes]
    split = [
        ("Off the balance due of the invoice", note.offset_minor),
        ("Refunded to you", note.refund_minor),
        ("Credited to your account (taken off your next invoices)", note.credit_minor),
    ]
    return {
        "title": f"Credit note {note.number}",
        "number": note.number,
        "invoice_number": note.invoice_number,
        "dates": [("Date", _date(note.created_at)), ("Invoice date", _date(invoice.get("invoice_date")))],
        "refs": [("Currency", cur), ("Invoice", note.invoice_number), ("Reference", note.credit_note_id or "")],
        "reason": (note.reason or "").replace("_", " "),
        "note": note.note,
        "seller": {"details": [], **seller},
        "customer": {"email": None, "customer_id": note.customer_id, **customer},
        "lines": [
            {
                "title": " — ".join(x for x in (i.product, i.description) if x) or f"line {i.line_no}",
                "line_no": i.line_no,
                "amount": format_money(i.amount_minor, cur),
                "tax": format_money(i.tax_minor, cur),
            }
            for i in note.items
        ],
        "subtotal": format_money(note.subtotal_minor, cur),
        "taxes": taxes,
        "total": format_money(note.total_minor, cur),
        "split": [(label, format_money(m, cur)) for label, m in split if m],
        "invoice_total": format_money(invoice["total_minor"], cur),
        "invoice_balance": format_money(invoice["balance_due_minor"], cur),
    }


def credit_note_html(note: CreditNote, invoice: dict, seller: dict, customer: dict) -> str:
    context = credit_note_context(note, invoice, seller, customer)
    return _environment().get_template("credit_note.html.j2").render(**context)


def credit_note_document_html(con: duckdb.DuckDBPyConnection, note: CreditNote) -> str:
    """A credit note's document as HTML, with the parties and the corrected invoice read from `con`."""
    seller, customer = document_parties(con, note)
    return credit_note_html(note, load_invoice_head(con, note.invoice_id), seller, customer)


def render_credit_note(con: duckdb.DuckDBPyConnection, note: CreditNote, fmt: str) -> str | bytes:
    """A credit note as `fmt`: HTML text or PDF bytes (the same HTML printed)."""
    check_format(fmt)
    html = credit_note_document_html(con, note)
    return html if fmt == "html" else html_to_pdf(html)
