"""What every router shares: the idempotent route class, the documented error answers, a PDF answer."""

from __future__ import annotations

from fastapi import APIRouter, Response

from ..idempotency import IdempotentRoute
from ..schemas import ErrorResponse

_ERRORS = {
    400: "Bad Request - Invalid input",
    401: "Unauthorized - Authentication required",
    403: "Forbidden - Insufficient permissions",
    404: "Not Found - Resource does not exist",
    409: "Conflict - the resource's state, or an Idempotency-Key used for another request",
    503: "The database is busy; retry",
}


def error_responses(*statuses: int) -> dict:
    return {s: {"model": ErrorResponse, "description": _ERRORS[s]} for s in statuses}


def router(tag: str) -> APIRouter:
    return APIRouter(route_class=IdempotentRoute, tags=[tag], responses=error_responses(400, 401, 403, 404, 409, 503))


def pdf_response(pdf: bytes, name: str) -> Response:
    """A document's PDF, shown inline by a browser, saved as `name`.pdf."""
    return Response(
        pdf, media_type="application/pdf", headers={"Content-Disposition": f'inline; filename="{name}.pdf"'}
    )
