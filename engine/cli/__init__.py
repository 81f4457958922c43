"""`billsim` command line (also `python -m engine`). Every command goes through the engine's API.

Errors are one line on stderr and a non-zero exit (2 for bad input, 3 for a busy database, 4 for a
database or file that cannot be read or written); a refused import lists every problem, one
`file:line column: reason` per line.

By area: `common` (argument types, opening and releasing the database, JSON output, progress bar),
`ledger`, `review`, `credit`, `whatif`, `spark` and `service`, each with its commands and their subparsers.
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import TextIO

from ..server.client import run_cli as run_remote
from ..server.lock import running_server
from ..service import Billsim, BillsimError, BusyError, Caller, StorageError
from ..service.application import default_path
from . import credit, ledger, review, service, spark, whatif
from .common import Context, _Parser, _seconds

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="billsim", description="Billing-simulation workbench engine")
    p.add_argument("--db", help="database file (default: $BILLSIM_DB or data/workbench.duckdb)")
    p.add_argument(
        "--wait",
        type=_seconds,
        default=0.0,
        metavar="SECONDS",
        help="wait this long for a database another process holds (default: fail at once)",
    )
    p.add_argument("--actor", default=None, help="who acts, for the audit trail (default: the OS user)")
    sub = p.add_subparsers(dest="command", required=True)

    # the order of `billsim --help`
    ledger.add_parsers(sub)  # init … pay
    review.add_parsers(sub)  # approve, review, thresholds, hold, release
    ledger.add_record_parsers(sub)  # audit, render
    credit.add_parsers(sub)  # credit-note create|estimate|list|render, balances
    whatif.add_parsers(sub)  # simulate
    spark.add_parsers(sub)  # export-inputs, spark-run, import-drafts, spark-simulate
    service.add_parsers(sub)  # serve, token, mcp, generate, create, batch
    ledger.add_redraft_parser(sub)  # redraft
    # --actor is accepted after the command too (`billsim approve INV --actor NAME`); SUPPRESS keeps a
    # global `billsim --actor NAME approve INV` when the command does not repeat it.
    for command in sub.choices.values():
        if not any("--actor" in a.option_strings for a in command._actions):
            command.add_argument("--actor", default=argparse.SUPPRESS, help="who acts (default: the OS user)")
    return p


# Commands that never open the database: run here even while a server holds it (`serve` is refused by the
# server's lock, naming it; `mcp` has the server carry out each tool call: engine/mcp/stdio.py).
_QUIET = logging.getLogger("billsim")  # the engine's loggers (billsim.engine, billsim.service, …)
LOCAL_COMMANDS = frozenset({"demo", "spark-run", "spark-simulate", "serve", "mcp"})


def main(
    argv: list[str] | None = None,
    *,
    app: Billsim | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    tty: bool | None = None,
    cwd: str | None = None,
) -> int:
    """Run one command; returns its exit code. `app`: a server's application to work on (else the command opens
    the database itself, or, while `billsim serve` holds it, has that server carry it out); `stdout`/`stderr`:
    where its output goes (default the process's); `cwd`: where relative paths are (the client's, in a server)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    out, err = stdout or sys.stdout, stderr or sys.stderr
    if app is None and args.command not in ("serve", "mcp"):
        # a command of its own process says a refusal once, as `billsim: …` (below); the engine's log of it went to
        # stderr as well, a second line. A server's log (serve, or a command it carries out: `app`) is left alone.
        _QUIET.setLevel(logging.CRITICAL)
    if app is None and args.command not in LOCAL_COMMANDS:
        server = running_server(args.db or default_path())
        if server is not None:
            return _carried_out_by(server, argv, args, out, err, tty)
    ctx = Context(args, stdout=out, stderr=err, tty=tty, given=app, cwd=cwd, main=main)
    try:
        return args.func(args, ctx)
    except BusyError as exc:  # the database held by another process, every printing slot taken
        ctx.print_error(str(exc))
        return 3
    except StorageError as exc:  # a database that cannot be read or written (corrupt file, disk full, …)
        ctx.print_error(str(exc))
        return 4
    except BillsimError as exc:
        ctx.print_error(str(exc))
        return 2
    except BrokenPipeError:
        return 0
    except OSError as exc:  # a folder or file that cannot be read or written
        where = f": {exc.filename}" if exc.filename else ""
        ctx.print_error(f"{exc.strerror or exc}{where}")
        return 4
    finally:
        ctx.release()


def _carried_out_by(server, argv: list[str], args, out: TextIO, err: TextIO, tty: bool | None) -> int:
    """The server that holds the database runs the command (same output, progress and exit code); the actor is
    this user, as when the command opens the file itself."""
    if getattr(args, "actor", None) is None:
        argv = ["--actor", Caller.local().actor, *argv]  # the global option: every command takes it there
    isatty = getattr(err, "isatty", None)
    try:
        return run_remote(server, argv, out, err, tty if tty is not None else bool(isatty and isatty()))
    except BrokenPipeError:  # our own reader went away (a pager, `| head`): as when the command runs here
        return 0
    except OSError as exc:
        print(
            f"billsim: the server (pid {server.pid}) holds the database but its control socket "
            f"{server.socket} does not answer: {exc.strerror or exc}",
            file=err,
        )
        return 3
