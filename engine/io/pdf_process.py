"""An HTML document printed to PDF in a child process, bounded in time.

WeasyPrint is CPU-bound Python that no deadline interrupts, and its time depends on the document's text as much as
on its size: 500 lines of one unbroken 1,620-character word (0.88 MiB of HTML) did not print in 300 s, and kept a
server's printer busy for 18 minutes. Printed in a child process, a document that takes longer than the bound is
stopped (the child killed), whatever it holds; the caller is told, and nothing is left running.

    python -m engine.io.pdf_process < document.html > document.pdf     (what the child runs)
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

from .documents import html_to_pdf

log = logging.getLogger("billsim.engine")
ROOT = Path(__file__).resolve().parents[2]  # the project: the child imports `engine` from it


class PrintTimeout(Exception):
    """The document was not printed within the bound; its printing was stopped."""


class PrintFailed(Exception):
    """The child ended without a PDF (its reason is logged, never shown)."""


def printed_pdf(html: str, timeout_s: float) -> bytes:
    """`html` printed to PDF by a child process within `timeout_s` seconds, else PrintTimeout (the child killed)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    try:
        done = subprocess.run(  # noqa: S603 (this interpreter, this module: no input reaches the command line)
            [sys.executable, "-m", __name__],
            input=html.encode("utf-8"),
            capture_output=True,
            timeout=timeout_s,
            env=env,
            check=False,
        )
    except subprocess.TimeoutExpired:  # subprocess.run has killed the child and waited for it
        raise PrintTimeout(f"not printed within {timeout_s:g} s") from None
    if done.returncode != 0 or not done.stdout.startswith(b"%PDF"):
        log.error("PDF printing failed (exit %s): %s", done.returncode, done.stderr.decode(errors="replace")[-2000:])
        raise PrintFailed(f"the PDF printer stopped (exit {done.returncode})")
    return done.stdout


def _main() -> None:
    sys.stdout.buffer.write(html_to_pdf(sys.stdin.buffer.read().decode("utf-8")))


if __name__ == "__main__":
    _main()
