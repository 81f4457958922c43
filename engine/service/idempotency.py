"""The one Idempotency-Key rule (spec sections 4 and 9), for every front end that takes a key: the HTTP API's
header, `billsim create --idempotency-key`, the MCP tool createInvoice's `idempotency_key`.

    first request with key K     claim (business, K) with the request's digest -> run it -> keep its answer
    same K, same request         the kept answer again (replayed); nothing runs
    same K, another request      idempotency_key_reused (409)
    same K while the first runs  wait for it (bounded), then its answer; idempotency_key_in_progress (409) if it
                                 is still running

Keys are per business and shared by the front ends: one table (api_idempotency, engine/access/idempotency_store),
so a retry through another front end is answered by the first call's answer, never a second invoice.
A refusal of the operation (a 400, 404 or 409 error) is an answer too and is kept; a body that does not match the
operation's schema is refused before the key is claimed (nothing ran, the corrected request may use the key); an
unexpected failure drops the claim (the retry runs again).

An operation whose effect and answer must be one transaction (create invoice) stores its answer through
`record`, in its own transaction: a crash leaves both or neither. Other HTTP POSTs keep the answer after the
request (engine/api/idempotency.py), with the same claim, comparison and errors as here.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import duckdb

from ..access import idempotency_store
from ..errors import BillsimError, IdempotencyKeyError, IdempotencyKeyInProgressError, IdempotencyKeyReusedError
from .application import Billsim

MAX_KEY = 255
WAIT_SECONDS = 30.0  # how long a retry waits for the first request with its key to finish
POLL_SECONDS = 0.05
PENDING = idempotency_store.PENDING

T = TypeVar("T")


def check_key(key: str) -> str:
    if not isinstance(key, str) or not key.strip() or len(key) > MAX_KEY or not key.isprintable():
        raise IdempotencyKeyError(f"Idempotency-Key must be 1–{MAX_KEY} printable characters")
    return key


def digest(method: str, path: str, query: str, canonical: bytes) -> str:
    """What 'the same request' is: the operation's address (method, path, query) and its canonical body."""
    h = hashlib.sha256()
    for part in (method.encode(), path.encode(), query.encode(), canonical):
        h.update(len(part).to_bytes(8, "big"))
        h.update(part)
    return h.hexdigest()


def canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(frozen=True)
class Answer:
    """A kept answer: its status in HTTP's words and its body (JSON text)."""

    status: int
    body: str


IN_PROGRESS = object()  # claim_or_answer: the first request with the key is still running


def claim_or_answer(app: Billsim, business: str, key: str, method: str, path: str, request_digest: str):
    """Claim the key (None: run the request), or the kept Answer, or IN_PROGRESS; a different request under the
    key is IdempotencyKeyReusedError."""
    with app.database.cursor() as cur:
        row = idempotency_store.claim(cur, business, key, method, path, request_digest)
    if row is None:
        return None
    if row[0] != request_digest:
        raise IdempotencyKeyReusedError("this Idempotency-Key was already used for a different request; use a new key")
    if row[1] == PENDING:
        return IN_PROGRESS
    return Answer(row[1], row[2])


def in_progress() -> IdempotencyKeyInProgressError:
    return IdempotencyKeyInProgressError("a request with this Idempotency-Key is still running")


def keep(app: Billsim, business: str, key: str, status: int, body: str) -> None:
    with app.database.cursor() as cur:
        idempotency_store.store(cur, business, key, status, body)


def drop(app: Billsim, business: str, key: str) -> None:
    with app.database.cursor() as cur:
        idempotency_store.drop(cur, business, key)


def refusal_body(exc: BillsimError) -> str:
    return json.dumps({"success": False, "code": exc.code, "message": exc.message}, ensure_ascii=False)


class ReplayedRefusal(BillsimError):
    """The kept refusal of the first request with this key, raised again with its code, message and status."""

    def __init__(self, answer: Answer):
        data = json.loads(answer.body)
        super().__init__(str(data.get("message", "")), code=str(data.get("code", "billsim_error")))
        self.status = answer.status


@dataclass(frozen=True)
class Once(Generic[T]):
    """The result of an operation run under a key: `replayed` when it is the first call's kept answer."""

    value: T
    replayed: bool = False


Record = Callable[[duckdb.DuckDBPyConnection, T], None]


def run_once(
    app: Billsim,
    business: str,
    key: str,
    address: tuple[str, str],
    request: Any,
    run: Callable[[Record], T],
    *,
    status: int,
    dump: Callable[[T], str],
    load: Callable[[str], T],
) -> Once[T]:
    """Run `run(record)` once for (business, key): `record(cur, value)` keeps `dump(value)` with `status` in the
    operation's transaction. A retry with the same `request` (a JSON value: the parsed request) gets
    `load(kept)`, replayed; a kept refusal is raised again (ReplayedRefusal)."""
    check_key(key)
    method, path = address
    request_digest = digest(method, path, "", canonical_json(request))
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        found = claim_or_answer(app, business, key, method, path, request_digest)
        if found is None:
            break
        if isinstance(found, Answer):
            if found.status >= 400:
                raise ReplayedRefusal(found)
            return Once(load(found.body), replayed=True)
        if time.monotonic() > deadline:
            raise in_progress()
        time.sleep(POLL_SECONDS)

    def record(cur: duckdb.DuckDBPyConnection, value: T) -> None:
        idempotency_store.store_in(cur, business, key, status, dump(value))

    try:
        return Once(run(record))
    except BillsimError as exc:
        if exc.status >= 500:
            drop(app, business, key)
        else:
            keep(app, business, key, exc.status, refusal_body(exc))
        raise
    except BaseException:
        drop(app, business, key)
        raise
