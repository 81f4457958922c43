"""Billsim's operations as MCP tools (spec section 9), on the official `mcp` SDK's MCPServer.

One server serves ONE business per call: over stdio the business given to `billsim mcp --business B`;
over streamable HTTP (`/mcp` of the HTTP API) the business of the bearer token, checked on every request
by `BearerAuth` exactly as the HTTP API checks it (401 no or bad token, 403 another business). A tool
never shows or touches anything of another business: an id of another business is "not found", exactly
as if it did not exist.

Each tool call gets its own cursor (tools run in worker threads): over stdio the database is opened for
the call and closed after it, so the workbench and the CLI can use the file between calls; over HTTP it
is a cursor of the server's shared connection. Errors come back as tool errors `code: message` with the
HTTP API's code and message (engine/api/errors.py: error_code, one mapping for both; e.g. `contract_not_found`,
`no_matching_cycle: ... nearest valid cycles: ...`), never as an empty result.

Tools that change nothing say so in their description and carry `readOnlyHint`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import anyio
import duckdb
import pydantic
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.streamable_http_manager import StreamableHTTPASGIApp
from mcp.types import ToolAnnotations
from pydantic import Field
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.routing import Route

from ..billing.audit import default_actor
from ..errors import BillsimError, NotFoundError, ValidationError
from .errors import ApiError, error_code, not_found
from .tenancy import simulation_scope

SERVER_NAME = "billsim"
MCP_PATH = "/mcp"
_STATE_KEY = "billsim_caller"

INSTRUCTIONS = """Billsim: a billing workbench for one business (its contracts, invoices and bill runs).
Start with read-only tools: getContractBillingCycles (the exact cycles of a contract), previewInvoice (what an
invoice would be, nothing stored), listInvoices / getInvoice, reviewBillRun (review flags of drafts).
To bill a contract: call getContractBillingCycles FIRST, pick ONE cycle and copy its start_date, end_date,
bill_for_date and billing_cycle_start_day verbatim into generateInvoice. Drafts are reviewed, then
approveInvoices; only approved invoices can be finalized. simulateScenario is a what-if that changes nothing.
Money is in major units as decimal strings (e.g. "35.48") next to integer minor units (*_minor)."""

READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False)
ADDITIVE = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=True, open_world_hint=False)
CHANGING = ToolAnnotations(read_only_hint=False, destructive_hint=True, idempotent_hint=False, open_world_hint=False)

DateText = Annotated[
    str | int,
    Field(description="YYYY-MM-DD, an ISO-8601 date-time (its UTC day, e.g. 2026-04-28T00:00:00Z) or UNIX seconds"),
]


@dataclass(frozen=True)
class Caller:
    """Who a tool call acts for: the business it is scoped to and the actor its changes are recorded under."""

    business_id: str
    actor: str


# --- where a call's cursor and business come from ----------------------------------------------------


class StdioBackend:
    """`billsim mcp --business B`: one business; the database opened for each call, closed after it."""

    def __init__(self, db_path: str | Path | None, business_id: str, actor: str | None = None, wait: float = 10.0):
        self.db_path, self.wait = db_path, wait
        self.caller = Caller(business_id, actor or f"mcp:{default_actor()}")
        self._lock = threading.Lock()  # one call at a time holds the file (DuckDB: one writing process)

    @contextlib.contextmanager
    def call(self, ctx: Context) -> Iterator[tuple[duckdb.DuckDBPyConnection, Caller]]:
        from ..db import connect

        with self._lock:
            con = connect(self.db_path, wait_seconds=self.wait)
            try:
                yield con, self.caller
            finally:
                con.close()


class SharedBackend:
    """Streamable HTTP: a cursor of the server's connection per call; the caller from the authenticated request."""

    def __init__(self, con: duckdb.DuckDBPyConnection):
        self.con = con

    @contextlib.contextmanager
    def call(self, ctx: Context) -> Iterator[tuple[duckdb.DuckDBPyConnection, Caller]]:
        request = ctx.request_context.request if ctx is not None else None
        caller = getattr(request, "scope", {}).get("state", {}).get(_STATE_KEY) if request is not None else None
        if not isinstance(caller, Caller):  # BearerAuth always sets it; never serve an unauthenticated call
            raise ToolError("unauthorized: no authenticated business for this call")
        cur = self.con.cursor()
        try:
            cur.execute("SET TimeZone = 'UTC'").fetchall()
            yield cur, caller
        finally:
            cur.close()


# --- business scoping ------------------------------------------------------------------------------


def _check_contract(con: duckdb.DuckDBPyConnection, caller: Caller, contract_id: str) -> None:
    row = con.execute(
        """SELECT cu.business_id FROM contracts k JOIN customers cu USING (customer_id)
           WHERE k.contract_id = ?""",
        [contract_id],
    ).fetchone()
    if row is None or row[0] != caller.business_id:
        raise not_found("contract", contract_id)


def _check_invoices(con: duckdb.DuckDBPyConnection, caller: Caller, invoice_ids: list[str]) -> None:
    ids = list(dict.fromkeys(invoice_ids))
    mine = {
        r[0]
        for r in con.execute(
            "SELECT invoice_id FROM invoices WHERE business_id = ? AND list_contains(?::VARCHAR[], invoice_id)",
            [caller.business_id, ids],
        ).fetchall()
    }
    unknown = [i for i in ids if i not in mine]
    if unknown:
        raise not_found("invoice", unknown[0])


def _check_run(con: duckdb.DuckDBPyConnection, caller: Caller, run_id: str) -> None:
    """A run is the business's when its scope names the business, or (a run of every business) it billed
    a contract of the business; any other run is not found."""
    row = con.execute("SELECT scope FROM bill_runs WHERE run_id = ?", [run_id]).fetchone()
    visible = False
    if row is not None:
        scope_business = json.loads(row[0]).get("business_id")
        if scope_business is not None:
            visible = scope_business == caller.business_id
        else:
            visible = bool(
                con.execute(
                    """SELECT count(*) FROM bill_run_items b JOIN contracts k USING (contract_id)
                       JOIN customers cu USING (customer_id) WHERE b.run_id = ? AND cu.business_id = ?""",
                    [run_id, caller.business_id],
                ).fetchone()[0]
            )
    if not visible:
        raise not_found("bill_run", run_id)


def _business_contracts(con: duckdb.DuckDBPyConnection, caller: Caller) -> list[str]:
    return [
        r[0]
        for r in con.execute(
            """SELECT k.contract_id FROM contracts k JOIN customers cu USING (customer_id)
               WHERE cu.business_id = ? ORDER BY 1""",
            [caller.business_id],
        ).fetchall()
    ]


def _date(value: str | int | None, field: str) -> dt.date | None:
    from .zenskar import cycle_date

    return cycle_date(value, field)


def _required_date(value: str | int, field: str) -> dt.date:
    date = _date(value, field)
    if date is None:
        raise ValidationError(f"{field} is required")
    return date


def _jsonable(obj: Any) -> Any:
    """Pydantic models and Decimals as JSON values (Decimal -> string: money is never a float)."""
    if hasattr(obj, "model_dump"):
        return obj.model_dump(mode="json")
    return json.loads(json.dumps(obj, default=lambda o: o.isoformat() if hasattr(o, "isoformat") else str(o)))


# --- the server ------------------------------------------------------------------------------------


def build_server(backend: StdioBackend | SharedBackend) -> MCPServer:
    """The MCPServer with every Billsim tool, each calling the engine through `backend`."""
    server = MCPServer(SERVER_NAME, instructions=INSTRUCTIONS, log_level="WARNING")

    def tool(name: str, annotations: ToolAnnotations, description: str) -> Callable:
        """Register `fn` as tool `name`; engine errors become tool errors `code: message`."""

        def register(fn: Callable) -> Callable:
            @functools.wraps(fn)
            def run(*args, **kwargs):
                try:
                    return _jsonable(fn(*args, **kwargs))
                except ToolError:
                    raise
                except (ApiError, BillsimError) as exc:
                    _status, code, message = error_code(exc)  # the HTTP API's codes (errors.py), one mapping
                    raise ToolError(f"{code}: {message}") from None
                except pydantic.ValidationError as exc:
                    detail = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'value'}: {e['msg']}" for e in exc.errors())
                    raise ToolError(f"validation_error: {detail}") from None
                except duckdb.Error as exc:
                    raise ToolError(f"database_error: {str(exc).splitlines()[0]}") from None

            server.add_tool(run, name=name, description=description, annotations=annotations, structured_output=True)
            return fn

        return register

    @tool(
        "getContractBillingCycles",
        READ_ONLY,
        "Read-only: changes nothing. CALL THIS FIRST, before generateInvoice. Lists the contract's billing "
        "cycles (oldest first, the latest `limit` of them): name, start_date, end_date, bill_for_date, "
        "billing_cycle_start_day, period_days. generateInvoice accepts only these exact values: copy one "
        "cycle's start_date -> from_date, end_date -> to_date, bill_for_date and billing_cycle_start_day "
        "verbatim. Without from_date/to_date: from the contract's start up to the cycle after today's.",
    )
    def get_contract_billing_cycles(
        ctx: Context,
        contract_id: Annotated[str, Field(description="The contract's id.")],
        limit: Annotated[int, Field(description="At most this many cycles (the latest), 1-500.")] = 12,
        from_date: Annotated[DateText | None, Field(description="Only cycles ending on or after this date.")] = None,
        to_date: Annotated[DateText | None, Field(description="Only cycles starting on or before this date.")] = None,
    ) -> dict[str, Any]:
        from .zenskar import contract_cycles

        with backend.call(ctx) as (con, caller):
            _check_contract(con, caller, contract_id)
            cycles = contract_cycles(
                con,
                contract_id,
                limit=limit,
                from_date=_date(from_date, "from_date"),
                to_date=_date(to_date, "to_date"),
            )
            return {"contract_id": contract_id, "billing_cycles": cycles}

    @tool(
        "generateInvoice",
        ADDITIVE,
        "Changes data: drafts ONE invoice (status draft) for a contract and customer over ONE billing cycle, "
        "covering every product of the contract (never call it per product). MANDATORY PRE-STEP: call "
        "getContractBillingCycles and copy one cycle's start_date -> from_date, end_date -> to_date, "
        "bill_for_date and billing_cycle_start_day verbatim. Dates that match no cycle, or a missing "
        "bill_for_date, are an error naming the valid cycles (nothing is created). If the cycle already has "
        "a draft (or held) invoice it is returned with created=false and nothing changes; with "
        "check_duplicate_invoice (default true) an approved or finalized one is the error "
        "InvoiceAlreadyGeneratedForThisBillingPeriod. Returns {created, invoice_ids, invoice}.",
    )
    def generate_invoice_tool(
        ctx: Context,
        contract_id: Annotated[str, Field(description="The contract to invoice.")],
        customer_id: Annotated[str, Field(description="The customer owning the contract.")],
        from_date: Annotated[DateText | None, Field(description="The cycle's start_date, verbatim.")] = None,
        to_date: Annotated[DateText | None, Field(description="The cycle's end_date, verbatim.")] = None,
        bill_for_date: Annotated[
            DateText | None,
            Field(description="REQUIRED: the cycle's bill_for_date from getContractBillingCycles, verbatim."),
        ] = None,
        billing_cycle_start_day: Annotated[
            int | None, Field(description="The cycle's billing_cycle_start_day (1-31), verbatim.")
        ] = None,
        check_duplicate_invoice: Annotated[
            bool | None,
            Field(description="Refuse when the cycle's invoice is already approved or finalized (default true)."),
        ] = None,
    ) -> dict[str, Any]:
        from .zenskar import generate_from_fields

        with backend.call(ctx) as (con, caller):
            _check_contract(con, caller, contract_id)
            result = generate_from_fields(
                con,
                contract_id=contract_id,
                customer_id=customer_id,
                from_date=from_date,
                to_date=to_date,
                bill_for_date=bill_for_date,
                billing_cycle_start_day=billing_cycle_start_day,
                check_duplicate_invoice=check_duplicate_invoice,
                actor=caller.actor,
            )
            return {
                "created": result.created,
                "invoice_ids": [result.invoice.invoice_id],
                "invoice": _jsonable(result.invoice),
            }

    @tool(
        "previewInvoice",
        READ_ONLY,
        "Read-only: changes nothing (nothing is stored). The invoice a contract would get for the billing "
        "cycle containing period_date, computed exactly as a draft would be: lines, proration, tax, totals, "
        "and pending usage that would not be billed. Use it to check figures before generateInvoice.",
    )
    def preview_invoice_tool(
        ctx: Context,
        contract_id: Annotated[str, Field(description="The contract.")],
        period_date: Annotated[DateText, Field(description="Any date inside the cycle to preview.")],
    ) -> dict[str, Any]:
        from ..billing.invoices import preview_invoice

        with backend.call(ctx) as (con, caller):
            _check_contract(con, caller, contract_id)
            return preview_invoice(con, contract_id, _required_date(period_date, "period_date"))

    @tool(
        "listInvoices",
        READ_ONLY,
        "Read-only: changes nothing. The business's invoices, newest first, filtered by any of status "
        "(draft, approved, held, open, partially_paid, manual_paid, stripe_paid, void), customer_id, "
        "contract_id, run_id, period_date (the invoice's period contains it); paged with limit/offset. "
        "Returns {invoices, total_count, limit, offset}; getInvoice gives one invoice with its lines.",
    )
    def list_invoices_tool(
        ctx: Context,
        status: Annotated[str | None, Field(description="Only invoices in this status.")] = None,
        customer_id: Annotated[str | None, Field(description="Only this customer's invoices.")] = None,
        contract_id: Annotated[str | None, Field(description="Only this contract's invoices.")] = None,
        run_id: Annotated[str | None, Field(description="Only the invoices drafted by this bill run.")] = None,
        period_date: Annotated[DateText | None, Field(description="Only invoices whose period contains it.")] = None,
        limit: Annotated[int, Field(description="Page size, 1-500.")] = 50,
        offset: Annotated[int, Field(description="Invoices to skip.")] = 0,
    ) -> dict[str, Any]:
        from .invoice_list import list_invoices

        with backend.call(ctx) as (con, caller):
            return list_invoices(
                con,
                caller.business_id,
                status=status,
                customer_id=customer_id,
                contract_id=contract_id,
                run_id=run_id,
                period_date=_date(period_date, "period_date"),
                limit=limit,
                offset=offset,
            )

    @tool(
        "getInvoice",
        READ_ONLY,
        "Read-only: changes nothing. One invoice with its lines, status (draft, approved, held, open, ...), "
        "number (once finalized), totals, balance due, hold reason and approval.",
    )
    def get_invoice_tool(
        ctx: Context, invoice_id: Annotated[str, Field(description="The invoice's id.")]
    ) -> dict[str, Any]:
        from ..billing.invoice_store import load_invoice

        with backend.call(ctx) as (con, caller):
            _check_invoices(con, caller, [invoice_id])
            return load_invoice(con, invoice_id)

    @tool(
        "reviewBillRun",
        READ_ONLY,
        "Read-only: changes nothing. The review of the drafts of a bill run (run_id) or of a period "
        "(period_date: drafts whose cycle contains it): each draft under review (draft, approved, held) with "
        "its previous invoice, the change, and its review flags (total_change, first_invoice, zero_total, "
        "negative_total, line_added, line_removed, usage_spike, pending_usage, true_up, delayed_charges, "
        "large_invoice), the count per flag, and the cycles never billed. Give exactly one of run_id, "
        "period_date. Review before approveInvoices.",
    )
    def review_bill_run_tool(
        ctx: Context,
        run_id: Annotated[str | None, Field(description="The bill run to review.")] = None,
        period_date: Annotated[DateText | None, Field(description="Or: review the drafts of this period.")] = None,
    ) -> dict[str, Any]:
        from ..review.review import review

        with backend.call(ctx) as (con, caller):
            if run_id is not None:
                _check_run(con, caller, run_id)
            result = review(con, run_id=run_id, period_date=_date(period_date, "period_date"), unbilled_limit=None)
            mine = set(_business_contracts(con, caller))
            drafts = [d for d in result.drafts if d.business_id == caller.business_id]
            counts = {flag: sum(any(f.flag == flag for f in d.flags) for d in drafts) for flag in result.flag_counts}
            unbilled = [u for u in result.unbilled_cycles if u.contract_id in mine]
            return result.model_copy(
                update={
                    "drafts": drafts,
                    "flag_counts": counts,
                    "unbilled_cycles": unbilled,
                    "unbilled_cycles_count": len(unbilled),
                }
            )

    @tool(
        "approveInvoices",
        ADDITIVE,
        "Changes data: approves drafts (draft -> approved), so they can be finalized; recorded in the audit "
        "trail with the note. All or nothing: an unknown id, or one held, finalized or void, refuses the whole "
        "list and nothing changes. Ids already approved are reported in already_approved and left as they are. "
        "Call reviewBillRun or getInvoice first.",
    )
    def approve_invoices_tool(
        ctx: Context,
        invoice_ids: Annotated[list[str], Field(description="The drafts to approve.", min_length=1)],
        note: Annotated[str | None, Field(description="Kept with the approval in the audit trail.")] = None,
    ) -> dict[str, Any]:
        from ..billing.approval import approve_invoices

        with backend.call(ctx) as (con, caller):
            _check_invoices(con, caller, invoice_ids)
            return approve_invoices(con, invoice_ids, actor=caller.actor, note=note)

    @tool(
        "simulateScenario",
        READ_ONLY,
        "Read-only: changes nothing (stored contracts, usage and invoices are untouched). What-if: bills every "
        "cycle of the business's contracts starting in [from_date, to_date] twice, baseline and with the "
        "scenario's changes, and returns the totals per currency (baseline, scenario, delta). scenario = "
        '{"name": ..., "changes": [{"type": "price", "product": ..., "percent": 10}, {"type": "usage", '
        '"metric": ..., "percent": 25}, {"type": "churn", "contract_ids": [...]}, {"type": "minimum_commitment", '
        '"contract_id": ..., "amount": "1000"}, {"type": "tiers", ...}, {"type": "proration", "value": "none"}]}.',
    )
    def simulate_scenario_tool(
        ctx: Context,
        scenario: Annotated[dict[str, Any], Field(description="The scenario: name and changes (spec section 7).")],
        from_date: Annotated[DateText, Field(description="First cycle start date to bill.")],
        to_date: Annotated[DateText, Field(description="Last cycle start date to bill.")],
    ) -> dict[str, Any]:
        from ..whatif.scenarios import parse_scenario, simulate

        with backend.call(ctx) as (con, caller):
            contracts, mine = simulation_scope(con, caller.business_id, None)
            parsed = parse_scenario(json.dumps(scenario), origin="scenario")
            return simulate(
                con,
                parsed,
                _required_date(from_date, "from_date"),
                _required_date(to_date, "to_date"),
                contract_ids=contracts,
                within=mine,  # names checked against the business's data only, as over HTTP
            )

    @tool(
        "draftPeriodInvoice",
        ADDITIVE,
        "Changes data: drafts the invoice of the billing cycle containing period_date (DayZero "
        "generate-period-invoices). Idempotent: if the cycle already has an invoice it is returned with "
        "created=false and nothing changes.",
    )
    def draft_period_invoice_tool(
        ctx: Context,
        contract_id: Annotated[str, Field(description="The contract.")],
        period_date: Annotated[DateText, Field(description="Any date inside the cycle to draft.")],
    ) -> dict[str, Any]:
        from ..billing.invoices import draft_period_invoice

        with backend.call(ctx) as (con, caller):
            _check_contract(con, caller, contract_id)
            return draft_period_invoice(
                con, contract_id, _required_date(period_date, "period_date"), actor=caller.actor
            )

    @tool(
        "holdInvoice",
        CHANGING,
        "Changes data: puts a draft or approved invoice on hold with a reason (withdraws an approval); a held "
        "invoice cannot be approved or finalized until releaseInvoice.",
    )
    def hold_invoice_tool(
        ctx: Context,
        invoice_id: Annotated[str, Field(description="The invoice to hold.")],
        reason: Annotated[str, Field(description="Why it is held (required).")],
    ) -> dict[str, Any]:
        from ..billing.approval import hold_invoice

        with backend.call(ctx) as (con, caller):
            _check_invoices(con, caller, [invoice_id])
            return hold_invoice(con, invoice_id, reason=reason, actor=caller.actor)

    @tool(
        "releaseInvoice",
        CHANGING,
        "Changes data: releases a held invoice; it becomes a draft again, to be reviewed and approved.",
    )
    def release_invoice_tool(
        ctx: Context,
        invoice_id: Annotated[str, Field(description="The held invoice.")],
        note: Annotated[str | None, Field(description="Kept with the release in the audit trail.")] = None,
    ) -> dict[str, Any]:
        from ..billing.approval import release_invoice

        with backend.call(ctx) as (con, caller):
            _check_invoices(con, caller, [invoice_id])
            return release_invoice(con, invoice_id, actor=caller.actor, note=note)

    @tool(
        "createInvoice",
        CHANGING,
        "Changes data: creates a DRAFT invoice of custom lines for a customer (DayZero POST /invoices), outside "
        "any contract. line_items: [{description, unit_price (integer MINOR units: 1250 = 12.50), quantity}]. "
        "Optional recurring {billing_period: month|quarter|year, start_date, payment_terms_days} also creates a "
        "template that drafts it every period. Each call creates a new invoice.",
    )
    def create_invoice_tool(
        ctx: Context,
        customer_id: Annotated[str, Field(description="The customer to invoice.")],
        line_items: Annotated[list[dict[str, Any]], Field(description="At least one custom line.", min_length=1)],
        due_date: Annotated[str, Field(description="YYYY-MM-DD.")],
        currency: Annotated[str | None, Field(description="ISO 4217; default the customer's.")] = None,
        description: Annotated[str | None, Field(description="Shown on the invoice.")] = None,
        recurring: Annotated[dict[str, Any] | None, Field(description="Optional recurring template.")] = None,
    ) -> dict[str, Any]:
        from ..billing.manual_invoices import create_invoice
        from .seed_bodies import create_request

        with backend.call(ctx) as (con, caller):
            row = con.execute("SELECT business_id FROM customers WHERE customer_id = ?", [customer_id]).fetchone()
            if row is None or row[0] != caller.business_id:
                raise not_found("customer", customer_id)
            body = {"customer_id": customer_id, "line_items": line_items, "due_date": due_date}
            body |= {
                k: v
                for k, v in (("currency", currency), ("description", description), ("recurring", recurring))
                if v is not None
            }
            return create_invoice(con, create_request(body), actor=caller.actor)

    @tool(
        "finalizeInvoice",
        CHANGING,
        "Changes data, irreversibly: finalizes an APPROVED invoice (status open) and gives it the business's next "
        "invoice number; a finalized invoice can never change (only be voided). A draft or held invoice is the "
        "error invoice_not_approved: approveInvoices first.",
    )
    def finalize_invoice_tool(
        ctx: Context, invoice_id: Annotated[str, Field(description="The approved invoice.")]
    ) -> dict[str, Any]:
        from ..billing.lifecycle import finalize_invoice

        with backend.call(ctx) as (con, caller):
            _check_invoices(con, caller, [invoice_id])
            return finalize_invoice(con, invoice_id, actor=caller.actor)

    return server


# --- stdio -------------------------------------------------------------------------------------------


def run_stdio(db_path: str | Path | None, business_id: str, actor: str | None = None) -> None:
    """`billsim mcp --business B`: serve the tools over stdin/stdout until the client closes them."""
    from ..db import connect

    con = connect(db_path)  # fail now (one line) on an unreadable database or an unknown business
    try:
        known = con.execute("SELECT count(*) FROM customers WHERE business_id = ?", [business_id]).fetchone()[0]
    finally:
        con.close()
    if not known:
        raise NotFoundError(f"no business {business_id!r}: it has no customers in this database")
    build_server(StdioBackend(db_path, business_id, actor)).run("stdio")


# --- streamable HTTP ---------------------------------------------------------------------------------


class BearerAuth:
    """ASGI wrapper: every request to /mcp is authenticated exactly as the HTTP API's routes are
    (engine.api.auth.authenticate: `Authorization: Bearer <token>` and `x-business-id`; no or bad token 401,
    another business 403, the same error body). The caller (business, actor `api:<token name>`) is put in
    the request's state for the tools."""

    def __init__(self, app, con: duckdb.DuckDBPyConnection):
        self.app, self.con = app, con

    def _authenticate(self, headers: Headers):
        from .auth import authenticate

        scheme, _, value = headers.get("authorization", "").partition(" ")
        cur = self.con.cursor()
        try:
            return authenticate(
                cur,
                bearer_token=value.strip() if scheme.lower() == "bearer" else None,
                business_id=headers.get("x-business-id"),
            )
        finally:
            cur.close()

    async def __call__(self, scope, receive, send) -> None:
        from .errors import ApiError

        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            principal = await anyio.to_thread.run_sync(self._authenticate, Headers(scope=scope))
        except ApiError as exc:
            body = {"success": False, "code": exc.code, "message": exc.message}
            await JSONResponse(body, status_code=exc.status, headers=exc.headers)(scope, receive, send)
            return
        scope.setdefault("state", {})[_STATE_KEY] = Caller(principal.business_id, f"api:{principal.token_name}")
        await self.app(scope, receive, send)


class McpHttp:
    """The tools over streamable HTTP for an application that holds `con`: `endpoint` (auth included) to
    route at /mcp, and `lifespan()` to run while the application runs (the SDK's session manager)."""

    def __init__(self, con: duckdb.DuckDBPyConnection):
        self.server = build_server(SharedBackend(con))
        # builds the session manager; binding is the application's (127.0.0.1 only: DNS-rebinding checks on)
        self.server.streamable_http_app(streamable_http_path=MCP_PATH, host="127.0.0.1")
        self.endpoint = BearerAuth(StreamableHTTPASGIApp(self.server.session_manager), con)

    def lifespan(self):
        return self.server.session_manager.run()

    def mount(self, app) -> None:
        """Route /mcp of a Starlette or FastAPI `app` here and run the session manager in its lifespan."""
        app.router.routes.append(Route(MCP_PATH, endpoint=self.endpoint, methods=["GET", "POST", "DELETE"]))
        previous = app.router.lifespan_context

        @contextlib.asynccontextmanager
        async def lifespan(a):
            async with previous(a) as state:  # the app's resources outlive the MCP sessions
                async with self.lifespan():
                    yield state

        app.router.lifespan_context = lifespan


def mount_mcp(app, con: duckdb.DuckDBPyConnection) -> McpHttp:
    """Serve the MCP tools at /mcp of the HTTP API `app` (same bearer auth), over its connection `con`."""
    mcp = McpHttp(con)
    mcp.mount(app)
    return mcp


def mcp_http_app(db_path: str | Path | None) -> Starlette:
    """A standalone ASGI app serving only /mcp (streamable HTTP, bearer auth) over the database at `db_path`."""
    from ..db import connect

    con = connect(db_path)
    mcp = McpHttp(con)

    @contextlib.asynccontextmanager
    async def lifespan(_app):
        try:
            async with mcp.lifespan():
                yield
        finally:
            con.close()

    routes = [Route(MCP_PATH, endpoint=mcp.endpoint, methods=["GET", "POST", "DELETE"])]
    return Starlette(routes=routes, lifespan=lifespan)
