"""Billsim's operations as MCP tools (spec section 9), on the official `mcp` SDK's MCPServer: adapters over the
application layer (engine.service), like the HTTP API's routes, with the same checks, limits and error codes.

One server serves ONE business per call: over stdio the business given to `billsim mcp --business B`; over
streamable HTTP (`/mcp` of the HTTP API) the business of the bearer token (engine/mcp/http.py). A tool never
shows or touches anything of another business: an id of another business is "not found", exactly as if it
did not exist (the service's one tenancy rule).

Errors come back as tool errors `code: message` with the HTTP API's code and message (engine/errors.py, one
table), never database text and never an empty result. Large results are paged (reviews, lists). Tools that
change nothing say so in their description and carry `readOnlyHint`.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Callable
from typing import Annotated, Any

import pydantic
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.tools import Tool
from mcp.server.mcpserver.utilities.func_metadata import ArgModelBase, FuncMetadata
from mcp.types import ToolAnnotations
from pydantic import ConfigDict, Field
from pydantic_core import to_jsonable_python

from ..service import BillsimError, ValidationError, bill_runs, contracts, credit_notes, invoices, lifecycle, whatif
from ..service.formats import utc_text
from ..service.requests import ListInvoicesRequest, parse, problems_text
from ..service.results import InvoiceDetail
from ..service.zenskar import cycle_date
from .backends import Backend

SERVER_NAME = "billsim"

INSTRUCTIONS = """Billsim: a billing workbench for one business (its contracts, invoices and bill runs).
Start with read-only tools: getContractBillingCycles (the exact cycles of a contract), previewInvoice (what an
invoice would be, nothing stored), listInvoices / getInvoice, reviewBillRun (review flags of drafts).
To bill a contract: call getContractBillingCycles FIRST, pick ONE cycle and copy its start_date, end_date,
bill_for_date and billing_cycle_start_day verbatim into generateInvoice. Drafts are reviewed, then
approveInvoices; only approved invoices can be finalized. simulateScenario is a what-if that changes nothing.
A draft that should not exist is removed with deleteInvoice (its cycle may then be drafted again).
A finalized invoice is corrected with a credit note: estimateCreditNote first (read-only), then createCreditNote.
Money is in major units as decimal strings (e.g. "35.48") next to integer minor units (*_minor)."""

READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False)
ADDITIVE = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=True, open_world_hint=False)
CHANGING = ToolAnnotations(read_only_hint=False, destructive_hint=True, idempotent_hint=False, open_world_hint=False)
# removes what it names; a second call changes nothing more (it is not found)
DELETING = ToolAnnotations(read_only_hint=False, destructive_hint=True, idempotent_hint=True, open_world_hint=False)

REVIEW_PAGE = 200  # drafts per page of reviewBillRun by default: a page stays well under a client's message limit

DateText = Annotated[
    str | int,
    Field(description="YYYY-MM-DD, an ISO-8601 date-time (its UTC day, e.g. 2026-04-28T00:00:00Z) or UNIX seconds"),
]


def _date(value: str | int | None, field: str) -> dt.date | None:
    return cycle_date(value, field)


def _required_date(value: str | int, field: str) -> dt.date:
    """A date in any of the forms DateText allows; its bounds are the service's to check (its request models)."""
    date = _date(value, field)
    if date is None:
        raise ValidationError(f"{field} is required")
    return date


CreditItems = Annotated[
    list[dict[str, Any]] | None,
    Field(
        description='Lines to credit: [{"line_no": 2, "amount": "12.50"}] (amount in major units before tax, as '
        "a decimal string, at most what the line can still be credited). Or all=true."
    ),
]
CreditAll = Annotated[bool, Field(description="Credit everything every line has left (instead of items).")]
SplitAmount = Annotated[str | int | None, Field(description='Major units as a decimal string, e.g. "5.00".')]


def _jsonable(obj: Any) -> Any:
    """Pydantic models, dates and Decimals as JSON values (Decimal -> string: money is never a float); a time as
    every output writes it (`utc_text`: 2026-12-07T04:07:58.034409Z; a model's time fields are UtcDatetime)."""
    if isinstance(obj, dt.datetime):
        return utc_text(obj)
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    return to_jsonable_python(obj)


def _summary(detail: InvoiceDetail) -> dict:
    """An invoice as listInvoices shows it (getInvoice gives the whole invoice with its lines)."""
    inv = detail.invoice
    return {
        "invoice_id": inv.invoice_id,
        "number": inv.number,
        "invoice_number": inv.invoice_number,
        "status": inv.status,
        "customer_id": inv.customer_id,
        "contract_id": inv.contract_id,
        "currency": inv.currency,
        "period_start": inv.period_start,
        "period_end": inv.period_end,
        "bill_for_date": inv.bill_for_date,
        "due_date": inv.due_date,
        "run_id": inv.run_id,
        "created_at": inv.created_at,
        "total": inv.total,
        "balance_due": inv.balance_due,
        "total_minor": inv.total_minor,
        "balance_due_minor": inv.balance_due_minor,
    }


class _Server(MCPServer):
    """The SDK's MCPServer, with arguments that do not match a tool's schema refused as every other refusal is:
    `validation_error: invalid request: …` in the words of the HTTP API and the CLI (the SDK answered pydantic's
    own text, with its error URLs)."""

    async def call_tool(self, name: str, arguments: dict[str, Any], context: Context | None = None):
        try:
            return await super().call_tool(name, arguments, context)
        except ToolError as exc:
            cause = exc.__cause__
            if not isinstance(cause, pydantic.ValidationError):
                raise
            problems = problems_text(cause.errors(), arguments, limit=20) or "request"
            raise ToolError(f"Error executing tool {name}: validation_error: invalid request: {problems}") from None


class _StrictArguments(FuncMetadata):
    """A tool's arguments validated as the HTTP API validates a JSON body: as JSON, strict (no `true` or 1.5e9 for
    a date, no "5" for an integer, no JSON text inside a string for a list), and an argument the tool does not
    have is refused (`extra_forbidden`), never dropped. The SDK validated leniently and ignored unknown names."""

    def validate_arguments(self, arguments_to_validate: dict[str, Any]) -> dict[str, Any]:
        text = json.dumps(arguments_to_validate, ensure_ascii=False)
        return self.arg_model.model_validate_json(text, strict=True).model_dump_one_level()


def _strict(tool: Tool) -> Tool:
    """`tool` with strict arguments, and its published schema saying so (additionalProperties: false)."""
    lenient = tool.fn_metadata.arg_model
    config = ConfigDict(arbitrary_types_allowed=True, extra="forbid", strict=True)
    model: type[ArgModelBase] = type(lenient.__name__, (lenient,), {"model_config": config, "__module__": __name__})
    meta = _StrictArguments(
        arg_model=model,
        output_schema=tool.fn_metadata.output_schema,
        output_model=tool.fn_metadata.output_model,
        wrap_output=tool.fn_metadata.wrap_output,
    )
    return tool.model_copy(update={"fn_metadata": meta, "parameters": model.model_json_schema(by_alias=True)})


def build_server(backend: Backend) -> MCPServer:
    """The MCPServer with every Billsim tool, each calling the application layer through `backend`."""
    tools: list[Tool] = []

    def tool(name: str, annotations: ToolAnnotations, description: str) -> Callable:
        """Register `fn` as tool `name` (strict arguments); the service's refusals become tool errors `code: msg`."""

        def register(fn: Callable) -> Callable:
            @functools.wraps(fn)
            def run(*args, **kwargs):
                try:
                    return _jsonable(fn(*args, **kwargs))
                except ToolError:
                    raise
                except BillsimError as exc:
                    raise ToolError(f"{exc.code}: {exc}") from None

            made = Tool.from_function(
                run, name=name, description=description, annotations=annotations, structured_output=True
            )
            tools.append(_strict(made))
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
        with backend.session(ctx) as s:
            request = {"limit": limit, "from_date": from_date, "to_date": to_date}
            cycles = contracts.zenskar_cycles(s, contract_id, {k: v for k, v in request.items() if v is not None})
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
        from_date: Annotated[DateText, Field(description="The cycle's start_date, verbatim.")],
        to_date: Annotated[DateText, Field(description="The cycle's end_date, verbatim.")],
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
        request = {
            "contract_id": contract_id,
            "customer_id": customer_id,
            "from_date": from_date,
            "to_date": to_date,
            "bill_for_date": bill_for_date,
            "billing_cycle_start_day": billing_cycle_start_day,
            "check_duplicate_invoice": check_duplicate_invoice,
        }
        with backend.session(ctx) as s:
            result = contracts.generate(s, {k: v for k, v in request.items() if v is not None})
            return {"created": result.created, "invoice_ids": [result.invoice.invoice_id], "invoice": result.invoice}

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
        with backend.session(ctx) as s:
            return contracts.preview(s, contract_id, _required_date(period_date, "period_date"))

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
        query = {
            "status": status,
            "customer_id": customer_id,
            "contract_id": contract_id,
            "run_id": run_id,
            "period_date": _date(period_date, "period_date"),
            "limit": limit,
            "offset": offset,
        }
        request = parse(ListInvoicesRequest, {k: v for k, v in query.items() if v is not None})
        with backend.session(ctx) as s:
            page = invoices.list_page(s, request)
            return {
                "invoices": [_summary(d) for d in page.invoices],
                "total_count": page.total,
                "limit": page.limit,
                "offset": page.offset,
            }

    @tool(
        "getInvoice",
        READ_ONLY,
        "Read-only: changes nothing. One invoice with its lines, status (draft, approved, held, open, ...), "
        "number (once finalized), totals, balance due, hold reason and approval.",
    )
    def get_invoice_tool(
        ctx: Context, invoice_id: Annotated[str, Field(description="The invoice's id.")]
    ) -> dict[str, Any]:
        with backend.session(ctx) as s:
            return invoices.get_invoice(s, invoice_id)

    @tool(
        "reviewBillRun",
        READ_ONLY,
        "Read-only: changes nothing. The review of the drafts of a bill run (run_id) or of a period "
        "(period_date: drafts whose cycle contains it): each draft under review (draft, approved, held) with "
        "its previous invoice, the change, and its review flags (total_change, first_invoice, zero_total, "
        "negative_total, line_added, line_removed, usage_spike, pending_usage, true_up, delayed_charges, "
        "large_invoice), the count per flag, and the cycles never billed. Give exactly one of run_id, "
        f"period_date. Paged: `limit` drafts (default {REVIEW_PAGE}) from `offset`; drafts_total says how many "
        "there are. Review before approveInvoices.",
    )
    def review_bill_run_tool(
        ctx: Context,
        run_id: Annotated[str | None, Field(description="The bill run to review.")] = None,
        period_date: Annotated[DateText | None, Field(description="Or: review the drafts of this period.")] = None,
        flags: Annotated[list[str] | None, Field(description="Only drafts with one of these flags.")] = None,
        limit: Annotated[int, Field(description=f"Drafts per page, 1-{bill_runs.MAX_REVIEW_PAGE}.")] = REVIEW_PAGE,
        offset: Annotated[int, Field(description="Drafts to skip.")] = 0,
    ) -> dict[str, Any]:
        with backend.session(ctx) as s:
            return bill_runs.review_drafts(
                s,
                run_id=run_id,
                period_date=_date(period_date, "period_date"),
                flags=flags,
                limit=limit,
                offset=offset,
            )

    @tool(
        "startBillRun",
        CHANGING,
        "Changes data: a bill run of the business: drafts the invoice of every active contract (or of the given "
        "contracts or customers) for the billing cycle containing period_date, and the recurring templates' "
        "periods due by it, in one transaction (all or nothing). A cycle that already has an invoice is left as "
        "it is (counted as existing), so calling it again drafts nothing twice; an unfinished run of the same "
        "scope is resumed under its own id. With finalize=true every draft is also approved and finalized "
        "(irreversible: review first with reviewBillRun instead). Answers {run_id, status, progress, stage, "
        "report}. Inside the server (its /mcp, or `billsim mcp` while `billsim serve` holds the database) it runs "
        "in the background (status queued or running): follow it with getBillRun until completed, then "
        "reviewBillRun. Over `billsim mcp` on its own it is done when the call returns (status completed, with the "
        "report). Always read `status`.",
    )
    def start_bill_run_tool(
        ctx: Context,
        period_date: Annotated[DateText, Field(description="Any date inside the billing cycle to bill.")],
        contract_ids: Annotated[
            list[str] | None, Field(description="Only these contracts (default: every contract of the business).")
        ] = None,
        customer_ids: Annotated[list[str] | None, Field(description="Only these customers' contracts.")] = None,
        include_delayed_charges: Annotated[
            bool, Field(description="Also sweep the customers' delayed charges onto their drafts.")
        ] = False,
        catch_up: Annotated[bool, Field(description="Also draft every missed cycle before period_date.")] = False,
        finalize: Annotated[
            bool, Field(description="Approve and finalize every draft at once (irreversible; default false).")
        ] = False,
    ) -> dict[str, Any]:
        request = {
            "period_date": _required_date(period_date, "period_date"),
            "contract_ids": contract_ids,
            "customer_ids": customer_ids,
            "include_delayed_charges": include_delayed_charges,
            "catch_up": catch_up,
            "finalize": finalize,
        }
        with backend.session(ctx) as s:
            if backend.background:
                return bill_runs.start(s, request)
            return bill_runs.run_to_status(s, request)

    @tool(
        "getBillRun",
        READ_ONLY,
        "Read-only: changes nothing. A bill run of the business: its status (running, completed, failed, "
        "interrupted) and, once completed, its report: contracts in scope, drafted, recurring_drafted (periods "
        "of recurring templates the run drafted), existing, nothing_to_bill, failed (with reasons), finalized, "
        "delayed charges swept and pending, totals per currency, resumed (the run went on after an interruption).",
    )
    def get_bill_run_tool(
        ctx: Context, run_id: Annotated[str, Field(description="The bill run's id (run_…).")]
    ) -> dict[str, Any]:
        with backend.session(ctx) as s:
            return bill_runs.status(s, run_id)

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
        with backend.session(ctx) as s:
            return lifecycle.approve(s, invoice_ids, note=note)

    @tool(
        "simulateScenario",
        READ_ONLY,
        "Read-only: changes nothing (stored contracts, usage and invoices are untouched). What-if: bills every "
        "cycle of the business's contracts starting in [from_date, to_date] (at most 10 years) twice, baseline and "
        "with the scenario's changes, and returns the totals per currency (baseline, scenario, delta). scenario = "
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
        request = {
            "scenario": scenario,
            "from_date": _required_date(from_date, "from_date"),
            "to_date": _required_date(to_date, "to_date"),
        }
        with backend.session(ctx) as s:
            return whatif.simulate_request(s, request)

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
        with backend.session(ctx) as s:
            return contracts.draft(s, contract_id, _required_date(period_date, "period_date"))

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
        with backend.session(ctx) as s:
            return lifecycle.hold(s, [invoice_id], reason)[0]

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
        with backend.session(ctx) as s:
            return lifecycle.release(s, [invoice_id], note=note)[0]

    @tool(
        "createInvoice",
        CHANGING,
        "Changes data: creates a DRAFT invoice of custom lines for a customer (DayZero POST /invoices), outside "
        "any contract. line_items: [{description, unit_price (integer MINOR units: 1250 = 12.50), quantity}] "
        "(at most 1,000). Optional recurring {billing_period: month|quarter|year, start_date, payment_terms_days} "
        "also creates a template that drafts it every period. Each call creates a new invoice, unless it sends an "
        "idempotency_key: a retry with the same key and arguments returns the first invoice (nothing new), the same "
        "key with other arguments is the error idempotency_key_reused. The key is the business's, shared with the "
        "HTTP API's Idempotency-Key and the CLI's --idempotency-key.",
    )
    def create_invoice_tool(
        ctx: Context,
        customer_id: Annotated[str, Field(description="The customer to invoice.")],
        line_items: Annotated[list[dict[str, Any]], Field(description="At least one custom line.", min_length=1)],
        due_date: Annotated[str, Field(description="YYYY-MM-DD.")],
        currency: Annotated[str | None, Field(description="ISO 4217; default the customer's.")] = None,
        description: Annotated[str | None, Field(description="Shown on the invoice.")] = None,
        recurring: Annotated[dict[str, Any] | None, Field(description="Optional recurring template.")] = None,
        idempotency_key: Annotated[
            str | None,
            Field(description="Optional, 1-255 printable characters: a retry with it creates nothing new."),
        ] = None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"customer_id": customer_id, "line_items": line_items, "due_date": due_date}
        body |= {
            k: v
            for k, v in (("currency", currency), ("description", description), ("recurring", recurring))
            if v is not None
        }
        with backend.session(ctx) as s:
            return invoices.create(s, body, idempotency_key=idempotency_key).invoice

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
        with backend.session(ctx) as s:
            return lifecycle.finalize(s, [invoice_id])[0]

    @tool(
        "deleteInvoice",
        DELETING,
        "Changes data, irreversibly: deletes an invoice not finalized yet (draft, approved or held) with its lines; "
        "its billing cycle may be drafted again and the delayed charges it carried are pending again "
        "(released_delayed_charges); the audit trail keeps a deleted event. A finalized invoice is the error "
        "invalid_state (it never changes: finalized invoices are corrected with a credit note); an id deleted "
        "already is invoice_not_found. Returns {invoice_id, deleted, status_before, customer_id, contract_id, "
        "period_start, released_delayed_charges}.",
    )
    def delete_invoice_tool(
        ctx: Context, invoice_id: Annotated[str, Field(description="The draft, approved or held invoice.")]
    ) -> dict[str, Any]:
        with backend.session(ctx) as s:
            return invoices.delete(s, invoice_id)

    def _credit_body(items, all_, refund, credit, offset) -> dict[str, Any]:
        body: dict[str, Any] = {"items": items, "all": all_, "refund": refund, "credit": credit, "offset": offset}
        return {k: v for k, v in body.items() if v is not None and v is not False}

    @tool(
        "estimateCreditNote",
        READ_ONLY,
        "Read-only: changes nothing. What a finalized invoice can still be credited: each line's creditable amount "
        "(amount − discount − earlier credit notes), creditable_total (the most all further notes may total, tax "
        "included), max_offset (the balance due) and max_refund (the payments less refunds, paid_less_refunds), each "
        "at most creditable_total: what the next note may offset or refund. With items (or all), also "
        "credit_note: the note they would make (its tax per code, total, and split into offset, refund and credit). "
        "Call it before createCreditNote.",
    )
    def estimate_credit_note_tool(
        ctx: Context,
        invoice_id: Annotated[str, Field(description="The finalized invoice.")],
        items: CreditItems = None,
        all: CreditAll = False,  # noqa: A002 (the request's field name, as over HTTP)
        refund: SplitAmount = None,
        credit: SplitAmount = None,
        offset: SplitAmount = None,
    ) -> dict[str, Any]:
        with backend.session(ctx) as s:
            return credit_notes.estimate(s, invoice_id, _credit_body(items, all, refund, credit, offset))

    @tool(
        "createCreditNote",
        CHANGING,
        "Changes data, irreversibly: issues a credit note of a finalized, non-void invoice (number <invoice "
        "number>-CN<n>; never changed or deleted). items [{line_no, amount}] or all=true; reason one of duplicate, "
        "product_unsatisfactory, order_change, fraudulent, other. Its total (items + tax) is split into offset (off "
        "the balance due, at most it), refund (at most the payments less refunds) and credit (the customer's credit, "
        "taken off its next invoices in this currency); without offset and credit: off the balance as far as it "
        "goes, the rest credit. A broken limit is an error naming it; nothing is written. Each call issues a new "
        "note: call estimateCreditNote first.",
    )
    def create_credit_note_tool(
        ctx: Context,
        invoice_id: Annotated[str, Field(description="The finalized invoice to credit.")],
        reason: Annotated[str, Field(description="duplicate, product_unsatisfactory, order_change, fraudulent, other")],
        items: CreditItems = None,
        all: CreditAll = False,  # noqa: A002 (the request's field name, as over HTTP)
        refund: SplitAmount = None,
        credit: SplitAmount = None,
        offset: SplitAmount = None,
        note: Annotated[str | None, Field(description="Kept with the note and in the audit trail.")] = None,
    ) -> dict[str, Any]:
        body = _credit_body(items, all, refund, credit, offset) | {"reason": reason}
        if note is not None:
            body["note"] = note
        with backend.session(ctx) as s:
            return credit_notes.create(s, invoice_id, body)

    return _Server(SERVER_NAME, instructions=INSTRUCTIONS, log_level="WARNING", tools=tools)
