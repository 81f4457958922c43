"""DayZero request bodies (seed 003/004: POST /invoices and /invoices/batch) as the engine's requests.

A seed line item is `{variant_id?, quantity?, description, unit_price?, amount?}` with money in integer
MINOR units. Billsim has no product variants: a line is custom (`variant_id` omitted, null or "custom");
`amount` is the deprecated spelling of `unit_price`, taken only when `unit_price` is absent. Everything
else is checked by the engine's models, once, as for the workbench and the HTTP API.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pydantic

from ..errors import ValidationError
from ..models import ManualInvoiceRequest
from ..text_files import read_request_text
from ..validation_text import problems_text
from .requests import whole_number


def _line(item):
    if not isinstance(item, dict):
        return item  # the engine's model names the problem
    line = dict(item)
    variant = line.pop("variant_id", None)
    if variant not in (None, "", "custom"):
        raise ValidationError(f"variant_id {variant!r}: Billsim has no product variants; send a custom line item")
    amount = line.pop("amount", None)
    if line.get("unit_price") is None and amount is not None:
        line["unit_price"] = amount
    return line


def engine_item(body):
    """One seed invoice body as the engine's create-invoice fields (a dict; other values pass through)."""
    if not isinstance(body, dict) or not isinstance(body.get("line_items"), list):
        return body
    return {**body, "line_items": [_line(i) for i in body["line_items"]]}


def create_request(body, idempotency_key: str | None = None) -> ManualInvoiceRequest:
    """A DayZero POST /invoices body as the engine's ManualInvoiceRequest (ValidationError naming every problem)."""
    if not isinstance(body, dict):
        raise ValidationError("an invoice request is a JSON object")
    fields = engine_item(body)
    if idempotency_key is not None:
        fields = {**fields, "idempotency_key": idempotency_key}
    try:
        return ManualInvoiceRequest.model_validate(fields)
    except pydantic.ValidationError as exc:
        raise ValidationError(f"invalid invoice request: {problems_text(exc.errors(), fields)}") from None


def batch_request(body) -> tuple[dict, dict[int, str]]:
    """A DayZero POST /invoices/batch body for engine.billing.manual_invoices.batch_create, each item
    converted on its own, and the errors of the items that cannot be (index -> message): such an item is
    passed on as it came, so it fails alone, and its result's error is replaced by `batch_errors`."""
    if not isinstance(body, dict):
        raise ValidationError("a batch request is a JSON object with 'items'")
    items = body.get("items")
    if not isinstance(items, list):
        return body, {}  # batch_create names the problem
    converted, errors = [], {}
    for index, item in enumerate(items):
        try:
            converted.append(engine_item(item))
        except ValidationError as exc:
            converted.append(item)
            errors[index] = str(exc)
    return {**body, "items": converted}, errors


def with_item_errors(response, errors: dict[int, str]):
    """A BatchCreateResponse with the conversion errors of `batch_request` as those items' errors."""
    for result in response.results:
        if result.index in errors:
            result.ok, result.invoice, result.error = False, None, errors[result.index]
    ok = sum(r.ok for r in response.results)
    return response.model_copy(update={"created": ok, "failed": len(response.results) - ok})


def read_json(path: Path):
    """A request file's JSON (numbers exact: a float is never made of money)."""
    text = read_request_text(path, str(path))
    try:
        return json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as exc:
        raise ValidationError(f"{path} is not valid JSON: {exc}") from None


# A batch as CSV (the workbench's upload): one row per line item; rows with the same `invoice` key make
# one invoice (its customer_id, currency, due_date and description are taken from its first row).
BATCH_CSV_COLUMNS = (
    "invoice",
    "customer_id",
    "currency",
    "due_date",
    "description",
    "line_description",
    "unit_price",
    "quantity",
)
_REQUIRED_CSV = ("invoice", "customer_id", "due_date", "line_description", "unit_price")


def batch_from_csv(text: str, *, include_delayed_charges: bool = False, finalize: bool = False) -> dict:
    """A DayZero batch body from CSV text with BATCH_CSV_COLUMNS (currency, description and quantity may
    be absent or blank). unit_price is integer MINOR units, quantity a whole number (default 1). A row
    that cannot be read is a ValidationError naming its line."""
    import csv
    import io

    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip() for h in reader.fieldnames or []]
    missing = [c for c in _REQUIRED_CSV if c not in header]
    if missing:
        raise ValidationError(f"the CSV needs the columns {', '.join(_REQUIRED_CSV)}; missing: {', '.join(missing)}")
    unknown = [c for c in header if c not in BATCH_CSV_COLUMNS]
    if unknown:
        raise ValidationError(f"unknown CSV column(s): {', '.join(unknown)} (known: {', '.join(BATCH_CSV_COLUMNS)})")
    invoices: dict[str, dict] = {}
    for n, raw in enumerate(reader, start=2):
        row = {(k or "").strip(): (v or "").strip() for k, v in raw.items()}
        if not any(row.values()):
            continue
        for column in _REQUIRED_CSV:
            if not row.get(column):
                raise ValidationError(f"line {n}: {column} is empty")
        price, quantity = whole_number(row["unit_price"]), whole_number(row.get("quantity") or "1")
        if price is None or quantity is None:
            raise ValidationError(
                f"line {n}: unit_price (integer minor units, e.g. 1250 for 12.50) and quantity must be whole numbers"
            )
        head = invoices.setdefault(
            row["invoice"],
            {
                "customer_id": row["customer_id"],
                "due_date": row["due_date"],
                "line_items": [],
                **({"currency": row["currency"]} if row.get("currency") else {}),
                **({"description": row["description"]} if row.get("description") else {}),
            },
        )
        if head["customer_id"] != row["customer_id"]:
            raise ValidationError(f"line {n}: invoice {row['invoice']!r} has rows of two customers")
        head["line_items"].append({"description": row["line_description"], "unit_price": price, "quantity": quantity})
    if not invoices:
        raise ValidationError("the CSV has no rows")
    return {"items": list(invoices.values()), "include_delayed_charges": include_delayed_charges, "finalize": finalize}
