"""Progress of long work, reported as (fraction done 0..1, what is happening now).

The engine calls a `Progress` callback; the CLI draws it as a bar on stderr, the workbench as
`st.progress`. `within` maps a step's own 0..1 onto its share of the whole.
"""

from __future__ import annotations

from collections.abc import Callable

Progress = Callable[[float, str], None]


def no_progress(_done: float, _label: str) -> None:
    pass


def within(progress: Progress | None, lo: float, hi: float) -> Progress:
    """A callback for a step that covers [lo, hi] of the whole."""
    if progress is None:
        return no_progress
    return lambda done, label: progress(lo + (hi - lo) * max(0.0, min(1.0, done)), label)
