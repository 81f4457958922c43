"""Who may call: API tokens (created, listed and revoked by a local user), the ONE place a presented token is
turned into a Caller, and the stored answers of requests sent with an Idempotency-Key.

    Authorization: Bearer <token>   +  x-business-id: <business>     every path
    x-api-key: <token>              +  organisation: <business>      also on the Zenskar paths

No token, or one that is unknown or revoked: unauthorized (401). A valid token with another business (or
with none named): forbidden (403). The token's name is the actor of every change (the audit trail).
"""

from __future__ import annotations

from collections.abc import Mapping

from ..access import idempotency_store
from ..access.tokens import create_token, list_tokens, revoke_token, token_identity
from ..billing.ownership import business_exists
from ..errors import ForbiddenError, UnauthorizedError
from .application import Billsim
from .caller import Caller
from .invoices import Record
from .requests import Id, Request, parse
from .session import Session


def authenticate(
    app: Billsim,
    *,
    token: str | None,
    business_id: str | None,
    actor_prefix: str = "",
    what: str = "Authorization: Bearer <token>",
    business_header: str = "x-business-id",
) -> Caller:
    """The caller a presented token stands for (its business; its name as the actor), or Unauthorized /
    Forbidden. `business_id` is the business the request names; it must be the token's."""
    if not token:
        raise UnauthorizedError(f"authentication required: send {what} (create one with `billsim token create`)")
    with app.database.cursor() as cur:
        identity = token_identity(cur, token)
    if identity is None:
        raise UnauthorizedError("the token is unknown or revoked")
    if not business_id:
        raise ForbiddenError(f"send the {business_header} header naming the token's business")
    if business_id != identity["business_id"]:
        raise ForbiddenError(f"this token does not belong to business {business_id[:100]!r}")
    return Caller.of_business(identity["business_id"], f"{actor_prefix}{identity['name']}")


ZENSKAR_PREFIXES = ("/invoices/", "/contracts/")


def is_zenskar_path(path: str) -> bool:
    return path.startswith(ZENSKAR_PREFIXES)


def caller_from_headers(app: Billsim, headers: Mapping[str, str], path: str, *, actor_prefix: str = "") -> Caller:
    """The caller of an HTTP request from its headers (the HTTP API's routes and /mcp alike): Unauthorized (401)
    or Forbidden (403) when it is not one. The Zenskar paths also take x-api-key and organisation."""
    scheme, _, value = headers.get("authorization", "").partition(" ")
    token = value.strip() if scheme.lower() == "bearer" else None
    business = headers.get("x-business-id")
    zenskar = is_zenskar_path(path)
    if zenskar:
        token = token or headers.get("x-api-key")
        business = business or headers.get("organisation")
    what = "Authorization: Bearer <token>" + (" or x-api-key: <token>" if zenskar else "")
    # the header the caller is told to send goes with the credentials it sent (Zenskar's: x-api-key + organisation)
    named = "organisation" if zenskar and scheme.lower() != "bearer" and headers.get("x-api-key") else "x-business-id"
    return authenticate(
        app, token=token, business_id=business, actor_prefix=actor_prefix, what=what, business_header=named
    )


class TokenRequest(Request):
    business_id: Id
    name: Id


def create(s: Session, business_id: str, name: str) -> dict:
    """A new token of `business_id` named `name` (unique): {name, business_id, token, note[, warning]}. The token
    is shown this once; only its hash is stored."""
    if not s.caller.every_business:
        raise ForbiddenError("tokens are made on the server's machine (billsim token create), not with a token")
    parse(TokenRequest, {"business_id": business_id, "name": name})
    with s.cursor() as cur:
        token = create_token(cur, business_id, name)
        known = business_exists(cur, business_id)
    out = {"name": name, "business_id": business_id, "token": token}
    out["note"] = "shown once: copy it now; only its hash is stored"
    if not known:
        out["warning"] = f"business {business_id!r} has no customers in this database (yet)"
    return out


def tokens(s: Session) -> list[dict]:
    """Every token: name, business, created, revoked (never the token or its hash)."""
    if not s.caller.every_business:
        raise ForbiddenError("tokens are listed on the server's machine (billsim token list)")
    with s.cursor() as cur:
        return list_tokens(cur)


def revoke(s: Session, name: str) -> dict:
    """Revoke a token by name: it stops working on the next request."""
    if not s.caller.every_business:
        raise ForbiddenError("tokens are revoked on the server's machine (billsim token revoke)")
    with s.cursor() as cur:
        return revoke_token(cur, name)


def business_known(app: Billsim, business_id: str) -> bool:
    """A business is known by its customers."""
    with app.database.cursor() as cur:
        return business_exists(cur, business_id)


# --- Idempotency-Key: the stored answers, per business (the rule: service/idempotency.py) --------------------


def drop_unfinished_claims(app: Billsim) -> int:
    with app.database.cursor() as cur:
        return idempotency_store.drop_unfinished(cur)


def answer_recorder(business: str, key: str, status: int, body_of) -> Record:
    """A `record` for lifecycle.pay / credit_notes.create: stores the answer `body_of(detail)` with `status` for the
    claimed key in the operation's own transaction."""

    def record(cur, detail) -> None:
        idempotency_store.store_in(cur, business, key, status, body_of(detail))

    return record
