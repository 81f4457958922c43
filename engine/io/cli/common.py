"""What every command shares: argument types, the one-line argparse error, opening and releasing the
database, JSON output and the progress bar on stderr."""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import sys
from decimal import Decimal, InvalidOperation
from typing import NoReturn

from ...errors import DatabaseBusyError


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors as ONE line on stderr (exit 2) like every other error of the CLI."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def _amount(text: str) -> Decimal:
    """An amount as an exact Decimal; whether it is positive or has too many decimals the engine says."""
    try:
        return Decimal(text)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(
            f"not a number: {text!r} (write a plain decimal such as 12.50, without thousands separators)"
        ) from None


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"cannot be negative: {value}")
    return value


def _seconds(text: str) -> float:
    # a waiting time, not money: a float is fine here
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not value >= 0:  # also refuses nan
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}")
    return value


# Databases this command opened. They are closed before the result is written: a reader of stdout that is
# slow (a pager, a full pipe) must never keep the file from another process waiting for it.
_opened: list = []


def _release_databases() -> None:
    while _opened:
        _opened.pop().close()


def _print_json(obj) -> None:
    if hasattr(obj, "model_dump"):
        obj = obj.model_dump(mode="json")
    _release_databases()
    json.dump(obj, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")


class _StderrBar:
    """A text progress bar on stderr: `label [#####.....] 50%`."""

    def __init__(self) -> None:
        self.last = ""

    def __call__(self, done: float, label: str = "") -> None:
        width = 30
        filled = int(round(max(0.0, min(1.0, done)) * width))
        line = f"\r{label[:40]:<40} [{'#' * filled}{'.' * (width - filled)}] {int(done * 100):3d}%"
        if line != self.last:
            sys.stderr.write(line)
            sys.stderr.flush()
            self.last = line
        if done >= 1.0:
            sys.stderr.write("\n")
            self.last = ""

    def close(self) -> None:
        """End a bar left unfinished (the work failed), so the error starts on its own line."""
        if self.last:
            sys.stderr.write("\n")
            self.last = ""


@contextlib.contextmanager
def _terminal_bar():
    """A bar (or None) only for a person watching: scripts reading stderr get the error lines alone.
    Ended on the way out, so an error printed after it starts on its own line."""
    bar = _StderrBar() if sys.stderr.isatty() else None
    try:
        yield bar
    finally:
        if bar:
            bar.close()


def _open(args, read_only: bool = False):
    from ...db import connect

    try:
        con = connect(args.db, read_only=read_only)
    except DatabaseBusyError:
        if args.wait <= 0:
            raise
        # one line when the wait begins, so a person (or a script) knows why nothing happens yet
        print(f"billsim: the database is in use by another process; waiting up to {args.wait:g} s", file=sys.stderr)
        sys.stderr.flush()
        con = connect(args.db, read_only=read_only, wait_seconds=args.wait)
    _opened.append(con)
    return con
