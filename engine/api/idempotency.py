"""Idempotency-Key on every POST (spec section 9): the HTTP side of the one rule of engine/service/idempotency.py
(the same claim, comparison, errors and table, per business, shared with the CLI and MCP).

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

POST /api/v1/invoices (create invoice) is keyed by the service itself (`service_keyed`): the route hands the key
to `invoices.create_once`, which compares the parsed request and keeps the invoice in the front-end-neutral form
the CLI's `--idempotency-key` and MCP's `idempotency_key` use, so one key is one invoice whichever front end
retries; the invoice and its kept answer are one transaction.

Across a crash: a claim left by a server that stopped mid-request is dropped at the next start
(`access.drop_unfinished_claims`), so the retry runs. That is exact where the effect and the stored response are
one transaction (create invoice; `recorder`: POST /api/v1/invoices/{id}/payments and
POST /api/v1/invoices/{id}/credit-notes): after a crash both exist (the retry replays) or neither (the retry runs
once). Generate, bill runs and the review and lifecycle actions are idempotent in the engine (one invoice per
cycle, a run resumes, a state change applies once). POST /api/v1/invoices/batch commits each item on its own, so
a crash in the middle of a batch leaves the items already committed; a retry with the same key creates them again.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.routing import APIRoute
from pydantic import BaseModel

from ..service import BillsimError, idempotency
from ..service.access import answer_recorder
from ..service.invoices import Record
from .auth import caller_from_headers
from .errors import ApiError, known_error_response

HEADER = "idempotency-key"
REPLAYED = "Idempotent-Replayed"
WAIT_SECONDS = idempotency.WAIT_SECONDS


def request_hash(method: str, path: str, query: str, body: bytes) -> str:
    try:
        canonical = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode() if body else b""
    except (ValueError, UnicodeDecodeError, RecursionError):
        canonical = body
    return idempotency.digest(method, path, query, canonical)


_SERVICE_KEYED = "billsim_service_keyed"


def service_keyed(endpoint: Callable) -> Callable:
    """Mark a route whose operation takes the Idempotency-Key itself (create invoice): the route passes the header
    to the service, which claims, compares and replays (engine/service/idempotency.py)."""
    setattr(endpoint, _SERVICE_KEYED, True)
    return endpoint


def replayed_refusal(exc: idempotency.ReplayedRefusal) -> ApiError:
    """A kept refusal, answered again as the first time, marked replayed."""
    return ApiError(exc.status, exc.code, exc.message, headers={REPLAYED: "true"})


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


def _replay(answer: idempotency.Answer) -> Response:
    return Response(
        content=answer.body,
        status_code=answer.status,
        media_type="application/json",
        headers={REPLAYED: "true"},
    )


class IdempotentRoute(APIRoute):
    """A route whose POSTs honour Idempotency-Key (every router of the API uses it)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def idempotent(request: Request) -> Response:
            key = request.headers.get(HEADER)
            if request.method != "POST" or key is None or getattr(self.endpoint, _SERVICE_KEYED, False):
                return await handler(request)
            idempotency.check_key(key)
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
                found = await run_in_threadpool(
                    idempotency.claim_or_answer, app, business, key, request.method, request.url.path, digest
                )
                if found is None:
                    break
                if isinstance(found, idempotency.Answer):
                    return _replay(found)
                if asyncio.get_running_loop().time() > deadline:
                    raise idempotency.in_progress()
                await asyncio.sleep(idempotency.POLL_SECONDS)
            setattr(request.state, _CLAIM, (business, key))
            try:
                response = await handler(request)
            except Exception as exc:
                # an expected error is an answer like any other and is kept; an unexpected one is not
                response = known_error_response(exc)
                if response is None:
                    await run_in_threadpool(idempotency.drop, app, business, key)
                    raise
            if getattr(request.state, _CLAIM + "_stored", False) and response.status_code < 300:
                return response  # stored with the effect, in its transaction
            if response.status_code >= 500 or response.status_code == 422 or not hasattr(response, "body"):
                # a 422 is a body that did not match the operation's schema: nothing ran, so (as Stripe does) nothing
                # is kept, and the corrected request may be sent again under the same key
                await run_in_threadpool(idempotency.drop, app, business, key)
            else:
                await run_in_threadpool(
                    idempotency.keep, app, business, key, response.status_code, bytes(response.body).decode()
                )
            return response

        return idempotent
