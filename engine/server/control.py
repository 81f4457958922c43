"""The server's control channel: a Unix socket beside the database (mode 0600, and the peer's uid checked), through
which the command line and `billsim mcp` over stdio have the server carry out what they would do on the file
themselves, while the server holds it. No second way to the database.

One request per connection, newline-delimited JSON:

    client:  {"kind": "cli", "argv": [...], "cwd": "/client/dir", "tty": false}
    server:  {"out": "..."} / {"err": "..."} as the command writes (progress included), then {"exit": 0}

    client:  {"kind": "mcp", "business": "B", "actor": "mcp:ana", "tool": "previewInvoice", "arguments": {...}}
    server:  {"result": <the tool's CallToolResult as JSON>}

    client:  {"kind": "business", "business": "B"}          server:  {"known": true}
"""

from __future__ import annotations

import json
import logging
import os
import socket
import socketserver
import struct
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult, TextContent

from ..mcp.backends import FixedBackend
from ..mcp.tools import build_server
from ..service import Billsim, Caller
from ..service.access import business_known

log = logging.getLogger("billsim.server")

# How the server runs a command line for a client: main(argv, app=, stdout=, stderr=, tty=, cwd=) -> exit code
RunCli = Callable[..., int]
MAX_REQUEST = 1024 * 1024  # bytes of one request line


class _Lines:
    """A text stream whose writes go to the client as {"<key>": text} lines (thread-safe)."""

    def __init__(self, send: Callable[[dict], None], key: str, tty: bool) -> None:
        self._send, self._key, self._tty = send, key, tty

    def write(self, text: str) -> int:
        if text:
            self._send({self._key: text})
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return self._tty


def _peer_uid(conn: socket.socket) -> int | None:
    try:
        creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    except (OSError, AttributeError):  # not Linux: the socket file's 0600 mode is the guard
        return None
    return struct.unpack("3i", creds)[1]


class ControlServer:
    """Serves the control socket of `app` in a thread, until `close()`."""

    def __init__(self, app: Billsim, path: str | Path, run_cli: RunCli) -> None:
        self.app, self.path, self.run_cli = app, Path(path), run_cli
        self._tools: dict[tuple[str, str], Any] = {}
        self._tools_lock = threading.Lock()
        self.path.unlink(missing_ok=True)
        control = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                control._handle(self.connection, self.rfile, self.wfile)

        old = os.umask(0o177)  # the socket is created 0600: only this OS user may connect
        try:
            self._server = socketserver.ThreadingUnixStreamServer(str(self.path), Handler)
        finally:
            os.umask(old)
        os.chmod(self.path, 0o600)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="billsim-control", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self.path.unlink(missing_ok=True)

    def _handle(self, conn: socket.socket, rfile, wfile) -> None:
        lock = threading.Lock()

        def send(message: dict) -> None:
            data = (json.dumps(message) + "\n").encode()
            with lock:
                try:
                    wfile.write(data)
                    wfile.flush()
                except OSError:
                    pass  # the client went away; the work goes on to its end

        uid = _peer_uid(conn)
        if uid is not None and uid != os.getuid():
            send({"err": "billsim: the server's control socket is for its own OS user only\n", "exit": 4})
            return
        line = rfile.readline(MAX_REQUEST)
        try:
            request = json.loads(line)
        except ValueError:
            send({"err": "billsim: not a request\n", "exit": 2})
            return
        if request.get("kind") == "cli":
            self._cli(request, send)
        elif request.get("kind") == "mcp":
            send({"result": self._mcp(request)})
        elif request.get("kind") == "business":
            send({"known": business_known(self.app, str(request.get("business")))})
        else:
            send({"err": "billsim: unknown request\n", "exit": 2})

    def _cli(self, request: dict, send: Callable[[dict], None]) -> None:
        tty = bool(request.get("tty"))
        try:
            code = self.run_cli(
                list(request["argv"]),
                app=self.app,
                stdout=_Lines(send, "out", tty),
                stderr=_Lines(send, "err", tty),
                tty=tty,
                cwd=request.get("cwd"),
            )
        except SystemExit as exc:  # argparse: the client parsed the same argv first, so this is not expected
            code = exc.code if isinstance(exc.code, int) else 2
        except Exception:
            log.exception("command %r failed in the server", request.get("argv"))
            send({"err": "billsim: internal error; see the server's log\n"})
            code = 1
        send({"exit": code})

    def _mcp(self, request: dict) -> dict:
        business, actor = str(request["business"]), str(request["actor"])
        with self._tools_lock:
            key = (business, actor)
            if key not in self._tools:
                self._tools[key] = build_server(FixedBackend(self.app, Caller.of_business(business, actor)))
            server = self._tools[key]

        async def call() -> CallToolResult:
            try:
                return await server.call_tool(str(request["tool"]), dict(request.get("arguments") or {}))
            except ToolError as exc:
                return CallToolResult(content=[TextContent(type="text", text=str(exc))], is_error=True)

        try:
            result = anyio.run(call)
        except Exception:
            log.exception("MCP tool %r failed in the server", request.get("tool"))
            result = CallToolResult(content=[TextContent(type="text", text="internal error")], is_error=True)
        return result.model_dump(mode="json", by_alias=True, exclude_none=True)
