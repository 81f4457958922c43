"""The client side of the server's control socket (engine/server/control.py): a command line, or an MCP tool
call, carried out by the server that holds the database, with the same output, progress and exit code."""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Callable
from typing import Any, TextIO

from .lock import ServerInfo

CONNECT_TIMEOUT_S = 10.0


def _connect(info: ServerInfo) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(CONNECT_TIMEOUT_S)
    sock.connect(info.socket)
    sock.settimeout(None)  # the command may work long (a bill run): its output arrives as it comes
    return sock


def _exchange(info: ServerInfo, request: dict, on_message: Callable[[dict], bool]) -> None:
    """Send `request`; hand every answer line to `on_message` until it returns True (the last one)."""
    with _connect(info) as sock, sock.makefile("rwb") as stream:
        stream.write((json.dumps(request) + "\n").encode())
        stream.flush()
        for line in stream:
            if on_message(json.loads(line)):
                return
    raise ConnectionError("the server closed the control socket before answering")


def run_cli(info: ServerInfo, argv: list[str], stdout: TextIO, stderr: TextIO, tty: bool) -> int:
    """Have the server run `billsim <argv>`; its output is written here as it comes. Returns its exit code."""
    code: list[int] = []

    def on_message(message: dict) -> bool:
        if "out" in message:
            stdout.write(message["out"])
            stdout.flush()
        if "err" in message:
            stderr.write(message["err"])
            stderr.flush()
        if "exit" in message:
            code.append(int(message["exit"]))
            return True
        return False

    request = {"kind": "cli", "argv": argv, "cwd": os.getcwd(), "tty": tty}
    _exchange(info, request, on_message)
    return code[0]


def call_tool(info: ServerInfo, business: str, actor: str, tool: str, arguments: dict[str, Any]) -> dict:
    """Have the server call MCP tool `tool` for `business`; its CallToolResult as JSON."""
    result: list[dict] = []

    def on_message(message: dict) -> bool:
        result.append(message["result"])
        return True

    request = {"kind": "mcp", "business": business, "actor": actor, "tool": tool, "arguments": arguments}
    _exchange(info, request, on_message)
    return result[0]


def business_known(info: ServerInfo, business_id: str) -> bool:
    """Whether the server's database knows the business (it has customers)."""
    known: list[bool] = []

    def on_message(message: dict) -> bool:
        known.append(bool(message["known"]))
        return True

    _exchange(info, {"kind": "business", "business": business_id}, on_message)
    return known[0]
