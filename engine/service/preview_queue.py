"""Previews asked at the same time (a server's requests), rated together.

One worker thread with its own cursor takes every preview waiting and rates them in one pass
(engine.billing.preview_batch). DuckDB's cost of a preview is mostly preparing its statements, and a pass
for eight contracts costs about twice one for one, so clients asking at the same time share the work instead
of queueing behind each other. No timer: a preview asked while the worker is idle is rated at once, alone;
those asked while it works form the next pass.

Each request gets what `preview_invoice` would give it (its invoice, or its error raised in its own thread).
"""

from __future__ import annotations

import datetime as dt
import queue
import threading
from concurrent.futures import Future

import duckdb

from ..billing.preview_batch import preview_invoices
from ..models import Invoice
from .database import Database

MAX_PASS = 32  # previews per pass at most (the pass rates them 16 contracts at a time)


class PreviewQueue:
    def __init__(self, database: Database) -> None:
        self._database = database
        self._waiting: queue.Queue = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.passes: list[int] = []  # size of each pass made (the last 1000), for tests and the benchmark

    def preview(self, contract_id: str, period_date: dt.date) -> Invoice:
        """The preview of the contract's period of `period_date` (raises what preview_invoice raises)."""
        return self.submit(contract_id, period_date).result()

    def submit(self, contract_id: str, period_date: dt.date) -> Future:
        future: Future = Future()
        self._waiting.put((contract_id, period_date, future))
        self.start()
        return future

    def start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._work, name="billsim-previews", daemon=True)
                self._thread.start()

    def stop(self) -> None:
        """Finish the previews asked so far, then end the worker (the server is shutting down)."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._waiting.put(None)
            thread.join()

    def _work(self) -> None:
        cur = self._database.open_cursor()
        try:
            while True:
                first = self._waiting.get()
                if first is None:
                    return
                todo = [first]
                while len(todo) < MAX_PASS:
                    try:
                        item = self._waiting.get_nowait()
                    except queue.Empty:
                        break
                    if item is None:  # stop after this pass
                        self._waiting.put(None)
                        break
                    todo.append(item)
                self._rate(cur, todo)
        finally:
            cur.close()

    def _rate(self, cur: duckdb.DuckDBPyConnection, todo: list) -> None:
        self.passes = [*self.passes[-999:], len(todo)]
        try:
            outcomes = preview_invoices(cur, [(cid, date) for cid, date, _ in todo])
        except Exception as exc:  # not one request's error: every request of the pass is told
            outcomes = [exc] * len(todo)
        for (_, _, future), outcome in zip(todo, outcomes, strict=True):
            if isinstance(outcome, Exception):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)
