"""The service commands: the HTTP API (serve, token), MCP, and the API's invoice requests from the
command line (generate, create, batch)."""

from __future__ import annotations

import argparse

from ..service import access, contracts, invoices, limits
from ..service.seed_bodies import read_json
from .common import Context, _count, _Parser, _seconds


def cmd_token(args, ctx: Context) -> int:
    s = ctx.session()
    if args.token_command == "create":
        ctx.print_json(access.create(s, args.business, args.name))
    elif args.token_command == "list":
        ctx.print_json(access.tokens(s))
    else:
        ctx.print_json(access.revoke(s, args.name))
    return 0


def cmd_mcp(args, ctx: Context) -> int:
    # The MCP SDK, FastAPI and Streamlit load only for the two commands that serve them (tests/test_architecture.py
    # DEFERRED): every other command starts without them, seconds sooner (benchmarks/README.md, issue 22).
    from ..mcp.stdio import run_stdio

    run_stdio(args.db, args.business, actor=args.actor)
    return 0


def cmd_generate(args, ctx: Context) -> int:
    request = {
        "contract_id": args.contract_id,
        "customer_id": args.customer,
        "from_date": args.from_date,
        "to_date": args.to_date,
        "bill_for_date": args.bill_for,
        "billing_cycle_start_day": args.billing_cycle_start_day,
        "check_duplicate_invoice": args.check_duplicate,
    }
    ctx.print_json(contracts.generate(ctx.session(), {k: v for k, v in request.items() if v is not None}))
    return 0


def cmd_create(args, ctx: Context) -> int:
    body = read_json(ctx.path(args.request))
    ctx.print_json(invoices.create(ctx.session(), body, idempotency_key=args.idempotency_key).invoice)
    return 0


def cmd_batch(args, ctx: Context) -> int:
    result, _ = invoices.batch(ctx.session(), read_json(ctx.path(args.request)))
    ctx.print_json(result)
    return 0


def cmd_serve(args, ctx: Context) -> int:
    from ..server.run import serve  # loaded only to serve: see cmd_mcp

    return serve(
        args.db,
        host=args.host,
        port=args.port,
        workbench=not args.no_workbench,
        deadline_s=args.deadline,
        memory_limit=args.memory_limit,
        log_level=args.log_level,
        run_cli=ctx.main,
        stderr=ctx.stderr,
        wait_seconds=args.wait,
    )


def add_parsers(sub) -> None:
    s = sub.add_parser(
        "serve", help="serve the workbench, the HTTP API and MCP from one process that holds the database"
    )
    s.add_argument("--no-workbench", action="store_true", help="serve the HTTP API and /mcp only")
    s.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    s.add_argument("--port", type=_count, default=8000)
    s.add_argument("--log-level", default="warning", choices=["critical", "error", "warning", "info", "debug"])
    s.add_argument(
        "--deadline",
        type=_seconds,
        default=limits.REQUEST_DEADLINE_S,
        metavar="SECONDS",
        help=f"the most one request may take; its query is then interrupted (default {limits.REQUEST_DEADLINE_S:g})",
    )
    s.add_argument(
        "--memory-limit",
        default=limits.SERVER_MEMORY_LIMIT,
        metavar="SIZE",
        help=f"DuckDB's memory for the server, e.g. 2GB (default {limits.SERVER_MEMORY_LIMIT})",
    )
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
    s.add_argument(
        "--idempotency-key",
        help="a retried create with the same key and body returns the first invoice; the key is the business's, "
        "shared with the HTTP API's Idempotency-Key and MCP's idempotency_key",
    )
    s.set_defaults(func=cmd_create)

    s = sub.add_parser("batch", help="create invoices from a JSON batch file (DayZero POST /invoices/batch)")
    s.add_argument("request", help="JSON file: items, include_delayed_charges, finalize")
    s.set_defaults(func=cmd_batch)
