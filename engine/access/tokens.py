"""API tokens (spec section 9): each belongs to one business, is shown once and stored only as a hash.

    token = "bsk_" + secrets.token_urlsafe(32)      (printed once by `billsim token create`)
    stored: sha256(token) as hex in api_tokens.token_hash, never the token itself

A token is found again by hashing what a caller presents; a revoked token keeps its row (name,
business, dates), so `token list` shows when it stopped working, and is never valid again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

import duckdb

from ..db import retry_on_conflict
from ..errors import NotFoundError, ValidationError
from ..limits import MAX_TOKEN_NAME

TOKEN_PREFIX = "bsk_"
_MAX_NAME = MAX_TOKEN_NAME


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def token_hash(token: str) -> str:
    """sha256 hex of the token: the only form a token is stored or compared in."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _check_text(value: str, what: str) -> str:
    text = (value or "").strip()
    if not text:
        raise ValidationError(f"a token needs a {what}")
    if len(text) > _MAX_NAME or any(ord(ch) < 32 for ch in text):
        raise ValidationError(f"token {what} {text[:40]!r} must be at most {_MAX_NAME} printable characters")
    return text


def create_token(con: duckdb.DuckDBPyConnection, business_id: str, name: str) -> str:
    """A new token for `business_id` under a unique `name`; returns the plain token (shown once)."""
    business = _check_text(business_id, "business")
    label = _check_text(name, "name")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)

    def work(c: duckdb.DuckDBPyConnection) -> None:
        if c.execute("SELECT count(*) FROM api_tokens WHERE name = ?", [label]).fetchone()[0]:
            raise ValidationError(f"a token named {label!r} already exists; choose another name or revoke it")
        c.execute(
            "INSERT INTO api_tokens (name, business_id, token_hash, created_at) VALUES (?, ?, ?, ?)",
            [label, business, token_hash(token), _utcnow()],
        )

    retry_on_conflict(con, work)
    return token


def list_tokens(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """Every token, newest first: name, business_id, created_at, revoked_at (None while valid). Never the hash."""
    rows = con.execute(
        "SELECT name, business_id, created_at, revoked_at FROM api_tokens ORDER BY created_at DESC, name"
    ).fetchall()
    return [{"name": n, "business_id": b, "created_at": c, "revoked_at": r} for n, b, c, r in rows]


def revoke_token(con: duckdb.DuckDBPyConnection, name: str) -> dict:
    """Revoke the token `name` (it stops working at once); revoking twice keeps the first revocation time."""

    def work(c: duckdb.DuckDBPyConnection) -> dict:
        row = c.execute("SELECT business_id, created_at, revoked_at FROM api_tokens WHERE name = ?", [name]).fetchone()
        if row is None:
            raise NotFoundError(f"no token named {name!r}")
        revoked_at = row[2]
        if revoked_at is None:
            revoked_at = _utcnow()
            c.execute("UPDATE api_tokens SET revoked_at = ? WHERE name = ?", [revoked_at, name])
        return {"name": name, "business_id": row[0], "created_at": row[1], "revoked_at": revoked_at}

    return retry_on_conflict(con, work)


def business_of_token(con: duckdb.DuckDBPyConnection, token: str | None) -> str | None:
    """The business a presented token belongs to; None for no token, an unknown one or a revoked one."""
    identity = token_identity(con, token)
    return identity["business_id"] if identity else None


def token_identity(con: duckdb.DuckDBPyConnection, token: str | None) -> dict | None:
    """{"name", "business_id"} of a presented token that is valid; None for no token, an unknown or a revoked one."""
    if not token:
        return None
    row = con.execute(
        "SELECT name, business_id FROM api_tokens WHERE token_hash = ? AND revoked_at IS NULL", [token_hash(token)]
    ).fetchone()
    return {"name": row[0], "business_id": row[1]} if row else None
