"""Where rating reads its input tables: 'main', or a what-if scenario's overlay schema.

A schema name is an SQL identifier and cannot be a bound parameter, so every function that puts one
into SQL passes it through `check_source` first (an allow-list by shape: a plain lower-case name).
"""

from __future__ import annotations

import re

_IDENT = re.compile(r"^[a-z_][a-z0-9_]*$")


def check_source(source: str) -> str:
    """The schema name itself if it is a plain identifier; anything else raises ValueError."""
    if not isinstance(source, str) or not _IDENT.match(source):
        raise ValueError(f"bad source schema name {source!r}")
    return source
