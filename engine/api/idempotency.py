"""Idempotency-Key on every POST (spec section 9), kept in the database (table api_idempotency, schema v4).

    first request with key K     claim (business, K) with the request's hash -> run it -> store the response
    same K, same request         the stored response again (header Idempotent-Replayed: true); nothing runs
    same K, another request      409 idempotency_key_reused
    same K while the first runs  wait for it (bounded), then its response; 409 idempotency_key_in_progress if it
                                 is still running

"The same request" is method, path, query and body (a JSON body compared as parsed JSON, so spacing and key
order do not matter). Keys are per business. A response of 5xx is not kept (the claim is dropped, a retry
runs again); every other response is. Because the claim is a primary-key row written before the request
runs, concurrent retries cannot both run.

Across a crash: a claim left by a server that stopped mid-request is dropped at the next start
(`drop_unfinished`), so the retry runs. That is exact where the effect and the stored response are one
transaction (`atomic_response`: POST /api/v1/invoices and POST /api/v1/invoices/{id}/payments): after a
crash both exist (the retry replays) or neither (the retry runs once). Generate, bill runs and the review
and lifecycle actions are idempotent in the engine (one invoice per cycle, a run resumes, a state change
applies once). POST /api/v1/invoices/batch commits each item on its own, so a crash in the middle of a
batch leaves the items already committed; a retry with the same key creates them again.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
from collections.abc import Callable, Coroutine
from typing import Any

import duckdb
from fastapi import Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel

from ..db import retry_on_conflict, retry_write_conflicts, transaction
from . import faults
from .auth import principal_from_headers
from .db_session import new_cursor
from .errors import ApiError, known_error_response

HEADER = "idempotency-key"
MAX_KEY = 255
PENDING = 0  # status_code of a claim whose request is still running
WAIT_SECONDS = 30.0


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def request_hash(method: str, path: str, query: str, body: bytes) -> str:
    try:
        canonical = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode() if body else b""
    except (ValueError, UnicodeDecodeError, RecursionError):
        canonical = body
    h = hashlib.sha256()
    for part in (method.encode(), path.encode(), query.encode(), canonical):
        h.update(len(part).to_bytes(8, "big"))
        h.update(part)
    return h.hexdigest()


def drop_unfinished(con: duckdb.DuckDBPyConnection) -> int:
    """At start: claims of requests that never finished (the server stopped mid-request)."""
    return (
        con.execute("DELETE FROM api_idempotency WHERE status_code = ? RETURNING key", [PENDING]).fetchall().__len__()
    )


def _claim(con, business: str, key: str, method: str, path: str, digest: str) -> tuple | None:
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


def _store(con, business: str, key: str, status: int, body: str) -> None:
    retry_on_conflict(
        con,
        lambda c: c.execute(
            "UPDATE api_idempotency SET status_code = ?, response_body = ? WHERE business_id = ? AND key = ?",
            [status, body, business, key],
        ),
    )


def _drop(con, business: str, key: str) -> None:
    retry_on_conflict(
        con, lambda c: c.execute("DELETE FROM api_idempotency WHERE business_id = ? AND key = ?", [business, key])
    )


_CLAIM = "billsim_idempotency_claim"  # request.state: (business, key) of the claim this request holds


def atomic_response(
    request: Request, con: duckdb.DuckDBPyConnection, status: int, point: str, work: Callable[[Any], BaseModel]
) -> JSONResponse:
    """`work(con)` (the engine's `*_tx` step and the response it makes) in ONE transaction with this request's
    Idempotency-Key record (if it has one), retried whole after a write conflict: a crash leaves both or neither.
    `point` names the test pause points `<point>:before_commit` / `<point>:after_commit` (faults.py)."""
    claim = getattr(request.state, _CLAIM, None)

    def attempt() -> JSONResponse:
        with transaction(con):
            response = JSONResponse(work(con).model_dump(mode="json", by_alias=True), status_code=status)
            if claim is not None:
                con.execute(
                    """UPDATE api_idempotency SET status_code = ?, response_body = ?
                       WHERE business_id = ? AND key = ? AND status_code = ?""",
                    [status, bytes(response.body).decode(), *claim, PENDING],
                )
            faults.pause(f"{point}:before_commit")
        faults.pause(f"{point}:after_commit")
        return response

    return retry_write_conflicts(attempt)


def _replay(row: tuple) -> Response:
    return Response(
        content=row[2],
        status_code=row[1],
        media_type="application/json",
        headers={"Idempotent-Replayed": "true"},
    )


class IdempotentRoute(APIRoute):
    """A route whose POSTs honour Idempotency-Key (every router of the API uses it)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def idempotent(request: Request) -> Response:
            key = request.headers.get(HEADER)
            if request.method != "POST" or key is None:
                return await handler(request)
            if not key.strip() or len(key) > MAX_KEY or not key.isprintable():
                raise ApiError(
                    400, "invalid_idempotency_key", f"Idempotency-Key must be 1–{MAX_KEY} printable characters"
                )
            con = request.app.state.con
            body = await request.body()
            digest = request_hash(request.method, request.url.path, request.url.query, body)
            cur = await run_in_threadpool(new_cursor, con)
            try:
                try:
                    who = await run_in_threadpool(principal_from_headers, cur, request)
                except ApiError:
                    return await handler(request)  # the route answers 401/403 itself; nothing is kept
                business = who.business_id
                deadline = asyncio.get_running_loop().time() + WAIT_SECONDS
                while True:
                    row = await run_in_threadpool(_claim, cur, business, key, request.method, request.url.path, digest)
                    if row is None:
                        break
                    if row[0] != digest:
                        raise ApiError(
                            409,
                            "idempotency_key_reused",
                            "this Idempotency-Key was already used for a different request; use a new key",
                        )
                    if row[1] != PENDING:
                        return _replay(row)
                    if asyncio.get_running_loop().time() > deadline:
                        raise ApiError(
                            409, "idempotency_key_in_progress", "a request with this Idempotency-Key is still running"
                        )
                    await asyncio.sleep(0.05)
                setattr(request.state, _CLAIM, (business, key))
                try:
                    response = await handler(request)
                except Exception as exc:
                    # an expected error is an answer like any other and is kept; an unexpected one is not
                    response = known_error_response(exc)
                    if response is None:
                        await run_in_threadpool(_drop, cur, business, key)
                        raise
                if response.status_code >= 500 or not hasattr(response, "body"):
                    await run_in_threadpool(_drop, cur, business, key)
                else:
                    await run_in_threadpool(
                        _store, cur, business, key, response.status_code, bytes(response.body).decode()
                    )
                return response
            finally:
                cur.close()

        return idempotent
