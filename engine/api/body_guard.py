"""Every request body is read whole, bounded, and checked before a route sees it (hostile input is normal input):

    more than REQUEST_BODY_MAX bytes                     413 request_too_large
    JSON with NaN, Infinity or -Infinity                 400 invalid_json   (not JSON; Python's parser takes them)
    JSON text with an unpaired surrogate ("\\ud800")      400 invalid_json   (not storable text)
    JSON nested deeper than Python can read              400 invalid_json

Anything else malformed is the route's 422. Over /mcp the same checks hold (it is served by the same app).
"""

from __future__ import annotations

import json

from starlette.datastructures import Headers
from starlette.responses import JSONResponse

from ..service.limits import REQUEST_BODY_MAX

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


def check_json(body: bytes) -> str | None:
    """Why `body` (sent as JSON) is refused before any route reads it; None when it is JSON a route may read
    (or not JSON at all: the route answers that with its 422)."""
    try:
        parsed = json.loads(body, parse_constant=_reject_constant)
    except RecursionError:
        return f"nested deeper than {_MAX_DEPTH} levels"
    except ValueError as exc:
        if "is not a JSON number" in str(exc):
            return str(exc)
        return None  # not JSON: the route's own 422
    return _bad_text(parsed)


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
            why = check_json(body)
            if why:
                await _refuse(400, "invalid_json", f"the request body is not acceptable JSON: {why}")(
                    scope, receive, send
                )
                return
        sent = False

        async def replay():
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
