"""Saved scenarios (the workbench's): a scenario kept under its name with the range it was run over.

Saving never loses another scenario silently: a name already saved is refused (`scenario_exists`) unless the caller
asks to replace it. The range is kept so that Re-run bills the same cycles; a scenario saved before ranges were
kept (schema v10) has none, and the caller's range is used.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import duckdb

from ..errors import NotFoundError, ScenarioError, ValidationError
from .scenarios import Scenario, parse_scenario, scenario_json

__all__ = ["SavedScenario", "delete_scenario", "get_saved_scenario", "get_scenario", "list_scenarios", "save_scenario"]


@dataclass(frozen=True)
class SavedScenario:
    scenario: Scenario
    from_date: dt.date | None
    to_date: dt.date | None
    saved_at: dt.datetime


def _labels(con: duckdb.DuckDBPyConnection, name: str) -> list[str] | None:
    row = con.execute("SELECT body FROM scenarios WHERE name = ?", [name]).fetchone()
    return None if row is None else parse_scenario(row[0], origin=f"saved scenario {name!r}", saved=True).labels()


def save_scenario(
    con: duckdb.DuckDBPyConnection,
    scenario: Scenario,
    from_date: dt.date | None = None,
    to_date: dt.date | None = None,
    *,
    replace: bool = False,
) -> dict:
    """Save a scenario under its name with its range (both dates or neither). A name already saved is refused
    unless `replace`."""
    if (from_date is None) != (to_date is None):
        raise ValidationError("a saved scenario's range needs both dates, or neither")
    if from_date is not None and to_date < from_date:
        raise ValidationError(f"the range ends ({to_date}) before it starts ({from_date})")
    if not replace and (held := _labels(con, scenario.name)) is not None:
        what = "; ".join(held) or "no change"
        raise ScenarioError(
            f"a scenario named {scenario.name!r} is already saved ({what}): save this one under another name, "
            "or replace it",
            code="scenario_exists",
        )
    saved_at = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    con.execute(
        "INSERT OR REPLACE INTO scenarios (name, body, saved_at, from_date, to_date) VALUES (?, ?, ?, ?, ?)",
        [scenario.name, scenario_json(scenario), saved_at, from_date, to_date],
    )
    return {
        "name": scenario.name,
        "saved_at": saved_at,
        "changes": len(scenario.changes),
        "from_date": from_date,
        "to_date": to_date,
    }


def list_scenarios(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """Saved scenarios, most recently saved first: name, saved_at, changes (labels), from_date, to_date."""
    rows = con.execute(
        "SELECT name, body, saved_at, from_date, to_date FROM scenarios ORDER BY saved_at DESC, name"
    ).fetchall()
    return [
        {
            "name": name,
            "saved_at": saved_at,
            "changes": parse_scenario(body, origin=f"saved scenario {name!r}", saved=True).labels(),
            "from_date": from_date,
            "to_date": to_date,
        }
        for name, body, saved_at, from_date, to_date in rows
    ]


def get_saved_scenario(con: duckdb.DuckDBPyConnection, name: str) -> SavedScenario:
    row = con.execute("SELECT body, from_date, to_date, saved_at FROM scenarios WHERE name = ?", [name]).fetchone()
    if row is None:
        raise NotFoundError(f"no saved scenario {name!r}")
    body, from_date, to_date, saved_at = row
    return SavedScenario(
        parse_scenario(body, origin=f"saved scenario {name!r}", saved=True), from_date, to_date, saved_at
    )


def get_scenario(con: duckdb.DuckDBPyConnection, name: str) -> Scenario:
    return get_saved_scenario(con, name).scenario


def delete_scenario(con: duckdb.DuckDBPyConnection, name: str) -> None:
    if con.execute("SELECT count(*) FROM scenarios WHERE name = ?", [name]).fetchone()[0] == 0:
        raise NotFoundError(f"no saved scenario {name!r}")
    con.execute("DELETE FROM scenarios WHERE name = ?", [name])
