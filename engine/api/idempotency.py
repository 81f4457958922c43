"""Idempotency-Key on every POST (spec section 9), kept in the database (table api_idempotency, schema v4).

    first request with key K     claim (business, K) with the request's hash -> run it -> store the response
    same K, same request         the stored response again (header Idempotent-Replayed: true); nothing runs
    same K, another request      409 idempotency_key_reused
    same K while the first runs  wait for it (bounded), then its response; 409 idempotency_key_in_progress if it
                                 is still running

"The same request" is method, path, query and body (a JSON body compared as parsed JSON, so spacing and key
order do not matter). Keys are per business. A response of 5xx is not kept (the claim is dropped, a retry
runs again), nor a 422 (the body did not match the operation's schema, so nothing ran: the corrected request
may use the same key); every other response is, refusals of the operation itself (400, 404, 409) included.
Because the claim is a primary-key row written before the request runs, concurrent retries cannot both run.

Across a crash: a claim left by a server that stopped mid-request is dropped at the next start
(`access.drop_unfinished_claims`), so the retry runs. That is exact where the effect and the stored response are
one transaction (`recorder`: POST /api/v1/invoices, POST /api/v1/invoices/{id}/payments and
POST /api/v1/invoices/{id}/credit-notes): after a crash both exist (the retry replays) or neither (the retry runs
once). Generate, bill runs and the review and lifecycle actions are idempotent in the engine (one invoice per
cycle, a run resumes, a state change applies once). POST /api/v1/invoices/batch commits each item on its own, so
a crash in the middle of a batch leaves the items already committed; a retry with the same key creates them again.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.routing import APIRoute
from pydantic import BaseModel

from ..service import BillsimError
from ..service.access import PENDING, answer_recorder, claim_key, drop_claim, store_answer
from ..service.invoices import Record
from .auth import caller_from_headers
from .errors import ApiError, known_error_response

HEADER = "idempotency-key"
MAX_KEY = 255
WAIT_SECONDS = 30.0


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


_CLAIM = "billsim_idempotency_claim"  # request.state: (business, key) of the claim this request holds


def recorder(request: Request, status: int, view: Callable[[Any], BaseModel]) -> Record | None:
    """For an operation that stores its answer in its own transaction (create invoice, record payment, issue a
    credit note): the `record` that writes `view(detail)` with `status` for this request's Idempotency-Key, if it
    holds one.
    The route's answer is then exactly what is stored: a crash leaves the effect and the answer, or neither."""
    claim = getattr(request.state, _CLAIM, None)
    if claim is None:
        return None
    business, key = claim

    def body_of(detail) -> str:
        data = view(detail).model_dump(mode="json", by_alias=True)
        return json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":"))

    setattr(request.state, _CLAIM + "_stored", True)
    return answer_recorder(business, key, status, body_of)


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
            app = request.app.state.billsim
            body = await request.body()
            digest = request_hash(request.method, request.url.path, request.url.query, body)
            try:
                who = await run_in_threadpool(caller_from_headers, app, request.headers, request.url.path)
            except BillsimError:
                return await handler(request)  # the route answers 401/403 itself; nothing is kept
            business = who.business_id
            deadline = asyncio.get_running_loop().time() + WAIT_SECONDS
            while True:
                row = await run_in_threadpool(claim_key, app, business, key, request.method, request.url.path, digest)
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
                    await run_in_threadpool(drop_claim, app, business, key)
                    raise
            if getattr(request.state, _CLAIM + "_stored", False) and response.status_code < 300:
                return response  # stored with the effect, in its transaction
            if response.status_code >= 500 or response.status_code == 422 or not hasattr(response, "body"):
                # a 422 is a body that did not match the operation's schema: nothing ran, so (as Stripe does) nothing
                # is kept, and the corrected request may be sent again under the same key
                await run_in_threadpool(drop_claim, app, business, key)
            else:
                await run_in_threadpool(
                    store_answer, app, business, key, response.status_code, bytes(response.body).decode()
                )
            return response

        return idempotent
