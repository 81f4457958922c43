"""The credit note commands (spec section 12): issue, estimate, list and render credit notes of finalized invoices,
and the customers' credit balances."""

from __future__ import annotations

import argparse
from decimal import Decimal

from ..service import credit_notes, requests
from .common import INVOICE_HELP, Context, _amount, _count, _Parser


def _line(text: str) -> tuple[int, Decimal]:
    """LINE_NO=AMOUNT, e.g. 2=12.50 (major units before tax)."""
    number, sep, amount = text.partition("=")
    line_no = requests.whole_number(number)  # ASCII digits: int() alone reads '١٢' as 12
    if not sep or line_no is None:
        raise argparse.ArgumentTypeError(f"not LINE_NO=AMOUNT: {text!r} (e.g. 2=12.50)")
    return line_no, _amount(amount)


def _body(args) -> dict:
    body: dict = {}
    if args.line:
        body["items"] = [{"line_no": n, "amount": a} for n, a in args.line]
    if args.all:
        body["all"] = True
    for name in ("refund", "credit", "offset"):
        if getattr(args, name) is not None:
            body[name] = getattr(args, name)
    return body


def cmd_create(args, ctx: Context) -> int:
    body = _body(args) | {"reason": args.reason}
    if args.note is not None:
        body["note"] = args.note
    ctx.print_json(credit_notes.create(ctx.session(), ctx.invoice_id(args.invoice_id), body))
    return 0


def cmd_estimate(args, ctx: Context) -> int:
    ctx.print_json(credit_notes.estimate(ctx.session(), ctx.invoice_id(args.invoice_id), _body(args)))
    return 0


def cmd_list(args, ctx: Context) -> int:
    invoice = None if args.invoice is None else ctx.invoice_id(args.invoice)
    query = {"invoice_id": invoice, "customer_id": args.customer, "limit": args.limit, "offset": args.offset}
    ctx.print_json(credit_notes.list_page(ctx.session(), {k: v for k, v in query.items() if v is not None}))
    return 0


def cmd_render(args, ctx: Context) -> int:
    s = ctx.session()
    note = credit_notes.get(s, credit_notes.resolve(s, args.credit_note_id))
    written = ctx.write_document(lambda fmt: credit_notes.document(s, note.credit_note_id, fmt))
    ctx.print_json(
        {"credit_note_id": note.credit_note_id, "number": note.number, "invoice_id": note.invoice_id, **written}
    )
    return 0


def cmd_balances(args, ctx: Context) -> int:
    ctx.print_json(credit_notes.balances(ctx.session(), args.customer))
    return 0


def _lines_and_split(p: argparse.ArgumentParser) -> None:
    # --line and --all together are refused by the service, in the words every front end uses
    p.add_argument(
        "--line", action="append", type=_line, metavar="LINE_NO=AMOUNT", help="credit this much of a line (repeatable)"
    )
    p.add_argument("--all", action="store_true", help="credit everything every line has left")
    p.add_argument("--refund", type=_amount, metavar="AMOUNT", help="pay this much back (at most the payments)")
    p.add_argument("--credit", type=_amount, metavar="AMOUNT", help="add this much to the customer's credit")
    p.add_argument("--offset", type=_amount, metavar="AMOUNT", help="take this much off the balance due")


def add_parsers(sub) -> None:
    """credit-note create|estimate|list|render, balances."""
    s = sub.add_parser("credit-note", help="credit notes of finalized invoices: create, estimate, list, render")
    notes = s.add_subparsers(dest="credit_command", required=True, parser_class=_Parser)
    c = notes.add_parser(
        "create",
        help="issue a credit note (prints it as JSON); without --offset/--credit: off the balance due, the rest credit",
    )
    c.add_argument("invoice_id", help=INVOICE_HELP)
    _lines_and_split(c)
    c.add_argument("--reason", required=True, help="one of " + ", ".join(credit_notes.REASONS))
    c.add_argument("--note", help="kept with the credit note and in the audit trail")
    c.set_defaults(func=cmd_create)
    e = notes.add_parser("estimate", help="what an invoice can still be credited (with --line/--all: the note)")
    e.add_argument("invoice_id", help=INVOICE_HELP)
    _lines_and_split(e)
    e.set_defaults(func=cmd_estimate)
    ls = notes.add_parser("list", help="credit notes, newest first")
    ls.add_argument("--invoice", metavar="INV", help="only this invoice's (its id or its number)")
    ls.add_argument("--customer", help="only this customer's")
    ls.add_argument("--limit", type=_count, default=50)
    ls.add_argument("--offset", type=_count, default=0)
    ls.set_defaults(func=cmd_list)
    r = notes.add_parser("render", help="write a credit note's document (headed CREDIT NOTE) as HTML or PDF")
    r.add_argument("credit_note_id", help="the credit note's id or its number (e.g. N-2026-000001-CN1)")
    r.add_argument("--out", required=True, help="file to write")
    r.add_argument("--format", choices=["html", "pdf"], help="default: pdf for a .pdf file, html otherwise")
    r.set_defaults(func=cmd_render)
    for parser in (c, e, ls, r):  # `billsim credit-note create INV … --actor NAME` (the global --actor works too)
        parser.add_argument("--actor", default=argparse.SUPPRESS, help="who acts (default: the OS user)")

    s = sub.add_parser("balances", help="the customers' credit per currency (taken off their next invoices)")
    s.add_argument("--customer", help="only this customer's")
    s.set_defaults(func=cmd_balances)
