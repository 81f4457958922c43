"""The service commands: the HTTP API (serve, token), MCP, and the API's invoice requests from the
command line (generate, create, batch)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .common import _count, _open, _Parser, _print_json


def cmd_token(args) -> int:
    from ...api.tokens import create_token, list_tokens, revoke_token

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
    from ...api.mcp_server import run_stdio

    run_stdio(args.db, args.business, actor=args.actor)
    return 0


def cmd_generate(args) -> int:
    from ...api.zenskar import generate_from_fields

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
    from ...api.seed_bodies import create_request, read_json
    from ...billing.manual_invoices import create_invoice

    req = create_request(read_json(Path(args.request)), idempotency_key=args.idempotency_key)
    _print_json(create_invoice(_open(args), req, actor=args.actor))
    return 0


def cmd_batch(args) -> int:
    from ...api.seed_bodies import batch_request, read_json, with_item_errors
    from ...billing.manual_invoices import batch_create

    body, errors = batch_request(read_json(Path(args.request)))
    _print_json(with_item_errors(batch_create(_open(args), body, actor=args.actor), errors))
    return 0


def cmd_serve(args) -> int:
    import uvicorn

    from ...api.app import create_app

    app = create_app(args.db)  # opened here: a busy or unreadable database is one line and an exit code
    print(f"billsim: serving {args.db or 'the workbench database'} on http://{args.host}:{args.port}", file=sys.stderr)
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level)
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
