"""A line's breakdown as JSON text, built in SQL: what the rating knew when it priced the line.

Only the members that have a value are written (`{"pricing_model":"flat","aggregation":"sum"}`, not ten
keys of which eight are null): a bill run stores one breakdown per line, and the nulls were two thirds of
its bytes. Readers take a missing member as null (`invoice_store.line_from_row`). Decimals travel as JSON
strings, so nothing is ever parsed as a float; text goes through `to_json` (quotes and escapes).
"""

from __future__ import annotations

# A member as `"key":value` text, NULL when the value is NULL (`||` propagates NULL), by the kind of value:
# text -> a JSON string (escaped by to_json); decimal -> its exact digits as a JSON string; integer -> a JSON
# number; json -> already JSON text.
_MEMBER = {
    "text": "('\"{key}\":' || to_json({expr}))",
    "decimal": "('\"{key}\":\"' || ({expr})::VARCHAR || '\"')",
    "integer": "('\"{key}\":' || ({expr})::VARCHAR)",
    "json": "('\"{key}\":' || ({expr}))",
}


def json_object_sql(members: list[tuple[str, str, str]]) -> str:
    """SQL for a JSON object of `members` (key, SQL expression, kind of _MEMBER) without its null ones.

    Keys and expressions are the engine's own constants and column names, never user values."""
    parts = ", ".join(_MEMBER[kind].format(key=key, expr=expr) for key, expr, kind in members)
    return f"concat('{{', concat_ws(',', {parts}), '}}')"  # concat_ws skips the NULL members


def _decimal(expr: str) -> str:
    return f"'\"', ({expr})::VARCHAR, '\"'"


def tier_json_sql() -> str:
    """One tier's share as JSON text (all its members, `up_to` null when the tier is unbounded).
    One concat() per row: a chain of `||` builds a new string at every step (twice the time)."""
    amount = "(units * t_unit_price + CASE WHEN applies THEN t_flat_fee ELSE 0 END)"
    members = [
        ("tier_no", "tier_no::VARCHAR"),
        ("lower", _decimal("lower")),
        ("up_to", "coalesce('\"' || up_to::VARCHAR || '\"', 'null')"),
        ("units", _decimal("units")),
        ("unit_price", _decimal("t_unit_price")),
        ("flat_fee", _decimal("t_flat_fee")),
        ("amount", _decimal(amount)),
    ]
    return "concat('{', " + ", ',', ".join(f"'\"{k}\":', {v}" for k, v in members) + ", '}')"
