"""Every request body is read whole, bounded, and checked before a route sees it (hostile input is normal input):

    more than REQUEST_BODY_MAX bytes                     413 request_too_large
    not valid JSON: malformed, NaN / Infinity (which     422 validation_error, the seeds' HTTPValidationError
    Python's parser takes), a text with an unpaired          with one `detail` of type `json_invalid`, as FastAPI
    surrogate ("\\ud800"), nested deeper than 64 levels     (the seeds' own servers) answers a malformed body

ONE rule for "the body is not valid JSON", answered here for every path (the API's routes and /mcp, served by the
same app): a route never sees such a body, so no route answers it otherwise. Each path answers it in its own
protocol: the API's routes the 422 above; /mcp, whose clients speak JSON-RPC, the JSON-RPC parse error an MCP
client expects, as the MCP SDK's streamable HTTP transport answers one (400, `{"jsonrpc": "2.0", "id": null,
"error": {"code": -32700, "message": "Parse error: …"}}`).
"""

from __future__ import annotations

import json

from fastapi.exceptions import RequestValidationError
from mcp.types import PARSE_ERROR
from starlette.datastructures import Headers
from starlette.responses import JSONResponse

from ..mcp.http import MCP_PATH
from ..service.limits import REQUEST_BODY_MAX
from .errors import validation_response

_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
_MAX_DEPTH = 64


def _refuse(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"success": False, "code": code, "message": message}, status_code=status)


def _reject_constant(name: str):
    raise ValueError(f"{name} is not a JSON number")


def _bad_text(value, depth: int = 0) -> str | None:
    """Why the parsed JSON `value` cannot be stored (None: it can)."""
    if depth > _MAX_DEPTH:
        return f"nested deeper than {_MAX_DEPTH} levels"
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "a text holds an unpaired surrogate (not a character)"
        return None
    if isinstance(value, dict):
        for k, v in value.items():
            why = _bad_text(k, depth + 1) or _bad_text(v, depth + 1)
            if why:
                return why
    elif isinstance(value, list):
        for v in value:
            why = _bad_text(v, depth + 1)
            if why:
                return why
    return None


def check_json(body: bytes) -> tuple[int | None, str] | None:
    """Why `body` (sent as JSON) is not valid JSON, as (the character where it went wrong, when known; the reason);
    None when it is JSON a route may read."""
    try:
        parsed = json.loads(body, parse_constant=_reject_constant)
    except RecursionError:
        return None, f"nested deeper than {_MAX_DEPTH} levels"
    except json.JSONDecodeError as exc:
        return exc.pos, exc.msg
    except ValueError as exc:  # a constant refused (NaN, Infinity), or bytes that are not UTF-8, -16 or -32 text
        return None, str(exc)
    why = _bad_text(parsed)
    return None if why is None else (None, why)


def not_json_response(position: int | None, why: str) -> JSONResponse:
    """422 `validation_error`: the seeds' HTTPValidationError, worded as every refused request is
    (`invalid request: the request body is not valid JSON (at character 1): …`)."""
    error = {
        "type": "json_invalid",
        "loc": ("body",) if position is None else ("body", position),
        "msg": "JSON decode error",
        "input": {},
        "ctx": {"error": why},
    }
    return validation_response(RequestValidationError([error]))


def not_json_rpc_response(position: int | None, why: str) -> JSONResponse:
    """400 with JSON-RPC's parse error (-32700, id null): what an MCP client expects of a body that is not JSON,
    worded as the 422's message (`Parse error: the request body is not valid JSON (at character 1): …`)."""
    where = "" if position is None else f" (at character {position})"
    error = {"code": PARSE_ERROR, "message": f"Parse error: the request body is not valid JSON{where}: {why}"}
    return JSONResponse({"jsonrpc": "2.0", "id": None, "error": error}, status_code=400)


def is_mcp(path: str) -> bool:
    return path.rstrip("/") == MCP_PATH


class BodyGuard:
    """ASGI middleware: reads the body of a request (at most REQUEST_BODY_MAX bytes), checks it, replays it."""

    def __init__(self, app, max_bytes: int = REQUEST_BODY_MAX) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["method"] not in _METHODS:
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length")
        if declared and declared.isdigit() and int(declared) > self.max_bytes:
            await _refuse(413, "request_too_large", f"a request body is at most {self.max_bytes:,} bytes")(
                scope, receive, send
            )
            return
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await _refuse(413, "request_too_large", f"a request body is at most {self.max_bytes:,} bytes")(
                    scope, receive, send
                )
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        if body:
            problem = check_json(body)
            if problem:
                answer = not_json_rpc_response if is_mcp(scope.get("path", "")) else not_json_response
                await answer(*problem)(scope, receive, send)
                return
        sent = False

        async def replay():
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
