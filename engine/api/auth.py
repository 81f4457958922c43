"""Who is calling, for which business (spec section 9): the ONE place a request's credentials are read.

    Authorization: Bearer <token>   +  x-business-id: <business>     every path
    x-api-key: <token>              +  organisation: <business>      also on the Zenskar paths

No token, or one that is unknown or revoked: 401. A valid token with another business (or with none
named): 403. The token's name is the actor of every change the request makes (the audit trail).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import duckdb
from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from .db_session import cursor
from .errors import ApiError
from .tokens import token_hash

# Declared as security schemes (OpenAPI shows them; /docs has an Authorize button); never auto-refused
# here, so the answers below are the spec's and not FastAPI's defaults.
bearer = HTTPBearer(auto_error=False, description="Authorization: Bearer <token> (billsim token create)")
business_header = APIKeyHeader(name="x-business-id", auto_error=False, description="the token's business")
api_key_header = APIKeyHeader(name="x-api-key", auto_error=False, description="Zenskar paths: the token")
organisation_header = APIKeyHeader(name="organisation", auto_error=False, description="Zenskar paths: the business")

ZENSKAR_PREFIXES = ("/invoices/", "/contracts/")


@dataclass(frozen=True)
class Principal:
    business_id: str
    token_name: str


def _unauthorized(message: str) -> ApiError:
    return ApiError(401, "unauthorized", message, {"WWW-Authenticate": "Bearer"})


def authenticate(
    con: duckdb.DuckDBPyConnection,
    *,
    bearer_token: str | None,
    business_id: str | None,
    api_key: str | None = None,
    organisation: str | None = None,
    zenskar: bool = False,
) -> Principal:
    """The caller's business and token name, or ApiError 401/403. Zenskar paths also take x-api-key
    and organisation (each used where its Bearer/x-business-id counterpart is absent)."""
    token = bearer_token or (api_key if zenskar else None)
    business = business_id or (organisation if zenskar else None)
    if not token:
        how = "Authorization: Bearer <token>" + (" or x-api-key: <token>" if zenskar else "")
        raise _unauthorized(f"authentication required: send {how} (create one with `billsim token create`)")
    row = con.execute(
        "SELECT name, business_id FROM api_tokens WHERE token_hash = ? AND revoked_at IS NULL", [token_hash(token)]
    ).fetchone()
    if row is None:
        raise _unauthorized("the token is unknown or revoked")
    name, token_business = row
    if not business:
        header = "x-business-id" + (" (or organisation)" if zenskar else "")
        raise ApiError(403, "forbidden", f"send the {header} header naming the token's business")
    if business != token_business:
        raise ApiError(403, "forbidden", f"this token does not belong to business {business[:100]!r}")
    return Principal(business_id=token_business, token_name=name)


def is_zenskar_path(path: str) -> bool:
    return path.startswith(ZENSKAR_PREFIXES)


def principal(
    request: Request,
    con: Annotated[duckdb.DuckDBPyConnection, Depends(cursor)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    business_id: Annotated[str | None, Depends(business_header)],
    api_key: Annotated[str | None, Depends(api_key_header)],
    organisation: Annotated[str | None, Depends(organisation_header)],
) -> Principal:
    """The dependency every route takes: resolves the caller or answers 401/403."""
    return authenticate(
        con,
        bearer_token=credentials.credentials if credentials else None,
        business_id=business_id,
        api_key=api_key,
        organisation=organisation,
        zenskar=is_zenskar_path(request.url.path),
    )


def principal_from_headers(con: duckdb.DuckDBPyConnection, request: Request) -> Principal:
    """The same resolution from raw headers (for the idempotency layer, which runs around the route)."""
    auth = request.headers.get("authorization", "")
    scheme, _, value = auth.partition(" ")
    return authenticate(
        con,
        bearer_token=value.strip() if scheme.lower() == "bearer" else None,
        business_id=request.headers.get("x-business-id"),
        api_key=request.headers.get("x-api-key"),
        organisation=request.headers.get("organisation"),
        zenskar=is_zenskar_path(request.url.path),
    )


Caller = Annotated[Principal, Depends(principal)]
Db = Annotated[duckdb.DuckDBPyConnection, Depends(cursor)]
