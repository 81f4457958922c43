"""The service commands: the HTTP API (serve, token), MCP, and the API's invoice requests from the
command line (generate, create, batch)."""

from __future__ import annotations

import argparse
from pathlib import Path

import uvicorn

from ..api.app import create_app, open_server_app
from ..mcp.stdio import run_stdio
from ..service import access, contracts, invoices
from ..service.seed_bodies import read_json
from .common import Context, _count, _Parser


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
    body = read_json(Path(args.request))
    ctx.print_json(invoices.create(ctx.session(), body, idempotency_key=args.idempotency_key).invoice)
    return 0


def cmd_batch(args, ctx: Context) -> int:
    result, _ = invoices.batch(ctx.session(), read_json(Path(args.request)))
    ctx.print_json(result)
    return 0


def cmd_serve(args, ctx: Context) -> int:
    # opened here: a busy or unreadable database is one line and an exit code
    server_app = open_server_app(args.db, wait_seconds=args.wait)
    try:
        app = create_app(billsim=server_app)
        where = args.db or "the workbench database"
        print(f"billsim: serving {where} on http://{args.host}:{args.port}", file=ctx.stderr)
        uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level)
    finally:
        server_app.close()
    return 0


def add_parsers(sub) -> None:
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
