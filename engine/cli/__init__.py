"""`billsim` command line (also `python -m engine`). Every command goes through the engine's API.

Errors are one line on stderr and a non-zero exit (2 for bad input, 3 for a busy database, 4 for a
database or file that cannot be read or written); a refused import lists every problem, one
`file:line column: reason` per line.

By area: `common` (argument types, opening and releasing the database, JSON output, progress bar),
`ledger`, `review`, `whatif`, `spark` and `service`, each with its commands and their subparsers.
"""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

from ..service import Billsim, BillsimError, DatabaseBusyError, StorageError
from . import ledger, review, service, spark, whatif
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


def main(
    argv: list[str] | None = None,
    *,
    app: Billsim | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    tty: bool | None = None,
) -> int:
    """Run one command; returns its exit code. `app`: a server's application to work on (else the command opens
    the database itself); `stdout`/`stderr`: where its output goes (default the process's)."""
    args = build_parser().parse_args(argv)
    ctx = Context(args, stdout=stdout or sys.stdout, stderr=stderr or sys.stderr, tty=tty, given=app)
    try:
        return args.func(args, ctx)
    except DatabaseBusyError as exc:
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
