"""The CSV formula guard (spec section 6), one rule for every CSV file the product writes.

A spreadsheet runs a cell that starts with = + - @ (and, in some, TAB or CR) as a formula, so such a
text cell is written with a leading ' : `=HYPERLINK(…)` -> `'=HYPERLINK(…)`. Numeric columns are not
guarded (a negative amount stays a number). The writers: the ledger export (`export.py`) and the
what-if comparison.csv (`whatif/compare.py`); the workbench's downloads are those same files.
"""

from __future__ import annotations

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")

# chr(n) literals: constants of this module, so no quoting of user text is involved
_PREFIXES_SQL = ", ".join(f"chr({ord(c)})" for c in FORMULA_PREFIXES)


def guard_formula_sql(expr: str) -> str:
    """SQL for the text cell `expr` (an engine-built expression) as it is written to a CSV file."""
    return f"(CASE WHEN left({expr}, 1) IN ({_PREFIXES_SQL}) THEN '''' || {expr} ELSE {expr} END)"
