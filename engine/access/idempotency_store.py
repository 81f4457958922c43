"""The stored answers of requests sent with an Idempotency-Key (table api_idempotency, schema v4), per business.

    claim     the first request with key K writes a claim row (status 0) with its request's hash
    store     its answer, once it has one (any but a 5xx)
    drop      its claim, when it got no answer worth keeping (a 5xx, a crash)

The claim is a primary-key row written before the request runs, so concurrent retries cannot both run.
`store_in` writes the answer in the caller's transaction, so the effect of a request and its stored answer are
one transaction (a crash leaves both or neither).
"""

from __future__ import annotations

import datetime as dt

import duckdb

from ..db import retry_on_conflict

PENDING = 0  # status_code of a claim whose request is still running


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def drop_unfinished(con: duckdb.DuckDBPyConnection) -> int:
    """At a server's start: claims of requests that never finished (the server stopped mid-request)."""
    return len(con.execute("DELETE FROM api_idempotency WHERE status_code = ? RETURNING key", [PENDING]).fetchall())


def claim(con: duckdb.DuckDBPyConnection, business: str, key: str, method: str, path: str, digest: str) -> tuple | None:
    """Claim the key (None), or the existing row (request_hash, status_code, response_body)."""

    def work(c: duckdb.DuckDBPyConnection):
        row = c.execute(
            "SELECT request_hash, status_code, response_body FROM api_idempotency WHERE business_id = ? AND key = ?",
            [business, key],
        ).fetchone()
        if row is not None:
            return row
        c.execute(
            """INSERT INTO api_idempotency (business_id, key, method, path, request_hash, status_code,
                   response_body, created_at) VALUES (?, ?, ?, ?, ?, ?, '', ?)""",
            [business, key, method, path, digest, PENDING, _utcnow()],
        )
        return None

    return retry_on_conflict(con, work)


def store_in(c: duckdb.DuckDBPyConnection, business: str, key: str, status: int, body: str) -> None:
    """The answer of a claimed key, in the caller's transaction."""
    c.execute(
        """UPDATE api_idempotency SET status_code = ?, response_body = ?
           WHERE business_id = ? AND key = ? AND status_code = ?""",
        [status, body, business, key, PENDING],
    )


def store(con: duckdb.DuckDBPyConnection, business: str, key: str, status: int, body: str) -> None:
    retry_on_conflict(
        con,
        lambda c: c.execute(
            "UPDATE api_idempotency SET status_code = ?, response_body = ? WHERE business_id = ? AND key = ?",
            [status, body, business, key],
        ),
    )


def forget_invoice_in(c: duckdb.DuckDBPyConnection, path: str, invoice_id: str) -> int:
    """In the caller's transaction: the kept answers at `path` that created invoice `invoice_id` (an answer of
    engine/service/idempotency.py: the invoice under `invoice`), when the invoice is deleted, so its key may
    create a new one (docs/RULES.md)."""
    rows = c.execute(
        """DELETE FROM api_idempotency WHERE path = ? AND status_code BETWEEN 200 AND 299
               AND json_extract_string(response_body, '$.invoice.invoice_id') = ? RETURNING key""",
        [path, invoice_id],
    ).fetchall()
    return len(rows)


def drop(con: duckdb.DuckDBPyConnection, business: str, key: str) -> None:
    retry_on_conflict(
        con, lambda c: c.execute("DELETE FROM api_idempotency WHERE business_id = ? AND key = ?", [business, key])
    )
