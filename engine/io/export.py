"""Ledger export (spec sections 6, 11 and 12): invoices, invoice_lines, invoice_adjustments, credit_notes,
credit_note_items and customer_credit_movements as CSV or Parquet, written by DuckDB COPY.

Amounts are integer minor units in the store; each row's currency decides its decimals, so they
are formatted as text in SQL from the integer (never through a float):

    text = sign ‖ |minor| ÷ 10^exp ‖ '.' ‖ lpad(|minor| mod 10^exp, exp, '0')     (exp = 0: minor)

CSV is for spreadsheets: a text cell starting with = + - @ TAB or CR gets a leading ' so it is never
run as a formula (`csv_guard.py`); numeric columns (amounts, quantities) stay plain, negative ones included.
Parquet is for data tools: typed columns (amounts DECIMAL(38,4), times TIMESTAMP in UTC), text exactly as stored, and
the lines file carries the invoice currency as a last extra column so an amount's precision is known. A time in a CSV
is the one written form of engine/utc_time.py (2026-12-07T04:07:58.034409Z).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pandas as pd

from ..billing.invoice_store import balance_due_sql, credits_returned_sql
from ..billing.numbering import businesses_join, invoice_number_sql
from ..currencies import CURRENCY_UNITS_SQL, MINOR_UNITS, currency_units_params
from ..date_text import iso_day
from ..db import transaction
from ..errors import ValidationError
from ..money import sql_major_text, sql_round_minor
from ..utc_time import utc_text_sql
from .csv_guard import guard_formula_sql

FORMATS = ("csv", "parquet")
INVOICE_COLUMNS = [
    "invoice_id",
    "business_id",
    "customer_id",
    "contract_id",
    "number",
    "status",
    "currency",
    "period_start",
    "period_end",
    "bill_for_date",
    "due_date",
    "subtotal",
    "tax",
    "total",
    "total_paid",
    "balance_due",
    "run_id",
    "created_at",
    "discount",  # spec section 11: after every column of section 6
    "credit_notes_total",  # spec section 12: Σ totals of its credit notes
    "credits_applied",  # the customer credit applied when it was finalized (balance_due is net of both)
    "invoice_number",  # the number as the customer sees it (engine/billing/numbering.py), after every spec column
    "credits_returned",  # the customer credit a void gave back (all it took: credits_applied), else 0
]
LINE_COLUMNS = [
    "invoice_id",
    "line_no",
    "line_id",
    "kind",
    "product",
    "description",
    "quantity",
    "unit_price",
    "proration_factor",
    "amount",
    "period_start",
    "period_end",
    "discount",  # spec section 11: the line's share of the invoice's coupons
    "tax_codes",  # the codes the line carries ('T1;T2'), 'none' when exempt, blank: the customer's tax_rate
]
# spec section 11: one row per coupon (in the order they apply) and per tax of each invoice. For a coupon,
# rate_or_percent is its percent (blank for a fixed coupon), base what its eligible lines had left; for a
# tax its rate and base; `code` is the coupon_id or the tax code (blank: the customer's single tax_rate).
ADJUSTMENT_COLUMNS = ["invoice_id", "kind", "code", "name", "rate_or_percent", "base", "amount"]
# spec section 12: one row per credit note (of the invoices the filters select), one per credited line
CREDIT_NOTE_COLUMNS = [
    "credit_note_id",
    "number",
    "invoice_id",
    "invoice_number",
    "customer_id",
    "currency",
    "reason",
    "subtotal",
    "tax",
    "total",
    "offset",
    "refund",
    "credit",
    "created_at",
    "actor",
]
CREDIT_NOTE_ITEM_COLUMNS = ["credit_note_id", "line_no", "amount", "tax"]
# Every movement of a customer's credit (customer_credit_entries), signed: a credit note's credit +, credit applied
# at finalize −, credit a void gave back +. `balance_after` is the customer's balance in that currency right after it,
# so a customer's movements sum to its balance (`billsim balances`). `invoice_id`: the invoice credited, the one the
# credit was applied to, or the one voided. The file holds the WHOLE ledger of each customer and currency that an
# invoice the filters select belongs to (docs/RULES.md "Credit notes and customer credit", Exports): a filter picks
# whose credit is in the file, never some of its movements, so each ledger in it sums to the balance.
CREDIT_MOVEMENT_COLUMNS = [
    "entry_id",
    "occurred_at",
    "business_id",
    "customer_id",
    "currency",
    "kind",
    "amount",
    "balance_after",
    "invoice_id",
    "invoice_number",
    "credit_note_id",
    "credit_note_number",
]
_TEXT_COLUMNS = {
    "invoice_id",
    "business_id",
    "customer_id",
    "contract_id",
    "status",
    "currency",
    "run_id",
    "line_id",
    "kind",
    "product",
    "description",
    "tax_codes",
    "code",
    "name",
    "credit_note_id",
    "invoice_number",
    "reason",
    "actor",
    "credit_note_number",
}
_CREDIT_NOTE_TEXT = _TEXT_COLUMNS | {"number"}  # a credit note's number is text (an invoice's is an integer)
_FILTERS = {"business_id", "status", "customer_id", "currency", "period_start_from", "period_start_to"}

# ISO 4217 decimals as the one relation of currencies.py, joined as `cu`; its bound lists come first.
_CURRENCIES = CURRENCY_UNITS_SQL
_currency_params = currency_units_params


def _money(minor: str, fmt: str) -> str:
    text = sql_major_text(minor, "cu.exp")
    return f"({text})::DECIMAL(38,4)" if fmt == "parquet" else text


def _trimmed(decimal: str, fmt: str) -> str:
    """A quantity or price without trailing zeros (7.000000 -> 7, 12.500000000000 -> 12.5)."""
    if fmt == "parquet":
        return decimal
    return f"rtrim(rtrim(({decimal})::VARCHAR, '0'), '.')"  # DECIMAL text always has a '.'


def _time(stamp: str, fmt: str) -> str:
    """A stored (UTC) time: typed in Parquet, the one written form in CSV (engine/utc_time.py)."""
    return stamp if fmt == "parquet" else utc_text_sql(stamp)


def _proration(fmt: str) -> str:
    """active_days / period_days with 6 decimals, rounded by the project's one rule (half away from zero);
    blank if not prorated. Days are INTEGERs, far inside the rounding's bounds: its one-division form."""
    micro = sql_round_minor("l.active_days", "1000000", "1", "l.period_days", bounded=True)
    text = sql_major_text(micro, 6)
    value = f"({text})::DECIMAL(38,6)" if fmt == "parquet" else text
    return f"(CASE WHEN l.active_days IS NULL OR coalesce(l.period_days, 0) <= 0 THEN NULL ELSE {value} END)"


def _select_list(
    exprs: dict[str, str], columns: list[str], fmt: str, guard: bool, text: set[str] = _TEXT_COLUMNS
) -> str:
    def one(name: str) -> str:
        expr = exprs.get(name, f"i.{name}")
        return guard_formula_sql(expr) if guard and fmt == "csv" and name in text else expr

    return ",\n       ".join(f"{one(c)} AS {c}" for c in columns)


def _invoices_sql(fmt: str, where: str, guard: bool = True) -> str:
    exprs = {
        "number": "(CASE WHEN i.status = 'draft' THEN NULL ELSE i.number END)",
        "subtotal": _money("i.subtotal_minor", fmt),
        "tax": _money("i.tax_minor", fmt),
        "total": _money("i.total_minor", fmt),
        "total_paid": _money("i.total_paid_minor", fmt),
        "balance_due": _money(balance_due_sql("i"), fmt),
        # the ledger page (guard off: shown, not written) keeps the typed time for its date column
        "created_at": _time("i.created_at", fmt) if guard else "i.created_at",
        "discount": _money("i.discount_minor", fmt),
        "credit_notes_total": _money("i.credit_notes_total_minor", fmt),
        "credits_applied": _money("i.credits_applied_minor", fmt),
        "invoice_number": invoice_number_sql("i", "bz"),
        "credits_returned": _money(credits_returned_sql("i"), fmt),
    }
    return f"""SELECT {_select_list(exprs, INVOICE_COLUMNS, fmt, guard)}
FROM invoices i LEFT JOIN {_CURRENCIES} cu ON cu.code = i.currency {businesses_join("i", "bz")}
WHERE {where}"""  # noqa: S608 (conditions and subqueries built by the engine with ? placeholders; values bound)


def _lines_sql(fmt: str, where: str) -> str:
    exprs = {c: f"l.{c}" for c in LINE_COLUMNS}
    exprs |= {
        "quantity": _trimmed("l.quantity", fmt),
        "unit_price": _trimmed("l.unit_price", fmt),
        "proration_factor": _proration(fmt),
        "amount": _money("l.amount_minor", fmt),
        "discount": _money("l.discount_minor", fmt),
    }
    columns = LINE_COLUMNS + (["currency"] if fmt == "parquet" else [])
    exprs["currency"] = "i.currency"
    return f"""SELECT {_select_list(exprs, columns, fmt, True)}
FROM invoice_lines l JOIN invoices i USING (invoice_id) LEFT JOIN {_CURRENCIES} cu ON cu.code = i.currency
WHERE {where}
ORDER BY l.invoice_id, l.line_no"""  # noqa: S608 (conditions and subqueries built by the engine with ? placeholders; values bound)


def _adjustments_sql(fmt: str, where: str, extras: str = "") -> str:
    exprs = {
        "invoice_id": "a.invoice_id",
        "kind": "a.kind",
        "code": "a.code",
        "name": "a.name",
        "rate_or_percent": _trimmed("a.rate_or_percent", fmt),
        "base": _money("a.base_minor", fmt),
        "amount": _money("a.amount_minor", fmt),
        "currency": "i.currency",
    }
    columns = ADJUSTMENT_COLUMNS + (["currency"] if fmt == "parquet" else [])
    return f"""SELECT {_select_list(exprs, columns, fmt, True)}{extras}
FROM (SELECT invoice_id, 'coupon' AS kind, coupon_id AS code, name, percent::DECIMAL(38,12) AS rate_or_percent,
             base_minor, amount_minor, 0 AS kind_order, position, applied_on, kind AS coupon_kind, face_minor
      FROM invoice_coupons
      UNION ALL
      SELECT invoice_id, 'tax', tax_code, name, rate, base_minor, amount_minor, 1, NULL, NULL, NULL, NULL
      FROM invoice_taxes) a
JOIN invoices i USING (invoice_id) LEFT JOIN {_CURRENCIES} cu ON cu.code = i.currency
WHERE {where}
ORDER BY a.invoice_id, a.kind_order, a.position, a.code NULLS FIRST"""  # noqa: S608 (conditions and subqueries built by the engine with ? placeholders; values bound)


def _credit_notes_sql(fmt: str, where: str) -> str:
    exprs = {c: f"n.{c}" for c in CREDIT_NOTE_COLUMNS}
    exprs |= {c: _money(f"n.{c}_minor", fmt) for c in ("subtotal", "tax", "total", "offset", "refund", "credit")}
    exprs["created_at"] = _time("n.created_at", fmt)
    columns = CREDIT_NOTE_COLUMNS + (["business_id"] if fmt == "parquet" else [])
    exprs["business_id"] = "n.business_id"
    return f"""SELECT {_select_list(exprs, columns, fmt, True, _CREDIT_NOTE_TEXT)}
FROM credit_notes n JOIN invoices i USING (invoice_id) LEFT JOIN {_CURRENCIES} cu ON cu.code = n.currency
WHERE {where}
ORDER BY n.invoice_id, n.sequence"""  # noqa: S608 (conditions and subqueries built by the engine with ? placeholders; values bound)


def _credit_note_items_sql(fmt: str, where: str) -> str:
    exprs = {
        "credit_note_id": "ci.credit_note_id",
        "line_no": "ci.line_no",
        "amount": _money("ci.amount_minor", fmt),
        "tax": _money("ci.tax_minor", fmt),
        "currency": "n.currency",
    }
    columns = CREDIT_NOTE_ITEM_COLUMNS + (["currency"] if fmt == "parquet" else [])
    return f"""SELECT {_select_list(exprs, columns, fmt, True)}
FROM credit_note_items ci JOIN credit_notes n USING (credit_note_id) JOIN invoices i ON i.invoice_id = n.invoice_id
LEFT JOIN {_CURRENCIES} cu ON cu.code = n.currency
WHERE {where}
ORDER BY n.invoice_id, n.sequence, ci.line_no"""  # noqa: S608 (conditions and subqueries built by the engine with ? placeholders; values bound)


def _credit_movements_sql(fmt: str, where: str) -> str:
    exprs = {c: f"e.{c}" for c in CREDIT_MOVEMENT_COLUMNS}
    exprs |= {
        "occurred_at": _time("e.occurred_at", fmt),
        "business_id": "i.business_id",
        "amount": _money("e.amount_minor", fmt),
        "balance_after": _money("e.balance_after_minor", fmt),
        "invoice_id": "i.invoice_id",
        "invoice_number": invoice_number_sql("i", "bz"),
        "credit_note_number": "n.number",
    }
    # the running balance over every movement of the customer and currency; the filters pick the (customer, currency)
    # ledgers through the invoices they select (`where` is over invoices `i`: here the subquery's own `i`). Unfiltered,
    # every ledger is in (each movement has an invoice of its customer and currency): no semi-join over the invoices.
    ledgers = "TRUE"
    if where != _NO_FILTER:
        ledgers = f"""EXISTS (SELECT 1 FROM invoices i
    WHERE i.customer_id = e.customer_id AND i.currency = e.currency AND {where})"""  # noqa: S608 (conditions built by _where with ? placeholders; values bound)
    return f"""SELECT {_select_list(exprs, CREDIT_MOVEMENT_COLUMNS, fmt, True)}
FROM (SELECT *, sum(amount_minor) OVER (PARTITION BY customer_id, currency ORDER BY entry_id) AS balance_after_minor
      FROM customer_credit_entries) e
LEFT JOIN credit_notes n ON n.credit_note_id = e.credit_note_id
JOIN invoices i ON i.invoice_id = coalesce(e.invoice_id, n.invoice_id)
LEFT JOIN {_CURRENCIES} cu ON cu.code = e.currency {businesses_join("i", "bz")}
WHERE {ledgers}
ORDER BY e.customer_id, e.currency, e.entry_id"""  # noqa: S608 (conditions and subqueries built by the engine with ? placeholders; values bound)


_NO_FILTER = "TRUE"


def _where(filters: dict | None) -> tuple[str, list]:
    """WHERE clause over invoices `i` from allow-listed filters; every value a bound parameter."""
    filters = {k: v for k, v in (filters or {}).items() if v is not None}  # [] matches nothing
    unknown = set(filters) - _FILTERS
    if unknown:
        raise ValidationError(f"unknown ledger filter(s): {', '.join(sorted(unknown))}")
    clauses, params = [_NO_FILTER], []
    for key, value in filters.items():
        if key in ("period_start_from", "period_start_to"):
            clauses.append(f"i.period_start {'>=' if key.endswith('from') else '<='} ?")
            params.append(_as_date(key, value))
        else:  # one value or a list of values; `key` is from the allow-list above
            clauses.append(f"list_contains(?::VARCHAR[], i.{key})")
            values = value if isinstance(value, list | tuple | set | frozenset) else [value]
            params.append([str(v) for v in values])
    return " AND ".join(clauses), params


def _as_date(key: str, value: dt.date | str) -> dt.date:
    """A period filter's date: a date, or text by the one rule of a date given as text (date_text.iso_day:
    YYYY-MM-DD in ASCII digits; never a week date '2026-W01-1', the basic form '20260101' or a date-time)."""
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    day = iso_day(value) if isinstance(value, str) else None
    if day is None:
        raise ValidationError(f"ledger filter {key}: not a date (YYYY-MM-DD): {value!r}")
    return day


def _check_currencies(con: duckdb.DuckDBPyConnection) -> None:
    # The store only holds ISO codes; refuse to write amounts whose decimals are unknown.
    bad = [r[0] for r in con.execute("SELECT DISTINCT currency FROM invoices").fetchall() if r[0] not in MINOR_UNITS]
    if bad:
        raise ValidationError(f"invoices in unknown currencies {sorted(bad)}: cannot format their amounts")


def export_ledger(
    con: duckdb.DuckDBPyConnection, out_dir: Path, fmt: str = "csv", *, filters: dict | None = None
) -> dict[str, Path]:
    """Write invoices.{fmt}, invoice_lines.{fmt} (spec section 6), invoice_adjustments.{fmt} (section 11),
    credit_notes.{fmt}, credit_note_items.{fmt} (section 12: the notes of the invoices selected) and
    customer_credit_movements.{fmt} (the whole credit ledger of each customer and currency of the invoices selected)
    into `out_dir`;
    returns their paths."""
    if fmt not in FORMATS:
        raise ValidationError(f"unknown export format {fmt!r}: use csv or parquet")
    _check_currencies(con)
    where, params = _where(filters)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    options = "FORMAT csv, HEADER" if fmt == "csv" else "FORMAT parquet"
    queries = {
        "invoices": _invoices_sql(fmt, where) + "\nORDER BY i.invoice_id",
        "invoice_lines": _lines_sql(fmt, where),
        "invoice_adjustments": _adjustments_sql(fmt, where),
        "credit_notes": _credit_notes_sql(fmt, where),
        "credit_note_items": _credit_note_items_sql(fmt, where),
        "customer_credit_movements": _credit_movements_sql(fmt, where),
    }
    paths = {name: out_dir / f"{name}.{fmt}" for name in queries}
    # One transaction: every file is the same snapshot of the ledger, even while a bill run commits.
    with transaction(con):
        for name, query in queries.items():
            con.execute(f"COPY ({query}) TO ? ({options})", [*_currency_params(), *params, str(paths[name])])
    return paths


# Orders of the UI's ledger (an allow-list for the ORDER BY text). Amounts compare in major units, exactly:
# minor × 10^(4 − exp) is every currency's amount in ten-thousandths (no currency has more than 4 decimals).
_MAJOR_E4 = "(({minor})::HUGEINT * (10000 // cu.scale))"
LEDGER_ORDERS = {
    "newest": "i.created_at DESC, i.invoice_id",
    "total_desc": _MAJOR_E4.format(minor="i.total_minor") + " DESC, i.invoice_id",
    "total_asc": _MAJOR_E4.format(minor="i.total_minor") + ", i.invoice_id",
    "balance_desc": _MAJOR_E4.format(minor=balance_due_sql("i")) + " DESC, i.invoice_id",
    "period_desc": "i.period_start DESC NULLS LAST, i.invoice_id",
    "period_asc": "i.period_start NULLS LAST, i.invoice_id",
    "due_asc": "i.due_date NULLS LAST, i.invoice_id",
    "number": "i.business_id, i.number NULLS LAST, i.invoice_id",
    "customer": "i.customer_id, i.period_start, i.invoice_id",
}


def ledger_frames(
    con: duckdb.DuckDBPyConnection,
    filters: dict | None = None,
    limit: int | None = None,
    offset: int = 0,
    order: str = "newest",
) -> tuple[pd.DataFrame, int]:
    """One page of the invoice ledger for the UI and the total count of the filter, sorted by `order`
    (a key of LEDGER_ORDERS; newest first by default) over every matching invoice before paging.

    Same columns and amount strings as the CSV export, text shown as stored (no formula guard:
    the page is displayed, not opened by a spreadsheet).
    """
    if order not in LEDGER_ORDERS:
        raise ValidationError(f"unknown ledger order {order!r}: use one of {', '.join(LEDGER_ORDERS)}")
    _check_currencies(con)
    where, params = _where(filters)
    page = "" if limit is None else " LIMIT ? OFFSET ?"
    page_params = [] if limit is None else [int(limit), int(offset)]
    frame = con.execute(
        _invoices_sql("csv", where, guard=False) + f"\nORDER BY {LEDGER_ORDERS[order]}" + page,
        [*_currency_params(), *params, *page_params],
    ).df()
    total = con.execute(f"SELECT count(*) FROM invoices i WHERE {where}", params).fetchone()[0]  # noqa: S608 (conditions and subqueries built by the engine with ? placeholders; values bound)
    return frame, int(total)


# Columns a Parquet export does not carry but a ledger needs to hold an invoice exactly as drafted
# (the Spark run writes them after the export columns, `billsim import-drafts` reads them back).
INVOICE_STORE_EXTRAS = ["period_days", "tax_rate"]
LINE_STORE_EXTRAS = ["active_days", "period_days", "charge_id", "breakdown"]
# a coupon's place, date and kind, and a fixed coupon's amount (minor units): what invoice_coupons holds
ADJUSTMENT_STORE_EXTRAS = ["position", "applied_on", "coupon_kind", "face_minor"]


def ledger_arrow(con: duckdb.DuckDBPyConnection, *, store_extras: bool = False) -> dict:
    """invoices, invoice_lines and invoice_adjustments of the whole ledger as Arrow tables with the Parquet
    export's columns and types (the same SQL as `export_ledger(fmt='parquet')`); with `store_extras`, also the
    columns of INVOICE_STORE_EXTRAS / LINE_STORE_EXTRAS / ADJUSTMENT_STORE_EXTRAS at the end. Rows in
    invoice_id (, line_no or adjustment) order."""
    _check_currencies(con)
    inv_extra = "".join(f", i.{c}" for c in INVOICE_STORE_EXTRAS) if store_extras else ""
    line_extra = "".join(f", l.{c}" for c in LINE_STORE_EXTRAS) if store_extras else ""
    invoices = _invoices_sql("parquet", "TRUE").replace("\nFROM invoices i", f"{inv_extra}\nFROM invoices i", 1)
    lines = _lines_sql("parquet", "TRUE").replace("\nFROM invoice_lines l", f"{line_extra}\nFROM invoice_lines l", 1)
    adjustments = _adjustments_sql(
        "parquet", "TRUE", "".join(f", a.{c}" for c in ADJUSTMENT_STORE_EXTRAS) if store_extras else ""
    )
    params = _currency_params()
    return {
        "invoices": con.sql(invoices + "\nORDER BY i.invoice_id", params=params).to_arrow_table(),
        "invoice_lines": con.sql(lines, params=params).to_arrow_table(),
        "invoice_adjustments": con.sql(adjustments, params=params).to_arrow_table(),
    }
