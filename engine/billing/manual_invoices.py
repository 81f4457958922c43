"""Manual invoices (DayZero POST /invoices and /invoices/batch) and recurring templates.

A custom line: unit_price arrives in integer MINOR units; it is stored in MAJOR units like every
price of the store, and its amount is rounded once:

    amount_minor = round_half_away(unit_price_minor × quantity)

Totals are never computed here: invoice_store.refresh_totals does that for every invoice.
A recurring template's periods use the contract-cycle boundary rule of cycles.py with the anchor
day of its start_date, so "monthly from Jan 31" means Jan 31, Feb 28, Mar 31, … as for contracts.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import uuid
from decimal import Decimal
from fractions import Fraction

import duckdb
import pydantic

from ..currencies import minor_units
from ..db import retry_on_conflict
from ..errors import BillsimError, NotFoundError, ValidationError, out_of_range
from ..models import (
    Invoice,
    LineItem,
    ManualBatchItem,
    ManualBatchRequest,
    ManualBatchResult,
    ManualInvoiceRequest,
)
from ..money import BIGINT_MAX, round_half_away, to_major
from ..rating.cycles import boundary_sql, cycle_index_sql
from ..scope import Scope
from ..validation_text import problems_text
from .audit import record_events
from .delayed_charges import attach_pending_charges
from .invoice_store import load_invoice, new_invoice_id, refresh_totals
from .lifecycle import finalize_invoices_tx

log = logging.getLogger("billsim.engine")

DEFAULT_DUE_DAYS = 30
_QTY_DECIMALS = 6  # invoice_lines.quantity is DECIMAL(38,6): 6 decimals, 32 integer digits
_QTY_LIMIT = Decimal(10) ** 32


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _plain(d: Decimal) -> str:
    """Canonical text of a decimal: 1, 1.0 and 1.00 are one quantity."""
    return format(d.normalize(), "f")


def _request_hash(req: ManualInvoiceRequest) -> str:
    """What 'the same request' means for an idempotency key: every field but the key itself."""
    body = req.model_dump(mode="json", exclude={"idempotency_key"})
    for item, line in zip(body["line_items"], req.line_items, strict=True):
        item["quantity"] = _plain(line.quantity)
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def _customer(con: duckdb.DuckDBPyConnection, customer_id: str) -> tuple[str, str, Decimal, str | None]:
    """(business_id, currency, tax_rate, tax_codes) of a customer."""
    row = con.execute(
        "SELECT business_id, currency, tax_rate, tax_codes FROM customers WHERE customer_id = ?", [customer_id]
    ).fetchone()
    if row is None:
        raise NotFoundError(f"unknown customer {customer_id!r}")
    return row


def _check_request(req: ManualInvoiceRequest, currency: str) -> None:
    """The model checks these too, but a request may arrive unvalidated (model_construct)."""
    minor_units(currency)  # unknown currency -> ValidationError
    if not req.line_items:
        raise ValidationError("an invoice needs at least one line item")
    for n, item in enumerate(req.line_items, start=1):
        if not item.description:
            raise ValidationError(f"line item {n}: a description is required")
        if isinstance(item.unit_price, bool) or not isinstance(item.unit_price, int):
            raise ValidationError(f"line item {n}: unit_price must be an integer in minor units")
        if item.unit_price < 0:
            price = f"{to_major(item.unit_price, currency)} {currency}"  # in minor units: shown as the user reads it
            raise ValidationError(f"line item {n}: unit_price must not be negative, got {price}")
        qty = Decimal(item.quantity)
        if not qty.is_finite() or qty <= 0:
            raise ValidationError(f"line item {n}: quantity must be positive ({item.quantity})")
        if -qty.normalize().as_tuple().exponent > _QTY_DECIMALS:
            raise ValidationError(f"line item {n}: quantity has more than {_QTY_DECIMALS} decimals")
        if qty >= _QTY_LIMIT:
            raise ValidationError(f"line item {n}: quantity too large")
        if abs(round_half_away(Fraction(item.unit_price) * Fraction(qty))) > BIGINT_MAX:
            raise ValidationError(f"line item {n}: amount too large")


def _insert_custom_lines(
    con: duckdb.DuckDBPyConnection,
    invoice_id: str,
    items: list[LineItem],
    currency: str,
    period: tuple[dt.date, dt.date] | None,
    tax_codes: str | None,
) -> None:
    """invoice_lines rows of kind 'custom', numbered 1..n in request order (one statement); they carry the
    customer's tax codes (spec section 11)."""
    start, end = period or (None, None)
    con.execute(
        """INSERT INTO invoice_lines (invoice_id, line_no, kind, product, description, quantity, unit_price,
                                      amount_minor, period_start, period_end, tax_codes)
           SELECT ?, t.line_no, 'custom', t.product, t.description, t.qty::DECIMAL(38,6),
                  t.price::DECIMAL(38,12), t.amount, ?, ?, ?
           FROM (SELECT unnest(?::INTEGER[]) AS line_no, unnest(?::VARCHAR[]) AS product,
                        unnest(?::VARCHAR[]) AS description, unnest(?::VARCHAR[]) AS qty,
                        unnest(?::VARCHAR[]) AS price, unnest(?::BIGINT[]) AS amount) t""",
        [
            invoice_id,
            start,
            end,
            tax_codes,
            list(range(1, len(items) + 1)),
            [i.product for i in items],
            [i.description for i in items],
            [_plain(Decimal(i.quantity)) for i in items],
            [str(to_major(i.unit_price, currency)) for i in items],
            [round_half_away(Fraction(i.unit_price) * Fraction(Decimal(i.quantity))) for i in items],
        ],
    )


def _insert_invoice(
    con: duckdb.DuckDBPyConnection,
    *,
    customer_id: str,
    currency: str,
    items: list[LineItem],
    due_date: dt.date,
    description: str | None,
    period: tuple[dt.date, dt.date] | None = None,
    template_id: str | None = None,
    idempotency_key: str | None = None,
) -> str:
    """A draft of custom lines for a customer (business and tax rate are the customer's)."""
    business_id, _, tax_rate, tax_codes = _customer(con, customer_id)
    invoice_id = new_invoice_id()
    start, end = period or (None, None)
    con.execute(
        """INSERT INTO invoices (invoice_id, business_id, customer_id, status, currency, period_start,
                                 period_end, bill_for_date, due_date, period_days, tax_rate, subtotal_minor,
                                 tax_minor, total_minor, total_paid_minor, description,
                                 recurring_template_id, idempotency_key, created_at)
           VALUES (?, ?, ?, 'draft', ?, ?, ?, ?, ?, ?, ?, 0, 0, 0, 0, ?, ?, ?, ?)""",
        [
            invoice_id,
            business_id,
            customer_id,
            currency,
            start,
            end,
            start,
            due_date,
            (end - start).days + 1 if period else None,
            tax_rate,
            description,
            template_id,
            idempotency_key,
            _utcnow(),
        ],
    )
    _insert_custom_lines(con, invoice_id, items, currency, period, tax_codes)
    return invoice_id


def _insert_drafts(con: duckdb.DuckDBPyConnection, heads: list[tuple], lines: list[tuple], run_id: str | None) -> None:
    """Many drafts of custom lines in two statements (a bill run's recurring periods): `heads` are (invoice_id,
    business_id, customer_id, currency, period_start, period_end, due_date, period_days, tax_rate, description,
    template_id), `lines` (invoice_id, line_no, product, description, quantity, unit_price, amount_minor,
    period_start, period_end, tax_codes), computed as `_insert_invoice` computes one draft's."""
    cols = list(zip(*heads, strict=True))
    con.execute(
        """INSERT INTO invoices (invoice_id, business_id, customer_id, status, currency, period_start, period_end,
                                 bill_for_date, due_date, period_days, tax_rate, subtotal_minor, tax_minor,
                                 total_minor, total_paid_minor, description, recurring_template_id, run_id,
                                 created_at)
           SELECT id, business, customer, 'draft', currency, p_start, p_end, p_start, due, days,
                  rate::DECIMAL(38,12), 0, 0, 0, 0, description, template, ?, ?
           FROM (SELECT unnest(?::VARCHAR[]) AS id, unnest(?::VARCHAR[]) AS business, unnest(?::VARCHAR[]) AS customer,
                        unnest(?::VARCHAR[]) AS currency, unnest(?::DATE[]) AS p_start, unnest(?::DATE[]) AS p_end,
                        unnest(?::DATE[]) AS due, unnest(?::INTEGER[]) AS days, unnest(?::VARCHAR[]) AS rate,
                        unnest(?::VARCHAR[]) AS description, unnest(?::VARCHAR[]) AS template)""",
        [run_id, _utcnow(), *[list(c) for c in cols]],
    )
    cols = list(zip(*lines, strict=True))
    con.execute(
        """INSERT INTO invoice_lines (invoice_id, line_no, kind, product, description, quantity, unit_price,
                                      amount_minor, period_start, period_end, tax_codes)
           SELECT id, line_no, 'custom', product, description, qty::DECIMAL(38,6), price::DECIMAL(38,12), amount,
                  p_start, p_end, tax_codes
           FROM (SELECT unnest(?::VARCHAR[]) AS id, unnest(?::INTEGER[]) AS line_no, unnest(?::VARCHAR[]) AS product,
                        unnest(?::VARCHAR[]) AS description, unnest(?::VARCHAR[]) AS qty,
                        unnest(?::VARCHAR[]) AS price, unnest(?::BIGINT[]) AS amount, unnest(?::DATE[]) AS p_start,
                        unnest(?::DATE[]) AS p_end, unnest(?::VARCHAR[]) AS tax_codes)""",
        [list(c) for c in cols],
    )


# --- recurring templates ----------------------------------------------------------------------


def _template_periods(
    con: duckdb.DuckDBPyConnection, upto: dt.date, template_ids: list[str] | None = None, *, missing_only: bool = False
) -> list[tuple[str, dt.date, dt.date]]:
    """(template_id, period_start, period_end) of every period starting on or before `upto` (of the templates
    `template_ids`; None: of every template)."""
    # cycles.py's boundary SQL reads start_date, billing_period, billing_cycle_start_day of alias t.
    start, end = boundary_sql("t", "n.k"), boundary_sql("t", "n.k + 1")
    missing = """AND NOT EXISTS (SELECT 1 FROM invoices i WHERE i.recurring_template_id = t.template_id
                                 AND i.period_start = {start} AND i.status <> 'void')"""
    return con.execute(
        f"""WITH p AS (SELECT ?::DATE AS upto)
            SELECT t.template_id, {start} AS period_start, ({end} - INTERVAL 1 DAY)::DATE AS period_end
            FROM p, (SELECT *, day(start_date) AS billing_cycle_start_day FROM recurring_templates
                     WHERE ?::VARCHAR[] IS NULL OR list_contains(?::VARCHAR[], template_id)) t,
                 LATERAL (SELECT unnest(range(0, {cycle_index_sql("t", "p.upto")} + 1)) AS k) n
            WHERE t.start_date <= p.upto {missing.format(start=start) if missing_only else ""}
            ORDER BY t.template_id, period_start""",  # noqa: S608 (SQL expressions built by the engine from its own column names and constants; values bound)
        [upto, template_ids, template_ids],
    ).fetchall()


def _create_template(con: duckdb.DuckDBPyConnection, req: ManualInvoiceRequest, currency: str) -> str:
    rec = req.recurring
    template_id = "tpl_" + uuid.uuid4().hex[:20]
    items = [
        {
            "description": i.description,
            "unit_price": i.unit_price,
            "quantity": _plain(Decimal(i.quantity)),
            "product": i.product,
        }
        for i in req.line_items
    ]
    con.execute(
        """INSERT INTO recurring_templates (template_id, customer_id, currency, description, line_items,
               billing_period, start_date, payment_terms_days, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
        [
            template_id,
            req.customer_id,
            currency,
            req.description,
            json.dumps(items),
            rec.billing_period,
            rec.start_date,
            rec.payment_terms_days,
            _utcnow(),
        ],
    )
    return template_id


def _templates_in_scope(con: duckdb.DuckDBPyConnection, scope: Scope | None) -> list[tuple]:
    """(template_id, customer_id, currency, description, line_items, payment_terms_days) of the templates of the
    customers in `scope` (None: every template). A scope of named contracts has none: a template belongs to a
    customer, not to a contract."""
    if scope is not None and scope.contract_ids is not None:
        return []
    customers = None if scope is None or scope.customer_ids is None else list(scope.customer_ids)
    business = None if scope is None else scope.business_id
    return con.execute(
        """SELECT t.template_id, t.customer_id, t.currency, t.description, t.line_items, t.payment_terms_days
           FROM recurring_templates t JOIN customers c USING (customer_id)
           WHERE (?::VARCHAR[] IS NULL OR list_contains(?::VARCHAR[], t.customer_id))
             AND (?::VARCHAR IS NULL OR c.business_id = ?)
           ORDER BY t.template_id""",
        [customers, customers, business, business],
    ).fetchall()


def draft_recurring_tx(
    con: duckdb.DuckDBPyConnection, as_of: dt.date, *, scope: Scope | None = None, run_id: str | None = None
) -> list[str]:
    """In the caller's transaction: draft every period of the templates in `scope` (None: all) starting on or
    before `as_of` that has no non-void invoice; the new drafts carry `run_id` (the bill run drafting them).
    Returns their ids, by template and period; records no event (the caller does, after its sweep).

    One query when no template is in scope. Each template drafted counts its new periods (`periods_drafted`): that
    write makes two transactions drafting the same template conflict, and the one retried finds the other's
    invoices: never two non-void invoices for one template period, also under concurrent runs."""
    templates = {r[0]: r[1:] for r in _templates_in_scope(con, scope)}
    if not templates:
        return []
    periods = _template_periods(con, as_of, list(templates), missing_only=True)
    if not periods:
        return []
    drafted = [p[0] for p in periods]
    con.execute(
        """UPDATE recurring_templates t SET periods_drafted = coalesce(t.periods_drafted, 0) + n.periods
           FROM (SELECT unnest(?::VARCHAR[]) AS template_id, unnest(?::BIGINT[]) AS periods) n
           WHERE t.template_id = n.template_id""",
        [sorted(set(drafted)), [drafted.count(t) for t in sorted(set(drafted))]],
    )
    customers = {
        r[0]: r[1:]
        for r in con.execute(
            "SELECT customer_id, business_id, tax_rate, tax_codes FROM customers WHERE list_contains(?, customer_id)",
            [sorted({t[0] for t in templates.values()})],
        ).fetchall()
    }
    heads, lines = [], []
    for template_id, start, end in periods:
        customer_id, currency, description, line_items, terms = templates[template_id]
        business_id, tax_rate, tax_codes = customers[customer_id]
        invoice_id = new_invoice_id()
        due = start + dt.timedelta(days=terms)
        heads.append((invoice_id, business_id, customer_id, currency, start, end, due, (end - start).days + 1))
        heads[-1] += (str(tax_rate), description, template_id)
        for line_no, item in enumerate((LineItem(**i) for i in json.loads(line_items)), start=1):
            qty = Decimal(item.quantity)
            amount = round_half_away(Fraction(item.unit_price) * Fraction(qty))
            lines.append((invoice_id, line_no, item.product, item.description, _plain(qty)))
            lines[-1] += (str(to_major(item.unit_price, currency)), amount, start, end, tax_codes)
    _insert_drafts(con, heads, lines, run_id)
    created = [h[0] for h in heads]
    refresh_totals(con, invoice_ids=created)
    return created


def draft_recurring_invoices(
    con: duckdb.DuckDBPyConnection, as_of: dt.date, *, actor: str | None = None
) -> list[Invoice]:
    """Draft every template period starting on or before `as_of` that has no (non-void) invoice, outside a bill
    run (a bill run drafts them too: engine.billing.bill_run).

    Idempotent: a second call drafts nothing. bill_for_date = period_start,
    due_date = period_start + the template's payment_terms_days.
    """

    def work(c: duckdb.DuckDBPyConnection) -> list[str]:
        created = draft_recurring_tx(c, as_of)
        if created:
            _record_new(c, "drafted", created, actor)
        return created

    return [load_invoice(con, i) for i in retry_on_conflict(con, work)]


# --- create -----------------------------------------------------------------------------------


def _record_new(con: duckdb.DuckDBPyConnection, action: str, invoice_ids: list[str], actor: str | None) -> None:
    """`created` / `drafted` events of new manual drafts, each with its total and delayed charges."""
    record_events(
        con,
        action=action,
        actor=actor,
        from_sql="""SELECT i.invoice_id, NULL AS status_before, 'draft' AS status_after,
                           json_object('total_minor', i.total_minor, 'currency', i.currency,
                                       'recurring_template_id', i.recurring_template_id,
                                       'delayed_charges', (SELECT count(*) FROM delayed_charge_sweeps s
                                                           WHERE s.invoice_id = i.invoice_id))::VARCHAR AS changes
                    FROM invoices i WHERE list_contains(?::VARCHAR[], i.invoice_id) ORDER BY i.invoice_id""",
        params=[invoice_ids],
    )


def create_invoice_tx(
    con: duckdb.DuckDBPyConnection,
    req: ManualInvoiceRequest,
    *,
    today: dt.date | None = None,
    take_delayed_charges: bool = False,
    actor: str | None = None,
) -> tuple[str, bool]:
    """Create a draft in the caller's transaction; returns (invoice_id, created).

    A replayed idempotency key returns the first invoice with created = False and writes nothing.
    """
    key_hash = _request_hash(req) if req.idempotency_key is not None else None
    if req.idempotency_key is not None:
        row = con.execute(
            "SELECT invoice_id, request_hash FROM idempotency_keys WHERE idempotency_key = ?", [req.idempotency_key]
        ).fetchone()
        if row is not None:
            if row[1] != key_hash:
                raise ValidationError(
                    f"idempotency key {req.idempotency_key!r} was already used "
                    f"for a different request (invoice {row[0]})"
                )
            return row[0], False
    customer_currency = _customer(con, req.customer_id)[1]
    currency = req.currency or customer_currency
    _check_request(req, currency)
    today = today or dt.datetime.now(dt.UTC).date()
    template_id = period = None
    due_date = req.due_date or today + dt.timedelta(days=DEFAULT_DUE_DAYS)
    if req.recurring is not None:
        # The invoice created now IS the template's first period, so drafting never bills it twice;
        # it is due like every later period of the template unless a due_date is given.
        template_id = _create_template(con, req, currency)
        period = _template_periods(con, req.recurring.start_date, [template_id])[0][1:]
        due_date = req.due_date or period[0] + dt.timedelta(days=req.recurring.payment_terms_days)
    invoice_id = _insert_invoice(
        con,
        customer_id=req.customer_id,
        currency=currency,
        items=req.line_items,
        due_date=due_date,
        description=req.description,
        period=period,
        template_id=template_id,
        idempotency_key=req.idempotency_key,
    )
    if take_delayed_charges:
        # the customer's pending charges in this invoice's currency, rounded and attached as a run does
        attach_pending_charges(con, invoice_ids=[invoice_id], until_period_end=False)
    refresh_totals(con, invoice_ids=[invoice_id])
    if req.idempotency_key is not None:
        con.execute("INSERT INTO idempotency_keys VALUES (?, ?, ?)", [req.idempotency_key, invoice_id, key_hash])
    _record_new(con, "created", [invoice_id], actor)
    return invoice_id, True


def create_invoice(
    con: duckdb.DuckDBPyConnection,
    req: ManualInvoiceRequest,
    *,
    today: dt.date | None = None,
    actor: str | None = None,
) -> Invoice:
    """DayZero POST /invoices: a draft invoice of custom lines (all-or-nothing)."""
    invoice_id, _ = retry_on_conflict(con, lambda c: create_invoice_tx(c, req, today=today, actor=actor))
    return load_invoice(con, invoice_id)


# --- batch ------------------------------------------------------------------------------------


def _failure(exc: Exception) -> tuple[str, str]:
    """(code, text) of an item's failure as the caller may read it: a value the database could not store is
    `amount_out_of_range`, as every front end says it; any other database error is a plain refusal; the
    database's own text only goes to the log."""
    if isinstance(exc, pydantic.ValidationError):
        return "validation_error", problems_text(exc.errors())
    if isinstance(exc, duckdb.ConversionException | duckdb.OutOfRangeException):
        log.info("batch item: value out of range: %s", str(exc).splitlines()[0])
        refused = out_of_range()
        return refused.code, str(refused)
    if isinstance(exc, duckdb.Error):
        log.error("batch item: database error: %s", exc)
        return "invoice_not_created", "the invoice could not be stored (a database error; see the server's log)"
    return (exc.code if isinstance(exc, BillsimError) else "invoice_not_created"), str(exc)


def _parse_batch(req: ManualBatchRequest | dict) -> tuple[list[ManualInvoiceRequest | str], bool, bool]:
    """Items of a batch, each parsed on its own: a malformed item becomes its error text, so one
    bad item in a raw JSON body fails alone instead of rejecting the whole batch."""
    if isinstance(req, ManualBatchRequest):
        return list(req.items), req.include_delayed_charges, req.finalize
    extra = set(req) - {"items", "include_delayed_charges", "finalize"}
    if extra:
        raise ValidationError(f"unknown batch field(s): {', '.join(sorted(extra))}")
    raw = req.get("items")
    include, finalize = req.get("include_delayed_charges", False), req.get("finalize", False)
    if not isinstance(raw, list) or not raw:
        raise ValidationError("a batch needs a non-empty list of items")
    if not isinstance(include, bool) or not isinstance(finalize, bool):
        raise ValidationError("include_delayed_charges and finalize must be true or false")
    items: list[ManualInvoiceRequest | str] = []
    for item in raw:
        try:
            items.append(ManualInvoiceRequest.model_validate(item))
        except pydantic.ValidationError as exc:
            items.append(_failure(exc)[1])
    return items, include, finalize


def batch_create(
    con: duckdb.DuckDBPyConnection,
    req: ManualBatchRequest | dict,
    *,
    today: dt.date | None = None,
    actor: str | None = None,
) -> ManualBatchResult:
    """DayZero POST /invoices/batch. Each item is its own transaction and fails alone.

    include_delayed_charges: a customer's FIRST new invoice of the batch takes all the customer's
    pending charges in that invoice's currency. finalize: the new invoices are approved and numbered
    in item order, in one step (the auto-finalize path, event `approved_and_finalized`). `created`
    counts successful items (idempotent replays included), `failed` the others.
    """
    items, include, finalize = _parse_batch(req)
    outcome: list[str | Exception] = []  # invoice_id or the item's error
    new_ids: list[str] = []
    customers_with_new: set[str] = set()
    for item in items:
        if isinstance(item, str):
            outcome.append(ValidationError(item))
            continue
        take = include and item.customer_id not in customers_with_new
        try:
            invoice_id, created = retry_on_conflict(
                con,
                lambda c, it=item, tk=take: create_invoice_tx(c, it, today=today, take_delayed_charges=tk, actor=actor),
            )
        except (BillsimError, duckdb.Error, pydantic.ValidationError) as exc:
            outcome.append(exc)
            continue
        outcome.append(invoice_id)
        if created:
            new_ids.append(invoice_id)
            customers_with_new.add(item.customer_id)
    finalize_error = None
    if finalize and new_ids:
        try:
            retry_on_conflict(con, lambda c: finalize_invoices_tx(c, new_ids, actor=actor, approve=True))
        except (BillsimError, duckdb.Error) as exc:
            finalize_error = f"created as a draft but not finalized: {_failure(exc)[1]}"
    results, new = [], set(new_ids)
    for index, out in enumerate(outcome):
        if isinstance(out, Exception):
            code, text = _failure(out)
            results.append(ManualBatchItem(index=index, ok=False, code=code, error=text))
        else:
            note = finalize_error if out in new else None
            code = "not_finalized" if note else None
            results.append(ManualBatchItem(index=index, ok=True, invoice=load_invoice(con, out), code=code, error=note))
    ok = sum(r.ok for r in results)
    return ManualBatchResult(results=results, created=ok, failed=len(results) - ok)
