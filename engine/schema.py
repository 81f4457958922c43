"""The DuckDB schema and its forward migrations.

Money in input tables is DECIMAL in major units (prices 12 decimals, quantities 6); money on invoices
is BIGINT minor units of the invoice currency. Never DOUBLE. Each migration runs once, in order, in
one transaction with the version bump; `schema_version` records what has been applied.
"""

from __future__ import annotations

import duckdb

from .errors import SchemaError
from .statuses import status_check_sql

PRICE = "DECIMAL(38,12)"
QTY = "DECIMAL(38,6)"

_V1 = f"""
CREATE TABLE customers (
    customer_id VARCHAR PRIMARY KEY,
    name VARCHAR NOT NULL,
    business_id VARCHAR NOT NULL DEFAULT 'default',
    email VARCHAR,
    currency VARCHAR NOT NULL DEFAULT 'USD',
    tax_rate {PRICE} NOT NULL DEFAULT 0
);
CREATE TABLE contracts (
    contract_id VARCHAR PRIMARY KEY,
    customer_id VARCHAR NOT NULL,
    start_date DATE NOT NULL,
    end_date DATE,
    billing_period VARCHAR NOT NULL DEFAULT 'month',
    billing_cycle_start_day INTEGER NOT NULL,
    billing_timing VARCHAR NOT NULL DEFAULT 'arrears',
    payment_terms_days INTEGER NOT NULL DEFAULT 30,
    minimum_commitment {PRICE},
    proration VARCHAR NOT NULL DEFAULT 'actual',
    currency VARCHAR NOT NULL
);
CREATE TABLE order_lines (
    line_id VARCHAR PRIMARY KEY,
    contract_id VARCHAR NOT NULL,
    product VARCHAR NOT NULL,
    kind VARCHAR NOT NULL,
    pricing_model VARCHAR NOT NULL,
    description VARCHAR,
    unit_price {PRICE},
    quantity {QTY} NOT NULL DEFAULT 1,
    metric VARCHAR,
    aggregation VARCHAR NOT NULL DEFAULT 'sum',
    package_size {QTY},
    free_units {QTY},
    percentage_rate {PRICE},
    fixed_fee {PRICE},
    discount_percent {QTY},
    start_date DATE,
    end_date DATE
);
CREATE TABLE price_tiers (
    line_id VARCHAR NOT NULL,
    tier_no INTEGER NOT NULL,
    up_to {QTY},
    unit_price {PRICE} NOT NULL,
    flat_fee {PRICE} NOT NULL DEFAULT 0,
    PRIMARY KEY (line_id, tier_no)
);
-- No index on usage: 10M-row imports stay fast; duplicate ids are checked by the importer.
CREATE TABLE usage (
    usage_id VARCHAR NOT NULL,
    contract_id VARCHAR NOT NULL,
    metric VARCHAR NOT NULL,
    usage_date DATE NOT NULL,
    quantity DECIMAL(18,6) NOT NULL,
    status VARCHAR NOT NULL DEFAULT 'approved'
);
CREATE TABLE delayed_charges (
    charge_id VARCHAR PRIMARY KEY,
    customer_id VARCHAR NOT NULL,
    description VARCHAR NOT NULL,
    amount {PRICE} NOT NULL,
    charge_date DATE NOT NULL,
    currency VARCHAR NOT NULL
);
-- Delayed-charge state kept apart from the imported charge: one row once a charge is swept.
CREATE TABLE delayed_charge_sweeps (
    charge_id VARCHAR PRIMARY KEY,
    invoice_id VARCHAR NOT NULL,
    run_id VARCHAR,
    swept_at TIMESTAMP NOT NULL
);
CREATE TABLE invoices (
    invoice_id VARCHAR PRIMARY KEY,
    business_id VARCHAR NOT NULL,
    customer_id VARCHAR NOT NULL,
    contract_id VARCHAR,
    number BIGINT,
    status VARCHAR NOT NULL,
    currency VARCHAR NOT NULL,
    period_start DATE,
    period_end DATE,
    bill_for_date DATE,
    due_date DATE,
    period_days INTEGER,
    tax_rate {PRICE} NOT NULL DEFAULT 0,
    subtotal_minor BIGINT NOT NULL,
    tax_minor BIGINT NOT NULL,
    total_minor BIGINT NOT NULL,
    total_paid_minor BIGINT NOT NULL DEFAULT 0,
    description VARCHAR,
    run_id VARCHAR,
    recurring_template_id VARCHAR,
    idempotency_key VARCHAR,
    created_at TIMESTAMP NOT NULL,
    finalized_at TIMESTAMP,
    voided_at TIMESTAMP
);
CREATE TABLE invoice_lines (
    invoice_id VARCHAR NOT NULL,
    line_no INTEGER NOT NULL,
    line_id VARCHAR,
    kind VARCHAR NOT NULL,
    product VARCHAR,
    description VARCHAR,
    quantity {QTY},
    unit_price {PRICE},
    active_days INTEGER,
    period_days INTEGER,
    amount_minor BIGINT NOT NULL,
    period_start DATE,
    period_end DATE,
    charge_id VARCHAR,
    breakdown VARCHAR
);
-- At most one non-void invoice per (contract, cycle): a claim row exists while the invoice is not void.
CREATE TABLE invoice_cycle_claims (
    contract_id VARCHAR NOT NULL,
    period_start DATE NOT NULL,
    invoice_id VARCHAR NOT NULL,
    PRIMARY KEY (contract_id, period_start)
);
CREATE TABLE invoice_number_counters (
    business_id VARCHAR PRIMARY KEY,
    last_number BIGINT NOT NULL
);
CREATE TABLE payments (
    payment_id VARCHAR PRIMARY KEY,
    invoice_id VARCHAR NOT NULL,
    amount_minor BIGINT NOT NULL,
    method VARCHAR NOT NULL,
    paid_at TIMESTAMP NOT NULL
);
CREATE TABLE idempotency_keys (
    idempotency_key VARCHAR PRIMARY KEY,
    invoice_id VARCHAR NOT NULL,
    request_hash VARCHAR NOT NULL
);
CREATE TABLE recurring_templates (
    template_id VARCHAR PRIMARY KEY,
    customer_id VARCHAR NOT NULL,
    currency VARCHAR NOT NULL,
    description VARCHAR,
    line_items VARCHAR NOT NULL,
    billing_period VARCHAR NOT NULL,
    start_date DATE NOT NULL,
    payment_terms_days INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE TABLE bill_runs (
    run_id VARCHAR PRIMARY KEY,
    period_date DATE NOT NULL,
    scope VARCHAR NOT NULL,
    include_delayed_charges BOOLEAN NOT NULL,
    finalize BOOLEAN NOT NULL,
    status VARCHAR NOT NULL,
    requested_by VARCHAR,
    started_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP,
    report VARCHAR
);
CREATE TABLE bill_run_items (
    run_id VARCHAR NOT NULL,
    contract_id VARCHAR NOT NULL,
    outcome VARCHAR NOT NULL,
    invoice_id VARCHAR,
    reason VARCHAR
);
CREATE TABLE scenarios (
    name VARCHAR PRIMARY KEY,
    body VARCHAR NOT NULL,
    saved_at TIMESTAMP NOT NULL
);
"""

# v2: why an invoice was voided, kept with it (NULL for invoices voided before, or without a reason).
_V2 = "ALTER TABLE invoices ADD COLUMN void_reason VARCHAR;"

# v3: review and approval (spec section 8). Invoice statuses gain 'approved' and 'held' (between draft
# and open); the audit trail is append-only (no code path updates or deletes an event); review thresholds
# are per business (a missing row means the spec's defaults), large-invoice amounts per business and currency.
_V3 = f"""
ALTER TABLE invoices ADD COLUMN hold_reason VARCHAR;
ALTER TABLE invoices ADD COLUMN approved_by VARCHAR;
ALTER TABLE invoices ADD COLUMN approved_at TIMESTAMP;
CREATE SEQUENCE invoice_event_ids;
CREATE TABLE invoice_events (
    event_id BIGINT NOT NULL DEFAULT nextval('invoice_event_ids'),
    invoice_id VARCHAR NOT NULL,
    occurred_at TIMESTAMP NOT NULL,
    actor VARCHAR NOT NULL,
    action VARCHAR NOT NULL,
    status_before VARCHAR,
    status_after VARCHAR,
    note VARCHAR,
    changes VARCHAR
);
CREATE TABLE review_thresholds (
    business_id VARCHAR PRIMARY KEY,
    total_change_percent {QTY} NOT NULL DEFAULT 25,
    total_change_min {PRICE} NOT NULL DEFAULT 10,
    usage_spike_factor {QTY} NOT NULL DEFAULT 3,
    updated_by VARCHAR,
    updated_at TIMESTAMP
);
CREATE TABLE review_large_invoice (
    business_id VARCHAR NOT NULL,
    currency VARCHAR NOT NULL,
    above {PRICE} NOT NULL,
    PRIMARY KEY (business_id, currency)
);
"""

# v4: Billsim as a service (spec section 9). API tokens are stored as a sha256 hash only (the token is shown
# once); a revoked token keeps its row. Every POST with an Idempotency-Key keeps its request hash and the
# response it got, per business, so a retried request is answered the same, also after a server restart.
_V4 = """
CREATE TABLE api_tokens (
    name VARCHAR PRIMARY KEY,
    business_id VARCHAR NOT NULL,
    token_hash VARCHAR NOT NULL UNIQUE,
    created_at TIMESTAMP NOT NULL,
    revoked_at TIMESTAMP
);
CREATE TABLE api_idempotency (
    business_id VARCHAR NOT NULL,
    key VARCHAR NOT NULL,
    method VARCHAR NOT NULL,
    path VARCHAR NOT NULL,
    request_hash VARCHAR NOT NULL,
    status_code INTEGER NOT NULL,
    response_body VARCHAR NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (business_id, key)
);
"""

# v5: an invoice's status is one of engine.statuses.STATUSES, held by a CHECK (DuckDB cannot add a CHECK to a
# column, so the table is rebuilt with it: same columns, same order, every row copied).
_V5 = f"""
CREATE TABLE invoices_v5 (
    invoice_id VARCHAR PRIMARY KEY,
    business_id VARCHAR NOT NULL,
    customer_id VARCHAR NOT NULL,
    contract_id VARCHAR,
    number BIGINT,
    status VARCHAR NOT NULL {status_check_sql("status")},
    currency VARCHAR NOT NULL,
    period_start DATE,
    period_end DATE,
    bill_for_date DATE,
    due_date DATE,
    period_days INTEGER,
    tax_rate {PRICE} NOT NULL DEFAULT 0,
    subtotal_minor BIGINT NOT NULL,
    tax_minor BIGINT NOT NULL,
    total_minor BIGINT NOT NULL,
    total_paid_minor BIGINT NOT NULL DEFAULT 0,
    description VARCHAR,
    run_id VARCHAR,
    recurring_template_id VARCHAR,
    idempotency_key VARCHAR,
    created_at TIMESTAMP NOT NULL,
    finalized_at TIMESTAMP,
    voided_at TIMESTAMP,
    void_reason VARCHAR,
    hold_reason VARCHAR,
    approved_by VARCHAR,
    approved_at TIMESTAMP
);
INSERT INTO invoices_v5 BY NAME SELECT * FROM invoices;
DROP TABLE invoices;
ALTER TABLE invoices_v5 RENAME TO invoices;
"""  # noqa: S608 (DDL from the engine's own constants: the status list and the PRICE type)

# v6: taxes and coupons (spec section 11). A tax code and a coupon belong to one business (their ids are
# unique across businesses). `tax_codes` of customers and order lines is the ';'-joined list of codes as
# imported (sorted, without repeats), 'none' = exempt, NULL = the older single `tax_rate` (customers) or the
# customer's codes (order lines). What an invoice was computed with is stored WITH it (a redraft computes
# it again, a void keeps it): its discount, each line's share of it and tax codes, its coupons and its
# taxes. invoice_taxes.tax_code NULL is the customer's single `tax_rate` (the rule before taxes.csv).
_V6 = f"""
CREATE TABLE taxes (
    tax_code VARCHAR PRIMARY KEY,
    name VARCHAR NOT NULL,
    rate {QTY} NOT NULL,
    business_id VARCHAR NOT NULL DEFAULT 'default'
);
CREATE TABLE coupons (
    coupon_id VARCHAR PRIMARY KEY,
    name VARCHAR NOT NULL,
    business_id VARCHAR NOT NULL DEFAULT 'default',
    kind VARCHAR NOT NULL,
    amount {PRICE},
    currency VARCHAR,
    percent {QTY},
    frequency VARCHAR NOT NULL,
    periods INTEGER,
    products VARCHAR
);
CREATE TABLE applied_coupons (
    contract_id VARCHAR NOT NULL,
    coupon_id VARCHAR NOT NULL,
    applied_on DATE NOT NULL
);
ALTER TABLE customers ADD COLUMN tax_codes VARCHAR;
ALTER TABLE order_lines ADD COLUMN tax_codes VARCHAR;
ALTER TABLE invoices ADD COLUMN discount_minor BIGINT NOT NULL DEFAULT 0;
ALTER TABLE invoice_lines ADD COLUMN discount_minor BIGINT NOT NULL DEFAULT 0;
ALTER TABLE invoice_lines ADD COLUMN tax_codes VARCHAR;
CREATE TABLE invoice_coupons (
    invoice_id VARCHAR NOT NULL,
    position INTEGER NOT NULL,
    coupon_id VARCHAR NOT NULL,
    applied_on DATE NOT NULL,
    name VARCHAR NOT NULL,
    kind VARCHAR NOT NULL,
    percent {QTY},
    face_minor BIGINT,
    base_minor BIGINT NOT NULL,
    amount_minor BIGINT NOT NULL
);
CREATE TABLE invoice_taxes (
    invoice_id VARCHAR NOT NULL,
    tax_code VARCHAR,
    name VARCHAR NOT NULL,
    rate {PRICE} NOT NULL,
    base_minor BIGINT NOT NULL,
    amount_minor BIGINT NOT NULL
);
INSERT INTO invoice_taxes
SELECT invoice_id, NULL, 'Tax', tax_rate, subtotal_minor, tax_minor FROM invoices WHERE tax_rate <> 0;
"""  # noqa: S608 (column types from this module's constants; no value)

# The businesses that send the invoices (businesses.csv, an optional input file): the seller on every document
# and the prefix of its invoice numbers (engine/billing/numbering.py). A business without a row is shown by its
# id, with the default prefix.
_BUSINESSES = """
CREATE TABLE businesses (
    business_id VARCHAR PRIMARY KEY,
    name VARCHAR NOT NULL,
    address VARCHAR,
    tax_id VARCHAR,
    invoice_prefix VARCHAR,
    logo_path VARCHAR
);
"""


# Credit notes and customer credit (spec section 12). A finalized invoice never changes its figures; what
# corrects it is kept beside it: the customer credit applied when it was finalized, the totals of its credit
# notes (their offsets lower its balance due, their refunds are money paid back). Every credit note writes its
# invoice's row, so two notes on one invoice at the same moment conflict and are serialised (the second is
# re-run on what the first left); `(invoice_id, sequence)` is unique. A customer's credit is one row per
# currency (balance never negative), written by every movement (so two finalizes that both spend it conflict),
# and each movement is also an entry of its history.
#     balance_due = total − credits_applied − total_paid − credit_offset
_V8_CREDIT_NOTES = f"""
ALTER TABLE invoices ADD COLUMN credits_applied_minor BIGINT NOT NULL DEFAULT 0;
ALTER TABLE invoices ADD COLUMN credit_notes_total_minor BIGINT NOT NULL DEFAULT 0;
ALTER TABLE invoices ADD COLUMN credit_offset_minor BIGINT NOT NULL DEFAULT 0;
ALTER TABLE invoices ADD COLUMN refunded_minor BIGINT NOT NULL DEFAULT 0;
CREATE TABLE credit_notes (
    credit_note_id VARCHAR PRIMARY KEY,
    invoice_id VARCHAR NOT NULL,
    sequence INTEGER NOT NULL,
    number VARCHAR NOT NULL,
    invoice_number VARCHAR NOT NULL,
    business_id VARCHAR NOT NULL,
    customer_id VARCHAR NOT NULL,
    currency VARCHAR NOT NULL,
    reason VARCHAR NOT NULL CHECK (reason IN ('duplicate', 'product_unsatisfactory', 'order_change', 'fraudulent',
                                              'other')),
    note VARCHAR,
    subtotal_minor BIGINT NOT NULL CHECK (subtotal_minor > 0),
    tax_minor BIGINT NOT NULL CHECK (tax_minor >= 0),
    total_minor BIGINT NOT NULL,
    offset_minor BIGINT NOT NULL CHECK (offset_minor >= 0),
    refund_minor BIGINT NOT NULL CHECK (refund_minor >= 0),
    credit_minor BIGINT NOT NULL CHECK (credit_minor >= 0),
    created_at TIMESTAMP NOT NULL,
    actor VARCHAR NOT NULL,
    UNIQUE (invoice_id, sequence),
    CHECK (total_minor = subtotal_minor + tax_minor),
    CHECK (offset_minor + refund_minor + credit_minor = total_minor)
);
CREATE TABLE credit_note_items (
    credit_note_id VARCHAR NOT NULL,
    line_no INTEGER NOT NULL,
    amount_minor BIGINT NOT NULL CHECK (amount_minor > 0),
    tax_minor BIGINT NOT NULL,
    PRIMARY KEY (credit_note_id, line_no)
);
CREATE TABLE credit_note_taxes (
    credit_note_id VARCHAR NOT NULL,
    tax_code VARCHAR,
    name VARCHAR NOT NULL,
    rate {PRICE} NOT NULL,
    base_minor BIGINT NOT NULL,
    amount_minor BIGINT NOT NULL
);
CREATE TABLE customer_credit (
    customer_id VARCHAR NOT NULL,
    currency VARCHAR NOT NULL,
    balance_minor BIGINT NOT NULL CHECK (balance_minor >= 0),
    PRIMARY KEY (customer_id, currency)
);
CREATE SEQUENCE customer_credit_entry_ids;
CREATE TABLE customer_credit_entries (
    entry_id BIGINT NOT NULL DEFAULT nextval('customer_credit_entry_ids'),
    customer_id VARCHAR NOT NULL,
    currency VARCHAR NOT NULL,
    amount_minor BIGINT NOT NULL,
    kind VARCHAR NOT NULL,
    credit_note_id VARCHAR,
    invoice_id VARCHAR,
    occurred_at TIMESTAMP NOT NULL
);
"""  # noqa: S608 (column types from this module's constants; no value)

# v9: recurring templates count the periods drafted after their first invoice (by bill runs). Drafting a period
# writes this row, so two transactions drafting the same template conflict and the retried one finds the other's
# invoice: never two non-void invoices for one template period (DuckDB lets an unchanged value through unseen).
_V9_RECURRING = "ALTER TABLE recurring_templates ADD COLUMN periods_drafted BIGINT DEFAULT 0;"

# v10: a saved scenario keeps the range it was saved with, so Re-run bills the same cycles (NULL: saved before,
# or without a range; the page's range is used).
_V10_SCENARIO_RANGE = """ALTER TABLE scenarios ADD COLUMN from_date DATE;
ALTER TABLE scenarios ADD COLUMN to_date DATE;"""

# Forward migrations: append, never edit a released one.
MIGRATIONS: list[str] = [
    _V1,
    _V2,
    _V3,
    _V4,
    _V5,
    _V6,
    _BUSINESSES,
    _V8_CREDIT_NOTES,
    _V9_RECURRING,
    _V10_SCENARIO_RANGE,
]
SCHEMA_VERSION = len(MIGRATIONS)

# Tables of spec sections 1 and 11 (import writes them in this order; its checks see every file staged), then the
# optional businesses (businesses.csv).
INPUT_TABLES = [
    "customers",
    "contracts",
    "order_lines",
    "price_tiers",
    "usage",
    "delayed_charges",
    "taxes",
    "coupons",
    "applied_coupons",
    "businesses",
]


def current_version(con: duckdb.DuckDBPyConnection) -> int:
    exists = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_version' AND table_schema = 'main'"
    ).fetchone()[0]
    if not exists:
        return 0
    row = con.execute("SELECT max(version) FROM schema_version").fetchone()
    return int(row[0] or 0)


def migrate(con: duckdb.DuckDBPyConnection) -> int:
    """Apply every migration newer than the database's version; returns the version reached."""
    version = current_version(con)
    if version > SCHEMA_VERSION:
        raise SchemaError(f"database schema v{version} is newer than this billsim (v{SCHEMA_VERSION})")
    for target in range(version + 1, SCHEMA_VERSION + 1):
        con.execute("BEGIN TRANSACTION")
        try:
            if target == 1:
                con.execute("CREATE TABLE schema_version (version INTEGER NOT NULL, applied_at TIMESTAMP)")
            con.execute(MIGRATIONS[target - 1])
            con.execute("INSERT INTO schema_version VALUES (?, current_timestamp)", [target])
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
    return SCHEMA_VERSION
