"""`billsim` command line (also `python -m engine`). Every command goes through the engine's API.

Errors are one line on stderr and a non-zero exit (2 for bad input, 3 for a busy database, 4 for a
database or file that cannot be read or written); a refused import lists every problem, one
`file:line column: reason` per line.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import datetime as dt
import json
import sys
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import NoReturn

import duckdb

from ..errors import BillsimError, DatabaseBusyError, ImportProblems, ValidationError


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors as ONE line on stderr (exit 2) like every other error of the CLI."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def _amount(text: str) -> Decimal:
    """An amount as an exact Decimal; whether it is positive or has too many decimals the engine says."""
    try:
        return Decimal(text)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(
            f"not a number: {text!r} (write a plain decimal such as 12.50, without thousands separators)"
        ) from None


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"cannot be negative: {value}")
    return value


def _seconds(text: str) -> float:
    # a waiting time, not money: a float is fine here
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not value >= 0:  # also refuses nan
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}")
    return value


# Databases this command opened. They are closed before the result is written: a reader of stdout that is
# slow (a pager, a full pipe) must never keep the file from another process waiting for it.
_opened: list = []


def _release_databases() -> None:
    while _opened:
        _opened.pop().close()


def _print_json(obj) -> None:
    if hasattr(obj, "model_dump"):
        obj = obj.model_dump(mode="json")
    _release_databases()
    json.dump(obj, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")


class _StderrBar:
    """A text progress bar on stderr: `label [#####.....] 50%`."""

    def __init__(self) -> None:
        self.last = ""

    def __call__(self, done: float, label: str = "") -> None:
        width = 30
        filled = int(round(max(0.0, min(1.0, done)) * width))
        line = f"\r{label[:40]:<40} [{'#' * filled}{'.' * (width - filled)}] {int(done * 100):3d}%"
        if line != self.last:
            sys.stderr.write(line)
            sys.stderr.flush()
            self.last = line
        if done >= 1.0:
            sys.stderr.write("\n")
            self.last = ""

    def close(self) -> None:
        """End a bar left unfinished (the work failed), so the error starts on its own line."""
        if self.last:
            sys.stderr.write("\n")
            self.last = ""


@contextlib.contextmanager
def _terminal_bar():
    """A bar (or None) only for a person watching: scripts reading stderr get the error lines alone.
    Ended on the way out, so an error printed after it starts on its own line."""
    bar = _StderrBar() if sys.stderr.isatty() else None
    try:
        yield bar
    finally:
        if bar:
            bar.close()


def _open(args, read_only: bool = False):
    from ..db import connect

    try:
        con = connect(args.db, read_only=read_only)
    except DatabaseBusyError:
        if args.wait <= 0:
            raise
        # one line when the wait begins, so a person (or a script) knows why nothing happens yet
        print(f"billsim: the database is in use by another process; waiting up to {args.wait:g} s", file=sys.stderr)
        sys.stderr.flush()
        con = connect(args.db, read_only=read_only, wait_seconds=args.wait)
    _opened.append(con)
    return con


def cmd_init(args) -> int:
    con = _open(args)
    if args.demo:
        from ..ingest.demo import seed_demo

        with _terminal_bar() as bar:
            counts = seed_demo(con, contracts=args.contracts, usage_rows=args.usage_rows, seed=args.seed, progress=bar)
        _print_json({"initialized": True, "demo": counts})
    else:
        _print_json({"initialized": True})
    return 0


def cmd_import(args) -> int:
    from ..ingest.importer import import_folder

    con = _open(args)
    try:
        with _terminal_bar() as bar:
            counts = import_folder(con, Path(args.folder), progress=bar)
    except ImportProblems as exc:
        # every problem, one per line, so a script or a person can fix the whole file at once
        total = getattr(exc, "total", None) or len(exc.problems)
        shown = f" (the first {len(exc.problems)})" if total > len(exc.problems) else ""
        print(f"billsim: import refused, nothing written: {total} problem(s){shown}", file=sys.stderr)
        for p in exc.problems:
            print(f"{p['file']}:{p['line']} {p['column']}: {p['reason']}", file=sys.stderr)
        return 2
    _print_json({"imported": counts})
    return 0


def cmd_demo(args) -> int:
    from ..ingest.demo import write_demo_folder

    counts = write_demo_folder(Path(args.out), contracts=args.contracts, usage_rows=args.usage_rows, seed=args.seed)
    _print_json({"out": str(args.out), "rows": counts})
    return 0


def cmd_cycles(args) -> int:
    from ..rating.cycles import billing_cycles

    con = _open(args)
    rows = billing_cycles(con, args.contract_id, args.from_date, args.to_date)
    _release_databases()
    out = csv.writer(sys.stdout, lineterminator="\n")
    out.writerow(["start_date", "end_date", "bill_for_date", "billing_cycle_start_day", "period_days"])
    for c in rows:
        out.writerow([c.start_date, c.end_date, c.bill_for_date, c.billing_cycle_start_day, c.period_days])
    return 0


def cmd_preview(args) -> int:
    from ..billing.invoices import preview_invoice

    _print_json(preview_invoice(_open(args), args.contract_id, args.period_date))
    return 0


def cmd_draft(args) -> int:
    from ..billing.invoices import draft_period_invoice

    _print_json(draft_period_invoice(_open(args), args.contract_id, args.period_date, actor=args.actor))
    return 0


def cmd_run(args) -> int:
    from ..billing.bill_run import bill_run

    con = _open(args)
    report = bill_run(
        con,
        args.period_date,
        contract_ids=args.contract,  # None when not given: argparse never gives an empty list
        customer_ids=args.customer,
        business_id=args.business,
        include_delayed_charges=args.include_delayed_charges,
        finalize=args.finalize,
        progress=None if args.quiet else _StderrBar(),
        requested_by=args.actor,
        catch_up=args.catch_up,
    )
    _print_json(report)
    return 0


def cmd_export(args) -> int:
    from .export import export_ledger

    paths = export_ledger(_open(args, read_only=False), Path(args.out), fmt=args.format)
    _print_json({k: str(v) for k, v in paths.items()})
    return 0


def cmd_finalize(args) -> int:
    from ..billing.lifecycle import finalize_invoice

    _print_json(finalize_invoice(_open(args), args.invoice_id, actor=args.actor))
    return 0


def cmd_void(args) -> int:
    from ..billing.lifecycle import void_invoice

    _print_json(void_invoice(_open(args), args.invoice_id, reason=args.reason, actor=args.actor))
    return 0


def cmd_pay(args) -> int:
    from ..billing.lifecycle import record_payment

    _print_json(record_payment(_open(args), args.invoice_id, args.amount, method=args.method, actor=args.actor))
    return 0


def cmd_approve(args) -> int:
    from ..billing.approval import approve_invoices

    if args.run is not None or args.unflagged:
        return _approve_unflagged(args)
    if not args.invoice_ids:
        raise ValidationError("name the invoices to approve (billsim approve INV …)")
    _print_json(approve_invoices(_open(args), args.invoice_ids, actor=args.actor, note=args.note))
    return 0


def _approve_unflagged(args) -> int:
    from ..review import approve_unflagged

    if args.run is None or not args.unflagged:
        raise ValidationError("approve a run's drafts with both --run RUN_ID and --unflagged")
    if args.invoice_ids:
        raise ValidationError("name invoices or --run RUN_ID --unflagged, not both")
    _print_json(approve_unflagged(_open(args), args.run, actor=args.actor, note=args.note))
    return 0


def cmd_review(args) -> int:
    from ..review import review

    result = review(_open(args), run_id=args.run, period_date=args.period_date, flags=args.flag)
    out = result.model_dump(mode="json")
    if not args.figures:  # one line per flag; --figures adds what each was decided on
        for draft in out["drafts"]:
            draft["flags"] = [{"flag": f["flag"], "reason": f["reason"]} for f in draft["flags"]]
    _print_json(out)
    return 0


def cmd_thresholds(args) -> int:
    from ..billing.audit import resolve_actor
    from ..review import get_thresholds, set_thresholds

    con = _open(args)
    large = {}
    for item in args.large_invoice or []:
        cur, sep, amount = item.partition("=")
        if not sep:
            raise ValidationError(f"--large-invoice {item!r}: write CURRENCY=AMOUNT (or CURRENCY= to remove it)")
        large[cur.strip().upper()] = _amount(amount) if amount.strip() else None
    changes = (args.total_change_percent, args.total_change_min, args.usage_spike_factor)
    if any(v is not None for v in changes) or large:
        result = set_thresholds(
            con,
            args.business,
            total_change_percent=args.total_change_percent,
            total_change_min=args.total_change_min,
            usage_spike_factor=args.usage_spike_factor,
            large_invoice=large,
            actor=resolve_actor(args.actor),
        )
    else:
        result = get_thresholds(con, args.business)
    _print_json(result)
    return 0


def cmd_hold(args) -> int:
    from ..billing.approval import hold_invoice

    _print_json(hold_invoice(_open(args), args.invoice_id, reason=args.reason, actor=args.actor))
    return 0


def cmd_release(args) -> int:
    from ..billing.approval import release_invoice

    _print_json(release_invoice(_open(args), args.invoice_id, actor=args.actor, note=args.note))
    return 0


def cmd_audit(args) -> int:
    from ..billing.audit import export_audit

    path = export_audit(_open(args), Path(args.out))
    _print_json({"audit": str(path)})
    return 0


def cmd_render(args) -> int:
    from ..billing.invoice_store import load_invoice
    from .documents import render_document

    out = Path(args.out)
    # no --format: a .pdf file gets a PDF, anything else HTML
    fmt = args.format or ("pdf" if out.suffix.lower() == ".pdf" else "html")
    con = _open(args)
    invoice = load_invoice(con, args.invoice_id)
    document = render_document(con, invoice, fmt)  # rendered first: a bad id never leaves an empty file
    data = document.encode("utf-8") if isinstance(document, str) else document
    out.write_bytes(data)
    _print_json(
        {
            "invoice_id": invoice.invoice_id,
            "number": invoice.number,
            "status": invoice.status,
            "format": fmt,
            "out": str(out),
            "bytes": len(data),
        }
    )
    return 0


def cmd_simulate(args) -> int:
    from ..whatif.scenarios import load_scenario, simulate

    scenario = load_scenario(Path(args.scenario))
    with _terminal_bar() as bar:
        summary = simulate(
            _open(args),
            scenario,
            args.from_date,
            args.to_date,
            out_dir=Path(args.out) if args.out else None,
            progress=bar,
        )
    _print_json(summary)
    return 0


def cmd_export_inputs(args) -> int:
    from ..spark.inputs import export_inputs

    _print_json(export_inputs(_open(args), Path(args.out)))
    return 0


def _spark(args):
    from ..spark.session import spark_session

    return spark_session(args.master)


@contextlib.contextmanager
def _spark_errors():
    """A Spark error (a missing input folder, a lost cluster) as one line, like every other error."""
    from pyspark.errors import PySparkException

    try:
        yield
    except PySparkException as exc:
        raise ValidationError(f"spark: {str(exc).strip().splitlines()[0]}") from None


def cmd_spark_run(args) -> int:
    from ..spark.run import spark_run

    with _spark_errors():
        summary = spark_run(
            _spark(args),
            args.inputs,
            args.period_date,
            args.out,
            partitions=args.partitions,
            include_delayed_charges=args.include_delayed_charges,
        )
    _print_json(summary)
    return 0


def cmd_import_drafts(args) -> int:
    from ..spark.import_drafts import import_drafts

    _print_json(import_drafts(_open(args), Path(args.folder), actor=getattr(args, "actor", None)))
    return 0


def cmd_spark_simulate(args) -> int:
    from ..spark.simulate import spark_simulate
    from ..whatif.scenarios import load_scenario

    scenario = load_scenario(Path(args.scenario))
    with _spark_errors():
        summary = spark_simulate(
            _spark(args), scenario, args.inputs, args.from_date, args.to_date, args.out, partitions=args.partitions
        )
    _print_json(summary)
    return 0


def cmd_token(args) -> int:
    from ..api.tokens import create_token, list_tokens, revoke_token

    con = _open(args)
    if args.token_command == "create":
        token = create_token(con, args.business, args.name)
        known = con.execute("SELECT count(*) FROM customers WHERE business_id = ?", [args.business]).fetchone()[0]
        out = {"name": args.name, "business_id": args.business, "token": token}
        out["note"] = "shown once: copy it now; only its hash is stored"
        if not known:
            out["warning"] = f"business {args.business!r} has no customers in this database (yet)"
        _print_json(out)
    elif args.token_command == "list":
        _print_json(list_tokens(con))
    else:
        _print_json(revoke_token(con, args.name))
    return 0


def cmd_mcp(args) -> int:
    from ..api.mcp_server import run_stdio

    run_stdio(args.db, args.business, actor=args.actor)
    return 0


def cmd_generate(args) -> int:
    from ..api.zenskar import generate_from_fields

    result = generate_from_fields(
        _open(args),
        contract_id=args.contract_id,
        customer_id=args.customer,
        from_date=args.from_date,
        to_date=args.to_date,
        bill_for_date=args.bill_for,
        billing_cycle_start_day=args.billing_cycle_start_day,
        check_duplicate_invoice=args.check_duplicate,
        actor=args.actor,
    )
    _print_json(result)
    return 0


def cmd_create(args) -> int:
    from ..api.seed_bodies import create_request, read_json
    from ..billing.manual_invoices import create_invoice

    req = create_request(read_json(Path(args.request)), idempotency_key=args.idempotency_key)
    _print_json(create_invoice(_open(args), req, actor=args.actor))
    return 0


def cmd_batch(args) -> int:
    from ..api.seed_bodies import batch_request, read_json, with_item_errors
    from ..billing.manual_invoices import batch_create

    body, errors = batch_request(read_json(Path(args.request)))
    _print_json(with_item_errors(batch_create(_open(args), body, actor=args.actor), errors))
    return 0


def cmd_redraft(args) -> int:
    from ..billing.invoices import redraft_invoice

    _print_json(redraft_invoice(_open(args), args.invoice_id, actor=args.actor))
    return 0


def cmd_serve(args) -> int:
    import uvicorn

    from ..api.app import create_app

    app = create_app(args.db)  # opened here: a busy or unreadable database is one line and an exit code
    print(f"billsim: serving {args.db or 'the workbench database'} on http://{args.host}:{args.port}", file=sys.stderr)
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level)
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="billsim", description="Billing-simulation workbench engine")
    p.add_argument("--db", help="database file (default: $BILLSIM_DB or data/workbench.duckdb)")
    p.add_argument(
        "--wait",
        type=_seconds,
        default=0.0,
        metavar="SECONDS",
        help="wait this long for a database another process holds (default: fail at once)",
    )
    p.add_argument("--actor", default=None, help="who acts, for the audit trail (default: the OS user)")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("init", help="create the database (and seed the demo data with --demo)")
    s.add_argument("--demo", action="store_true")
    s.add_argument("--contracts", type=_count, default=50)
    s.add_argument("--usage-rows", type=_count, default=None)
    s.add_argument("--seed", type=int, default=7)
    s.set_defaults(func=cmd_init)

    s = sub.add_parser("import", help="import a data folder of CSV files (all-or-nothing)")
    s.add_argument("folder")
    s.set_defaults(func=cmd_import)

    s = sub.add_parser("demo", help="write a deterministic demo data folder")
    s.add_argument("--out", required=True)
    s.add_argument("--contracts", type=_count, default=50)
    s.add_argument("--usage-rows", type=_count, default=None)
    s.add_argument("--seed", type=int, default=7)
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

    s = sub.add_parser("export", help="write invoices and invoice_lines")
    s.add_argument("--out", required=True)
    s.add_argument("--format", choices=["csv", "parquet"], default="csv")
    s.set_defaults(func=cmd_export)

    for name, func, text in (
        ("finalize", cmd_finalize, "finalize a draft: assign its number, status open"),
        ("void", cmd_void, "void an open invoice (keeps its number)"),
    ):
        s = sub.add_parser(name, help=text)
        s.add_argument("invoice_id")
        if name == "void":
            s.add_argument("--reason", help="why the invoice is voided (kept with it)")
        s.set_defaults(func=func)

    s = sub.add_parser("pay", help="record a payment against an open invoice")
    s.add_argument("invoice_id")
    s.add_argument("amount", type=_amount, help="major units, e.g. 125.00")
    s.add_argument("--method", choices=["manual", "stripe"], default="manual")
    s.set_defaults(func=cmd_pay)

    s = sub.add_parser("approve", help="approve drafts for finalizing (all or nothing; approved ones stay as they are)")
    s.add_argument("invoice_ids", nargs="*", metavar="INV")
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
    s.add_argument("invoice_id")
    s.add_argument("--reason", required=True, help="why it is held (required)")
    s.set_defaults(func=cmd_hold)

    s = sub.add_parser("release", help="release a held invoice: it is a draft again, to be approved")
    s.add_argument("invoice_id")
    s.add_argument("--note", help="kept with the release in the audit trail")
    s.set_defaults(func=cmd_release)

    s = sub.add_parser("audit", help="write the audit trail of every invoice change as audit.csv")
    s.add_argument("--out", required=True, help="the CSV file, or a folder to write audit.csv into")
    s.set_defaults(func=cmd_audit)

    s = sub.add_parser("render", help="write an invoice's document (as the customer sees it) as HTML or PDF")
    s.add_argument("invoice_id")
    s.add_argument("--out", required=True, help="file to write")
    s.add_argument("--format", choices=["html", "pdf"], help="default: pdf for a .pdf file, html otherwise")
    s.set_defaults(func=cmd_render)

    s = sub.add_parser("simulate", help="bill cycles twice, baseline and what-if scenario, and compare")
    s.add_argument("scenario")
    s.add_argument("--from", dest="from_date", type=_date, required=True)
    s.add_argument("--to", dest="to_date", type=_date, required=True)
    s.add_argument("--out")
    s.set_defaults(func=cmd_simulate)

    s = sub.add_parser("export-inputs", help="write the six input tables as Parquet (what spark-run reads)")
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_export_inputs)

    spark_help = "Spark master URL (default local[2]; e.g. spark://host:7077, yarn, k8s://…)"
    parts_help = "partitions (tasks) the customers are hashed into (default: 2 × the cluster's cores)"
    s = sub.add_parser("spark-run", help="bill run on Apache Spark from Parquet inputs; invoices as Parquet")
    s.add_argument("--inputs", required=True, help="folder or URI of export-inputs' tables")
    s.add_argument("--period-date", type=_date, required=True)
    s.add_argument("--out", required=True, help="folder or URI for invoices, invoice_lines, failed, …")
    s.add_argument("--master", help=spark_help)
    s.add_argument("--partitions", type=_count, help=parts_help)
    s.add_argument("--include-delayed-charges", action="store_true")
    s.set_defaults(func=cmd_spark_run)

    s = sub.add_parser("import-drafts", help="import a spark-run's invoices as drafts of one run (idempotent)")
    s.add_argument("folder", help="the --out folder of billsim spark-run")
    s.set_defaults(func=cmd_import_drafts)

    s = sub.add_parser("spark-simulate", help="what-if scenario on Apache Spark; writes comparison Parquet/CSV")
    s.add_argument("scenario")
    s.add_argument("--inputs", required=True, help="folder or URI of export-inputs' tables")
    s.add_argument("--from", dest="from_date", type=_date, required=True)
    s.add_argument("--to", dest="to_date", type=_date, required=True)
    s.add_argument("--out", required=True)
    s.add_argument("--master", help=spark_help)
    s.add_argument("--partitions", type=_count, help=parts_help)
    s.set_defaults(func=cmd_spark_simulate)

    s = sub.add_parser("serve", help="serve the HTTP API (spec section 9) on this machine")
    s.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    s.add_argument("--port", type=_count, default=8000)
    s.add_argument("--log-level", default="warning", choices=["critical", "error", "warning", "info", "debug"])
    s.set_defaults(func=cmd_serve)
    s = sub.add_parser("token", help="API tokens: create (shown once), list, revoke")
    tokens = s.add_subparsers(dest="token_command", required=True, parser_class=_Parser)
    t = tokens.add_parser("create", help="a new token for a business; printed once, stored only as a hash")
    t.add_argument("--business", required=True)
    t.add_argument("--name", required=True, help="a unique name, to list and revoke it by")
    t = tokens.add_parser("list", help="every token: name, business, created, revoked (never the token)")
    t = tokens.add_parser("revoke", help="revoke a token by name: it stops working at once")
    t.add_argument("name")
    s.set_defaults(func=cmd_token)

    s = sub.add_parser("mcp", help="serve the MCP tools of one business over stdio (for an MCP client)")
    s.add_argument("--business", required=True, help="the business every tool is scoped to")
    s.set_defaults(func=cmd_mcp)

    s = sub.add_parser(
        "generate", help="Zenskar generate_invoice: draft the invoice of ONE exact cycle (see billsim cycles)"
    )
    s.add_argument("contract_id")
    s.add_argument("--customer", required=True, help="the customer owning the contract")
    s.add_argument("--from", dest="from_date", required=True, help="the cycle's start_date")
    s.add_argument("--to", dest="to_date", required=True, help="the cycle's end_date")
    s.add_argument("--bill-for", help="the cycle's bill_for_date (missing: an error naming the valid cycles)")
    s.add_argument("--billing-cycle-start-day", type=_count, help="the cycle's billing_cycle_start_day")
    s.add_argument(
        "--check-duplicate",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="refuse a cycle whose invoice is approved or finalized (default: on)",
    )
    s.set_defaults(func=cmd_generate)

    s = sub.add_parser("create", help="create a manual invoice from a JSON request file (DayZero POST /invoices)")
    s.add_argument("request", help="JSON file: customer_id, line_items (unit_price in minor units), due_date, …")
    s.add_argument("--idempotency-key", help="a retried create with the same key and body returns the first")
    s.set_defaults(func=cmd_create)

    s = sub.add_parser("batch", help="create invoices from a JSON batch file (DayZero POST /invoices/batch)")
    s.add_argument("request", help="JSON file: items, include_delayed_charges, finalize")
    s.set_defaults(func=cmd_batch)

    s = sub.add_parser("redraft", help="re-rate a draft after its data changed (replaces it, same id)")
    s.add_argument("invoice_id")
    s.set_defaults(func=cmd_redraft)
    # --actor is accepted after the command too (`billsim approve INV --actor NAME`); SUPPRESS keeps a
    # global `billsim --actor NAME approve INV` when the command does not repeat it.
    for command in sub.choices.values():
        if not any("--actor" in a.option_strings for a in command._actions):
            command.add_argument("--actor", default=argparse.SUPPRESS, help="who acts (default: the OS user)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except DatabaseBusyError as exc:
        print(f"billsim: {exc}", file=sys.stderr)
        return 3
    except BillsimError as exc:
        print(f"billsim: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0
    except duckdb.Error as exc:
        # a database that cannot be read or written (corrupt file, disk full, …): one line, no traceback
        print(f"billsim: database error: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 4
    except OSError as exc:  # a folder or file that cannot be read or written
        where = f": {exc.filename}" if exc.filename else ""
        print(f"billsim: {exc.strerror or exc}{where}", file=sys.stderr)
        return 4


if __name__ == "__main__":
    sys.exit(main())
