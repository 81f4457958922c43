"""The review commands: review flags, approve, hold, release and the review thresholds."""

from __future__ import annotations

from ..service import ValidationError, bill_runs, lifecycle
from .common import INVOICE_HELP, Context, _amount, _date


def cmd_approve(args, ctx: Context) -> int:
    if args.run is not None or args.unflagged:
        return _approve_unflagged(args, ctx)
    if not args.invoice_ids:
        raise ValidationError("name the invoices to approve (billsim approve INV …)")
    ctx.print_json(lifecycle.approve(ctx.session(), ctx.invoice_ids(args.invoice_ids), note=args.note))
    return 0


def _approve_unflagged(args, ctx: Context) -> int:
    if args.run is None or not args.unflagged:
        raise ValidationError("approve a run's drafts with both --run RUN_ID and --unflagged")
    if args.invoice_ids:
        raise ValidationError("name invoices or --run RUN_ID --unflagged, not both")
    ctx.print_json(bill_runs.approve_unflagged(ctx.session(), args.run, note=args.note))
    return 0


def cmd_review(args, ctx: Context) -> int:
    result = bill_runs.review_drafts(ctx.session(), run_id=args.run, period_date=args.period_date, flags=args.flag)
    out = result.model_dump(mode="python", exclude={"drafts_total", "offset"})  # print_json writes it
    if not args.figures:  # one line per flag; --figures adds what each was decided on
        for draft in out["drafts"]:
            draft["flags"] = [{"flag": f["flag"], "reason": f["reason"]} for f in draft["flags"]]
    ctx.print_json(out)
    return 0


def cmd_thresholds(args, ctx: Context) -> int:
    large = {}
    for item in args.large_invoice or []:
        cur, sep, amount = item.partition("=")
        if not sep:
            raise ValidationError(f"--large-invoice {item!r}: write CURRENCY=AMOUNT (or CURRENCY= to remove it)")
        large[cur.strip().upper()] = _amount(amount) if amount.strip() else None
    changes = (args.total_change_percent, args.total_change_min, args.usage_spike_factor)
    s = ctx.session()
    if any(v is not None for v in changes) or large:
        result = bill_runs.change_thresholds(
            s,
            args.business,
            total_change_percent=args.total_change_percent,
            total_change_min=args.total_change_min,
            usage_spike_factor=args.usage_spike_factor,
            large_invoice=large,
        )
    else:
        result = bill_runs.thresholds(s, args.business)
    ctx.print_json(result)
    return 0


def cmd_hold(args, ctx: Context) -> int:
    ctx.print_json(lifecycle.hold(ctx.session(), [ctx.invoice_id(args.invoice_id)], args.reason)[0])
    return 0


def cmd_release(args, ctx: Context) -> int:
    ctx.print_json(lifecycle.release(ctx.session(), [ctx.invoice_id(args.invoice_id)], note=args.note)[0])
    return 0


def add_parsers(sub) -> None:
    s = sub.add_parser("approve", help="approve drafts for finalizing (all or nothing; approved ones stay as they are)")
    s.add_argument("invoice_ids", nargs="*", metavar="INV", help=INVOICE_HELP)
    s.add_argument("--note", help="kept with the approval in the audit trail")
    s.add_argument("--run", metavar="RUN_ID", help="with --unflagged: the bill run whose drafts to approve")
    s.add_argument("--unflagged", action="store_true", help="approve every draft of --run that has no review flag")
    s.set_defaults(func=cmd_approve)

    s = sub.add_parser("review", help="the drafts of a run or a period with their review flags, and unbilled cycles")
    which = s.add_mutually_exclusive_group(required=True)
    which.add_argument("--run", metavar="RUN_ID")
    which.add_argument("--period-date", type=_date, help="drafts whose cycle contains this date")
    s.add_argument("--flag", nargs="+", action="extend", metavar="NAME", help="only drafts with any of these flags")
    s.add_argument("--figures", action="store_true", help="each flag with the figures it was decided on")
    s.set_defaults(func=cmd_review)

    s = sub.add_parser("thresholds", help="show or change a business's review thresholds")
    s.add_argument("--business", default="default")
    s.add_argument("--total-change-percent", type=_amount, metavar="PCT")
    s.add_argument("--total-change-min", type=_amount, metavar="AMOUNT", help="major units")
    s.add_argument("--usage-spike-factor", type=_amount, metavar="FACTOR")
    s.add_argument(
        "--large-invoice", action="append", metavar="CUR=AMOUNT", help="flag totals above AMOUNT (CUR= removes it)"
    )
    s.set_defaults(func=cmd_thresholds)

    s = sub.add_parser("hold", help="put a draft or approved invoice on hold (it cannot be approved or finalized)")
    s.add_argument("invoice_id", help=INVOICE_HELP)
    s.add_argument("--reason", required=True, help="why it is held (required)")
    s.set_defaults(func=cmd_hold)

    s = sub.add_parser("release", help="release a held invoice: it is a draft again, to be approved")
    s.add_argument("invoice_id", help=INVOICE_HELP)
    s.add_argument("--note", help="kept with the release in the audit trail")
    s.set_defaults(func=cmd_release)
