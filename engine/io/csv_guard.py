"""The CSV formula guard (spec section 6), one rule for every CSV file the product writes.

A spreadsheet runs a cell that starts with = + - @ (and, in some, TAB or CR) as a formula, so such a
text cell is written with a leading ' : `=HYPERLINK(…)` -> `'=HYPERLINK(…)`. Numeric columns are not
guarded (a negative amount stays a number). The writers: the ledger export (`export.py`) and the
what-if comparison.csv (`whatif/compare.py`); the workbench's downloads are those same files.
"""

from __future__ import annotations

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")

# code points of the prefixes: integer constants of this module (no quoting of user text involved), compared
# with ascii(cell), the code point of its first character (0 for an empty cell); a list of constant integers
# is a plain IN test, where the chr() calls were planned as one join per column
_PREFIXES_SQL = ", ".join(str(ord(c)) for c in FORMULA_PREFIXES)


def guard_formula_sql(expr: str) -> str:
    """SQL for the text cell `expr` (an engine-built expression) as it is written to a CSV file."""
    return f"(CASE WHEN ascii({expr}) IN ({_PREFIXES_SQL}) THEN '''' || {expr} ELSE {expr} END)"
