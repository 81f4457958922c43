"""The ledger commands: set up and import data, cycles, preview/draft, bill run, export, the invoice
lifecycle (finalize, void, delete a draft, pay, redraft), the audit trail and rendered documents."""

from __future__ import annotations

import csv

from ..service import ImportProblems, bill_runs, contracts, invoices, ledger, lifecycle, reads
from .common import INVOICE_HELP, Context, _amount, _count, _date, _whole


def cmd_init(args, ctx: Context) -> int:
    if args.demo:  # its size first: a size beyond the bounds creates no database file
        ledger.check_demo_size(args.contracts, args.usage_rows)
    s = ctx.session()
    if args.demo:
        with ctx.terminal_bar() as bar:
            counts = ledger.seed(s, contracts=args.contracts, usage_rows=args.usage_rows, seed=args.seed, progress=bar)
        ctx.print_json({"initialized": True, "demo": counts})
    else:
        ctx.print_json({"initialized": True})
    return 0


def cmd_import(args, ctx: Context) -> int:
    try:
        with ctx.terminal_bar() as bar:
            counts = ledger.import_data(ctx.session(), ctx.path(args.folder), progress=bar)
    except ImportProblems as exc:
        # every problem, one per line, so a script or a person can fix the whole file at once
        total = getattr(exc, "total", None) or len(exc.problems)
        shown = f" (the first {len(exc.problems)})" if total > len(exc.problems) else ""
        ctx.print_error(f"import refused, nothing written: {total} problem(s){shown}")
        for p in exc.problems:
            print(f"{p['file']}:{p['line']} {p['column']}: {p['reason']}", file=ctx.stderr)
        return 2
    ctx.print_json({"imported": counts})
    return 0


def cmd_demo(args, ctx: Context) -> int:
    counts = ledger.demo_folder(
        ctx.path(args.out), contracts=args.contracts, usage_rows=args.usage_rows, seed=args.seed
    )
    ctx.print_json({"out": str(args.out), "rows": counts})
    return 0


def cmd_cycles(args, ctx: Context) -> int:
    rows = contracts.cycles(ctx.session(), args.contract_id, args.from_date, args.to_date)
    ctx.release()
    out = csv.writer(ctx.stdout, lineterminator="\n")
    out.writerow(["start_date", "end_date", "bill_for_date", "billing_cycle_start_day", "period_days"])
    for c in rows:
        out.writerow([c.start_date, c.end_date, c.bill_for_date, c.billing_cycle_start_day, c.period_days])
    return 0


def cmd_preview(args, ctx: Context) -> int:
    ctx.print_json(contracts.preview(ctx.session(), args.contract_id, args.period_date))
    return 0


def cmd_draft(args, ctx: Context) -> int:
    ctx.print_json(contracts.draft(ctx.session(), args.contract_id, args.period_date))
    return 0


def cmd_run(args, ctx: Context) -> int:
    request = {
        "period_date": args.period_date,
        "contract_ids": args.contract,  # None when not given: argparse never gives an empty list
        "customer_ids": args.customer,
        "business_id": args.business,
        "include_delayed_charges": args.include_delayed_charges,
        "finalize": args.finalize,
        "catch_up": args.catch_up,
    }
    report = bill_runs.run(ctx.session(), request, progress=None if args.quiet else ctx.bar())
    ctx.print_json(report)
    return 0


def cmd_export(args, ctx: Context) -> int:
    paths = ledger.export(ctx.session(), ctx.path(args.out), fmt=args.format)
    ctx.print_json({k: ctx.shown(v, args.out) for k, v in paths.items()})
    return 0


def cmd_finalize(args, ctx: Context) -> int:
    ctx.print_json(lifecycle.finalize(ctx.session(), [ctx.invoice_id(args.invoice_id)])[0])
    return 0


def cmd_void(args, ctx: Context) -> int:
    ctx.print_json(lifecycle.void(ctx.session(), ctx.invoice_id(args.invoice_id), reason=args.reason))
    return 0


def cmd_delete(args, ctx: Context) -> int:
    ctx.print_json(invoices.delete(ctx.session(), ctx.invoice_id(args.invoice_id)))
    return 0


def cmd_pay(args, ctx: Context) -> int:
    ctx.print_json(
        lifecycle.pay(ctx.session(), ctx.invoice_id(args.invoice_id), amount=args.amount, method=args.method)
    )
    return 0


def cmd_audit(args, ctx: Context) -> int:
    path = ledger.audit_csv(ctx.session(), ctx.path(args.out))
    ctx.print_json({"audit": ctx.shown(path, args.out)})
    return 0


def cmd_render(args, ctx: Context) -> int:
    s = ctx.session()
    invoice = invoices.get_invoice(s, ctx.invoice_id(args.invoice_id))
    written = ctx.write_document(lambda fmt: invoices.document(s, invoice.invoice_id, fmt))
    ctx.print_json(
        {
            "invoice_id": invoice.invoice_id,
            "number": invoice.number,
            "invoice_number": invoice.invoice_number,
            "status": invoice.status,
            **written,
        }
    )
    return 0


def cmd_taxes(args, ctx: Context) -> int:
    ctx.print_json(reads.taxes(ctx.session()))
    return 0


def cmd_coupons(args, ctx: Context) -> int:
    ctx.print_json(reads.coupons(ctx.session()))
    return 0


def cmd_redraft(args, ctx: Context) -> int:
    ctx.print_json(invoices.redraft(ctx.session(), ctx.invoice_id(args.invoice_id)))
    return 0


def add_parsers(sub) -> None:
    """init … pay (listed first in `billsim --help`)."""
    s = sub.add_parser("init", help="create the database (and seed the demo data with --demo)")
    s.add_argument("--demo", action="store_true")
    s.add_argument("--contracts", type=_count, default=50)
    s.add_argument("--usage-rows", type=_count, default=None)
    s.add_argument("--seed", type=_whole, default=7)
    s.set_defaults(func=cmd_init)

    s = sub.add_parser("import", help="import a data folder of CSV files (all-or-nothing)")
    s.add_argument("folder")
    s.set_defaults(func=cmd_import)

    s = sub.add_parser("demo", help="write a deterministic demo data folder")
    s.add_argument("--out", required=True)
    s.add_argument("--contracts", type=_count, default=50)
    s.add_argument("--usage-rows", type=_count, default=None)
    s.add_argument("--seed", type=_whole, default=7)
    s.set_defaults(func=cmd_demo)

    s = sub.add_parser("cycles", help="print a contract's billing cycles overlapping [from, to] as CSV")
    s.add_argument("contract_id")
    s.add_argument("--from", dest="from_date", type=_date, required=True)
    s.add_argument("--to", dest="to_date", type=_date, required=True)
    s.set_defaults(func=cmd_cycles)

    for name, func, text in (
        ("preview", cmd_preview, "print the invoice of the period of a date; store nothing"),
        ("draft", cmd_draft, "draft the invoice of the period of a date (idempotent)"),
    ):
        s = sub.add_parser(name, help=text)
        s.add_argument("contract_id")
        s.add_argument("--period-date", type=_date, required=True)
        s.set_defaults(func=func)

    s = sub.add_parser("run", help="bill run: draft every active contract's invoice for the period of a date")
    s.add_argument("--period-date", type=_date, required=True)
    s.add_argument("--include-delayed-charges", action="store_true")
    s.add_argument("--finalize", action="store_true")
    s.add_argument("--catch-up", action="store_true", help="also draft every missed cycle before the date (once each)")
    s.add_argument("--contract", action="append", help="limit to this contract (repeatable)")
    s.add_argument("--customer", action="append", help="limit to this customer's contracts (repeatable)")
    s.add_argument("--business", help="limit to one business")
    s.add_argument("--quiet", action="store_true", help="no progress bar on stderr")
    s.set_defaults(func=cmd_run)

    s = sub.add_parser(
        "export",
        help="write invoices, invoice_lines, invoice_adjustments, credit_notes, credit_note_items and "
        "customer_credit_movements",
    )
    s.add_argument("--out", required=True)
    s.add_argument("--format", choices=["csv", "parquet"], default="csv")
    s.set_defaults(func=cmd_export)

    for name, func, text in (
        ("finalize", cmd_finalize, "finalize a draft: assign its number, status open"),
        ("void", cmd_void, "void an open invoice (keeps its number)"),
    ):
        s = sub.add_parser(name, help=text)
        s.add_argument("invoice_id", help=INVOICE_HELP)
        if name == "void":
            s.add_argument("--reason", help="why the invoice is voided (kept with it)")
        s.set_defaults(func=func)

    s = sub.add_parser(
        "delete",
        help="delete an invoice not finalized yet (draft, approved or held): its cycle may be drafted again, its "
        "delayed charges are pending again; a finalized invoice is refused",
    )
    s.add_argument("invoice_id", help=INVOICE_HELP)
    s.set_defaults(func=cmd_delete)

    s = sub.add_parser("pay", help="record a payment against an open invoice")
    s.add_argument("invoice_id", help=INVOICE_HELP)
    s.add_argument("amount", type=_amount, help="major units, e.g. 125.00")
    s.add_argument("--method", choices=["manual", "stripe"], default="manual")
    s.set_defaults(func=cmd_pay)


def add_record_parsers(sub) -> None:
    """audit, render (listed after the review commands)."""
    s = sub.add_parser("audit", help="write the audit trail of every invoice change as audit.csv")
    s.add_argument("--out", required=True, help="the CSV file, or a folder to write audit.csv into")
    s.set_defaults(func=cmd_audit)

    s = sub.add_parser("render", help="write an invoice's document (as the customer sees it) as HTML or PDF")
    s.add_argument("invoice_id", help=INVOICE_HELP)
    s.add_argument("--out", required=True, help="file to write")
    s.add_argument("--format", choices=["html", "pdf"], help="default: pdf for a .pdf file, html otherwise")
    s.set_defaults(func=cmd_render)


def add_redraft_parser(sub) -> None:
    """redraft, taxes, coupons (listed last)."""
    s = sub.add_parser("redraft", help="re-rate a draft after its data changed (replaces it, same id)")
    s.add_argument("invoice_id", help=INVOICE_HELP)
    s.set_defaults(func=cmd_redraft)

    s = sub.add_parser("taxes", help="the taxes loaded (taxes.csv): code, name, rate, customers and lines using it")
    s.set_defaults(func=cmd_taxes)

    s = sub.add_parser("coupons", help="the coupons loaded (coupons.csv) and how many contracts each is applied to")
    s.set_defaults(func=cmd_coupons)
