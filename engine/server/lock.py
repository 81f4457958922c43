"""Which server holds a database: a lock file beside it that names the server (pid, URL, control socket).

    data/workbench.duckdb                  the database (DuckDB lets one process write it)
    data/workbench.duckdb.server.json      {"pid", "url", "socket", "started_at"} while a server holds it
    data/workbench.duckdb.sock             the server's control socket (mode 0600: its OS user only)

The lock file is created exclusively (O_EXCL), so two servers never both believe they hold the file; one left
by a server that died (its pid is gone) is taken over. A second server on the same file is refused, naming the
first (exit 3). The command line finds a running server here and has it carry out the command.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from ..service import DatabaseBusyError


@dataclass(frozen=True)
class ServerInfo:
    pid: int
    url: str
    socket: str
    started_at: str


def lock_path(db_path: str | Path) -> Path:
    return Path(f"{Path(db_path).resolve()}.server.json")


def socket_path(db_path: str | Path) -> Path:
    return Path(f"{Path(db_path).resolve()}.sock")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True


def running_server(db_path: str | Path) -> ServerInfo | None:
    """The server holding the database, if one runs (a lock left by a dead server does not count)."""
    path = lock_path(db_path)
    try:
        info = ServerInfo(**json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        return None
    return info if _alive(info.pid) else None


class ServerLock:
    """Held by a server for its life: `acquire()` at start, `release()` at stop."""

    def __init__(self, db_path: str | Path, url: str) -> None:
        self.db = Path(db_path).resolve()
        self.path = lock_path(db_path)
        self.info = ServerInfo(
            pid=os.getpid(),
            url=url,
            socket=str(socket_path(db_path)),
            started_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        )
        self.held = False

    def acquire(self) -> ServerInfo:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                other = running_server(self.db)
                if other is not None:
                    raise DatabaseBusyError(
                        f"the database is already served by billsim serve (pid {other.pid}) at {other.url}; "
                        "stop it first, or use it: its CLI, API and workbench work beside it"
                    ) from None
                self.path.unlink(missing_ok=True)  # left by a server that died: take it over
                continue
            with os.fdopen(fd, "w") as f:
                json.dump(asdict(self.info), f)
            self.held = True
            return self.info
        raise DatabaseBusyError(f"cannot take the server lock {self.path}; another server is starting")

    def release(self) -> None:
        if self.held:
            self.path.unlink(missing_ok=True)
            self.held = False
