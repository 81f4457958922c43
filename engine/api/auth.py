"""Who is calling over HTTP: the request's credentials read in ONE place and handed to the service
(engine.service.access.authenticate), which turns them into the caller's Session.

    Authorization: Bearer <token>   +  x-business-id: <business>     every path
    x-api-key: <token>              +  organisation: <business>      also on the Zenskar paths
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from ..service import Billsim, Session
from ..service.access import caller_from_headers

# Declared as security schemes (OpenAPI shows them; /docs has an Authorize button); never auto-refused
# here, so the answers are the spec's and not FastAPI's defaults.
bearer = HTTPBearer(auto_error=False, description="Authorization: Bearer <token> (billsim token create)")
business_header = APIKeyHeader(name="x-business-id", auto_error=False, description="the token's business")
api_key_header = APIKeyHeader(name="x-api-key", auto_error=False, description="Zenskar paths: the token")
organisation_header = APIKeyHeader(name="organisation", auto_error=False, description="Zenskar paths: the business")


def session(
    request: Request,
    _credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    _business: Annotated[str | None, Depends(business_header)],
    _api_key: Annotated[str | None, Depends(api_key_header)],
    _organisation: Annotated[str | None, Depends(organisation_header)],
) -> Session:
    """The dependency every route takes: the caller's Session, or 401/403."""
    app: Billsim = request.app.state.billsim
    return app.session(caller_from_headers(app, request.headers, request.url.path))


__all__ = ["Sess", "caller_from_headers", "session"]


Sess = Annotated[Session, Depends(session)]
