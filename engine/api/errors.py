"""Errors over HTTP (spec section 9): 422 in the seeds' HTTPValidationError shape (plus `code` and `message`);
every other error `{"success": false, "code", "message"}` with the status the error's class names
(engine/errors.py: ONE table of codes for every front end).

Anything else is a bug: it is logged with its traceback and answered with a 500 that says nothing about the
internals (the cause is fixed, not hidden: a test fails on every 500).
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..service import BillsimError
from ..service.requests import problems_text

log = logging.getLogger("billsim.api")


class ApiError(BillsimError):
    """An error only HTTP has (an Idempotency-Key used twice, a route not found): its own status and code."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None):
        super().__init__(message, code=code)
        self.status, self.headers = status, headers


def error_body(code: str, message: str) -> dict:
    return {"success": False, "code": code, "message": message}


def _json(status: int, code: str, message: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse(status_code=status, content=error_body(code, message), headers=headers)


ECHO_MAX = 200  # characters of a location part, a message or a context value a 422 carries back


def _echo(value):
    """A location part, a message or a context value as the 422 body carries it: an integer as it is, anything else
    as text, bounded (ECHO_MAX characters) and JSON-safe (an unpaired surrogate replaced)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    return text[:ECHO_MAX].encode("utf-8", "replace").decode("utf-8")


def validation_text(errors: list[dict], body=None) -> str:
    """The problems as one line, in the words the MCP tools and the CLI use for the same input
    (engine/validation_text.py): `invalid request: line item 1: unit_price: Input should be a valid integer; …`."""
    within_body = []
    for err in errors:
        loc = list(err.get("loc", ()))
        if loc and loc[0] == "body":  # the body's fields are the request's fields, as MCP and the CLI name them
            loc = loc[1:]
        within_body.append({**err, "loc": loc})
    return "invalid request: " + (problems_text(within_body, body, limit=20) or "request")


def validation_response(exc: RequestValidationError) -> JSONResponse:
    """The seeds' HTTPValidationError: {"detail": [{loc, msg, type, ctx?}]}, with the code `validation_error` and
    the problems as one line (`message`), as every front end words them.

    Never the `input` FastAPI's default puts in each entry (optional in the seeds' schema): the value refused came
    back in the answer (200 characters of a 2,000-character text, bytes that are no text, a token or a password
    sent in the wrong field, which a client then logs with the error). `loc`, `msg` and `ctx` say what is wrong and
    where; each of their texts is bounded (ECHO_MAX)."""
    errors = list(exc.errors())
    detail = []
    for err in errors[:50]:
        item = {
            "loc": [_echo(p) for p in err.get("loc", ())],
            "msg": _echo(err.get("msg", "")),
            "type": err.get("type", ""),
        }
        if err.get("ctx"):
            item["ctx"] = {str(k): _echo(str(v)) for k, v in err["ctx"].items()}
        detail.append(item)
    body = {
        "detail": detail,
        "success": False,
        "code": "validation_error",
        "message": _echo(validation_text(errors, exc.body)),
    }
    return JSONResponse(status_code=422, content=body)


def known_error_response(exc: BaseException) -> JSONResponse | None:
    """The answer to an expected error (a refusal of the service, an HTTP-only error, a 422), else None."""
    if isinstance(exc, ApiError):
        return _json(exc.status, exc.code, exc.message, exc.headers)
    if isinstance(exc, BillsimError):
        if exc.status >= 500 and exc.status != 503:  # the server's own trouble: its text stays in the log
            log.error("server error %s: %s", exc.code, exc)
            return _json(exc.status, exc.code, "the server could not complete the request; see its log")
        headers = {"Retry-After": "1"} if exc.status == 503 else None
        if exc.status == 401:
            headers = {"WWW-Authenticate": "Bearer"}
        return _json(exc.status, exc.code, str(exc), headers)
    if isinstance(exc, RequestValidationError):
        return validation_response(exc)
    return None


def install(app: FastAPI) -> None:
    async def _known(_request: Request, exc: Exception) -> JSONResponse:
        return known_error_response(exc)

    for cls in (BillsimError, RequestValidationError):
        app.add_exception_handler(cls, _known)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, f"http_{exc.status_code}")
        message = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        return _json(exc.status_code, code, message, getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
        return _json(500, "internal_error", "internal error; see the server log")
