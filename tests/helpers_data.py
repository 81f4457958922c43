"""Small builders that insert input rows (spec section 1) straight into a test database.

They write the tables the importer would write, with the importer's defaults (anchor day = day of
start_date, currency = the customer's, tier_no in order of `up_to` with the unbounded tier last), so
a test states only what it is about. Values are bound parameters; money and quantities are passed
as strings or Decimals and never pass through a float.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import subprocess
import sys
from decimal import Decimal

import duckdb

_usage_ids = itertools.count(1)

INPUT_AND_LEDGER_TABLES = (
    "invoice_taxes",
    "invoice_coupons",
    "applied_coupons",
    "coupons",
    "taxes",
    "invoice_lines",
    "invoice_cycle_claims",
    "delayed_charge_sweeps",
    "payments",
    "idempotency_keys",
    "invoices",
    "invoice_number_counters",
    "bill_run_items",
    "bill_runs",
    "delayed_charges",
    "usage",
    "price_tiers",
    "order_lines",
    "contracts",
    "customers",
)


def d(value: str | dt.date | None) -> dt.date | None:
    """'2026-03-15' -> date(2026, 3, 15); dates and None pass through."""
    if value is None or isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(value)


def dec(value) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, float):
        raise TypeError("money and quantities in tests are strings or Decimals, never floats")
    return Decimal(str(value))


def add_customer(
    con: duckdb.DuckDBPyConnection,
    customer_id: str = "C1",
    *,
    currency: str = "USD",
    tax_rate="0",
    business_id: str = "default",
    name: str | None = None,
    email: str | None = None,
    tax_codes: str | None = None,
) -> str:
    """A customer; `tax_codes` ('T1;T2', spec section 11) as the importer stores it: sorted, no repeats."""
    con.execute(
        """INSERT INTO customers (customer_id, name, business_id, email, currency, tax_rate, tax_codes)
           VALUES (?, ?, ?, ?, ?, ?, ?)""",
        [customer_id, name or customer_id, business_id, email, currency, dec(tax_rate), tax_codes],
    )
    return customer_id


def add_contract(
    con: duckdb.DuckDBPyConnection,
    contract_id: str = "K1",
    customer_id: str = "C1",
    start_date="2026-01-01",
    *,
    end_date=None,
    billing_period: str = "month",
    billing_cycle_start_day: int | None = None,
    billing_timing: str = "arrears",
    payment_terms_days: int = 30,
    minimum_commitment=None,
    proration: str = "actual",
    currency: str | None = None,
) -> str:
    """A contract; anchor defaults to the day of start_date and currency to the customer's."""
    start = d(start_date)
    if currency is None:
        row = con.execute("SELECT currency FROM customers WHERE customer_id = ?", [customer_id]).fetchone()
        currency = row[0] if row else "USD"
    con.execute(
        """INSERT INTO contracts (contract_id, customer_id, start_date, end_date, billing_period,
               billing_cycle_start_day, billing_timing, payment_terms_days, minimum_commitment, proration,
               currency) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
        [
            contract_id,
            customer_id,
            start,
            d(end_date),
            billing_period,
            billing_cycle_start_day if billing_cycle_start_day is not None else start.day,
            billing_timing,
            payment_terms_days,
            dec(minimum_commitment),
            proration,
            currency,
        ],
    )
    return contract_id


def add_line(
    con: duckdb.DuckDBPyConnection,
    line_id: str,
    contract_id: str = "K1",
    *,
    kind: str = "recurring",
    pricing_model: str = "flat",
    unit_price=None,
    quantity="1",
    product: str | None = None,
    description: str | None = None,
    metric: str | None = None,
    aggregation: str = "sum",
    package_size=None,
    free_units=None,
    percentage_rate=None,
    fixed_fee=None,
    discount_percent=None,
    start_date=None,
    end_date=None,
    tiers: list[tuple] | None = None,
    tax_codes: str | None = None,
) -> str:
    """An order line; `tiers` = [(up_to or None, unit_price[, flat_fee]), ...] adds its price tiers;
    `tax_codes` as stored ('T1;T2', 'none' = exempt, None = the customer's)."""
    con.execute(
        """INSERT INTO order_lines (line_id, contract_id, product, kind, pricing_model, description,
               unit_price, quantity, metric, aggregation, package_size, free_units, percentage_rate,
               fixed_fee, discount_percent, start_date, end_date, tax_codes)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
        [
            line_id,
            contract_id,
            product or line_id,
            kind,
            pricing_model,
            description,
            dec(unit_price),
            dec(quantity),
            metric,
            aggregation,
            dec(package_size),
            dec(free_units),
            dec(percentage_rate),
            dec(fixed_fee),
            dec(discount_percent),
            d(start_date),
            d(end_date),
            tax_codes,
        ],
    )
    if tiers:
        add_tiers(con, line_id, tiers)
    return line_id


def add_tiers(con: duckdb.DuckDBPyConnection, line_id: str, tiers: list[tuple]) -> None:
    """Tiers numbered in order of up_to, the unbounded one last (as the importer numbers them)."""
    rows = [(dec(t[0]), dec(t[1]), dec(t[2]) if len(t) > 2 else Decimal(0)) for t in tiers]
    rows.sort(key=lambda r: (r[0] is None, r[0] or 0))
    for no, (up_to, price, fee) in enumerate(rows, start=1):
        con.execute("INSERT INTO price_tiers VALUES (?, ?, ?, ?, ?)", [line_id, no, up_to, price, fee])


def add_usage(
    con: duckdb.DuckDBPyConnection,
    contract_id: str,
    metric: str,
    usage_date,
    quantity,
    status: str = "approved",
    usage_id: str | None = None,
) -> str:
    usage_id = usage_id or f"U{next(_usage_ids)}"
    con.execute(
        "INSERT INTO usage VALUES (?, ?, ?, ?, ?, ?)",
        [usage_id, contract_id, metric, d(usage_date), dec(quantity), status],
    )
    return usage_id


def add_charge(
    con: duckdb.DuckDBPyConnection,
    charge_id: str,
    customer_id: str,
    amount,
    charge_date,
    *,
    currency: str | None = None,
    description: str | None = None,
) -> str:
    if currency is None:
        currency = con.execute("SELECT currency FROM customers WHERE customer_id = ?", [customer_id]).fetchone()[0]
    con.execute(
        "INSERT INTO delayed_charges VALUES (?, ?, ?, ?, ?, ?)",
        [charge_id, customer_id, description or charge_id, dec(amount), d(charge_date), currency],
    )
    return charge_id


def add_tax(con: duckdb.DuckDBPyConnection, tax_code: str, rate, *, name: str | None = None, business_id="default"):
    """A tax of spec section 11 (rate in percent)."""
    con.execute(
        "INSERT INTO taxes (tax_code, name, rate, business_id) VALUES (?, ?, ?, ?)",
        [tax_code, name or tax_code, dec(rate), business_id],
    )
    return tax_code


def add_coupon(
    con: duckdb.DuckDBPyConnection,
    coupon_id: str,
    *,
    amount=None,
    currency: str | None = None,
    percent=None,
    frequency: str = "forever",
    periods: int | None = None,
    products: str | None = None,
    name: str | None = None,
    business_id: str = "default",
) -> str:
    """A coupon: fixed when `amount` is given (in major units of `currency`, default USD), else percentage."""
    kind = "fixed" if amount is not None else "percentage"
    con.execute(
        """INSERT INTO coupons (coupon_id, name, business_id, kind, amount, currency, percent, frequency, periods,
                                products) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
        [
            coupon_id,
            name or coupon_id,
            business_id,
            kind,
            dec(amount),
            (currency or "USD") if kind == "fixed" else None,
            dec(percent),
            frequency,
            periods,
            products,
        ],
    )
    return coupon_id


def apply_coupon(con: duckdb.DuckDBPyConnection, contract_id: str, coupon_id: str, applied_on) -> None:
    con.execute("INSERT INTO applied_coupons VALUES (?, ?, ?)", [contract_id, coupon_id, d(applied_on)])


def clear_all(con: duckdb.DuckDBPyConnection) -> None:
    """Empty every input and ledger table (for property tests that reuse one database)."""
    for table in INPUT_AND_LEDGER_TABLES:
        con.execute(f"DELETE FROM {table}")


def stored_invoices(con: duckdb.DuckDBPyConnection, where: str = "TRUE", params: list | None = None) -> list[dict]:
    """Invoice heads as dicts (`where` is a fixed SQL fragment written by the test)."""
    cur = con.execute(f"SELECT * FROM invoices WHERE {where} ORDER BY contract_id, period_start", params or [])
    cols = [c[0] for c in cur.description]
    return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


def stored_lines(con: duckdb.DuckDBPyConnection, invoice_id: str) -> list[dict]:
    cur = con.execute("SELECT * FROM invoice_lines WHERE invoice_id = ? ORDER BY line_no", [invoice_id])
    cols = [c[0] for c in cur.description]
    return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


def basics(con: duckdb.DuckDBPyConnection) -> None:
    """The spec's worked case tests/examples/basics, inserted row by row (no importer needed).

    The usage row U2 of the CSV carries `2026-03-17T23:59:00Z`; its UTC date is stored."""
    add_customer(con, "CUS-ACME", currency="USD", tax_rate="10", business_id="biz-north")
    add_customer(con, "CUS-BOREAL", currency="CAD", tax_rate="0", business_id="biz-north")
    add_customer(con, "CUS-KITE", currency="JPY", tax_rate="10", business_id="biz-north")
    add_contract(con, "K-FLAT", "CUS-ACME", "2026-01-01", billing_cycle_start_day=1)
    add_contract(
        con,
        "K-STUB",
        "CUS-ACME",
        "2026-03-10",
        billing_cycle_start_day=1,
        billing_timing="advance",
        payment_terms_days=15,
    )
    add_contract(con, "K-TIERS", "CUS-BOREAL", "2025-11-01", billing_cycle_start_day=1)
    add_contract(con, "K-MIN", "CUS-BOREAL", "2026-01-01", billing_cycle_start_day=1, minimum_commitment="500")
    add_contract(con, "K-END31", "CUS-ACME", "2026-01-31", billing_cycle_start_day=31)
    add_contract(con, "K-YEN", "CUS-KITE", "2026-03-10", billing_cycle_start_day=1)
    add_line(con, "L-FLAT", "K-FLAT", product="Platform", unit_price="99.00")
    add_line(
        con,
        "L-SEATS",
        "K-FLAT",
        product="Seats",
        pricing_model="per_unit",
        unit_price="12.50",
        quantity="7",
        discount_percent="20",
    )
    add_line(con, "L-STUB", "K-STUB", product="Platform", unit_price="50.00")
    add_line(con, "L-SETUP", "K-STUB", product="Onboarding", kind="one_time", unit_price="300.00")
    add_line(
        con,
        "L-GRAD",
        "K-TIERS",
        product="API calls",
        kind="usage",
        pricing_model="graduated",
        metric="api_calls",
        tiers=[("100", "1.00"), ("1000", "0.50", "5.00"), (None, "0.10")],
    )
    add_line(
        con,
        "L-VOL",
        "K-TIERS",
        product="Storage",
        kind="usage",
        pricing_model="volume",
        metric="storage_gb",
        aggregation="max",
        tiers=[("1000", "0.02"), (None, "0.015")],
    )
    add_line(
        con,
        "L-PKG",
        "K-TIERS",
        product="SMS",
        kind="usage",
        pricing_model="package",
        unit_price="50.00",
        metric="sms",
        package_size="1000",
        free_units="500",
    )
    add_line(
        con,
        "L-PCT",
        "K-TIERS",
        product="Payments",
        kind="usage",
        pricing_model="percentage",
        metric="payments",
        percentage_rate="2.5",
        fixed_fee="0.30",
    )
    add_line(
        con,
        "L-HOURS",
        "K-MIN",
        product="Consulting",
        kind="usage",
        pricing_model="per_unit",
        unit_price="0.10",
        metric="events",
    )
    add_line(con, "L-31", "K-END31", product="Platform", unit_price="100.00")
    add_line(con, "L-YEN", "K-YEN", product="Platform", unit_price="10000")
    for uid, cid, metric, day, qty, status in [
        ("U1", "K-TIERS", "api_calls", "2026-03-02", "1000", "approved"),
        ("U2", "K-TIERS", "api_calls", "2026-03-17", "500", "approved"),
        ("U3", "K-TIERS", "api_calls", "2026-04-01", "9999", "approved"),
        ("U4", "K-TIERS", "api_calls", "2026-02-28", "9999", "approved"),
        ("U5", "K-TIERS", "storage_gb", "2026-03-05", "1800", "approved"),
        ("U6", "K-TIERS", "storage_gb", "2026-03-25", "2500", "approved"),
        ("U7", "K-TIERS", "sms", "2026-03-09", "2600", "approved"),
        ("U8", "K-TIERS", "payments", "2026-03-03", "100.00", "approved"),
        ("U9", "K-TIERS", "payments", "2026-03-12", "250.00", "approved"),
        ("U10", "K-TIERS", "payments", "2026-03-30", "49.99", "approved"),
        ("U11", "K-TIERS", "payments", "2026-03-30", "1000.00", "pending"),
        ("U12", "K-MIN", "events", "2026-03-10", "1234", "approved"),
        ("U13", "K-MIN", "events", "2026-03-11", "5000", "rejected"),
        ("U14", "K-MIN", "events", "2026-03-12", "700", "pending"),
    ]:
        add_usage(con, cid, metric, day, qty, status, usage_id=uid)
    add_charge(con, "DC-1", "CUS-ACME", "25.00", "2026-03-20", description="Extra data export")
    add_charge(con, "DC-2", "CUS-ACME", "10.00", "2026-03-20", currency="EUR", description="Late-fee (EUR contract)")
    add_charge(con, "DC-3", "CUS-BOREAL", "18.40", "2026-04-02", description="Courier")


# The example scenario of spec section 7, verbatim (what-if tests on one machine and on Spark).
SPEC_SCENARIO = {
    "name": "API price +10%, usage +25%",
    "changes": [
        {"type": "price", "product": "API calls", "percent": 10},
        {"type": "price", "line_id": "L-FLAT", "unit_price": "120.00"},
        {"type": "usage", "metric": "api_calls", "percent": 25},
        {
            "type": "tiers",
            "line_id": "L-GRAD",
            "tiers": [{"up_to": "500", "unit_price": "0.90"}, {"up_to": None, "unit_price": "0.05"}],
        },
        {"type": "churn", "contract_ids": ["K-MIN"]},
        {"type": "minimum_commitment", "contract_id": "K-TIERS", "amount": "1000"},
        {"type": "proration", "value": "none"},
    ],
}


@contextlib.contextmanager
def held_by_another_process(db):
    """Another process holding the database file (as a running bill run or the workbench would), from its
    'held' line until its stdin is closed: it waits on its input, never for a fixed time. Yields the process."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys; c = duckdb.connect(sys.argv[1]); print('held', flush=True); sys.stdin.read()",
            str(db),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        yield holder
    finally:
        if not holder.stdin.closed:
            holder.stdin.close()  # end of input: the holder exits and releases the file
        holder.wait(timeout=60)


# What each line of `explained` shows as its explanation (engine/billing/line_explanation.py).
PACKAGE = "5,710 units − 500 free = 5,210 → 6 packs of 1,000 × £39.50"
PERCENTAGE = "715.61 × 2.9 % + fixed fee CA$0.40 × 1 usage row"
TRUE_UP = "commitment $500.00 − order lines $239.15 = $260.85"


def explained(con: duckdb.DuckDBPyConnection) -> None:
    """Lines that are not quantity × unit price (tests/test_line_explanations.py), in March 2026:
    KP (GBP, 20 %): package, 5,710 SMS, 500 free, packs of 1,000 at 39.50 -> 6 packs = 237.00;
    KQ (CAD, no tax): percentage 2.9 % of 715.61 + 0.40 × 1 usage row = 21.15; delayed charge CH1 12.125 CAD;
    KM (USD, 10 %): minimum commitment 500.00, platform 239.00 + 3 events × 0.05 -> true-up 260.85."""
    add_customer(con, "CG", currency="GBP", tax_rate="20")
    add_contract(con, "KP", "CG", "2026-01-01")
    add_line(
        con,
        "LP",
        "KP",
        kind="usage",
        pricing_model="package",
        product="SMS",
        metric="sms",
        unit_price="39.50",
        package_size="1000",
        free_units="500",
    )
    add_usage(con, "KP", "sms", "2026-03-03", "5000")
    add_usage(con, "KP", "sms", "2026-03-20", "710")
    add_customer(con, "CC", currency="CAD")  # tax_rate 0: no tax
    add_contract(con, "KQ", "CC", "2026-01-01")
    add_line(
        con,
        "LQ",
        "KQ",
        kind="usage",
        pricing_model="percentage",
        product="Payments",
        metric="payments",
        percentage_rate="2.9",
        fixed_fee="0.40",
    )
    add_usage(con, "KQ", "payments", "2026-03-05", "715.61")
    add_charge(con, "CH1", "CC", "12.125", "2026-03-20", description="Courier")
    add_customer(con, "CU", currency="USD", tax_rate="10")
    add_contract(con, "KM", "CU", "2026-01-01", minimum_commitment="500")
    add_line(con, "LM", "KM", product="Platform", unit_price="239.00")
    add_line(
        con, "LE", "KM", kind="usage", pricing_model="per_unit", product="Events", metric="events", unit_price="0.05"
    )
    add_usage(con, "KM", "events", "2026-03-07", "3")
