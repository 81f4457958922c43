"""SQL filters on a list of ids, written so that DuckDB's table scan can use them.

Up to FEW_IDS ids become a constant `column IN (?, …)`: the scan then reads only the row groups whose
zone maps can hold them (one contract's usage, clustered at import, sits in a few). A longer list is
one bound list parameter. Values are always bound parameters.
"""

from __future__ import annotations

FEW_IDS = 16


def ids_filter(column: str, ids: list[str]) -> tuple[str, list]:
    """(SQL condition on `column`, its parameters); an empty list matches nothing."""
    if not ids:
        return "FALSE", []
    if len(ids) <= FEW_IDS:
        return f"{column} IN ({', '.join('?' * len(ids))})", list(ids)
    return f"list_contains(?::VARCHAR[], {column})", [list(ids)]
