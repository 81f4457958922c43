"""Named pause points for tests of the server process (no effect unless configured).

    BILLSIM_PAUSE_AT=bill_run:committing,create_invoice:before_commit   points to stop at (prefixes of names)
    BILLSIM_PAUSE_DIR=/tmp/x                                            where their FIFOs are

At a configured point the server opens `<dir>/<point>.fifo` (the test made it with os.mkfifo) for reading,
which blocks until the test opens it for writing, then reads until the test closes it. So the test knows
exactly when the server has reached the point (its open() returns) and decides when it goes on (its
close()), or kills the server there. No timing is involved. Each point stops once per process: a step that
is retried (a write conflict) passes it the second time. Unset, `pause()` returns at once.

Points: `bill_run:<stage>` (the engine's progress labels, e.g. `bill_run:committing`, inside the run's
transaction after every write), `<endpoint>:before_commit` (an idempotent write's effect and stored
response written, not committed) and `<endpoint>:after_commit` (committed, not yet answered), endpoint
`create_invoice` or `record_payment`.
"""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path

_done: set[str] = set()
_lock = threading.Lock()


def fifo_path(folder: str | Path, point: str) -> Path:
    return Path(folder) / (re.sub(r"[^A-Za-z0-9_.-]", "_", point) + ".fifo")


def pause(point: str) -> None:
    """Stop at `point` if BILLSIM_PAUSE_AT names it (a prefix of it), until the test releases it."""
    configured = os.environ.get("BILLSIM_PAUSE_AT")
    folder = os.environ.get("BILLSIM_PAUSE_DIR")
    if not configured or not folder:
        return
    for name in configured.split(","):
        name = name.strip()
        if not name or not point.startswith(name):
            continue
        with _lock:
            if name in _done:
                return
            _done.add(name)
        with open(fifo_path(folder, name), "rb") as fifo:  # blocks until the test opens it for writing
            fifo.read()  # until the test closes it
        return
