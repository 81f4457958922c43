"""The What-if page's waterfall by change, worked out in a thread of its own once the results are shown.

    stop = Stop()         made before the stages, its `check` given to them as their steps' progress
    start(stages, stop)  the second stage of `whatif.simulation_stages` (the steps 1..N−1, from the baseline the
                         first stage kept, on its cursor) handed to a worker thread: a Future of (waterfall, problem)
    outcome(job)         (waterfall | None, problem | None) once the job is done, None before
    cancel(job)          the analyst ran another scenario: the job stops before its next step (the step being rated
                         ends first), so it no longer takes the cores from the new run
    wait_idle()          every job started is done (before the database's file is closed or replaced)

Why a thread: any click on the page reruns its script, and Streamlit's fast reruns start the new run at once, beside
the old one, which stops at its next element. Worked out in the script run that showed the results, the waterfall was
lost whenever the analyst used the page meanwhile (a trial: Download comparison.csv, a measure picked). The worker
owns the generator and its cursor from here on and nothing else touches them; the page only polls the Future (a
fragment, every second) and draws what it gives.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait

import pandas as pd

from engine.service import BillsimError

# Two at a time for the whole server (each holds one cursor and bills every cycle of its range once per step); more
# wait their turn. Threads of the server's process: a server stopped stops them with it.
_WORKERS = ThreadPoolExecutor(max_workers=2, thread_name_prefix="whatif-steps")
_running: set[Future] = set()
_running_lock = threading.Lock()

Outcome = tuple[pd.DataFrame | None, str | None]
CANCELLED = "another scenario was run."  # the problem of a job cancelled (its result is no longer shown)


class Cancelled(Exception):
    """Raised by Stop.check once the job is cancelled: it ends the steps between two ratings."""


class Stop:
    """A job's cancellation: `check` is the steps' progress callback, `cancel` makes its next call end them."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def check(self, _done: float, _label: str) -> None:
        if self._event.is_set():
            raise Cancelled

    def cancel(self) -> None:
        self._event.set()


def _work(stages: Iterator) -> Outcome:
    try:
        return next(stages).waterfall, None
    except BillsimError as exc:  # e.g. the database busy: said in the waterfall's place, the results stay
        return None, f"{exc.message}."
    except Cancelled:
        return None, CANCELLED
    finally:
        stages.close()  # the cursor goes back, whatever happened


_stops: dict[Future, Stop] = {}


def start(stages: Iterator, stop: Stop) -> Future:
    """The rest of `stages` (its waterfall by change), worked out by a worker thread; `stop` is the one whose
    `check` the stages were given."""
    job = _WORKERS.submit(_work, stages)
    with _running_lock:
        _running.add(job)
        _stops[job] = stop
    job.add_done_callback(_forget)
    return job


def cancel(job: Future) -> None:
    """Stop the job before its next step (its waterfall is no longer wanted); nothing when it is done."""
    with _running_lock:
        stop = _stops.get(job)
    if stop is not None:
        stop.cancel()


def _forget(job: Future) -> None:
    with _running_lock:
        _running.discard(job)
        _stops.pop(job, None)


def wait_idle(timeout_s: float = 120.0) -> None:
    """Wait until every job started is done: a job holds a cursor of the database, which cannot be closed under it
    (a database replaced on the Data page, a test's database forgotten). A job bills a range's cycles once per
    change at most: seconds, not minutes."""
    with _running_lock:
        jobs = list(_running)
    wait(jobs, timeout=timeout_s)


def outcome(job: Future) -> Outcome | None:
    """The job's (waterfall, problem) once it is done; None while it runs. An error that is not a refusal is the
    server's (a defect): it is raised here, in the page, as any other would be."""
    return job.result() if job.done() else None
