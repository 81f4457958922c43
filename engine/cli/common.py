"""What every command shares: argument types, the one-line argparse error, the invocation's Context (its
streams, and the application it works on: opened for the command and released before the result is
written), JSON output and the progress bar on stderr."""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, is_dataclass
from decimal import Decimal
from pathlib import Path
from typing import NoReturn, TextIO

from pydantic import BaseModel
from pydantic_core import to_jsonable_python

from ..service import Billsim, Caller, DatabaseBusyError, Session, ValidationError, invoices, requests
from ..service.formats import utc_text

INVOICE_HELP = "the invoice's id or its number (e.g. N-2026-000001)"
# The commands that create the database when the path holds none (docs/cli.md): every other one reads or changes an
# existing ledger, and a path without a database (a typo in --db) is refused, nothing created.
CREATES_DATABASE = frozenset({"init", "import"})


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors as ONE line on stderr (exit 2) like every other error of the CLI."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _date(text: str) -> dt.date:
    """A date as YYYY-MM-DD, by the application layer's rule (requests.iso_day): date.fromisoformat alone also read
    '20260101' and the ISO week date '2026-W01-1' (2025-12-29). argparse names the option in its usage error."""
    day = requests.iso_day(text)
    if day is None:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text[:40]!r}")
    return day


def _amount(text: str) -> Decimal:
    """An amount as an exact Decimal, by the application layer's rule for typed amounts (plain digits, no
    exponent, within the money bound); whether it is positive or has too many decimals the operation says."""
    try:
        return requests.typed_amount(text)
    except ValidationError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _whole(text: str) -> int:
    """A whole number by the application layer's rule for typed whole numbers (ASCII digits, an optional sign):
    int() alone would read '١٢' as 12 and '1_000' as 1000. argparse names the option in its usage error (exit 2)."""
    value = requests.whole_number(text)
    if value is None:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r} (ASCII digits, e.g. 12)")
    return value


def _count(text: str) -> int:
    value = _whole(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"cannot be negative: {value}")
    return value


def _seconds(text: str) -> float:
    """A waiting time in plain ASCII digits (float() alone reads '١٢', '1_0', '1e3' and 'inf')."""
    value = requests.plain_decimal(text)
    if value is None or value < 0:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r} (ASCII digits, e.g. 2.5)")
    return float(value)  # a waiting time, not money: a float is fine here


def json_data(value):
    """`value` as JSON data, for the CLI's output: a Decimal as plain positional digits (`format(d, "f")`: 20,
    1000000000, 0.000000000000; never 2E+1, 1E+9 or 0E-12, and the same value), wherever it is (in a pydantic
    model, a dataclass, a dict or a list); a time as every output writes it (`utc_text`: 2026-12-07T04:07:58.034409Z);
    anything else as pydantic writes it in JSON mode (dates in ISO form, enums as their values). Pydantic's own JSON
    mode writes a Decimal as str() does, exponent and all."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dt.datetime):
        return utc_text(value)
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="python")
    elif is_dataclass(value) and not isinstance(value, type):
        value = asdict(value)
    if isinstance(value, dict):
        return {k if isinstance(k, str) else str(json_data(k)): json_data(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [json_data(v) for v in value]
    return to_jsonable_python(value, fallback=str)


@dataclass
class Context:
    """One invocation of the CLI: where its output goes and the application it works on.

    Run by a person, the command opens the database itself (`app()`, waiting up to --wait for a file another
    process holds) and releases it before writing its result (a slow reader of stdout, a pager or a full pipe,
    never keeps the file from another process). Run by a server on a client's behalf, `given` is the server's
    application, shared and never closed here."""

    args: argparse.Namespace
    stdout: TextIO = field(default_factory=lambda: sys.stdout)
    stderr: TextIO = field(default_factory=lambda: sys.stderr)
    tty: bool | None = None  # stderr is a terminal a person watches (None: ask the stream)
    given: Billsim | None = None
    cwd: str | None = None  # where the user's relative paths are (None: this process's working directory)
    main: object = None  # the CLI's own entry point (`serve` hands it to the server, to carry out commands)
    _opened: Billsim | None = None

    def path(self, value: str | Path) -> Path:
        """A path the user gave, resolved where the user is (a server carries out commands for others)."""
        p = Path(value)
        return p if p.is_absolute() or self.cwd is None else Path(self.cwd) / p

    def shown(self, path: str | Path, given: str | Path) -> str:
        """`path` (made from what the user gave as `given`) as the user would see it had the command run in their
        own process: relative when they gave a relative path."""
        if self.cwd is None or Path(given).is_absolute():
            return str(path)
        try:
            return str(Path(path).relative_to(self.cwd))
        except ValueError:
            return str(path)

    def write_document(self, render: Callable[[str], str | bytes]) -> dict:
        """`render(fmt)` written to --out (no --format: a .pdf file gets a PDF, anything else HTML); rendered
        before the file is opened, so a bad id never leaves an empty file. What was written, for the output."""
        out = self.path(self.args.out)
        fmt = self.args.format or ("pdf" if out.suffix.lower() == ".pdf" else "html")
        document = render(fmt)
        data = document.encode("utf-8") if isinstance(document, str) else document
        out.write_bytes(data)
        return {"format": fmt, "out": self.shown(out, self.args.out), "bytes": len(data)}

    def app(self) -> Billsim:
        if self.given is not None:
            return self.given
        if self._opened is None:
            db, wait = self.args.db, self.args.wait
            create = self.args.command in CREATES_DATABASE
            try:
                self._opened = Billsim.open(db, create=create, keep_baselines=False)  # one command: none to keep
            except DatabaseBusyError:
                if wait <= 0:
                    raise
                # one line when the wait begins, so a person (or a script) knows why nothing happens yet
                print(f"billsim: the database is in use by another process; waiting up to {wait:g} s", file=self.stderr)
                self.stderr.flush()
                self._opened = Billsim.open(db, wait_seconds=wait, create=create, keep_baselines=False)
        return self._opened

    def session(self) -> Session:
        return self.app().session(Caller.local(getattr(self.args, "actor", None)))

    def invoice_ids(self, refs: list[str]) -> list[str]:
        """The ids of the invoices the user named, each by its id or its number (`S-2026-000001`)."""
        return invoices.resolve(self.session(), refs)

    def invoice_id(self, ref: str) -> str:
        return self.invoice_ids([ref])[0]

    def release(self) -> None:
        """Close the database this command opened (never a server's)."""
        if self._opened is not None:
            self._opened.close()
            self._opened = None

    def is_tty(self) -> bool:
        if self.tty is not None:
            return self.tty
        isatty = getattr(self.stderr, "isatty", None)
        return bool(isatty and isatty())

    def print_json(self, obj) -> None:
        """THE JSON writer of every command: `obj` as `json_data` gives it, indented, one document."""
        data = json_data(obj)
        self.release()
        json.dump(data, self.stdout, indent=2)
        self.stdout.write("\n")

    def print_error(self, text: str) -> None:
        print(f"billsim: {text}", file=self.stderr)

    def bar(self) -> _StderrBar:
        return _StderrBar(self.stderr)

    @contextlib.contextmanager
    def terminal_bar(self):
        """A bar (or None) only for a person watching: scripts reading stderr get the error lines alone.
        Ended on the way out, so an error printed after it starts on its own line."""
        bar = _StderrBar(self.stderr) if self.is_tty() else None
        try:
            yield bar
        finally:
            if bar:
                bar.close()


class _StderrBar:
    """A text progress bar on stderr: `label [#####.....] 50%`."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.last = ""

    def __call__(self, done: float, label: str = "") -> None:
        width = 30
        filled = int(round(max(0.0, min(1.0, done)) * width))
        line = f"\r{label[:40]:<40} [{'#' * filled}{'.' * (width - filled)}] {int(done * 100):3d}%"
        if line != self.last:
            self.stream.write(line)
            self.stream.flush()
            self.last = line
        if done >= 1.0:
            self.stream.write("\n")
            self.last = ""

    def close(self) -> None:
        """End a bar left unfinished (the work failed), so the error starts on its own line."""
        if self.last:
            self.stream.write("\n")
            self.last = ""
