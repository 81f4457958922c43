"""Read-only queries behind the Streamlit workbench pages (the pages never write SQL).

Every value is a bound parameter; the only identifiers put into SQL text come from `BROWSABLE_TABLES`.
Nothing here writes: the pages change data only through the engine's operations (import, drafting,
bill runs, lifecycle). Money leaves as integer minor units with its currency, so the page formats it
with `money.format_money` and nothing is ever a float.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import duckdb
import pandas as pd

from ..rating.targets import count_active_contracts
from ..schema import INPUT_TABLES
from ..scope import EVERYTHING, Scope
from ..statuses import STATUSES
from .invoice_store import balance_due_sql, plain, rows_as_dicts
from .numbering import businesses_join, invoice_number_sql

# Tables the data page may browse, in the order they are shown (an allow-list for identifiers).
BROWSABLE_TABLES: tuple[str, ...] = (
    *INPUT_TABLES,
    "invoices",
    "invoice_lines",
    "invoice_coupons",
    "invoice_taxes",
    "payments",
    "bill_runs",
    "bill_run_items",
)
INVOICE_STATUSES = STATUSES


def open_cursor(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """A cursor of the shared connection for one UI session (thread): own temp tables, UTC clock.

    DuckDB connections are not safe to use from two threads at once, and each Streamlit session
    runs in its own thread; cursors do not inherit SET TimeZone, so it is set again here."""
    cur = con.cursor()
    # fetched, so no unfinished result is left on the cursor (DuckDB 2 then refuses e.g. register())
    cur.execute("SET TimeZone = 'UTC'").fetchall()
    return cur


def _table(name: str) -> str:
    if name not in BROWSABLE_TABLES:
        raise ValueError(f"not a browsable table: {name!r}")
    return name


# --- data page ----------------------------------------------------------------------------------


def is_empty(con: duckdb.DuckDBPyConnection) -> bool:
    """No customer, contract or invoice at all: a brand-new database."""
    return (
        con.execute("""SELECT (SELECT count(*) FROM customers) + (SELECT count(*) FROM contracts)
                                 + (SELECT count(*) FROM invoices)""").fetchone()[0]
        == 0
    )


def tables_with_rows(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The browsable tables (the inputs, then what billing made) that hold at least one row, in BROWSABLE_TABLES
    order: [] for a brand-new database."""
    found = " UNION ALL ".join(
        f"SELECT {i} AS i, '{t}' AS t WHERE EXISTS (SELECT 1 FROM {_table(t)})"  # noqa: S608 (table names from the engine's allow-list BROWSABLE_TABLES; nothing bound)
        for i, t in enumerate(BROWSABLE_TABLES)
    )
    return [r[0] for r in con.execute(f"SELECT t FROM ({found}) ORDER BY i").fetchall()]  # noqa: S608 (the query above)


def table_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Row count of every browsable table."""
    union = " UNION ALL ".join(f"SELECT '{t}', count(*) FROM {_table(t)}" for t in BROWSABLE_TABLES)  # noqa: S608 (table names from the engine's allow-lists (schema.INPUT_TABLES, import_rules.TABLES); values bound)
    return {name: int(n) for name, n in con.execute(union).fetchall()}


def customer_counts(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Customers and contracts per business and contract currency."""
    return con.execute(
        """SELECT cu.business_id, k.currency, count(DISTINCT cu.customer_id) AS customers,
                  count(k.contract_id) AS contracts
           FROM customers cu LEFT JOIN contracts k USING (customer_id)
           GROUP BY ALL ORDER BY 1, 2"""
    ).df()


def invoice_counts(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """Invoices per business, currency and status with their total (minor units)."""
    return rows_as_dicts(
        con.execute(
            f"""SELECT business_id, currency, status, count(*) AS invoices,
                  sum(total_minor)::BIGINT AS total_minor,
                  sum({balance_due_sql("i")})::BIGINT AS balance_minor
           FROM invoices i GROUP BY ALL ORDER BY 1, 2, 3"""  # noqa: S608 (the engine's balance expression; no value)
        )
    )


def usage_counts(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Usage rows per status and metric."""
    return con.execute("""SELECT status, metric, count(*) AS rows, min(usage_date) AS first_date,
                                 max(usage_date) AS last_date
                          FROM usage GROUP BY ALL ORDER BY 1, 2""").df()


def browse_table(con: duckdb.DuckDBPyConnection, table: str, limit: int, offset: int) -> tuple[pd.DataFrame, int]:
    """One page of a table (in storage order) and its row count: never the whole table.

    DECIMAL columns come out as exact text without trailing zeros (pandas would make them floats)."""
    name = _table(table)
    columns = con.execute(
        """SELECT column_name, data_type FROM information_schema.columns
           WHERE table_schema = 'main' AND table_name = ? ORDER BY ordinal_position""",
        [name],
    ).fetchall()
    # DECIMAL text always has a '.', so trimming zeros then the point leaves the exact value
    trimmed = "rtrim(rtrim(\"{c}\"::VARCHAR, '0'), '.') AS \"{c}\""
    select = ", ".join(trimmed.format(c=c) if t.startswith("DECIMAL") else f'"{c}"' for c, t in columns)
    total = con.execute(f"SELECT count(*) FROM {name}").fetchone()[0]  # noqa: S608 (table names from the engine's allow-lists (schema.INPUT_TABLES, import_rules.TABLES); values bound)
    frame = con.execute(f"SELECT {select} FROM {name} LIMIT ? OFFSET ?", [int(limit), int(offset)]).df()  # noqa: S608 (table names from the engine's allow-lists (schema.INPUT_TABLES, import_rules.TABLES); values bound)
    return frame, int(total)


# --- contracts and customers --------------------------------------------------------------------

_CONTRACT_COLUMNS = """k.contract_id, k.customer_id, cu.name AS customer_name, cu.business_id, k.currency,
                       k.start_date, k.end_date, k.billing_period, k.billing_cycle_start_day,
                       k.billing_timing, k.payment_terms_days, k.minimum_commitment, k.proration,
                       cu.tax_rate"""


def search_contracts(con: duckdb.DuckDBPyConnection, text: str = "", limit: int = 200) -> list[dict]:
    """Contracts whose id, customer id or customer name contains `text` (case-insensitive), by id."""
    pattern = f"%{text.strip()}%"
    return rows_as_dicts(
        con.execute(
            f"""SELECT {_CONTRACT_COLUMNS}
            FROM contracts k JOIN customers cu USING (customer_id)
            WHERE k.contract_id ILIKE ? OR k.customer_id ILIKE ? OR cu.name ILIKE ?
            ORDER BY k.contract_id LIMIT ?""",  # noqa: S608 (column names from the engine's allow-lists; values bound)
            [pattern, pattern, pattern, int(limit)],
        )
    )


def contract_details(con: duckdb.DuckDBPyConnection, contract_id: str) -> dict | None:
    """One contract with its customer, or None."""
    rows = rows_as_dicts(
        con.execute(
            f"""SELECT {_CONTRACT_COLUMNS}
            FROM contracts k JOIN customers cu USING (customer_id) WHERE k.contract_id = ?""",  # noqa: S608 (column names from the engine's allow-lists; values bound)
            [contract_id],
        )
    )
    return rows[0] if rows else None


def search_customers(con: duckdb.DuckDBPyConnection, text: str = "", limit: int = 200) -> list[dict]:
    pattern = f"%{text.strip()}%"
    return rows_as_dicts(
        con.execute(
            """SELECT customer_id, name, business_id, currency FROM customers
           WHERE customer_id ILIKE ? OR name ILIKE ? ORDER BY customer_id LIMIT ?""",
            [pattern, pattern, int(limit)],
        )
    )


def customer_names(con: duckdb.DuckDBPyConnection, customer_ids: list[str]) -> dict[str, str]:
    """Name of each of these customers (unknown ids are left out)."""
    rows = con.execute(
        "SELECT customer_id, name FROM customers WHERE list_contains(?::VARCHAR[], customer_id)", [customer_ids]
    ).fetchall()
    return {cid: name for cid, name in rows}


def businesses(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [r[0] for r in con.execute("SELECT DISTINCT business_id FROM customers ORDER BY 1").fetchall()]


def business_names(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """business id -> its name (businesses.csv); a business without a row is left out."""
    return dict(con.execute("SELECT business_id, name FROM businesses ORDER BY 1").fetchall())


def invoice_currencies(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [
        r[0]
        for r in con.execute(
            """SELECT currency FROM (SELECT currency FROM contracts UNION SELECT currency FROM invoices)
           ORDER BY 1"""
        ).fetchall()
    ]


def contracts_in_scope(con: duckdb.DuckDBPyConnection, period_date: dt.date, scope: Scope = EVERYTHING) -> int:
    """Contracts a bill run of `period_date` with this scope will rate, counted before it runs (the run's
    own definition, `targets.active_contracts_sql`)."""
    return count_active_contracts(con, period_date, scope)


def usage_date_range(con: duckdb.DuckDBPyConnection) -> tuple[dt.date | None, dt.date | None]:
    """First and last usage date in the store (a sensible default period for runs and previews)."""
    lo, hi = con.execute("SELECT min(usage_date), max(usage_date) FROM usage").fetchone()
    return lo, hi


# --- cycles and invoices of one contract --------------------------------------------------------


def contract_invoices(con: duckdb.DuckDBPyConnection, contract_id: str) -> list[dict]:
    """Every invoice of a contract (void ones too), oldest cycle first, to mark on its timeline."""
    return rows_as_dicts(
        con.execute(
            f"""SELECT i.invoice_id, i.number, {invoice_number_sql("i", "bz")} AS invoice_number, i.status, i.currency,
                  i.period_start, i.period_end, i.total_minor, i.total_paid_minor, i.created_at, i.void_reason
           FROM invoices i {businesses_join("i", "bz")}
           WHERE i.contract_id = ? ORDER BY i.period_start, i.created_at""",  # noqa: S608 (the engine's own SQL; values bound)
            [contract_id],
        )
    )


def pending_usage_by_cycle(
    con: duckdb.DuckDBPyConnection, contract_id: str, spans: list[tuple[dt.date, dt.date]]
) -> dict[dt.date, int]:
    """Pending (never billed) usage rows of a contract per cycle (start, end), keyed by the start."""
    if not spans:
        return {}
    rows = con.execute(
        """WITH c AS (SELECT unnest(?::DATE[]) AS s, unnest(?::DATE[]) AS e)
           SELECT c.s, count(u.usage_id) FROM c
           JOIN usage u ON u.contract_id = ? AND u.status = 'pending' AND u.usage_date BETWEEN c.s AND c.e
           GROUP BY c.s""",
        [[s for s, _ in spans], [e for _, e in spans], contract_id],
    ).fetchall()
    return {s: int(n) for s, n in rows}


def invoice_payments(con: duckdb.DuckDBPyConnection, invoice_id: str) -> list[dict]:
    return rows_as_dicts(
        con.execute(
            """SELECT p.payment_id, p.paid_at, p.method, p.amount_minor, i.currency
           FROM payments p JOIN invoices i USING (invoice_id) WHERE p.invoice_id = ? ORDER BY p.paid_at""",
            [invoice_id],
        )
    )


# --- bill runs ----------------------------------------------------------------------------------


def run_totals_by_product(con: duckdb.DuckDBPyConnection, run_id: str) -> list[dict]:
    """Invoice-line amounts of a run's invoices per currency and product (true-ups and delayed
    charges under their kind), in minor units."""
    return rows_as_dicts(
        con.execute(
            """SELECT i.currency,
                  coalesce(l.product, CASE l.kind WHEN 'minimum_commitment_true_up' THEN 'min. commitment'
                                             ELSE replace(l.kind, '_', ' ') END) AS product,
                  count(*) AS lines, sum(l.amount_minor)::BIGINT AS amount_minor
           FROM invoices i JOIN invoice_lines l USING (invoice_id)
           WHERE i.run_id = ?
           GROUP BY ALL ORDER BY 1, amount_minor DESC, 2""",
            [run_id],
        )
    )


def run_outcomes(
    con: duckdb.DuckDBPyConnection, run_id: str, outcome: str | None = None, limit: int = 500
) -> list[dict]:
    """Per-contract outcomes of a run (drafted / existing / nothing_to_bill / failed), first `limit`, with
    the customer and, when the contract has one, its invoice as stored now (number, status, total)."""
    return rows_as_dicts(
        con.execute(
            f"""SELECT b.contract_id, k.customer_id, cu.name AS customer_name, b.outcome, b.invoice_id, b.reason,
                      i.number, {invoice_number_sql("i", "bz")} AS invoice_number, i.status, i.currency, i.total_minor
               FROM bill_run_items b
               LEFT JOIN contracts k USING (contract_id)
               LEFT JOIN customers cu ON cu.customer_id = k.customer_id
               LEFT JOIN invoices i ON i.invoice_id = b.invoice_id
               {businesses_join("i", "bz")}
               WHERE b.run_id = ? AND (?::VARCHAR IS NULL OR b.outcome = ?) ORDER BY b.contract_id LIMIT ?""",  # noqa: S608 (the engine's own SQL; values bound)
            [run_id, outcome, outcome, int(limit)],
        )
    )


# --- review --------------------------------------------------------------------------------------


def review_version(con: duckdb.DuckDBPyConnection) -> tuple:
    """What the review of any scope depends on that changes without a new run: every invoice change is an
    audit event, every threshold change stamps updated_at. Part of the cached review's key, so a change
    made by another session (or a write that forgot to clear the cache) is never shown stale."""
    return con.execute(
        """SELECT (SELECT max(event_id) FROM invoice_events), (SELECT count(*) FROM invoice_events),
                  (SELECT max(updated_at)::VARCHAR FROM review_thresholds),
                  (SELECT count(*) FROM invoices), (SELECT count(*) FROM usage WHERE status = 'pending')"""
    ).fetchone()


def _plain_decimals(rows: list[dict]) -> list[dict]:
    """Decimals as written by a person: 10.000000 -> 10, 0.500000000000 -> 0.5."""
    return [{k: plain(v) if isinstance(v, Decimal) else v for k, v in row.items()} for row in rows]


def loaded_taxes(con: duckdb.DuckDBPyConnection, business_id: str | None) -> list[dict]:
    """The taxes loaded (spec section 11), of one business or all: code, name, rate, business, and how many
    customers and order lines name the code."""
    uses = "(SELECT count(*) FROM {t} x WHERE list_contains(string_split(x.tax_codes, ';'), t.tax_code))"
    return _plain_decimals(
        rows_as_dicts(
            con.execute(
                f"""SELECT t.tax_code, t.name, t.rate, t.business_id,
                           {uses.format(t="customers")} AS customers, {uses.format(t="order_lines")} AS order_lines
                    FROM taxes t WHERE ?::VARCHAR IS NULL OR t.business_id = ?
                    ORDER BY t.business_id, t.tax_code""",  # noqa: S608 (the engine's own table names)
                [business_id, business_id],
            )
        )
    )


def loaded_coupons(con: duckdb.DuckDBPyConnection, business_id: str | None) -> list[dict]:
    """The coupons loaded (spec section 11), of one business or all, with the contracts they are applied to."""
    return _plain_decimals(
        rows_as_dicts(
            con.execute(
                """SELECT c.coupon_id, c.name, c.business_id, c.kind, c.amount, c.currency, c.percent, c.frequency,
                          c.periods, c.products,
                          (SELECT count(*) FROM applied_coupons a WHERE a.coupon_id = c.coupon_id) AS applied
                   FROM coupons c WHERE ?::VARCHAR IS NULL OR c.business_id = ?
                   ORDER BY c.business_id, c.coupon_id""",
                [business_id, business_id],
            )
        )
    )


def data_version(con: duckdb.DuckDBPyConnection) -> tuple:
    """What changes with any write, by anyone (the workbench, the API, the CLI beside a server): the workbench
    reads it on every rerun and drops its cached reads when it changed. Counts and maxima only (metadata)."""
    return con.execute(
        """SELECT (SELECT max(event_id) FROM invoice_events), (SELECT count(*) FROM invoices),
                  (SELECT count(*) FROM invoice_lines), (SELECT count(*) FROM payments),
                  (SELECT count(*) FROM bill_runs), (SELECT max(finished_at)::VARCHAR FROM bill_runs),
                  (SELECT count(*) FROM customers), (SELECT count(*) FROM contracts),
                  (SELECT count(*) FROM order_lines), (SELECT count(*) FROM usage),
                  (SELECT count(*) FROM usage WHERE status = 'pending'), (SELECT count(*) FROM delayed_charges),
                  (SELECT count(*) FROM delayed_charge_sweeps), (SELECT count(*) FROM api_tokens),
                  (SELECT max(revoked_at)::VARCHAR FROM api_tokens), (SELECT count(*) FROM scenarios),
                  (SELECT max(saved_at)::VARCHAR FROM scenarios),
                  (SELECT max(updated_at)::VARCHAR FROM review_thresholds),
                  (SELECT count(*) FROM taxes), (SELECT count(*) FROM coupons),
                  (SELECT count(*) FROM applied_coupons), (SELECT count(*) FROM businesses)"""
    ).fetchone()


def invoice_number_ranges(con: duckdb.DuckDBPyConnection, invoice_ids: list[str]) -> list[dict]:
    """Per business, how many of these invoices have a number, and the lowest and highest invoice number as the
    customer sees it (N-2026-000001)."""
    number = invoice_number_sql("i", "bz")
    return rows_as_dicts(
        con.execute(
            f"""SELECT i.business_id, count(i.number) AS numbered, arg_min({number}, i.number) AS first,
                      arg_max({number}, i.number) AS last
               FROM invoices i {businesses_join("i", "bz")}
               WHERE i.invoice_id IN (SELECT unnest(?::VARCHAR[])) GROUP BY i.business_id ORDER BY 1""",  # noqa: S608 (the engine's own SQL; values bound)
            [list(invoice_ids)],
        )
    )
