"""The problems of a pydantic ValidationError in a finance user's words: ONE wording, so every front end (and
every place that turns a pydantic error into the engine's ValidationError) says the same thing.

    items.0.amount: Value error, must be more than 0, got -10
        -> item 1 (line 2): amount must be more than 0, got -10
    changes.0.percent: Input should be a valid decimal
        -> change 1: percent: Input should be a valid decimal
    line_items.1.unit_price: Input should be a valid integer
        -> line item 2: unit_price: Input should be a valid integer
    due_date: 9999-12-31 is outside 1900-01-01 .. 2199-12-31
        -> due_date: 9999-12-31 is outside 1900-01-01 .. 2199-12-31

A list position is counted from 1 and named by its list in the singular (`items` -> item, `line_items` -> line
item, `changes` -> change, `taxes` -> tax); an item that names an invoice line (`line_no`) also says which, as
the user wrote it. A message that reads on from its field (`must …`, `cannot …`) follows the field's name;
any other follows a colon. Pydantic's "Value error, " prefix is dropped; a problem of the whole request (no
location) is its message alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

_READS_ON = ("must ", "cannot ")  # "amount must be more than 0": the field's name starts the sentence
_PREFIXES = ("Value error, ", "Assertion failed, ")
_NOTHING = object()  # no input to look into (unlike None, a value an input can hold)


def singular(name: str) -> str:
    """`line_items` -> 'line item', `changes` -> 'change', `taxes` -> 'tax', `entries` -> 'entry'."""
    words = name.replace("_", " ").strip()
    if words.endswith("ies"):
        return words[:-3] + "y"
    if words.endswith(("sses", "xes", "ches", "shes", "uses")):
        return words[:-2]
    if words.endswith("s") and not words.endswith("ss"):
        return words[:-1]
    return words


def _step(node, part):
    """The part of the input at `part` (a key or a position), or _NOTHING."""
    if isinstance(node, Mapping):
        return node.get(part, _NOTHING)
    if isinstance(part, int) and isinstance(node, Sequence) and not isinstance(node, str | bytes):
        return node[part] if 0 <= part < len(node) else _NOTHING
    return _NOTHING


def _position(list_name: str | None, index: int, item) -> str:
    text = f"{singular(list_name) if list_name else 'item'} {index + 1}"
    line_no = item.get("line_no") if isinstance(item, Mapping) else None
    if isinstance(line_no, int) and not isinstance(line_no, bool):
        text += f" (line {line_no})"
    return text


def problem_text(error: Mapping, data=_NOTHING, *, skip: Iterable[str] = ()) -> str:
    """One problem (an entry of `ValidationError.errors()`) as text; `data`: the input that was validated (to
    name the invoice line of an item); `skip`: location parts that are no field of the user's (a union's tags)."""
    if error.get("type") == "json_invalid":  # its location is a character of the body, not a list position
        at = [p for p in error.get("loc", ()) if isinstance(p, int)]
        where = f" (at character {at[-1]})" if at else ""
        why = (error.get("ctx") or {}).get("error")  # what the parser said (FastAPI's msg is only "JSON decode error")
        return f"the request body is not valid JSON{where}: {why or error.get('msg', '')}"
    skipped = set(skip)
    groups: list[str] = []  # "change 1", "tier 2", ...
    fields: list[str] = []  # the field names since the last position
    node = data
    for part in error.get("loc", ()):
        if isinstance(part, str) and (part in skipped or "[" in part):  # a tag or pydantic's name of a union member
            continue
        node = _step(node, part)
        if isinstance(part, int):
            list_name = fields.pop() if fields else None
            if fields:
                groups.append(".".join(fields))
            groups.append(_position(list_name, part, node))
            fields = []
        else:
            fields.append(str(part))
    message = str(error.get("msg", ""))
    for prefix in _PREFIXES:
        message = message.removeprefix(prefix)
    if fields:
        field = ".".join(fields)
        groups.append(f"{field} {message}" if message.startswith(_READS_ON) else f"{field}: {message}")
    else:
        groups.append(message)
    return ": ".join(groups)


# pydantic's names of a union's members when a value matches none of them (`period_date.str`, `period_date.int`)
_MEMBER_TAGS = {"str", "int", "float", "bool", "list", "dict", "decimal", "date", "datetime", "none", "bytes"}
_SHOULD = "Input should be "


def _unions_merged(errors: list[Mapping]) -> list[Mapping]:
    """A value that matches none of a union's members is one problem of its field, not one per member named by
    pydantic's internal tag: `period_date.str: Input should be a valid string; period_date.int: Input should be a
    valid integer` -> `period_date: Input should be a valid string or a valid integer`."""
    merged: list[Mapping] = []
    for error in errors:
        loc = tuple(error.get("loc", ()))
        tagged = bool(loc) and loc[-1] in _MEMBER_TAGS
        last = merged[-1] if merged else None
        if tagged and last is not None and last.get("_union") == loc[:-1]:
            more = str(error.get("msg", "")).removeprefix(_SHOULD)
            merged[-1] = {**last, "msg": f"{last['msg']} or {more}"}
        elif tagged:
            merged.append({**error, "loc": loc[:-1], "_union": loc[:-1]})
        else:
            merged.append(error)
    return merged


def problems_text(
    errors: Iterable[Mapping], data=_NOTHING, *, skip: Iterable[str] = (), limit: int | None = None
) -> str:
    """Every problem (at most `limit`) as one line, separated by '; '."""
    errors = _unions_merged(list(errors))
    if limit is not None:
        errors = errors[:limit]
    return "; ".join(problem_text(e, data, skip=skip) for e in errors)
