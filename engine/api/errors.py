"""Errors over HTTP (spec section 9): 422 in the seeds' HTTPValidationError shape; every other error
`{"success": false, "code", "message"}` with a stable code and the status that says what went wrong.

Engine errors (engine.errors) map by class; an error raised in a handler names its own status and code
(ApiError). Anything else is a bug: it is logged with its traceback and answered with a 500 that says
nothing about the internals (the cause is fixed, not hidden: a test fails on every 500).
"""

from __future__ import annotations

import logging

import duckdb
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import errors as engine_errors

log = logging.getLogger("billsim.api")


class ApiError(Exception):
    """An error answered as is: `status`, stable `code`, `message`."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers


def not_found(what: str, ident: str) -> ApiError:
    """The one answer for 'does not exist' and 'belongs to another business' (they must look the same)."""
    return ApiError(404, f"{what}_not_found", f"no {what.replace('_', ' ')} {ident!r}")


# Most specific class first: InvoiceNotApprovedError is an InvalidStateError, NothingToBill a BillsimError.
_ENGINE_STATUS: list[tuple[type[engine_errors.BillsimError], int, str | None]] = [
    (engine_errors.InvoiceNotApprovedError, 409, None),
    (engine_errors.InvoiceAlreadyGeneratedForThisBillingPeriod, 409, None),
    (engine_errors.InvalidStateError, 409, None),
    (engine_errors.CycleMismatchError, 400, "no_matching_cycle"),
    (engine_errors.NotFoundError, 404, None),
    (engine_errors.ValidationError, 400, None),
    (engine_errors.ScenarioError, 400, None),
    (engine_errors.DatabaseBusyError, 503, None),
    (engine_errors.BillsimError, 400, None),
]


def engine_error_status(exc: engine_errors.BillsimError) -> tuple[int, str]:
    for cls, status, code in _ENGINE_STATUS:
        if isinstance(exc, cls):
            return status, code or exc.code
    return 400, exc.code


def error_code(exc: BaseException) -> tuple[int, str, str] | None:
    """(status, code, message) of an expected error, None for any other: the ONE mapping of the HTTP API and
    the MCP tools (a tool error reads `code: message`), so a client sees the same code over either."""
    if isinstance(exc, ApiError):
        return exc.status, exc.code, exc.message
    if isinstance(exc, engine_errors.BillsimError):
        status, code = engine_error_status(exc)
        return status, code, str(exc)
    return None


def error_body(code: str, message: str) -> dict:
    return {"success": False, "code": code, "message": message}


def _json(status: int, code: str, message: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse(status_code=status, content=error_body(code, message), headers=headers)


def _loc_text(loc) -> str:
    return ".".join(str(p) for p in loc)


def validation_response(exc: RequestValidationError) -> JSONResponse:
    """The seeds' HTTPValidationError: {"detail": [{loc, msg, type, input?, ctx?}]}. Inputs are echoed back
    only as JSON can carry them (bytes of a body that is not JSON become text)."""
    detail = []
    for err in exc.errors():
        item = {"loc": list(err.get("loc", ())), "msg": err.get("msg", ""), "type": err.get("type", "")}
        if "input" in err:
            item["input"] = err["input"]
        if err.get("ctx"):
            item["ctx"] = {k: str(v) for k, v in err["ctx"].items()}
        detail.append(item)
    return JSONResponse(status_code=422, content=jsonable_encoder({"detail": detail}, custom_encoder=_ENCODERS))


def known_error_response(exc: BaseException) -> JSONResponse | None:
    """The answer to an expected error (ApiError, an engine error, a 422), else None."""
    if isinstance(exc, ApiError):
        return _json(exc.status, exc.code, exc.message, exc.headers)
    if isinstance(exc, engine_errors.BillsimError):
        status, code, message = error_code(exc)
        return _json(status, code, message, {"Retry-After": "1"} if status == 503 else None)
    if isinstance(exc, RequestValidationError):
        return validation_response(exc)
    return None


def install(app: FastAPI) -> None:
    async def _known(_request: Request, exc: Exception) -> JSONResponse:
        return known_error_response(exc)

    for cls in (ApiError, engine_errors.BillsimError, RequestValidationError):
        app.add_exception_handler(cls, _known)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, f"http_{exc.status_code}")
        message = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        return _json(exc.status_code, code, message, getattr(exc, "headers", None))

    @app.exception_handler(duckdb.Error)
    async def _database(request: Request, exc: duckdb.Error) -> JSONResponse:
        log.exception("database error on %s %s", request.method, request.url.path, exc_info=exc)
        return _json(500, "database_error", "the database could not complete the request; see the server log")

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
        return _json(500, "internal_error", "internal error; see the server log")


_ENCODERS = {bytes: lambda b: b.decode("utf-8", "replace")}
